#define _GNU_SOURCE
#include "zip.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <libdeflate.h>
#include <pthread.h>
#include <stdatomic.h>
#include <zlib.h>

#include "archive.h"
#include "atomic.h"
#include "bigmem.h"
#include "match.h"
#include "record.h"
#include "sha256.h"
#include "sha512.h"

/*
 * The shape of a zip file (APPNOTE.TXT 4.3.6), and what pycstrip makes of
 * it:
 *
 *   [prefix]                 kept as is (zipapp shebang, SFX stub)
 *   local header 1 + data 1  kept: copied raw; removed: skipped
 *   [data descriptor 1]      dropped; CRC and sizes go in the local header
 *   ...
 *   central directory        rewritten: kept entries, new offsets
 *   [zip64 end record]       written only when a field needs it
 *   [zip64 end locator]
 *   end record + comment     rewritten; the comment kept byte for byte
 *
 * Offsets inside the file are "absolute": a prefix that was glued on in
 * front of an archive whose offsets count from its own start (as
 * `cat stub x.zip` makes) is found from where the central directory really
 * is, as Info-ZIP and Python do, and the output's offsets count from the
 * start of the file.
 */

/* APPNOTE 4.3.7, 4.3.9, 4.3.12, 4.3.14-4.3.16: record signatures. */
#define SIG_LOCAL   0x04034b50u
#define SIG_DD      0x08074b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD64  0x06064b50u
#define SIG_LOC64   0x07064b50u
#define SIG_EOCD    0x06054b50u

#define LOCAL_LEN   30
#define CENTRAL_LEN 46
#define EOCD_LEN    22
#define EOCD64_LEN  56
#define LOC64_LEN   20
#define MAX_COMMENT 65535

/* APPNOTE 4.4.4: general purpose bit flags. */
#define FLAG_ENCRYPTED 0x0001u
#define FLAG_DEFLATE_OPTS 0x0006u
#define FLAG_DD        0x0008u
#define FLAG_STRONG    0x0040u
#define FLAG_MASKED    0x2000u

/* APPNOTE 4.5.3: the zip64 extended information extra field. */
#define EXTRA_ZIP64 0x0001u
#define U32_MAX 0xffffffffu
#define U16_MAX 0xffffu

#define METHOD_STORED  0
#define METHOD_DEFLATE 8

/*
 * The output buffer, where copy_checked() gathers runs of kept entries
 * (256 KiB took 27 ms on the bench wheel, 1 MiB 23 ms).  From the heap,
 * where it may reuse memory already touched: a fresh page is what costs
 * in a virtual machine.
 */
#define COPY_BUF (1u << 20)
/* z->scratch: a local header with the longest name and extra field, then
 * room for a rebuilt extra field (the old one plus a zip64 field). */
#define SCRATCH_X   (LOCAL_LEN + 2 * 65535 + 2)
#define SCRATCH_LEN (SCRATCH_X + 65535 + 64)
/*
 * The heap a wheel uses per member, touched ahead while its directory is
 * read: RECORD's text (a row is ~120 bytes), its parsed rows (64) and the
 * checks' arrays (40), and the entries' order (8).
 */
#define WHEEL_HEAP 232
/* A RECORD bigger than this is refused rather than read into memory. */
#define MAX_RECORD (256u << 20)

enum fate { KEEP = 0, REMOVE, DROP_SIGNATURE,
	LOOSE                     /* decide(): a lone .pyc, judged last */
};

/* One member; 72 bytes, as a big wheel has tens of thousands. */
struct entry {
	uint64_t offset;      /* local header, absolute */
	uint64_t csize, usize;
	uint64_t limit;       /* where the next entry or the directory starts */
	uint64_t new_offset;
	const char *name;     /* in z->cd, right after its central header;
	                       * not NUL-terminated */
	uint32_t name_len;
	uint32_t crc;
	uint32_t local_len;   /* name + extra of the local header (checked) */
	uint16_t flags, method;
	unsigned char fate;
	unsigned char dd_len; /* length of the data descriptor, or 0 */
	bool is_dir;
	bool is_link;         /* made on Unix with S_IFLNK in its attributes */
	bool dir_like;        /* the name ends in '/' or '\' (dir_like()) */
	bool checked;
};

/* Where a checked entry's compressed data starts. */
static uint64_t
data_of(const struct entry *e)
{
	return e->offset + LOCAL_LEN + e->local_len;
}

/* Where a checked entry ends: after its data and data descriptor. */
static uint64_t
end_of(const struct entry *e)
{
	return data_of(e) + e->csize + e->dd_len;
}

/* The entry's central directory header. */
static const unsigned char *
central_of(const struct entry *e)
{
	return (const unsigned char *)e->name - CENTRAL_LEN;
}

struct ps_zip {
	int fd;
	uint64_t size;
	uint64_t eocd;           /* end record */
	uint64_t cd_start, cd_size;
	bool zip64;
	uint64_t prefix;         /* bytes before the first local header */
	const unsigned char *cd; /* the central directory */
	unsigned char *cd_buf;   /* cd when read into memory, or NULL */
	void *cd_map;            /* cd's pages when mapped, or NULL */
	size_t cd_map_len;
	unsigned char comment[MAX_COMMENT];
	uint16_t comment_len;
	struct entry *e;         /* ps_big_calloc(e_n, ...) */
	size_t e_n;
	size_t n;
	size_t *order;           /* entry indices by offset (n + 1) */
	char *namebuf;           /* one name and a NUL, for match.h */
	uint32_t *table;         /* by name without "./": index + 1 */
	size_t table_cap;
	pthread_t index_thread;  /* building table, while index_running */
	bool index_running;
	struct ps_big_warm warm; /* touching e and the heap ahead */
	int index_rc;            /* index_names()'s status, its error: */
	struct ps_error index_err;
	unsigned char *scratch;  /* LOCAL_LEN + 2 * 65535 */
};

/* ------------------------------------------------------------------ */
/* little endian fields */

