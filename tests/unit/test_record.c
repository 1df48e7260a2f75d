#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "record.h"

static struct ps_record rec;
static struct ps_error err;

static void
parse(const char *text)
{
	cr_assert_eq(ps_record_parse(&rec, text, strlen(text), &err), 0,
	    "%s", err.msg);
}

static char *
render(void)
{
	size_t len;
	char *out = ps_record_render(&rec, &len);
	char *s;

	char *into = malloc(rec.len + 1);

	cr_assert_not_null(out);
	cr_assert_not_null(into);
	cr_assert_eq(ps_record_render_into(&rec, into), len);
	cr_assert_eq(memcmp(into, out, len), 0);
	free(into);
	s = strndup(out, len);
	free(out);
	return s;
}

static void
row_eq(const char *p, size_t len, const char *want)
{
	cr_assert_eq(len, strlen(want), "length %zu for \"%.*s\"", len,
	    (int)len, p);
	cr_assert_eq(memcmp(p, want, len), 0, "got \"%.*s\"", (int)len, p);
}

static void
drop(const char *name)
{
	ps_record_drop(&rec, name, strlen(name));
}

static int
check(const char *const *names, size_t n)
{
	size_t lens[16];
	size_t i;

	for (i = 0; i < n; i++)
		lens[i] = strlen(names[i]);
	return ps_record_check(&rec, names, lens, n, NULL, &err);
}

static const char plain[] =
    "pkg/__init__.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\n"
    "pkg/__pycache__/__init__.cpython-311.pyc,sha256=abc,120\n"
    "pkg-1.0.dist-info/RECORD,,\n";

Test(record, drops_row_of_removed_file)
{
	char *s;

	parse(plain);
	cr_assert_eq(rec.n, 3);
	drop("pkg/__pycache__/__init__.cpython-311.pyc");
	s = render();
	cr_assert_str_eq(s,
	    "pkg/__init__.py,sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU,0\n"
	    "pkg-1.0.dist-info/RECORD,,\n");
	free(s);
	ps_record_release(&rec);
}

Test(record, fields_are_parsed)
{
	parse(plain);
	row_eq(rec.rows[0].path, rec.rows[0].path_len, "pkg/__init__.py");
	row_eq(rec.rows[0].hash, rec.rows[0].hash_len,
	    "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU");
	cr_assert_eq(rec.rows[0].size, 0);
	cr_assert_eq(rec.rows[1].size, 120);
	row_eq(rec.rows[2].hash, rec.rows[2].hash_len, "");
	cr_assert_eq(rec.rows[2].size, -1);
	ps_record_release(&rec);
}

Test(record, quoted_names_keep_their_bytes)
{
	static const char text[] =
	    "\"pkg/a,b.py\",sha256=x,1\n"
	    "\"pkg/say \"\"hi\"\".py\",sha256=y,2\n"
	    "\"pkg/__pycache__/a,b.cpython-311.pyc\",sha256=z,3\n";
	char *s;

	parse(text);
	row_eq(rec.rows[0].path, rec.rows[0].path_len, "pkg/a,b.py");
	row_eq(rec.rows[1].path, rec.rows[1].path_len, "pkg/say \"hi\".py");
	cr_assert_eq(rec.rows[1].size, 2);
	drop("pkg/__pycache__/a,b.cpython-311.pyc");
	s = render();
	cr_assert_str_eq(s,
	    "\"pkg/a,b.py\",sha256=x,1\n"
	    "\"pkg/say \"\"hi\"\".py\",sha256=y,2\n");
	free(s);
	ps_record_release(&rec);
}

Test(record, quoted_field_may_hold_a_line_end)
{
	parse("\"a\nb.py\",h,1\nc.py,h,2\n");
	cr_assert_eq(rec.n, 2);
	row_eq(rec.rows[0].path, rec.rows[0].path_len, "a\nb.py");
	row_eq(rec.rows[1].path, rec.rows[1].path_len, "c.py");
	ps_record_release(&rec);
}

