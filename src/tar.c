#define _GNU_SOURCE
#include "tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "archive.h"
#include "atomic.h"
#include "codec.h"
#include "match.h"

/*
 * How a tar archive is rewritten.  libarchive reads the headers of the
 * uncompressed stream (its offsets come from archive_read_header_position());
 * the bytes of each member are then copied as they are, never re-encoded:
 *
 *   uncompressed  | pax x | hdr | data | hdr | data... | hdr | data | 0 0 |
 *   member spans  [ member 0         ) [ member 1    ) [ member n  )
 *                 ^ header position 0  ^ position 1    ^ position n  ^ EOF
 *
 * A member's span runs from its header position (which precedes its pax or
 * GNU long-name headers) to the next member's.  A kept span is copied; a
 * removed one is skipped, except the pax global ('g') and volume ('V')
 * headers at its start, which apply to what follows.  The output ends with
 * two zero blocks, padded to 10240 bytes when the input was.  So kept
 * members keep every byte of their headers: format, pax records, xattrs,
 * sub-second times, owners, long names.
 *
 * A plain tar's headers are read by pycstrip itself when they have one of
 * the common shapes (see fscan_collect(); libarchive otherwise), and its
 * kept spans copied with copy_file_range().
 * A compressed one is decompressed in a thread (codec.h); the bytes pass
 * through a window that holds what libarchive has read but whose member is
 * not known yet, and go to the compressing threads.  Member data is skipped
 * through the skip callback, so it is never copied into the window.
 *
 * The output is begun only at the first removed member (the kept bytes
 * before it are then read again from the start): an archive with nothing
 * to remove is never written.  A kept hard link whose target was removed
 * is the one member re-encoded: libarchive writes it as a regular file with
 * the target's data (read again from the input), and later links to the
 * same target point at it.
 */

#define BLOCK 512
#define RECORD 10240          /* GNU tar's and bsdtar's default record */
#define MAP_STEP (1u << 20)   /* bytes handed to libarchive per read */
#define MAP_DROP (4u << 20)   /* unmap read pages every so often */
#define MAX_ALIAS 64
#define COPY_QUEUE 256        /* plain output: pieces queued for the copier */

enum phase { PH_HEADER, PH_DATA };

struct tar;

/* One reader of the uncompressed stream. */
struct src {
	struct tar *t;
	bool main;                    /* the reader whose bytes are copied */
	struct ps_codec_reader *zr;   /* compressed input, else the map */
	const unsigned char *chunk;
	size_t chunk_len;
	size_t chunk_off;
	int64_t pos;                  /* offset of the next byte to deliver */
	int64_t dropped_to;           /* map: pages below are unmapped */
	struct archive *a;
	/*
	 * Our own entry for archive_read_next_header2(): the one that
	 * archive_read_new() allocates is not checked, and a failed
	 * allocation there would crash archive_read_next_header().
	 */
	struct archive_entry *entry;
};

/*
 * Plain output is written by a thread of its own, in the order the scan
 * decides it, so that reading headers and copying kept spans overlap: a
 * piece is a span of the input (bytes == NULL) or bytes to write.
 */
struct piece {
	int64_t off;
	int64_t len;                  /* < 0: the end */
	unsigned char *bytes;
};

struct copier {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct piece q[COPY_QUEUE];
	unsigned head;
	unsigned tail;
	bool stop;                    /* abandon what is queued */
	bool failed;
	struct ps_error err;
	pthread_t thread;
	bool live;
	int in_fd;
	int out_fd;
	const unsigned char *map;
	const char *tmp;
};

/* A removed member that a kept hard link may name. */
struct rec {
	char *name;       /* without "./" */
	uint64_t index;   /* ordinal of its header */
	char *alias;      /* a removed hard link: its target as written */
	char *moved_to;   /* the kept link that took its data, as written */
};

struct tar {
	const struct ps_options *opts;
	const char *path;
	int fd;
	const struct stat *st;
	struct ps_result *res;
	struct ps_error *err;
	struct ps_error cb_err;       /* what failed inside a callback */
	enum ps_codec codec;
	int level;
	int threads;
	const unsigned char *map;     /* plain input */
	size_t map_len;
	bool direct;                  /* headers read by fscan_collect() */

	struct src main;
	enum phase phase;
	uint64_t index;               /* headers read so far */
	bool keeping;                 /* the current span is kept */
	uint64_t dropped;             /* members removed */

	/* compressed: bytes delivered whose fate is not known yet */
	unsigned char *win;
	size_t win_off;               /* win[win_off] is the byte at win_start */
	size_t win_len;
	size_t win_cap;
	int64_t win_start;            /* first unresolved offset */

	/* output */
	bool can_write;               /* strip mode */
	bool writing;
	struct ps_atomic at;
	bool at_live;
	struct ps_codec_writer *zw;
	int64_t out_len;              /* uncompressed bytes written */
	int64_t kept_len;             /* uncompressed bytes kept */
	bool inexact;                 /* kept_len misses re-encoded links */
	int64_t copy_from;            /* plain: span waiting to be queued */
	int64_t copy_to;
	struct copier cp;
	bool wstop;                   /* drop what libarchive's writer adds */

	/* names */
	struct ps_strset *py;         /* members named *.py */
	struct ps_strset *held;       /* __pycache__ dirs holding what -x kept */
	struct ps_strlist loose;      /* removed X.pyc outside __pycache__ */
	struct ps_strset *removed;    /* names of recs, built when needed */
	struct rec *recs;
	size_t n_recs;
	size_t cap_recs;
};

/* --- libarchive statuses ---------------------------------------------- */

/*
 * libarchive reads past some damage with a warning, skipping what it could
 * not parse; copied as it is, that damage could make the output one that
 * no reader accepts (found by fuzz_tar).  Such an archive is refused, as
 * any other structural damage is.
 */
static bool
damaged_warning(const char *msg)
{
	static const char *const damage[] = { "Ignoring malformed pax",
	    "Invalid pax", "Damaged tar", "Skipped " };
	size_t i;

	for (i = 0; msg != NULL && i < sizeof damage / sizeof damage[0]; i++)
		if (strncmp(msg, damage[i], strlen(damage[i])) == 0)
			return true;
	return false;
}

/*
 * The one place where a libarchive status becomes ours.  ARCHIVE_OK and
 * ARCHIVE_WARN go on (a name that the locale cannot convert is a warning,
 * and its bytes are kept); anything else fails with what libarchive said,
 * or with what made a callback fail (a decompression error, a full disk).
 */
static int
ar_check(struct tar *t, struct archive *a, int r)
{
	const char *msg;

	if (r == ARCHIVE_WARN && damaged_warning(archive_error_string(a)))
		return ps_error_input(t->err, "tar: damaged archive: %s",
		    archive_error_string(a));
	if (r == ARCHIVE_OK || r == ARCHIVE_WARN)
		return 0;
	if (t->cb_err.kind != PS_ERR_NONE) {
		*t->err = t->cb_err;
		return -1;
	}
	msg = archive_error_string(a);
	/* libarchive gives a message for all but some failed allocations. */
	if (archive_errno(a) == ENOMEM || (msg == NULL && r != ARCHIVE_EOF))
		return ps_error_nomem(t->err);
	if (msg == NULL)
		msg = "unexpected end of archive";
	if (t->index == 0 && t->res->format == NULL) {
		if (t->codec == PS_CODEC_NONE)
			return ps_error_input(t->err, "not a zip or tar archive");
		return ps_error_input(t->err, "not a zip or tar archive: %s "
		    "data that is not tar (%s)", ps_codec_name(t->codec), msg);
	}
	return ps_error_input(t->err, "tar: %s", msg);
}

