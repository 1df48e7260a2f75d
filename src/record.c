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
	/*
	 * Eight bytes a step, each mixed by a multiply and a fold of the high
	 * half; the final fold spreads the bits the table index uses.
	 */
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ len, w;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, k + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	if (i < len) {
		w = 0;
		memcpy(&w, k + i, len - i);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
	}
	h ^= h >> 29;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 32);
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

/*
 * Reads one field starting at text[*i]: unquoted fields are returned as
 * a pointer into the text; a quoted one, or one holding '\' when fix_bs,
 * is written out into the arena (allocated on first need).  Leaves *i on
 * the ',' or line end that ends the field, or at len.  Returns 0, -1 when
 * out of memory, 1 for a quoted field that never ends.
 */
static int
field(struct ps_record *rec, size_t *i, bool fix_bs, const char **out,
    size_t *out_len)
{
	const char *t = rec->text;
	size_t len = rec->len, k = *i, start = k;
	char *a;

	if (k >= len || t[k] != '"') {
		bool bs = false;

		for (; k < len && t[k] != ',' && t[k] != '\n' && t[k] != '\r';
		    k++)
			if (t[k] == '\\')
				bs = true;
		*i = k;
		if (!(bs && fix_bs)) {
			*out = t + start;
			*out_len = k - start;
			return 0;
		}
		k = start;  /* copy it out, '\' as '/' */
	}
	if (rec->arena == NULL && (rec->arena = malloc(len + 1)) == NULL)
		return -1;
	a = rec->arena + rec->arena_used;
	*out = a;
	if (t[k] == '"') {
		/* csv, excel dialect: "" is a quote; a lone one closes. */
		for (k++;; k++) {
			if (k >= len)
				return 1;
			if (t[k] != '"') {
				*a++ = t[k] == '\\' && fix_bs ? '/' : t[k];
				continue;
			}
			if (k + 1 < len && t[k + 1] == '"') {
				*a++ = '"';
				k++;
				continue;
			}
			k++;
			break;
		}
	}
	/* Unquoted text, or what follows a closing quote: taken as is. */
	for (; k < len && t[k] != ',' && t[k] != '\n' && t[k] != '\r'; k++)
		*a++ = t[k] == '\\' && fix_bs ? '/' : t[k];
	*out_len = (size_t)(a - *out);
	rec->arena_used += *out_len;
	*i = k;
	return 0;
}

int
ps_record_parse(struct ps_record *rec, const char *text, size_t len,
    struct ps_error *err)
{
	size_t lines = 1, i;
	int r;

	memset(rec, 0, sizeof *rec);
	rec->text = text;
	rec->len = len;
	for (i = 0; i < len; i++) {
		const char *nl = memchr(text + i, '\n', len - i);

		if (nl == NULL)
			break;
		i = (size_t)(nl - text);
		lines++;
	}
	for (i = 0; i < len; i++) {
		const char *cr = memchr(text + i, '\r', len - i);

		if (cr == NULL)
			break;
		i = (size_t)(cr - text);
		lines++;
	}
	rec->rows = calloc(lines, sizeof *rec->rows);
	if (rec->rows == NULL)
		goto nomem;
	i = 0;
	while (i < len) {
		struct ps_record_row *row = &rec->rows[rec->n++];
		unsigned f;

		row->start = i;
		row->size = -1;
		row->hash = "";
		if (text[i] == '\n' || text[i] == '\r') {
			row->blank = true;
			row->path = text + i;
			goto line_end;
		}
		for (f = 0;; f++) {
			const char *v;
			size_t vl;

			r = field(rec, &i, f == 0, &v, &vl);
			if (r < 0)
				goto nomem;
			if (r > 0) {
				ps_record_release(rec);
				return ps_error_input(err,
				    "RECORD: a quoted field never ends");
			}
			if (f == 0) {
				row->path = v;
				row->path_len = vl;
			} else if (f == 1) {
				row->hash = v;
				row->hash_len = vl;
			} else if (f == 2 && vl > 0 && vl <= 18) {
				size_t k;

				row->size = 0;
				for (k = 0; k < vl && row->size >= 0; k++)
					row->size = v[k] >= '0' && v[k] <= '9' ?
					    row->size * 10 + (v[k] - '0') : -1;
			}
			if (i >= len || text[i] != ',')
				break;
			i++;
		}
line_end:
		if (i < len && text[i] == '\r') {
			i++;
			if (i < len && text[i] == '\n')
				i++;
		} else if (i < len && text[i] == '\n') {
			i++;
		}
		row->end = i;
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
	size_t i, o = 0, need = 0;
	char *out;

	for (i = 0; i < rec->n; i++)
		if (!rec->rows[i].dropped)
			need += rec->rows[i].end - rec->rows[i].start;
	out = malloc(need + 1);
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