Test(record, crlf_rows_stay_crlf)
{
	char *s;

	parse("a.py,h,1\r\nb.pyc,h,2\r\nc.py,h,3\r\n");
	cr_assert_eq(rec.n, 3);
	row_eq(rec.rows[1].path, rec.rows[1].path_len, "b.pyc");
	drop("b.pyc");
	s = render();
	cr_assert_str_eq(s, "a.py,h,1\r\nc.py,h,3\r\n");
	free(s);
	ps_record_release(&rec);
}

Test(record, lone_cr_ends_a_row)
{
	parse("a.py,h,1\rb.py,h,2");
	cr_assert_eq(rec.n, 2);
	row_eq(rec.rows[1].path, rec.rows[1].path_len, "b.py");
	ps_record_release(&rec);
}

Test(record, no_trailing_newline)
{
	char *s;

	parse("a.py,h,1\nb.pyc,h,2\nc.py,h,3");
	cr_assert_eq(rec.n, 3);
	row_eq(rec.rows[2].path, rec.rows[2].path_len, "c.py");
	drop("b.pyc");
	s = render();
	cr_assert_str_eq(s, "a.py,h,1\nc.py,h,3");
	free(s);
	ps_record_release(&rec);
}

Test(record, dropping_the_unterminated_last_row)
{
	char *s;

	parse("a.py,h,1\nb.pyc,h,2");
	drop("b.pyc");
	s = render();
	cr_assert_str_eq(s, "a.py,h,1\n");
	free(s);
	ps_record_release(&rec);
}

Test(record, non_ascii_names)
{
	char *s;

	parse("pkg/caf\xc3\xa9.py,h,1\npkg/__pycache__/caf\xc3\xa9.cpython-311.pyc,h,2\n");
	cr_assert_eq(ps_record_find(&rec, "pkg/caf\xc3\xa9.py", strlen("pkg/caf\xc3\xa9.py")), 0);
	drop("pkg/__pycache__/caf\xc3\xa9.cpython-311.pyc");
	s = render();
	cr_assert_str_eq(s, "pkg/caf\xc3\xa9.py,h,1\n");
	free(s);
	ps_record_release(&rec);
}

Test(record, duplicates_are_all_dropped)
{
	char *s;
	const char *names[] = { "a.py", "b.pyc" };

	parse("a.py,h,1\nb.pyc,h,2\nb.pyc,h,2\n");
	cr_assert_eq(check(names, 2), 0, "%s", err.msg);
	cr_assert_eq(ps_record_drop(&rec, "b.pyc", 5), 2);
	s = render();
	cr_assert_str_eq(s, "a.py,h,1\n");
	free(s);
	ps_record_release(&rec);
}

Test(record, backslash_paths_compare_as_slash)
{
	const char *names[] = { "pkg/a.py" };

	parse("pkg\\a.py,h,1\n");
	cr_assert_eq(check(names, 1), 0, "%s", err.msg);
	ps_record_release(&rec);
}

Test(record, blank_lines_name_nothing)
{
	const char *names[] = { "a.py", "b.py" };
	char *s;

	parse("a.py,h,1\n\nb.py,h,2\n");
	cr_assert_eq(check(names, 2), 0, "%s", err.msg);
	s = render();
	cr_assert_str_eq(s, "a.py,h,1\n\nb.py,h,2\n");
	free(s);
	ps_record_release(&rec);
}

Test(record, check_finds_file_missing_from_record)
{
	const char *names[] = { "a.py", "b.py", "c.py" };

	parse("a.py,h,1\nb.py,h,2\n");
	cr_assert_eq(check(names, 3), -1);
	cr_assert_eq(err.kind, PS_ERR_INPUT);
	cr_assert_str_eq(err.msg, "RECORD does not list c.py");
	ps_record_release(&rec);
}

