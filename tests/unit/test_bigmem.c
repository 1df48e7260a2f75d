/*
 * test_bigmem.c - large arrays: zeroed, writable, huge-page aligned when
 * big, ordinary below PS_BIG_MIN, NULL when the size overflows.
 */
#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "bigmem.h"

static void
expect_zero_then_write(size_t n, size_t size)
{
	unsigned char *p = ps_big_calloc(n, size);
	size_t len = n * size, i;

	cr_assert_not_null(p, "%zu x %zu bytes", n, size);
	for (i = 0; i < len; i++)
		if (p[i] != 0)
			break;
	cr_expect_eq(i, len, "byte %zu of %zu not zero", i, len);
	memset(p, 0xa5, len);
	cr_expect_eq(p[len - 1], 0xa5);
	ps_big_free(p, n, size);
}

Test(bigmem, small_and_big_arrays_are_zeroed_and_writable)
{
	expect_zero_then_write(1, 1);
	expect_zero_then_write(1000, 72);
	expect_zero_then_write(PS_BIG_MIN - 1, 1);
	expect_zero_then_write(PS_BIG_MIN, 1);
	expect_zero_then_write(51474, 72);          /* the bench wheel's entries */
	expect_zero_then_write((5u << 20) / 8 + 3, 8);
}

#if !defined(__SANITIZE_ADDRESS__)
/* (Under AddressSanitizer big arrays stay on the heap.) */
Test(bigmem, big_arrays_start_on_a_huge_page)
{
	void *p = ps_big_calloc(3u << 20, 1);

	cr_assert_not_null(p);
	cr_expect_eq((uintptr_t)p % (2u << 20), 0, "%p", p);
	ps_big_free(p, 3u << 20, 1);
}
#endif

Test(bigmem, overflowing_sizes_fail)
{
	cr_expect_null(ps_big_calloc(SIZE_MAX / 2, 4));
	cr_expect_null(ps_big_calloc(SIZE_MAX, SIZE_MAX));
	cr_expect_null(ps_big_calloc(SIZE_MAX - (1u << 20), 1));
	ps_big_free(NULL, 10, 10);
}

/* Touching ahead changes nothing that the owner of the memory sees. */
Test(bigmem, warming_ahead_keeps_contents)
{
	size_t n = (5u << 20) + 123, i;
	unsigned char *p = ps_big_calloc(n, 1);
	struct ps_big_warm w;

	cr_assert_not_null(p);
	p[0] = 7;
	ps_big_warm_start(&w, p, n, 1, 1u << 20);
	for (i = 0; i < (2u << 20); i += 4096)
		p[i] = 1;
	ps_big_warm_join(&w);
	cr_expect_eq(w.running, false);
	cr_expect_eq(p[0], 1);
	for (i = 2u << 20; i < n; i++)
		if (p[i] != 0)
			break;
	cr_expect_eq(i, n, "byte %zu changed", i);
	ps_big_free(p, n, 1);
}

Test(bigmem, nothing_to_warm_starts_no_thread)
{
	struct ps_big_warm w;
	unsigned char small[64];

	ps_big_warm_start(&w, NULL, 0, 1, 0);
	cr_expect_eq(w.running, false);
	ps_big_warm_start(&w, small, sizeof small, 1, 0);
	cr_expect_eq(w.running, false);
	ps_big_warm_join(&w);
}
