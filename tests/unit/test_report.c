/*
 * Unit tests of src/report.c: each renderer on in-memory summaries.
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "report.h"

/* A target object as the summary writer makes it. */
static json_t *
target(const char *path, const char *kind, const char *status,
    const char *error, json_t *removed, json_t *sourceless)
{
	json_t *t = json_pack("{s:s, s:s, s:o, s:o, s:s, s:o, s:I, s:I, s:I,"
	    " s:o, s:o, s:[], s:o, s:o, s:o}",
	    "path", path, "kind", kind,
	    "format", strcmp(kind, "archive") == 0 ? json_string("zip") :
	    json_null(),
	    "compression", strcmp(kind, "archive") == 0 ?
	    json_string("none") : json_null(),
	    "status", status, "error", error ? json_string(error) : json_null(),
	    "removed_files", (json_int_t)json_array_size(removed),
	    "removed_dirs", (json_int_t)0,
	    "removed_bytes", (json_int_t)(100 * json_array_size(removed)),
	    "removed", removed, "sourceless", sourceless,
	    "signatures_removed",
	    "bytes_before", json_null(), "bytes_after", json_null(),
	    "record_updated", json_null());
	cr_assert_not_null(t);
	return t;
}

/* A summary of the targets in the array targets (stolen). */
static json_t *
summary(const char *mode, json_t *targets)
{
	json_int_t files = 0, bytes = 0, errors = 0;
	size_t i;
	json_t *t, *s;

	json_array_foreach(targets, i, t) {
		files += json_integer_value(json_object_get(t, "removed_files"));
		bytes += json_integer_value(json_object_get(t, "removed_bytes"));
		errors += strcmp(json_string_value(json_object_get(t, "status")),
		    "error") == 0;
	}
	s = json_pack("{s:i, s:{s:s, s:s}, s:s, s:b, s:{s:I, s:I, s:I, s:I,"
	    " s:I}, s:o}", "schema_version", 1, "tool", "name", "pycstrip",
	    "version", "0.1.0", "mode", mode, "ok", errors == 0,
	    "totals", "targets", (json_int_t)json_array_size(targets),
	    "removed_files", files, "removed_dirs", (json_int_t)0,
	    "removed_bytes", bytes, "errors", errors, "targets", targets);
	cr_assert_not_null(s);
	return s;
}

/* A list of n names "pkg/__pycache__/mNNNN.pyc". */
static json_t *
names(size_t n)
{
	json_t *a = json_array();
	char buf[64];
	size_t i;

	for (i = 0; i < n; i++) {
		snprintf(buf, sizeof buf, "pkg/__pycache__/m%04zu.pyc", i);
		json_array_append_new(a, json_string(buf));
	}
	return a;
}

/* Renders s in fmt; returns the malloc'd text (outputs, if any, in *extra). */
static char *
render(const json_t *s, enum ps_report_format fmt, char **extra)
{
	char *buf = NULL, *xbuf = NULL;
	size_t len = 0, xlen = 0;
	FILE *out = open_memstream(&buf, &len);
	FILE *xout = extra ? open_memstream(&xbuf, &xlen) : NULL;
	struct ps_error err = {0};

	cr_assert_not_null(out);
	cr_assert_eq(ps_report_write(s, fmt, out, xout, &err), 0, "%s",
	    err.msg);
	fclose(out);
	if (xout != NULL) {
		fclose(xout);
		*extra = xbuf;
	}
	return buf;
}

static size_t
count_lines(const char *text, const char *prefix)
{
	size_t n = 0, pl = strlen(prefix);
	const char *p = text;

	while (*p) {
		if (strncmp(p, prefix, pl) == 0)
			n++;
		p = strchr(p, '\n');
		if (p == NULL)
			break;
		p++;
	}
	return n;
}

static int
check_error(json_t *s, char *msg, size_t msgsize)
{
	struct ps_error err = {0};
	int rc = ps_report_check(s, &err);

	snprintf(msg, msgsize, "%s", err.msg);
	json_decref(s);
	return rc;
}