static uint16_t
get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t
get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static uint64_t
get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static void
put16(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void
put32(unsigned char *p, uint32_t v)
{
	put16(p, v & 0xffff);
	put16(p + 2, v >> 16);
}

static void
put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* ------------------------------------------------------------------ */
/* messages */

#define NAMEBUF 256
#define NAME(e, buf) \
	ps_error_shown((e)->name, (e)->name_len, (buf), sizeof (buf))

/* ------------------------------------------------------------------ */
/* reading */

/*
 * Reads exactly n bytes at off.  Returns 0, or -1 with err set: a short
 * read means the file ended (or shrank) early.
 */
static int
read_at(int fd, void *buf, size_t n, uint64_t off, struct ps_error *err)
{
	unsigned char *p = buf;

	while (n > 0) {
		ssize_t r = pread(fd, p, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return ps_error_sys(err, errno, "cannot read");
		if (r == 0)
			return ps_error_input(err, "zip: file truncated");
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

/*
 * Finds the end record (APPNOTE 4.3.16) in the last 64 KiB + 22 bytes.
 * The good one ends the file exactly: its comment length reaches the last
 * byte.  Returns 1 with *pos set, 0 when there is no end record at all,
 * -1 with err set for an end record that does not end the file or is
 * ambiguous.
 */
static int
find_eocd(int fd, uint64_t size, uint64_t *pos, struct ps_error *err)
{
	size_t tail = size < MAX_COMMENT + EOCD_LEN ? (size_t)size :
	    MAX_COMMENT + EOCD_LEN;
	unsigned char *buf;
	size_t i, exact = 0, n_exact = 0, loose = SIZE_MAX;
	int rc = -1;

	if (size < EOCD_LEN)
		return 0;
	buf = malloc(tail);
	if (buf == NULL)
		return ps_error_nomem(err);
	if (read_at(fd, buf, tail, size - tail, err) < 0)
		goto out;
	for (i = tail - EOCD_LEN + 1; i-- > 0;) {
		if (get32(buf + i) != SIG_EOCD)
			continue;
		if (i + EOCD_LEN + get16(buf + i + 20) == tail) {
			if (n_exact++ == 0)
				exact = i;
		} else if (loose == SIZE_MAX) {
			loose = i;
		}
	}
	if (n_exact == 1) {
		*pos = size - tail + exact;
		rc = 1;
	} else if (n_exact > 1) {
		rc = ps_error_input(err,
		    "zip: the archive comment holds another end record");
	} else if (loose != SIZE_MAX) {
		uint64_t end = loose + EOCD_LEN + get16(buf + loose + 20);

		if (end > tail)
			rc = ps_error_input(err,
			    "zip: archive comment runs past the end of the file");
		else
			rc = ps_error_input(err,
			    "zip: %llu bytes after the end record",
			    (unsigned long long)(tail - end));
	} else {
		rc = 0;
	}
out:
	free(buf);
	return rc;
}

/*
 * Whether the first bytes are those of a tar or a compressed stream: 1, 0,
 * or -1 with err set when they cannot be read.
 */
static int
looks_like_other(int fd, uint64_t size, struct ps_error *err)
{
	unsigned char h[512];
	size_t n = size < sizeof h ? (size_t)size : sizeof h;

	if (n < 6)
		return 0;
	if (read_at(fd, h, n, 0, err) < 0)
		return -1;
	if (h[0] == 0x1f && h[1] == 0x8b)
		return 1;  /* gzip */
	if (memcmp(h, "BZh", 3) == 0)
		return 1;
	if (memcmp(h, "\xfd" "7zXZ\0", 6) == 0)
		return 1;
	if (memcmp(h, "\x28\xb5\x2f\xfd", 4) == 0)
		return 1;  /* zstd */
	if (n >= 262 && memcmp(h + 257, "ustar", 5) == 0)
		return 1;
	return 0;
}

int
ps_zip_probe(int fd, off_t size, struct ps_error *err)
{
	struct ps_error probe;
	unsigned char head[4];
	uint64_t pos;
	int r;

	/* A file that starts with a local header is a zip, however damaged
	 * its end (a download cut short): its refusal should say so. */
	if (size >= 4) {
		if (read_at(fd, head, 4, 0, err) < 0)
			return err->kind == PS_ERR_INPUT ? 0 : -1;
		if (get32(head) == SIG_LOCAL)
			return 1;
	}
	if (size < EOCD_LEN)
		return 0;
	r = find_eocd(fd, (uint64_t)size, &pos, &probe);
	if (r > 0)
		return 1;
	if (r < 0 && probe.kind != PS_ERR_INPUT) {
		*err = probe;
		return -1;
	}
	if (r == 0)
		return 0;
	/*
	 * An end record that does not end the file: a damaged zip, unless the
	 * file is a tar (or a compressed stream) that merely holds a zip near
	 * its end.
	 */
	r = looks_like_other(fd, (uint64_t)size, err);
	if (r < 0)
		return err->kind == PS_ERR_INPUT ? 0 : -1;
	return !r;
}

bool
ps_zip_detect(int fd, off_t size)
{
	struct ps_error err;

	/* On a read error, say yes: ps_zip_run() then reports it. */
	return ps_zip_probe(fd, size, &err) != 0;
}

/*
 * Walks the extra field at p (len bytes).  Returns 0, or -1 when it is
 * malformed or holds two zip64 fields.  *z64 / *z64_len: the zip64 field's
 * data, or NULL.
 */
static int
scan_extra(const unsigned char *p, size_t len, const unsigned char **z64,
    size_t *z64_len)
{
	size_t i = 0;

	*z64 = NULL;
	*z64_len = 0;
	while (i < len) {
		uint16_t id, sz;

		if (len - i < 4)
			return -1;
		id = get16(p + i);
		sz = get16(p + i + 2);
		if (sz > len - i - 4)
			return -1;
		if (id == EXTRA_ZIP64) {
			if (*z64 != NULL)
				return -1;
			*z64 = p + i + 4;
			*z64_len = sz;
		}
		i += 4 + (size_t)sz;
	}
	return 0;
}

/*
 * The name of e without its leading "./" (and the '/' after it), as
 * ps_match_strip_dot() does for NUL-terminated names.  Sets *len.
 */
static const char *
key_of(const struct entry *e, size_t *len)
{
	const char *k = e->name;
	size_t n = e->name_len;

	while (n >= 2 && k[0] == '.' && k[1] == '/') {
		k += 2;
		n -= 2;
		while (n > 0 && *k == '/') {
			k++;
			n--;
		}
	}
	*len = n;
	return k;
}

/* A NUL-terminated copy of e's name in z->namebuf, for match.h. */
static const char *
c_name(struct ps_zip *z, const struct entry *e)
{
	memcpy(z->namebuf, e->name, e->name_len);
	z->namebuf[e->name_len] = '\0';
	return z->namebuf;
}

static uint64_t
hash_name(const char *k, size_t len)
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

/* The entry whose name without "./" is key (a file, unless dirs), or -1. */
static ssize_t
lookup(const struct ps_zip *z, const char *key, size_t len, bool dirs)
{
	size_t s = (size_t)hash_name(key, len) & (z->table_cap - 1);

	for (; z->table[s] != 0; s = (s + 1) & (z->table_cap - 1)) {
		const struct entry *e = &z->e[z->table[s] - 1];
		size_t klen;
		const char *k = key_of(e, &klen);

		if (klen == len && memcmp(k, key, len) == 0 &&
		    (dirs || !e->is_dir))
			return (ssize_t)(z->table[s] - 1);
	}
	return -1;
}

static int
index_names(struct ps_zip *z, struct ps_error *err)
{
	size_t cap = 64, i;
	char buf[NAMEBUF];

	/* 32-bit slots: half the memory of size_t ones, and faster. */
	if (z->n >= UINT32_MAX / 2)
		return ps_error_input(err, "zip: too many entries (%zu)", z->n);
	while (cap < z->n * 2 + 2)
		cap *= 2;
	z->table = ps_big_calloc(cap, sizeof *z->table);
	if (z->table == NULL)
		return ps_error_nomem(err);
	z->table_cap = cap;
	for (i = 0; i < z->n; i++) {
		const struct entry *e = &z->e[i];
		size_t klen;
		const char *k = key_of(e, &klen);
		size_t s = (size_t)hash_name(k, klen) & (cap - 1);

		for (; z->table[s] != 0; s = (s + 1) & (cap - 1)) {
			const struct entry *o = &z->e[z->table[s] - 1];

			if (o->name_len == e->name_len &&
			    memcmp(o->name, e->name, e->name_len) == 0)
				return ps_error_input(err,
				    "zip: duplicate name %s", NAME(e, buf));
		}
		z->table[s] = (uint32_t)(i + 1);
	}
	return 0;
}

static void *
index_main(void *arg)
{
	struct ps_zip *z = arg;

	z->index_rc = index_names(z, &z->index_err);
	return NULL;
}

/*
 * Waits for the name index, which is built in a thread of its own while
 * the entries are sorted and matched (7 ms for 51,000 names: a third of
 * opening a big wheel).  Returns 0, or -1 with its error (a duplicate
 * name, no memory) in err.
 */
static int
index_wait(struct ps_zip *z, struct ps_error *err)
{
	if (z->index_running) {
		pthread_join(z->index_thread, NULL);
		z->index_running = false;
	}
	if (z->index_rc < 0) {
		*err = z->index_err;
		return -1;
	}
	return 0;
}

struct by_offset {
	uint64_t offset;
	size_t index;
};

static int
cmp_offset(const void *a, const void *b)
{
	const struct by_offset *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Sorts the entries by offset, refuses two at one offset, sets limits. */
static int
sort_entries(struct ps_zip *z, struct ps_error *err)
{
	struct by_offset *v = NULL;
	size_t i, k;
	char b1[NAMEBUF], b2[NAMEBUF];
	int rc = -1;

	z->order = ps_big_calloc(z->n + 1, sizeof *z->order);
	if (z->order == NULL) {
		ps_error_nomem(err);
		goto out;
	}
	/*
	 * Writers put the directory in file order: then the order is the
	 * identity, and no sorting array is touched (fresh memory is what
	 * costs in a virtual machine: 800 KB for a wheel of 51,000 members).
	 */
	for (i = 1; i < z->n && z->e[i - 1].offset < z->e[i].offset; i++)
		;
	if (i < z->n) {
		v = ps_big_calloc(z->n + 1, sizeof *v);
		if (v == NULL) {
			ps_error_nomem(err);
			goto out;
		}
		for (i = 0; i < z->n; i++) {
			v[i].offset = z->e[i].offset;
			v[i].index = i;
		}
		qsort(v, z->n, sizeof *v, cmp_offset);
		for (i = 0; i < z->n; i++)
			z->order[i] = v[i].index;
	} else {
		for (i = 0; i < z->n; i++)
			z->order[i] = i;
	}
	for (k = 0; k < z->n; k++) {
		struct entry *e = &z->e[z->order[k]];

		e->limit = k + 1 < z->n ? z->e[z->order[k + 1]].offset :
		    z->cd_start;
		if (e->limit - e->offset >= LOCAL_LEN + (uint64_t)e->name_len)
			continue;
		if (k + 1 < z->n)
			ps_error_input(err, "zip: entries %s and %s overlap",
			    NAME(e, b1), NAME(&z->e[z->order[k + 1]], b2));
		else
			ps_error_input(err, "zip: entry %s runs into the central "
			    "directory", NAME(e, b1));
		goto out;
	}
	z->prefix = z->n > 0 ? z->e[z->order[0]].offset : z->cd_start;
	rc = 0;
out:
	ps_big_free(v, z->n + 1, sizeof *v);
	return rc;
}

/*
 * Maps n bytes of fd at off rather than reading them: the central
 * directory and RECORD's compressed bytes are used where they lie in the
 * page cache, with no copy into fresh memory (5 MB and 5 ms less for a
 * wheel of 51,000 members).  Returns where they start, *map and *map_len
 * set for munmap(), or NULL when they cannot be mapped; then they are
 * read.  A file cut short by another program meanwhile raises SIGBUS,
 * which main() turns into a failed target.  (Local headers are still
 * read with pread: a fault on a mapped one maps its neighbours too, and
 * unmapping them all costs more than the reads.)
 */
static const unsigned char *
map_range(int fd, uint64_t off, uint64_t n, void **map, size_t *map_len)
{
	uint64_t at = off & ~((uint64_t)sysconf(_SC_PAGESIZE) - 1);
	uint64_t len = off + n - at;
	void *m;

	if (n == 0 || len > SIZE_MAX)
		return NULL;
	m = mmap(NULL, (size_t)len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd,
	    (off_t)at);
	if (m == MAP_FAILED)
		return NULL;
	*map = m;
	*map_len = (size_t)len;
	return (const unsigned char *)m + (off - at);
}

static int
map_central(struct ps_zip *z)
{
	z->cd = map_range(z->fd, z->cd_start, z->cd_size, &z->cd_map,
	    &z->cd_map_len);
	return z->cd != NULL ? 0 : -1;
}

/*
 * Reads and checks the central directory (APPNOTE 4.3.12), touching
 * warm_heap heap bytes per entry ahead of their use meanwhile.
 */
static int
read_central(struct ps_zip *z, uint64_t count, uint64_t delta,
    size_t warm_heap, struct ps_error *err)
{
	size_t off = 0, i;

	if (z->cd_size / CENTRAL_LEN < count)
		return ps_error_input(err,
		    "zip: central directory too small for %llu entries",
		    (unsigned long long)count);
	if (map_central(z) < 0) {
		z->cd = z->cd_buf = malloc(z->cd_size ? (size_t)z->cd_size : 1);
		if (z->cd_buf == NULL)
			return ps_error_nomem(err);
		if (read_at(z->fd, z->cd_buf, (size_t)z->cd_size,
		    z->cd_start, err) < 0)
			return -1;
	}
	z->e = ps_big_calloc(count ? (size_t)count : 1, sizeof *z->e);
	if (z->e == NULL)
		return ps_error_nomem(err);
	z->e_n = count ? (size_t)count : 1;
	/* After the mapping: populating would hold mmap() up. */
	ps_big_warm_start(&z->warm, z->e, z->e_n, sizeof *z->e,
	    warm_heap * z->e_n);
	z->n = (size_t)count;
	for (i = 0; i < z->n; i++) {
		struct entry *e = &z->e[i];
		const unsigned char *p = z->cd + off;
		const unsigned char *z64;
		size_t nlen, xlen, clen, z64_len, k = 0;
		uint64_t offset;
		uint32_t disk;

		if (z->cd_size - off < CENTRAL_LEN || get32(p) != SIG_CENTRAL)
			return ps_error_input(err,
			    "zip: central directory entry %zu is damaged", i + 1);
		nlen = get16(p + 28);
		xlen = get16(p + 30);
		clen = get16(p + 32);
		if (z->cd_size - off - CENTRAL_LEN < nlen + xlen + clen)
			return ps_error_input(err,
			    "zip: central directory entry %zu runs past the "
			    "directory", i + 1);
		e->name = (const char *)p + CENTRAL_LEN;
		e->flags = get16(p + 8);
		e->method = get16(p + 10);
		e->crc = get32(p + 16);
		e->csize = get32(p + 20);
		e->usize = get32(p + 24);
		e->name_len = (uint32_t)nlen;
		disk = get16(p + 34);
		offset = get32(p + 42);
		if (memchr(p + CENTRAL_LEN, '\0', nlen) != NULL)
			return ps_error_input(err,
			    "zip: central directory entry %zu has a NUL byte "
			    "in its name", i + 1);
		if (e->flags & FLAG_MASKED)
			return ps_error_input(err,
			    "zip: encrypted central directory not supported");
		if (scan_extra(p + CENTRAL_LEN + nlen, xlen, &z64, &z64_len) < 0)
			return ps_error_input(err,
			    "zip: central directory entry %zu has a malformed "
			    "extra field", i + 1);
		/* APPNOTE 4.5.3: only the fields that overflowed, in order. */
		if (e->usize == U32_MAX) {
			if (z64_len < k + 8)
				goto no_z64;
			e->usize = get64(z64 + k);
			k += 8;
		}
		if (e->csize == U32_MAX) {
			if (z64_len < k + 8)
				goto no_z64;
			e->csize = get64(z64 + k);
			k += 8;
		}
		if (offset == U32_MAX) {
			if (z64_len < k + 8)
				goto no_z64;
			offset = get64(z64 + k);
			k += 8;
		}
		if (disk == U16_MAX) {
			if (z64_len < k + 4)
				goto no_z64;
			disk = get32(z64 + k);
		}
		if (disk != 0)
			return ps_error_input(err,
			    "zip: multi-disk archives are not supported");
		if (offset > z->cd_start - delta)
			return ps_error_input(err,
			    "zip: central directory entry %zu points past the "
			    "directory", i + 1);
		e->offset = offset + delta;
		e->is_dir = nlen > 0 && p[CENTRAL_LEN + nlen - 1] == '/';
		/* APPNOTE 4.4.2/4.4.15: host 3 (Unix) keeps st_mode up top. */
		e->is_link = p[5] == 3 &&
		    ((get32(p + 38) >> 16) & 0170000) == 0120000;
		e->dir_like = e->is_dir ||
		    (nlen > 0 && p[CENTRAL_LEN + nlen - 1] == '\\');
		off += CENTRAL_LEN + nlen + xlen + clen;
		continue;
no_z64:
		return ps_error_input(err,
		    "zip: central directory entry %zu lacks its zip64 field",
		    i + 1);
	}
	if (off != z->cd_size)
		return ps_error_input(err,
		    "zip: central directory holds %llu bytes more than its "
		    "%zu entries", (unsigned long long)(z->cd_size - off), z->n);
	return 0;
}

/*
 * ps_zip_open(), leaving the name index to be waited for when !wait, and
 * touching warm_heap heap bytes per entry ahead of their use.
 */
static int
zip_open(struct ps_zip **zp, int fd, uint64_t size, bool wait,
    size_t warm_heap, struct ps_error *err)
{
	struct ps_zip *z = calloc(1, sizeof *z);
	unsigned char r[EOCD64_LEN];
	uint64_t count, cd_off, cd_end, delta, loc64_off = 0;
	int found;

	*zp = NULL;
	if (z == NULL)
		return ps_error_nomem(err);
	z->fd = fd;
	z->size = size;
	found = find_eocd(fd, size, &z->eocd, err);
	if (found <= 0) {
		if (found == 0)
			ps_error_input(err, "zip: no end of central directory "
			    "record (truncated?)");
		goto fail;
	}
	if (read_at(fd, r, EOCD_LEN, z->eocd, err) < 0)
		goto fail;
	count = get16(r + 10);
	z->cd_size = get32(r + 12);
	cd_off = get32(r + 16);
	z->comment_len = get16(r + 20);
	if (get16(r + 8) != get16(r + 10) ||
	    (get16(r + 4) != 0 && get16(r + 4) != U16_MAX) ||
	    (get16(r + 6) != 0 && get16(r + 6) != U16_MAX)) {
		ps_error_input(err, "zip: multi-disk archives are not supported");
		goto fail;
	}
	if (read_at(fd, z->comment, z->comment_len, z->eocd + EOCD_LEN,
	    err) < 0)
		goto fail;
	cd_end = z->eocd;
	/* APPNOTE 4.3.15: a zip64 locator just before the end record. */
	if (z->eocd >= LOC64_LEN + EOCD64_LEN) {
		if (read_at(fd, r, LOC64_LEN, z->eocd - LOC64_LEN, err) < 0)
			goto fail;
		if (get32(r) == SIG_LOC64) {
			z->zip64 = true;
			loc64_off = get64(r + 8);
			if (get32(r + 4) != 0 || get32(r + 16) > 1) {
				ps_error_input(err, "zip: multi-disk archives "
				    "are not supported");
				goto fail;
			}
		}
	}
	if (z->zip64) {
		uint64_t c64, s64, o64;

		cd_end = z->eocd - LOC64_LEN - EOCD64_LEN;
		if (read_at(fd, r, EOCD64_LEN, cd_end, err) < 0)
			goto fail;
		if (get32(r) != SIG_EOCD64) {
			ps_error_input(err, "zip: zip64 end record missing");
			goto fail;
		}
		if (get64(r + 4) != EOCD64_LEN - 12) {
			ps_error_input(err, "zip: zip64 end record with "
			    "extensible data not supported");
			goto fail;
		}
		c64 = get64(r + 32);
		s64 = get64(r + 40);
		o64 = get64(r + 48);
		if (get32(r + 16) != 0 || get32(r + 20) != 0 ||
		    get64(r + 24) != c64) {
			ps_error_input(err, "zip: multi-disk archives are not "
			    "supported");
			goto fail;
		}
		/* The 16- and 32-bit fields hold the value or all ones. */
		if ((count != U16_MAX && count != c64) ||
		    (z->cd_size != U32_MAX && z->cd_size != s64) ||
		    (cd_off != U32_MAX && cd_off != o64)) {
			ps_error_input(err, "zip: end record and zip64 end "
			    "record disagree");
			goto fail;
		}
		count = c64;
		z->cd_size = s64;
		cd_off = o64;
	}
	/*
	 * Without zip64 records an all-ones size or offset cannot be read
	 * (an all-ones count can: Python writes 65,535 entries that way).
	 */
	if (!z->zip64 && (z->cd_size == U32_MAX || cd_off == U32_MAX)) {
		ps_error_input(err, "zip: zip64 end record missing");
		goto fail;
	}
	if (z->cd_size > cd_end || cd_off > cd_end - z->cd_size) {
		ps_error_input(err, "zip: central directory runs past the "
		    "end record");
		goto fail;
	}
	z->cd_start = cd_end - z->cd_size;
	delta = z->cd_start - cd_off;
	if (z->zip64 && loc64_off + delta != cd_end) {
		ps_error_input(err, "zip: zip64 locator points to the wrong "
		    "place");
		goto fail;
	}
	if (read_central(z, count, delta, warm_heap, err) < 0)
		goto fail;
	z->index_running = pthread_create(&z->index_thread, NULL, index_main,
	    z) == 0;
	if (!z->index_running)
		z->index_rc = index_names(z, &z->index_err);
	/* A duplicate name is reported before overlapping entries. */
	if (sort_entries(z, err) < 0) {
		(void)index_wait(z, err);
		goto fail;
	}
	if (wait && index_wait(z, err) < 0)
		goto fail;
	z->scratch = malloc(SCRATCH_LEN);
	z->namebuf = malloc(65536);
	if (z->scratch == NULL || z->namebuf == NULL) {
		ps_error_nomem(err);
		goto fail;
	}
	*zp = z;
	return 0;
fail:
	ps_zip_free(z);
	return -1;
}

int
ps_zip_open(struct ps_zip **zp, int fd, uint64_t size, struct ps_error *err)
{
	return zip_open(zp, fd, size, true, 0, err);
}

void
ps_zip_free(struct ps_zip *z)
{
	if (z == NULL)
		return;
	if (z->index_running)
		pthread_join(z->index_thread, NULL);
	ps_big_warm_join(&z->warm);
	if (z->cd_map != NULL)
		munmap(z->cd_map, z->cd_map_len);
	free(z->cd_buf);
	ps_big_free(z->e, z->e_n, sizeof *z->e);
	ps_big_free(z->order, z->n + 1, sizeof *z->order);
	free(z->namebuf);
	ps_big_free(z->table, z->table_cap, sizeof *z->table);
	free(z->scratch);
	free(z);
}

size_t
ps_zip_count(const struct ps_zip *z)
{
	return z->n;
}

const char *
ps_zip_name(const struct ps_zip *z, size_t i, size_t *len)
{
	*len = z->e[i].name_len;
	return z->e[i].name;
}

uint64_t
ps_zip_prefix(const struct ps_zip *z)
{
	return z->prefix;
}

/*
 * Matches a data descriptor (APPNOTE 4.3.9) at p (avail bytes) against the
 * central values: with or without its signature, 4- or 8-byte sizes
 * (zip64 first when the local header has a zip64 field).  Returns its
 * length, or 0.
 */
static size_t
match_dd(const struct entry *e, const unsigned char *p, size_t avail,
    bool z64)
{
	struct shape { size_t sig, wide; };
	static const struct shape order64[] = {
		{ 4, 8 }, { 4, 4 }, { 0, 8 }, { 0, 4 },
	}, order32[] = {
		{ 4, 4 }, { 4, 8 }, { 0, 4 }, { 0, 8 },
	};
	const struct shape *o = z64 ? order64 : order32;
	size_t i;

	for (i = 0; i < 4; i++) {
		size_t s = o[i].sig, w = o[i].wide, len = s + 4 + 2 * w;
		uint64_t cs, us;

		if (len > avail || (s && get32(p) != SIG_DD))
			continue;
		cs = w == 8 ? get64(p + s + 4) : get32(p + s + 4);
		us = w == 8 ? get64(p + s + 4 + w) : get32(p + s + 4 + w);
		if (get32(p + s) == e->crc && cs == e->csize && us == e->usize)
			return len;
	}
	return 0;
}

/*
 * The length of e's local header (APPNOTE 4.3.7) whose first LOCAL_LEN
 * bytes are at h: name and extra field included, checked to fit in the
 * space before the next entry.  Returns 0 with err set when h holds no
 * local header or it does not fit.
 */
static size_t
header_len(const struct entry *e, const unsigned char *h,
    struct ps_error *err)
{
	size_t need;
	char buf[NAMEBUF];

	if (get32(h) != SIG_LOCAL) {
		ps_error_input(err, "zip: no local header for %s", NAME(e, buf));
		return 0;
	}
	need = LOCAL_LEN + (size_t)get16(h + 26) + get16(h + 28);
	if (need > e->limit - e->offset) {
		ps_error_input(err, "zip: local header of %s runs into the next "
		    "entry", NAME(e, buf));
		return 0;
	}
	return need;
}

/*
 * Checks e's whole local header, at h (its length known good from
 * header_len()), against the central directory: same name, method and
 * flags; same CRC and sizes unless a data descriptor follows (then the
 * descriptor must agree); data and descriptor within the space before
 * the next entry.
 */
static int
check_header(struct ps_zip *z, struct entry *e, const unsigned char *h,
    struct ps_error *err)
{
	size_t nlen = get16(h + 26), xlen = get16(h + 28), z64_len;
	const unsigned char *z64;
	uint64_t lcs, lus;
	char buf[NAMEBUF];

	if (nlen != e->name_len ||
	    memcmp(h + LOCAL_LEN, e->name, nlen) != 0)
		return ps_error_input(err, "zip: local and central names of %s "
		    "differ", NAME(e, buf));
	if (get16(h + 8) != e->method)
		return ps_error_input(err, "zip: local and central compression "
		    "methods of %s differ", NAME(e, buf));
	if (get16(h + 6) != e->flags)
		return ps_error_input(err, "zip: local and central flags of %s "
		    "differ", NAME(e, buf));
	if (scan_extra(h + LOCAL_LEN + nlen, xlen, &z64, &z64_len) < 0)
		return ps_error_input(err, "zip: local header of %s has a "
		    "malformed extra field", NAME(e, buf));
	e->local_len = (uint32_t)(nlen + xlen);
	e->dd_len = 0;
	if (e->csize > e->limit - data_of(e))
		return ps_error_input(err, "zip: data of %s runs past the next "
		    "entry", NAME(e, buf));
	if (!(e->flags & FLAG_DD)) {
		size_t k = 0;

		if (get32(h + 14) != e->crc)
			return ps_error_input(err, "zip: local and central CRC "
			    "of %s differ", NAME(e, buf));
		lcs = get32(h + 18);
		lus = get32(h + 22);
		if (lus == U32_MAX) {
			if (z64_len < k + 8)
				goto no_z64;
			lus = get64(z64 + k);
			k += 8;
		}
		if (lcs == U32_MAX) {
			if (z64_len < k + 8)
				goto no_z64;
			lcs = get64(z64 + k);
		}
		/* Readers that take both sizes from a full zip64 field
		 * (PyPI's checker does) must see the same values. */
		if (z64_len >= 16 && (get64(z64 + 8) != e->csize ||
		    (get32(h + 22) == U32_MAX && get64(z64) != e->usize)))
			goto sizes;
		if (lcs != e->csize || lus != e->usize)
			goto sizes;
	} else {
		unsigned char d[24];
		uint64_t left = e->limit - end_of(e);
		size_t got = left < sizeof d ? (size_t)left : sizeof d;
		size_t len;

		if (read_at(z->fd, d, got, end_of(e), err) < 0)
			return -1;
		len = match_dd(e, d, got, z64 != NULL);
		if (len == 0)
			return ps_error_input(err, "zip: data descriptor of %s "
			    "disagrees with the central directory",
			    NAME(e, buf));
		e->dd_len = (unsigned char)len;
	}
	e->checked = true;
	return 0;
no_z64:
	return ps_error_input(err, "zip: local header of %s lacks its zip64 "
	    "field", NAME(e, buf));
sizes:
	return ps_error_input(err, "zip: local and central sizes of %s differ",
	    NAME(e, buf));
}

/* How much of an entry's start to read for its local header at once. */
static size_t
header_want(const struct entry *e)
{
	uint64_t avail = e->limit - e->offset;
	size_t want = LOCAL_LEN + e->name_len + 128;

	return want > avail ? (size_t)avail : want;
}

/*
 * Reads entry i's local header into h (SCRATCH_X bytes) and checks it
 * (check_header()).
 */
static int
check_entry(struct ps_zip *z, size_t i, unsigned char *h,
    struct ps_error *err)
{
	struct entry *e = &z->e[i];
	size_t want = header_want(e), need;

	if (e->checked)
		return 0;
	if (read_at(z->fd, h, want, e->offset, err) < 0)
		return -1;
	need = header_len(e, h, err);
	if (need == 0)
		return -1;
	if (need > want && read_at(z->fd, h + want, need - want,
	    e->offset + want, err) < 0)
		return -1;
	return check_header(z, e, h, err);
}

int
ps_zip_check_entry(struct ps_zip *z, size_t i, struct ps_error *err)
{
	return check_entry(z, i, z->scratch, err);
}

/*
 * Checks every kept entry's local header in file order, as a strip does
 * while copying; -1 with err at the first bad one.
 */
static int
check_kept(struct ps_zip *z, struct ps_error *err)
{
	size_t k;

	for (k = 0; k < z->n; k++)
		if (z->e[z->order[k]].fate == KEEP &&
		    check_entry(z, z->order[k], z->scratch, err) < 0)
			return -1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* decompressing: RECORD, and every kept entry under --verify */

struct sink {
	unsigned char *buf;   /* collect here (RECORD), or NULL */
	size_t cap, len;
	struct ps_sha256 *sha; /* or NULL */
	struct ps_sha512 *sha5; /* SHA-512 or SHA-384, or NULL */
};

/*
 * Decompresses entry e (stored or deflated), feeding the bytes to s, and
 * checks its CRC-32 and size.  Returns 0, or -1 with err set.
 */
/* Passes n decompressed bytes on; -1 when more than the entry's size. */
static int
emit(struct sink *s, uint64_t *total, uLong *crc, uint64_t usize,
    const unsigned char *p, size_t n)
{
	if (n > usize - *total)
		return -1;
	*total += n;
	*crc = (uLong)libdeflate_crc32((uint32_t)*crc, p, n);
	if (s != NULL && s->sha != NULL)
		ps_sha256_update(s->sha, p, n);
	if (s != NULL && s->sha5 != NULL)
		ps_sha512_update(s->sha5, p, n);
	if (s != NULL && s->buf != NULL) {
		memcpy(s->buf + s->len, p, n);
		s->len += n;
	}
	return 0;
}

/* inflate_whole takes compressed entries up to this size. */
#define WHOLE_MAX (64u << 20)

/*
 * inflate_entry for a deflated entry wanted whole in memory (RECORD):
 * the compressed bytes read at once, then libdeflate in one call, about
 * twice zlib's speed.
 */
static int
inflate_whole(struct ps_zip *z, const struct entry *e, struct sink *s,
    struct ps_error *err)
{
	struct libdeflate_decompressor *d = NULL;
	void *map = NULL;
	size_t map_len = 0;
	/* Mapped as the central directory is; read when it cannot be. */
	const unsigned char *data = map_range(z->fd, data_of(e), e->csize,
	    &map, &map_len);
	unsigned char *in = NULL;
	size_t used = 0, got = 0;
	enum libdeflate_result r;
	char buf[NAMEBUF];
	int rc = -1;

	if (data == NULL) {
		in = malloc(e->csize ? (size_t)e->csize : 1);
		if (in == NULL) {
			ps_error_nomem(err);
			goto out;
		}
		if (read_at(z->fd, in, (size_t)e->csize, data_of(e), err) < 0)
			goto out;
		data = in;
	}
	if ((d = libdeflate_alloc_decompressor()) == NULL) {
		ps_error_nomem(err);
		goto out;
	}
	r = libdeflate_deflate_decompress_ex(d, data, (size_t)e->csize,
	    s->buf, (size_t)e->usize, &used, &got);
	if (r == LIBDEFLATE_INSUFFICIENT_SPACE ||
	    (r == LIBDEFLATE_SUCCESS && got != e->usize))
		ps_error_input(err, "zip: size of %s does not match",
		    NAME(e, buf));
	else if (r != LIBDEFLATE_SUCCESS || used != e->csize)
		ps_error_input(err, "zip: compressed data of %s is corrupt",
		    NAME(e, buf));
	else if (libdeflate_crc32(0, s->buf, got) != e->crc)
		ps_error_input(err, "zip: CRC-32 of %s does not match",
		    NAME(e, buf));
	else {
		s->len = got;
		rc = 0;
	}
out:
	if (d != NULL)
		libdeflate_free_decompressor(d);
	if (map != NULL)
		munmap(map, map_len);
	free(in);
	return rc;
}

/*
 * Decompresses entry e (stored or deflated), feeding the bytes to s (may
 * be NULL), and checks its CRC-32 and size.  Returns 0, or -1 with err set.
 */
static int
inflate_entry(struct ps_zip *z, const struct entry *e, struct sink *s,
    struct ps_error *err)
{
	enum { CHUNK = 1 << 18 };
	unsigned char *in = NULL, *out = NULL;
	z_stream zs;
	bool zinit = false;
	uint64_t pos = data_of(e), left = e->csize, total = 0;
	uLong crc = crc32(0, Z_NULL, 0);
	char buf[NAMEBUF];
	int rc = -1, zr = Z_OK;

	if (e->flags & (FLAG_ENCRYPTED | FLAG_STRONG))
		return ps_error_input(err, "zip: cannot check %s: it is "
		    "encrypted", NAME(e, buf));
	if (e->method != METHOD_STORED && e->method != METHOD_DEFLATE)
		return ps_error_input(err, "zip: cannot check %s: compression "
		    "method %u is not supported", NAME(e, buf), e->method);
	if (e->method == METHOD_DEFLATE && s != NULL && s->buf != NULL &&
	    s->sha == NULL && s->len == 0 && s->cap >= e->usize &&
	    e->csize <= WHOLE_MAX)
		return inflate_whole(z, e, s, err);
	in = malloc(CHUNK);
	out = malloc(CHUNK);
	if (in == NULL || out == NULL) {
		ps_error_nomem(err);
		goto out;
	}
	if (e->method == METHOD_STORED) {
		while (left > 0) {
			size_t n = left < CHUNK ? (size_t)left : CHUNK;

			if (read_at(z->fd, in, n, pos, err) < 0)
				goto out;
			pos += n;
			left -= n;
			if (emit(s, &total, &crc, e->usize, in, n) < 0)
				goto size;
		}
	} else {
		memset(&zs, 0, sizeof zs);
		if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
			ps_error_nomem(err);
			goto out;
		}
		zinit = true;
		while (zr != Z_STREAM_END) {
			if (zs.avail_in == 0) {
				size_t n = left < CHUNK ? (size_t)left : CHUNK;

				if (n == 0)
					goto corrupt;  /* stream never ends */
				if (read_at(z->fd, in, n, pos, err) < 0)
					goto out;
				pos += n;
				left -= n;
				zs.next_in = in;
				zs.avail_in = (uInt)n;
			}
			zs.next_out = out;
			zs.avail_out = CHUNK;
			zr = inflate(&zs, Z_NO_FLUSH);
			if (zr == Z_MEM_ERROR) {
				ps_error_nomem(err);
				goto out;
			}
			if (zr != Z_OK && zr != Z_STREAM_END)
				goto corrupt;
			if (emit(s, &total, &crc, e->usize, out,
			    CHUNK - zs.avail_out) < 0)
				goto size;
		}
		/* Compressed bytes after the end of the stream. */
		if (zs.avail_in != 0 || left != 0)
			goto corrupt;
	}
	if (total != e->usize)
		goto size;
	if ((uint32_t)crc != e->crc) {
		ps_error_input(err, "zip: CRC-32 of %s does not match",
		    NAME(e, buf));
		goto out;
	}
	rc = 0;
	goto out;
size:
	ps_error_input(err, "zip: size of %s does not match", NAME(e, buf));
	goto out;
corrupt:
	ps_error_input(err, "zip: compressed data of %s is corrupt",
	    NAME(e, buf));
out:
	if (zinit)
		inflateEnd(&zs);
	free(in);
	free(out);
	return rc;
}

/* ------------------------------------------------------------------ */
/* writing */

struct out {
	int fd;               /* -1: only count (dry run) */
	int in;
	uint64_t pos;
	unsigned char *buf;   /* COPY_BUF bytes */
	size_t fill;
	bool check;           /* check local headers while copying */
	struct ps_error *err;
};

/* Writes n bytes at p to the output (none when only counting). */
static int
write_all(struct out *o, const unsigned char *p, size_t n)
{
	size_t done = 0;

	while (o->fd >= 0 && done < n) {
		ssize_t w = write(o->fd, p + done, n - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return ps_error_sys(o->err, errno, "cannot write");
		done += (size_t)w;
	}
	return 0;
}

static int
out_flush(struct out *o)
{
	size_t n = o->fill;

	o->fill = 0;
	return write_all(o, o->buf, n);
}

static int
out_write(struct out *o, const void *p, size_t n)
{
	const unsigned char *c = p;

	o->pos += n;
	if (o->fd < 0)
		return 0;
	while (n > 0) {
		size_t k;

		if (o->fill == COPY_BUF && out_flush(o) < 0)
			return -1;
		k = COPY_BUF - o->fill < n ? COPY_BUF - o->fill : n;
		memcpy(o->buf + o->fill, c, k);
		o->fill += k;
		c += k;
		n -= k;
	}
	return 0;
}

/* Copies n bytes of the input at from, raw. */
static int
out_copy(struct out *o, uint64_t from, uint64_t n)
{
	bool cfr = true;

	o->pos += n;
	if (o->fd < 0 || n == 0)
		return 0;
	if (out_flush(o) < 0)
		return -1;
	while (n > 0) {
		ssize_t r;

		if (cfr) {
			off_t off = (off_t)from;
			size_t k = n < (1u << 30) ? (size_t)n : (1u << 30);

			r = copy_file_range(o->in, &off, o->fd, NULL, k, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0 && (errno == EXDEV || errno == ENOSYS ||
			    errno == EINVAL || errno == EOPNOTSUPP ||
			    errno == EBADF || errno == EPERM)) {
				cfr = false;
				continue;
			}
			if (r < 0)
				return ps_error_sys(o->err, errno,
				    "cannot copy");
		} else {
			size_t k = n < COPY_BUF ? (size_t)n : COPY_BUF;

			r = pread(o->in, o->buf, k, (off_t)from);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return ps_error_sys(o->err, errno,
				    "cannot read");
			if (r > 0) {
				o->fill = (size_t)r;
				if (out_flush(o) < 0)
					return -1;
			}
		}
		if (r == 0)
			return ps_error_input(o->err,
			    "zip: file shrank while being read");
		from += (uint64_t)r;
		n -= (uint64_t)r;
	}
	return 0;
}

/*
 * Reads the input on from *rend, behind what o's buffer holds, until
 * *rend reaches want: as much at a time as the buffer has room for, up
 * to hi, writing the buffer out when it is full (the input then in it
 * starts at *bufin).  Returns 0, or -1 with o->err set.
 */
static int
read_to(struct out *o, uint64_t *rend, uint64_t *bufin, uint64_t want,
    uint64_t hi)
{
	while (*rend < want) {
		size_t n;

		if (o->fill == COPY_BUF) {
			if (out_flush(o) < 0)
				return -1;
			*bufin = *rend;
		}
		n = hi - *rend < COPY_BUF - o->fill ? (size_t)(hi - *rend) :
		    COPY_BUF - o->fill;
		if (n == 0)
			return ps_error_input(o->err, "zip: entry runs past the "
			    "next one");
		if (read_at(o->in, o->buf + o->fill, n, *rend, o->err) < 0)
			return -1;
		o->fill += n;
		o->pos += n;
		*rend += n;
	}
	return 0;
}

/* Takes back what was read past end: bytes after an entry, not copied. */
static int
drop_tail(struct out *o, uint64_t *rend, uint64_t *bufin, uint64_t end)
{
	if (*rend < end || end < *bufin || *rend - end > o->fill)
		return ps_error_input(o->err, "zip: entries out of order");
	o->fill -= (size_t)(*rend - end);
	o->pos -= *rend - end;
	*rend = end;
	return 0;
}

/*
 * Copies the kept entries order[from, to), raw and in file order, none
 * of them checked yet, gathering them in o's buffer: entries that follow
 * each other in the input are read into it with one read as far as it
 * has room (5 runs of the bench wheel at a time, not one), it is written
 * when full (one write for a MiB of runs, not one per run), and each
 * local header is checked where it lies there (check_header(), as
 * check_entry() would; one that a write cut in two is read on its own).
 * The 13,000 kept headers of a big wheel thus cost no read of their own,
 * and its 1,275 runs 1,300 reads and 63 writes (pread + write per 256 KiB
 * window took 25-36 ms against 20-27 ms on the bench wheel).  Bytes
 * between entries are left out.  Returns 0, or -1 with o->err set, the
 * first failing entry in file order named.
 */
static int
copy_checked(struct out *o, struct ps_zip *z, size_t from, size_t to)
{
	uint64_t hi = z->e[z->order[to - 1]].limit;
	uint64_t rend = 0;      /* the input is read up to here */
	uint64_t bufin = 0;     /* input [bufin, rend) ends o's buffer */
	uint64_t expect = 0;    /* where the last entry ended */
	size_t k;

	for (k = from; k < to; k++) {
		size_t i = z->order[k], need;
		struct entry *e = &z->e[i];

		if (k == from || e->offset != expect) {
			/* The first entry, or bytes between two. */
			if (k > from && (read_to(o, &rend, &bufin, expect, hi) < 0 ||
			    drop_tail(o, &rend, &bufin, expect) < 0))
				return -1;
			rend = bufin = e->offset;
		}
		if (read_to(o, &rend, &bufin, e->offset + header_want(e),
		    hi) < 0)
			return -1;
		if (!e->checked && e->offset >= bufin) {
			const unsigned char *h =
			    o->buf + o->fill - (rend - e->offset);

			need = header_len(e, h, o->err);
			if (need == 0)
				return -1;
			if (need <= rend - e->offset ?
			    check_header(z, e, h, o->err) < 0 :
			    check_entry(z, i, z->scratch, o->err) < 0)
				return -1;
		} else if (check_entry(z, i, z->scratch, o->err) < 0) {
			return -1;
		}
		e->new_offset = o->pos - (rend - e->offset);
		expect = end_of(e);
	}
	if (read_to(o, &rend, &bufin, expect, hi) < 0)
		return -1;
	return drop_tail(o, &rend, &bufin, expect);
}

/*
 * Copies the extra field at p (len bytes) to out without its zip64 field,
 * then appends a zip64 field holding the n values in v (when n > 0): at
 * the old one's place, or at the end.  Returns the new length.
 */
static size_t
rebuild_extra(const unsigned char *p, size_t len, const uint64_t *v,
    size_t n, unsigned char *out)
{
	size_t i = 0, o = 0, k;
	bool placed = n == 0;

	while (i + 4 <= len) {
		uint16_t id = get16(p + i), sz = get16(p + i + 2);

		if (id == EXTRA_ZIP64) {
			if (!placed) {
				put16(out + o, EXTRA_ZIP64);
				put16(out + o + 2, (uint32_t)(8 * n));
				for (k = 0; k < n; k++)
					put64(out + o + 4 + 8 * k, v[k]);
				o += 4 + 8 * n;
				placed = true;
			}
		} else {
			memcpy(out + o, p + i, 4 + (size_t)sz);
			o += 4 + (size_t)sz;
		}
		i += 4 + (size_t)sz;
	}
	if (!placed) {
		put16(out + o, EXTRA_ZIP64);
		put16(out + o + 2, (uint32_t)(8 * n));
		for (k = 0; k < n; k++)
			put64(out + o + 4 + 8 * k, v[k]);
		o += 4 + 8 * n;
	}
	return o;
}

/* The replacement RECORD member of a wheel. */
struct new_record {
	size_t index;           /* entry, or SIZE_MAX when none */
	unsigned char *data;    /* compressed */
	uint64_t csize, usize;
	uint32_t crc;
	uint16_t method, flags;
};

/*
 * Whether e gets a new local header with its CRC and sizes in place of its
 * data descriptor.  Not when it is encrypted: traditional encryption then
 * checks the password against the time instead of the CRC, so bit 3 and
 * the descriptor stay (PyPI takes no encrypted archives anyway).
 */
static bool
rebuilt(const struct entry *e)
{
	return (e->flags & (FLAG_DD | FLAG_ENCRYPTED)) == FLAG_DD;
}

/* Version needed to extract, raised to at least v. */
static uint16_t
at_least(uint16_t needed, uint16_t v)
{
	return (uint16_t)((needed & 0xff) < v ? (needed & 0xff00) | v : needed);
}

/*
 * Writes a fresh local header for e: the original's fields and extras
 * (read again from the input), flag bit 3 cleared, CRC and sizes filled
 * in, a zip64 field only when a size needs it.
 */
static int
write_local(struct out *o, struct ps_zip *z, const struct entry *e,
    uint16_t method, uint16_t flags, uint32_t crc, uint64_t csize,
    uint64_t usize)
{
	unsigned char *h = z->scratch;
	unsigned char hdr[LOCAL_LEN];
	unsigned char *x = h + SCRATCH_X;
	size_t xlen;
	uint64_t v[2];
	bool big = csize >= U32_MAX || usize >= U32_MAX;
	uint16_t needed;

	if (read_at(z->fd, h, LOCAL_LEN + (size_t)e->local_len, e->offset,
	    o->err) < 0)
		return -1;
	v[0] = usize;
	v[1] = csize;
	xlen = rebuild_extra(h + LOCAL_LEN + e->name_len,
	    get16(h + 28), v, big ? 2 : 0, x);
	if (xlen > U16_MAX)
		return ps_error_input(o->err, "zip: extra field too long");
	needed = get16(h + 4);
	if (big)
		needed = at_least(needed, 45);
	if (method == METHOD_DEFLATE)
		needed = at_least(needed, 20);
	memcpy(hdr, h, LOCAL_LEN);
	put16(hdr + 4, needed);
	put16(hdr + 6, flags);
	put16(hdr + 8, method);
	put32(hdr + 14, crc);
	put32(hdr + 18, big ? U32_MAX : (uint32_t)csize);
	put32(hdr + 22, big ? U32_MAX : (uint32_t)usize);
	put16(hdr + 28, (uint32_t)xlen);
	if (out_write(o, hdr, LOCAL_LEN) < 0 ||
	    out_write(o, e->name, e->name_len) < 0 ||
	    out_write(o, x, xlen) < 0)
		return -1;
	return 0;
}

/* Writes e's new central directory header (APPNOTE 4.3.12). */
static int
write_central(struct out *o, struct ps_zip *z, const struct entry *e,
    const struct new_record *nr, bool is_record)
{
	const unsigned char *p = central_of(e);
	unsigned char hdr[CENTRAL_LEN];
	unsigned char *x = z->scratch + SCRATCH_X;
	size_t nlen = get16(p + 28), xlen = get16(p + 30), clen = get16(p + 32);
	uint64_t csize = is_record ? nr->csize : e->csize;
	uint64_t usize = is_record ? nr->usize : e->usize;
	uint64_t v[3];
	size_t nv = 0, newx;
	uint16_t needed = get16(p + 6);

	if (usize >= U32_MAX)
		v[nv++] = usize;
	if (csize >= U32_MAX)
		v[nv++] = csize;
	if (e->new_offset >= U32_MAX)
		v[nv++] = e->new_offset;
	newx = rebuild_extra(p + CENTRAL_LEN + nlen, xlen, v, nv, x);
	if (newx > U16_MAX)
		return ps_error_input(o->err, "zip: extra field too long");
	if (nv > 0)
		needed = at_least(needed, 45);
	memcpy(hdr, p, CENTRAL_LEN);
	if (is_record) {
		put16(hdr + 8, nr->flags);
		put16(hdr + 10, nr->method);
		put32(hdr + 16, nr->crc);
		if (nr->method == METHOD_DEFLATE)
			needed = at_least(needed, 20);
	} else if (rebuilt(e)) {
		put16(hdr + 8, e->flags & ~FLAG_DD);
	}
	put16(hdr + 6, needed);
	put32(hdr + 20, csize >= U32_MAX ? U32_MAX : (uint32_t)csize);
	put32(hdr + 24, usize >= U32_MAX ? U32_MAX : (uint32_t)usize);
	put16(hdr + 30, (uint32_t)newx);
	put16(hdr + 34, 0);
	put32(hdr + 42, e->new_offset >= U32_MAX ? U32_MAX :
	    (uint32_t)e->new_offset);
	if (out_write(o, hdr, CENTRAL_LEN) < 0 ||
	    out_write(o, p + CENTRAL_LEN, nlen) < 0 ||
	    out_write(o, x, newx) < 0 ||
	    out_write(o, p + CENTRAL_LEN + nlen + xlen, clen) < 0)
		return -1;
	return 0;
}

/*
 * Writes the whole new archive to o (or, with o->fd < 0, sizes it).
 * before_record, when not NULL, is called on reaching the RECORD member:
 * it finishes *nr (built meanwhile by another thread).
 */
static int
write_archive(struct out *o, struct ps_zip *z, const struct new_record *nr,
    int (*before_record)(void *), void *ctx)
{
	uint64_t cd_start, cd_size, kept = 0;
	unsigned char r[EOCD64_LEN + LOC64_LEN + EOCD_LEN];
	size_t i, len = 0;

	if (out_copy(o, 0, z->prefix) < 0)
		return -1;
	for (i = 0; i < z->n;) {
		struct entry *e = &z->e[z->order[i]];
		uint64_t run_start, run_end;

		if (e->fate != KEEP) {
			i++;
			continue;
		}
		if (z->order[i] == nr->index) {
			if (before_record != NULL && before_record(ctx) < 0)
				return -1;
			e->new_offset = o->pos;
			if (write_local(o, z, e, nr->method, nr->flags, nr->crc,
			    nr->csize, nr->usize) < 0 ||
			    out_write(o, nr->data, (size_t)nr->csize) < 0)
				return -1;
			i++;
			continue;
		}
		if (rebuilt(e)) {
			if (o->check && check_entry(z, z->order[i], z->scratch,
			    o->err) < 0)
				return -1;
			e->new_offset = o->pos;
			if (write_local(o, z, e, e->method, e->flags & ~FLAG_DD,
			    e->crc, e->csize, e->usize) < 0 ||
			    out_copy(o, data_of(e), e->csize) < 0)
				return -1;
			i++;
			continue;
		}
		if (o->check) {
			/* A run of kept raw entries, unchecked yet. */
			size_t k = i;

			for (i++; i < z->n; i++) {
				struct entry *f = &z->e[z->order[i]];

				if (f->fate != KEEP || rebuilt(f) ||
				    z->order[i] == nr->index)
					break;
			}
			if (copy_checked(o, z, k, i) < 0)
				return -1;
			continue;
		}
		/* A run of kept raw entries, contiguous in the input. */
		run_start = e->offset;
		run_end = end_of(e);
		e->new_offset = o->pos;
		for (i++; i < z->n; i++) {
			struct entry *f = &z->e[z->order[i]];

			if (f->fate != KEEP || rebuilt(f) || z->order[i] == nr->index ||
			    f->offset != run_end)
				break;
			f->new_offset = o->pos + (f->offset - run_start);
			run_end = end_of(f);
		}
		if (out_copy(o, run_start, run_end - run_start) < 0)
			return -1;
	}
	cd_start = o->pos;
	for (i = 0; i < z->n; i++) {
		const struct entry *e = &z->e[i];

		if (e->fate != KEEP)
			continue;
		kept++;
		if (write_central(o, z, e, nr, i == nr->index) < 0)
			return -1;
	}
	cd_size = o->pos - cd_start;
	if (kept >= U16_MAX || cd_size >= U32_MAX || cd_start >= U32_MAX) {
		/* APPNOTE 4.3.14 and 4.3.15. */
		uint64_t at = o->pos;

		put32(r, SIG_EOCD64);
		put64(r + 4, EOCD64_LEN - 12);
		put16(r + 12, 45);   /* made by: APPNOTE 4.5 */
		put16(r + 14, 45);
		put32(r + 16, 0);
		put32(r + 20, 0);
		put64(r + 24, kept);
		put64(r + 32, kept);
		put64(r + 40, cd_size);
		put64(r + 48, cd_start);
		put32(r + 56, SIG_LOC64);
		put32(r + 60, 0);
		put64(r + 64, at);
		put32(r + 72, 1);
		len = EOCD64_LEN + LOC64_LEN;
	}
	put32(r + len, SIG_EOCD);
	put16(r + len + 4, 0);
	put16(r + len + 6, 0);
	put16(r + len + 8, kept >= U16_MAX ? U16_MAX : (uint32_t)kept);
	put16(r + len + 10, kept >= U16_MAX ? U16_MAX : (uint32_t)kept);
	put32(r + len + 12, cd_size >= U32_MAX ? U32_MAX : (uint32_t)cd_size);
	put32(r + len + 16, cd_start >= U32_MAX ? U32_MAX : (uint32_t)cd_start);
	put16(r + len + 20, z->comment_len);
	len += EOCD_LEN;
	if (out_write(o, r, len) < 0 ||
	    out_write(o, z->comment, z->comment_len) < 0)
		return -1;
	return out_flush(o);
}

/* ------------------------------------------------------------------ */
/* wheels */

struct wheel {
	size_t record;            /* entry of RECORD, or SIZE_MAX */
	const char *dir;          /* "<name>.dist-info" (into the name) */
	size_t dir_len;
	char *text;               /* RECORD's content */
	size_t text_len;
	struct ps_record rec;
	ssize_t *row_of;          /* each entry's RECORD row, or -1 */
	bool parsed;
};

static bool
ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* Whether e is "<x>.dist-info/RECORD" at the top level. */
static bool
is_top_record(const struct entry *e)
{
	const char *slash = memchr(e->name, '/', e->name_len);
	size_t dl;

	if (slash == NULL)
		return false;
	dl = (size_t)(slash - e->name);
	return dl > 10 && ends_with(e->name, dl, ".dist-info") &&
	    e->name_len == dl + 7 && memcmp(slash, "/RECORD", 7) == 0;
}

static bool
is_signature(const struct wheel *w, const struct entry *e)
{
	return w->record != SIZE_MAX && e->name_len == w->dir_len + 11 &&
	    memcmp(e->name, w->dir, w->dir_len) == 0 &&
	    (memcmp(e->name + w->dir_len, "/RECORD.jws", 11) == 0 ||
	    memcmp(e->name + w->dir_len, "/RECORD.p7s", 11) == 0);
}

/*
 * PyPI's view of a directory entry: a name ending in '/' or '\'.  Noted
 * while the directory is parsed: checking RECORD asks it of every entry,
 * twice, when the names are no longer in the cache.
 */
static bool
dir_like(const struct entry *e)
{
	return e->dir_like;
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/*
 * Chooses the wheel's RECORD: the one of "<name>-<version>.dist-info"
 * when the file is named like a wheel (PEP 427: name-version-...), else
 * the only top-level one.  Returns 0 (w->record SIZE_MAX when none), or
 * -1 with err set when a .whl has several and none matches its name.
 */
static int
find_record(const struct ps_zip *z, const char *path, bool whl,
    struct wheel *w, struct ps_error *err)
{
	const char *base = base_name(path);
	const char *d1 = strchr(base, '-');
	const char *d2 = d1 ? strchr(d1 + 1, '-') : NULL;
	size_t i, found = 0, match = SIZE_MAX, any = SIZE_MAX;

	w->record = SIZE_MAX;
	for (i = 0; i < z->n; i++) {
		const struct entry *e = &z->e[i];
		size_t dl;

		if (!is_top_record(e))
			continue;
		found++;
		any = i;
		dl = e->name_len - 7 - 10;
		if (whl && d2 != NULL && dl == (size_t)(d2 - base) &&
		    memcmp(e->name, base, dl) == 0)
			match = i;
	}
	if (match == SIZE_MAX && found == 1)
		match = any;
	if (match == SIZE_MAX && found > 1 && whl)
		return ps_error_input(err, "wheel: several .dist-info "
		    "directories and none matches the file name");
	if (match != SIZE_MAX) {
		w->record = match;
		w->dir = z->e[match].name;
		w->dir_len = z->e[match].name_len - 7;
	}
	return 0;
}

/*
 * Checks that rec lists exactly the archive's files (kept_only: those
 * kept), signatures and directories aside.  When row_of is not NULL, sets
 * row_of[i] to entry i's row (-1 for entries not checked).
 */
static int
check_record(const struct ps_zip *z, const struct wheel *w,
    struct ps_record *rec, bool kept_only, ssize_t *row_of,
    struct ps_error *err)
{
	const char **names = calloc(z->n + 1, sizeof *names);
	size_t *lens = calloc(z->n + 1, sizeof *lens);
	size_t *which = malloc((z->n + 1) * sizeof *which);
	ssize_t *rows = row_of != NULL ? malloc((z->n + 1) * sizeof *rows) :
	    NULL;
	size_t i, n = 0;
	int rc = -1;

	if (names == NULL || lens == NULL || which == NULL ||
	    (row_of != NULL && rows == NULL)) {
		ps_error_nomem(err);
		goto out;
	}
	for (i = 0; i < z->n; i++) {
		const struct entry *e = &z->e[i];

		if (row_of != NULL)
			row_of[i] = -1;
		if (dir_like(e) || is_signature(w, e) ||
		    (kept_only && e->fate != KEEP))
			continue;
		names[n] = e->name;
		lens[n] = e->name_len;
		which[n++] = i;
	}
	rc = ps_record_check(rec, names, lens, n, rows, err);
	for (i = 0; rc == 0 && row_of != NULL && i < n; i++)
		row_of[which[i]] = rows[i];
out:
	free(names);
	free(lens);
	free(which);
	free(rows);
	return rc;
}

/* Reads and parses RECORD; checks it lists exactly the archive's files. */
static int
load_record(struct ps_zip *z, struct wheel *w, struct ps_error *err)
{
	struct entry *e = &z->e[w->record];
	struct sink s = { 0 };
	char msg[sizeof err->msg];

	if (ps_zip_check_entry(z, w->record, err) < 0)
		return -1;
	if (e->usize > MAX_RECORD)
		return ps_error_input(err, "wheel: RECORD too large");
	s.cap = (size_t)e->usize;
	s.buf = malloc(s.cap + 1);
	if (s.buf == NULL)
		return ps_error_nomem(err);
	w->text = (char *)s.buf;
	if (inflate_entry(z, e, &s, err) < 0)
		return -1;
	w->text_len = s.len;
	if (ps_record_parse(&w->rec, w->text, w->text_len, err) < 0)
		return -1;
	w->parsed = true;
	w->row_of = malloc((z->n + 1) * sizeof *w->row_of);
	if (w->row_of == NULL)
		return ps_error_nomem(err);
	if (check_record(z, w, &w->rec, false, w->row_of, err) < 0) {
		if (err->kind != PS_ERR_INPUT)
			return -1;
		memcpy(msg, err->msg, sizeof msg);
		return ps_error_input(err, "wheel: RECORD does not match the "
		    "archive: %s", msg);
	}
	return 0;
}

static void
release_wheel(struct wheel *w)
{
	if (w->parsed)
		ps_record_release(&w->rec);
	free(w->row_of);
	free(w->text);
	memset(w, 0, sizeof *w);
	w->record = SIZE_MAX;
}

/*
 * Builds the new RECORD: drops the rows of removed files, compresses the
 * rest as the original was (stored stays stored; anything else is
 * deflated), and checks the result lists exactly the kept files.
 */
static int
build_record(struct ps_zip *z, struct wheel *w, struct new_record *nr,
    struct ps_error *err)
{
	const struct entry *re = &z->e[w->record];
	char *text = NULL;
	size_t len, i;
	int rc = -1;

	for (i = 0; i < z->n; i++)
		if (z->e[i].fate == REMOVE && w->row_of[i] >= 0)
			ps_record_drop_row(&w->rec, (size_t)w->row_of[i]);
	/*
	 * The rows left are the new RECORD's, whole lines each: they must
	 * list exactly the files kept (PyPI's check on upload).
	 */
	if (check_record(z, w, &w->rec, true, NULL, err) < 0)
		return -1;
	/* Over the old text: no fresh memory for a copy of most of it. */
	text = w->text;
	len = ps_record_render_into(&w->rec, text);
	ps_record_release(&w->rec);
	w->parsed = false;
	w->text = NULL;
	free(w->row_of);
	w->row_of = NULL;
	nr->usize = len;
	nr->crc = libdeflate_crc32(0, text, len);
	nr->flags = re->flags & ~(FLAG_DD | FLAG_DEFLATE_OPTS);
	if (re->method == METHOD_STORED) {
		nr->method = METHOD_STORED;
		nr->data = (unsigned char *)text;
		nr->csize = len;
		text = NULL;
	} else {
		/*
		 * RECORD rows are mostly base64 hashes, which hardly
		 * compress: past a megabyte libdeflate's fastest level costs
		 * about 2 % in size and saves half the time (it is within
		 * 0.3 % of zlib's level 6 and 4 % smaller than zlib's 1).
		 */
		struct libdeflate_compressor *c =
		    libdeflate_alloc_compressor(len > (1u << 20) ? 1 : 6);
		size_t bound;

		if (c == NULL) {
			ps_error_nomem(err);
			goto out;
		}
		bound = libdeflate_deflate_compress_bound(c, len);
		nr->data = malloc(bound);
		if (nr->data == NULL) {
			libdeflate_free_compressor(c);
			ps_error_nomem(err);
			goto out;
		}
		nr->csize = libdeflate_deflate_compress(c, text, len,
		    nr->data, bound);
		libdeflate_free_compressor(c);
		if (nr->csize == 0) {
			ps_error_input(err, "wheel: cannot compress RECORD");
			goto out;
		}
		nr->method = METHOD_DEFLATE;
	}
	rc = 0;
out:
	free(text);
	return rc;
}

/*
 * --verify for a wheel: each kept file's hash and size against its RECORD
 * row ("ALGO=urlsafe-b64", PEP 376 / the wheel spec): sha256, as every
 * build tool writes it, or the stronger sha384 and sha512.
 */
static int
verify_hash(struct ps_zip *z, const struct wheel *w, const struct entry *e,
    struct ps_error *err)
{
	const struct ps_record_row *row;
	struct ps_sha256 sha;
	struct ps_sha512 sha5;
	struct sink s = { 0 };
	unsigned char d[PS_SHA512_LEN];
	char b64[PS_SHA512_LEN * 4 / 3 + 2], buf[NAMEBUF];
	const char *algo;
	size_t dlen;
	ssize_t r;

	r = w->row_of[e - z->e];
	if (r < 0)
		return ps_error_input(err, "wheel: RECORD does not list %s",
		    NAME(e, buf));
	row = &w->rec.rows[r];
	if (row->hash_len == 0)
		return ps_error_input(err, "wheel: RECORD has no hash for %s",
		    NAME(e, buf));
	if (row->hash_len >= 7 && memcmp(row->hash, "sha256=", 7) == 0) {
		algo = "sha256";
		ps_sha256_init(&sha);
		s.sha = &sha;
	} else if (row->hash_len >= 7 && memcmp(row->hash, "sha384=", 7) == 0) {
		algo = "sha384";
		ps_sha384_init(&sha5);
		s.sha5 = &sha5;
	} else if (row->hash_len >= 7 && memcmp(row->hash, "sha512=", 7) == 0) {
		algo = "sha512";
		ps_sha512_init(&sha5);
		s.sha5 = &sha5;
	} else {
		return ps_error_input(err, "wheel: cannot check the hash of "
		    "%s: not sha256, sha384 or sha512", NAME(e, buf));
	}
	if (inflate_entry(z, e, &s, err) < 0)
		return -1;
	if (s.sha != NULL) {
		ps_sha256_final(&sha, d);
		dlen = PS_SHA256_LEN;
	} else {
		ps_sha512_final(&sha5, d);
		dlen = sha5.out_len;
	}
	ps_b64url(d, dlen, b64);
	/* "ALGO=" is 7 bytes for all three. */
	if (row->hash_len != 7 + strlen(b64) ||
	    memcmp(row->hash + 7, b64, strlen(b64)) != 0)
		return ps_error_input(err, "wheel: %s of %s does not match "
		    "RECORD", algo, NAME(e, buf));
	if (row->size >= 0 && (uint64_t)row->size != e->usize)
		return ps_error_input(err, "wheel: size of %s does not match "
		    "RECORD", NAME(e, buf));
	return 0;
}

/* ------------------------------------------------------------------ */
/* deciding */

/*
 * Sets each entry's fate by the name rules (match.h), excludes and the
 * sourceless rule.  Returns the number removed, or -1 with err set (out
 * of memory, or the name index's own error: a duplicate name).  The name
 * index is waited for at its first use and at the end.
 */
static ssize_t
decide(struct ps_zip *z, const struct ps_options *opts,
    struct ps_result *res, struct ps_error *err)
{
	size_t i, removed = 0;
	bool excluded_any = false;

	for (i = 0; i < z->n; i++) {
		struct entry *e = &z->e[i];
		size_t len;
		const char *k = key_of(e, &len);
		const char *n = c_name(z, e) + (k - e->name);
		bool loose = false;

		if (!ps_match_member(n, e->is_dir, e->is_link, &loose))
			continue;
		if (opts->n_excludes > 0 &&
		    ps_match_excluded(opts->excludes, opts->n_excludes, n)) {
			excluded_any = true;
			continue;
		}
		e->fate = loose ? LOOSE : REMOVE;
		removed++;
	}
	/* X.pyc outside __pycache__: sourceless when no X.py is there. */
	if (index_wait(z, err) < 0)
		return -1;
	for (i = 0; i < z->n; i++) {
		struct entry *e = &z->e[i];
		size_t len;
		const char *k, *full;

		if (e->fate != LOOSE)
			continue;
		e->fate = REMOVE;
		k = key_of(e, &len);
		full = c_name(z, e);
		if (lookup(z, full + (k - e->name), len - 1, false) >= 0)
			continue;
		if (ps_result_sourceless(res, opts, full) < 0)
			return ps_error_nomem(err);
		if (opts->keep_sourceless) {
			e->fate = KEEP;
			removed--;
		}
	}
	/*
	 * A __pycache__ directory entry stays when something kept (an
	 * excluded file) lies below it, as a directory would in a tree.
	 */
	for (i = 0; excluded_any && i < z->n; i++) {
		const struct entry *e = &z->e[i];
		size_t len, k;
		const char *n = key_of(e, &len);

		if (e->fate != KEEP || ps_match_pycache_prefix(n, len) == 0)
			continue;
		for (k = 0; k + 1 < len; k++) {
			ssize_t d;

			if (n[k] != '/')
				continue;
			d = lookup(z, n, k + 1, true);
			if (d >= 0 && z->e[d].fate == REMOVE && z->e[d].is_dir) {
				z->e[d].fate = KEEP;
				removed--;
			}
		}
	}
	return (ssize_t)removed;
}

/* Records the removed members in res, in central directory order. */
static int
report_removed(struct ps_zip *z, const struct ps_options *opts,
    struct ps_result *res, struct ps_error *err)
{
	size_t i;

	for (i = 0; i < z->n; i++) {
		const struct entry *e = &z->e[i];

		if (e->fate == REMOVE && ps_result_archive_member(res, opts,
		    c_name(z, e), e->is_dir, e->usize) < 0)
			return ps_error_nomem(err);
		if (e->fate == KEEP && opts->n_excludes > 0 &&
		    ps_result_archive_kept(res, c_name(z, e), e->is_dir) < 0)
			return ps_error_nomem(err);
	}
	return 0;
}

/* ------------------------------------------------------------------ */

/*
 * The RECORD work of a wheel (read, check, edit, compress) runs in a
 * thread of its own, in two steps: reading and checking RECORD starts as
 * soon as the central directory is read, while the names are matched;
 * editing and compressing it wait for every fate to be settled, then run
 * while the members before RECORD are copied.  It is most of the CPU
 * time on a big wheel, the copy most of the rest.  The list of removed
 * members for the summary goes to whichever thread is free first: this
 * one after the RECORD, or the copying one when the copy is done before.
 */
enum { JOB_WAIT, JOB_GO, JOB_CANCEL };

struct record_job {
	struct ps_zip *z;
	struct wheel *w;
	struct new_record *nr;
	const struct ps_options *opts;
	struct ps_result *res;    /* its lists: the thread that took them */
	atomic_bool listed;       /* report_removed() taken by a thread */
	struct ps_error err;
	int rc;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int go;                   /* JOB_*, under mu */
	bool running;
};

/* The first step: RECORD's local header (in a buffer of the job's own:
 * z->scratch belongs to the copying thread), then load_record(). */
static void
record_load(struct record_job *j)
{
	unsigned char *h = malloc(SCRATCH_X);

	if (h == NULL) {
		j->rc = ps_error_nomem(&j->err);
		return;
	}
	j->rc = check_entry(j->z, j->w->record, h, &j->err);
	free(h);
	if (j->rc == 0)
		j->rc = load_record(j->z, j->w, &j->err);
}

/* The second step, once every fate is settled. */
static void
record_build(struct record_job *j)
{
	if (j->rc == 0)
		j->rc = build_record(j->z, j->w, j->nr, &j->err);
	if (j->rc == 0 && j->res != NULL && !atomic_exchange(&j->listed, true))
		j->rc = report_removed(j->z, j->opts, j->res, &j->err);
}

static void *
record_worker(void *arg)
{
	struct record_job *j = arg;
	int go;

	/*
	 * Nice 5 for this thread only: while it reads RECORD the main thread
	 * parses and matches names, the critical path, and a third thread
	 * (the name index) wants the other core; RECORD has time to spare
	 * until the copy reaches it.  (Median 63.0 -> 61.6 ms on the bench
	 * wheel over 40 interleaved runs; 69.5 -> 66.8 in another 40.)
	 * Raising one's own niceness needs no privilege; it ends with the
	 * thread.
	 */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 5);

	record_load(j);
	pthread_mutex_lock(&j->mu);
	while (j->go == JOB_WAIT)
		pthread_cond_wait(&j->cv, &j->mu);
	go = j->go;
	pthread_mutex_unlock(&j->mu);
	if (go == JOB_GO)
		record_build(j);
	return NULL;
}

/* Starts the job's first step; without a thread both run at the join. */
static void
record_start(struct record_job *j, struct ps_zip *z, struct wheel *w,
    struct new_record *nr)
{
	j->z = z;
	j->w = w;
	j->nr = nr;
	j->go = JOB_WAIT;
	if (pthread_mutex_init(&j->mu, NULL) != 0)
		return;
	if (pthread_cond_init(&j->cv, NULL) != 0) {
		pthread_mutex_destroy(&j->mu);
		return;
	}
	j->running = pthread_create(&j->thread, NULL, record_worker, j) == 0;
	if (!j->running) {
		pthread_cond_destroy(&j->cv);
		pthread_mutex_destroy(&j->mu);
	}
}

/* Lets the job go on to its second step (JOB_GO) or end (JOB_CANCEL). */
static void
record_go(struct record_job *j, int go)
{
	if (!j->running) {
		j->go = go;
		return;
	}
	pthread_mutex_lock(&j->mu);
	j->go = go;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
}

/* Waits for the RECORD job, once; returns its status, its error in err. */
static int
record_join(struct record_job *j, struct ps_error *err)
{
	if (j->running) {
		pthread_join(j->thread, NULL);
		pthread_cond_destroy(&j->cv);
		pthread_mutex_destroy(&j->mu);
		j->running = false;
	} else {
		record_load(j);
		if (j->go == JOB_GO)
			record_build(j);
	}
	if (j->rc < 0)
		*err = j->err;
	return j->rc;
}

struct join_ctx {
	struct record_job *job;
	struct ps_error *err;
};

static int
join_hook(void *arg)
{
	struct join_ctx *c = arg;
	struct record_job *j = c->job;
	int rc = 0;

	if (j->running && j->res != NULL && !atomic_exchange(&j->listed, true))
		rc = report_removed(j->z, j->opts, j->res, c->err);
	if (record_join(j, c->err) < 0)
		return -1;
	return rc;
}

/* Marks a wheel's signatures for dropping and lists them in res. */
static int
drop_signatures(struct ps_zip *z, const struct wheel *w,
    struct ps_result *res, struct ps_error *err)
{
	size_t i;

	for (i = 0; i < z->n; i++) {
		struct entry *e = &z->e[i];

		if (!is_signature(w, e) || e->fate != KEEP)
			continue;
		e->fate = DROP_SIGNATURE;
		if (ps_strlist_pushn(&res->signatures_removed, e->name,
		    e->name_len) < 0)
			return ps_error_nomem(err);
	}
	return 0;
}

int
ps_zip_run(const struct ps_options *opts, const char *path, int fd,
    const struct stat *st, struct ps_result *res, struct ps_error *err)
{
	struct ps_zip *z = NULL;
	struct wheel w = { 0 };
	struct new_record nr = { 0 };
	struct record_job job = { 0 };
	struct join_ctx jc = { &job, err };
	struct ps_atomic a = { 0 };
	struct out o = { 0 };
	bool whl, writing = false, parallel;
	bool to_stdout = opts->output != NULL &&
	    ps_atomic_is_stdout(opts->output);
	struct ps_error found_err;
	ssize_t removed;
	size_t i;
	int rc = -1, found, loaded = 0;

	w.record = SIZE_MAX;
	nr.index = SIZE_MAX;
	a.fd = -1;
	res->format = "zip";
	res->compression = NULL;
	res->bytes_before = st->st_size;
	res->bytes_after = st->st_size;
	res->record_updated = -1;
	whl = ends_with(path, strlen(path), ".whl") || (opts->output != NULL &&
	    ends_with(opts->output, strlen(opts->output), ".whl"));
	if (zip_open(&z, fd, (uint64_t)st->st_size, false,
	    whl ? WHEEL_HEAP : 0, err) < 0)
		goto out;
	/*
	 * RECORD is chosen by name alone, so its reading and checking
	 * start before the names are matched; an error in choosing it is
	 * reported after the matching's own, as the steps come in order.
	 */
	found = find_record(z, path, whl, &w, &found_err);
	if (found == 0 && w.record != SIZE_MAX)
		record_start(&job, z, &w, &nr);
	removed = decide(z, opts, res, err);
	if (removed < 0)
		goto out;
	if (found < 0) {
		*err = found_err;
		goto out;
	}
	/*
	 * The structure of everything kept is checked before the archive
	 * is replaced: up front, or, when a new archive is written anyway,
	 * header by header while it is copied (copy_checked()).  Standard
	 * output (-o -) cannot take back what it was given: up front there.
	 */
	o.check = removed > 0 && !opts->verify &&
	    opts->mode == PS_MODE_STRIP && !to_stdout;
	/*
	 * A file named like a wheel must have a RECORD that matches: a
	 * mismatch refuses it, and its RECORD work may overlap the checks
	 * and the copy (every fate is settled before it goes on; it only
	 * reads them).  Another zip that merely holds a dist-info is a
	 * wheel only when its RECORD matches.
	 */
	parallel = o.check && whl && w.record != SIZE_MAX;
	if (parallel) {
		if (drop_signatures(z, &w, res, err) < 0)
			goto out;
		nr.index = w.record;
		/* The removed list too: it is off the copy's path there. */
		job.opts = opts;
		job.res = res;
		record_go(&job, JOB_GO);
	} else if (whl && w.record != SIZE_MAX && removed > 0) {
		/* As above: signatures that go are not checked as kept, so a
		 * dry run or --verify judges what the strip would keep. */
		if (drop_signatures(z, &w, res, err) < 0)
			goto out;
	}
	if (!parallel && w.record != SIZE_MAX) {
		/* The job ends after its first step; its result is judged
		 * after the kept headers', as when it ran here. */
		record_go(&job, JOB_CANCEL);
		loaded = record_join(&job, err);
	}
	if (!o.check && check_kept(z, err) < 0)
		goto out;
	if (loaded < 0) {
		if (whl || err->kind != PS_ERR_INPUT ||
		    strncmp(err->msg, "wheel: RECORD does not match", 28) != 0)
			goto out;
		release_wheel(&w);
	}
	if (w.record != SIZE_MAX)
		res->record_updated = 0;
	if (opts->verify) {
		for (i = 0; i < z->n; i++) {
			const struct entry *e = &z->e[i];

			if (e->fate != KEEP)
				continue;
			if (w.record != SIZE_MAX && !dir_like(e) &&
			    i != w.record && !is_signature(&w, e)) {
				if (verify_hash(z, &w, e, err) < 0)
					goto out;
			} else if (inflate_entry(z, e, NULL, err) < 0) {
				goto out;
			}
		}
	}
	if (!parallel && removed > 0 && w.record != SIZE_MAX) {
		if (drop_signatures(z, &w, res, err) < 0)
			goto out;
		nr.index = w.record;
		if (build_record(z, &w, &nr, err) < 0)
			goto out;
	}
	if (removed == 0) {
		if (opts->output != NULL && opts->mode == PS_MODE_STRIP &&
		    ps_archive_copy(fd, st->st_size, opts->output, st, err) < 0)
			goto out;
		rc = 0;
		goto out;
	}
	o.in = fd;
	o.err = err;
	o.fd = -1;
	if (opts->mode == PS_MODE_STRIP) {
		o.buf = malloc(COPY_BUF);
		if (o.buf == NULL) {
			ps_error_nomem(err);
			goto out;
		}
		if (ps_atomic_begin(&a, opts->output != NULL ? opts->output :
		    path, st, err) < 0)
			goto out;
		writing = true;
		o.fd = a.fd;
	}
	if (write_archive(&o, z, &nr, parallel ? join_hook : NULL, &jc) < 0)
		goto out;
	if (w.record != SIZE_MAX)
		res->record_updated = 1;
	if (!parallel && report_removed(z, opts, res, err) < 0)
		goto out;
	if (writing) {
		writing = false;
		if (ps_atomic_commit(&a, err) < 0)
			goto out;
	}
	res->bytes_after = (int64_t)o.pos;
	rc = 0;
out:
	if (job.running) {
		struct ps_error ignored;

		if (job.go == JOB_WAIT)
			record_go(&job, JOB_CANCEL);
		record_join(&job, &ignored);
	}
	if (writing)
		ps_atomic_abort(&a);
	free(o.buf);
	free(nr.data);
	release_wheel(&w);
	ps_zip_free(z);
	return rc;
}
