/*
 * match.h - which names are Python bytecode, and which paths are excluded.
 *
 * Pure functions over strings: no I/O, no allocation.  Tree mode asks about
 * one directory entry at a time; archive mode about whole member names, in
 * which a "__pycache__" component may exist only as a prefix.
 *
 * The rules (SPEC "What is removed"):
 *   - a directory named exactly "__pycache__", with all it holds;
 *   - a file whose name ends in ".pyc" or ".pyo" (case sensitive: "X.PYC"
 *     stays), or in ".pyc.NNN"/".pyo.NNN" with NNN one or more digits (the
 *     temporary file an interrupted bytecode write leaves behind);
 *   - nothing else.
 */
#ifndef PS_MATCH_H
#define PS_MATCH_H

#include <stdbool.h>
#include <stddef.h>

enum ps_bytecode {
	PS_BC_NONE = 0,
	PS_BC_FILE,      /* X.pyc or X.pyo: may be a sourceless module */
	PS_BC_TEMP,      /* X.pyc.NNN / X.pyo.NNN: always removed */
};

/* Returns whether the len bytes at name are exactly "__pycache__". */
bool ps_match_is_pycache(const char *name, size_t len);

/* Classifies a file's base name (len bytes, no '/'). */
enum ps_bytecode ps_match_bytecode(const char *name, size_t len);

/*
 * For a legacy "X.pyc"/"X.pyo" base name, returns the length of "X.py"
 * (the source it would be compiled from), else 0.  The source name is the
 * first len-1 bytes of name.
 */
size_t ps_match_source_len(const char *name, size_t len);

/*
 * Returns the length of the shortest prefix of the member name that ends in
 * a "__pycache__" component (so name[0..n) is that directory), or 0 when no
 * component of name is "__pycache__".  A leading "./" is skipped by the
 * caller (ps_match_strip_dot()).
 */
size_t ps_match_pycache_prefix(const char *name, size_t len);

/* Returns name with every leading "./" (and extra '/' after it) skipped. */
const char *ps_match_strip_dot(const char *name);

/*
 * Returns whether the relative path (or member name, "./" skipped) is
 * excluded by one of the globs.  A glob without '/' is matched (fnmatch,
 * '*' not crossing '/') against every component of path; a glob with '/'
 * against the whole path and against each of its directory prefixes
 * ('*' crossing '/'), so that excluding a directory excludes all below it.
 * A trailing '/' on a glob or a leading "./" is ignored.
 */
bool ps_match_excluded(const char *const *globs, size_t n, const char *path);

/*
 * Archive member rule: returns whether the member (name without leading
 * "./", is_dir for directory entries, is_link for symbolic links) is
 * bytecode to remove before the sourceless and exclude checks: inside a
 * __pycache__ directory, a directory or link named __pycache__ (a regular
 * file so named stays, as in tree mode), or a PS_BC_FILE / PS_BC_TEMP base
 * name that is not a directory.  *loose is set when it is a PS_BC_FILE
 * outside __pycache__ (the caller decides whether it is sourceless).
 */
bool ps_match_member(const char *name, bool is_dir, bool is_link,
    bool *loose);

#endif
