#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "zip.h"

/*
 * Zips are built in memory by a small writer of the test's own, handed to
 * the parser through a memfd, and damaged at known places.
 */

struct member {
	const char *name;
	const char *data;
	bool dd;          /* data descriptor after the data, bit 3 set */
	size_t lextra;    /* bytes of local extra field (one 0xcafe record) */
	size_t gap;       /* junk bytes before the local header */
};

struct built {
	unsigned char buf[4 << 20];   /* members past the 1 MiB copy buffer */
	size_t dirty;                 /* bytes of buf ever written */
	size_t len;
	size_t local[8];  /* offset of each local header */
	size_t central[8];
	size_t cd;        /* start of the central directory */
	size_t eocd;
};

static void
p16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void
p32(unsigned char *p, uint32_t v)
{
	p16(p, v & 0xffff);
	p16(p + 2, v >> 16);
}

static void
p64(unsigned char *p, uint64_t v)
{
	p32(p, (uint32_t)v);
	p32(p + 4, (uint32_t)(v >> 32));
}

static void
build(struct built *b, const char *prefix, const struct member *m, size_t n,
    const char *comment)
{
	unsigned char *p = b->buf;
	size_t o = 0, i;

	/* Only what an earlier build wrote: buf is large. */
	memset(b->buf, 0, b->dirty);
	memset(b->local, 0, sizeof b->local);
	memset(b->central, 0, sizeof b->central);
	b->len = b->cd = b->eocd = 0;
	if (prefix != NULL) {
		memcpy(p, prefix, strlen(prefix));
		o = strlen(prefix);
	}
	for (i = 0; i < n; i++) {
		size_t nl = strlen(m[i].name), dl = strlen(m[i].data);
		uint32_t crc = (uint32_t)crc32(0, (const Bytef *)m[i].data,
		    (uInt)dl);

		cr_assert_lt(o + m[i].gap + 30 + nl + m[i].lextra + dl + 16 +
		    (n - i) * (46 + 65536) + 65536, sizeof b->buf);
		memset(p + o, 0x5a, m[i].gap);
		o += m[i].gap;
		b->local[i] = o;
		p32(p + o, 0x04034b50);
		p16(p + o + 4, 20);
		p16(p + o + 6, m[i].dd ? 8 : 0);
		p16(p + o + 8, 0);
		p32(p + o + 14, m[i].dd ? 0 : crc);
		p32(p + o + 18, m[i].dd ? 0 : (uint32_t)dl);
		p32(p + o + 22, m[i].dd ? 0 : (uint32_t)dl);
		p16(p + o + 26, (unsigned)nl);
		p16(p + o + 28, (unsigned)m[i].lextra);
		memcpy(p + o + 30, m[i].name, nl);
		o += 30 + nl;
		if (m[i].lextra >= 4) {
			memset(p + o, 0, m[i].lextra);
			p16(p + o, 0xcafe);
			p16(p + o + 2, (unsigned)(m[i].lextra - 4));
			o += m[i].lextra;
		}
		memcpy(p + o, m[i].data, dl);
		o += dl;
		if (m[i].dd) {
			p32(p + o, 0x08074b50);
			p32(p + o + 4, crc);
			p32(p + o + 8, (uint32_t)dl);
			p32(p + o + 12, (uint32_t)dl);
			o += 16;
		}
	}
	b->cd = o;
	for (i = 0; i < n; i++) {
		size_t nl = strlen(m[i].name), dl = strlen(m[i].data);

		b->central[i] = o;
		p32(p + o, 0x02014b50);
		p16(p + o + 4, 0x0314);
		p16(p + o + 6, 20);
		p16(p + o + 8, m[i].dd ? 8 : 0);
		p16(p + o + 10, 0);
		p32(p + o + 16, (uint32_t)crc32(0, (const Bytef *)m[i].data,
		    (uInt)dl));
		p32(p + o + 20, (uint32_t)dl);
		p32(p + o + 24, (uint32_t)dl);
		p16(p + o + 28, (unsigned)nl);
		p32(p + o + 42, (uint32_t)b->local[i]);
		memcpy(p + o + 46, m[i].name, nl);
		o += 46 + nl;
	}
	b->eocd = o;
	p32(p + o, 0x06054b50);
	p16(p + o + 8, (unsigned)n);
	p16(p + o + 10, (unsigned)n);
	p32(p + o + 12, (uint32_t)(o - b->cd));
	p32(p + o + 16, (uint32_t)b->cd);
	p16(p + o + 20, comment ? (unsigned)strlen(comment) : 0);
	o += 22;
	if (comment != NULL) {
		memcpy(p + o, comment, strlen(comment));
		o += strlen(comment);
	}
	b->len = o;
	/* (With room for what a test appends after building.) */
	if (b->dirty < o + 65536)
		b->dirty = o + 65536 < sizeof b->buf ? o + 65536 : sizeof b->buf;
}

