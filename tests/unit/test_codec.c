/*
 * test_codec.c - the compressed streams: round trips through the writer and
 * the reader, output independent of the thread count, zstd's independent
 * 4 MiB frames (read back by the zstd command too), and every check the
 * reader must make (truncation, CRC, trailing garbage).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <zlib.h>
#include <zstd.h>

#include "codec.h"

static char dir[256];

static void
setup(void)
{
	snprintf(dir, sizeof dir, "%s/ps-codec.XXXXXX",
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
}

static void
teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(codec, .init = setup, .fini = teardown);

/* Text-like, compressible, different in every block. */
static unsigned char *
sample(size_t n)
{
	unsigned char *p = malloc(n ? n : 1);
	size_t i;
	unsigned x = 12345;

	cr_assert_not_null(p);
	for (i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (unsigned char)("def f(x):\n    return x\n"[i % 24] +
		    ((x >> 24) % 4 == 0 ? (x >> 16) % 3 : 0));
	}
	return p;
}

/* Compresses data into a new file; returns its fd (at offset 0). */
static int
compress_to(const char *name, enum ps_codec c, int level, int threads,
    const unsigned char *data, size_t n, size_t step)
{
	char path[400];
	struct ps_error err = { 0 };
	struct ps_codec_writer *w;
	uint64_t written = 0;
	size_t off;
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	w = ps_codec_writer_new(c, level, threads, fd, &err);
	cr_assert_not_null(w, "%s", err.msg);
	for (off = 0; off < n; off += step) {
		size_t k = n - off < step ? n - off : step;

		cr_assert_eq(ps_codec_write(w, data + off, k, &err), 0, "%s",
		    err.msg);
	}
	cr_assert_eq(ps_codec_writer_finish(w, &written, &err), 0, "%s",
	    err.msg);
	ps_codec_writer_free(w);
	cr_assert_eq((off_t)written, lseek(fd, 0, SEEK_END));
	return fd;
}

/* Decompresses the file on fd; returns the bytes (*n set), or NULL with
 * err set. */
static unsigned char *
decompress(int fd, enum ps_codec c, size_t *n, struct ps_error *err)
{
	struct ps_codec_reader *r = ps_codec_reader_new(c, fd, err);
	unsigned char *out = NULL;
	const void *b;
	ssize_t got;

	cr_assert_not_null(r, "%s", err->msg);
	*n = 0;
	while ((got = ps_codec_read(r, &b, err)) > 0) {
		out = realloc(out, *n + (size_t)got);
		cr_assert_not_null(out);
		memcpy(out + *n, b, (size_t)got);
		*n += (size_t)got;
	}
	ps_codec_reader_free(r);
	if (got < 0) {
		free(out);
		return NULL;
	}
	return out ? out : malloc(1);
}

static unsigned char *
file_bytes(int fd, size_t *n)
{
	off_t size = lseek(fd, 0, SEEK_END);
	unsigned char *p = malloc((size_t)size + 1);

	cr_assert_not_null(p);
	cr_assert_eq(pread(fd, p, (size_t)size, 0), size);
	*n = (size_t)size;
	return p;
}

static void
round_trip(enum ps_codec c, size_t n, size_t step)
{
	unsigned char *data = sample(n), *back;
	struct ps_error err = { 0 };
	size_t got;
	int fd = compress_to("rt", c, ps_codec_level(c, -1, &err), 2, data,
	    n, step);
	unsigned char head[8];

	cr_assert_eq(pread(fd, head, sizeof head, 0), (ssize_t)sizeof head);
	cr_assert_eq(ps_codec_detect(head, sizeof head), c);
	back = decompress(fd, c, &got, &err);
	cr_assert_not_null(back, "%s: %s", ps_codec_name(c), err.msg);
	cr_assert_eq(got, n, "%s: %zu bytes back, want %zu",
	    ps_codec_name(c), got, n);
	cr_assert(memcmp(back, data, n) == 0, "%s: bytes differ",
	    ps_codec_name(c));
	close(fd);
	free(back);
	free(data);
}

