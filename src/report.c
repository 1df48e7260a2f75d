/*
 * report.c - the summary renderers of report.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "report.h"
#include "sha256.h"
#include "strlist.h"

/*
 * Markdown caps.  With names cut at MD_NAME_MAX bytes and each byte written
 * as at most two (a backslash escape), the worst case is about
 * MD_ROWS * 2 * (MD_NAME_MAX + 64) + MD_LIST * 4 * MD_NAME_MAX +
 * MD_MESSAGES * 2 * (MD_NAME_MAX + MD_MESSAGE_MAX) < PS_REPORT_MARKDOWN_MAX,
 * which a unit test checks with a summary made to hit every cap.
 */
#define MD_ROWS 50
#define MD_LIST 60
#define MD_MESSAGES 30
#define MD_NAME_MAX 256
#define MD_MESSAGE_MAX 400

#define ELLIPSIS "\xe2\x80\xa6"
#define ARROW "\xe2\x86\x92"
#define CROSS "\xe2\x9d\x8c"

/* GitHub annotation texts are cut here; its UI shows little more anyway. */
#define GH_TEXT_MAX 1024

/* Code Quality items beyond this are summed up in one last item. */
#define CQ_MAX_ITEMS 1000

/* ------------------------------------------------------------------------ */
/* The summary's shape                                                      */

static const char *const MODES[] = {"strip", "dry-run", "check", NULL};
static const char *const KINDS[] = {"tree", "archive", NULL};
static const char *const STATUSES[] = {"ok", "error", NULL};

static bool
one_of(const char *s, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcmp(s, *set) == 0)
			return true;
	return false;
}

static bool
is_count(const json_t *v)
{
	return json_is_integer(v) && json_integer_value(v) >= 0;
}

static bool
is_string_array(const json_t *v)
{
	size_t i;
	const json_t *e;

	if (!json_is_array(v))
		return false;
	json_array_foreach(v, i, e)
		if (!json_is_string(e))
			return false;
	return true;
}

static int
check_target(const json_t *t, size_t i, struct ps_error *err)
{
	static const char *const counts[] = {"removed_files", "removed_dirs",
	    "removed_bytes", NULL};
	static const char *const lists[] = {"removed", "sourceless", NULL};
	static const char *const optional_sizes[] = {"bytes_before",
	    "bytes_after", NULL};
	const json_t *v;
	size_t k;

	if (!json_is_object(t))
		return ps_error_input(err, "targets[%zu]: expected an object", i);
	if (!json_is_string(json_object_get(t, "path")))
		return ps_error_input(err, "targets[%zu].path: expected a string",
		    i);
	v = json_object_get(t, "kind");
	if (!json_is_string(v) || !one_of(json_string_value(v), KINDS))
		return ps_error_input(err,
		    "targets[%zu].kind: expected \"tree\" or \"archive\"", i);
	v = json_object_get(t, "status");
	if (!json_is_string(v) || !one_of(json_string_value(v), STATUSES))
		return ps_error_input(err,
		    "targets[%zu].status: expected \"ok\" or \"error\"", i);
	v = json_object_get(t, "error");
	if (v != NULL && !json_is_null(v) && !json_is_string(v))
		return ps_error_input(err,
		    "targets[%zu].error: expected a string or null", i);
	for (k = 0; counts[k] != NULL; k++)
		if (!is_count(json_object_get(t, counts[k])))
			return ps_error_input(err, "targets[%zu].%s: expected "
			    "a non-negative integer", i, counts[k]);
	for (k = 0; lists[k] != NULL; k++)
		if (!is_string_array(json_object_get(t, lists[k])))
			return ps_error_input(err, "targets[%zu].%s: expected "
			    "an array of strings", i, lists[k]);
	v = json_object_get(t, "signatures_removed");
	if (v != NULL && !is_string_array(v))
		return ps_error_input(err, "targets[%zu].signatures_removed: "
		    "expected an array of strings", i);
	for (k = 0; optional_sizes[k] != NULL; k++) {
		v = json_object_get(t, optional_sizes[k]);
		if (v != NULL && !json_is_null(v) && !json_is_integer(v))
			return ps_error_input(err, "targets[%zu].%s: expected "
			    "an integer or null", i, optional_sizes[k]);
	}
	for (k = 0; k < 2; k++) {
		const char *key = k == 0 ? "format" : "compression";

		v = json_object_get(t, key);
		if (v != NULL && !json_is_null(v) && !json_is_string(v))
			return ps_error_input(err, "targets[%zu].%s: expected "
			    "a string or null", i, key);
	}
	return 0;
}