static int
memfd_of(const unsigned char *p, size_t len)
{
	int fd = memfd_create("zip", 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, p, len), (ssize_t)len);
	return fd;
}

/*
 * Opens the len bytes at p and checks every entry.  Returns 0 or -1; err
 * holds the message.
 */
static int
parse_all(const unsigned char *p, size_t len, struct ps_error *err,
    size_t *count)
{
	struct ps_zip *z;
	int fd = memfd_of(p, len);
	int rc = -1;
	size_t i;

	ps_error_clear(err);
	if (ps_zip_open(&z, fd, len, err) < 0)
		goto out;
	if (count != NULL)
		*count = ps_zip_count(z);
	for (i = 0; i < ps_zip_count(z); i++)
		if (ps_zip_check_entry(z, i, err) < 0) {
			ps_zip_free(z);
			goto out;
		}
	ps_zip_free(z);
	rc = 0;
out:
	close(fd);
	return rc;
}

static const struct member two[] = {
	{ "pkg/__init__.py", "X = 1\n", false, 0, 0 },
	{ "pkg/__pycache__/__init__.cpython-311.pyc", "bytecode!", false, 0, 0 },
};

static void
expect_refused(const unsigned char *p, size_t len, const char *needle)
{
	struct ps_error err;

	cr_assert_eq(parse_all(p, len, &err, NULL), -1, "accepted");
	cr_assert_eq(err.kind, PS_ERR_INPUT, "%s", err.msg);
	if (needle != NULL)
		cr_assert(strstr(err.msg, needle) != NULL, "message: %s",
		    err.msg);
}

Test(zip, parses_a_plain_zip)
{
	static struct built b;
	const char *name;
	size_t len;
	struct ps_error err;
	struct ps_zip *z;
	int fd;

	build(&b, NULL, two, 2, NULL);
	fd = memfd_of(b.buf, b.len);
	cr_assert(ps_zip_detect(fd, (off_t)b.len));
	cr_assert_eq(ps_zip_open(&z, fd, b.len, &err), 0, "%s", err.msg);
	cr_assert_eq(ps_zip_count(z), 2);
	name = ps_zip_name(z, 1, &len);
	cr_assert_eq(len, strlen(two[1].name));
	cr_assert_eq(memcmp(name, two[1].name, len), 0);
	cr_assert_eq(ps_zip_prefix(z), 0);
	cr_assert_eq(ps_zip_check_entry(z, 0, &err), 0, "%s", err.msg);
	cr_assert_eq(ps_zip_check_entry(z, 1, &err), 0, "%s", err.msg);
	ps_zip_free(z);
	close(fd);
}

Test(zip, keeps_track_of_a_shebang_prefix)
{
	static struct built b;
	struct ps_error err;
	struct ps_zip *z;
	int fd;

	/* zipapp style: offsets count from the start of the file. */
	build(&b, "#!/usr/bin/env python3\n", two, 2, "a comment");
	fd = memfd_of(b.buf, b.len);
	cr_assert_eq(ps_zip_open(&z, fd, b.len, &err), 0, "%s", err.msg);
	cr_assert_eq(ps_zip_prefix(z), 23);
	ps_zip_free(z);
	close(fd);
}

Test(zip, finds_offsets_of_a_glued_on_prefix)
{
	static struct built b;
	static unsigned char glued[sizeof b.buf + 16];
	struct ps_error err;
	size_t n;

	/* `cat stub x.zip`: offsets count from the zip's own start. */
	build(&b, NULL, two, 2, NULL);
	memcpy(glued, "#!/bin/sh\nexit\n", 15);
	memcpy(glued + 15, b.buf, b.len);
	cr_assert_eq(parse_all(glued, b.len + 15, &err, &n), 0, "%s", err.msg);
	cr_assert_eq(n, 2);
}

