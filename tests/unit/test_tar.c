/*
 * test_tar.c - the tar rewriter on small archives that libarchive's writer
 * makes in a mkdtemp directory, read back with libarchive's reader.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <criterion/criterion.h>

#include "codec.h"
#include "tar.h"

static char dir[256];
static char path[400];

static void
setup(void)
{
	snprintf(dir, sizeof dir, "%s/ps-tar.XXXXXX",
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	snprintf(path, sizeof path, "%s/a.tar", dir);
}

static void
teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(tar, .init = setup, .fini = teardown);

struct member {
	const char *name;
	char type;          /* 'd', 'f', 'h' (hard link to link) */
	const char *data;
	const char *link;
};

static void
make_tar(const char *file, int format, const char *filter,
    const struct member *m, size_t n)
{
	struct archive *w = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	size_t i;

	cr_assert_eq(archive_write_set_format(w, format), ARCHIVE_OK);
	if (filter != NULL)
		cr_assert_eq(archive_write_add_filter_by_name(w, filter),
		    ARCHIVE_OK);
	cr_assert_eq(archive_write_open_filename(w, file), ARCHIVE_OK);
	for (i = 0; i < n; i++) {
		archive_entry_clear(e);
		archive_entry_set_pathname(e, m[i].name);
		archive_entry_set_mtime(e, 1600000000, 0);
		archive_entry_set_uid(e, 1000);
		archive_entry_set_uname(e, "dev");
		if (m[i].type == 'd') {
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, 0755);
		} else if (m[i].type == 'h') {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_hardlink(e, m[i].link);
		} else {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_size(e, (la_int64_t)strlen(m[i].data));
		}
		cr_assert_eq(archive_write_header(w, e), ARCHIVE_OK, "%s",
		    archive_error_string(w));
		if (m[i].type == 'f')
			archive_write_data(w, m[i].data, strlen(m[i].data));
	}
	archive_entry_free(e);
	cr_assert_eq(archive_write_free(w), ARCHIVE_OK);
}

/* Reads file back: "name:type:link:data;" for each member. */
static char *
listing(const char *file)
{
	struct archive *r = archive_read_new();
	struct archive_entry *e;
	char *out = calloc(1, 1 << 16);
	size_t len = 0;

	archive_read_support_format_tar(r);
	archive_read_support_filter_all(r);
	cr_assert_eq(archive_read_open_filename(r, file, 10240), ARCHIVE_OK);
	while (archive_read_next_header(r, &e) == ARCHIVE_OK) {
		char data[256] = "";
		la_ssize_t got = archive_read_data(r, data, sizeof data - 1);
		const char *link = archive_entry_hardlink(e);

		data[got > 0 ? got : 0] = '\0';
		len += (size_t)snprintf(out + len, (1 << 16) - len, "%s:%c:%s:%s;",
		    archive_entry_pathname(e),
		    archive_entry_filetype(e) == AE_IFDIR ? 'd' :
		    link != NULL ? 'h' : 'f', link ? link : "", data);
	}
	cr_assert_eq(archive_read_free(r), ARCHIVE_OK);
	return out;
}

static int
run(const char *file, enum ps_mode mode, bool keep_sourceless,
    struct ps_result *res, struct ps_error *err)
{
	struct ps_options opts = { 0 };
	struct stat st;
	int fd = open(file, O_RDONLY);
	int rc;

	opts.mode = mode;
	opts.level = -1;
	opts.collect = true;
	opts.threads = 2;
	opts.keep_sourceless = keep_sourceless;
	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &st), 0);
	ps_result_init(res, file);
	res->bytes_before = st.st_size;
	rc = ps_tar_run(&opts, file, fd, &st, res, err);
	close(fd);
	return rc;
}

static const struct member pkg[] = {
	{ "pkg/", 'd', NULL, NULL },
	{ "pkg/a.py", 'f', "A = 1\n", NULL },
	{ "pkg/__pycache__/", 'd', NULL, NULL },
	{ "pkg/__pycache__/a.cpython-311.pyc", 'f', "bytecode", NULL },
	{ "pkg/b.pyc", 'f', "legacy", NULL },
	{ "pkg/c.txt", 'f', "kept", NULL },
};

