#define _GNU_SOURCE
#include "codec.h"

#include <bzlib.h>
#include <errno.h>
#include <libdeflate.h>
#include <lzma.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#define ZSTD_STATIC_LINKING_ONLY  /* ZSTD_initStaticCCtx() */
#include <zstd.h>

#define CHUNK (256 * 1024)   /* decompressed bytes per queue slot */
#define NCHUNK 4             /* queue slots */
#define INSIZE (128 * 1024)  /* compressed bytes per read */
#define OUTSIZE (128 * 1024) /* compressed bytes per write */
#define GZ_BLOCK (128 * 1024) /* pigz's default block */
#define GZ_DICT 32768         /* deflate's window (RFC 1951 section 3.2.5) */
#define MAX_THREADS 64

/*
 * A bounded queue of NCHUNK buffers between one producer thread and one
 * consumer thread.  The consumer holds the buffer it took until it asks for
 * the next one, so at most NCHUNK buffers are ever filled or in use.
 *
 *     producer: q_fill_begin -> write into it -> q_fill_end(len)   ...
 *               q_finish(NULL or error)
 *     consumer: q_take -> use -> q_take (releases the previous one) ...
 *               q_fail(error) to stop the producer
 */
struct queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned char *buf[NCHUNK];
	size_t len[NCHUNK];
	uint64_t head;      /* next buffer to take */
	uint64_t tail;      /* next buffer to fill */
	bool holding;       /* the consumer holds buf[head] */
	int end;            /* 1: producer finished, -1: failed */
	bool stop;          /* the consumer gave up: the producer must stop */
	struct ps_error err;
};

static int
q_init(struct queue *q, size_t size)
{
	int i;

	memset(q, 0, sizeof *q);
	for (i = 0; i < NCHUNK; i++)
		if ((q->buf[i] = malloc(size)) == NULL)
			goto fail;
	if (pthread_mutex_init(&q->mu, NULL) != 0)
		goto fail;
	if (pthread_cond_init(&q->cv, NULL) != 0) {
		pthread_mutex_destroy(&q->mu);
		goto fail;
	}
	return 0;
fail:
	for (i = 0; i < NCHUNK; i++)
		free(q->buf[i]);
	return -1;
}

static void
q_release(struct queue *q)
{
	int i;

	pthread_cond_destroy(&q->cv);
	pthread_mutex_destroy(&q->mu);
	for (i = 0; i < NCHUNK; i++)
		free(q->buf[i]);
}

/* Returns the buffer to fill next, or NULL when the consumer stopped. */
static unsigned char *
q_fill_begin(struct queue *q)
{
	unsigned char *b = NULL;

	pthread_mutex_lock(&q->mu);
	while (!q->stop && q->tail - q->head >= NCHUNK)
		pthread_cond_wait(&q->cv, &q->mu);
	if (!q->stop)
		b = q->buf[q->tail % NCHUNK];
	pthread_mutex_unlock(&q->mu);
	return b;
}