Test(zip, every_truncation_is_refused)
{
	static struct built b;
	struct ps_error err;
	size_t len;

	build(&b, NULL, two, 2, NULL);
	for (len = 0; len < b.len; len++)
		cr_assert_eq(parse_all(b.buf, len, &err, NULL), -1,
		    "accepted %zu of %zu bytes", len, b.len);
}

Test(zip, trailing_bytes_are_refused)
{
	static struct built b;

	build(&b, NULL, two, 2, "comment");
	memcpy(b.buf + b.len, "junk", 4);
	expect_refused(b.buf, b.len + 4, "after the end record");
}

Test(zip, comment_length_must_reach_the_end_exactly)
{
	static struct built b;
	struct ps_error err;
	int fd;

	build(&b, NULL, two, 2, "comment");
	cr_assert_eq(parse_all(b.buf, b.len, &err, NULL), 0, "%s", err.msg);
	/* Claims one byte more than there is. */
	p16(b.buf + b.eocd + 20, 8);
	expect_refused(b.buf, b.len, "past the end of the file");
	/* Still recognised as a (damaged) zip, so the error is a zip one. */
	fd = memfd_of(b.buf, b.len);
	cr_assert(ps_zip_detect(fd, (off_t)b.len));
	close(fd);
	p16(b.buf + b.eocd + 20, 6);
	expect_refused(b.buf, b.len, "after the end record");
}

Test(zip, tar_holding_a_zip_is_not_a_zip)
{
	static struct built b;
	static unsigned char tar[sizeof b.buf + 4096];
	int fd;

	build(&b, NULL, two, 2, NULL);
	memset(tar, 0, sizeof tar);
	memcpy(tar + 257, "ustar", 5);
	memcpy(tar + 512, b.buf, b.len);
	/* The zip is followed by the tar's zero blocks. */
	fd = memfd_of(tar, 512 + b.len + 1024);
	cr_assert_not(ps_zip_detect(fd, (off_t)(512 + b.len + 1024)));
	close(fd);
}

Test(zip, lying_central_size_is_refused)
{
	static struct built b;

	build(&b, NULL, two, 2, NULL);
	/* Central compressed size larger than the data really is. */
	p32(b.buf + b.central[0] + 20, 4000);
	expect_refused(b.buf, b.len, NULL);
}

Test(zip, local_and_central_sizes_must_agree)
{
	static struct built b;

	build(&b, NULL, two, 2, NULL);
	p32(b.buf + b.local[0] + 22, 7);
	expect_refused(b.buf, b.len, "sizes of pkg/__init__.py differ");
}

Test(zip, local_and_central_names_must_agree)
{
	static struct built b;

	build(&b, NULL, two, 2, NULL);
	b.buf[b.local[1] + 30 + 5] = 'X';
	expect_refused(b.buf, b.len, "names of");
}

Test(zip, local_and_central_flags_must_agree)
{
	static struct built b;

	build(&b, NULL, two, 2, NULL);
	p16(b.buf + b.local[0] + 6, 0x0800);
	expect_refused(b.buf, b.len, "flags of");
}

Test(zip, offset_past_the_end_is_refused)
{
	static struct built b;

	build(&b, NULL, two, 2, NULL);
	p32(b.buf + b.central[1] + 42, 0x7ffffff0);
	expect_refused(b.buf, b.len, "points past");
}

Test(zip, overlapping_members_are_refused)
{
	static struct built b;

	build(&b, NULL, two, 2, NULL);
	/* The second entry starts inside the first one's data. */
	p32(b.buf + b.central[1] + 42, (uint32_t)b.local[0] + 40);
	expect_refused(b.buf, b.len, NULL);
	/* Both at one offset. */
	p32(b.buf + b.central[1] + 42, (uint32_t)b.local[0]);
	expect_refused(b.buf, b.len, "overlap");
}

Test(zip, duplicate_names_are_refused)
{
	static const struct member dup[] = {
		{ "a.py", "1", false, 0, 0 },
		{ "a.py", "2", false, 0, 0 },
	};
	static struct built b;

	build(&b, NULL, dup, 2, NULL);
	expect_refused(b.buf, b.len, "duplicate name a.py");
}

