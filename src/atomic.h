/*
 * atomic.h - replace a file atomically, or not at all.
 *
 * A new file is written beside its destination, unnamed (O_TMPFILE) where
 * the file system allows it and /proc is there to name it, else under the
 * recognisable name ".NAME.pycstrip-XXXXXX".  Commit flushes it (fsync),
 * gives it the mode (and, as root, the owner) of the file it replaces,
 * names an unnamed one ".NAME.pycstrip-XXXXXX" (linkat through
 * /proc/self/fd: rename(2) needs a name), renames it over the destination
 * and flushes the directory.  Abort closes it (an unnamed file is then
 * gone) and unlinks a named one.  So a SIGKILL or a crash leaves a named
 * temporary only between the link and the rename, or on a file system
 * without O_TMPFILE.  Between begin and commit/abort the temporary's path is
 * registered in a small process-wide table so that a signal handler can
 * unlink it (ps_atomic_unlink_all(), async-signal-safe): the one piece of
 * global state in the library, as git's lockfile.c keeps its list.
 *
 *     struct ps_atomic a;
 *     if (ps_atomic_begin(&a, "dist/x.whl", &st, &err) < 0) ...
 *     write(a.fd, ...);
 *     if (failed) ps_atomic_abort(&a); else ps_atomic_commit(&a, &err);
 *
 * The destination "-" is standard output (`-o -`): written as it goes,
 * with no temporary, no rename and no mode or owner set.
 */
#ifndef PS_ATOMIC_H
#define PS_ATOMIC_H

#include <sys/stat.h>

#include "error.h"

struct ps_atomic {
	int fd;           /* open for writing; closed by commit/abort */
	char *tmp;        /* the temporary's path (owned) */
	char *dest;       /* the destination's path (owned copy) */
	mode_t mode;      /* permission bits to give the result */
	uid_t uid;
	gid_t gid;
	int have_owner;   /* set the owner (when like was given) */
	int slot;         /* index in the signal cleanup table, or -1 */
	int to_stdout;    /* dest is "-": fd is a duplicate of standard output */
	int unnamed;      /* O_TMPFILE: tmp is a template, named at commit */
};

/* Whether dest names standard output ("-"). */
int ps_atomic_is_stdout(const char *dest);

/* What messages call the file being written: the temporary's name, the
 * destination while the temporary is unnamed, or "standard output". */
const char *ps_atomic_name(const struct ps_atomic *a);

/*
 * Creates the temporary beside dest.  like, when not NULL, is the stat of
 * the file being replaced: the result gets its permission bits and owner;
 * else the result gets 0666 & ~umask.  Returns 0, or -1 with err set
 * ("cannot create temporary file in DIR: ...").
 */
int ps_atomic_begin(struct ps_atomic *a, const char *dest,
    const struct stat *like, struct ps_error *err);

/*
 * fsyncs, sets mode/owner, closes, renames over dest and fsyncs the
 * directory.  On failure the temporary is removed and dest is untouched.
 * Returns 0 or -1 with err set.  Either way a is released.
 */
int ps_atomic_commit(struct ps_atomic *a, struct ps_error *err);

/*
 * Copies the first size bytes of fd into a's file, at its current offset
 * (copy_file_range, or read and write where that cannot).  Returns 0, or
 * -1 with err set ("cannot copy to NAME: ...", or "file shrank while
 * being read"); a is left for the caller to abort.
 */
int ps_atomic_copy(struct ps_atomic *a, int fd, off_t size,
    struct ps_error *err);

/* Closes and unlinks the temporary; releases a.  Takes a released a. */
void ps_atomic_abort(struct ps_atomic *a);

/*
 * Whether ps_atomic_begin() may use an unnamed (O_TMPFILE) temporary:
 * on by default; off makes every temporary a named one (the path taken on
 * file systems without O_TMPFILE), for the tests of that path.
 */
void ps_atomic_allow_unnamed(int on);

/* Unlinks every registered temporary.  Async-signal-safe. */
void ps_atomic_unlink_all(void);

/*
 * Removes stale ".NAME.pycstrip-XXXXXX" files beside dest left by a killed
 * run: regular files of ours, older than a minute, that no live run holds
 * locked (ps_atomic_begin() takes an flock on its temporary), so that a
 * concurrent run's file is spared even when that run is stopped or slow.
 * Best effort; never fails.
 */
void ps_atomic_remove_stale(const char *dest);

#endif