int
ps_report_check(const json_t *s, struct ps_error *err)
{
	static const char *const totals[] = {"targets", "removed_files",
	    "removed_dirs", "removed_bytes", "errors", NULL};
	const json_t *v, *t;
	size_t i;

	if (!json_is_object(s))
		return ps_error_input(err, "not a pycstrip summary: expected a "
		    "JSON object");
	v = json_object_get(s, "schema_version");
	if (v == NULL)
		return ps_error_input(err, "not a pycstrip summary: no "
		    "schema_version");
	if (!json_is_integer(v))
		return ps_error_input(err, "schema_version: expected an integer");
	if (json_integer_value(v) != 1)
		return ps_error_input(err, "unsupported schema_version %" JSON_INTEGER_FORMAT
		    " (expected 1)", json_integer_value(v));
	v = json_object_get(s, "mode");
	if (!json_is_string(v) || !one_of(json_string_value(v), MODES))
		return ps_error_input(err, "mode: expected \"strip\", "
		    "\"dry-run\" or \"check\"");
	if (!json_is_boolean(json_object_get(s, "ok")))
		return ps_error_input(err, "ok: expected true or false");
	v = json_object_get(s, "totals");
	if (!json_is_object(v))
		return ps_error_input(err, "totals: expected an object");
	for (i = 0; totals[i] != NULL; i++)
		if (!is_count(json_object_get(v, totals[i])))
			return ps_error_input(err, "totals.%s: expected a "
			    "non-negative integer", totals[i]);
	v = json_object_get(s, "targets");
	if (!json_is_array(v))
		return ps_error_input(err, "targets: expected an array");
	json_array_foreach(v, i, t)
		if (check_target(t, i, err) == -1)
			return -1;
	return 0;
}

int
ps_report_format_parse(const char *name, enum ps_report_format *fmt)
{
	static const struct {
		const char *name;
		enum ps_report_format fmt;
	} names[] = {
		{"markdown", PS_REPORT_MARKDOWN},
		{"github", PS_REPORT_GITHUB},
		{"dotenv", PS_REPORT_DOTENV},
		{"codequality", PS_REPORT_CODEQUALITY},
	};
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcmp(name, names[i].name) == 0) {
			*fmt = names[i].fmt;
			return 0;
		}
	}
	return -1;
}

/* ------------------------------------------------------------------------ */
/* Accessors, valid once ps_report_check() passed                           */

static const char *
str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

static uint64_t
count(const json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));

	return v > 0 ? (uint64_t)v : 0;
}

static const char *
plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static bool
failed(const json_t *t)
{
	return strcmp(str(t, "status"), "error") == 0;
}

static bool
is_tree(const json_t *t)
{
	return strcmp(str(t, "kind"), "tree") == 0;
}

static bool
found(const json_t *s)
{
	const json_t *totals = json_object_get(s, "totals");

	return count(totals, "removed_files") + count(totals,
	    "removed_dirs") > 0;
}

/*
 * Length of s cut to at most max bytes without splitting a UTF-8 sequence
 * (the summary writer guarantees valid UTF-8).
 */