static void
cb_fail(struct tar *t, struct archive *a, const struct ps_error *e)
{
	if (t->cb_err.kind == PS_ERR_NONE)
		t->cb_err = *e;
	archive_set_error(a, EIO, "%s", e->msg);
}

/* --- output ------------------------------------------------------------ */

/* Copies one piece to the output; returns 0 or -1 with err set. */
static int
copy_piece(struct copier *c, const struct piece *p, struct ps_error *err)
{
	const unsigned char *b = p->bytes;
	int64_t off = p->off, end = p->off + p->len;
	size_t n = (size_t)p->len;

	while (b == NULL && off < end) {
		loff_t in = off;
		ssize_t k = copy_file_range(c->in_fd, &in, c->out_fd, NULL,
		    (size_t)(end - off), 0);

		if (k < 0 && (errno == EXDEV || errno == ENOSYS ||
		    errno == EINVAL || errno == EOPNOTSUPP || errno == EBADF))
			k = write(c->out_fd, c->map + off, (size_t)(end - off));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return ps_error_sys(err, errno, "cannot write %s", c->tmp);
		if (k == 0)
			return ps_error_input(err, "file shrank while being "
			    "read");
		off += k;
	}
	while (b != NULL && n > 0) {
		ssize_t k = write(c->out_fd, b, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return ps_error_sys(err, errno, "cannot write %s", c->tmp);
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

static void *
copier_main(void *arg)
{
	struct copier *c = arg;
	struct ps_error err;

	ps_error_clear(&err);
	pthread_mutex_lock(&c->mu);
	for (;;) {
		struct piece p;
		bool ok;

		while (c->head == c->tail && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->stop || c->q[c->head % COPY_QUEUE].len < 0)
			break;
		p = c->q[c->head % COPY_QUEUE];
		ok = !c->failed;
		pthread_mutex_unlock(&c->mu);
		if (ok && copy_piece(c, &p, &err) < 0)
			ok = false;
		free(p.bytes);
		pthread_mutex_lock(&c->mu);
		if (!ok && !c->failed) {
			c->failed = true;
			c->err = err;
		}
		c->head++;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static int
copier_start(struct tar *t)
{
	struct copier *c = &t->cp;
	int e;

	c->in_fd = t->fd;
	c->out_fd = t->at.fd;
	c->map = t->map;
	if (pthread_mutex_init(&c->mu, NULL) != 0)
		return ps_error_nomem(t->err);
	if (pthread_cond_init(&c->cv, NULL) != 0) {
		pthread_mutex_destroy(&c->mu);
		return ps_error_nomem(t->err);
	}
	/* Set last: copier_release() destroys the locks when it is set. */
	c->tmp = ps_atomic_name(&t->at);
	if ((e = pthread_create(&c->thread, NULL, copier_main, c)) != 0)
		return ps_error_sys(t->err, e, "cannot start a thread");
	c->live = true;
	return 0;
}

/* Queues a piece (bytes become the copier's); -1 when the copier failed. */
static int
enqueue(struct tar *t, int64_t off, int64_t len, unsigned char *bytes)
{
	struct copier *c = &t->cp;

	pthread_mutex_lock(&c->mu);
	while (c->tail - c->head >= COPY_QUEUE && !c->failed)
		pthread_cond_wait(&c->cv, &c->mu);
	if (c->failed) {
		*t->err = c->err;
		pthread_mutex_unlock(&c->mu);
		free(bytes);
		return -1;
	}
	c->q[c->tail % COPY_QUEUE] = (struct piece){ off, len, bytes };
	c->tail++;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

/* Waits until everything queued is written; returns 0 or -1 with err set. */
static int
copier_finish(struct tar *t)
{
	struct copier *c = &t->cp;
	int rc = 0;

	if (!c->live)
		return 0;
	if (enqueue(t, 0, -1, NULL) < 0)
		rc = -1;
	if (rc < 0) {
		pthread_mutex_lock(&c->mu);
		c->stop = true;
		pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->mu);
	}
	pthread_join(c->thread, NULL);
	c->live = false;
	if (rc == 0 && c->failed) {
		*t->err = c->err;
		rc = -1;
	}
	return rc;
}

/* Stops the copier, dropping what is queued. */
static void
copier_release(struct tar *t)
{
	struct copier *c = &t->cp;

	if (c->live) {
		pthread_mutex_lock(&c->mu);
		c->stop = true;
		pthread_cond_broadcast(&c->cv);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->thread, NULL);
		c->live = false;
	}
	if (c->tmp != NULL) {
		for (; c->head != c->tail; c->head++)
			free(c->q[c->head % COPY_QUEUE].bytes);
		pthread_cond_destroy(&c->cv);
		pthread_mutex_destroy(&c->mu);
		c->tmp = NULL;
	}
}

static int
copy_out(struct tar *t)
{
	int64_t from = t->copy_from, to = t->copy_to;

	t->copy_from = t->copy_to = 0;
	return enqueue(t, from, to - from, NULL);
}

/* Writes bytes that are not a span of a plain input. */
static int
put(struct tar *t, const void *p, size_t n)
{
	unsigned char *copy;

	if (!t->writing || n == 0)
		return 0;
	t->out_len += (int64_t)n;
	if (t->zw != NULL)
		return ps_codec_write(t->zw, p, n, t->err);
	if (t->copy_to > t->copy_from && copy_out(t) < 0)
		return -1;
	if ((copy = malloc(n)) == NULL)
		return ps_error_nomem(t->err);
	memcpy(copy, p, n);
	return enqueue(t, 0, (int64_t)n, copy);
}

/* Keeps [from, to) of a plain input: queued for copy_file_range(). */
static int
put_span(struct tar *t, int64_t from, int64_t to)
{
	if (!t->writing || to <= from)
		return 0;
	t->out_len += to - from;
	if (t->copy_to == from && t->copy_to > t->copy_from) {
		t->copy_to = to;
		return 0;
	}
	if (t->copy_to > t->copy_from && copy_out(t) < 0)
		return -1;
	t->copy_from = from;
	t->copy_to = to;
	return 0;
}

/*
 * Settles the fate of the stream up to offset to: kept or dropped.  For a
 * compressed input the bytes are in the window.
 */
static int
resolve(struct tar *t, int64_t to, bool keep)
{
	int64_t n = to - t->win_start;

	if (n <= 0)
		return 0;
	if (keep)
		t->kept_len += n;
	if (t->codec == PS_CODEC_NONE) {
		t->win_start = to;
		return keep ? put_span(t, to - n, to) : 0;
	}
	if ((size_t)n > t->win_len - t->win_off)
		return ps_error_input(t->err, "tar: internal error: offset "
		    "%lld is beyond the bytes read", (long long)to);
	if (keep && put(t, t->win + t->win_off, (size_t)n) < 0)
		return -1;
	t->win_off += (size_t)n;
	t->win_start = to;
	return 0;
}

/* Returns the n bytes at offset off of the uncompressed stream, if they
 * are still at hand (in the map or the window), else NULL. */
static const unsigned char *
bytes_at(struct tar *t, int64_t off, size_t n)
{
	if (t->codec == PS_CODEC_NONE)
		return off >= 0 && (uint64_t)off + n <= t->map_len ?
		    t->map + off : NULL;
	if (off < t->win_start ||
	    (uint64_t)(off - t->win_start) + n > t->win_len - t->win_off)
		return NULL;
	return t->win + t->win_off + (off - t->win_start);
}

/* A tar number field (POSIX octal, or GNU base-256 when the high bit of
 * the first byte is set).  Returns -1 when it is not a number. */
static int64_t
tar_number(const unsigned char *p, size_t n)
{
	int64_t v = 0;
	size_t i = 0;

	if (p[0] & 0x80) {
		if (p[0] & 0x40)
			return -1;
		v = p[0] & 0x3f;
		for (i = 1; i < n; i++) {
			if (v > (INT64_MAX >> 8))
				return -1;
			v = (v << 8) | p[i];
		}
		return v;
	}
	while (i < n && p[i] == ' ')
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) {
		if (v > (INT64_MAX >> 3))
			return -1;
		v = (v << 3) | (p[i] - '0');
	}
	return v;
}

/*
 * A removed member's span may start with headers that are not its own: pax
 * global headers ('g') and GNU volume labels ('V') apply to every member
 * after them.  Writes those; the member's own ('x', 'L', 'K'...) go.
 */
static int
put_globals(struct tar *t, int64_t off)
{
	for (;;) {
		const unsigned char *h = bytes_at(t, off, BLOCK);
		int64_t size, span;
		unsigned char type;

		if (h == NULL)
			return 0;
		type = h[156];   /* POSIX ustar typeflag */
		if (strchr("gVxXLKA", type) == NULL || type == '\0')
			return 0;
		size = tar_number(h + 124, 12);
		if (size < 0 || size > INT64_MAX - 2 * BLOCK)
			return 0;
		span = BLOCK + ((size + BLOCK - 1) & ~(int64_t)(BLOCK - 1));
		if (type == 'g' || type == 'V') {
			const unsigned char *all = bytes_at(t, off, (size_t)span);

			if (all == NULL)
				return 0;
			t->kept_len += span;
			if (put(t, all, (size_t)span) < 0)
				return -1;
		}
		off += span;
	}
}

/* --- reading ------------------------------------------------------------ */

/* Hands out the next bytes of a compressed stream (at most max). */
static ssize_t
pull(struct src *s, const unsigned char **p, size_t max, struct ps_error *e)
{
	size_t n;

	if (s->chunk_off == s->chunk_len) {
		const void *b;
		ssize_t got = ps_codec_read(s->zr, &b, e);

		if (got <= 0)
			return got;
		s->chunk = b;
		s->chunk_len = (size_t)got;
		s->chunk_off = 0;
	}
	n = s->chunk_len - s->chunk_off;
	if (n > max)
		n = max;
	*p = s->chunk + s->chunk_off;
	s->chunk_off += n;
	s->pos += (int64_t)n;
	return (ssize_t)n;
}

static int
win_append(struct tar *t, const unsigned char *p, size_t n)
{
	if (t->win_off > 0) {
		/* Only here: libarchive holds no pointer into the window. */
		memmove(t->win, t->win + t->win_off, t->win_len - t->win_off);
		t->win_len -= t->win_off;
		t->win_off = 0;
	}
	if (t->win_cap - t->win_len < n) {
		size_t cap = t->win_cap ? t->win_cap : 1u << 18;
		unsigned char *w;

		while (cap - t->win_len < n)
			cap *= 2;
		if ((w = realloc(t->win, cap)) == NULL)
			return ps_error_nomem(&t->cb_err);
		t->win = w;
		t->win_cap = cap;
	}
	memcpy(t->win + t->win_len, p, n);
	t->win_len += n;
	return 0;
}

static la_ssize_t
read_cb(struct archive *a, void *ctx, const void **buf)
{
	struct src *s = ctx;
	struct tar *t = s->t;
	struct ps_error e;
	const unsigned char *p;
	ssize_t n;

	ps_error_clear(&e);
	if (s->zr == NULL) {
		size_t left;

		/* Keep the pages of a big plain tar from piling up. */
		if (s->pos - s->dropped_to >= (int64_t)MAP_DROP) {
			int64_t to = s->pos & ~(int64_t)(MAP_DROP - 1);

			(void)madvise((void *)(uintptr_t)(t->map + s->dropped_to),
			    (size_t)(to - s->dropped_to), MADV_DONTNEED);
			s->dropped_to = to;
		}
		if ((uint64_t)s->pos >= t->map_len)
			return 0;
		left = t->map_len - (size_t)s->pos;
		if (left > MAP_STEP)
			left = MAP_STEP;
		*buf = t->map + s->pos;
		s->pos += (int64_t)left;
		return (la_ssize_t)left;
	}
	if (!s->main) {
		n = pull(s, &p, SIZE_MAX, &e);
		if (n < 0) {
			cb_fail(t, a, &e);
			return ARCHIVE_FATAL;
		}
		*buf = p;
		return n;
	}
	/*
	 * In a member's data, libarchive asks for more only once it has
	 * used all it had: all of that belongs to the current member.
	 */
	if (t->phase == PH_DATA && resolve(t, s->pos, t->keeping) < 0) {
		cb_fail(t, a, t->err);
		return ARCHIVE_FATAL;
	}
	n = pull(s, &p, SIZE_MAX, &e);
	if (n < 0) {
		cb_fail(t, a, &e);
		return ARCHIVE_FATAL;
	}
	if (n == 0)
		return 0;
	if (win_append(t, p, (size_t)n) < 0) {
		cb_fail(t, a, &t->cb_err);
		return ARCHIVE_FATAL;
	}
	*buf = t->win + t->win_len - (size_t)n;
	return n;
}

static la_int64_t
skip_cb(struct archive *a, void *ctx, la_int64_t request)
{
	struct src *s = ctx;
	struct tar *t = s->t;
	struct ps_error e;
	la_int64_t done = 0;

	ps_error_clear(&e);
	if (s->zr == NULL) {
		int64_t left = (int64_t)t->map_len - s->pos;

		if (request > left)
			request = left > 0 ? left : 0;
		s->pos += request;
		return request;
	}
	if (s->main && t->phase == PH_DATA &&
	    resolve(t, s->pos, t->keeping) < 0) {
		cb_fail(t, a, t->err);
		return ARCHIVE_FATAL;
	}
	while (done < request) {
		const unsigned char *p;
		ssize_t n = pull(s, &p, (size_t)(request - done), &e);
		int rc = 0;

		if (n < 0) {
			cb_fail(t, a, &e);
			return ARCHIVE_FATAL;
		}
		if (n == 0)
			break;
		done += n;
		if (!s->main)
			continue;
		if (t->phase == PH_DATA) {
			/* The current member's data: settled at once. */
			if (t->keeping) {
				t->kept_len += n;
				rc = put(t, p, (size_t)n);
			}
			t->win_start = s->pos;
		} else {
			rc = win_append(t, p, (size_t)n);
		}
		if (rc < 0) {
			cb_fail(t, a, t->cb_err.kind != PS_ERR_NONE ?
			    &t->cb_err : t->err);
			return ARCHIVE_FATAL;
		}
	}
	return done;
}

/* Opens a reader of the uncompressed stream from its start. */
static int
src_open(struct tar *t, struct src *s, bool main)
{
	memset(s, 0, sizeof *s);
	s->t = t;
	s->main = main;
	if (t->codec != PS_CODEC_NONE &&
	    (s->zr = ps_codec_reader_new(t->codec, t->fd, t->err)) == NULL)
		return -1;
	if ((s->a = archive_read_new()) == NULL ||
	    (s->entry = archive_entry_new()) == NULL)
		return ps_error_nomem(t->err);
	/*
	 * Only tar (ustar, pax, GNU...): the stream is already decompressed.
	 * The steps of archive_read_open2() one by one: it ignores a failed
	 * allocation of the callback data, which archive_read_open1() then
	 * dereferences.
	 */
	if (archive_read_support_format_tar(s->a) != ARCHIVE_OK ||
	    archive_read_set_read_callback(s->a, read_cb) != ARCHIVE_OK ||
	    archive_read_set_skip_callback(s->a, skip_cb) != ARCHIVE_OK ||
	    archive_read_set_callback_data(s->a, s) != ARCHIVE_OK ||
	    archive_read_open1(s->a) != ARCHIVE_OK)
		return ar_check(t, s->a, ARCHIVE_FATAL);
	return 0;
}

static void
src_close(struct src *s)
{
	if (s->a != NULL)
		archive_read_free(s->a);
	archive_entry_free(s->entry);
	ps_codec_reader_free(s->zr);
	memset(s, 0, sizeof *s);
}

/* Reads the rest of a compressed stream (so that its checks run); returns
 * the stream's whole length, or -1. */
static int64_t
src_drain(struct tar *t, struct src *s)
{
	const unsigned char *p;
	ssize_t n;

	if (s->zr == NULL)
		return (int64_t)t->map_len;
	s->pos += (int64_t)(s->chunk_len - s->chunk_off);
	s->chunk_off = s->chunk_len;
	while ((n = pull(s, &p, SIZE_MAX, t->err)) > 0)
		continue;
	return n < 0 ? -1 : s->pos;
}

static const char *
entry_name(struct archive_entry *e)
{
	const char *p = archive_entry_pathname(e);

	return p != NULL ? p : archive_entry_pathname_utf8(e);
}

static const char *
entry_link(struct archive_entry *e)
{
	const char *p = archive_entry_hardlink(e);

	return p != NULL ? p : archive_entry_hardlink_utf8(e);
}

/* The member name the rules see: no "./", no trailing '/' (malloc'd). */
static char *
rule_name(const char *name)
{
	const char *n = ps_match_strip_dot(name);
	size_t len = strlen(n);

	while (len > 0 && n[len - 1] == '/')
		len--;
	return strndup(n, len);
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

/* Whether X.py exists beside the legacy X.pyc named m. */
static bool
has_source(const struct tar *t, const char *m)
{
	const char *base = strrchr(m, '/');
	size_t dir, src;

	base = base ? base + 1 : m;
	dir = (size_t)(base - m);
	src = ps_match_source_len(base, strlen(base));
	return src > 0 && ps_strset_has(t->py, m, dir + src);
}

static int
note_py(struct tar *t, bool is_dir, const char *m)
{
	if (!is_dir && ends_with(m, ".py") &&
	    ps_strset_add(t->py, m, strlen(m)) < 0)
		return ps_error_nomem(t->err);
	return 0;
}

/*
 * -x: a member kept below a __pycache__ component keeps the directory
 * entries that hold it, as in a tree; noted in the first pass, as rule
 * names (no trailing '/').
 */
static int
note_held(struct tar *t, bool is_dir, bool is_link, const char *m)
{
	size_t len = strlen(m), end, i;
	bool loose;

	if (!ps_match_member(m, is_dir, is_link, &loose) ||
	    !ps_match_excluded(t->opts->excludes, t->opts->n_excludes, m))
		return 0;
	end = ps_match_pycache_prefix(m, len);
	if (t->held == NULL && (t->held = ps_strset_new()) == NULL)
		return ps_error_nomem(t->err);
	for (i = end; i <= len; i++)
		if ((i == len || m[i] == '/') &&
		    ps_strset_add(t->held, m, i) < 0)
			return ps_error_nomem(t->err);
	return 0;
}

/* What the first pass learns of one member. */
static int
note_first(struct tar *t, bool is_dir, bool is_link, const char *m)
{
	if (t->opts->keep_sourceless && note_py(t, is_dir, m) < 0)
		return -1;
	if (t->opts->n_excludes > 0 && note_held(t, is_dir, is_link, m) < 0)
		return -1;
	return 0;
}

/* A directory entry the first pass found holding something kept. */
static bool
is_held(const struct tar *t, const char *m, bool is_dir)
{
	return is_dir && t->held != NULL && ps_strset_has(t->held, m,
	    strlen(m));
}

/*
 * --keep-sourceless or -x: a first pass to learn every X.py of the
 * archive and what -x keeps.
 */
static int
prescan(struct tar *t)
{
	struct src s;
	struct archive_entry *e;
	int rc = -1, r;

	if (src_open(t, &s, false) < 0)
		goto out;
	while ((r = archive_read_next_header2(s.a, s.entry)) != ARCHIVE_EOF) {
		const char *name;
		char *m;

		if (ar_check(t, s.a, r) < 0)
			goto out;
		e = s.entry;
		if ((name = entry_name(e)) == NULL) {
			ps_error_input(t->err, "tar: a member has no name");
			goto out;
		}
		if ((m = rule_name(name)) == NULL) {
			ps_error_nomem(t->err);
			goto out;
		}
		r = note_first(t, archive_entry_filetype(e) == AE_IFDIR,
		    archive_entry_filetype(e) == AE_IFLNK, m);
		free(m);
		if (r < 0)
			goto out;
	}
	rc = 0;
out:
	src_close(&s);
	return rc;
}

/* --- hard links ---------------------------------------------------------- */

static struct rec *
find_rec(struct tar *t, const char *m)
{
	size_t i;

	/* Built at the first kept hard link: most archives have none. */
	if (t->removed == NULL) {
		if ((t->removed = ps_strset_new()) == NULL)
			return NULL;
		for (i = 0; i < t->n_recs; i++)
			if (ps_strset_add(t->removed, t->recs[i].name,
			    strlen(t->recs[i].name)) < 0) {
				ps_strset_free(t->removed);
				t->removed = NULL;
				return NULL;
			}
	}
	if (!ps_strset_has(t->removed, m, strlen(m)))
		return NULL;
	for (i = t->n_recs; i-- > 0;)
		if (strcmp(t->recs[i].name, m) == 0)
			return &t->recs[i];
	return NULL;
}

static int
add_rec(struct tar *t, const char *m, const char *alias)
{
	struct rec *r;

	if (t->removed != NULL && ps_strset_add(t->removed, m, strlen(m)) < 0)
		return ps_error_nomem(t->err);
	if (t->n_recs == t->cap_recs) {
		size_t cap = t->cap_recs ? 2 * t->cap_recs : 64;

		if ((r = realloc(t->recs, cap * sizeof *r)) == NULL)
			return ps_error_nomem(t->err);
		t->recs = r;
		t->cap_recs = cap;
	}
	r = &t->recs[t->n_recs];
	memset(r, 0, sizeof *r);
	r->index = t->index;
	r->name = strdup(m);
	r->alias = alias ? strdup(alias) : NULL;
	if (r->name == NULL || (alias != NULL && r->alias == NULL)) {
		free(r->name);
		free(r->alias);
		return ps_error_nomem(t->err);
	}
	t->n_recs++;
	return 0;
}

static la_ssize_t
write_cb(struct archive *a, void *ctx, const void *buf, size_t len)
{
	struct tar *t = ctx;

	/* After the entry, libarchive's end-of-archive blocks: not ours. */
	if (t->wstop)
		return (la_ssize_t)len;
	if (put(t, buf, len) < 0) {
		cb_fail(t, a, t->err);
		return ARCHIVE_FATAL;
	}
	return (la_ssize_t)len;
}

/* Writes one member in the header style of the input's. */
static int
put_entry(struct tar *t, struct archive_entry *ne, struct archive *from)
{
	struct archive *w = archive_write_new();
	int rc = -1, r;

	if (w == NULL)
		return ps_error_nomem(t->err);
	switch (archive_format(t->main.a)) {
	case ARCHIVE_FORMAT_TAR_USTAR:
		r = archive_write_set_format_ustar(w);
		break;
	case ARCHIVE_FORMAT_TAR_GNUTAR:
		r = archive_write_set_format_gnutar(w);
		break;
	case ARCHIVE_FORMAT_TAR_PAX_RESTRICTED:
		r = archive_write_set_format_pax_restricted(w);
		break;
	default:
		r = archive_write_set_format_pax(w);
		break;
	}
	/* 512-byte blocks: the entry leaves the buffer whole. */
	if (ar_check(t, w, r) < 0 ||
	    ar_check(t, w, archive_write_set_bytes_per_block(w, BLOCK)) < 0 ||
	    ar_check(t, w, archive_write_open2(w, t, NULL, write_cb, NULL,
	    NULL)) < 0 ||
	    ar_check(t, w, archive_write_header(w, ne)) < 0)
		goto out;
	if (from != NULL) {
		char buf[1 << 16];
		la_ssize_t n;

		while ((n = archive_read_data(from, buf, sizeof buf)) > 0)
			if (archive_write_data(w, buf, (size_t)n) != n) {
				ar_check(t, w, ARCHIVE_FATAL);
				goto out;
			}
		if (n < 0 && ar_check(t, from, (int)n) < 0)
			goto out;
	}
	if (ar_check(t, w, archive_write_finish_entry(w)) < 0)
		goto out;
	rc = 0;
out:
	t->wstop = true;
	(void)archive_write_close(w);
	archive_write_free(w);
	t->wstop = false;
	return rc;
}

/*
 * The kept hard link e names a removed member: the first such link becomes
 * a regular file holding the data of the member it named (read again from
 * the input); later ones link to that first one.
 */
static int
relink(struct tar *t, struct archive_entry *e, const char *name,
    struct rec *r)
{
	struct archive_entry *ne = NULL, *te;
	const char *to = NULL;
	struct src s;
	uint64_t i;
	int rc = -1, k;

	memset(&s, 0, sizeof s);
	for (k = 0; r->alias != NULL; k++) {
		struct rec *next;
		char *m = rule_name(r->alias);

		if (m == NULL)
			return ps_error_nomem(t->err);
		next = find_rec(t, m);
		free(m);
		if (next == NULL || k == MAX_ALIAS) {
			/* It ends at a member that is kept. */
			to = r->alias;
			break;
		}
		r = next;
	}
	if (to == NULL && r->moved_to != NULL)
		to = r->moved_to;
	if ((ne = archive_entry_clone(e)) == NULL)
		return ps_error_nomem(t->err);
	if (to != NULL) {
		archive_entry_set_hardlink(ne, to);
		archive_entry_set_size(ne, 0);
		rc = put_entry(t, ne, NULL);
		goto out;
	}
	if (src_open(t, &s, false) < 0)
		goto out;
	for (i = 0;; i++) {
		int st = archive_read_next_header2(s.a, s.entry);

		if (st == ARCHIVE_EOF) {
			ps_error_input(t->err, "tar: hard link target %s is "
			    "gone", r->name);
			goto out;
		}
		if (ar_check(t, s.a, st) < 0)
			goto out;
		if (i == r->index)
			break;
	}
	te = s.entry;
	archive_entry_set_hardlink(ne, NULL);
	archive_entry_set_filetype(ne, AE_IFREG);
	archive_entry_set_size(ne, archive_entry_size(te));
	if (put_entry(t, ne, s.a) < 0)
		goto out;
	if ((r->moved_to = strdup(name)) == NULL) {
		ps_error_nomem(t->err);
		goto out;
	}
	rc = 0;
out:
	src_close(&s);
	archive_entry_free(ne);
	return rc;
}

/* --- the members ------------------------------------------------------- */

/* Begins the output at the first removed member: the kept bytes before it
 * are read again from the start of the input. */
static int
begin_output(struct tar *t)
{
	const char *dest = t->opts->output ? t->opts->output : t->path;
	int64_t left = t->win_start;

	if (ps_atomic_begin(&t->at, dest, t->st, t->err) < 0)
		return -1;
	t->at_live = true;
	if (t->codec != PS_CODEC_NONE &&
	    (t->zw = ps_codec_writer_new(t->codec, t->level, t->threads,
	    t->at.fd, t->err)) == NULL)
		return -1;
	t->writing = true;
	if (t->codec == PS_CODEC_NONE) {
		if (copier_start(t) < 0 || put_span(t, 0, left) < 0)
			return -1;
	} else {
		struct src s;
		int rc = 0;

		memset(&s, 0, sizeof s);
		s.t = t;
		if ((s.zr = ps_codec_reader_new(t->codec, t->fd, t->err)) ==
		    NULL)
			return -1;
		while (left > 0 && rc == 0) {
			const unsigned char *p;
			ssize_t n = pull(&s, &p, (size_t)left, t->err);

			if (n <= 0) {
				if (n == 0)
					ps_error_input(t->err, "tar: input "
					    "changed while being read");
				rc = -1;
				break;
			}
			left -= n;
			rc = put(t, p, (size_t)n);
		}
		ps_codec_reader_free(s.zr);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/*
 * The rules for the member named name (its header span starts at pos):
 * removed or kept, with the bookkeeping of either.  link is the target
 * of a hard link (or NULL).  *kept tells which.
 */
static int
judge(struct tar *t, const char *name, const char *link, bool is_dir,
    bool is_link, int64_t size, int64_t pos, bool *kept)
{
	bool loose = false, drop = false;
	char *m = NULL;
	int rc = -1;

	*kept = true;
	if ((m = rule_name(name)) == NULL)
		return ps_error_nomem(t->err);
	if (!t->opts->keep_sourceless && note_py(t, is_dir, m) < 0)
		goto out;
	if (ps_match_member(m, is_dir, is_link, &loose) &&
	    !ps_match_excluded(t->opts->excludes, t->opts->n_excludes, m) &&
	    !is_held(t, m, is_dir)) {
		if (loose && t->opts->keep_sourceless && !has_source(t, m)) {
			if (ps_result_sourceless(t->res, t->opts, name) < 0) {
				ps_error_nomem(t->err);
				goto out;
			}
		} else {
			drop = true;
		}
	}
	t->keeping = !drop;
	if (!drop && t->opts->n_excludes > 0 &&
	    ps_result_archive_kept(t->res, name, is_dir) < 0) {
		ps_error_nomem(t->err);
		goto out;
	}
	if (drop) {
		*kept = false;
		if (ps_result_archive_member(t->res, t->opts, name, is_dir,
		    is_dir ? 0 : (uint64_t)size) < 0 ||
		    (loose && !t->opts->keep_sourceless &&
		    ps_strlist_push(&t->loose, name) < 0)) {
			ps_error_nomem(t->err);
			goto out;
		}
		/* Headers read directly: no hard links, no globals. */
		if (!t->direct && !is_dir && add_rec(t, m, link) < 0)
			goto out;
		t->dropped++;
		if (t->can_write && !t->writing && begin_output(t) < 0)
			goto out;
		rc = t->direct ? 0 : put_globals(t, pos);
		goto out;
	}
	rc = 0;
out:
	free(m);
	return rc;
}

/* A member read by libarchive: judged, and a kept hard link to a removed
 * member re-encoded. */
static int
member(struct tar *t, struct archive_entry *e, int64_t pos)
{
	const char *name = entry_name(e);
	const char *link = entry_link(e);
	bool kept;

	if (name == NULL)
		return ps_error_input(t->err, "tar: member %llu has no name",
		    (unsigned long long)t->index + 1);
	if (judge(t, name, link, archive_entry_filetype(e) == AE_IFDIR,
	    archive_entry_filetype(e) == AE_IFLNK, archive_entry_size(e), pos,
	    &kept) < 0)
		return -1;
	if (kept && link != NULL && t->dropped > 0) {
		char *lm = rule_name(link);
		struct rec *r;

		if (lm == NULL)
			return ps_error_nomem(t->err);
		r = find_rec(t, lm);
		free(lm);
		if (t->removed == NULL)
			return ps_error_nomem(t->err);
		if (r != NULL && !t->writing) {
			/* A dry run does not re-encode: size unknown. */
			t->inexact = true;
		} else if (r != NULL) {
			t->keeping = false;
			if (put_globals(t, pos) < 0 || relink(t, e, name, r) < 0)
				return -1;
		}
	}
	return 0;
}

/* --- a plain tar's headers, read directly ------------------------------ */

/*
 * libarchive's header reader costs more than the copy itself on a plain
 * tar (it converts every name to wide characters, among others).  For the
 * common shapes -- ustar and GNU headers, pax 'x' and GNU 'L'/'K' headers
 * before a member, no hard links -- the headers are read here instead,
 * in one pass; anything else (hard links, sparse files, pax globals,
 * volume labels, v7 headers, a bad checksum, a truncation, a size that
 * does not fit the type, no member at all) makes the pass give up, any
 * output it began is dropped, and libarchive reads the archive as before.
 * Both readers give the same members, names and spans (test_tar.c and
 * tests/e2e/tar.py compare them).
 */
/* Bytes read at a header: the next headers of small members come with
 * it (the bench tar in place, 20 interleaved runs: 4 KiB 210 ms, 16 KiB
 * 190 ms, 64 KiB 195 ms). */
#define FSCAN_READ 16384

struct fmember {
	int64_t pos;          /* where its span starts (first extra header) */
	int64_t size;
	size_t name;          /* offset in the name arena (NUL-terminated) */
	bool is_dir;
	bool is_link;         /* a symbolic link */
	bool drop;            /* streamed: removed */
	bool loose;           /* streamed: an X.pyc outside __pycache__ */
};

struct fscan {
	struct fmember *m;
	size_t n, cap;
	char *names;
	size_t names_len, names_cap;
	int64_t end;          /* the end-of-archive block */
	unsigned char *buf;   /* bytes read at buf_at */
	size_t buf_len, buf_cap;
	int64_t buf_at;
};

static void
fscan_release(struct fscan *f)
{
	free(f->m);
	free(f->names);
	free(f->buf);
	memset(f, 0, sizeof *f);
}

/* A NUL-terminated field of at most n bytes: its length. */
static size_t
field_len(const unsigned char *p, size_t n)
{
	const unsigned char *z = memchr(p, '\0', n);

	return z != NULL ? (size_t)(z - p) : n;
}

/* Whether the header's checksum (POSIX: unsigned sum; some old writers:
 * signed) holds, the checksum field counted as spaces. */
static bool
checksum_ok(const unsigned char *h)
{
	int64_t want = tar_number(h + 148, 8), sg;
	uint32_t u = 0, high = 0;
	size_t i;

	/*
	 * Plain loops over the whole block, which the compiler vectorises
	 * (a header a member: 6x faster than a test per byte); then the
	 * field is taken out and eight spaces put in.  The signed sum counts
	 * each byte >= 128 as 256 less.
	 */
	for (i = 0; i < BLOCK; i++) {
		u += h[i];
		high += h[i] >> 7;
	}
	for (i = 148; i < 156; i++) {
		u -= h[i];
		high -= h[i] >> 7;
	}
	u += 8 * ' ';
	sg = (int64_t)u - 256 * (int64_t)high;
	return want >= 0 && (want == (int64_t)u || want == sg);
}

static bool
all_zero(const unsigned char *h)
{
	size_t i;

	for (i = 0; i < BLOCK; i++)
		if (h[i] != 0)
			return false;
	return true;
}

/* Appends len bytes and a NUL to the arena; returns the offset, or
 * SIZE_MAX when out of memory. */
static size_t
fscan_name(struct fscan *f, const void *p, size_t len)
{
	size_t at = f->names_len;

	if (f->names_cap - f->names_len < len + 1) {
		size_t cap = f->names_cap ? f->names_cap : 1u << 16;
		char *n;

		while (cap - f->names_len < len + 1)
			cap *= 2;
		if ((n = realloc(f->names, cap)) == NULL)
			return SIZE_MAX;
		f->names = n;
		f->names_cap = cap;
	}
	memcpy(f->names + at, p, len);
	f->names[at + len] = '\0';
	f->names_len += len + 1;
	return at;
}

/*
 * The records of a pax 'x' header (POSIX pax "extended header"): "LEN
 * key=value\n" each.  Sets *path (and its length) and *size when given.
 * Returns 1, or 0 for anything this reader leaves to libarchive.
 */
static int
pax_records(const unsigned char *p, size_t len, const unsigned char **path,
    size_t *path_len, int64_t *size)
{
	while (len > 0) {
		size_t rl = 0, i = 0, kl;
		const unsigned char *k, *v, *eq;

		while (i < len && p[i] >= '0' && p[i] <= '9' && rl < len)
			rl = rl * 10 + (size_t)(p[i++] - '0');
		if (i == 0 || i >= len || p[i] != ' ' || rl > len || rl <= i + 2 ||
		    p[rl - 1] != '\n')
			return 0;
		k = p + i + 1;
		eq = memchr(k, '=', (size_t)(p + rl - 1 - k));
		if (eq == NULL)
			return 0;
		kl = (size_t)(eq - k);
		v = eq + 1;
		if (kl == 4 && memcmp(k, "path", 4) == 0) {
			*path = v;
			*path_len = (size_t)(p + rl - 1 - v);
			if (memchr(v, '\0', *path_len) != NULL || *path_len == 0)
				return 0;
		} else if (kl == 4 && memcmp(k, "size", 4) == 0) {
			int64_t n = 0;
			const unsigned char *d;

			if (v == p + rl - 1)
				return 0;
			for (d = v; d < p + rl - 1; d++) {
				if (*d < '0' || *d > '9' || n > INT64_MAX / 10 - 1)
					return 0;
				n = n * 10 + (*d - '0');
			}
			*size = n;
		} else if ((kl >= 10 && memcmp(k, "GNU.sparse", 10) == 0) ||
		    (kl == 10 && memcmp(k, "hdrcharset", 10) == 0) ||
		    (kl == 15 && memcmp(k, "SCHILY.realsize", 15) == 0)) {
			return 0;
		}
		p += rl;
		len -= rl;
	}
	return 1;
}

/*
 * The bytes at pos..pos+n of the input, read with pread into f->buf (a
 * page fault on a mapped header maps the data pages around it as well,
 * which costs more than the read).  NULL with t->err set on a read error;
 * NULL with no error when the file ended early.
 */
static const unsigned char *
fscan_at(struct tar *t, struct fscan *f, int64_t pos, size_t n)
{
	size_t want = n < FSCAN_READ ? FSCAN_READ : n, got = 0;

	if (pos >= f->buf_at && (uint64_t)(pos - f->buf_at) + n <= f->buf_len)
		return f->buf + (pos - f->buf_at);
	if (want > f->buf_cap) {
		unsigned char *b = realloc(f->buf, want);

		if (b == NULL) {
			ps_error_nomem(t->err);
			return NULL;
		}
		f->buf = b;
		f->buf_cap = want;
	}
	while (got < want) {
		ssize_t r = pread(t->fd, f->buf + got, want - got,
		    (off_t)(pos + (int64_t)got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ps_error_sys(t->err, errno, "cannot read");
			return NULL;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	f->buf_at = pos;
	f->buf_len = got;
	return got >= n ? f->buf : NULL;
}

/*
 * Streaming (no --keep-sourceless, so a member's fate needs nothing that
 * comes after it): decides the member just read and writes the output up
 * to it, so that the copy runs while the headers are read.  Nothing
 * reaches res here: fscan_book() does that once every header has been
 * read, and a pass that gives up half way (fscan_reset()) leaves no trace.
 */
static int
fscan_decide(struct tar *t, struct fscan *f, struct fmember *mb)
{
	char *m = rule_name(f->names + mb->name);
	bool loose = false;

	if (m == NULL)
		return ps_error_nomem(t->err);
	if (note_py(t, mb->is_dir, m) < 0) {
		free(m);
		return -1;
	}
	mb->drop = ps_match_member(m, mb->is_dir, mb->is_link, &loose) &&
	    !ps_match_excluded(t->opts->excludes, t->opts->n_excludes, m);
	mb->loose = loose;
	free(m);
	if (resolve(t, mb->pos, t->keeping) < 0)
		return -1;
	t->keeping = !mb->drop;
	t->index++;
	if (!mb->drop)
		return 0;
	t->dropped++;
	return t->can_write && !t->writing ? begin_output(t) : 0;
}

/*
 * Reads every header of the plain tar on t->fd (t->map_len bytes), and
 * when stream is set, decides each member as it comes (fscan_decide()).
 * Returns 1 with the members in f, 0 when the archive is left to
 * libarchive, -1 with t->err set (out of memory, a read or write error).
 */
static int
fscan_collect(struct tar *t, struct fscan *f, bool stream)
{
	int64_t len = (int64_t)t->map_len, pos = 0;

	memset(f, 0, sizeof *f);
	ps_error_clear(t->err);
	for (;;) {
		int64_t start = pos, size = -1;
		const unsigned char *path = NULL;
		size_t path_len = 0, at, path_at = SIZE_MAX, lname_at = SIZE_MAX;
		bool have_x = false, have_l = false, have_k = false, posix;
		const unsigned char *h;
		unsigned char type;

		for (;;) {
			int64_t n, span;

			if (len - pos < BLOCK)
				return 0;
			if ((h = fscan_at(t, f, pos, BLOCK)) == NULL)
				return t->err->kind != PS_ERR_NONE ? -1 : 0;
			if (pos == start && all_zero(h)) {
				/* No member at all: libarchive's to judge. */
				f->end = pos;
				return f->n > 0;
			}
			if (!checksum_ok(h))
				return 0;
			posix = memcmp(h + 257, "ustar\0" "00", 8) == 0;
			if (!posix && memcmp(h + 257, "ustar  \0", 8) != 0)
				return 0;
			type = h[156];
			if ((n = tar_number(h + 124, 12)) < 0 ||
			    n > len - pos - BLOCK)
				return 0;
			span = BLOCK + ((n + BLOCK - 1) & ~(int64_t)(BLOCK - 1));
			if (span > len - pos)
				return 0;
			if ((type == 'x' || type == 'L' || type == 'K') &&
			    n <= (1 << 20) &&
			    (h = fscan_at(t, f, pos, BLOCK + (size_t)n)) == NULL)
				return t->err->kind != PS_ERR_NONE ? -1 : 0;
			if (type == 'x' && !have_x) {
				have_x = true;
				if (n > (1 << 20) || !pax_records(h + BLOCK,
				    (size_t)n, &path, &path_len, &size))
					return 0;
				if (path != NULL && (path_at = fscan_name(f, path,
				    path_len)) == SIZE_MAX)
					return ps_error_nomem(t->err);
			} else if ((type == 'L' && !have_l) ||
			    (type == 'K' && !have_k)) {
				size_t l;

				if (n > (1 << 20) ||
				    (l = field_len(h + BLOCK, (size_t)n)) == 0)
					return 0;
				if (type == 'L') {
					have_l = true;
					/* h moves with the next read. */
					if ((lname_at = fscan_name(f, h + BLOCK,
					    l)) == SIZE_MAX)
						return ps_error_nomem(t->err);
				} else {
					have_k = true;
				}
			} else {
				break;
			}
			pos += span;
		}
		/* The member's own header: no hard links ('1') here. */
		if (type == '\0' || type == '0' || type == '7') {
			if (size < 0)
				size = tar_number(h + 124, 12);
		} else if (strchr("23456", type) != NULL && type != '\0') {
			if (tar_number(h + 124, 12) != 0 || (size > 0))
				return 0;
			size = 0;
		} else {
			return 0;
		}
		if (size < 0 || size > len - pos - BLOCK ||
		    (path_at != SIZE_MAX && lname_at != SIZE_MAX))
			return 0;
		if (path_at != SIZE_MAX) {
			at = path_at;
		} else if (lname_at != SIZE_MAX) {
			at = lname_at;
		} else {
			size_t nl = field_len(h, 100);
			size_t pl = posix ? field_len(h + 345, 155) : 0;
			char full[155 + 1 + 100];

			memcpy(full, h + 345, pl);
			if (pl > 0)
				full[pl++] = '/';
			memcpy(full + pl, h, nl);
			at = nl + pl > 0 ? fscan_name(f, full, nl + pl) : 0;
			if (nl + pl == 0)
				return 0;
		}
		if (at == SIZE_MAX)
			return ps_error_nomem(t->err);
		if (f->n == f->cap) {
			size_t cap = f->cap ? 2 * f->cap : 1024;
			struct fmember *m = realloc(f->m, cap * sizeof *m);

			if (m == NULL)
				return ps_error_nomem(t->err);
			f->m = m;
			f->cap = cap;
		}
		f->m[f->n].pos = start;
		f->m[f->n].size = size;
		f->m[f->n].name = at;
		f->m[f->n].is_dir = type == '5';
		f->m[f->n].is_link = type == '2';
		/* A regular member named like a directory: libarchive's. */
		if (type != '5' &&
		    f->names[at + strlen(f->names + at) - 1] == '/')
			return 0;
		f->m[f->n].drop = f->m[f->n].loose = false;
		if (stream && fscan_decide(t, f, &f->m[f->n]) < 0)
			return -1;
		f->n++;
		pos += BLOCK + ((size + BLOCK - 1) & ~(int64_t)(BLOCK - 1));
	}
}

/* After streaming: the end, and the removed members into res. */
static int
fscan_book(struct tar *t, const struct fscan *f)
{
	size_t i;

	t->res->format = "tar";
	t->res->compression = ps_codec_name(t->codec);
	if (resolve(t, f->end, t->keeping) < 0)
		return -1;
	for (i = 0; i < f->n; i++) {
		const struct fmember *m = &f->m[i];
		const char *name = f->names + m->name;

		/* (-x is never streamed: what it keeps is never counted.) */
		if (!m->drop)
			continue;
		if (ps_result_archive_member(t->res, t->opts, name, m->is_dir,
		    m->is_dir ? 0 : (uint64_t)m->size) < 0 ||
		    (m->loose && ps_strlist_push(&t->loose, name) < 0))
			return ps_error_nomem(t->err);
	}
	return 0;
}

/* Undoes a streaming pass that gave up: no output, nothing decided. */
static void
fscan_reset(struct tar *t)
{
	copier_release(t);
	memset(&t->cp, 0, sizeof t->cp);
	if (t->at_live) {
		ps_atomic_abort(&t->at);
		t->at_live = false;
	}
	t->writing = false;
	t->out_len = t->kept_len = 0;
	t->copy_from = t->copy_to = 0;
	t->win_start = 0;
	t->keeping = true;
	t->dropped = 0;
	t->index = 0;
}

/* scan() over the members fscan_collect() found. */
static int
fscan_scan(struct tar *t, const struct fscan *f)
{
	size_t i;
	bool kept;

	t->res->format = "tar";
	t->res->compression = ps_codec_name(t->codec);
	if (t->opts->keep_sourceless || t->opts->n_excludes > 0) {
		for (i = 0; i < f->n; i++) {
			char *r = rule_name(f->names + f->m[i].name);

			if (r == NULL || note_first(t, f->m[i].is_dir,
			    f->m[i].is_link, r) < 0) {
				free(r);
				return r == NULL ? ps_error_nomem(t->err) : -1;
			}
			free(r);
		}
	}
	for (i = 0; i < f->n; i++) {
		const struct fmember *m = &f->m[i];

		if (resolve(t, m->pos, t->keeping) < 0 ||
		    judge(t, f->names + m->name, NULL, m->is_dir, m->is_link,
		    m->size, m->pos, &kept) < 0)
			return -1;
		t->index++;
	}
	return resolve(t, f->end, t->keeping);
}

int
ps_tar_direct_names(int fd, int64_t size, struct ps_strlist *names,
    struct ps_error *err)
{
	struct tar t;
	struct fscan f;
	size_t i;
	int rc;

	memset(&t, 0, sizeof t);
	t.fd = fd;
	t.map_len = (size_t)size;
	t.err = err;
	rc = fscan_collect(&t, &f, false);
	for (i = 0; rc == 1 && i < f.n; i++)
		if (ps_strlist_push(names, f.names + f.m[i].name) < 0)
			rc = ps_error_nomem(err);
	fscan_release(&f);
	return rc;
}

static int
scan(struct tar *t)
{
	struct archive *a = t->main.a;
	struct archive_entry *e;
	int r;

	for (;;) {
		r = archive_read_next_header2(a, t->main.entry);
		e = t->main.entry;
		if (r == ARCHIVE_EOF)
			break;
		if (ar_check(t, a, r) < 0)
			return -1;
		t->res->format = "tar";
		t->res->compression = ps_codec_name(t->codec);
		if (resolve(t, archive_read_header_position(a), t->keeping) < 0 ||
		    member(t, e, archive_read_header_position(a)) < 0)
			return -1;
		t->phase = PH_DATA;
		r = archive_read_data_skip(a);
		t->phase = PH_HEADER;
		if (ar_check(t, a, r) < 0)
			return -1;
		t->index++;
	}
	if (archive_format(a) == 0)
		return ar_check(t, a, ARCHIVE_FATAL);
	t->res->format = "tar";
	t->res->compression = ps_codec_name(t->codec);
	return resolve(t, archive_read_header_position(a), t->keeping);
}

/* The two zero blocks that end an archive, and padding to a record. */
static int64_t
trailer_len(int64_t out_len, int64_t in_len)
{
	int64_t rec = in_len % RECORD == 0 ? RECORD : BLOCK;
	int64_t n = 2 * BLOCK;

	return n + (rec - (out_len + n) % rec) % rec;
}

static int
finish(struct tar *t, int64_t in_len)
{
	static const unsigned char zero[BLOCK];
	int64_t n = trailer_len(t->out_len, in_len);
	uint64_t written;

	for (; n > 0; n -= BLOCK)
		if (put(t, zero, BLOCK) < 0)
			return -1;
	if (t->zw != NULL) {
		if (ps_codec_writer_finish(t->zw, &written, t->err) < 0)
			return -1;
		t->res->bytes_after = (int64_t)written;
	} else {
		if ((t->copy_to > t->copy_from && copy_out(t) < 0) ||
		    copier_finish(t) < 0)
			return -1;
		t->res->bytes_after = t->out_len;
	}
	t->at_live = false;
	return ps_atomic_commit(&t->at, t->err);
}

static int
sniff(struct tar *t)
{
	unsigned char head[8];
	ssize_t n;

	do
		n = pread(t->fd, head, sizeof head, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return ps_error_sys(t->err, errno, "cannot read");
	if (n == 0)
		return ps_error_input(t->err, "not a zip or tar archive: empty "
		    "file");
	t->codec = ps_codec_detect(head, (size_t)n);
	return 0;
}

int
ps_tar_run(const struct ps_options *opts, const char *path, int fd,
    const struct stat *st, struct ps_result *res, struct ps_error *err)
{
	struct tar t;
	struct fscan fs;
	int64_t in_len;
	size_t i;
	int rc = -1, fast = 0;
	bool stream;

	memset(&t, 0, sizeof t);
	memset(&fs, 0, sizeof fs);
	t.opts = opts;
	t.path = path;
	t.fd = fd;
	t.st = st;
	t.res = res;
	t.err = err;
	t.keeping = true;
	t.can_write = opts->mode == PS_MODE_STRIP;
	ps_error_clear(&t.cb_err);
	if (sniff(&t) < 0)
		goto out;
	if (t.can_write && t.codec != PS_CODEC_NONE &&
	    (t.level = ps_codec_level(t.codec, opts->level, err)) < 0)
		goto out;
	t.threads = ps_codec_threads(opts->threads);
	if (t.codec == PS_CODEC_NONE) {
		t.map_len = (size_t)st->st_size;
		t.map = mmap(NULL, t.map_len, PROT_READ, MAP_SHARED, fd, 0);
		if (t.map == MAP_FAILED) {
			t.map = NULL;
			ps_error_sys(err, errno, "cannot map");
			goto out;
		}
		/*
		 * Only the headers are read through the map (member data is
		 * copied by copy_file_range): no read-ahead of the pages
		 * around each one, which would only be unmapped again.
		 */
		(void)madvise((void *)(uintptr_t)t.map, t.map_len,
		    MADV_RANDOM);
	}
	if ((t.py = ps_strset_new()) == NULL) {
		ps_error_nomem(err);
		goto out;
	}
	stream = !opts->keep_sourceless && opts->n_excludes == 0;
	if (t.codec == PS_CODEC_NONE &&
	    (fast = fscan_collect(&t, &fs, stream)) < 0)
		goto out;
	if (fast == 0 && stream)
		fscan_reset(&t);
	if (fast == 1) {
		t.direct = true;
		if ((stream ? fscan_book(&t, &fs) : fscan_scan(&t, &fs)) < 0)
			goto out;
		in_len = (int64_t)t.map_len;
	} else {
		fscan_release(&fs);
		if (!stream && prescan(&t) < 0)
			goto out;
		if (src_open(&t, &t.main, true) < 0 || scan(&t) < 0)
			goto out;
		if ((in_len = src_drain(&t, &t.main)) < 0)
			goto out;
	}
	/* X.pyc outside __pycache__ with no X.py anywhere beside it. */
	for (i = 0; i < t.loose.n; i++) {
		char *m = rule_name(t.loose.v[i]);

		if (m == NULL || (!has_source(&t, m) &&
		    ps_result_sourceless(res, opts, t.loose.v[i]) < 0)) {
			free(m);
			ps_error_nomem(err);
			goto out;
		}
		free(m);
	}
	if (t.dropped == 0) {
		res->bytes_after = res->bytes_before;
		if (opts->output != NULL && t.can_write &&
		    ps_archive_copy(fd, st->st_size, opts->output, st, err) < 0)
			goto out;
	} else if (!t.writing) {
		/* Dry run: the size is known without compression only. */
		if (t.codec == PS_CODEC_NONE && !t.inexact)
			res->bytes_after = t.kept_len +
			    trailer_len(t.kept_len, in_len);
	} else if (finish(&t, in_len) < 0) {
		goto out;
	}
	rc = 0;
out:
	fscan_release(&fs);
	src_close(&t.main);
	copier_release(&t);
	ps_codec_writer_free(t.zw);
	if (t.at_live)
		ps_atomic_abort(&t.at);
	if (t.map != NULL)
		munmap((void *)(uintptr_t)t.map, t.map_len);
	for (i = 0; i < t.n_recs; i++) {
		free(t.recs[i].name);
		free(t.recs[i].alias);
		free(t.recs[i].moved_to);
	}
	free(t.recs);
	ps_strset_free(t.py);
	ps_strset_free(t.held);
	ps_strset_free(t.removed);
	ps_strlist_release(&t.loose);
	free(t.win);
	return rc;
}