Test(codec, round_trips_every_codec)
{
	static const enum ps_codec all[] = { PS_CODEC_GZIP, PS_CODEC_BZIP2,
	    PS_CODEC_XZ, PS_CODEC_ZSTD };
	size_t i;

	for (i = 0; i < 4; i++) {
		round_trip(all[i], 0, 1);
		round_trip(all[i], 1, 1);
		round_trip(all[i], 700 * 1024 + 3, 4096);
		round_trip(all[i], 300 * 1024, 300 * 1024);
	}
}

Test(codec, detects_by_magic_only)
{
	cr_assert_eq(ps_codec_detect("\x1f\x8b\x08", 3), PS_CODEC_GZIP);
	cr_assert_eq(ps_codec_detect("BZh9", 4), PS_CODEC_BZIP2);
	cr_assert_eq(ps_codec_detect("BZh0", 4), PS_CODEC_NONE);
	cr_assert_eq(ps_codec_detect("\xfd" "7zXZ\0", 6), PS_CODEC_XZ);
	cr_assert_eq(ps_codec_detect("\x28\xb5\x2f\xfd", 4), PS_CODEC_ZSTD);
	cr_assert_eq(ps_codec_detect("ustar", 5), PS_CODEC_NONE);
	cr_assert_eq(ps_codec_detect("", 0), PS_CODEC_NONE);
}

Test(codec, output_does_not_depend_on_threads)
{
	static const enum ps_codec all[] = { PS_CODEC_GZIP, PS_CODEC_XZ,
	    PS_CODEC_ZSTD };
	size_t n = 1500 * 1024, i, a_len, b_len;
	unsigned char *data = sample(n);
	struct ps_error err = { 0 };

	for (i = 0; i < 3; i++) {
		int level = ps_codec_level(all[i], -1, &err);
		int a = compress_to("t1", all[i], level, 1, data, n, 65536);
		int b = compress_to("t4", all[i], level, 4, data, n, 1000);
		unsigned char *pa = file_bytes(a, &a_len);
		unsigned char *pb = file_bytes(b, &b_len);

		cr_assert(a_len == b_len && memcmp(pa, pb, a_len) == 0,
		    "%s: 1 and 4 threads differ", ps_codec_name(all[i]));
		free(pa);
		free(pb);
		close(a);
		close(b);
	}
	free(data);
}

Test(codec, gzip_is_one_member_without_name_or_time)
{
	size_t n = 400 * 1024, len;
	unsigned char *data = sample(n);
	int fd = compress_to("g", PS_CODEC_GZIP, 6, 3, data, n, 8192);
	unsigned char *p = file_bytes(fd, &len);
	unsigned char *back = malloc(n);
	z_stream s;

	/* RFC 1952: no FLG bits, MTIME 0, OS 3. */
	cr_assert_eq(p[3], 0);
	cr_assert_eq(p[4] | p[5] | p[6] | p[7], 0);
	cr_assert_eq(p[9], 3);
	/* zlib alone inflates it in one member, to the end of the file. */
	memset(&s, 0, sizeof s);
	cr_assert_eq(inflateInit2(&s, 31), Z_OK);
	s.next_in = p;
	s.avail_in = (uInt)len;
	s.next_out = back;
	s.avail_out = (uInt)n;
	cr_assert_eq(inflate(&s, Z_FINISH), Z_STREAM_END);
	cr_assert_eq(s.avail_in, 0);
	cr_assert_eq(s.total_out, n);
	cr_assert(memcmp(back, data, n) == 0);
	inflateEnd(&s);
	free(back);
	free(p);
	free(data);
	close(fd);
}

/* Rewrites the file on fd with the first len bytes of p. */
static void
replace(int fd, const unsigned char *p, size_t len)
{
	cr_assert_eq(ftruncate(fd, 0), 0);
	cr_assert_eq(pwrite(fd, p, len, 0), (ssize_t)len);
}