static size_t
cut(const char *s, size_t max, bool *truncated)
{
	size_t n = strlen(s);

	*truncated = n > max;
	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/*
 * The repository-relative path of name inside tree target, for annotation
 * and Code Quality locations: "src" + "a/b.pyc" -> "src/a/b.pyc",
 * "." + "a.pyc" -> "a.pyc".  Returns a malloc'd string, or NULL.
 */
static char *
join(const char *target, const char *name)
{
	size_t tl, nl;
	char *p;

	while (target[0] == '.' && target[1] == '/')
		target += 2;
	if (strcmp(target, ".") == 0)
		target = "";
	tl = strlen(target);
	while (tl > 1 && target[tl - 1] == '/')
		tl--;
	nl = strlen(name);
	p = malloc(tl + nl + 2);
	if (p == NULL)
		return NULL;
	memcpy(p, target, tl);
	if (tl > 0 && nl > 0 && target[tl - 1] != '/')
		p[tl++] = '/';
	memcpy(p + tl, name, nl + 1);
	return p;
}

static int
write_status(FILE *out, struct ps_error *err)
{
	if (fflush(out) == EOF || ferror(out))
		return ps_error_sys(err, errno != 0 ? errno : EIO,
		    "cannot write report");
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Markdown                                                                 */

/*
 * Writes text so that Markdown shows it literally inside a table cell or a
 * list item (never at the start of a line, where '-', '+', '#' and "1."
 * would matter): the characters that open emphasis, code, links, HTML,
 * entities, math, emoji shortcodes or a table cell are backslash-escaped
 * (CommonMark allows it for any ASCII punctuation, GFM tables for '|');
 * control characters become spaces; cut at max bytes with an ellipsis.
 */
static void
md_text(FILE *out, const char *s, size_t max)
{
	bool truncated;
	size_t n = cut(s, max, &truncated), i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			fputc(' ', out);
		else if (c < 0x80 && strchr("\\`*_[]<>|~&$:()!#@",
		    c) != NULL)
			fprintf(out, "\\%c", c);
		else
			fputc(c, out);
	}
	if (truncated)
		fputs(ELLIPSIS, out);
}

static const char *
md_verb(const char *mode)
{
	if (strcmp(mode, "check") == 0)
		return "found";
	if (strcmp(mode, "dry-run") == 0)
		return "would remove";
	return "removed";
}

static void
md_size(FILE *out, const json_t *t)
{
	const json_t *b = json_object_get(t, "bytes_before");
	const json_t *a = json_object_get(t, "bytes_after");

	if (!json_is_integer(b) || json_integer_value(b) < 0)
		return;
	if (json_is_integer(a) && json_integer_value(a) >= 0)
		fprintf(out, "%" JSON_INTEGER_FORMAT " " ARROW " %"
		    JSON_INTEGER_FORMAT, json_integer_value(b),
		    json_integer_value(a));
	else    /* a dry run of a compressed tar: not known without the work */
		fprintf(out, "%" JSON_INTEGER_FORMAT " " ARROW " ?",
		    json_integer_value(b));
}

static void
md_table(FILE *out, const json_t *s)
{
	const json_t *targets = json_object_get(s, "targets");
	const json_t *totals = json_object_get(s, "totals");
	const json_t *t;
	size_t i, n = json_array_size(targets);

	fputs("| target | kind | status | files | dirs | bytes | "
	    "size before " ARROW " after |\n"
	    "| --- | --- | --- | ---: | ---: | ---: | ---: |\n", out);
	json_array_foreach(targets, i, t) {
		if (i == MD_ROWS)
			break;
		fputs("| ", out);
		md_text(out, str(t, "path"), MD_NAME_MAX);
		fprintf(out, " | %s", str(t, "kind"));
		if (json_is_string(json_object_get(t, "format"))) {
			fputs(" (", out);
			md_text(out, str(t, "format"), 16);
			if (json_is_string(json_object_get(t, "compression")) &&
			    strcmp(str(t, "compression"), "none") != 0) {
				fputs(", ", out);
				md_text(out, str(t, "compression"), 16);
			}
			fputs(")", out);
		}
		fprintf(out, " | %s | %" PRIu64 " | %" PRIu64 " | %" PRIu64
		    " | ", failed(t) ? CROSS " error" : "ok",
		    count(t, "removed_files"), count(t, "removed_dirs"),
		    count(t, "removed_bytes"));
		md_size(out, t);
		fputs(" |\n", out);
	}
	if (n > MD_ROWS)
		fprintf(out, "| " ELLIPSIS "and %zu more targets | | | | | | |\n",
		    n - MD_ROWS);
	fprintf(out, "| **total: %" PRIu64 " targets** | | **%" PRIu64
	    " failed** | **%" PRIu64 "** | **%" PRIu64 "** | **%" PRIu64
	    "** | |\n", count(totals, "targets"), count(totals, "errors"),
	    count(totals, "removed_files"), count(totals, "removed_dirs"),
	    count(totals, "removed_bytes"));
}

/* Lists "target: message" for failed targets, then sourceless modules. */
static void
md_problems(FILE *out, const json_t *s)
{
	const json_t *targets = json_object_get(s, "targets");
	const json_t *t, *e;
	size_t i, j, shown = 0, total = 0;

	json_array_foreach(targets, i, t)
		total += failed(t);
	if (total > 0) {
		fputs("\n**Failed targets**\n\n", out);
		json_array_foreach(targets, i, t) {
			if (!failed(t) || shown == MD_MESSAGES)
				continue;
			fputs("- ", out);
			md_text(out, str(t, "path"), MD_NAME_MAX);
			fputs(": ", out);
			md_text(out, json_is_string(json_object_get(t, "error")) ?
			    str(t, "error") : "failed", MD_MESSAGE_MAX);
			fputc('\n', out);
			shown++;
		}
		if (total > shown)
			fprintf(out, "- " ELLIPSIS "and %zu more\n", total - shown);
	}

	shown = total = 0;
	json_array_foreach(targets, i, t)
		total += json_array_size(json_object_get(t, "sourceless"));
	if (total == 0)
		return;
	fputs("\n**Sourceless modules** (`.pyc` with no `.py` beside it, "
	    "which Python imports)\n\n", out);
	json_array_foreach(targets, i, t) {
		json_array_foreach(json_object_get(t, "sourceless"), j, e) {
			if (shown == MD_MESSAGES)
				break;
			fputs("- ", out);
			md_text(out, str(t, "path"), MD_NAME_MAX);
			fputs(": ", out);
			md_text(out, json_string_value(e), MD_NAME_MAX);
			fputc('\n', out);
			shown++;
		}
	}
	if (total > shown)
		fprintf(out, "- " ELLIPSIS "and %zu more\n", total - shown);
}

static void
md_removed(FILE *out, const json_t *s, const char *verb)
{
	const json_t *targets = json_object_get(s, "targets");
	const json_t *t, *e;
	size_t i, j, shown = 0, total = 0;

	json_array_foreach(targets, i, t)
		total += json_array_size(json_object_get(t, "removed"));
	if (total == 0)
		return;
	fprintf(out, "\n<details><summary>Files %s: %zu</summary>\n\n",
	    verb, total);
	json_array_foreach(targets, i, t) {
		json_array_foreach(json_object_get(t, "removed"), j, e) {
			if (shown == MD_LIST)
				break;
			fputs("- ", out);
			md_text(out, str(t, "path"), MD_NAME_MAX);
			fputs(": ", out);
			md_text(out, json_string_value(e), MD_NAME_MAX);
			fputc('\n', out);
			shown++;
		}
	}
	if (total > shown)
		fprintf(out, "- " ELLIPSIS "and %zu more\n", total - shown);
	fputs("\n</details>\n", out);
}

static void
render_markdown(FILE *out, const json_t *s)
{
	const json_t *totals = json_object_get(s, "totals");
	const char *mode = str(s, "mode");
	const char *verb = md_verb(mode);

	fprintf(out, "### pycstrip (%s): %s %" PRIu64 " %s, %" PRIu64
	    " %s, %" PRIu64 " bytes\n\n", mode, verb,
	    count(totals, "removed_files"),
	    plural(count(totals, "removed_files"), "file", "files"),
	    count(totals, "removed_dirs"),
	    plural(count(totals, "removed_dirs"), "directory", "directories"),
	    count(totals, "removed_bytes"));
	if (!json_is_true(json_object_get(s, "ok")))
		fputs(CROSS " Some targets failed: see below.\n\n", out);
	else if (strcmp(mode, "check") == 0 && found(s))
		fputs(CROSS " Bytecode found: the check fails.\n\n", out);
	md_table(out, s);
	md_problems(out, s);
	md_removed(out, s, verb);
}

/* ------------------------------------------------------------------------ */
/* GitHub workflow commands                                                 */

/*
 * GitHub's escaping (toolkit's command.ts): in data '%', CR and LF; in
 * property values also ':' and ','.  Cut at GH_TEXT_MAX bytes.
 */
static void
gh_escape(FILE *out, const char *s, bool property)
{
	bool truncated;
	size_t n = cut(s, GH_TEXT_MAX, &truncated), i;

	for (i = 0; i < n; i++) {
		switch (s[i]) {
		case '%': fputs("%25", out); break;
		case '\r': fputs("%0D", out); break;
		case '\n': fputs("%0A", out); break;
		case ':':
			fputs(property ? "%3A" : ":", out);
			break;
		case ',':
			fputs(property ? "%2C" : ",", out);
			break;
		default: fputc(s[i], out);
		}
	}
	if (truncated)
		fputs(ELLIPSIS, out);
}

enum gh_type { GH_ERROR, GH_WARNING, GH_NOTICE, GH_NTYPES };

static const char *const GH_NAMES[GH_NTYPES] = {"error", "warning", "notice"};

struct gh {
	FILE *out;
	size_t cap[GH_NTYPES];     /* how many of each type may be written */
	size_t total[GH_NTYPES];   /* how many there are */
	size_t written[GH_NTYPES];
	int nomem;
};

/*
 * One annotation: "::TYPE file=F,title=T::MESSAGE", file optional.  In the
 * counting pass (g->out == NULL) only counts.
 */
static void
gh_annotate(struct gh *g, enum gh_type type, const char *file,
    const char *title, const char *message)
{
	g->total[type]++;
	if (g->out == NULL || g->written[type] >= g->cap[type])
		return;
	g->written[type]++;
	fprintf(g->out, "::%s ", GH_NAMES[type]);
	if (file != NULL) {
		fputs("file=", g->out);
		gh_escape(g->out, file, true);
		fputc(',', g->out);
	}
	fputs("title=", g->out);
	gh_escape(g->out, title, true);
	fputs("::", g->out);
	gh_escape(g->out, message, false);
	fputc('\n', g->out);
}

/* The annotation file of a name in target t: the file itself in a tree. */
static char *
gh_file(const json_t *t, const char *name)
{
	return join(str(t, "path"), is_tree(t) ? name : "");
}

static void
gh_pass(struct gh *g, const json_t *s)
{
	const json_t *targets = json_object_get(s, "targets");
	const char *mode = str(s, "mode");
	bool check = strcmp(mode, "check") == 0;
	const json_t *t, *e;
	size_t i, j;
	char buf[GH_TEXT_MAX + 256];

	json_array_foreach(targets, i, t) {
		if (failed(t))
			gh_annotate(g, GH_ERROR, str(t, "path"),
			    "pycstrip: target failed",
			    json_is_string(json_object_get(t, "error")) ?
			    str(t, "error") : "failed");
	}
	json_array_foreach(targets, i, t) {
		json_array_foreach(json_object_get(t, "sourceless"), j, e) {
			char *file = gh_file(t, json_string_value(e));

			if (file == NULL) {
				g->nomem = 1;
				return;
			}
			snprintf(buf, sizeof buf, "%s%s%s is a sourceless module "
			    "(no .py beside it) that Python imports",
			    is_tree(t) ? "" : json_string_value(e),
			    is_tree(t) ? "" : " in ", is_tree(t) ?
			    json_string_value(e) : str(t, "path"));
			gh_annotate(g, GH_WARNING, file,
			    "pycstrip: sourceless module", buf);
			free(file);
		}
	}
	/*
	 * Bytecode found in check mode fails the step: an error at each file.
	 * In a dry run it is a notice; after a strip, one notice per target.
	 */
	json_array_foreach(targets, i, t) {
		if (strcmp(mode, "strip") == 0) {
			if (count(t, "removed_files") + count(t, "removed_dirs")
			    == 0)
				continue;
			snprintf(buf, sizeof buf, "removed %" PRIu64 " %s, %"
			    PRIu64 " %s, %" PRIu64 " bytes",
			    count(t, "removed_files"), plural(count(t,
			    "removed_files"), "file", "files"),
			    count(t, "removed_dirs"), plural(count(t,
			    "removed_dirs"), "directory", "directories"),
			    count(t, "removed_bytes"));
			gh_annotate(g, GH_NOTICE, str(t, "path"),
			    "pycstrip: bytecode removed", buf);
			continue;
		}
		json_array_foreach(json_object_get(t, "removed"), j, e) {
			char *file = gh_file(t, json_string_value(e));

			if (file == NULL) {
				g->nomem = 1;
				return;
			}
			snprintf(buf, sizeof buf, "bytecode %s%s%s", 
			    json_string_value(e), is_tree(t) ? "" : " in ",
			    is_tree(t) ? "" : str(t, "path"));
			gh_annotate(g, check ? GH_ERROR : GH_NOTICE, file,
			    check ? "pycstrip: bytecode found" :
			    "pycstrip: bytecode would be removed", buf);
			free(file);
		}
	}
}

static void
render_github(FILE *out, const json_t *s, int *nomem)
{
	struct gh g = {0};
	size_t k, hidden = 0;

	/* Count first, so that the cap can leave room for the last notice. */
	for (k = 0; k < GH_NTYPES; k++)
		g.cap[k] = PS_REPORT_GITHUB_CAP;
	gh_pass(&g, s);
	for (k = 0; k < GH_NTYPES; k++)
		if (g.total[k] > g.cap[k])
			hidden += g.total[k] - g.cap[k];
	if (hidden > 0 && g.total[GH_NOTICE] >= PS_REPORT_GITHUB_CAP) {
		g.cap[GH_NOTICE] = PS_REPORT_GITHUB_CAP - 1;
		hidden++;
	}
	memset(g.total, 0, sizeof g.total);
	g.out = out;
	gh_pass(&g, s);
	if (hidden > 0) {
		fprintf(out, "::notice title=pycstrip::%zu more annotations not "
		    "shown (GitHub shows %d per type):", hidden,
		    PS_REPORT_GITHUB_CAP);
		for (k = 0; k < GH_NTYPES; k++)
			if (g.total[k] > g.written[k])
				fprintf(out, " %zu %s%s", g.total[k] - g.written[k],
				    GH_NAMES[k], g.total[k] - g.written[k] == 1 ?
				    "" : "s");
		fputs("; see the job summary or the JSON summary\n", out);
	}
	*nomem = g.nomem;
}

static void
render_outputs(FILE *out, const json_t *s)
{
	const json_t *totals = json_object_get(s, "totals");

	fprintf(out, "removed-files=%" PRIu64 "\nremoved-dirs=%" PRIu64
	    "\nremoved-bytes=%" PRIu64 "\nfound=%s\nerrors=%" PRIu64
	    "\nok=%s\ntargets=%" PRIu64 "\nmode=%s\n",
	    count(totals, "removed_files"), count(totals, "removed_dirs"),
	    count(totals, "removed_bytes"), found(s) ? "true" : "false",
	    count(totals, "errors"),
	    json_is_true(json_object_get(s, "ok")) ? "true" : "false",
	    count(totals, "targets"), str(s, "mode"));
}

/* ------------------------------------------------------------------------ */
/* GitLab dotenv                                                            */

static void
render_dotenv(FILE *out, const json_t *s)
{
	const json_t *totals = json_object_get(s, "totals");

	/* Only numbers and fixed words: nothing needs quoting. */
	fprintf(out, "PYCSTRIP_MODE=%s\nPYCSTRIP_OK=%s\nPYCSTRIP_FOUND=%s\n"
	    "PYCSTRIP_TARGETS=%" PRIu64 "\nPYCSTRIP_REMOVED_FILES=%" PRIu64
	    "\nPYCSTRIP_REMOVED_DIRS=%" PRIu64 "\nPYCSTRIP_REMOVED_BYTES=%"
	    PRIu64 "\nPYCSTRIP_ERRORS=%" PRIu64 "\n", str(s, "mode"),
	    json_is_true(json_object_get(s, "ok")) ? "true" : "false",
	    found(s) ? "true" : "false", count(totals, "targets"),
	    count(totals, "removed_files"), count(totals, "removed_dirs"),
	    count(totals, "removed_bytes"), count(totals, "errors"));
}

/* ------------------------------------------------------------------------ */
/* GitLab Code Quality                                                      */

void
ps_report_fingerprint(const char *const *parts, size_t n, char hex[33])
{
	unsigned char digest[PS_SHA256_LEN];
	struct ps_sha256 c;
	size_t i;

	ps_sha256_init(&c);
	for (i = 0; i < n; i++)
		ps_sha256_update(&c, parts[i], strlen(parts[i]) + 1);
	ps_sha256_final(&c, digest);
	/* 128 bits, written like the MD5 fingerprints other analysers use. */
	for (i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

struct cq {
	json_t *items;
	struct ps_strset *fingerprints;
	size_t total;
	int nomem;
};

/*
 * Appends one item; its fingerprint hashes check, target and name, plus an
 * occurrence number when the same triple comes again (a name listed twice).
 */
static void
cq_add(struct cq *c, const char *check, const char *severity,
    const char *target, const char *name, const char *path,
    const char *description)
{
	char hex[33], nth[24];
	const char *parts[4] = {check, target, name, nth};
	unsigned long k = 0;
	json_t *item;
	int r;

	c->total++;
	if (c->nomem || c->total > CQ_MAX_ITEMS)
		return;
	do {
		snprintf(nth, sizeof nth, "%lu", k++);
		ps_report_fingerprint(parts, k == 1 ? 3 : 4, hex);
		r = ps_strset_add(c->fingerprints, hex, 32);
	} while (r == 0);
	item = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:{s:i}}}",
	    "description", description, "check_name", check,
	    "fingerprint", hex, "severity", severity,
	    "location", "path", path, "lines", "begin", 1);
	if (r == -1 || item == NULL || json_array_append_new(c->items, item))
		c->nomem = 1;
}