Test(tar, removes_bytecode_and_copies_kept_bytes)
{
	struct ps_result res;
	struct ps_error err = { 0 };
	char *got;
	FILE *f;
	char before[2048], after[2048];

	make_tar(path, ARCHIVE_FORMAT_TAR_USTAR, NULL, pkg, 6);
	f = fopen(path, "rb");
	cr_assert_eq(fread(before, 1, sizeof before, f), sizeof before);
	fclose(f);
	cr_assert_eq(run(path, PS_MODE_STRIP, false, &res, &err), 0, "%s",
	    err.msg);
	got = listing(path);
	cr_assert_str_eq(got, "pkg/:d::;pkg/a.py:f::A = 1\n;pkg/c.txt:f::kept;");
	cr_assert_eq(res.removed_files, 2);
	cr_assert_eq(res.removed_dirs, 1);
	cr_assert_str_eq(res.format, "tar");
	cr_assert_str_eq(res.compression, "none");
	cr_assert_eq(res.sourceless.n, 1);
	cr_assert_str_eq(res.sourceless.v[0], "pkg/b.pyc");
	/* The first two members' blocks are the input's, byte for byte. */
	f = fopen(path, "rb");
	cr_assert_eq(fread(after, 1, sizeof after, f), sizeof after);
	fclose(f);
	cr_assert(memcmp(before, after, 3 * 512) == 0);
	/* Five kept blocks and two zero blocks; the input (written to a
	 * file by libarchive) was not padded to a 10240-byte record. */
	cr_assert_eq(res.bytes_after, 7 * 512, "%lld",
	    (long long)res.bytes_after);
	free(got);
	ps_result_release(&res);
}

Test(tar, nothing_to_remove_is_not_rewritten)
{
	static const struct member clean[] = {
		{ "pkg/", 'd', NULL, NULL },
		{ "pkg/a.py", 'f', "A = 1\n", NULL },
	};
	struct ps_result res;
	struct ps_error err = { 0 };
	struct stat a, b;

	make_tar(path, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, "gzip", clean, 2);
	cr_assert_eq(stat(path, &a), 0);
	cr_assert_eq(run(path, PS_MODE_STRIP, false, &res, &err), 0, "%s",
	    err.msg);
	cr_assert_eq(stat(path, &b), 0);
	cr_assert_eq(a.st_ino, b.st_ino);
	cr_assert_eq(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec);
	cr_assert_eq(res.bytes_after, a.st_size);
	cr_assert_str_eq(res.compression, "gzip");
	ps_result_release(&res);
}

Test(tar, dry_run_only_reads)
{
	struct ps_result res;
	struct ps_error err = { 0 };
	struct stat a, b;

	make_tar(path, ARCHIVE_FORMAT_TAR_GNUTAR, "xz", pkg, 6);
	cr_assert_eq(stat(path, &a), 0);
	cr_assert_eq(run(path, PS_MODE_DRY_RUN, false, &res, &err), 0, "%s",
	    err.msg);
	cr_assert_eq(stat(path, &b), 0);
	cr_assert_eq(a.st_ino, b.st_ino);
	cr_assert_eq(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec);
	cr_assert_eq(res.removed_files, 2);
	cr_assert_eq(res.bytes_after, -1);
	ps_result_release(&res);
}

Test(tar, keep_sourceless_keeps_lone_pyc)
{
	struct ps_result res;
	struct ps_error err = { 0 };
	char *got;

	make_tar(path, ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE, "zstd", pkg, 6);
	cr_assert_eq(run(path, PS_MODE_STRIP, true, &res, &err), 0, "%s",
	    err.msg);
	got = listing(path);
	cr_assert_not_null(strstr(got, "pkg/b.pyc:f::legacy;"), "%s", got);
	cr_assert_null(strstr(got, "__pycache__"), "%s", got);
	cr_assert_eq(res.removed_files, 1);
	free(got);
	ps_result_release(&res);
}

Test(tar, hard_links_to_removed_members_take_the_data)
{
	static const struct member links[] = {
		{ "pkg/__pycache__/x.cpython-311.pyc", 'f', "shared", NULL },
		{ "pkg/h1.dat", 'h', NULL, "pkg/__pycache__/x.cpython-311.pyc" },
		{ "pkg/h2.dat", 'h', NULL, "pkg/__pycache__/x.cpython-311.pyc" },
		{ "pkg/x.pyc", 'h', NULL, "pkg/__pycache__/x.cpython-311.pyc" },
		{ "pkg/h3.dat", 'h', NULL, "pkg/x.pyc" },
	};
	static const int formats[] = { ARCHIVE_FORMAT_TAR_USTAR,
	    ARCHIVE_FORMAT_TAR_GNUTAR, ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE };
	size_t i;

	for (i = 0; i < 3; i++) {
		struct ps_result res;
		struct ps_error err = { 0 };
		char *got;

		make_tar(path, formats[i], i == 1 ? "bzip2" : NULL, links, 5);
		cr_assert_eq(run(path, PS_MODE_STRIP, false, &res, &err), 0,
		    "%s", err.msg);
		got = listing(path);
		cr_assert_str_eq(got, "pkg/h1.dat:f::shared;"
		    "pkg/h2.dat:h:pkg/h1.dat:;pkg/h3.dat:h:pkg/h1.dat:;",
		    "format %zu: %s", i, got);
		free(got);
		ps_result_release(&res);
	}
}