static void
expect_failure(int fd, enum ps_codec c, const char *want)
{
	struct ps_error err = { 0 };
	size_t n;
	unsigned char *back = decompress(fd, c, &n, &err);

	cr_assert_null(back, "%s: damaged stream accepted", ps_codec_name(c));
	cr_assert_not_null(strstr(err.msg, want), "message \"%s\" lacks "
	    "\"%s\"", err.msg, want);
}

Test(codec, refuses_truncated_streams)
{
	static const enum ps_codec all[] = { PS_CODEC_GZIP, PS_CODEC_BZIP2,
	    PS_CODEC_XZ, PS_CODEC_ZSTD };
	size_t n = 200 * 1024, len, i;
	unsigned char *data = sample(n);

	for (i = 0; i < 4; i++) {
		int fd = compress_to("tr", all[i], 6, 1, data, n, n);
		unsigned char *p = file_bytes(fd, &len);

		replace(fd, p, len - 5);
		expect_failure(fd, all[i], ps_codec_name(all[i]));
		free(p);
		close(fd);
	}
	free(data);
}

Test(codec, gzip_checks_crc_length_and_garbage)
{
	size_t n = 100 * 1024, len;
	unsigned char *data = sample(n), *p, *q;
	int fd = compress_to("c", PS_CODEC_GZIP, 6, 1, data, n, n);
	struct ps_error err = { 0 };
	size_t got;

	p = file_bytes(fd, &len);
	q = malloc(2 * len + 64);
	memcpy(q, p, len);
	q[len - 8] ^= 1;                       /* CRC-32 */
	replace(fd, q, len);
	expect_failure(fd, PS_CODEC_GZIP, "gzip: incorrect data check");
	memcpy(q, p, len);
	q[len - 2] ^= 1;                       /* ISIZE */
	replace(fd, q, len);
	expect_failure(fd, PS_CODEC_GZIP, "gzip: incorrect length check");
	memcpy(q, p, len);
	memcpy(q + len, "junk", 4);
	replace(fd, q, len + 4);
	expect_failure(fd, PS_CODEC_GZIP, "trailing garbage");
	/* Zeros after the data are padding; a second member is more data. */
	memset(q + len, 0, 64);
	replace(fd, q, len + 64);
	free(decompress(fd, PS_CODEC_GZIP, &got, &err));
	cr_assert_eq(got, n, "%s", err.msg);
	memcpy(q + len, p, len);
	replace(fd, q, 2 * len);
	free(decompress(fd, PS_CODEC_GZIP, &got, &err));
	cr_assert_eq(got, 2 * n, "%s", err.msg);
	free(p);
	free(q);
	free(data);
	close(fd);
}

Test(codec, levels_have_defaults_and_ranges)
{
	struct ps_error err = { 0 };

	cr_assert_eq(ps_codec_level(PS_CODEC_GZIP, -1, &err), 6);
	cr_assert_eq(ps_codec_level(PS_CODEC_BZIP2, -1, &err), 9);
	cr_assert_eq(ps_codec_level(PS_CODEC_XZ, -1, &err), 6);
	cr_assert_eq(ps_codec_level(PS_CODEC_ZSTD, -1, &err), 3);
	cr_assert_eq(ps_codec_level(PS_CODEC_ZSTD, 19, &err), 19);
	cr_assert_eq(ps_codec_level(PS_CODEC_GZIP, 10, &err), -1);
	cr_assert_not_null(strstr(err.msg, "gzip (1-9)"), "%s", err.msg);
	cr_assert_eq(ps_codec_level(PS_CODEC_BZIP2, 0, &err), -1);
}

