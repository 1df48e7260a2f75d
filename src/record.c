#define _GNU_SOURCE
#include "record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/*
 * The index over row paths is built on first need: a RECORD listed in the
 * archive's own order is checked and edited without it.
 */
static int
build_index(struct ps_record *rec)
{
	size_t cap = 16, i;

	if (rec->index != NULL)
		return 0;
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

static void
set_size(struct ps_record_row *row, const char *v, size_t vl)
{
	size_t k;

	row->size = -1;
	if (vl == 0 || vl > 18)
		return;
	row->size = 0;
	for (k = 0; k < vl && row->size >= 0; k++)
		row->size = v[k] >= '0' && v[k] <= '9' ?
		    row->size * 10 + (v[k] - '0') : -1;
}

/*
 * The common row, "path,hash,size" then LF with no quote, CR or '\' in
 * it, is split with memchr; anything else goes field by field.  Returns
 * 1 when the row was done here (*i past its line end), 0 to take the slow
 * way.
 */
static int
fast_row(struct ps_record *rec, struct ps_record_row *row, size_t *i)
{
	const char *t = rec->text + *i, *nl, *c1, *c2, *end;
	size_t n = rec->len - *i;

	nl = memchr(t, '\n', n);
	end = nl != NULL ? nl : t + n;
	n = (size_t)(end - t);
	if (memchr(t, '"', n) != NULL || memchr(t, '\r', n) != NULL)
		return 0;
	c1 = memchr(t, ',', n);
	if (c1 == NULL || memchr(t, '\\', (size_t)(c1 - t)) != NULL)
		return 0;
	row->path = t;
	row->path_len = (size_t)(c1 - t);
	c2 = memchr(c1 + 1, ',', (size_t)(end - c1 - 1));
	row->hash = c1 + 1;
	row->hash_len = (size_t)((c2 != NULL ? c2 : end) - c1 - 1);
	if (c2 != NULL) {
		const char *c3 = memchr(c2 + 1, ',', (size_t)(end - c2 - 1));

		set_size(row, c2 + 1, (size_t)((c3 != NULL ? c3 : end) - c2 - 1));
	}
	*i += n + (nl != NULL);
	return 1;
}

int
ps_record_parse(struct ps_record *rec, const char *text, size_t len,
    struct ps_error *err)
{
	size_t cap = 0, i = 0;
	int r;

	memset(rec, 0, sizeof *rec);
	rec->text = text;
	rec->len = len;
	/*
	 * As many rows as line feeds, plus one: a RECORD with 51,000 rows
	 * then takes 3.7 MB, where doubling took 4.7 MB and its copies
	 * (memory first touched costs a page fault; these rows are most of
	 * what RECORD's work touches).  Quoted line ends and CR-only lines
	 * make it an estimate, grown as before when short.
	 */
	for (const char *p = text, *end = text + len;
	    p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
		cap++;
	if (len > 0 && cap < SIZE_MAX / sizeof *rec->rows - 1) {
		rec->rows = malloc((cap + 1) * sizeof *rec->rows);
		if (rec->rows == NULL)
			goto nomem;
		cap++;
	}
	while (i < len) {
		struct ps_record_row *row;
		unsigned f;

		if (rec->n == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			struct ps_record_row *v = realloc(rec->rows,
			    ncap * sizeof *v);

			if (v == NULL)
				goto nomem;
			rec->rows = v;
			cap = ncap;
		}
		row = &rec->rows[rec->n++];
		memset(row, 0, sizeof *row);
		row->start = i;
		row->size = -1;
		row->hash = "";
		if (text[i] == '\n' || text[i] == '\r') {
			row->blank = true;
			row->path = text + i;
			goto line_end;
		}
		if (fast_row(rec, row, &i)) {
			row->end = i;
			continue;
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
			} else if (f == 2) {
				set_size(row, v, vl);
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

static bool
row_is(const struct ps_record_row *row, const char *name, size_t len)
{
	return !row->blank && row->path_len == len &&
	    memcmp(row->path, name, len) == 0;
}

ssize_t
ps_record_find(struct ps_record *rec, const char *name, size_t len)
{
	size_t s, best = SIZE_MAX;

	if (rec->n == 0 || build_index(rec) < 0) {
		/* Out of memory for the index: look the slow way. */
		for (s = 0; s < rec->n; s++)
			if (row_is(&rec->rows[s], name, len))
				return (ssize_t)s;
		return -1;
	}
	s = (size_t)hash_of(name, len) & (rec->index_cap - 1);
	for (; rec->index[s] != 0; s = (s + 1) & (rec->index_cap - 1)) {
		size_t r = rec->index[s] - 1;

		if (row_is(&rec->rows[r], name, len) && r < best)
			best = r;
	}
	return best == SIZE_MAX ? -1 : (ssize_t)best;
}

size_t
ps_record_drop(struct ps_record *rec, const char *name, size_t len)
{
	size_t s, n = 0;

	if (rec->n == 0 || build_index(rec) < 0) {
		for (s = 0; s < rec->n; s++)
			if (row_is(&rec->rows[s], name, len)) {
				rec->rows[s].dropped = true;
				n++;
			}
		return n;
	}
	s = (size_t)hash_of(name, len) & (rec->index_cap - 1);
	for (; rec->index[s] != 0; s = (s + 1) & (rec->index_cap - 1)) {
		struct ps_record_row *row = &rec->rows[rec->index[s] - 1];

		if (row_is(row, name, len)) {
			row->dropped = true;
			n++;
		}
	}
	return n;
}

void
ps_record_drop_row(struct ps_record *rec, size_t row)
{
	const struct ps_record_row *r = &rec->rows[row];

	if (rec->aligned)
		rec->rows[row].dropped = true;
	else
		ps_record_drop(rec, r->path, r->path_len);
}

/*
 * The fast check: the rows not dropped (blank lines aside) are the names,
 * one for one, in order, as wheel builders write them.  Then each path is
 * listed once and the sets are equal.
 */
static bool
check_aligned(struct ps_record *rec, const char *const *names,
    const size_t *lens, size_t n, ssize_t *row_of)
{
	size_t i, r = 0;

	for (i = 0; i < n; i++, r++) {
		while (r < rec->n && (rec->rows[r].blank || rec->rows[r].dropped))
			r++;
		if (r == rec->n || !row_is(&rec->rows[r], names[i], lens[i]))
			return false;
		if (row_of != NULL)
			row_of[i] = (ssize_t)r;
	}
	while (r < rec->n && (rec->rows[r].blank || rec->rows[r].dropped))
		r++;
	return r == rec->n;
}

int
ps_record_check(struct ps_record *rec, const char *const *names,
    const size_t *lens, size_t n, ssize_t *row_of, struct ps_error *err)
{
	bool *seen = NULL;
	char buf[256];
	size_t i;
	int rc = -1;

	if (check_aligned(rec, names, lens, n, row_of)) {
		rec->aligned = true;
		return 0;
	}
	rec->aligned = false;
	seen = calloc(rec->n + 1, sizeof *seen);
	if (seen == NULL || (rec->n > 0 && build_index(rec) < 0)) {
		ps_error_nomem(err);
		goto out;
	}
	for (i = 0; i < n; i++) {
		ssize_t first = -1;
		size_t s;

		if (row_of != NULL)
			row_of[i] = -1;
		if (rec->n == 0)
			goto missing;
		s = (size_t)hash_of(names[i], lens[i]) & (rec->index_cap - 1);
		for (; rec->index[s] != 0; s = (s + 1) & (rec->index_cap - 1)) {
			size_t r = rec->index[s] - 1;

			if (!rec->rows[r].dropped &&
			    row_is(&rec->rows[r], names[i], lens[i])) {
				seen[r] = true;
				if (first < 0 || (ssize_t)r < first)
					first = (ssize_t)r;
			}
		}
		if (row_of != NULL)
			row_of[i] = first;
		if (first >= 0)
			continue;
missing:
		ps_error_input(err, "RECORD does not list %s",
		    ps_error_shown(names[i], lens[i], buf, sizeof buf));
		goto out;
	}
	for (i = 0; i < rec->n; i++) {
		const struct ps_record_row *row = &rec->rows[i];

		if (row->blank || row->dropped || seen[i])
			continue;
		ps_error_input(err, "RECORD lists %s, which is not in the archive",
		    ps_error_shown(row->path, row->path_len, buf, sizeof buf));
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
	size_t i, need = 0;
	char *out;

	for (i = 0; i < rec->n; i++)
		if (!rec->rows[i].dropped)
			need += rec->rows[i].end - rec->rows[i].start;
	out = malloc(need + 1);
	if (out == NULL)
		return NULL;
	*len = ps_record_render_into(rec, out);
	return out;
}

size_t
ps_record_render_into(const struct ps_record *rec, char *buf)
{
	size_t i, o = 0;

	for (i = 0; i < rec->n; i++) {
		const struct ps_record_row *row = &rec->rows[i];

		if (row->dropped)
			continue;
		/* Rows are contiguous and in order: o <= row->start. */
		memmove(buf + o, rec->text + row->start, row->end - row->start);
		o += row->end - row->start;
	}
	return o;
}