Test(zip, names_with_nul_bytes_are_refused)
{
	static struct built b;

	build(&b, NULL, two, 2, NULL);
	b.buf[b.central[0] + 46 + 3] = '\0';
	expect_refused(b.buf, b.len, "NUL");
}

Test(zip, zip64_field_absent_is_refused)
{
	static struct built b;

	build(&b, NULL, two, 2, NULL);
	/* "See the zip64 field" with no zip64 field. */
	p32(b.buf + b.central[0] + 20, 0xffffffff);
	expect_refused(b.buf, b.len, "lacks its zip64 field");
	build(&b, NULL, two, 2, NULL);
	p32(b.buf + b.central[1] + 42, 0xffffffff);
	expect_refused(b.buf, b.len, "lacks its zip64 field");
}

Test(zip, zip64_end_records_are_read)
{
	static struct built b;
	static unsigned char z[sizeof b.buf + 128];
	struct ps_error err;
	size_t n, o, cd_size;

	build(&b, NULL, two, 2, NULL);
	cd_size = b.eocd - b.cd;
	memcpy(z, b.buf, b.eocd);
	o = b.eocd;
	/* APPNOTE 4.3.14: zip64 end record. */
	p32(z + o, 0x06064b50);
	p64(z + o + 4, 44);
	p16(z + o + 12, 45);
	p16(z + o + 14, 45);
	p32(z + o + 16, 0);
	p32(z + o + 20, 0);
	p64(z + o + 24, 2);
	p64(z + o + 32, 2);
	p64(z + o + 40, cd_size);
	p64(z + o + 48, b.cd);
	/* 4.3.15: locator. */
	p32(z + o + 56, 0x07064b50);
	p32(z + o + 60, 0);
	p64(z + o + 64, o);
	p32(z + o + 72, 1);
	/* 4.3.16: end record, every field "see zip64". */
	p32(z + o + 76, 0x06054b50);
	memset(z + o + 80, 0, 4);
	p16(z + o + 84, 0xffff);
	p16(z + o + 86, 0xffff);
	p32(z + o + 88, 0xffffffff);
	p32(z + o + 92, 0xffffffff);
	p16(z + o + 96, 0);
	cr_assert_eq(parse_all(z, o + 98, &err, &n), 0, "%s", err.msg);
	cr_assert_eq(n, 2);
	/* A count that disagrees with the directory. */
	p64(z + o + 24, 3);
	p64(z + o + 32, 3);
	cr_assert_eq(parse_all(z, o + 98, &err, NULL), -1);
	p64(z + o + 24, 2);
	p64(z + o + 32, 2);
	/* A 16-bit count that is neither the value nor all ones. */
	p16(z + o + 84, 5);
	p16(z + o + 86, 5);
	cr_assert_eq(parse_all(z, o + 98, &err, NULL), -1);
	cr_assert(strstr(err.msg, "disagree") != NULL, "%s", err.msg);
}

