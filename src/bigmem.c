#include "bigmem.h"

#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

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

/*
 * The heap in huge pages.  Reading a wheel's central directory and RECORD
 * fills tens of MB of fresh memory, and a first touch of a 4 KiB page costs
 * ~10 us in a virtual machine (5,000 of them were half the run on the bench
 * wheel); a 2 MiB page costs one fault.  So the main heap reserves its
 * address space up front (M_TOP_PAD: nothing is used until touched), is
 * asked for transparent huge pages (THP in "madvise" mode, the common
 * default), never shrinks (a shrunk and regrown heap would lose the advice),
 * and serves large blocks too instead of separate mappings.  Best effort:
 * where THP is off nothing changes.
 */
#define HEAP_RESERVE (64u << 20)

static bool heap_ready;

void
ps_big_heap(void)
{
	uintptr_t start, end;
	void *p;

	if (!BIG_MAPS || mallopt(M_MMAP_THRESHOLD, 32 << 20) == 0 ||
	    mallopt(M_TOP_PAD, HEAP_RESERVE) == 0 ||
	    mallopt(M_TRIM_THRESHOLD, INT_MAX) == 0 ||
	    mallopt(M_ARENA_MAX, 1) == 0)
		return;
	/* Big enough to grow the heap now, by the reserve. */
	if ((p = malloc(HUGE_PAGE)) == NULL)
		return;
	start = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
	end = (uintptr_t)sbrk(0) & ~(uintptr_t)(HUGE_PAGE - 1);
	if (end > start)
		(void)madvise((void *)start, end - start, MADV_HUGEPAGE);
	free(p);
	heap_ready = true;
}

static void
populate(void *p, size_t len)
{
	uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095;
	uintptr_t b = ((uintptr_t)p + len) & ~(uintptr_t)4095;

#ifdef MADV_POPULATE_WRITE
	/*
	 * A huge page at a time: populating holds the address space's lock,
	 * which the other threads' mmap() (a thread's stack, a mapped
	 * file) must wait for; a fresh huge page can take 4 ms to come.
	 */
	while (a < b) {
		uintptr_t next = (a + HUGE_PAGE) & ~(uintptr_t)(HUGE_PAGE - 1);

		if (next > b)
			next = b;
		if (madvise((void *)a, next - a, MADV_POPULATE_WRITE) < 0)
			break;
		a = next;
	}
#else
	(void)a;
	(void)b;
#endif
}

static void *
warm_main(void *arg)
{
	struct ps_big_warm *w = arg;

	/* Behind the threads whose work it prepares (see record_worker()). */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 5);
	if (w->map_len > 0)
		populate(w->map, w->map_len);
	/*
	 * Where malloc() will hand out the next bytes: the top of the heap,
	 * which ends at the break (ps_big_heap() made it one contiguous
	 * arena).  Populating it changes no byte in it and allocates
	 * nothing, so the threads it works for are not pushed elsewhere.
	 */
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
	if (w->heap > 0) {
		struct mallinfo2 mi = mallinfo2();
		uintptr_t brk = (uintptr_t)sbrk(0);

		if (mi.keepcost > 0 && mi.keepcost <= brk)
			populate((void *)(brk - mi.keepcost), mi.keepcost <
			    w->heap ? mi.keepcost : w->heap);
	}
#endif
	return NULL;
}

void
ps_big_warm_start(struct ps_big_warm *w, void *map, size_t n, size_t size,
    size_t heap)
{
	size_t len = mapped_len(n, size);

	w->running = false;
	w->map = NULL;
	w->map_len = 0;
	/* The first huge page is touched at once by the caller itself. */
	if (map != NULL && len > HUGE_PAGE) {
		w->map = (unsigned char *)map + HUGE_PAGE;
		w->map_len = len - HUGE_PAGE;
	}
	w->heap = heap_ready && heap < HEAP_RESERVE / 2 ? heap : 0;
	if (w->map_len == 0 && w->heap == 0)
		return;
	w->running = pthread_create(&w->thread, NULL, warm_main, w) == 0;
}

void
ps_big_warm_join(struct ps_big_warm *w)
{
	if (w->running)
		pthread_join(w->thread, NULL);
	w->running = false;
}
