/*
 * test_error.c - messages: how a member name is shown (ps_error_shown), and
 * the UTF-8 and byte-escaping helpers it shares with the summary.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "error.h"

static void
expect_shown(const char *in, size_t len, size_t size, const char *want)
{
	char out[512];

	cr_assert(size <= sizeof out);
	ps_error_shown(in, len, out, size);
	cr_expect_str_eq(out, want, "got \"%s\", expected \"%s\"", out, want);
	cr_expect(strlen(out) < size, "%zu bytes in a buffer of %zu",
	    strlen(out), size);
}

#define SHOWN(in, want) expect_shown((in), sizeof(in) - 1, 512, (want))

Test(error, shown_keeps_printable_utf8)
{
	SHOWN("pkg/__pycache__/a.cpython-311.pyc",
	    "pkg/__pycache__/a.cpython-311.pyc");
	SHOWN("caf\xc3\xa9/\xf0\x9f\x98\x80.pyc",
	    "caf\xc3\xa9/\xf0\x9f\x98\x80.pyc");
	SHOWN("", "");
}

Test(error, shown_escapes_control_bytes)
{
	SHOWN("a\nb\tc\x7f", "a\\x0ab\\x09c\\x7f");
	SHOWN("\x1b[31mred", "\\x1b[31mred");
}

Test(error, shown_escapes_invalid_utf8_as_the_summary_does)
{
	/* A lone continuation byte, a cut-short sequence, an overlong '/'
	 * and a surrogate: each invalid byte on its own. */
	SHOWN("\x80x", "\\x80x");
	SHOWN("a\xc3", "a\\xc3");
	SHOWN("\xc0\xaf", "\\xc0\\xaf");
	SHOWN("\xe0\x80\xaf", "\\xe0\\x80\\xaf");
	SHOWN("\xed\xa0\x80", "\\xed\\xa0\\x80");
	SHOWN("\xff.pyc", "\\xff.pyc");
}

Test(error, shown_cuts_a_long_name)
{
	char name[300];

	memset(name, 'n', sizeof name);
	expect_shown(name, sizeof name, 32,
	    "nnnnnnnnnnnnnnnnnnnnnnnn...");
	/* An escape is never cut in half. */
	memset(name, 0xff, sizeof name);
	expect_shown(name, sizeof name, 32,
	    "\\xff\\xff\\xff\\xff\\xff\\xff...");
}

Test(error, utf8_len)
{
	cr_expect_eq(ps_utf8_len((const unsigned char *)"a", 1), 1);
	cr_expect_eq(ps_utf8_len((const unsigned char *)"", 1), 0);
	cr_expect_eq(ps_utf8_len((const unsigned char *)"\xc3\xa9", 2), 2);
	cr_expect_eq(ps_utf8_len((const unsigned char *)"\xc3\xa9", 1), 0);
	cr_expect_eq(ps_utf8_len((const unsigned char *)"\xe2\x82\xac", 3), 3);
	cr_expect_eq(ps_utf8_len((const unsigned char *)"\xf4\x8f\xbf\xbf",
	    4), 4);
	cr_expect_eq(ps_utf8_len((const unsigned char *)"\xf4\x90\x80\x80",
	    4), 0);
}

Test(error, byte_escape)
{
	char out[5] = { 0 };

	ps_byte_escape(out, 0xab);
	cr_expect_str_eq(out, "\\xab");
	ps_byte_escape(out, 0x00);
	cr_expect_str_eq(out, "\\x00");
}