/* gzip of n incompressible bytes, made by zlib itself (level 1). */
static unsigned char *
zlib_gzip(const unsigned char *data, size_t n, size_t *out_len)
{
	z_stream s;
	unsigned char *out = malloc(n + 1024);

	memset(&s, 0, sizeof s);
	cr_assert_eq(deflateInit2(&s, 1, Z_DEFLATED, 31, 8,
	    Z_DEFAULT_STRATEGY), Z_OK);
	s.next_in = (unsigned char *)data;
	s.avail_in = (uInt)n;
	s.next_out = out;
	s.avail_out = (uInt)(n + 1024);
	cr_assert_eq(deflate(&s, Z_FINISH), Z_STREAM_END);
	*out_len = s.total_out;
	deflateEnd(&s);
	return out;
}

Test(codec, gzip_trailer_across_reads)
{
	/* The reader reads 128 KiB at a time: put the 8-byte trailer
	 * across that boundary at every split. */
	size_t n, hits = 0;
	unsigned char *data = malloc(140000);
	unsigned x = 7;

	for (n = 0; n < 140000; n++) {
		x = x * 1103515245u + 12345u;
		data[n] = (unsigned char)(x >> 23);
	}
	for (n = 130900; n < 131100; n++) {
		size_t len, got;
		unsigned char *gz = zlib_gzip(data, n, &len), *back;
		struct ps_error err = { 0 };
		char path[400];
		int fd;

		if (len <= 131072 || len >= 131072 + 8) {
			free(gz);
			continue;
		}
		hits++;
		snprintf(path, sizeof path, "%s/split.gz", dir);
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		cr_assert_eq(write(fd, gz, len), (ssize_t)len);
		back = decompress(fd, PS_CODEC_GZIP, &got, &err);
		cr_assert_not_null(back, "gzip of %zu (%zu bytes): %s", n, len,
		    err.msg);
		cr_assert(got == n && memcmp(back, data, n) == 0);
		/* And a damaged CRC there is still caught. */
		gz[len - 8] ^= 1;
		replace(fd, gz, len);
		expect_failure(fd, PS_CODEC_GZIP, "incorrect data check");
		free(back);
		free(gz);
		close(fd);
	}
	cr_assert_geq(hits, 3, "only %zu splits tried", hits);
	free(data);
}

/*
 * Mixed data for zstd's 4 MiB frames: text-like runs, incompressible
 * stretches and zeros, in pieces of odd sizes.
 */
static unsigned char *
mixed(size_t n)
{
	unsigned char *p = sample(n);
	size_t i = 0;
	unsigned x = 99;

	while (i < n) {
		size_t len = 1000 + (size_t)(x = x * 1103515245u + 12345u) %
		    700000, k;
		unsigned kind = (x >> 8) % 3;

		if (len > n - i)
			len = n - i;
		for (k = 0; k < len; k++) {
			x = x * 1103515245u + 12345u;
			if (kind == 1)
				p[i + k] = (unsigned char)(x >> 23);
			else if (kind == 2)
				p[i + k] = 0;
		}
		i += len;
	}
	return p;
}

#define ZS_BLOCK (4u << 20)

/* Returns the number of frames in p..p+len, each checked to be whole. */
static size_t
zstd_frames(const unsigned char *p, size_t len)
{
	size_t frames = 0;

	while (len > 0) {
		size_t f = ZSTD_findFrameCompressedSize(p, len);

		cr_assert(!ZSTD_isError(f), "frame %zu: %s", frames,
		    ZSTD_getErrorName(f));
		p += f;
		len -= f;
		frames++;
	}
	return frames;
}

