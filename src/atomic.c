#define _GNU_SOURCE
#include "atomic.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define SUFFIX ".pycstrip-"
#define MAX_PENDING 256
#define LINK_TRIES 100

/*
 * Paths of the temporaries now being written, for ps_atomic_unlink_all().
 * A slot holds a pointer that is set before the file exists and cleared
 * after it is gone or renamed; sig_atomic-sized stores keep the handler
 * from seeing a half-written pointer.
 */
static char *volatile pending[MAX_PENDING];

static int
claim_slot(char *path)
{
	int i;

	for (i = 0; i < MAX_PENDING; i++)
		if (__sync_bool_compare_and_swap(&pending[i], NULL, path))
			return i;
	return -1;
}

static void
release_slot(int slot)
{
	if (slot >= 0)
		__atomic_store_n(&pending[slot], NULL, __ATOMIC_SEQ_CST);
}

void
ps_atomic_unlink_all(void)
{
	int i;

	for (i = 0; i < MAX_PENDING; i++) {
		char *p = __atomic_load_n(&pending[i], __ATOMIC_SEQ_CST);

		if (p != NULL)
			(void)unlink(p);
	}
}

/* Returns the directory part of path ("." when none), malloc'd. */
static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

static const char *
base_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

int
ps_atomic_is_stdout(const char *dest)
{
	return strcmp(dest, "-") == 0;
}

const char *
ps_atomic_name(const struct ps_atomic *a)
{
	if (a->to_stdout)
		return "standard output";
	return a->unnamed ? a->dest : a->tmp;
}

/* -1: not yet known; 0: named temporaries only; 1: O_TMPFILE first. */
static int unnamed_ok = -1;

void
ps_atomic_allow_unnamed(int on)
{
	__atomic_store_n(&unnamed_ok, on ? -1 : 0, __ATOMIC_RELAXED);
}

/* Whether an O_TMPFILE file can be given a name through /proc. */
static int
can_link_proc(void)
{
	int ok = __atomic_load_n(&unnamed_ok, __ATOMIC_RELAXED);

	if (ok < 0) {
		ok = access("/proc/self/fd", X_OK) == 0;
		__atomic_store_n(&unnamed_ok, ok, __ATOMIC_RELAXED);
	}
	return ok;
}

/*
 * Gives the unnamed temporary its name: a->tmp's XXXXXX filled in, tried
 * again when taken.  Registered for the signal handlers once it exists.
 */