static void
q_fill_end(struct queue *q, size_t len)
{
	pthread_mutex_lock(&q->mu);
	q->len[q->tail % NCHUNK] = len;
	q->tail++;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

static void
q_finish(struct queue *q, const struct ps_error *err)
{
	pthread_mutex_lock(&q->mu);
	/* A consumer that already failed keeps its error: finishing must
	 * not turn it into success (an encoder whose set-up failed before
	 * it took the first buffer wrote nothing). */
	if (q->end >= 0) {
		q->end = err == NULL ? 1 : -1;
		if (err != NULL)
			q->err = *err;
	}
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

static void
q_fail(struct queue *q, const struct ps_error *err)
{
	pthread_mutex_lock(&q->mu);
	q->stop = true;
	if (err != NULL && q->end >= 0) {
		q->end = -1;
		q->err = *err;
	}
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

/*
 * Releases the buffer held and takes the next: returns 1 with *b and *len
 * set, 0 when the producer finished, -1 with err set when it failed.
 */
static int
q_take(struct queue *q, unsigned char **b, size_t *len, struct ps_error *err)
{
	int rc;

	pthread_mutex_lock(&q->mu);
	if (q->holding) {
		q->head++;
		q->holding = false;
		pthread_cond_broadcast(&q->cv);
	}
	while (q->head == q->tail && q->end == 0 && !q->stop)
		pthread_cond_wait(&q->cv, &q->mu);
	if (q->head != q->tail && q->end >= 0 && !q->stop) {
		*b = q->buf[q->head % NCHUNK];
		*len = q->len[q->head % NCHUNK];
		q->holding = true;
		rc = 1;
	} else if (q->end > 0) {
		rc = 0;
	} else {
		if (q->end < 0)
			*err = q->err;
		else
			ps_error_input(err, "stream stopped");
		rc = -1;
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

enum ps_codec
ps_codec_detect(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	/* RFC 1952 section 2.3.1: ID1 ID2 CM(8 = deflate). */
	if (len >= 3 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 8)
		return PS_CODEC_GZIP;
	/* bzip2: "BZh" and the block size '1'..'9'. */
	if (len >= 4 && memcmp(p, "BZh", 3) == 0 && p[3] >= '1' && p[3] <= '9')
		return PS_CODEC_BZIP2;
	/* xz file format 1.0.4 section 2.1.1.1: header magic bytes. */
	if (len >= 6 && memcmp(p, "\xfd" "7zXZ\0", 6) == 0)
		return PS_CODEC_XZ;
	/* RFC 8878 section 3.1.1: magic number 0xFD2FB528, little endian. */
	if (len >= 4 && memcmp(p, "\x28\xb5\x2f\xfd", 4) == 0)
		return PS_CODEC_ZSTD;
	return PS_CODEC_NONE;
}

const char *
ps_codec_name(enum ps_codec c)
{
	switch (c) {
	case PS_CODEC_GZIP: return "gzip";
	case PS_CODEC_BZIP2: return "bzip2";
	case PS_CODEC_XZ: return "xz";
	case PS_CODEC_ZSTD: return "zstd";
	case PS_CODEC_NONE: break;
	}
	return "none";
}

int
ps_codec_level(enum ps_codec c, int level, struct ps_error *err)
{
	int lo = 0, hi = 0, def = 0;

	switch (c) {
	case PS_CODEC_GZIP: lo = 1; hi = 9; def = 6; break;
	case PS_CODEC_BZIP2: lo = 1; hi = 9; def = 9; break;
	case PS_CODEC_XZ: lo = 0; hi = 9; def = 6; break;
	case PS_CODEC_ZSTD: lo = 1; hi = ZSTD_maxCLevel(); def = 3; break;
	case PS_CODEC_NONE: return 0;
	}
	if (level < 0)
		return def;
	if (level < lo || level > hi)
		return ps_error_input(err, "compression level %d is out of "
		    "range for %s (%d-%d)", level, ps_codec_name(c), lo, hi);
	return level;
}

int
ps_codec_threads(int threads)
{
	long n = threads;

	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > MAX_THREADS)
		n = MAX_THREADS;
	return (int)n;
}

static int
write_all(int fd, const void *buf, size_t len, struct ps_error *err)
{
	const unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ps_error_sys(err, errno, "cannot write");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* --- reading ------------------------------------------------------------ */

struct ps_codec_reader {
	enum ps_codec codec;
	int fd;
	off_t in_off;
	unsigned char *in;
	struct queue q;
	pthread_t thread;
	bool started;
};

/* Reads the next compressed bytes into r->in: returns their count, 0 at
 * the end of the file, -1 with err set. */
static ssize_t
in_fill(struct ps_codec_reader *r, struct ps_error *err)
{
	ssize_t n;

	do
		n = pread(r->fd, r->in, INSIZE, r->in_off);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return ps_error_sys(err, errno, "cannot read");
	r->in_off += n;
	return n;
}

static bool
all_zero(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return false;
	return true;
}

/*
 * The output side every decoder shares: out_get() returns where to write
 * (NULL when the consumer stopped), out_put() hands over a full buffer.
 */
struct outbuf {
	unsigned char *p;
	size_t len;
};

static unsigned char *
out_get(struct ps_codec_reader *r, struct outbuf *o)
{
	if (o->p == NULL) {
		o->p = q_fill_begin(&r->q);
		o->len = 0;
	}
	return o->p;
}

static void
out_put(struct ps_codec_reader *r, struct outbuf *o)
{
	if (o->p != NULL && o->len > 0)
		q_fill_end(&r->q, o->len);
	o->p = NULL;
	o->len = 0;
}

/*
 * Between members (gzip, bzip2): returns 1 when the input starts another
 * member, 0 when only zeros remain (to the end of the file), -1 with err
 * set when other bytes follow.  *p and *n describe the unread input.
 */
static int
next_member(struct ps_codec_reader *r, const unsigned char **p, size_t *n,
    unsigned char magic, const char *name, struct ps_error *err)
{
	for (;;) {
		ssize_t got;

		if (*n > 0) {
			if ((*p)[0] == magic)
				return 1;
			if (!all_zero(*p, *n))
				break;
		}
		if ((got = in_fill(r, err)) < 0)
			return -1;
		if (got == 0)
			return 0;
		*p = r->in;
		*n = (size_t)got;
		if ((*p)[0] == magic)
			return 1;
		/* Zeros may pad a compressed file: anything else is garbage. */
		if (!all_zero(*p, *n))
			break;
		*n = 0;
	}
	return ps_error_input(err, "%s: trailing garbage after compressed "
	    "data", name);
}

/* RFC 1952 section 2.3.1: CRC32 then ISIZE, little endian. */
static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/*
 * inflate() parses the gzip wrapper, but its CRC-32 is left to libdeflate,
 * several times faster than zlib's: this thread is the critical path of a
 * .tar.gz.  The member's trailer is checked here.
 */
static int
decode_gzip(struct ps_codec_reader *r, struct ps_error *err)
{
	z_stream s;
	struct outbuf o = { 0 };
	unsigned char tail[8] = { 0 };   /* the last bytes of the previous read */
	uint32_t crc = 0, len = 0;
	bool full = false;
	int rc = -1;

	memset(&s, 0, sizeof s);
	if (inflateInit2(&s, 15 + 16) != Z_OK)
		return ps_error_nomem(err);
	(void)inflateValidate(&s, 0);
	for (;;) {
		unsigned char *before;
		int ret;

		if (s.avail_in == 0 && !full) {
			ssize_t n;

			if (s.next_in != NULL) {
				/* The whole buffer was used: keep its end. */
				size_t used = (size_t)(s.next_in - r->in);

				if (used >= 8) {
					memcpy(tail, s.next_in - 8, 8);
				} else {
					memmove(tail, tail + used, 8 - used);
					memcpy(tail + 8 - used, r->in, used);
				}
			}
			if ((n = in_fill(r, err)) < 0)
				goto out;
			if (n == 0) {
				ps_error_input(err, "gzip: unexpected end of file");
				goto out;
			}
			s.next_in = r->in;
			s.avail_in = (uInt)n;
		}
		if (out_get(r, &o) == NULL) {
			rc = 0;
			goto out;
		}
		before = o.p + o.len;
		s.next_out = before;
		s.avail_out = (uInt)(CHUNK - o.len);
		ret = inflate(&s, Z_NO_FLUSH);
		crc = (uint32_t)libdeflate_crc32(crc, before,
		    (size_t)(s.next_out - before));
		len += (uint32_t)(s.next_out - before);
		o.len = CHUNK - s.avail_out;
		full = s.avail_out == 0;
		if (full)
			out_put(r, &o);
		if (ret == Z_STREAM_END) {
			const unsigned char *p = s.next_in;
			size_t n = s.avail_in, used = (size_t)(p - r->in);
			unsigned char trailer[8];
			int more;

			if (used >= 8) {
				memcpy(trailer, p - 8, 8);
			} else {
				memcpy(trailer, tail + used, 8 - used);
				memcpy(trailer + 8 - used, r->in, used);
			}
			if (le32(trailer) != crc) {
				ps_error_input(err, "gzip: incorrect data check");
				goto out;
			}
			if (le32(trailer + 4) != len) {
				ps_error_input(err, "gzip: incorrect length check");
				goto out;
			}
			crc = len = 0;
			more = next_member(r, &p, &n, 0x1f, "gzip", err);
			if (more < 0)
				goto out;
			if (more == 0)
				break;
			inflateReset(&s);
			/* next_member() may have read on: no tail to keep. */
			memset(tail, 0, sizeof tail);
			s.next_in = (unsigned char *)(uintptr_t)p;
			s.avail_in = (uInt)n;
			full = false;
			continue;
		}
		if (ret == Z_BUF_ERROR || ret == Z_OK)
			continue;
		ps_error_input(err, "gzip: %s", s.msg != NULL ? s.msg :
		    ret == Z_MEM_ERROR ? "out of memory" : "corrupt data");
		goto out;
	}
	out_put(r, &o);
	rc = 0;
out:
	inflateEnd(&s);
	return rc;
}

static const char *
bz_msg(int ret)
{
	switch (ret) {
	case BZ_DATA_ERROR: return "data integrity error";
	case BZ_DATA_ERROR_MAGIC: return "not bzip2 data";
	case BZ_MEM_ERROR: return "out of memory";
	default: return "corrupt data";
	}
}

static int
decode_bzip2(struct ps_codec_reader *r, struct ps_error *err)
{
	bz_stream s;
	struct outbuf o = { 0 };
	bool full = false, live = false;
	int rc = -1;

	memset(&s, 0, sizeof s);
	if (BZ2_bzDecompressInit(&s, 0, 0) != BZ_OK)
		return ps_error_nomem(err);
	live = true;
	for (;;) {
		int ret;

		if (s.avail_in == 0 && !full) {
			ssize_t n = in_fill(r, err);

			if (n < 0)
				goto out;
			if (n == 0) {
				ps_error_input(err, "bzip2: unexpected end of file");
				goto out;
			}
			s.next_in = (char *)r->in;
			s.avail_in = (unsigned)n;
		}
		if (out_get(r, &o) == NULL) {
			rc = 0;
			goto out;
		}
		s.next_out = (char *)o.p + o.len;
		s.avail_out = (unsigned)(CHUNK - o.len);
		ret = BZ2_bzDecompress(&s);
		o.len = CHUNK - s.avail_out;
		full = s.avail_out == 0;
		if (full)
			out_put(r, &o);
		if (ret == BZ_STREAM_END) {
			const unsigned char *p = (const unsigned char *)s.next_in;
			size_t n = s.avail_in;
			int more = next_member(r, &p, &n, 'B', "bzip2", err);

			if (more < 0)
				goto out;
			if (more == 0)
				break;
			BZ2_bzDecompressEnd(&s);
			live = false;
			memset(&s, 0, sizeof s);
			if (BZ2_bzDecompressInit(&s, 0, 0) != BZ_OK) {
				ps_error_nomem(err);
				goto out;
			}
			live = true;
			s.next_in = (char *)(uintptr_t)p;
			s.avail_in = (unsigned)n;
			full = false;
			continue;
		}
		if (ret != BZ_OK) {
			ps_error_input(err, "bzip2: %s", bz_msg(ret));
			goto out;
		}
	}
	out_put(r, &o);
	rc = 0;
out:
	if (live)
		BZ2_bzDecompressEnd(&s);
	return rc;
}

static const char *
lzma_msg(lzma_ret ret)
{
	switch (ret) {
	case LZMA_MEM_ERROR: return "out of memory";
	case LZMA_MEMLIMIT_ERROR: return "memory limit reached";
	case LZMA_FORMAT_ERROR: return "not xz data";
	case LZMA_OPTIONS_ERROR: return "unsupported options";
	case LZMA_DATA_ERROR: return "compressed data is corrupt";
	case LZMA_BUF_ERROR: return "unexpected end of file";
	default: return "internal error";
	}
}

static int
decode_xz(struct ps_codec_reader *r, struct ps_error *err)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_mt mt;
	lzma_action action = LZMA_RUN;
	lzma_ret ret;
	struct outbuf o = { 0 };
	bool full = false;
	int rc = -1;

	memset(&mt, 0, sizeof mt);
	/* Concatenated streams and stream padding, as xz(1) accepts. */
	mt.flags = LZMA_CONCATENATED;
	mt.threads = (uint32_t)ps_codec_threads(0);
	mt.memlimit_threading = 512u << 20;
	mt.memlimit_stop = UINT64_MAX;
	ret = lzma_stream_decoder_mt(&s, &mt);
	if (ret != LZMA_OK)
		return ps_error_input(err, "xz: %s", lzma_msg(ret));
	for (;;) {
		if (s.avail_in == 0 && !full && action == LZMA_RUN) {
			ssize_t n = in_fill(r, err);

			if (n < 0)
				goto out;
			if (n == 0)
				action = LZMA_FINISH;
			s.next_in = r->in;
			s.avail_in = (size_t)n;
		}
		if (out_get(r, &o) == NULL) {
			rc = 0;
			goto out;
		}
		s.next_out = o.p + o.len;
		s.avail_out = CHUNK - o.len;
		ret = lzma_code(&s, action);
		o.len = CHUNK - s.avail_out;
		full = s.avail_out == 0;
		if (full)
			out_put(r, &o);
		if (ret == LZMA_STREAM_END)
			break;
		if (ret != LZMA_OK) {
			ps_error_input(err, "xz: %s", lzma_msg(ret));
			goto out;
		}
	}
	out_put(r, &o);
	rc = 0;
out:
	lzma_end(&s);
	return rc;
}

static int
decode_zstd(struct ps_codec_reader *r, struct ps_error *err)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	ZSTD_inBuffer in = { NULL, 0, 0 };
	struct outbuf o = { 0 };
	size_t last = 1;
	bool full = false;
	int rc = -1;

	if (d == NULL)
		return ps_error_nomem(err);
	for (;;) {
		ZSTD_outBuffer ob;
		size_t ret;

		if (in.pos == in.size && !full) {
			ssize_t n = in_fill(r, err);

			if (n < 0)
				goto out;
			if (n == 0)
				break;
			in.src = r->in;
			in.size = (size_t)n;
			in.pos = 0;
		}
		if (out_get(r, &o) == NULL) {
			rc = 0;
			goto out;
		}
		ob.dst = o.p;
		ob.size = CHUNK;
		ob.pos = o.len;
		/* Frames follow one another; skippable frames are skipped. */
		ret = ZSTD_decompressStream(d, &ob, &in);
		o.len = ob.pos;
		full = ob.pos == ob.size;
		if (full)
			out_put(r, &o);
		if (ZSTD_isError(ret)) {
			ps_error_input(err, "zstd: %s", ZSTD_getErrorName(ret));
			goto out;
		}
		last = ret;
	}
	if (last != 0) {
		ps_error_input(err, "zstd: unexpected end of file");
		goto out;
	}
	out_put(r, &o);
	rc = 0;
out:
	ZSTD_freeDCtx(d);
	return rc;
}

static void *
reader_main(void *arg)
{
	struct ps_codec_reader *r = arg;
	struct ps_error err;
	int rc = -1;

	ps_error_clear(&err);
	switch (r->codec) {
	case PS_CODEC_GZIP: rc = decode_gzip(r, &err); break;
	case PS_CODEC_BZIP2: rc = decode_bzip2(r, &err); break;
	case PS_CODEC_XZ: rc = decode_xz(r, &err); break;
	case PS_CODEC_ZSTD: rc = decode_zstd(r, &err); break;
	case PS_CODEC_NONE:
		rc = ps_error_input(&err, "not a compressed stream");
		break;
	}
	q_finish(&r->q, rc < 0 ? &err : NULL);
	return NULL;
}

struct ps_codec_reader *
ps_codec_reader_new(enum ps_codec c, int fd, struct ps_error *err)
{
	struct ps_codec_reader *r = calloc(1, sizeof *r);
	int e;

	if (r == NULL || (r->in = malloc(INSIZE)) == NULL)
		goto nomem;
	if (q_init(&r->q, CHUNK) < 0)
		goto nomem;
	r->codec = c;
	r->fd = fd;
	e = pthread_create(&r->thread, NULL, reader_main, r);
	if (e != 0) {
		q_release(&r->q);
		free(r->in);
		free(r);
		ps_error_sys(err, e, "cannot start a thread");
		return NULL;
	}
	r->started = true;
	return r;
nomem:
	if (r != NULL)
		free(r->in);
	free(r);
	ps_error_nomem(err);
	return NULL;
}

ssize_t
ps_codec_read(struct ps_codec_reader *r, const void **buf,
    struct ps_error *err)
{
	unsigned char *b;
	size_t len;
	int rc = q_take(&r->q, &b, &len, err);

	if (rc <= 0)
		return rc;
	*buf = b;
	return (ssize_t)len;
}

void
ps_codec_reader_free(struct ps_codec_reader *r)
{
	if (r == NULL)
		return;
	if (r->started) {
		q_fail(&r->q, NULL);
		pthread_join(r->thread, NULL);
	}
	q_release(&r->q);
	free(r->in);
	free(r);
}

/* --- writing ------------------------------------------------------------ */

/*
 * gzip and zstd are compressed by a pool of workers, block by block, and
 * written in order by the thread that calls ps_codec_write().
 *
 * gzip, 128 KiB blocks, each primed with the 32 KiB before it:
 *
 *    input  |  block 0  |  block 1  |  block 2  | ...
 *                    [dict]      [dict]            last 32 KiB before
 *    output hdr | deflate 0 (sync) | deflate 1 (sync) | ... (final) | crc len
 *
 * The blocks' raw deflate streams, each ended by a sync flush (an empty
 * stored block: byte aligned, not final) and the last by Z_FINISH, join
 * into one deflate stream; the CRC-32s join with crc32_combine().
 *
 * zstd, 4 MiB blocks, each compressed on its own into one whole frame
 * (content size and checksum in it) by ZSTD_compress2():
 *
 *    input  |  block 0  |  block 1  |  block 2  | ...
 *    output | frame 0   | frame 1   | frame 2   | ...
 *
 * Frames one after another are one zstd stream (RFC 8878 section 3.1),
 * read by zstd -d, GNU tar, libarchive and our reader.  Independent 4 MiB
 * frames cost about 0.6 % in size at level 3 against one frame.  libzstd's
 * own worker pool (ZSTD_c_nbWorkers) is not used: in 1.5.4 a failed
 * allocation inside it can crash, or end the frame early while reporting
 * success (found by fault injection: a truncated .tar.zst and exit 0).
 * Each of our workers has a static context allocated up front instead, in
 * which libzstd never allocates, and every frame is checked to hold its
 * whole block before it is written.
 */
#define ZS_BLOCK (4 * 1024 * 1024)

enum job_state { JOB_FREE, JOB_READY, JOB_BUSY, JOB_DONE, JOB_FAILED };

struct job {
	unsigned char *in;
	size_t in_len;
	unsigned char *dict;      /* gzip: the bytes before in */
	size_t dict_len;
	unsigned char *out;
	size_t out_len;
	size_t out_cap;
	uLong crc;                /* gzip: CRC-32 of in */
	bool last;                /* gzip: the final block */
	const char *why;          /* JOB_FAILED: what failed, NULL: memory */
	enum job_state state;
};

struct worker {
	struct ps_codec_writer *w;
	pthread_t thread;
	void *zs_space;           /* zstd: the memory zs lives in */
	ZSTD_CCtx *zs;            /* zstd: static context */
};

struct ps_codec_writer {
	enum ps_codec codec;
	int level;
	int fd;
	int threads;
	uint64_t written;
	struct ps_error err;      /* the first failure of a thread */
	bool failed;

	/* gzip, zstd: a pool of workers */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool sync_live;
	struct job *jobs;
	size_t njobs;
	size_t block;             /* input bytes per job */
	uint64_t filling;         /* index of the job being filled */
	uint64_t taken;           /* jobs taken by workers */
	uint64_t next_write;      /* next job to write out */
	unsigned char tail[GZ_DICT]; /* gzip: the last bytes before the
				      * filled job */
	size_t tail_len;
	uLong crc;
	uint64_t total;
	struct worker *workers;
	int nworkers;
	bool quit;

	/* bzip2, xz: one encoding thread behind a queue */
	struct queue q;
	bool q_live;
	pthread_t thread;
	bool thread_live;
	unsigned char *fill;
	size_t fill_len;
};

static bool
pooled(enum ps_codec c)
{
	return c == PS_CODEC_GZIP || c == PS_CODEC_ZSTD;
}

static void
set_failed(struct ps_codec_writer *w, const struct ps_error *err)
{
	if (!w->failed) {
		w->failed = true;
		w->err = *err;
	}
}

static int
deflate_job(z_stream *s, struct job *j)
{
	int ret;

	if (deflateReset(s) != Z_OK)
		return -1;
	if (j->dict_len > 0 &&
	    deflateSetDictionary(s, j->dict, (uInt)j->dict_len) != Z_OK)
		return -1;
	s->next_in = j->in;
	s->avail_in = (uInt)j->in_len;
	j->out_len = 0;
	for (;;) {
		size_t need = deflateBound(s, (uLong)j->in_len) + 64;

		if (j->out_cap - j->out_len < need) {
			unsigned char *p = realloc(j->out, j->out_len + need);

			if (p == NULL)
				return -1;
			j->out = p;
			j->out_cap = j->out_len + need;
		}
		s->next_out = j->out + j->out_len;
		s->avail_out = (uInt)(j->out_cap - j->out_len);
		ret = deflate(s, j->last ? Z_FINISH : Z_SYNC_FLUSH);
		j->out_len = j->out_cap - s->avail_out;
		if (j->last ? ret == Z_STREAM_END :
		    ret == Z_OK && s->avail_in == 0 && s->avail_out > 0)
			break;
		if (ret != Z_OK && ret != Z_BUF_ERROR)
			return -1;
	}
	j->crc = (uLong)libdeflate_crc32(0, j->in, j->in_len);
	return 0;
}

/* One whole frame of j->in into j->out (ZSTD_compressBound() bytes). */
static int
zstd_job(ZSTD_CCtx *zs, struct job *j)
{
	size_t n = ZSTD_compress2(zs, j->out, j->out_cap, j->in, j->in_len);

	if (ZSTD_isError(n)) {
		j->why = ZSTD_getErrorName(n);
		return -1;
	}
	/* A library that lost data without saying so must not be believed. */
	if (ZSTD_findFrameCompressedSize(j->out, n) != n ||
	    ZSTD_getFrameContentSize(j->out, n) != j->in_len) {
		j->why = "the compression library lost data";
		return -1;
	}
	j->out_len = n;
	return 0;
}

static void *
pool_worker(void *arg)
{
	struct worker *me = arg;
	struct ps_codec_writer *w = me->w;
	z_stream s;
	bool ok = true;

	memset(&s, 0, sizeof s);
	if (w->codec == PS_CODEC_GZIP)
		ok = deflateInit2(&s, w->level, Z_DEFLATED, -15, 8,
		    Z_DEFAULT_STRATEGY) == Z_OK;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct job *j;

		while (!w->quit && (w->taken == w->filling ||
		    w->jobs[w->taken % w->njobs].state != JOB_READY))
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->quit)
			break;
		j = &w->jobs[w->taken++ % w->njobs];
		j->state = JOB_BUSY;
		pthread_mutex_unlock(&w->mu);
		if (ok)
			ok = (w->codec == PS_CODEC_GZIP ? deflate_job(&s, j) :
			    zstd_job(me->zs, j)) == 0;
		pthread_mutex_lock(&w->mu);
		j->state = ok ? JOB_DONE : JOB_FAILED;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	if (s.state != NULL)
		deflateEnd(&s);
	return NULL;
}

/* Waits for the oldest unwritten job and writes it out. */
static int
pool_write_one(struct ps_codec_writer *w, struct ps_error *err)
{
	struct job *j = &w->jobs[w->next_write % w->njobs];
	enum job_state st;

	pthread_mutex_lock(&w->mu);
	while ((st = j->state) != JOB_DONE && st != JOB_FAILED)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	if (st == JOB_FAILED && j->why != NULL)
		return ps_error_input(err, "%s: %s", ps_codec_name(w->codec),
		    j->why);
	if (st == JOB_FAILED)
		return ps_error_nomem(err);
	if (write_all(w->fd, j->out, j->out_len, err) < 0)
		return -1;
	w->written += j->out_len;
	if (w->codec == PS_CODEC_GZIP)
		w->crc = crc32_combine(w->crc, j->crc, (z_off_t)j->in_len);
	pthread_mutex_lock(&w->mu);
	j->state = JOB_FREE;
	j->in_len = 0;
	pthread_mutex_unlock(&w->mu);
	w->next_write++;
	return 0;
}

/* gzip: primes the filled job with the bytes before it. */
static void
gz_prime(struct ps_codec_writer *w, struct job *j)
{
	memcpy(j->dict, w->tail, w->tail_len);
	j->dict_len = w->tail_len;
	if (j->in_len >= GZ_DICT) {
		memcpy(w->tail, j->in + j->in_len - GZ_DICT, GZ_DICT);
		w->tail_len = GZ_DICT;
	} else {
		size_t keep = GZ_DICT - j->in_len;

		if (keep > w->tail_len)
			keep = w->tail_len;
		memmove(w->tail, w->tail + w->tail_len - keep, keep);
		memcpy(w->tail + keep, j->in, j->in_len);
		w->tail_len = keep + j->in_len;
	}
}

/* Hands the filled job to the workers and readies the next one. */
static int
pool_submit(struct ps_codec_writer *w, bool last, struct ps_error *err)
{
	struct job *j = &w->jobs[w->filling % w->njobs];

	if (w->codec == PS_CODEC_GZIP)
		gz_prime(w, j);
	j->last = last;
	j->why = NULL;
	w->total += j->in_len;
	pthread_mutex_lock(&w->mu);
	j->state = JOB_READY;
	w->filling++;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	/* The next job's slot must have been written out. */
	while (w->next_write + w->njobs <= w->filling)
		if (pool_write_one(w, err) < 0)
			return -1;
	return 0;
}

static int
pool_write(struct ps_codec_writer *w, const unsigned char *p, size_t len,
    struct ps_error *err)
{
	while (len > 0) {
		struct job *j = &w->jobs[w->filling % w->njobs];
		size_t n = w->block - j->in_len;

		if (n > len)
			n = len;
		memcpy(j->in + j->in_len, p, n);
		j->in_len += n;
		p += n;
		len -= n;
		if (j->in_len == w->block && pool_submit(w, false, err) < 0)
			return -1;
	}
	return 0;
}

static int
pool_finish(struct ps_codec_writer *w, struct ps_error *err)
{
	unsigned char trailer[8];
	int i;

	/*
	 * gzip ends with a final block, empty or not; zstd with the last
	 * partial block's frame, or one empty frame when there was no input.
	 */
	if ((w->codec == PS_CODEC_GZIP || w->filling == 0 ||
	    w->jobs[w->filling % w->njobs].in_len > 0) &&
	    pool_submit(w, true, err) < 0)
		return -1;
	while (w->next_write < w->filling)
		if (pool_write_one(w, err) < 0)
			return -1;
	if (w->codec != PS_CODEC_GZIP)
		return 0;
	/* RFC 1952 section 2.3.1: CRC32 and ISIZE, little endian. */
	for (i = 0; i < 4; i++) {
		trailer[i] = (unsigned char)(w->crc >> (8 * i));
		trailer[4 + i] = (unsigned char)(w->total >> (8 * i));
	}
	if (write_all(w->fd, trailer, sizeof trailer, err) < 0)
		return -1;
	w->written += sizeof trailer;
	return 0;
}

/*
 * zstd: a worker's context, with all the memory a frame of up to ZS_BLOCK
 * bytes at w->level needs (libzstd 1.5.4 crashes or ends a frame early
 * when an allocation of its own fails; a static context never allocates).
 */
static int
zstd_context(struct ps_codec_writer *w, struct worker *k, struct ps_error *err)
{
	ZSTD_compressionParameters cp = ZSTD_getCParams(w->level, ZS_BLOCK, 0);
	size_t need = ZSTD_estimateCCtxSize_usingCParams(cp);

	if ((k->zs_space = malloc(need)) == NULL)
		return ps_error_nomem(err);
	k->zs = ZSTD_initStaticCCtx(k->zs_space, need);
	if (k->zs == NULL)
		return ps_error_input(err, "zstd: cannot set up the encoder");
	if (ZSTD_isError(ZSTD_CCtx_setParameter(k->zs,
	    ZSTD_c_compressionLevel, w->level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(k->zs,
	    ZSTD_c_checksumFlag, 1)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(k->zs,
	    ZSTD_c_contentSizeFlag, 1)))
		return ps_error_input(err, "zstd: cannot set level %d",
		    w->level);
	return 0;
}

static int
pool_start(struct ps_codec_writer *w, struct ps_error *err)
{
	/*
	 * RFC 1952 section 2.3.1: ID1 ID2 CM FLG(none: no name) MTIME(0)
	 * XFL(2: best, 4: fastest) OS(3: Unix), as `gzip -n` writes it.
	 */
	unsigned char hdr[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3 };
	bool gz = w->codec == PS_CODEC_GZIP;
	size_t i, out = gz ? 0 : ZSTD_compressBound(ZS_BLOCK);
	int t, e;

	if (pthread_mutex_init(&w->mu, NULL) != 0)
		return ps_error_nomem(err);
	if (pthread_cond_init(&w->cv, NULL) != 0) {
		pthread_mutex_destroy(&w->mu);
		return ps_error_nomem(err);
	}
	w->sync_live = true;
	w->crc = crc32(0L, Z_NULL, 0);
	/* Enough blocks to keep every worker busy while one is written. */
	w->block = gz ? GZ_BLOCK : ZS_BLOCK;
	w->njobs = gz ? 2 * (size_t)w->threads + 2 : (size_t)w->threads + 2;
	w->jobs = calloc(w->njobs, sizeof *w->jobs);
	if (w->jobs == NULL)
		return ps_error_nomem(err);
	for (i = 0; i < w->njobs; i++) {
		struct job *j = &w->jobs[i];

		if ((j->in = malloc(w->block)) == NULL ||
		    (gz && (j->dict = malloc(GZ_DICT)) == NULL) ||
		    (!gz && (j->out = malloc(out)) == NULL))
			return ps_error_nomem(err);
		j->out_cap = out;
	}
	w->workers = calloc((size_t)w->threads, sizeof *w->workers);
	if (w->workers == NULL)
		return ps_error_nomem(err);
	for (t = 0; t < w->threads; t++) {
		w->workers[t].w = w;
		if (!gz && zstd_context(w, &w->workers[t], err) < 0)
			return -1;
	}
	for (; w->nworkers < w->threads; w->nworkers++) {
		struct worker *k = &w->workers[w->nworkers];

		e = pthread_create(&k->thread, NULL, pool_worker, k);
		if (e != 0)
			return ps_error_sys(err, e, "cannot start a thread");
	}
	if (!gz)
		return 0;
	hdr[8] = w->level == 9 ? 2 : w->level == 1 ? 4 : 0;
	if (write_all(w->fd, hdr, sizeof hdr, err) < 0)
		return -1;
	w->written += sizeof hdr;
	return 0;
}

/* The stream encoders (bzip2, xz): each runs in the writer's thread. */
struct enc {
	struct ps_codec_writer *w;
	unsigned char out[OUTSIZE];
	bz_stream bz;
	lzma_stream xz;
	uint64_t fed;     /* bytes given to the encoder */
};

static int
enc_flush(struct enc *e, size_t len, struct ps_error *err)
{
	if (write_all(e->w->fd, e->out, len, err) < 0)
		return -1;
	e->w->written += len;
	return 0;
}

static int
enc_bzip2(struct enc *e, const unsigned char *p, size_t len, bool end,
    struct ps_error *err)
{
	e->bz.next_in = (char *)(uintptr_t)p;
	e->bz.avail_in = (unsigned)len;
	for (;;) {
		int ret;

		e->bz.next_out = (char *)e->out;
		e->bz.avail_out = OUTSIZE;
		ret = BZ2_bzCompress(&e->bz, end ? BZ_FINISH : BZ_RUN);
		if (ret < 0)
			return ps_error_input(err, "bzip2: %s", bz_msg(ret));
		if (enc_flush(e, OUTSIZE - e->bz.avail_out, err) < 0)
			return -1;
		if (end ? ret == BZ_STREAM_END : e->bz.avail_in == 0)
			return 0;
	}
}

static int
enc_xz(struct enc *e, const unsigned char *p, size_t len, bool end,
    struct ps_error *err)
{
	e->xz.next_in = p;
	e->xz.avail_in = len;
	for (;;) {
		lzma_ret ret;

		e->xz.next_out = e->out;
		e->xz.avail_out = OUTSIZE;
		ret = lzma_code(&e->xz, end ? LZMA_FINISH : LZMA_RUN);
		if (ret != LZMA_OK && ret != LZMA_STREAM_END)
			return ps_error_input(err, "xz: %s", lzma_msg(ret));
		if (enc_flush(e, OUTSIZE - e->xz.avail_out, err) < 0)
			return -1;
		if (end ? ret == LZMA_STREAM_END :
		    e->xz.avail_in == 0 && e->xz.avail_out > 0)
			return 0;
	}
}

static int
enc_init(struct enc *e, struct ps_codec_writer *w, struct ps_error *err)
{
	memset(e, 0, sizeof *e);
	e->w = w;
	switch (w->codec) {
	case PS_CODEC_BZIP2:
		if (BZ2_bzCompressInit(&e->bz, w->level, 0, 0) != BZ_OK)
			return ps_error_nomem(err);
		return 0;
	case PS_CODEC_XZ: {
		lzma_mt mt;
		lzma_options_lzma lz;
		lzma_ret ret;

		/*
		 * The multi-threaded encoder even for one thread: its
		 * output depends on the block size, not on the threads.
		 * Blocks of 2.5 dictionaries instead of liblzma's 3 (20 MiB
		 * at level 6): the kept part of a typical sdist, tens of MB,
		 * then splits into blocks that keep two cores busy, for under
		 * 1 % in size on the bench corpus (2 dictionaries: +2.4 %).
		 */
		memset(&mt, 0, sizeof mt);
		mt.threads = (uint32_t)w->threads;
		mt.preset = (uint32_t)w->level;
		mt.check = LZMA_CHECK_CRC64;
		if (!lzma_lzma_preset(&lz, mt.preset))
			mt.block_size = (uint64_t)lz.dict_size * 5 / 2;
		e->xz = (lzma_stream)LZMA_STREAM_INIT;
		ret = lzma_stream_encoder_mt(&e->xz, &mt);
		if (ret != LZMA_OK)
			return ps_error_input(err, "xz: %s", lzma_msg(ret));
		return 0;
	}
	default:
		return ps_error_input(err, "no encoder for %s",
		    ps_codec_name(w->codec));
	}
}

static void
enc_end(struct enc *e)
{
	switch (e->w->codec) {
	case PS_CODEC_BZIP2: BZ2_bzCompressEnd(&e->bz); break;
	case PS_CODEC_XZ: lzma_end(&e->xz); break;
	default: break;
	}
}

/*
 * Returns whether the encoder took in every byte it was given.  A
 * compression library that loses data on an internal failure without
 * saying so (as libzstd's worker pool does when an allocation fails, or
 * liblzma's threads could) must not produce an archive that pycstrip then puts in place.
 */
static bool
enc_took_all(const struct enc *e)
{
	switch (e->w->codec) {
	case PS_CODEC_BZIP2:
		return ((uint64_t)e->bz.total_in_hi32 << 32 |
		    e->bz.total_in_lo32) == e->fed;
	case PS_CODEC_XZ:
		return e->xz.total_in == e->fed;
	default:
		return false;
	}
}

static int
enc_run(struct enc *e, const unsigned char *p, size_t len, bool end,
    struct ps_error *err)
{
	int rc;

	e->fed += len;
	switch (e->w->codec) {
	case PS_CODEC_BZIP2: rc = enc_bzip2(e, p, len, end, err); break;
	case PS_CODEC_XZ: rc = enc_xz(e, p, len, end, err); break;
	default: return ps_error_input(err, "no encoder");
	}
	if (rc == 0 && end && (!enc_took_all(e) || e->w->written == 0))
		return ps_error_input(err, "%s: the compression library lost "
		    "data (out of memory in its threads?)",
		    ps_codec_name(e->w->codec));
	return rc;
}

static void *
writer_main(void *arg)
{
	struct ps_codec_writer *w = arg;
	struct ps_error err;
	struct enc *e = malloc(sizeof *e);
	int rc = -1;

	ps_error_clear(&err);
	if (e == NULL) {
		ps_error_nomem(&err);
		q_fail(&w->q, &err);
		return NULL;
	}
	if (enc_init(e, w, &err) == 0) {
		for (;;) {
			unsigned char *b;
			size_t len;
			int got = q_take(&w->q, &b, &len, &err);

			if (got < 0)
				break;
			if (got == 0) {
				rc = enc_run(e, NULL, 0, true, &err);
				break;
			}
			if (enc_run(e, b, len, false, &err) < 0)
				break;
		}
	}
	enc_end(e);
	free(e);
	if (rc < 0)
		q_fail(&w->q, &err);
	else
		q_fail(&w->q, NULL);
	return NULL;
}

struct ps_codec_writer *
ps_codec_writer_new(enum ps_codec c, int level, int threads, int fd,
    struct ps_error *err)
{
	struct ps_codec_writer *w = calloc(1, sizeof *w);
	int e;

	if (w == NULL) {
		ps_error_nomem(err);
		return NULL;
	}
	w->codec = c;
	w->level = level;
	w->fd = fd;
	w->threads = threads < 1 ? 1 : threads;
	if (pooled(c)) {
		if (pool_start(w, err) < 0)
			goto fail;
		return w;
	}
	if (q_init(&w->q, CHUNK) < 0) {
		ps_error_nomem(err);
		goto fail;
	}
	w->q_live = true;
	e = pthread_create(&w->thread, NULL, writer_main, w);
	if (e != 0) {
		ps_error_sys(err, e, "cannot start a thread");
		goto fail;
	}
	w->thread_live = true;
	return w;
fail:
	ps_codec_writer_free(w);
	return NULL;
}

/* The error that stopped the encoding thread. */
static int
stream_error(struct ps_codec_writer *w, struct ps_error *err)
{
	pthread_mutex_lock(&w->q.mu);
	if (w->q.end < 0)
		*err = w->q.err;
	else
		ps_error_input(err, "%s: encoder stopped",
		    ps_codec_name(w->codec));
	pthread_mutex_unlock(&w->q.mu);
	set_failed(w, err);
	return -1;
}

int
ps_codec_write(struct ps_codec_writer *w, const void *buf, size_t len,
    struct ps_error *err)
{
	const unsigned char *p = buf;

	if (w->failed) {
		*err = w->err;
		return -1;
	}
	if (pooled(w->codec)) {
		if (pool_write(w, p, len, err) < 0) {
			set_failed(w, err);
			return -1;
		}
		return 0;
	}
	while (len > 0) {
		size_t n;

		if (w->fill == NULL) {
			w->fill = q_fill_begin(&w->q);
			w->fill_len = 0;
			if (w->fill == NULL)
				return stream_error(w, err);
		}
		n = CHUNK - w->fill_len;
		if (n > len)
			n = len;
		memcpy(w->fill + w->fill_len, p, n);
		w->fill_len += n;
		p += n;
		len -= n;
		if (w->fill_len == CHUNK) {
			q_fill_end(&w->q, CHUNK);
			w->fill = NULL;
		}
	}
	return 0;
}

int
ps_codec_writer_finish(struct ps_codec_writer *w, uint64_t *written,
    struct ps_error *err)
{
	if (w->failed) {
		*err = w->err;
		return -1;
	}
	if (pooled(w->codec)) {
		if (pool_finish(w, err) < 0) {
			set_failed(w, err);
			return -1;
		}
	} else {
		if (w->fill != NULL && w->fill_len > 0)
			q_fill_end(&w->q, w->fill_len);
		w->fill = NULL;
		q_finish(&w->q, NULL);
		pthread_join(w->thread, NULL);
		w->thread_live = false;
		pthread_mutex_lock(&w->q.mu);
		if (w->q.end < 0) {
			*err = w->q.err;
			pthread_mutex_unlock(&w->q.mu);
			set_failed(w, err);
			return -1;
		}
		pthread_mutex_unlock(&w->q.mu);
	}
	*written = w->written;
	return 0;
}

void
ps_codec_writer_free(struct ps_codec_writer *w)
{
	size_t i;
	int t;

	if (w == NULL)
		return;
	if (w->sync_live) {
		pthread_mutex_lock(&w->mu);
		w->quit = true;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		for (t = 0; t < w->nworkers; t++)
			pthread_join(w->workers[t].thread, NULL);
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
	}
	if (w->workers != NULL)
		for (t = 0; t < w->threads; t++)
			free(w->workers[t].zs_space);
	free(w->workers);
	if (w->jobs != NULL)
		for (i = 0; i < w->njobs; i++) {
			free(w->jobs[i].in);
			free(w->jobs[i].dict);
			free(w->jobs[i].out);
		}
	free(w->jobs);
	if (w->thread_live) {
		/* Stop the encoder: q_take() fails, it returns. */
		q_fail(&w->q, NULL);
		pthread_join(w->thread, NULL);
	}
	if (w->q_live)
		q_release(&w->q);
	free(w);
}