Test(tar, refuses_what_is_not_tar)
{
	struct ps_result res;
	struct ps_error err = { 0 };
	FILE *f = fopen(path, "wb");

	fputs("just some text, long enough to be read as a header\n", f);
	fclose(f);
	cr_assert_eq(run(path, PS_MODE_STRIP, false, &res, &err), -1);
	cr_assert_str_eq(err.msg, "not a zip or tar archive");
	ps_result_release(&res);
	f = fopen(path, "wb");
	fclose(f);
	cr_assert_eq(run(path, PS_MODE_STRIP, false, &res, &err), -1);
	cr_assert_str_eq(err.msg, "not a zip or tar archive: empty file");
	ps_result_release(&res);
}

/* --- the direct header reader (plain tars) ------------------------------ */

/* ps_tar_direct_names() of file: its status; names as "a;b;c;". */
static int
direct(const char *file, char *names, size_t cap)
{
	struct ps_strlist l = { 0 };
	struct ps_error err = { 0 };
	struct stat st;
	int fd = open(file, O_RDONLY);
	size_t i, len = 0;
	int rc;

	cr_assert_geq(fd, 0);
	cr_assert_eq(fstat(fd, &st), 0);
	rc = ps_tar_direct_names(fd, st.st_size, &l, &err);
	close(fd);
	names[0] = '\0';
	for (i = 0; i < l.n; i++)
		len += (size_t)snprintf(names + len, cap - len, "%s;", l.v[i]);
	ps_strlist_release(&l);
	return rc;
}

/* direct() of the file name in the test's directory. */
static int
direct_in_dir(const char *name, char *names, size_t cap)
{
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return direct(path, names, cap);
}

/* libarchive's names of file, the same way. */
static void
libarchive_names(const char *file, char *names, size_t cap)
{
	struct archive *r = archive_read_new();
	struct archive_entry *e;
	size_t len = 0;

	archive_read_support_format_tar(r);
	cr_assert_eq(archive_read_open_filename(r, file, 10240), ARCHIVE_OK);
	names[0] = '\0';
	while (archive_read_next_header(r, &e) == ARCHIVE_OK)
		len += (size_t)snprintf(names + len, cap - len, "%s;",
		    archive_entry_pathname(e));
	archive_read_free(r);
}

static const struct member shapes[] = {
	{ "pkg/", 'd', NULL, NULL },
	{ "pkg/__pycache__/", 'd', NULL, NULL },
	{ "pkg/__pycache__/m.cpython-311.pyc", 'f', "bytecode", NULL },
	{ "pkg/m.py", 'f', "X = 1\n", NULL },
	{ "pkg/donn\xc3\xa9" "es/\xc3\xa9t\xc3\xa9.py", 'f', "E = 1\n", NULL },
	{ "pkg/a-very-long-directory-name-that-goes-on-and-on/another-one-"
	  "just-as-long-as-the-first/__pycache__/and-a-module-name-as-well."
	  "cpython-311.pyc", 'f', "long", NULL },
	{ "pkg/empty.txt", 'f', "", NULL },
};

Test(tar, direct_reader_agrees_with_libarchive_in_every_format)
{
	static const int formats[] = { ARCHIVE_FORMAT_TAR_USTAR,
	    ARCHIVE_FORMAT_TAR_PAX_INTERCHANGE,
	    ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, ARCHIVE_FORMAT_TAR_GNUTAR };
	char got[8192], want[8192];
	size_t i, n = sizeof shapes / sizeof shapes[0];

	/* As pycstrip runs: libarchive needs it for UTF-8 pax names. */
	cr_assert_not_null(setlocale(LC_CTYPE, "C.UTF-8"));
	for (i = 0; i < sizeof formats / sizeof formats[0]; i++) {
		/* ustar cannot hold the long name: one member less. */
		make_tar(path, formats[i], NULL, shapes,
		    formats[i] == ARCHIVE_FORMAT_TAR_USTAR ? n - 2 : n);
		cr_assert_eq(direct(path, got, sizeof got), 1,
		    "format %#x left to libarchive", formats[i]);
		libarchive_names(path, want, sizeof want);
		cr_expect_str_eq(got, want, "format %#x", formats[i]);
	}
}