static int
link_unnamed(struct ps_atomic *a, struct ps_error *err)
{
	static const char abc[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	static unsigned counter;
	char proc[64];
	char *x = a->tmp + strlen(a->tmp) - 6;
	struct timespec ts;
	uint64_t v;
	int i, k;

	(void)snprintf(proc, sizeof proc, "/proc/self/fd/%d", a->fd);
	for (i = 0; i < LINK_TRIES; i++) {
		clock_gettime(CLOCK_REALTIME, &ts);
		v = (uint64_t)ts.tv_nsec * 2654435761u ^ (uint64_t)getpid() <<
		    20 ^ (uint64_t)__atomic_add_fetch(&counter, 1,
		    __ATOMIC_RELAXED) * 40503u ^ (uint64_t)ts.tv_sec;
		for (k = 0; k < 6; k++, v /= 62)
			x[k] = abc[v % 62];
		if (linkat(AT_FDCWD, proc, AT_FDCWD, a->tmp,
		    AT_SYMLINK_FOLLOW) == 0) {
			a->slot = claim_slot(a->tmp);
			return 0;
		}
		if (errno != EEXIST)
			break;
	}
	return ps_error_sys(err, errno, "cannot name the new %s", a->dest);
}

int
ps_atomic_begin(struct ps_atomic *a, const char *dest,
    const struct stat *like, struct ps_error *err)
{
	char *dir = NULL;
	size_t len;
	int rc = -1;

	memset(a, 0, sizeof *a);
	a->fd = -1;
	a->slot = -1;
	if (ps_atomic_is_stdout(dest)) {
		a->fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
		if (a->fd < 0)
			return ps_error_sys(err, errno,
			    "cannot write to standard output");
		a->to_stdout = 1;
		return 0;
	}
	dir = dir_of(dest);
	a->dest = strdup(dest);
	len = strlen(dest) + sizeof "/." SUFFIX "XXXXXX" + 1;
	a->tmp = malloc(len);
	if (dir == NULL || a->dest == NULL || a->tmp == NULL) {
		ps_error_nomem(err);
		goto out;
	}
	if ((size_t)snprintf(a->tmp, len, "%s/.%s" SUFFIX "XXXXXX", dir,
	    base_of(dest)) >= len) {
		ps_error_input(err, "path too long");
		goto out;
	}
	if (like != NULL) {
		a->mode = like->st_mode & 07777;
		a->uid = like->st_uid;
		a->gid = like->st_gid;
		a->have_owner = 1;
	} else {
		mode_t mask = umask(0);

		umask(mask);
		a->mode = 0666 & ~mask;
	}
	/*
	 * An unnamed file (O_TMPFILE) where the file system has them and
	 * /proc can name it at commit: a SIGKILL, a crash or a power cut
	 * before the commit leaves nothing behind.  Else a named one.
	 */
	if (can_link_proc()) {
		a->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (a->fd >= 0) {
			a->unnamed = 1;
			(void)flock(a->fd, LOCK_EX | LOCK_NB);
			rc = 0;
			goto out;
		}
		if (errno != EOPNOTSUPP && errno != EISDIR &&
		    errno != EINVAL && errno != ENOENT) {
			ps_error_sys(err, errno,
			    "cannot create temporary file in %s", dir);
			goto out;
		}
	}
	/* Register before the file exists so that a signal cannot orphan it. */
	a->slot = claim_slot(a->tmp);
	a->fd = mkostemp(a->tmp, O_CLOEXEC);
	if (a->fd < 0) {
		int e = errno;

		release_slot(a->slot);
		a->slot = -1;
		ps_error_sys(err, e, "cannot create temporary file in %s", dir);
		goto out;
	}
	/*
	 * Held until the file is closed: tells ps_atomic_remove_stale() in
	 * another run that this one is alive, however long it has been
	 * stopped (^Z) or slow to write.  Best effort: a file system without
	 * locks leaves the age test alone to decide.
	 */
	(void)flock(a->fd, LOCK_EX | LOCK_NB);
	rc = 0;
out:
	free(dir);
	if (rc < 0) {
		free(a->tmp);
		free(a->dest);
		a->tmp = a->dest = NULL;
	}
	return rc;
}

int
ps_atomic_copy(struct ps_atomic *a, int fd, off_t size, struct ps_error *err)
{
	off_t off = 0;

	while (off < size) {
		ssize_t n = copy_file_range(fd, &off, a->fd, NULL,
		    (size_t)(size - off), 0);

		if (n < 0 && (errno == EXDEV || errno == ENOSYS ||
		    errno == EINVAL || errno == EOPNOTSUPP ||
		    errno == EBADF)) {
			char buf[1 << 16];
			ssize_t r = pread(fd, buf, sizeof buf, off);

			if (r > 0 && write(a->fd, buf, (size_t)r) != r)
				r = -1;
			n = r;
			if (n > 0)
				off += n;
		}
		if (n < 0)
			return ps_error_sys(err, errno, "cannot copy to %s",
			    ps_atomic_name(a));
		if (n == 0)
			return ps_error_input(err,
			    "file shrank while being read");
	}
	return 0;
}

/*
 * When /proc cannot name the unnamed temporary after all (a sandbox that
 * has O_TMPFILE but not linkat through /proc): its bytes go into a named
 * temporary instead, and later runs use named ones from the start.
 * On success a holds the named temporary; the commit then sets its owner
 * and mode and flushes it as for any other.
 */
static int
copy_to_named(struct ps_atomic *a, struct ps_error *err)
{
	struct ps_atomic n = *a;
	struct stat st;

	ps_atomic_allow_unnamed(0);
	memcpy(a->tmp + strlen(a->tmp) - 6, "XXXXXX", 6);
	n.unnamed = 0;
	n.slot = claim_slot(n.tmp);
	n.fd = mkostemp(n.tmp, O_CLOEXEC);
	if (n.fd < 0) {
		release_slot(n.slot);
		return ps_error_sys(err, errno, "cannot create temporary "
		    "file for %s", a->dest);
	}
	(void)flock(n.fd, LOCK_EX | LOCK_NB);
	if (fstat(a->fd, &st) < 0 || ps_atomic_copy(&n, a->fd, st.st_size,
	    err) < 0) {
		if (err->msg[0] == '\0')
			ps_error_sys(err, errno, "cannot copy to %s", n.tmp);
		(void)close(n.fd);
		(void)unlink(n.tmp);
		release_slot(n.slot);
		return -1;
	}
	(void)close(a->fd);
	a->fd = n.fd;
	a->slot = n.slot;
	a->unnamed = 0;
	return 0;
}

static void
release(struct ps_atomic *a)
{
	release_slot(a->slot);
	a->slot = -1;
	free(a->tmp);
	free(a->dest);
	a->tmp = a->dest = NULL;
	a->fd = -1;
}

void
ps_atomic_abort(struct ps_atomic *a)
{
	if (a->to_stdout) {
		(void)close(a->fd);
		a->fd = -1;
		a->to_stdout = 0;
		return;
	}
	if (a->tmp == NULL)
		return;
	if (a->fd >= 0)
		(void)close(a->fd);
	/* An unnamed temporary goes with its last descriptor. */
	if (!a->unnamed)
		(void)unlink(a->tmp);
	a->unnamed = 0;
	release(a);
}

static void
sync_dir(const char *dest)
{
	char *dir = dir_of(dest);
	int fd;

	if (dir == NULL)
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		/* Some file systems refuse fsync on a directory: not an error. */
		(void)fsync(fd);
		(void)close(fd);
	}
	free(dir);
}

