/*
 * bigmem.h - large arrays on transparent huge pages.
 *
 * Memory is paid for when first touched, one page fault per page: a wheel
 * of 51,000 members needs arrays of several megabytes (its entries, their
 * order, the name index) that are written once, whole.  With 4 KiB pages
 * that is a thousand faults each; in a virtual machine that shadows the
 * guest's page tables each fault costs about 10 us.  Asking for
 * transparent huge pages (madvise(MADV_HUGEPAGE): honoured when THP is
 * "always" or "madvise") makes it one fault per 2 MiB.  Smaller arrays, and
 * systems without THP, get ordinary memory; rounding up costs at most
 * 2 MiB per array.
 *
 * Thread safe: each call stands alone.
 */
#ifndef PS_BIGMEM_H
#define PS_BIGMEM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* Arrays of at least this many bytes go on huge pages. */
#define PS_BIG_MIN (512u << 10)

/*
 * Returns n * size bytes, zeroed, or NULL (no memory, or the product
 * overflows).  Free with ps_big_free() and the same n and size.
 */
void *ps_big_calloc(size_t n, size_t size);

/* Frees what ps_big_calloc(n, size) returned (NULL is ignored). */
void ps_big_free(void *p, size_t n, size_t size);

/*
 * Sets the process heap up for big work: its address space reserved and
 * on huge pages, never trimmed, one arena.  For main(), before any thread.
 */
void ps_big_heap(void);

/*
 * Memory touched ahead of its use, by a thread of its own while the
 * caller's thread works on (a virtual machine's first touch of a page is
 * what costs; a core is often idle while a big archive's directory is
 * read): the part past the first huge page of an array that
 * ps_big_calloc(n, size) returned at map, and, when ps_big_heap() has run,
 * the next heap bytes that malloc() will hand out.  Best effort; join
 * before freeing map.
 */
struct ps_big_warm {
	pthread_t thread;
	bool running;
	void *map;
	size_t map_len;
	size_t heap;
};

void ps_big_warm_start(struct ps_big_warm *w, void *map, size_t n,
    size_t size, size_t heap);
void ps_big_warm_join(struct ps_big_warm *w);

#endif
