#define _GNU_SOURCE
#include "atomic.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define SUFFIX ".pycstrip-"
#define MAX_PENDING 256

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
	(void)unlink(a->tmp);
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

	if (a->have_owner && geteuid() == 0 &&
	    fchown(fd, a->uid, a->gid) < 0) {
		ps_error_sys(err, errno, "cannot set owner of %s", a->tmp);
		goto fail;
	}
	/* After chown: it clears set-id bits, which fchmod puts back. */
	if (fchmod(fd, a->mode) < 0) {
		ps_error_sys(err, errno, "cannot set mode of %s", a->tmp);
		goto fail;
	}
	if (fsync(fd) < 0) {
		ps_error_sys(err, errno, "cannot flush %s", a->tmp);
		goto fail;
	}
	a->fd = -1;
	if (close(fd) < 0) {
		ps_error_sys(err, errno, "cannot close %s", a->tmp);
		goto fail;
	}
	if (rename(a->tmp, a->dest) < 0) {
		ps_error_sys(err, errno, "cannot rename %s to %s", a->tmp,
		    a->dest);
		goto fail;
	}
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
