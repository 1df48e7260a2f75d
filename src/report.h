/*
 * report.h - renders a JSON summary (summary.h, SPEC "Summary (JSON)") for
 * CI: a Markdown job summary, GitHub workflow commands and step outputs, a
 * GitLab dotenv report and a GitLab Code Quality report.
 *
 * The summary is checked first (ps_report_check): its shape, the types of
 * every field a renderer reads, and schema_version == 1.  A renderer is then
 * total: whatever the strings hold (newlines, '%', '|', '::', invalid
 * sequences were already escaped by the summary writer), the output stays in
 * its format and within the limits the CI systems set:
 *
 *   markdown     GitHub's job summary takes at most 1 MiB per step: the table
 *                and the lists are capped ("...and N more") so that the whole
 *                output stays under PS_REPORT_MARKDOWN_MAX bytes.
 *   github       GitHub shows at most 10 annotations of each type per step:
 *                at most 10 per type are written, then one notice "... and N
 *                more"; data and properties escaped as GitHub documents.
 *   dotenv       GitLab refuses dotenv reports over 5 KB: a fixed set of
 *                single-line variables, well under 1 KB.
 *   codequality  a JSON array; every item has description, check_name, a
 *                fingerprint unique within the report, severity,
 *                location.path and location.lines.begin.
 *
 * Nothing here prints on its own or keeps state: each call writes to the
 * caller's FILE and reports a write failure through struct ps_error.
 */
#ifndef PS_REPORT_H
#define PS_REPORT_H

#include <stdio.h>

#include <jansson.h>

#include "error.h"

enum ps_report_format {
	PS_REPORT_MARKDOWN = 0,
	PS_REPORT_GITHUB,      /* annotations, then the step outputs */
	PS_REPORT_DOTENV,
	PS_REPORT_CODEQUALITY,
};

/* Upper bound of the Markdown output, whatever the summary holds. */
#define PS_REPORT_MARKDOWN_MAX (256u * 1024u)

/* GitHub shows this many annotations of one type per step. */
#define PS_REPORT_GITHUB_CAP 10

/*
 * Parses a format name ("markdown", "github", "dotenv", "codequality").
 * Returns 0 and sets *fmt, or -1 when the name is unknown.
 */
int ps_report_format_parse(const char *name, enum ps_report_format *fmt);

/*
 * Checks that summary is a schema_version 1 summary with the fields and
 * types the renderers read.  Returns 0, or -1 with a PS_ERR_INPUT err whose
 * message names the first offending field ("targets[2].removed: expected
 * an array of strings", "unsupported schema_version 2 (expected 1)").
 */
int ps_report_check(const json_t *summary, struct ps_error *err);

/*
 * Checks summary (as ps_report_check) and writes it to out in format fmt.
 * For PS_REPORT_GITHUB, the workflow commands go to out and the step output
 * lines ("removed-files=40", ...) to outputs, or to out after the commands
 * when outputs is NULL; other formats ignore outputs.
 * Returns 0, or -1 with err set (bad summary: PS_ERR_INPUT; failed write:
 * PS_ERR_SYS; allocation: PS_ERR_NOMEM).
 */
int ps_report_write(const json_t *summary, enum ps_report_format fmt,
    FILE *out, FILE *outputs, struct ps_error *err);

/*
 * Writes a 32-hex-digit fingerprint of the n strings in parts (each taken
 * with its terminating NUL, so ("ab","c") and ("a","bc") differ) into
 * hex[33]: the first 128 bits of their SHA-256.  Stable across runs and
 * machines; used for Code Quality items.
 */
void ps_report_fingerprint(const char *const *parts, size_t n, char hex[33]);

#endif