Test(report, parses_the_four_format_names)
{
	enum ps_report_format f;

	cr_assert_eq(ps_report_format_parse("markdown", &f), 0);
	cr_assert_eq(f, PS_REPORT_MARKDOWN);
	cr_assert_eq(ps_report_format_parse("codequality", &f), 0);
	cr_assert_eq(f, PS_REPORT_CODEQUALITY);
	cr_assert_eq(ps_report_format_parse("github", &f), 0);
	cr_assert_eq(ps_report_format_parse("dotenv", &f), 0);
	cr_assert_eq(ps_report_format_parse("html", &f), -1);
	cr_assert_eq(ps_report_format_parse("", &f), -1);
}

Test(report, check_accepts_a_valid_summary)
{
	char msg[1024];
	json_t *s = summary("strip", json_pack("[o]", target("dist/a.whl",
	    "archive", "ok", NULL, names(2), json_array())));

	cr_assert_eq(check_error(s, msg, sizeof msg), 0, "%s", msg);
}

Test(report, check_refuses_another_schema_version)
{
	char msg[1024];
	json_t *s = summary("strip", json_array());

	json_object_set_new(s, "schema_version", json_integer(2));
	cr_assert_eq(check_error(s, msg, sizeof msg), -1);
	cr_assert(strstr(msg, "unsupported schema_version 2") != NULL, "%s",
	    msg);
}

Test(report, check_refuses_a_non_object)
{
	char msg[1024];

	cr_assert_eq(check_error(json_pack("[i]", 1), msg, sizeof msg), -1);
	cr_assert(strstr(msg, "expected a JSON object") != NULL, "%s", msg);
}

Test(report, check_refuses_a_missing_schema_version)
{
	char msg[1024];
	json_t *s = summary("strip", json_array());

	json_object_del(s, "schema_version");
	cr_assert_eq(check_error(s, msg, sizeof msg), -1);
	cr_assert(strstr(msg, "no schema_version") != NULL, "%s", msg);
}

Test(report, check_names_the_bad_field_of_a_target)
{
	char msg[1024];
	json_t *s = summary("strip", json_pack("[o,o]", target("a", "tree",
	    "ok", NULL, names(1), json_array()), target("b", "tree", "ok",
	    NULL, names(1), json_array())));

	json_object_set_new(json_array_get(json_object_get(s, "targets"), 1),
	    "removed", json_pack("[s,i]", "x.pyc", 3));
	cr_assert_eq(check_error(s, msg, sizeof msg), -1);
	cr_assert_str_eq(msg, "targets[1].removed: expected an array of strings");
}

Test(report, check_refuses_an_unknown_mode)
{
	char msg[1024];

	cr_assert_eq(check_error(summary("scrub", json_array()), msg,
	    sizeof msg), -1);
	cr_assert(strncmp(msg, "mode:", 5) == 0, "%s", msg);
}

Test(report, check_refuses_negative_totals)
{
	char msg[1024];
	json_t *s = summary("strip", json_array());

	json_object_set_new(json_object_get(s, "totals"), "removed_bytes",
	    json_integer(-1));
	cr_assert_eq(check_error(s, msg, sizeof msg), -1);
	cr_assert(strstr(msg, "totals.removed_bytes") != NULL, "%s", msg);
}

Test(report, write_refuses_a_bad_summary_and_writes_nothing)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	struct ps_error err = {0};
	json_t *s = summary("strip", json_array());

	json_object_set_new(s, "schema_version", json_integer(7));
	cr_assert_eq(ps_report_write(s, PS_REPORT_DOTENV, out, NULL, &err), -1);
	cr_assert_eq(err.kind, PS_ERR_INPUT);
	fclose(out);
	cr_assert_eq(len, 0);
	free(buf);
	json_decref(s);
}

Test(report, write_reports_a_failed_write)
{
	FILE *out = fopen("/dev/full", "w");
	struct ps_error err = {0};
	json_t *s = summary("strip", json_array());

	cr_assert_not_null(out);
	cr_assert_eq(ps_report_write(s, PS_REPORT_MARKDOWN, out, NULL, &err),
	    -1);
	cr_assert_eq(err.kind, PS_ERR_SYS);
	cr_assert(strstr(err.msg, "cannot write report") != NULL, "%s",
	    err.msg);
	fclose(out);
	json_decref(s);
}