Test(zip, member_over_4gib_in_a_sparse_file)
{
	/*
	 * A stored member of 4 GiB + 16 bytes: sizes only in the zip64
	 * fields, data a hole in a sparse memfd.
	 */
	const uint64_t big = (1ULL << 32) + 16;
	unsigned char h[256];
	struct ps_error err;
	struct ps_zip *z;
	uint64_t cd, o;
	int fd = memfd_create("big", 0);
	const char *name = "big.bin";

	cr_assert_geq(fd, 0);
	memset(h, 0, sizeof h);
	p32(h, 0x04034b50);
	p16(h + 4, 45);
	p32(h + 14, 0);           /* crc of zeros: not checked here */
	p32(h + 18, 0xffffffff);
	p32(h + 22, 0xffffffff);
	p16(h + 26, 7);
	p16(h + 28, 20);
	memcpy(h + 30, name, 7);
	p16(h + 37, 1);
	p16(h + 39, 16);
	p64(h + 41, big);
	p64(h + 49, big);
	cr_assert_eq(pwrite(fd, h, 57, 0), 57);
	cd = 57 + big;
	memset(h, 0, sizeof h);
	p32(h, 0x02014b50);
	p16(h + 4, 0x032d);
	p16(h + 6, 45);
	p32(h + 20, 0xffffffff);
	p32(h + 24, 0xffffffff);
	p16(h + 28, 7);
	p16(h + 30, 20);
	memcpy(h + 46, name, 7);
	p16(h + 53, 1);
	p16(h + 55, 16);
	p64(h + 57, big);
	p64(h + 65, big);
	o = 73;
	/* zip64 end record and locator: the directory starts past 4 GiB. */
	p32(h + o, 0x06064b50);
	p64(h + o + 4, 44);
	p16(h + o + 12, 45);
	p16(h + o + 14, 45);
	p64(h + o + 24, 1);
	p64(h + o + 32, 1);
	p64(h + o + 40, 73);
	p64(h + o + 48, cd);
	p32(h + o + 56, 0x07064b50);
	p64(h + o + 64, cd + o);
	p32(h + o + 72, 1);
	p32(h + o + 76, 0x06054b50);
	p16(h + o + 84, 1);
	p16(h + o + 86, 1);
	p32(h + o + 88, 73);
	p32(h + o + 92, 0xffffffff);
	cr_assert_eq(pwrite(fd, h, o + 98, (off_t)cd), (ssize_t)(o + 98));
	cr_assert_eq(ps_zip_open(&z, fd, cd + o + 98, &err), 0, "%s", err.msg);
	cr_assert_eq(ps_zip_check_entry(z, 0, &err), 0, "%s", err.msg);
	ps_zip_free(z);
	/* Without the zip64 records the directory offset cannot be read. */
	memmove(h + o, h + o + 76, 22);
	cr_assert_eq(pwrite(fd, h, o + 22, (off_t)cd), (ssize_t)(o + 22));
	cr_assert_eq(ps_zip_open(&z, fd, cd + o + 22, &err), -1);
	close(fd);
}

Test(zip, data_descriptor_must_agree)
{
	static const struct member dd[] = {
		{ "a.py", "print(1)\n", true, 0, 0 },
		{ "b.txt", "bbbb", true, 0, 0 },
	};
	static struct built b;
	struct ps_error err;

	build(&b, NULL, dd, 2, NULL);
	cr_assert_eq(parse_all(b.buf, b.len, &err, NULL), 0, "%s", err.msg);
	/* The descriptor's CRC differs from the central one. */
	b.buf[b.local[1] - 16 + 4] ^= 1;
	expect_refused(b.buf, b.len, "data descriptor of a.py");
}

Test(zip, empty_archive)
{
	static struct built b;
	struct ps_error err;
	size_t n = 9;

	build(&b, NULL, NULL, 0, NULL);
	cr_assert_eq(parse_all(b.buf, b.len, &err, &n), 0, "%s", err.msg);
	cr_assert_eq(n, 0);
}

Test(zip, central_directory_must_be_exactly_its_entries)
{
	static struct built b;

	build(&b, NULL, two, 2, NULL);
	/* One entry fewer than the directory holds. */
	p16(b.buf + b.eocd + 8, 1);
	p16(b.buf + b.eocd + 10, 1);
	expect_refused(b.buf, b.len, "bytes more than");
}

/*
 * Thousands of damaged copies: bytes overwritten where the parser looks
 * (end record, central headers, local headers, descriptors), random bit
 * flips, truncations, appended garbage.  Whatever the bytes: no crash, and
 * an answer (accept or refuse) every time.  Run under ASan by `make
 * sanitize`.
 */
