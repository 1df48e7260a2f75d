/*
 * summary.h - the JSON summary (SPEC "Summary (JSON)"), built with jansson.
 *
 * Names that are not valid UTF-8 are written with each invalid byte as the
 * text "\xNN" (lower-case hex), so the summary is always valid UTF-8 JSON.
 */
#ifndef PS_SUMMARY_H
#define PS_SUMMARY_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "pycstrip.h"

#define PS_SUMMARY_SCHEMA_VERSION 1

/*
 * Builds the summary of n results (in the order given).  Returns a new
 * reference the caller json_decref()s, or NULL when out of memory.
 */
json_t *ps_summary_build(const struct ps_options *opts,
    const struct ps_result *results, size_t n);

/*
 * Writes the summary to out, pretty-printed, with a final newline.
 * Returns 0, or -1 with err set when writing fails.
 */
int ps_summary_write(const json_t *summary, FILE *out, struct ps_error *err);

/*
 * Returns a malloc'd valid-UTF-8 copy of the len bytes at s, each byte that
 * is not part of a valid UTF-8 sequence replaced by the text "\xNN".
 * Returns NULL when out of memory.
 */
char *ps_summary_utf8(const char *s, size_t len);

#endif