Test(report, markdown_has_one_row_per_target_and_a_total)
{
	json_t *s = summary("strip", json_pack("[o,o]", target("dist/a.whl",
	    "archive", "ok", NULL, names(2), json_array()), target("src",
	    "tree", "ok", NULL, names(1), json_array())));
	char *md = render(s, PS_REPORT_MARKDOWN, NULL);

	cr_assert(strstr(md, "| dist/a.whl | archive (zip) | ok | 2 | 0 | 200 |")
	    != NULL, "%s", md);
	cr_assert(strstr(md, "| src | tree | ok | 1 | 0 | 100 |") != NULL,
	    "%s", md);
	cr_assert(strstr(md, "| **total: 2 targets** | | **0 failed** | **3** "
	    "| **0** | **300** | |") != NULL, "%s", md);
	free(md);
	json_decref(s);
}

Test(report, markdown_escapes_what_would_break_the_table)
{
	json_t *s = summary("strip", json_pack("[o]", target("a|b`c*\n<i>",
	    "tree", "ok", NULL, json_array(), json_array())));
	char *md = render(s, PS_REPORT_MARKDOWN, NULL);

	cr_assert(strstr(md, "| a\\|b\\`c\\* \\<i\\> | tree |") != NULL, "%s", md);
	free(md);
	json_decref(s);
}

Test(report, markdown_lists_failures_with_their_message)
{
	json_t *s = summary("strip", json_pack("[o]", target("x.tar",
	    "archive", "error", "tar: truncated", json_array(),
	    json_array())));
	char *md = render(s, PS_REPORT_MARKDOWN, NULL);

	cr_assert(strstr(md, "- x.tar: tar\\: truncated\n") != NULL, "%s", md);
	cr_assert(strstr(md, "Some targets failed") != NULL, "%s", md);
	free(md);
	json_decref(s);
}

Test(report, markdown_caps_the_removed_list_with_and_n_more)
{
	json_t *s = summary("dry-run", json_pack("[o]", target("src", "tree",
	    "ok", NULL, names(500), json_array())));
	char *md = render(s, PS_REPORT_MARKDOWN, NULL);

	cr_assert(strstr(md, "would remove: 500") != NULL, "%s", md);
	cr_assert_lt(count_lines(md, "- src: pkg"), 500);
	cr_assert(strstr(md, "\xe2\x80\xa6" "and 440 more") != NULL, "%s", md);
	free(md);
	json_decref(s);
}