Test(zip, mutations_never_crash)
{
	static const struct member m[] = {
		{ "pkg/__init__.py", "X = 1\n", false, 0, 0 },
		{ "pkg/a.py", "print('a')\n", true, 0, 0 },
		{ "pkg/__pycache__/a.cpython-311.pyc", "bytecode", false, 0, 0 },
	};
	static struct built b;
	static unsigned char mut[sizeof b.buf + 64];
	unsigned seed = 12345;
	size_t hot[16], nhot = 0, i, refused = 0;

	build(&b, "#!/bin/sh\n", m, 3, "comment");
	hot[nhot++] = b.eocd + 8;
	hot[nhot++] = b.eocd + 12;
	hot[nhot++] = b.eocd + 16;
	hot[nhot++] = b.eocd + 20;
	for (i = 0; i < 3; i++) {
		hot[nhot++] = b.local[i] + 14 + (i * 4) % 16;
		hot[nhot++] = b.central[i] + 20 + (i * 11) % 26;
	}
	hot[nhot++] = b.local[2] - 16;
	hot[nhot++] = b.cd;
	for (i = 0; i < 20000; i++) {
		struct ps_error err;
		size_t len = b.len, k;

		memcpy(mut, b.buf, b.len);
		seed = seed * 1103515245 + 12345;
		switch (i % 5) {
		case 0:
		case 1:
			k = hot[(seed >> 8) % nhot] + (seed >> 20) % 4;
			mut[k % len] = (unsigned char)(seed >> 3);
			if (i % 5 == 1)
				mut[(k + 1) % len] = 0xff;
			break;
		case 2:
			k = (seed >> 4) % len;
			mut[k] ^= (unsigned char)(1u << ((seed >> 24) % 8));
			break;
		case 3:
			len = (seed >> 4) % b.len;
			break;
		default:
			k = 1 + (seed >> 4) % 60;
			memset(mut + len, (int)(seed >> 16), k);
			len += k;
			break;
		}
		if (parse_all(mut, len, &err, NULL) < 0) {
			cr_assert_neq(err.msg[0], '\0');
			refused++;
		}
	}
	cr_assert_gt(refused, 6000);
}

Test(zip, a_zip_cut_short_is_still_a_zip)
{
	static struct built b;
	int fd;

	build(&b, NULL, two, 2, NULL);
	fd = memfd_of(b.buf, b.len / 2);
	cr_assert(ps_zip_detect(fd, (off_t)(b.len / 2)));
	close(fd);
	expect_refused(b.buf, b.len / 2, "no end of central directory");
}

Test(zip, local_header_longer_than_64k)
{
	/* A name and an extra field that together pass 65,535 bytes. */
	static char name[2001];
	static struct member m[2];
	static struct built b;
	struct ps_error err;

	memset(name, 'n', 2000);
	m[0].name = name;
	m[0].data = "payload";
	m[0].dd = true;
	m[0].lextra = 65000;
	m[1].name = "after.py";
	m[1].data = "x";
	build(&b, NULL, m, 2, NULL);
	cr_assert_eq(parse_all(b.buf, b.len, &err, NULL), 0, "%s", err.msg);
}

/* ------------------------------------------------------------------ */
/* stripping: the headers checked while the kept members are copied */

static char strip_dir[] = "/tmp/pycstrip-zip-XXXXXX";

static void
strip_setup(void)
{
	cr_assert_not_null(mkdtemp(strip_dir));
}

static void
strip_teardown(void)
{
	rmdir(strip_dir);
}

/* Files in strip_dir besides "out.zip". */
static int
strays(void)
{
	DIR *d = opendir(strip_dir);
	struct dirent *de;
	int n = 0;

	cr_assert_not_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0 &&
		    strcmp(de->d_name, "out.zip") != 0)
			n++;
	closedir(d);
	return n;
}

/*
 * Runs ps_zip_run on the len bytes at p as "in.zip": a dry run, or a
 * strip into strip_dir/out.zip.  Returns its status; err and *after (the
 * new size) say how it went.
 */
static int
strip_run(const unsigned char *p, size_t len, enum ps_mode mode,
    struct ps_error *err, int64_t *after)
{
	struct ps_options opts = { 0 };
	struct ps_result res;
	char out[64];
	struct stat st;
	int fd = memfd_of(p, len);
	int rc;

	snprintf(out, sizeof out, "%s/out.zip", strip_dir);
	opts.mode = mode;
	opts.level = -1;
	opts.threads = 1;
	opts.output = mode == PS_MODE_STRIP ? out : NULL;
	cr_assert_eq(fstat(fd, &st), 0);
	ps_result_init(&res, "in.zip");
	ps_error_clear(err);
	rc = ps_zip_run(&opts, "in.zip", fd, &st, &res, err);
	*after = res.bytes_after;
	ps_result_release(&res);
	close(fd);
	return rc;
}

/* Reads strip_dir/out.zip into buf (size bytes at most) and removes it;
 * returns its length. */
