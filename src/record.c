#define _GNU_SOURCE
#include "record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Writes a printable rendering of the len bytes at s into out (size
 * bytes): control bytes and bytes of invalid UTF-8 become "\xNN", a long
 * name is cut with "...".  For messages only.
 */
static const char *
printable(const char *s, size_t len, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0;

	while (i < len && o + 8 < size) {
		size_t n = 1;

		if (u[i] >= 0xc2 && u[i] <= 0xf4) {
			size_t need = u[i] >= 0xf0 ? 4 : u[i] >= 0xe0 ? 3 : 2;
			size_t k;

			for (k = 1; k < need && i + k < len &&
			    (u[i + k] & 0xc0) == 0x80; k++)
				;
			n = k == need ? need : 0;
		} else if (u[i] < 0x20 || u[i] >= 0x7f) {
			n = 0;
		}
		if (n == 0) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[u[i] >> 4];
			out[o++] = hex[u[i] & 15];
			i++;
		} else {
			memcpy(out + o, u + i, n);
			o += n;
			i += n;
		}
	}
	if (i < len)
		memcpy(out + o, "...", 3), o += 3;
	out[o] = '\0';
	return out;
}

static uint64_t
hash_of(const char *k, size_t len)
{
	uint64_t h = 14695981039346656037ULL;  /* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)k[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static int
build_index(struct ps_record *rec)
{
	size_t cap = 16, i;

	while (cap < rec->n * 2 + 2)
		cap *= 2;
	rec->index = calloc(cap, sizeof *rec->index);
	if (rec->index == NULL)
		return -1;
	rec->index_cap = cap;
	for (i = 0; i < rec->n; i++) {
		const struct ps_record_row *r = &rec->rows[i];
		size_t s;

		if (r->blank)
			continue;
		s = (size_t)hash_of(r->path, r->path_len) & (cap - 1);
		while (rec->index[s] != 0)
			s = (s + 1) & (cap - 1);
		rec->index[s] = i + 1;
	}
	return 0;
}

enum state { START_FIELD, IN_FIELD, IN_QUOTED, QUOTE_IN_QUOTED };

int
ps_record_parse(struct ps_record *rec, const char *text, size_t len,
    struct ps_error *err)
{
	size_t lines = 1, cap, i, a = 0;
	struct ps_record_row *row = NULL;
	enum state st = START_FIELD;
	unsigned field = 0;
	size_t size_digits = 0;

	memset(rec, 0, sizeof *rec);
	rec->text = text;
	rec->len = len;
	for (i = 0; i < len; i++)
		if (text[i] == '\n' || text[i] == '\r')
			lines++;
	/* Unquoted fields never grow; each row adds two NULs. */
	rec->arena = malloc(len + 2 * lines + 2);
	rec->rows = calloc(lines, sizeof *rec->rows);
	if (rec->arena == NULL || rec->rows == NULL)
		goto nomem;
	cap = lines;
	i = 0;
	while (i < len) {
		char c = text[i];

		if (row == NULL) {
			/* Start of a row. */
			if (rec->n == cap)
				goto nomem;  /* cannot happen: lines bounds rows */
			row = &rec->rows[rec->n++];
			row->start = i;
			row->size = -1;
			row->path = rec->arena + a;
			row->hash = "";
			field = 0;
			size_digits = 0;
			st = START_FIELD;
			if (c == '\n' || c == '\r')
				row->blank = true;
		}
		if (st != IN_QUOTED && (c == '\n' || c == '\r')) {
			i++;
			if (c == '\r' && i < len && text[i] == '\n')
				i++;
			goto end_row;
		}
		i++;
		switch (st) {
		case START_FIELD:
			if (c == '"') {
				st = IN_QUOTED;
				continue;
			}
			if (c == ',')
				goto end_field;
			st = IN_FIELD;
			break;
		case IN_FIELD:
			if (c == ',')
				goto end_field;
			break;
		case IN_QUOTED:
			if (c == '"') {
				st = QUOTE_IN_QUOTED;
				continue;
			}
			break;
		case QUOTE_IN_QUOTED:
			if (c == ',')
				goto end_field;
			/* '""' is a quote; anything else after a closing quote
			 * is taken literally, as csv does when not strict. */
			st = c == '"' ? IN_QUOTED : IN_FIELD;
			break;
		}
		/* c belongs to the current field. */
		if (field == 0) {
			rec->arena[a++] = c == '\\' ? '/' : c;
			row->path_len++;
		} else if (field == 1) {
			rec->arena[a++] = c;
			row->hash_len++;
		} else if (field == 2) {
			if (c >= '0' && c <= '9' && size_digits < 18) {
				row->size = (row->size < 0 ? 0 : row->size * 10) +
				    (c - '0');
				size_digits++;
			} else {
				row->size = INT64_MIN;  /* not a number */
			}
		}
		continue;
end_field:
		if (field == 0) {
			rec->arena[a++] = '\0';
			row->hash = rec->arena + a;
		} else if (field == 1) {
			rec->arena[a++] = '\0';
		}
		field++;
		st = START_FIELD;
		continue;
end_row:
		if (field == 0) {
			rec->arena[a++] = '\0';
			row->hash = rec->arena + a;
			rec->arena[a++] = '\0';
		} else if (field == 1) {
			rec->arena[a++] = '\0';
		}
		if (row->size == INT64_MIN)
			row->size = -1;
		row->end = i;
		row = NULL;
	}
	if (row != NULL) {
		/* The last row has no line end. */
		if (st == IN_QUOTED) {
			ps_record_release(rec);
			return ps_error_input(err,
			    "RECORD: a quoted field never ends");
		}
		if (field == 0) {
			rec->arena[a++] = '\0';
			row->hash = rec->arena + a;
			rec->arena[a++] = '\0';
		} else if (field == 1) {
			rec->arena[a++] = '\0';
		}
		if (row->size == INT64_MIN)
			row->size = -1;
		row->end = len;
	}
	if (build_index(rec) < 0)
		goto nomem;
	return 0;
nomem:
	ps_record_release(rec);
	return ps_error_nomem(err);
}