Test(codec, zstd_multi_frame_round_trip)
{
	size_t n = 10 * 1024 * 1024 + 12345, len, got;
	unsigned char *data = mixed(n), *p, *back;
	struct ps_error err = { 0 };
	char cmd[1200];
	int fd = compress_to("m.zst", PS_CODEC_ZSTD, 3, 2, data, n, 77777);

	/* 4 MiB + 4 MiB + the rest: three frames, content sizes given. */
	p = file_bytes(fd, &len);
	cr_assert_eq(zstd_frames(p, len), 3);
	cr_assert_eq(ZSTD_getFrameContentSize(p, len), ZS_BLOCK);
	/* Our reader. */
	back = decompress(fd, PS_CODEC_ZSTD, &got, &err);
	cr_assert_not_null(back, "%s", err.msg);
	cr_assert(got == n && memcmp(back, data, n) == 0, "%zu bytes back, "
	    "want %zu", got, n);
	free(back);
	/* The zstd command, checksums included. */
	snprintf(cmd, sizeof cmd, "zstd -tq '%s/m.zst' && zstd -dcq "
	    "'%s/m.zst' > '%s/m.out'", dir, dir, dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	snprintf(cmd, sizeof cmd, "%s/m.out", dir);
	{
		int o = open(cmd, O_RDONLY);

		cr_assert_geq(o, 0);
		back = file_bytes(o, &got);
		close(o);
	}
	cr_assert(got == n && memcmp(back, data, n) == 0, "zstd -dc: %zu "
	    "bytes, want %zu", got, n);
	free(back);
	free(p);
	free(data);
	close(fd);
}

Test(codec, zstd_frames_do_not_depend_on_threads)
{
	/* Exactly two blocks: no empty frame after them. */
	size_t n = 2 * ZS_BLOCK, a_len, b_len, c_len;
	unsigned char *data = mixed(n), *pa, *pb, *pc;
	int a = compress_to("z1", PS_CODEC_ZSTD, 3, 1, data, n, n);
	int b = compress_to("z2", PS_CODEC_ZSTD, 3, 2, data, n, 4099);
	int c = compress_to("z5", PS_CODEC_ZSTD, 3, 5, data, n, 1 << 20);

	pa = file_bytes(a, &a_len);
	pb = file_bytes(b, &b_len);
	pc = file_bytes(c, &c_len);
	cr_assert(a_len == b_len && memcmp(pa, pb, a_len) == 0,
	    "1 and 2 threads differ");
	cr_assert(a_len == c_len && memcmp(pa, pc, a_len) == 0,
	    "1 and 5 threads differ");
	cr_assert_eq(zstd_frames(pa, a_len), 2);
	free(pa);
	free(pb);
	free(pc);
	free(data);
	close(a);
	close(b);
	close(c);
}

Test(codec, zstd_frame_is_libzstd_at_the_level)
{
	/* Each frame is what libzstd makes of its block at that level,
	 * with a checksum: the level is honoured. */
	static const int levels[] = { 1, 3, 9 };
	size_t n = ZS_BLOCK + 300000, len, i, sizes[3];
	unsigned char *data = mixed(n), *p;
	size_t cap = ZSTD_compressBound(ZS_BLOCK);
	unsigned char *want = malloc(cap);
	ZSTD_CCtx *cc = ZSTD_createCCtx();

	cr_assert_not_null(want);
	cr_assert_not_null(cc);
	for (i = 0; i < 3; i++) {
		int fd = compress_to("lv", PS_CODEC_ZSTD, levels[i], 2, data,
		    n, 65536);
		size_t w1, w2;

		p = file_bytes(fd, &len);
		ZSTD_CCtx_reset(cc, ZSTD_reset_session_and_parameters);
		ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, levels[i]);
		ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
		w1 = ZSTD_compress2(cc, want, cap, data, ZS_BLOCK);
		cr_assert(!ZSTD_isError(w1));
		cr_assert(len > w1 && memcmp(p, want, w1) == 0,
		    "level %d: first frame differs", levels[i]);
		w2 = ZSTD_compress2(cc, want, cap, data + ZS_BLOCK,
		    n - ZS_BLOCK);
		cr_assert(!ZSTD_isError(w2));
		cr_assert(len == w1 + w2 && memcmp(p + w1, want, w2) == 0,
		    "level %d: second frame differs", levels[i]);
		sizes[i] = len;
		free(p);
		close(fd);
	}
	cr_assert(sizes[0] > sizes[1] && sizes[1] > sizes[2],
	    "sizes %zu %zu %zu", sizes[0], sizes[1], sizes[2]);
	ZSTD_freeCCtx(cc);
	free(want);
	free(data);
}

