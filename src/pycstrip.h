/*
 * pycstrip.h - the library's public face: options, per-target results and
 * the entry point that processes one target.
 *
 * A target is a path as the user gave it: a directory is cleaned in place
 * (tree mode, walk.h); a regular file is read as an archive (archive.h).  The
 * library never prints and never exits: it reports through the result it
 * fills and through the optional event callback (the command prints from
 * there).  Several targets may be processed at once from different threads:
 * each call touches only its own struct ps_result; the event callback must be
 * thread safe.
 */
#ifndef PS_PYCSTRIP_H
#define PS_PYCSTRIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "strlist.h"

#define PS_VERSION "0.1.0"

enum ps_mode {
	PS_MODE_STRIP = 0,  /* remove what matches, in place */
	PS_MODE_DRY_RUN,    /* report only */
	PS_MODE_CHECK,      /* report only; the command exits 1 when found */
};

enum ps_event_kind {
	PS_EV_REMOVED,      /* name was (or would be) removed */
	PS_EV_WARNING,      /* a warning, e.g. a sourceless module */
};

struct ps_event {
	enum ps_event_kind kind;
	const char *target;  /* the target path as given */
	const char *name;    /* member or relative path, may be NULL */
	const char *message; /* warning text, NULL for PS_EV_REMOVED */
	bool in_archive;     /* name is a member name, not a path below target */
};

struct ps_options {
	enum ps_mode mode;
	const char *const *excludes;  /* globs, borrowed */
	size_t n_excludes;
	bool keep_sourceless;
	bool verify;                  /* archives: check every kept entry */
	int level;                    /* tar re-compression level, -1 = default */
	const char *output;           /* -o FILE, archive mode, or NULL */
	bool collect;                 /* keep the removed list for the summary */
	bool sizes;                   /* count removed_bytes in tree strip mode
	                               * (one fstatat per removed file) */
	int threads;                  /* tree walkers (0 = one per core, at
	                               * most 4) and compressor threads (0 =
	                               * one per core) */
	/* Optional; called from the worker thread; must be thread safe. */
	void (*on_event)(void *ctx, const struct ps_event *ev);
	void *event_ctx;
};

enum ps_kind { PS_KIND_TREE, PS_KIND_ARCHIVE, PS_KIND_UNKNOWN };

/*
 * What one target did.  Strings in the lists are owned by the result; the
 * format and compression strings are static ("zip", "gzip", ...) or NULL.
 */
struct ps_result {
	const char *path;            /* borrowed: the target as given */
	enum ps_kind kind;
	const char *format;          /* "zip", "tar" or NULL */
	const char *compression;     /* "none", "gzip", ... or NULL */
	bool failed;
	char *error;                 /* owned message when failed, else NULL */
	uint64_t removed_files;
	uint64_t removed_dirs;
	uint64_t removed_bytes;      /* uncompressed sizes of removed files */
	uint64_t found;              /* files + dirs removed or to remove */
	struct ps_strlist removed;   /* files, relative to the target */
	struct ps_strlist sourceless;
	struct ps_strlist signatures_removed;
	struct ps_strlist failures;  /* "path: message" of entries not removed */
	int64_t bytes_before;        /* archives; -1 = not applicable */
	int64_t bytes_after;         /* archives; -1 = not applicable */
	int record_updated;          /* wheels: 1/0; -1 = not a wheel */
	struct ps_strset *dirs_seen; /* archive mode: removed dirs, internal */
	struct ps_strset *dirs_kept; /* archive mode: dirs -x kept, internal */
	char *last_dir;              /* the deepest of the last counted, internal */
	size_t last_dir_len, last_dir_cap;
};

/* Sets every field to its "nothing happened yet" value for target path. */
void ps_result_init(struct ps_result *res, const char *path);

/* Frees what the result owns; leaves it as after ps_result_init(). */
void ps_result_release(struct ps_result *res);

/*
 * Processes one target as opts says and fills res (already initialised).
 * Returns 0, or -1 when the target failed (res->failed and res->error set).
 */
int ps_run_target(const struct ps_options *opts, const char *path,
    struct ps_result *res);

/*
 * Bookkeeping used by the tree walker and the archive rewriters.
 *
 * ps_result_removed_file() counts one removed (or would-be-removed) file of
 * size bytes, appends name to res->removed when opts->collect, and emits a
 * PS_EV_REMOVED event.  ps_result_removed_dir() counts one directory.
 * ps_result_archive_member() does either for an archive member named name
 * (is_dir: a directory entry), counting each distinct directory at or below
 * a __pycache__ component once, whether or not it has an entry of its own.
 * ps_result_archive_kept() tells of a member kept below a __pycache__
 * component (-x): the directories that hold it stay, and are not counted.
 * ps_result_sourceless() records a sourceless module and warns.
 * ps_result_failure() records an entry that could not be removed: the target
 * fails but the walk goes on.  ps_result_fail() records the target's fatal
 * error (copied from err).  All return 0, or -1 on allocation failure (then
 * err is set, for those that take one).
 */
int ps_result_removed_file(struct ps_result *res,
    const struct ps_options *opts, const char *name, uint64_t size);
void ps_result_removed_dir(struct ps_result *res);
int ps_result_archive_member(struct ps_result *res,
    const struct ps_options *opts, const char *name, bool is_dir,
    uint64_t size);
int ps_result_archive_kept(struct ps_result *res, const char *name,
    bool is_dir);
int ps_result_sourceless(struct ps_result *res,
    const struct ps_options *opts, const char *name);
int ps_result_failure(struct ps_result *res, const struct ps_options *opts,
    const char *name, const char *message);
void ps_result_fail(struct ps_result *res, const struct ps_error *err);

/* Emits a warning event about name (may be NULL). */
void ps_result_warn(const struct ps_options *opts, const char *target,
    const char *name, const char *message);

#endif
