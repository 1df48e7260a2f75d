/*
 * test_atomic.c - atomic replacement on a fresh mkdtemp directory (on
 * /dev/shm when there is one): the temporary's name and place, commit
 * (content, mode, rename), abort, the signal-time clean-up, and which
 * stale temporaries ps_atomic_remove_stale() takes and which it spares.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "atomic.h"

static char dir[256];

static void
setup(void)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

	snprintf(dir, sizeof dir, "%s/ps-atomic.XXXXXX", base);
	cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
}

static void
teardown(void)
{
	char cmd[300];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	(void)system(cmd);
}

static void
path_in(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", dir, name);
}

static void
put(const char *name, const char *text, mode_t mode)
{
	char p[512];
	int fd;

	path_in(p, sizeof p, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	cr_assert(fd >= 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	cr_assert_eq(chmod(p, mode), 0);
}

static void
age(const char *name, int seconds)
{
	struct timeval tv[2];
	char p[512];

	path_in(p, sizeof p, name);
	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= seconds;
	tv[1] = tv[0];
	cr_assert_eq(lutimes(p, tv), 0);
}

static bool
exists(const char *name)
{
	struct stat st;
	char p[512];

	path_in(p, sizeof p, name);
	return lstat(p, &st) == 0;
}

/* Counts the directory's entries whose name contains s. */
static int
count_like(const char *s)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	cr_assert_not_null(d);
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, s) != NULL)
			n++;
	closedir(d);
	return n;
}

static void
read_back(const char *name, char *buf, size_t size)
{
	char p[512];
	ssize_t n;
	int fd;

	path_in(p, sizeof p, name);
	fd = open(p, O_RDONLY);
	cr_assert(fd >= 0);
	n = read(fd, buf, size - 1);
	cr_assert(n >= 0);
	buf[n] = '\0';
	close(fd);
}

/* Puts "old" in x.whl with mode, and begins the temporary replacing it. */
static void
begin_over(struct ps_atomic *a, mode_t mode, char *dest, size_t size,
    struct stat *like)
{
	struct ps_error err = { 0 };

	put("x.whl", "old", mode);
	path_in(dest, size, "x.whl");
	cr_assert_eq(stat(dest, like), 0);
	cr_assert_eq(ps_atomic_begin(a, dest, like, &err), 0, "%s", err.msg);
}

/* Asserts x.whl now holds "new" with mode; its stat in st. */
static void
replaced(mode_t mode, struct stat *st)
{
	char dest[512], buf[64];

	read_back("x.whl", buf, sizeof buf);
	cr_assert_str_eq(buf, "new");
	path_in(dest, sizeof dest, "x.whl");
	cr_assert_eq(stat(dest, st), 0);
	cr_assert_eq(st->st_mode & 07777, mode);
}

TestSuite(atomic, .init = setup, .fini = teardown);

Test(atomic, temporary_is_named_beside_the_target)
{
	struct ps_atomic a;
	struct ps_error err = { 0 };
	char dest[512], want[600];

	ps_atomic_allow_unnamed(0);
	path_in(dest, sizeof dest, "x.whl");
	cr_assert_eq(ps_atomic_begin(&a, dest, NULL, &err), 0, "%s", err.msg);
	cr_assert_not(a.unnamed);
	snprintf(want, sizeof want, "%s/.x.whl.pycstrip-", dir);
	cr_assert_eq(strncmp(a.tmp, want, strlen(want)), 0, "%s", a.tmp);
	cr_assert_eq(strlen(a.tmp), strlen(want) + 6);
	cr_assert(exists(a.tmp + strlen(dir) + 1));
	ps_atomic_abort(&a);
	cr_assert_eq(count_like(".pycstrip-"), 0);
}

/* The default on a file system with O_TMPFILE (tmpfs, ext4, xfs, ...). */
Test(atomic, unnamed_temporary_has_no_name_until_commit)
{
	struct ps_atomic a;
	struct ps_error err = { 0 };
	struct stat like, st;
	char dest[512], buf[64];

	begin_over(&a, 0604, dest, sizeof dest, &like);
	cr_assert(a.unnamed, "no O_TMPFILE in %s", dir);
	cr_assert_eq(write(a.fd, "new", 3), 3);
	cr_assert_eq(count_like(".pycstrip-"), 0);
	cr_assert_str_eq(ps_atomic_name(&a), dest);
	cr_assert_eq(ps_atomic_commit(&a, &err), 0, "%s", err.msg);
	replaced(0604, &st);
	cr_assert_eq(st.st_nlink, 1);
	cr_assert_eq(count_like(".pycstrip-"), 0);

	/* Aborted: nothing to unlink, nothing left, the target as it was. */
	cr_assert_eq(ps_atomic_begin(&a, dest, &like, &err), 0, "%s", err.msg);
	cr_assert_eq(write(a.fd, "partial", 7), 7);
	ps_atomic_abort(&a);
	read_back("x.whl", buf, sizeof buf);
	cr_assert_str_eq(buf, "new");
	cr_assert_eq(count_like(".pycstrip-"), 0);
}