Test(codec, zstd_every_level_fits_its_static_context)
{
	/* A frame that needs more than the context allocated up front
	 * would fail: every level, sizes from tiny to a whole block. */
	static const size_t sizes[] = { 1, 5000, 100000, 300000, 1100000 };
	unsigned char *data = mixed(1100000), *back;
	int level, i;

	for (level = 1; level <= ZSTD_maxCLevel(); level++)
		for (i = 0; i < 5; i++) {
			struct ps_error err = { 0 };
			size_t got;
			int fd = compress_to("st", PS_CODEC_ZSTD, level, 1, data,
			    sizes[i], 100000);

			back = decompress(fd, PS_CODEC_ZSTD, &got, &err);
			cr_assert_not_null(back, "level %d: %s", level,
			    err.msg);
			cr_assert(got == sizes[i] &&
			    memcmp(back, data, got) == 0, "level %d", level);
			free(back);
			close(fd);
		}
	free(data);
}

Test(codec, zstd_reader_takes_frames_one_after_another)
{
	/* Frames of other writers, a skippable frame between them. */
	size_t n = 300000, a, b, got;
	unsigned char *data = mixed(n), *buf, *back;
	size_t cap = 2 * ZSTD_compressBound(n) + 16;
	struct ps_error err = { 0 };
	char path[400];
	int fd;

	buf = malloc(cap);
	cr_assert_not_null(buf);
	a = ZSTD_compress(buf, cap, data, 100000, 19);
	cr_assert(!ZSTD_isError(a));
	/* RFC 8878 section 3.1.2: magic 0x184D2A5?, size, user data. */
	memcpy(buf + a, "\x50\x2a\x4d\x18\x04\0\0\0skip", 12);
	b = ZSTD_compress(buf + a + 12, cap - a - 12, data + 100000,
	    n - 100000, 1);
	cr_assert(!ZSTD_isError(b));
	snprintf(path, sizeof path, "%s/two.zst", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	cr_assert_eq(write(fd, buf, a + 12 + b), (ssize_t)(a + 12 + b));
	back = decompress(fd, PS_CODEC_ZSTD, &got, &err);
	cr_assert_not_null(back, "%s", err.msg);
	cr_assert(got == n && memcmp(back, data, n) == 0);
	free(back);
	/* Cut in the second frame: refused. */
	replace(fd, buf, a + 12 + b / 2);
	expect_failure(fd, PS_CODEC_ZSTD, "zstd");
	free(buf);
	free(data);
	close(fd);
}

/*
 * An encoder thread whose set-up fails (here: a level its library refuses)
 * before the writer finishes: the finish reports the failure.  It once
 * turned into success, and an empty archive was put in place of a .tar.xz
 * (found by fault injection: malloc failing inside lzma_stream_encoder_mt).
 */
static void
failed_setup(enum ps_codec c, int level)
{
	char path[400];
	struct ps_error err = { 0 };
	struct ps_codec_writer *w;
	uint64_t written = 0;
	int fd;

	snprintf(path, sizeof path, "%s/bad", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0);
	w = ps_codec_writer_new(c, level, 1, fd, &err);
	cr_assert_not_null(w, "%s", err.msg);
	/* The write may see the failure already (the thread can be that
	 * quick); the finish must see it in any case. */
	if (ps_codec_write(w, "data", 4, &err) < 0)
		cr_assert_neq(err.msg[0], '\0');
	usleep(100 * 1000);  /* the thread has given up by now */
	memset(&err, 0, sizeof err);
	cr_assert_eq(ps_codec_writer_finish(w, &written, &err), -1,
	    "%s: finish succeeded after the encoder failed",
	    ps_codec_name(c));
	cr_assert_neq(err.msg[0], '\0');
	ps_codec_writer_free(w);
	close(fd);
}

Test(codec, encoder_setup_failure_is_reported)
{
	failed_setup(PS_CODEC_XZ, 10);
	failed_setup(PS_CODEC_BZIP2, 0);
}