static size_t
take_out(unsigned char *buf, size_t size)
{
	char out[64];
	FILE *f;
	size_t n;

	snprintf(out, sizeof out, "%s/out.zip", strip_dir);
	f = fopen(out, "rb");
	cr_assert_not_null(f);
	n = fread(buf, 1, size, f);
	fclose(f);
	unlink(out);
	return n;
}

/* Strips b into out.zip and expects exactly the bytes of want. */
static void
expect_stripped_to(const struct built *b, const struct built *want)
{
	static unsigned char got[sizeof b->buf];
	struct ps_error err;
	int64_t after;
	size_t n;

	cr_assert_eq(strip_run(b->buf, b->len, PS_MODE_STRIP, &err, &after),
	    0, "%s", err.msg);
	n = take_out(got, sizeof got);
	cr_assert_eq(strays(), 0);
	cr_assert_eq((int64_t)n, after);
	cr_assert_eq(n, want->len);
	cr_assert(memcmp(got, want->buf, n) == 0, "output differs");
}

Test(zip, bytes_between_kept_members_are_left_out,
    .init = strip_setup, .fini = strip_teardown)
{
	static const struct member in[] = {
		{ "pkg/a.py", "A = 1\n", false, 0, 0 },
		{ "pkg/b.py", "B = 2\n", false, 0, 7 },
		{ "pkg/__pycache__/a.cpython-311.pyc", "bytecode", false, 0,
		    0 },
		{ "pkg/c.py", "C = 3\n", false, 0, 3 },
		{ "pkg/d.py", "D = 4\n", false, 0, 11 },
	};
	static const struct member out[] = {
		{ "pkg/a.py", "A = 1\n", false, 0, 0 },
		{ "pkg/b.py", "B = 2\n", false, 0, 0 },
		{ "pkg/c.py", "C = 3\n", false, 0, 0 },
		{ "pkg/d.py", "D = 4\n", false, 0, 0 },
	};
	static struct built b, want;

	build(&b, "#!/usr/bin/env python3\n", in, 5, "comment");
	build(&want, "#!/usr/bin/env python3\n", out, 4, "comment");
	expect_stripped_to(&b, &want);
}

/*
 * Members and headers across the copy's buffer of win bytes: the second
 * header straddles it, the third member (big bytes) spans several, the
 * fourth header is over 64 KiB long, and junk lies before the fifth.
 */
static void
members_across(size_t win, size_t big)
{
	size_t l0 = win - 30 - 8 - 10, i;
	char *d0 = malloc(l0 + 1), *d2 = malloc(big + 1);
	static char name[2001];
	static struct member in[6], out[5];
	static struct built b, want;

	cr_assert(d0 != NULL && d2 != NULL);
	memset(d0, 'a', l0);
	d0[l0] = '\0';
	for (i = 0; i < big; i++)
		d2[i] = (char)('a' + i % 23);
	d2[big] = '\0';
	memset(name, 'n', sizeof name - 1);
	in[0] = (struct member){ "pkg/a.py", d0, false, 0, 0 };
	in[1] = (struct member){ "pkg/b.py", "B = 2\n", false, 0, 0 };
	in[2] = (struct member){ "pkg/c.dat", d2, false, 0, 0 };
	in[3] = (struct member){ name, "long header", false, 64000, 0 };
	in[4] = (struct member){ "pkg/d.py", "D = 4\n", false, 0, 5 };
	in[5] = (struct member){ "pkg/__pycache__/a.cpython-311.pyc",
	    "bytecode", false, 0, 0 };
	for (i = 0; i < 5; i++)
		out[i] = in[i];
	out[4].gap = 0;
	build(&b, NULL, in, 6, NULL);
	build(&want, NULL, out, 5, NULL);
	cr_assert_lt(b.local[1], win);
	cr_assert_gt(b.local[1] + 30 + 8, win);
	expect_stripped_to(&b, &want);
	/* With a shebang first and the bytecode before the rest, so that
	 * nothing starts at 0. */
	in[0] = in[5];
	for (i = 1; i < 6; i++)
		in[i] = out[i - 1];
	in[5].gap = 9;
	build(&b, "#!/usr/bin/python3\n", in, 6, "c");
	build(&want, "#!/usr/bin/python3\n", out, 5, "c");
	expect_stripped_to(&b, &want);
	free(d0);
	free(d2);
}