static void
cq_build(struct cq *c, const json_t *s)
{
	const json_t *targets = json_object_get(s, "targets");
	const char *mode = str(s, "mode");
	bool check = strcmp(mode, "check") == 0;
	const json_t *t, *e;
	size_t i, j;
	char buf[2 * GH_TEXT_MAX];

	json_array_foreach(targets, i, t) {
		const char *path = str(t, "path");

		if (failed(t)) {
			snprintf(buf, sizeof buf, "pycstrip could not process "
			    "%s: %s", path,
			    json_is_string(json_object_get(t, "error")) ?
			    str(t, "error") : "failed");
			cq_add(c, "pycstrip-target-failed", "critical", path, "",
			    path, buf);
		}
		json_array_foreach(json_object_get(t, "sourceless"), j, e) {
			const char *name = json_string_value(e);
			char *file = gh_file(t, name);

			if (file == NULL) {
				c->nomem = 1;
				return;
			}
			snprintf(buf, sizeof buf, "sourceless module %s%s%s: a "
			    ".pyc with no .py beside it, which Python imports",
			    name, is_tree(t) ? "" : " in ",
			    is_tree(t) ? "" : path);
			cq_add(c, "pycstrip-sourceless-module", "minor", path,
			    name, file, buf);
			free(file);
		}
		/* After a strip the files are gone: nothing to point at. */
		if (strcmp(mode, "strip") == 0)
			continue;
		json_array_foreach(json_object_get(t, "removed"), j, e) {
			const char *name = json_string_value(e);
			char *file = gh_file(t, name);

			if (file == NULL) {
				c->nomem = 1;
				return;
			}
			snprintf(buf, sizeof buf, "bytecode %s%s%s %s", name,
			    is_tree(t) ? "" : " in ", is_tree(t) ? "" : path,
			    check ? "found" : "would be removed");
			cq_add(c, "pycstrip-bytecode", check ? "major" : "info",
			    path, name, file, buf);
			free(file);
		}
	}
	if (c->total > CQ_MAX_ITEMS) {
		size_t more = c->total - CQ_MAX_ITEMS;

		c->total = 0; /* let this last one through */
		snprintf(buf, sizeof buf, "%zu more pycstrip findings not "
		    "listed: see the JSON summary", more);
		cq_add(c, "pycstrip-more", "info", "", "", ".", buf);
	}
}

