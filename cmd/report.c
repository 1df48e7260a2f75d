/*
 * report.c - `pycstrip report`: reads a summary, checks it, renders it.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "error.h"
#include "report.h"
#include "../src/report.h"

#define EXIT_USAGE 2
#define EXIT_FAILED 3

static const char USAGE[] =
"usage: pycstrip report [--format FORMAT] [--github-output FILE] SUMMARY.json\n"
"\n"
"Renders a summary written by `pycstrip --json` (SUMMARY.json; - = standard\n"
"input) on standard output.\n"
"\n"
"  -f, --format FORMAT    markdown (default): a table for a CI job summary\n"
"                         github: workflow commands (::error/::warning/::notice,\n"
"                           at most 10 of a type), then key=value step outputs\n"
"                           (removed-files, removed-dirs, removed-bytes, found,\n"
"                           errors, ok, targets, mode)\n"
"                         dotenv: PYCSTRIP_*=value lines (GitLab dotenv report)\n"
"                         codequality: a GitLab Code Quality report (JSON)\n"
"      --github-output FILE  with --format github: append the key=value lines\n"
"                         to FILE (e.g. \"$GITHUB_OUTPUT\") instead of standard\n"
"                         output\n"
"  -h, --help             show this help\n"
"\n"
"Exit status: 0 done, 2 usage error, 3 the summary cannot be read or is not\n"
"a schema_version 1 pycstrip summary.\n";

static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("pycstrip: report: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'pycstrip report --help' for more information.\n", stderr);
	return EXIT_USAGE;
}

static json_t *
load(const char *name, struct ps_error *err)
{
	json_error_t jerr;
	FILE *in;
	json_t *j;

	in = strcmp(name, "-") == 0 ? stdin : fopen(name, "rb");
	if (in == NULL) {
		ps_error_sys(err, errno, "cannot open");
		return NULL;
	}
	j = json_loadf(in, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		if (ferror(in))
			ps_error_sys(err, errno != 0 ? errno : EIO, "cannot read");
		else
			ps_error_input(err, "not valid JSON: %s (line %d, "
			    "column %d)", jerr.text, jerr.line, jerr.column);
	}
	if (in != stdin)
		fclose(in);
	return j;
}

int
ps_cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"format", required_argument, NULL, 'f'},
		{"github-output", required_argument, NULL, 'G'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	enum ps_report_format fmt = PS_REPORT_MARKDOWN;
	const char *outputs_name = NULL, *name;
	struct ps_error err = {0};
	FILE *outputs = NULL;
	json_t *summary = NULL;
	int c, rc = EXIT_FAILED;

	optind = 0; /* the command line may have been scanned before */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:f:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (ps_report_format_parse(optarg, &fmt) == -1)
				return usage_error("unknown format '%s' (markdown, "
				    "github, dotenv, codequality)", optarg);
			break;
		case 'G':
			outputs_name = optarg;
			break;
		case 'h':
			fputs(USAGE, stdout);
			return fflush(stdout) == EOF || ferror(stdout) ?
			    EXIT_FAILED : 0;
		case ':':
			return usage_error("option '%s' needs an argument",
			    argv[optind - 1]);
		default:
			if (optopt != 0)
				return usage_error("unknown option '-%c'",
				    optopt);
			return usage_error("unknown option '%s'",
			    argv[optind - 1]);
		}
	}
	if (optind == argc)
		return usage_error("missing SUMMARY.json");
	if (argc - optind > 1)
		return usage_error("unexpected argument '%s' (one "
		    "SUMMARY.json only)", argv[optind + 1]);
	if (outputs_name != NULL && fmt != PS_REPORT_GITHUB)
		return usage_error("--github-output needs --format github");
	name = argv[optind];

	summary = load(name, &err);
	if (summary == NULL)
		goto fail;
	if (ps_report_check(summary, &err) == -1)
		goto fail;
	if (outputs_name != NULL) {
		outputs = fopen(outputs_name, "a");
		if (outputs == NULL) {
			name = outputs_name;
			ps_error_sys(&err, errno, "cannot open");
			goto fail;
		}
	}
	if (ps_report_write(summary, fmt, stdout, outputs, &err) == -1) {
		if (err.kind == PS_ERR_SYS)
			name = "standard output";
		goto fail;
	}
	if (outputs != NULL && fclose(outputs) == EOF) {
		outputs = NULL;
		name = outputs_name;
		ps_error_sys(&err, errno, "cannot write");
		goto fail;
	}
	outputs = NULL;
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "pycstrip: %s: %s\n", name, err.msg);
out:
	if (outputs != NULL)
		fclose(outputs);
	json_decref(summary);
	return rc;
}
