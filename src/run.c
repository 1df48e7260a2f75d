#define _GNU_SOURCE
#include "pycstrip.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "atomic.h"
#include "walk.h"

/*
 * The target's error when some entries could not be removed: the first
 * one, and how many more.
 */
static void
summarise_failures(struct ps_result *res)
{
	const char *first = res->failures.v[0];
	struct ps_error e;

	if (res->failures.n == 1)
		ps_error_input(&e, "%s: %s", first, first + strlen(first) + 1);
	else
		ps_error_input(&e, "%s: %s (and %zu more entries not removed)",
		    first, first + strlen(first) + 1, res->failures.n - 1);
	ps_result_fail(res, &e);
}

/*
 * A refused archive is untouched: what its rewriter had counted before the
 * refusal did not happen, so the summary must not claim it.
 */
static void
forget_removals(struct ps_result *res)
{
	res->removed_files = res->removed_dirs = res->removed_bytes = 0;
	res->found = 0;
	ps_strlist_release(&res->removed);
	ps_strlist_release(&res->signatures_removed);
	res->bytes_after = res->bytes_before;
	if (res->record_updated > 0)
		res->record_updated = 0;
}

/*
 * An -o FILE that exists must be a regular file other than the archive
 * being read: PATH is never modified with -o (cp refuses "the same file"),
 * and a device, FIFO or socket is never replaced by a rename nor written
 * into (-o - is the way to a pipe).  A directory is refused, not entered.
 */
static int
check_output(const char *output, const struct stat *in, struct ps_error *err)
{
	struct stat st;

	if (stat(output, &st) < 0)
		return errno == ENOENT ? 0 : ps_error_sys(err, errno,
		    "cannot write %s", output);
	if (S_ISDIR(st.st_mode))
		return ps_error_input(err, "cannot write %s: it is a "
		    "directory", output);
	if (!S_ISREG(st.st_mode))
		return ps_error_input(err, "cannot write %s: not a regular "
		    "file (use -o - to write to a pipe or device)", output);
	if (st.st_dev == in->st_dev && st.st_ino == in->st_ino)
		return ps_error_input(err, "cannot write %s: it is the archive "
		    "being read (-o never modifies PATH)", output);
	return 0;
}

static int
run_archive(const struct ps_options *opts, const char *path,
    struct ps_result *res, struct ps_error *err)
{
	char *real = NULL, *real_out = NULL;
	const char *dest = path;
	struct ps_options o = *opts;
	const char *given = opts->output; /* as named, for messages */
	struct stat lst, st;
	int fd, rc;

	/*
	 * An archive named through a symbolic link is rewritten where it
	 * lies: renaming over the link would replace the link.  So is an -o
	 * FILE that is a link, as cp writes through one; like cp, not
	 * through a dangling one.
	 */
	if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
		real = realpath(path, NULL);
		if (real == NULL)
			return ps_error_sys(err, errno, "cannot resolve");
		dest = real;
	}
	if (o.output != NULL && !ps_atomic_is_stdout(o.output) &&
	    lstat(o.output, &lst) == 0 && S_ISLNK(lst.st_mode)) {
		real_out = realpath(o.output, NULL);
		if (real_out == NULL) {
			rc = errno == ENOENT ? ps_error_input(err, "cannot write "
			    "%s: not writing through a dangling symbolic link",
			    o.output) : ps_error_sys(err, errno,
			    "cannot resolve %s", o.output);
			goto out;
		}
		o.output = real_out;
	}
	opts = &o;
	fd = open(dest, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = ps_error_sys(err, errno, "cannot open");
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = ps_error_input(err, "not a regular file");
		close(fd);
		goto out;
	}
	if (o.mode == PS_MODE_STRIP && o.output != NULL &&
	    !ps_atomic_is_stdout(o.output) && check_output(given, &st, err) < 0) {
		rc = -1;
		close(fd);
		goto out;
	}
	/* Reads block from here on (O_NONBLOCK only guarded the open). */
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	res->kind = PS_KIND_ARCHIVE;
	rc = ps_archive_run(opts, dest, fd, &st, res, err);
	close(fd);
out:
	free(real);
	free(real_out);
	return rc;
}

int
ps_run_target(const struct ps_options *opts, const char *path,
    struct ps_result *res)
{
	struct ps_error err = { 0 };
	struct stat st;
	int rc;

	if (stat(path, &st) < 0) {
		rc = ps_error_sys(&err, errno, "cannot access");
	} else if (S_ISDIR(st.st_mode)) {
		res->kind = PS_KIND_TREE;
		if (opts->output != NULL)
			rc = ps_error_input(&err,
			    "-o needs an archive, not a directory");
		else
			rc = ps_walk_tree(opts, path, res, &err);
	} else if (S_ISREG(st.st_mode)) {
		res->kind = PS_KIND_ARCHIVE;
		rc = run_archive(opts, path, res, &err);
	} else {
		rc = ps_error_input(&err,
		    "not a directory or regular file (nothing done)");
	}
	if (rc < 0) {
		ps_result_fail(res, &err);
		if (res->kind == PS_KIND_ARCHIVE)
			forget_removals(res);
		return -1;
	}
	if (res->failures.n > 0) {
		summarise_failures(res);
		return -1;
	}
	return 0;
}