static int
render_codequality(FILE *out, const json_t *s, struct ps_error *err)
{
	struct cq c = {0};
	int rc = -1;

	c.items = json_array();
	c.fingerprints = ps_strset_new();
	if (c.items == NULL || c.fingerprints == NULL) {
		ps_error_nomem(err);
		goto out;
	}
	cq_build(&c, s);
	if (c.nomem) {
		ps_error_nomem(err);
		goto out;
	}
	if (json_dumpf(c.items, out, JSON_INDENT(2)) == -1 ||
	    fputc('\n', out) == EOF) {
		ps_error_sys(err, errno != 0 ? errno : EIO,
		    "cannot write report");
		goto out;
	}
	rc = 0;
out:
	ps_strset_free(c.fingerprints);
	json_decref(c.items);
	return rc;
}

/* ------------------------------------------------------------------------ */

int
ps_report_write(const json_t *summary, enum ps_report_format fmt,
    FILE *out, FILE *outputs, struct ps_error *err)
{
	int nomem = 0;

	if (ps_report_check(summary, err) == -1)
		return -1;
	switch (fmt) {
	case PS_REPORT_MARKDOWN:
		render_markdown(out, summary);
		break;
	case PS_REPORT_GITHUB:
		render_github(out, summary, &nomem);
		if (nomem)
			return ps_error_nomem(err);
		if (outputs != NULL && write_status(out, err) == -1)
			return -1;
		render_outputs(outputs != NULL ? outputs : out, summary);
		if (outputs != NULL)
			return write_status(outputs, err);
		break;
	case PS_REPORT_DOTENV:
		render_dotenv(out, summary);
		break;
	case PS_REPORT_CODEQUALITY:
		if (render_codequality(out, summary, err) == -1)
			return -1;
		break;
	}
	return write_status(out, err);
}