void
ps_record_release(struct ps_record *rec)
{
	free(rec->rows);
	free(rec->arena);
	free(rec->index);
	memset(rec, 0, sizeof *rec);
}

ssize_t
ps_record_find(const struct ps_record *rec, const char *name, size_t len)
{
	size_t s, best = SIZE_MAX;

	if (rec->index_cap == 0)
		return -1;
	s = (size_t)hash_of(name, len) & (rec->index_cap - 1);
	for (; rec->index[s] != 0; s = (s + 1) & (rec->index_cap - 1)) {
		size_t r = rec->index[s] - 1;
		const struct ps_record_row *row = &rec->rows[r];

		if (row->path_len == len && memcmp(row->path, name, len) == 0 &&
		    r < best)
			best = r;
	}
	return best == SIZE_MAX ? -1 : (ssize_t)best;
}

size_t
ps_record_drop(struct ps_record *rec, const char *name, size_t len)
{
	size_t s, n = 0;

	if (rec->index_cap == 0)
		return 0;
	s = (size_t)hash_of(name, len) & (rec->index_cap - 1);
	for (; rec->index[s] != 0; s = (s + 1) & (rec->index_cap - 1)) {
		struct ps_record_row *row = &rec->rows[rec->index[s] - 1];

		if (row->path_len == len && memcmp(row->path, name, len) == 0) {
			row->dropped = true;
			n++;
		}
	}
	return n;
}

int
ps_record_check(const struct ps_record *rec, const char *const *names,
    const size_t *lens, size_t n, struct ps_error *err)
{
	bool *seen = calloc(rec->n + 1, sizeof *seen);
	char buf[256];
	size_t i;
	int rc = -1;

	if (seen == NULL)
		return ps_error_nomem(err);
	for (i = 0; i < n; i++) {
		bool found = false;
		size_t s;

		if (rec->index_cap == 0)
			goto missing;
		s = (size_t)hash_of(names[i], lens[i]) & (rec->index_cap - 1);
		for (; rec->index[s] != 0; s = (s + 1) & (rec->index_cap - 1)) {
			size_t r = rec->index[s] - 1;
			const struct ps_record_row *row = &rec->rows[r];

			if (!row->dropped && row->path_len == lens[i] &&
			    memcmp(row->path, names[i], lens[i]) == 0) {
				seen[r] = true;
				found = true;
			}
		}
		if (found)
			continue;
missing:
		ps_error_input(err, "RECORD does not list %s",
		    printable(names[i], lens[i], buf, sizeof buf));
		goto out;
	}
	for (i = 0; i < rec->n; i++) {
		const struct ps_record_row *row = &rec->rows[i];

		if (row->blank || row->dropped || seen[i])
			continue;
		ps_error_input(err, "RECORD lists %s, which is not in the archive",
		    printable(row->path, row->path_len, buf, sizeof buf));
		goto out;
	}
	rc = 0;
out:
	free(seen);
	return rc;
}

char *
ps_record_render(const struct ps_record *rec, size_t *len)
{
	char *out = malloc(rec->len + 1);
	size_t i, o = 0;

	if (out == NULL)
		return NULL;
	for (i = 0; i < rec->n; i++) {
		const struct ps_record_row *row = &rec->rows[i];

		if (row->dropped)
			continue;
		memcpy(out + o, rec->text + row->start, row->end - row->start);
		o += row->end - row->start;
	}
	*len = o;
	return out;
}