/* Runs a shell command in the test directory. */
static void
sh(const char *what)
{
	char cmd[1024];

	snprintf(cmd, sizeof cmd, "cd '%s' && %s", dir, what);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

Test(tar, direct_reader_leaves_the_rare_shapes_to_libarchive)
{
	char got[8192];
	static const struct member link[] = {
		{ "a.pyc", 'f', "bytecode", NULL },
		{ "b.dat", 'h', NULL, "a.pyc" },
	};

	make_tar(path, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, NULL, link, 2);
	cr_expect_eq(direct(path, got, sizeof got), 0, "hard link");
	sh("mkdir -p s && echo x > s/x.py && truncate -s 1M s/sparse && "
	    "tar -S --format=gnu -cf sparse.tar s");
	cr_expect_eq(direct_in_dir("sparse.tar", got, sizeof got), 0,
	    "GNU sparse");
	sh("tar --format=pax --pax-option=comment=note -cf global.tar s/x.py");
	cr_expect_eq(direct_in_dir("global.tar", got, sizeof got), 0,
	    "pax global header");
	sh("tar --format=v7 -cf v7.tar s/x.py");
	cr_expect_eq(direct_in_dir("v7.tar", got, sizeof got), 0, "v7 header");
	/* A bad checksum, and a truncation: libarchive's to report. */
	sh("tar --format=gnu -cf gnu.tar s/x.py && cp gnu.tar bad.tar && "
	    "printf 'X' | dd of=bad.tar bs=1 seek=10 conv=notrunc 2>/dev/null &&"
	    " head -c 700 gnu.tar > short.tar");
	cr_expect_eq(direct_in_dir("gnu.tar", got, sizeof got), 1, "GNU tar");
	cr_expect_str_eq(got, "s/x.py;");
	cr_expect_eq(direct_in_dir("bad.tar", got, sizeof got), 0,
	    "bad checksum");
	cr_expect_eq(direct_in_dir("short.tar", got, sizeof got), 0,
	    "truncated");
}

/*
 * A header's checksum is the unsigned sum of its bytes (POSIX) or, from
 * some old writers, the signed one; they differ when a byte is >= 128.
 * patch.py rewrites the first header's checksum field to the sum asked.
 */
Test(tar, direct_reader_takes_signed_and_unsigned_checksums)
{
	static const char patch[] =
	    "import sys\n"
	    "b = bytearray(open(sys.argv[1], 'rb').read())\n"
	    "h = b[:512]\n"
	    "h[148:156] = b' ' * 8\n"
	    "u = sum(h)\n"
	    "s = sum(c - 256 if c > 127 else c for c in h)\n"
	    "v = {'u': u, 's': s, 'x': u + 1}[sys.argv[2]]\n"
	    "assert u != s\n"
	    "b[148:156] = b'%06o\\0 ' % v\n"
	    "open(sys.argv[3], 'wb').write(b)\n";
	char got[8192], py[4200];
	FILE *f;

	snprintf(py, sizeof py, "%s/patch.py", dir);
	f = fopen(py, "w");
	cr_assert_not_null(f);
	fputs(patch, f);
	fclose(f);
	sh("mkdir -p s && printf x > \"s/$(printf '\\303\\251\\377').py\" && "
	    "tar --format=gnu -cf u.tar s/*.py && "
	    "python3 patch.py u.tar u u2.tar && cmp u.tar u2.tar && "
	    "python3 patch.py u.tar s s.tar && python3 patch.py u.tar x x.tar");
	cr_expect_eq(direct_in_dir("u.tar", got, sizeof got), 1,
	    "unsigned sum");
	cr_expect_str_eq(got, "s/\303\251\377.py;");
	cr_expect_eq(direct_in_dir("s.tar", got, sizeof got), 1, "signed sum");
	cr_expect_str_eq(got, "s/\303\251\377.py;");
	/* Neither sum: left to libarchive, which refuses it. */
	cr_expect_eq(direct_in_dir("x.tar", got, sizeof got), 0, "wrong sum");
}