Test(zip, members_larger_than_a_64k_window,
    .init = strip_setup, .fini = strip_teardown)
{
	members_across(65536, 100000);
}

/* The buffer that the copy gathers members in is 1 MiB. */
Test(zip, members_larger_than_the_copy_buffer,
    .init = strip_setup, .fini = strip_teardown)
{
	members_across(1u << 20, (2u << 20) + 16);
}

/*
 * A strip checks each kept local header as it copies it; a dry run
 * checks them all first.  Over thousands of damaged archives both must
 * give the same answer and message, a strip that succeeds must write an
 * archive whose every member checks, and none may leave a file behind.
 */
Test(zip, strip_refuses_exactly_what_a_dry_run_refuses,
    .init = strip_setup, .fini = strip_teardown)
{
	static const struct member m[] = {
		{ "pkg/__init__.py", "X = 1\n", false, 0, 0 },
		{ "pkg/a.py", "print('a')\n", true, 0, 0 },
		{ "pkg/__pycache__/a.cpython-311.pyc", "bytecode", false, 0, 0 },
		{ "pkg/b.py", "print('b')\n", false, 9, 0 },
		{ "pkg/c.py", "print('c')\n", false, 0, 0 },
	};
	static struct built b;
	static unsigned char mut[sizeof b.buf + 64];
	static unsigned char got[sizeof b.buf + 64];
	unsigned seed = 4242;
	size_t hot[24], nhot = 0, i, refused = 0, written = 0;
	char out[64];

	snprintf(out, sizeof out, "%s/out.zip", strip_dir);
	build(&b, "#!/bin/sh\n", m, 5, "comment");
	for (i = 0; i < 5; i++) {
		hot[nhot++] = b.local[i];
		hot[nhot++] = b.local[i] + 6 + (i * 4) % 24;
		hot[nhot++] = b.central[i] + 20 + (i * 11) % 26;
	}
	hot[nhot++] = b.local[2] - 16;
	hot[nhot++] = b.cd - 4;
	for (i = 0; i < 4000; i++) {
		struct ps_error dry, strip;
		int64_t dry_after, strip_after;
		int rd, rs;
		size_t len = b.len, k;

		memcpy(mut, b.buf, b.len);
		seed = seed * 1103515245 + 12345;
		switch (i % 3) {
		case 0:
			k = hot[(seed >> 8) % nhot] + (seed >> 20) % 4;
			mut[k % len] = (unsigned char)(seed >> 3);
			break;
		case 1:
			k = (seed >> 4) % b.cd;
			mut[k] ^= (unsigned char)(1u << ((seed >> 24) % 8));
			break;
		default:
			k = hot[(seed >> 8) % nhot];
			mut[k % len] ^= 0xff;
			mut[(k + 1) % len] = (unsigned char)(seed >> 11);
			break;
		}
		rd = strip_run(mut, len, PS_MODE_DRY_RUN, &dry, &dry_after);
		rs = strip_run(mut, len, PS_MODE_STRIP, &strip, &strip_after);
		cr_assert_eq(rs, rd, "mutation %zu: dry run %d (%s), strip %d "
		    "(%s)", i, rd, dry.msg, rs, strip.msg);
		cr_assert_eq(strays(), 0, "mutation %zu left a file", i);
		if (rd < 0) {
			cr_assert_str_eq(strip.msg, dry.msg, "mutation %zu", i);
			cr_assert_eq(access(out, F_OK), -1, "mutation %zu", i);
			refused++;
			continue;
		}
		cr_assert_eq(strip_after, dry_after, "mutation %zu: %lld bytes, "
		    "a dry run said %lld", i, (long long)strip_after,
		    (long long)dry_after);
		if (access(out, F_OK) == 0) {
			size_t n = take_out(got, sizeof got);
			struct ps_error err;

			cr_assert_eq((int64_t)n, strip_after);
			cr_assert_eq(parse_all(got, n, &err, NULL), 0,
			    "mutation %zu: %s", i, err.msg);
			written++;
		}
	}
	cr_assert_gt(refused, 1000);
	cr_assert_gt(written, 1000);
}