Test(report, markdown_stays_under_its_cap_whatever_the_summary)
{
	json_t *targets = json_array();
	char longname[5000];
	size_t i;
	char *md;
	json_t *s;

	memset(longname, '|', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	for (i = 0; i < 300; i++) {
		json_t *n = json_array(), *src = json_array();
		size_t k;

		for (k = 0; k < 50; k++) {
			json_array_append_new(n, json_string(longname));
			json_array_append_new(src, json_string(longname));
		}
		json_array_append_new(targets, target(longname, "tree",
		    i % 2 ? "error" : "ok", longname, n, src));
	}
	s = summary("strip", targets);
	md = render(s, PS_REPORT_MARKDOWN, NULL);
	cr_assert_lt(strlen(md), PS_REPORT_MARKDOWN_MAX);
	cr_assert(strstr(md, "and 250 more targets") != NULL);
	free(md);
	json_decref(s);
}

Test(report, github_escapes_data_and_properties)
{
	json_t *s = summary("strip", json_pack("[o]", target("d:1,2%.tar",
	    "archive", "error", "bad\r\nthing: 100%, really", json_array(),
	    json_array())));
	char *out = NULL;
	char *gh = render(s, PS_REPORT_GITHUB, &out);

	cr_assert(strstr(gh, "::error file=d%3A1%2C2%25.tar,title=pycstrip%3A "
	    "target failed::bad%0D%0Athing: 100%25, really\n") != NULL, "%s", gh);
	free(gh);
	free(out);
	json_decref(s);
}

Test(report, github_points_tree_annotations_at_the_file)
{
	json_t *s = summary("check", json_pack("[o]", target("./src", "tree",
	    "ok", NULL, json_pack("[s]", "pkg/m.pyc"), json_array())));
	char *out = NULL;
	char *gh = render(s, PS_REPORT_GITHUB, &out);

	cr_assert(strncmp(gh, "::error file=src/pkg/m.pyc,title=", 33) == 0,
	    "%s", gh);
	free(gh);
	free(out);
	json_decref(s);
}

Test(report, github_writes_at_most_ten_per_type_then_one_notice)
{
	json_t *s = summary("check", json_pack("[o]", target("src", "tree",
	    "ok", NULL, names(25), names(12))));
	char *out = NULL;
	char *gh = render(s, PS_REPORT_GITHUB, &out);

	cr_assert_eq(count_lines(gh, "::error "), 10, "%s", gh);
	cr_assert_eq(count_lines(gh, "::warning "), 10, "%s", gh);
	cr_assert_eq(count_lines(gh, "::notice "), 1, "%s", gh);
	cr_assert(strstr(gh, "17 more annotations") != NULL, "%s", gh);
	cr_assert(strstr(gh, " 15 errors") != NULL, "%s", gh);
	cr_assert(strstr(gh, " 2 warnings") != NULL, "%s", gh);
	free(gh);
	free(out);
	json_decref(s);
}

Test(report, github_keeps_room_for_the_notice_among_notices)
{
	json_t *s = summary("dry-run", json_pack("[o]", target("src", "tree",
	    "ok", NULL, names(30), json_array())));
	char *out = NULL;
	char *gh = render(s, PS_REPORT_GITHUB, &out);

	cr_assert_eq(count_lines(gh, "::notice "), 10, "%s", gh);
	cr_assert(strstr(gh, "21 more annotations") != NULL, "%s", gh);
	free(gh);
	free(out);
	json_decref(s);
}

Test(report, github_outputs_go_to_their_own_stream)
{
	json_t *s = summary("strip", json_pack("[o]", target("dist/a.whl",
	    "archive", "ok", NULL, names(3), json_array())));
	char *out = NULL;
	char *gh = render(s, PS_REPORT_GITHUB, &out);

	cr_assert_str_eq(out, "removed-files=3\nremoved-dirs=0\n"
	    "removed-bytes=300\nfound=true\nerrors=0\nok=true\ntargets=1\n"
	    "mode=strip\n");
	cr_assert(strstr(gh, "removed-files=") == NULL, "%s", gh);
	free(gh);
	free(out);
	json_decref(s);
}

Test(report, github_without_outputs_stream_appends_them)
{
	json_t *s = summary("check", json_array());
	char *gh = render(s, PS_REPORT_GITHUB, NULL);

	cr_assert_str_eq(gh, "removed-files=0\nremoved-dirs=0\n"
	    "removed-bytes=0\nfound=false\nerrors=0\nok=true\ntargets=0\n"
	    "mode=check\n");
	free(gh);
	json_decref(s);
}

Test(report, dotenv_has_every_variable_on_one_line)
{
	json_t *s = summary("check", json_pack("[o,o]", target("a b\nc",
	    "tree", "ok", NULL, names(4), json_array()), target("x", "tree",
	    "error", "boom", json_array(), json_array())));
	char *env = render(s, PS_REPORT_DOTENV, NULL);

	cr_assert_str_eq(env, "PYCSTRIP_MODE=check\nPYCSTRIP_OK=false\n"
	    "PYCSTRIP_FOUND=true\nPYCSTRIP_TARGETS=2\n"
	    "PYCSTRIP_REMOVED_FILES=4\nPYCSTRIP_REMOVED_DIRS=0\n"
	    "PYCSTRIP_REMOVED_BYTES=400\nPYCSTRIP_ERRORS=1\n");
	cr_assert_lt(strlen(env), 5 * 1024);
	free(env);
	json_decref(s);
}

Test(report, codequality_items_have_the_fields_gitlab_needs)
{
	json_t *s = summary("check", json_pack("[o]", target("dist/a.whl",
	    "archive", "ok", NULL, names(2), json_array())));
	char *cq = render(s, PS_REPORT_CODEQUALITY, NULL);
	json_error_t jerr;
	json_t *a = json_loads(cq, 0, &jerr), *item;
	size_t i;

	cr_assert(json_is_array(a), "%s", jerr.text);
	cr_assert_eq(json_array_size(a), 2);
	json_array_foreach(a, i, item) {
		cr_assert(json_is_string(json_object_get(item, "description")));
		cr_assert_str_eq(json_string_value(json_object_get(item,
		    "check_name")), "pycstrip-bytecode");
		cr_assert_str_eq(json_string_value(json_object_get(item,
		    "severity")), "major");
		cr_assert_eq(strlen(json_string_value(json_object_get(item,
		    "fingerprint"))), 32);
		cr_assert_str_eq(json_string_value(json_object_get(
		    json_object_get(item, "location"), "path")), "dist/a.whl");
		cr_assert_eq(json_integer_value(json_object_get(json_object_get(
		    json_object_get(item, "location"), "lines"), "begin")), 1);
	}
	json_decref(a);
	free(cq);
	json_decref(s);
}

Test(report, codequality_fingerprints_are_unique_even_for_repeated_names)
{
	json_t *s = summary("dry-run", json_pack("[o,o]", target("t", "tree",
	    "ok", NULL, json_pack("[s,s,s]", "a.pyc", "a.pyc", "b.pyc"),
	    json_array()), target("t", "tree", "ok", NULL, json_pack("[s]",
	    "a.pyc"), json_array())));
	char *cq = render(s, PS_REPORT_CODEQUALITY, NULL);
	json_t *a = json_loads(cq, 0, NULL), *item;
	size_t i, j;

	cr_assert_eq(json_array_size(a), 4);
	json_array_foreach(a, i, item) {
		for (j = i + 1; j < json_array_size(a); j++)
			cr_assert_str_neq(json_string_value(json_object_get(item,
			    "fingerprint")), json_string_value(json_object_get(
			    json_array_get(a, j), "fingerprint")));
	}
	json_decref(a);
	free(cq);
	json_decref(s);
}

Test(report, codequality_after_a_strip_lists_only_problems)
{
	json_t *s = summary("strip", json_pack("[o,o]", target("src", "tree",
	    "ok", NULL, names(5), json_pack("[s]", "old.pyc")), target("x.zip",
	    "archive", "error", "zip: bad", json_array(), json_array())));
	char *cq = render(s, PS_REPORT_CODEQUALITY, NULL);
	json_t *a = json_loads(cq, 0, NULL);

	cr_assert_eq(json_array_size(a), 2, "%s", cq);
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 0),
	    "check_name")), "pycstrip-sourceless-module");
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(
	    json_array_get(a, 0), "location"), "path")), "src/old.pyc");
	cr_assert_str_eq(json_string_value(json_object_get(json_array_get(a, 1),
	    "check_name")), "pycstrip-target-failed");
	json_decref(a);
	free(cq);
	json_decref(s);
}

