/*
 * record.h - the wheel RECORD editor, in memory.
 *
 * A wheel lists every file it holds in "<name>.dist-info/RECORD" (PEP 376,
 * PEP 427, "Recording installed projects" in the packaging specs): a CSV
 * file, one row per file, "path,sha256=<urlsafe-b64>,size".  pycstrip drops
 * the rows of the files it removes and keeps every other row byte for byte,
 * in order: quoting, line ends (LF, CRLF, CR), a missing final newline and
 * non-ASCII names all survive, because rows are kept as the byte ranges
 * they were, never re-encoded.
 *
 * Parsing follows Python's csv module with its default (excel) dialect,
 * which is what pip, installer, wheel and PyPI read RECORD with: fields are
 * split on ',', a field that starts with '"' runs to the next lone '"' ("" is
 * a quote inside it) and may hold line ends.  A row's path is its first
 * field with '\' read as '/', as PyPI compares them.  Empty lines are kept
 * and name no file.
 *
 * The text is borrowed: it must outlive the struct ps_record, whose fields
 * point into it (only quoted fields, and paths holding '\', are copied).
 */
#ifndef PS_RECORD_H
#define PS_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

struct ps_record_row {
	size_t start, end;   /* the row's bytes in text, line end included */
	const char *path;    /* first field, unquoted (not NUL-terminated) */
	size_t path_len;
	const char *hash;    /* second field, unquoted, may be empty */
	size_t hash_len;
	int64_t size;        /* third field, -1 when empty or not a number */
	bool blank;          /* an empty line: names no file */
	bool dropped;
};

struct ps_record {
	const char *text;             /* borrowed */
	size_t len;
	struct ps_record_row *rows;
	size_t n;
	char *arena;                  /* quoted fields, unquoted; owned */
	size_t arena_used;
	size_t *index;                /* open addressing: row + 1, 0 = empty;
	                               * built on first need */
	size_t index_cap;             /* a power of two */
	bool aligned;                 /* the last check found the rows in
	                               * the names' order, one each */
};

/*
 * Parses the len bytes at text into rec (no initialisation needed).
 * Returns 0, or -1 with err set: "out of memory", or a bad-input error
 * for a quoted field that never ends.  rec needs ps_record_release() only
 * after success.
 */
int ps_record_parse(struct ps_record *rec, const char *text, size_t len,
    struct ps_error *err);

/* Frees what rec owns (not the text). */
void ps_record_release(struct ps_record *rec);

/*
 * Returns the index of the first row, dropped or not, whose path is the
 * len bytes at name, or -1.
 */
ssize_t ps_record_find(struct ps_record *rec, const char *name,
    size_t len);

/* Marks every row whose path is name as dropped; returns how many. */
size_t ps_record_drop(struct ps_record *rec, const char *name, size_t len);

/* Drops row and every other row with the same path. */
void ps_record_drop_row(struct ps_record *rec, size_t row);

/*
 * Checks that the set of paths of the rows not dropped equals the set of
 * the n names (names[i] of lens[i] bytes, no two alike; the caller leaves
 * out directory entries and signatures).  When row_of is not NULL, sets
 * row_of[i] to the first row listing names[i].  A RECORD in the names'
 * order, as wheel builders write it, is checked in one pass; any other
 * through a hash index.  Returns 0, or -1 with a bad-input error naming
 * one difference ("RECORD does not list x.py", "RECORD lists x.py, which
 * is not in the archive"), or "out of memory".
 */
int ps_record_check(struct ps_record *rec, const char *const *names,
    const size_t *lens, size_t n, ssize_t *row_of, struct ps_error *err);

/*
 * Returns the new RECORD text: the rows not dropped, byte for byte, in
 * order.  Sets *len.  The caller frees the result; NULL when out of memory.
 */
char *ps_record_render(const struct ps_record *rec, size_t *len);

/*
 * As ps_record_render(), into buf, which may be rec's own text (rows only
 * move towards its start); returns the length.  Otherwise buf needs room
 * for the rows kept.
 */
size_t ps_record_render_into(const struct ps_record *rec, char *buf);

#endif