int
ps_atomic_commit(struct ps_atomic *a, struct ps_error *err)
{
	int fd = a->fd;

	if (a->to_stdout) {
		a->fd = -1;
		a->to_stdout = 0;
		if (close(fd) < 0)
			return ps_error_sys(err, errno,
			    "cannot write to standard output");
		return 0;
	}

again:
	if (a->have_owner && geteuid() == 0 &&
	    fchown(fd, a->uid, a->gid) < 0) {
		ps_error_sys(err, errno, "cannot set owner of %s",
		    ps_atomic_name(a));
		goto fail;
	}
	/* After chown: it clears set-id bits, which fchmod puts back. */
	if (fchmod(fd, a->mode) < 0) {
		ps_error_sys(err, errno, "cannot set mode of %s",
		    ps_atomic_name(a));
		goto fail;
	}
	if (fsync(fd) < 0) {
		ps_error_sys(err, errno, "cannot flush %s", ps_atomic_name(a));
		goto fail;
	}
	/* Named only now, whole and flushed, just before the rename. */
	if (a->unnamed && link_unnamed(a, err) < 0) {
		ps_error_clear(err);
		if (copy_to_named(a, err) < 0)
			goto fail;
		fd = a->fd;
		goto again;     /* the named copy: owner, mode, flush */
	}
	a->unnamed = 0;
	/*
	 * Renamed while still open, so still locked: another run's stale
	 * clean-up spares it however long this one is stopped here.  The
	 * data is flushed, so the close cannot lose it; once renamed, the
	 * new archive is in place whatever the close says.
	 */
	if (rename(a->tmp, a->dest) < 0) {
		ps_error_sys(err, errno, "cannot rename %s to %s", a->tmp,
		    a->dest);
		goto fail;
	}
	a->fd = -1;
	(void)close(fd);
	sync_dir(a->dest);
	release(a);
	return 0;
fail:
	ps_atomic_abort(a);
	return -1;
}

void
ps_atomic_remove_stale(const char *dest)
{
	char *dir = dir_of(dest);
	const char *base = base_of(dest);
	size_t blen = strlen(base);
	time_t now = time(NULL);
	DIR *d;
	struct dirent *de;
	int dfd;

	if (dir == NULL)
		return;
	d = opendir(dir);
	free(dir);
	if (d == NULL)
		return;
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		struct stat st;

		/* ".BASE.pycstrip-XXXXXX" exactly. */
		if (n[0] != '.' || strncmp(n + 1, base, blen) != 0 ||
		    strncmp(n + 1 + blen, SUFFIX, sizeof SUFFIX - 1) != 0 ||
		    strlen(n + 1 + blen + sizeof SUFFIX - 1) != 6)
			continue;
		int fd;

		if (fstatat(dfd, n, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
		    now - st.st_mtime < 60)
			continue;
		/* A live run holds its temporary locked: spare it. */
		fd = openat(dfd, n, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			(void)unlinkat(dfd, n, 0);
		(void)close(fd);
	}
	closedir(d);
}