Test(atomic, commit_replaces_with_content_and_mode)
{
	struct ps_atomic a;
	struct ps_error err = { 0 };
	struct stat like, st;
	char dest[512];

	begin_over(&a, 0640, dest, sizeof dest, &like);
	cr_assert_eq(write(a.fd, "new", 3), 3);
	cr_assert_eq(ps_atomic_commit(&a, &err), 0, "%s", err.msg);
	replaced(0640, &st);
	cr_assert_eq(count_like(".pycstrip-"), 0);
}

Test(atomic, abort_leaves_the_target_and_no_temporary)
{
	struct ps_atomic a;
	struct ps_error err = { 0 };
	char dest[512], buf[64];

	put("x.tar.gz", "old", 0644);
	path_in(dest, sizeof dest, "x.tar.gz");
	cr_assert_eq(ps_atomic_begin(&a, dest, NULL, &err), 0, "%s", err.msg);
	cr_assert_eq(write(a.fd, "partial", 7), 7);
	ps_atomic_abort(&a);
	read_back("x.tar.gz", buf, sizeof buf);
	cr_assert_str_eq(buf, "old");
	cr_assert_eq(count_like(".pycstrip-"), 0);
}

Test(atomic, unlink_all_removes_pending_temporaries)
{
	struct ps_atomic a, b;
	struct ps_error err = { 0 };
	char d1[512], d2[512];

	ps_atomic_allow_unnamed(0);
	path_in(d1, sizeof d1, "a.whl");
	path_in(d2, sizeof d2, "b.whl");
	cr_assert_eq(ps_atomic_begin(&a, d1, NULL, &err), 0);
	cr_assert_eq(ps_atomic_begin(&b, d2, NULL, &err), 0);
	cr_assert_eq(count_like(".pycstrip-"), 2);
	ps_atomic_unlink_all();
	cr_assert_eq(count_like(".pycstrip-"), 0);
	ps_atomic_abort(&a);
	ps_atomic_abort(&b);
}

Test(atomic, begin_fails_cleanly_in_a_missing_directory)
{
	struct ps_atomic a;
	struct ps_error err = { 0 };
	char dest[512];

	path_in(dest, sizeof dest, "no/such/x.whl");
	cr_assert_eq(ps_atomic_begin(&a, dest, NULL, &err), -1);
	cr_assert_eq(err.kind, PS_ERR_SYS);
	cr_assert_not_null(strstr(err.msg, "cannot create temporary file"),
	    "%s", err.msg);
}

Test(atomic, stale_removes_only_old_unlocked_temporaries_of_the_target)
{
	char dest[512], p[512];
	int fd;

	put("x.whl", "x", 0644);
	put(".x.whl.pycstrip-old111", "", 0600);
	put(".x.whl.pycstrip-new222", "", 0600);
	put(".x.whl.pycstrip-ab", "", 0600);          /* not six characters */
	put(".y.whl.pycstrip-old333", "", 0600);      /* another target's */
	put(".x.whl.pycstrip-lck444", "", 0600);      /* held by a live run */
	path_in(p, sizeof p, ".x.whl.pycstrip-lnk555");
	cr_assert_eq(symlink("x.whl", p), 0);
	age(".x.whl.pycstrip-old111", 120);
	age(".x.whl.pycstrip-ab", 120);
	age(".y.whl.pycstrip-old333", 120);
	age(".x.whl.pycstrip-lck444", 120);
	age(".x.whl.pycstrip-lnk555", 120);
	path_in(p, sizeof p, ".x.whl.pycstrip-lck444");
	fd = open(p, O_RDONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(flock(fd, LOCK_EX), 0);

	path_in(dest, sizeof dest, "x.whl");
	ps_atomic_remove_stale(dest);
	cr_assert(!exists(".x.whl.pycstrip-old111"));
	cr_assert(exists(".x.whl.pycstrip-new222"));
	cr_assert(exists(".x.whl.pycstrip-ab"));
	cr_assert(exists(".y.whl.pycstrip-old333"));
	cr_assert(exists(".x.whl.pycstrip-lck444"));
	cr_assert(exists(".x.whl.pycstrip-lnk555"));
	cr_assert(exists("x.whl"));

	/* Once its run is gone, the locked one goes too. */
	close(fd);
	ps_atomic_remove_stale(dest);
	cr_assert(!exists(".x.whl.pycstrip-lck444"));
}

Test(atomic, a_live_temporary_is_locked)
{
	struct ps_atomic a;
	struct ps_error err = { 0 };
	char dest[512];
	int fd;

	ps_atomic_allow_unnamed(0);
	path_in(dest, sizeof dest, "x.whl");
	cr_assert_eq(ps_atomic_begin(&a, dest, NULL, &err), 0);
	fd = open(a.tmp, O_RDONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), -1);
	cr_assert_eq(errno, EWOULDBLOCK);
	close(fd);
	ps_atomic_abort(&a);
}