Test(record, check_finds_row_for_absent_file)
{
	const char *names[] = { "a.py" };

	parse("a.py,h,1\nb.py,h,2\n");
	cr_assert_eq(check(names, 1), -1);
	cr_assert_str_eq(err.msg, "RECORD lists b.py, which is not in the archive");
	ps_record_release(&rec);
}

Test(record, check_ignores_dropped_rows)
{
	const char *names[] = { "a.py" };

	parse("a.py,h,1\nb.pyc,h,2\n");
	drop("b.pyc");
	cr_assert_eq(check(names, 1), 0, "%s", err.msg);
	ps_record_release(&rec);
}

Test(record, check_message_escapes_control_bytes)
{
	const char *names[] = { "a\x1b[31m.py" };

	parse("");
	cr_assert_eq(check(names, 1), -1);
	cr_assert_str_eq(err.msg, "RECORD does not list a\\x1b[31m.py");
	ps_record_release(&rec);
}

Test(record, unterminated_quote_is_refused)
{
	cr_assert_eq(ps_record_parse(&rec, "\"a.py,h,1\n", 10, &err), -1);
	cr_assert_eq(err.kind, PS_ERR_INPUT);
}

Test(record, empty_record)
{
	char *s;

	parse("");
	cr_assert_eq(rec.n, 0);
	cr_assert_eq(ps_record_find(&rec, "a", 1), -1);
	s = render();
	cr_assert_str_eq(s, "");
	free(s);
	ps_record_release(&rec);
}

Test(record, blank_crlf_line_and_quoted_backslash)
{
	parse("\r\n\"a\\b.py\",h,1\r\nc\\d.py,h,2\r\n");
	cr_assert_eq(rec.n, 3);
	cr_assert(rec.rows[0].blank);
	cr_assert_eq(rec.rows[0].end, 2);
	row_eq(rec.rows[1].path, rec.rows[1].path_len, "a/b.py");
	row_eq(rec.rows[2].path, rec.rows[2].path_len, "c/d.py");
	cr_assert_eq(rec.rows[2].size, 2);
	ps_record_release(&rec);
}

Test(record, odd_size_fields)
{
	parse("a.py,h,\nb.py,h,12x\nc.py,h,\"7\"\nd.py\n");
	cr_assert_eq(rec.rows[0].size, -1);
	cr_assert_eq(rec.rows[1].size, -1);
	cr_assert_eq(rec.rows[2].size, 7);
	cr_assert_eq(rec.rows[3].size, -1);
	cr_assert_eq(rec.rows[3].hash_len, 0);
	ps_record_release(&rec);
}

Test(record, text_after_closing_quote_is_literal)
{
	parse("\"a\"b.py,h,1\n");
	row_eq(rec.rows[0].path, rec.rows[0].path_len, "ab.py");
	ps_record_release(&rec);
}

Test(record, rows_in_archive_order_are_matched_in_one_pass)
{
	const char *names[] = { "a.py", "b.pyc", "c.py" };
	size_t lens[] = { 4, 5, 4 };
	ssize_t row_of[3];
	char *s;

	parse("a.py,h,1\n\nb.pyc,h,2\nc.py,h,3\n");
	cr_assert_eq(ps_record_check(&rec, names, lens, 3, row_of, &err), 0,
	    "%s", err.msg);
	cr_assert(rec.aligned);
	cr_assert_eq(rec.index, NULL, "no index needed");
	cr_assert_eq(row_of[0], 0);
	cr_assert_eq(row_of[1], 2);
	cr_assert_eq(row_of[2], 3);
	ps_record_drop_row(&rec, (size_t)row_of[1]);
	s = render();
	cr_assert_str_eq(s, "a.py,h,1\n\nc.py,h,3\n");
	free(s);
	ps_record_release(&rec);
}

