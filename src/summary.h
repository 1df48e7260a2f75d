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
 * Builds the summary of n results (in the order given) as a JSON tree: the
 * streamed text parsed back (for tests and callers that want the tree).
 * Returns a new reference the caller json_decref()s, or NULL when out of
 * memory.
 */
json_t *ps_summary_build(const struct ps_options *opts,
    const struct ps_result *results, size_t n);

/*
 * Writes the summary of n results to out as it goes (never building it
 * whole), pretty-printed as jansson's JSON_INDENT(2) would, with a final
 * newline.  Returns 0, or -1 with err set when out of memory or writing
 * fails.
 */
int ps_summary_stream(const struct ps_options *opts,
    const struct ps_result *results, size_t n, FILE *out,
    struct ps_error *err);

/*
 * Returns a malloc'd valid-UTF-8 copy of the len bytes at s, each byte that
 * is not part of a valid UTF-8 sequence replaced by the text "\xNN".
 * Returns NULL when out of memory.
 */
char *ps_summary_utf8(const char *s, size_t len);

#endif