Test(report, codequality_of_a_clean_run_is_an_empty_array)
{
	json_t *s = summary("check", json_array());
	char *cq = render(s, PS_REPORT_CODEQUALITY, NULL);

	cr_assert_str_eq(cq, "[]\n");
	free(cq);
	json_decref(s);
}

Test(report, fingerprint_keeps_parts_apart)
{
	const char *ab_c[] = {"ab", "c"}, *a_bc[] = {"a", "bc"};
	char h1[33], h2[33], h3[33];

	ps_report_fingerprint(ab_c, 2, h1);
	ps_report_fingerprint(a_bc, 2, h2);
	ps_report_fingerprint(ab_c, 2, h3);
	cr_assert_str_neq(h1, h2);
	cr_assert_str_eq(h1, h3);
	cr_assert_eq(strspn(h1, "0123456789abcdef"), 32);
}

Test(report, markdown_heading_says_what_the_mode_did)
{
	json_t *s = summary("check", json_pack("[o]", target("src", "tree",
	    "ok", NULL, names(1), json_array())));
	char *md = render(s, PS_REPORT_MARKDOWN, NULL);

	cr_assert(strncmp(md, "### pycstrip (check): found 1 file, 0 directories, "
	    "100 bytes\n", 60) == 0, "%s", md);
	cr_assert(strstr(md, "Bytecode found: the check fails") != NULL, "%s", md);
	free(md);
	json_decref(s);
}
