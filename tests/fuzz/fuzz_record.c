/*
 * fuzz_record.c - libFuzzer target for the wheel RECORD editor (record.h).
 *
 * Input: RECORD text.  After a successful parse, rows are dropped by name
 * (a choice driven by the input's first byte), and the editor's promises
 * are checked: every row is found by its path, the render is the kept rows
 * byte for byte, and the kept paths pass ps_record_check() against
 * themselves.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ps_record rec;
	struct ps_error err;
	const char **names = NULL;
	size_t *lens = NULL;
	ssize_t *row_of = NULL;
	char *out = NULL;
	size_t i, n = 0, olen = 0, o = 0, prev_end = 0;
	unsigned sel = size > 0 ? data[0] : 0;

	if (ps_record_parse(&rec, (const char *)data, size, &err) < 0) {
		CHECK(err.msg[0] != '\0');
		return 0;
	}
	for (i = 0; i < rec.n; i++) {
		const struct ps_record_row *r = &rec.rows[i];
		ssize_t j;

		/* Rows tile the text, in order. */
		CHECK(r->start == prev_end && r->end >= r->start &&
		    r->end <= size);
		prev_end = r->end;
		if (r->blank)
			continue;
		j = ps_record_find(&rec, r->path, r->path_len);
		CHECK(j >= 0 && (size_t)j <= i);
		CHECK(rec.rows[j].path_len == r->path_len &&
		    memcmp(rec.rows[j].path, r->path, r->path_len) == 0);
	}
	CHECK(prev_end == size);
	for (i = 0; i < rec.n; i++) {
		const struct ps_record_row *r = &rec.rows[i];

		if (!r->blank && !r->dropped && (i * 7 + sel) % 3 == 0)
			CHECK(ps_record_drop(&rec, r->path, r->path_len) >= 1);
	}
	names = malloc((rec.n + 1) * sizeof *names);
	lens = malloc((rec.n + 1) * sizeof *lens);
	out = ps_record_render(&rec, &olen);
	if (names == NULL || lens == NULL || out == NULL)
		goto out;
	for (i = 0; i < rec.n; i++) {
		const struct ps_record_row *r = &rec.rows[i];

		if (r->dropped)
			continue;
		CHECK(o + (r->end - r->start) <= olen);
		CHECK(memcmp(out + o, rec.text + r->start, r->end - r->start)
		    == 0);
		o += r->end - r->start;
		/* Each kept path once (its first row). */
		if (!r->blank &&
		    ps_record_find(&rec, r->path, r->path_len) == (ssize_t)i) {
			names[n] = r->path;
			lens[n++] = r->path_len;
		}
	}
	CHECK(o == olen);
	row_of = malloc((n + 1) * sizeof *row_of);
	if (row_of == NULL)
		goto out;
	CHECK(ps_record_check(&rec, names, lens, n, row_of, &err) == 0);
	for (i = 0; i < n; i++) {
		const struct ps_record_row *r = &rec.rows[row_of[i]];

		CHECK(row_of[i] >= 0 && (size_t)row_of[i] < rec.n);
		CHECK(r->path_len == lens[i] &&
		    memcmp(r->path, names[i], lens[i]) == 0);
	}
	/* One name missing is a difference. */
	if (n > 0)
		CHECK(ps_record_check(&rec, names, lens, n - 1, NULL, &err) < 0);
out:
	free(row_of);
	free(out);
	free(names);
	free(lens);
	ps_record_release(&rec);
	return 0;
}