Test(record, rows_in_another_order_are_matched_by_index)
{
	const char *names[] = { "c.py", "a.py", "b.pyc" };
	size_t lens[] = { 4, 4, 5 };
	ssize_t row_of[3];
	char *s;

	parse("a.py,h,1\nb.pyc,h,2\nb.pyc,h,2\nc.py,h,3\n");
	cr_assert_eq(ps_record_check(&rec, names, lens, 3, row_of, &err), 0,
	    "%s", err.msg);
	cr_assert_not(rec.aligned);
	cr_assert_eq(row_of[0], 3);
	cr_assert_eq(row_of[1], 0);
	cr_assert_eq(row_of[2], 1);
	/* Both rows of the duplicate go. */
	ps_record_drop_row(&rec, (size_t)row_of[2]);
	s = render();
	cr_assert_str_eq(s, "a.py,h,1\nc.py,h,3\n");
	free(s);
	ps_record_release(&rec);
}

Test(record, misaligned_tail_is_still_found)
{
	const char *names[] = { "a.py", "b.py" };
	size_t lens[] = { 4, 4 };

	/* In order, then a row too many: the slow check names it. */
	parse("a.py,h,1\nb.py,h,2\nz.py,h,3\n");
	cr_assert_eq(ps_record_check(&rec, names, lens, 2, NULL, &err), -1);
	cr_assert_str_eq(err.msg,
	    "RECORD lists z.py, which is not in the archive");
	ps_record_release(&rec);
}

/*
 * The rows are sized from the line feeds up front: CR-only lines (more
 * rows than line feeds) grow the array, line feeds inside quoted fields
 * (fewer) leave room unused; either way every row is there, in order.
 */
Test(record, row_count_estimate_may_be_short_or_long)
{
	enum { N = 3000 };
	char *text = malloc(N * 32), *out;
	size_t len = 0, i;

	cr_assert_not_null(text);
	for (i = 0; i < N; i++)
		len += (size_t)sprintf(text + len, "m%zu.py,h,%zu\r", i, i);
	text[len] = '\0';
	parse(text);
	cr_assert_eq(rec.n, N);
	row_eq(rec.rows[N - 1].path, rec.rows[N - 1].path_len, "m2999.py");
	out = render();
	cr_assert_str_eq(out, text);
	free(out);
	ps_record_release(&rec);

	len = 0;
	for (i = 0; i < N; i++)
		len += (size_t)sprintf(text + len, "\"q\n%zu\n.py\",h,1\n", i);
	text[len] = '\0';
	parse(text);
	cr_assert_eq(rec.n, N);
	row_eq(rec.rows[7].path, rec.rows[7].path_len, "q\n7\n.py");
	out = render();
	cr_assert_str_eq(out, text);
	free(out);
	ps_record_release(&rec);
	free(text);
}

Test(record, renders_over_its_own_text)
{
	const char *orig = "a.py,sha256=x,1\r\n\"b,\"\"q\".py\",,\n"
	    "p/__pycache__/a.pyc,,\n\nc\u00e9.py,sha256=y,2";
	char *text = strdup(orig);
	char *want;
	size_t len, got;

	cr_assert_not_null(text);
	cr_assert_eq(ps_record_parse(&rec, text, strlen(text), &err), 0);
	cr_assert_eq(ps_record_drop(&rec, "a.py", 4), 1);
	cr_assert_eq(ps_record_drop(&rec, "p/__pycache__/a.pyc", 19), 1);
	want = ps_record_render(&rec, &len);
	cr_assert_not_null(want);
	got = ps_record_render_into(&rec, text);
	ps_record_release(&rec);
	cr_assert_eq(got, len);
	cr_assert_eq(memcmp(text, want, len), 0);
	cr_assert_eq(memcmp(text, "\"b,\"\"q\".py\",,\n\nc\u00e9.py,sha256=y,2",
	    len), 0);
	free(want);
	free(text);
}
