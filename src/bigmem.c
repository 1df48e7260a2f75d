#include "bigmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((size_t)2 << 20)

/* Under AddressSanitizer every array stays on the heap, where overruns
 * are caught (a map has no redzones, and its rounding hides them). */
#if defined(__SANITIZE_ADDRESS__)
#define BIG_MAPS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BIG_MAPS 0
#endif
#endif
#ifndef BIG_MAPS
#define BIG_MAPS 1
#endif

/* The mapping's length for n * size bytes, or 0 when they are not mapped
 * (too few, or too many to count). */
static size_t
mapped_len(size_t n, size_t size)
{
	size_t len;

	if (size != 0 && n > SIZE_MAX / size)
		return 0;
	len = n * size;
	if (!BIG_MAPS || len < PS_BIG_MIN || len > SIZE_MAX - 2 * HUGE_PAGE)
		return 0;
	return (len + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}

void *
ps_big_calloc(size_t n, size_t size)
{
	size_t map = mapped_len(n, size);
	unsigned char *raw, *p;

	if (map == 0)   /* calloc() refuses an overflowing n * size too */
		return calloc(n ? n : 1, size ? size : 1);
	/* Aligned to a huge page, so that all of it can be one. */
	raw = mmap(NULL, map + HUGE_PAGE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	p = (unsigned char *)(((uintptr_t)raw + HUGE_PAGE - 1) &
	    ~(uintptr_t)(HUGE_PAGE - 1));
	if (p > raw)
		(void)munmap(raw, (size_t)(p - raw));
	(void)munmap(p + map, (size_t)(raw + HUGE_PAGE - p));
#ifdef MADV_HUGEPAGE
	(void)madvise(p, map, MADV_HUGEPAGE);
#endif
	return p;
}

void
ps_big_free(void *p, size_t n, size_t size)
{
	size_t map;

	if (p == NULL)
		return;
	map = mapped_len(n, size);
	if (map == 0)
		free(p);
	else
		(void)munmap(p, map);
}
