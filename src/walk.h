/*
 * walk.h - tree mode: remove bytecode below a directory, in place.
 *
 * The walk is iterative (no recursion, no depth limit) and works only
 * relative to open directory handles: every directory is opened with
 * openat(parent, name, O_DIRECTORY|O_NOFOLLOW) and its st_dev/st_ino are
 * checked against what fstatat(AT_SYMLINK_NOFOLLOW) saw, and every removal
 * is an unlinkat() relative to the directory that holds the entry.  So a
 * directory swapped for a symlink during the walk cannot lead it outside the
 * target.  At most PS_WALK_MAX_FDS directory handles are open at once (the
 * worker threads of one walk share them, at least 4 each):
 * deeper than that, ancestors are closed and re-opened on the way back up
 * through "..", checked against the recorded st_dev/st_ino (a moved
 * directory fails that subtree, it never redirects the walk).
 *
 * Symbolic links are never followed; ".git", ".hg" and ".svn" are not
 * entered; FIFOs, sockets and devices are never opened.  Memory is bounded
 * by the entries of the directories on the current path, plus the removed
 * list when opts->collect.
 */
#ifndef PS_WALK_H
#define PS_WALK_H

#include "pycstrip.h"

#define PS_WALK_MAX_FDS 64

/*
 * Walks the directory at path (a target given by the user).  Entries that
 * cannot be removed are recorded with ps_result_failure() and the walk goes
 * on.  Returns 0 when the walk was complete (even if some entries could not
 * be removed), -1 with err set when the target itself cannot be walked.
 */
int ps_walk_tree(const struct ps_options *opts, const char *path,
    struct ps_result *res, struct ps_error *err);

#endif
