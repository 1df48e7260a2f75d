#include "pycstrip.h"

#include <stdlib.h>
#include <string.h>

#include "match.h"

void
ps_result_init(struct ps_result *res, const char *path)
{
	memset(res, 0, sizeof *res);
	res->path = path;
	res->kind = PS_KIND_UNKNOWN;
	res->bytes_before = -1;
	res->bytes_after = -1;
	res->record_updated = -1;
}

void
ps_result_release(struct ps_result *res)
{
	const char *path = res->path;

	free(res->error);
	ps_strlist_release(&res->removed);
	ps_strlist_release(&res->sourceless);
	ps_strlist_release(&res->signatures_removed);
	ps_strlist_release(&res->failures);
	ps_strset_free(res->dirs_seen);
	ps_strset_free(res->dirs_kept);
	free(res->last_dir);
	ps_result_init(res, path);
}

static void
emit(const struct ps_options *opts, enum ps_event_kind kind,
    const struct ps_result *res, const char *name, const char *message)
{
	struct ps_event ev = { kind, res->path, name, message,
	    res->kind == PS_KIND_ARCHIVE };

	if (opts->on_event != NULL)
		opts->on_event(opts->event_ctx, &ev);
}

void
ps_result_warn(const struct ps_options *opts, const char *target,
    const char *name, const char *message)
{
	struct ps_event ev = { PS_EV_WARNING, target, name, message, false };

	if (opts->on_event != NULL)
		opts->on_event(opts->event_ctx, &ev);
}

int
ps_result_removed_file(struct ps_result *res, const struct ps_options *opts,
    const char *name, uint64_t size)
{
	res->removed_files++;
	res->removed_bytes += size;
	res->found++;
	emit(opts, PS_EV_REMOVED, res, name, NULL);
	if (opts->collect)
		return ps_strlist_push(&res->removed, name);
	return 0;
}

void
ps_result_removed_dir(struct ps_result *res)
{
	res->removed_dirs++;
	res->found++;
}

/*
 * Counts each directory at or below the first __pycache__ component of
 * name once: "a/__pycache__/x/y.pyc" brings "a/__pycache__" and
 * "a/__pycache__/x", whether or not the archive has entries for them.
 * The members of one directory mostly come one after another: when the
 * deepest directory a name brings is the last one counted, so are all
 * those above it, and the set is not asked.
 */
static int
count_dirs(struct ps_result *res, const char *name, bool is_dir)
{
	size_t len = strlen(name);
	size_t end, i, deep;

	while (len > 0 && name[len - 1] == '/')
		len--;
	end = ps_match_pycache_prefix(name, len);
	if (end == 0)
		return 0;
	/* The deepest: a directory itself, a file's last '/' past end. */
	deep = len;
	if (!is_dir) {
		do {
			if (deep == end)
				return 0;  /* a file named like "a/__pycache__" */
			deep--;
		} while (name[deep] != '/');
	}
	if (res->last_dir != NULL && res->last_dir_len == deep &&
	    memcmp(res->last_dir, name, deep) == 0)
		return 0;
	if (res->dirs_seen == NULL && (res->dirs_seen = ps_strset_new()) == NULL)
		return -1;
	for (i = end; i <= len; i++) {
		int added;

		if (i < len && name[i] != '/')
			continue;
		if (i == len && !is_dir)
			break;
		added = ps_strset_add(res->dirs_seen, name, i);
		if (added < 0)
			return -1;
		if (added && (res->dirs_kept == NULL ||
		    !ps_strset_has(res->dirs_kept, name, i)))
			ps_result_removed_dir(res);
	}
	if (deep + 1 > res->last_dir_cap) {
		char *b = realloc(res->last_dir, deep + 1);

		if (b == NULL)
			return -1;
		res->last_dir = b;
		res->last_dir_cap = deep + 1;
	}
	memcpy(res->last_dir, name, deep);
	res->last_dir_len = deep;
	return 0;
}

int
ps_result_archive_member(struct ps_result *res,
    const struct ps_options *opts, const char *name, bool is_dir,
    uint64_t size)
{
	if (count_dirs(res, ps_match_strip_dot(name), is_dir) < 0)
		return -1;
	if (is_dir) {
		/* A directory entry not under __pycache__ ("x.pyc/"): counted. */
		const char *n = ps_match_strip_dot(name);

		if (ps_match_pycache_prefix(n, strlen(n)) == 0)
			ps_result_removed_dir(res);
		return 0;
	}
	return ps_result_removed_file(res, opts, name, size);
}

int
ps_result_archive_kept(struct ps_result *res, const char *name, bool is_dir)
{
	size_t len, end, i;

	name = ps_match_strip_dot(name);
	len = strlen(name);
	while (len > 0 && name[len - 1] == '/')
		len--;
	end = ps_match_pycache_prefix(name, len);
	if (end == 0 || (end == len && !is_dir))
		return 0;
	if (res->dirs_kept == NULL && (res->dirs_kept = ps_strset_new()) == NULL)
		return -1;
	for (i = end; i <= len; i++) {
		int added;

		if (i < len && name[i] != '/')
			continue;
		if (i == len && !is_dir)
			break;
		added = ps_strset_add(res->dirs_kept, name, i);
		if (added < 0)
			return -1;
		/* Counted as removed before this member came: it stays. */
		if (added && res->dirs_seen != NULL &&
		    ps_strset_has(res->dirs_seen, name, i)) {
			res->removed_dirs--;
			res->found--;
		}
	}
	return 0;
}

int
ps_result_sourceless(struct ps_result *res, const struct ps_options *opts,
    const char *name)
{
	emit(opts, PS_EV_WARNING, res, name, opts->keep_sourceless ?
	    "sourceless module kept (no .py beside it)" :
	    opts->mode != PS_MODE_STRIP ?
	    "sourceless module would be removed (no .py beside it)" :
	    "sourceless module removed (no .py beside it)");
	return ps_strlist_push(&res->sourceless, name);
}

int
ps_result_failure(struct ps_result *res, const struct ps_options *opts,
    const char *name, const char *message)
{
	size_t len = strlen(name) + strlen(message) + 3;
	char *line = malloc(len);
	int rc;

	(void)opts;
	if (line == NULL)
		return -1;
	/* Stored as "name\0message" so the summary can split them. */
	memcpy(line, name, strlen(name) + 1);
	memcpy(line + strlen(name) + 1, message, strlen(message) + 1);
	rc = ps_strlist_pushn(&res->failures, line, len - 1);
	free(line);
	res->failed = true;
	return rc;
}

void
ps_result_fail(struct ps_result *res, const struct ps_error *err)
{
	res->failed = true;
	free(res->error);
	res->error = strdup(err->msg[0] ? err->msg : "failed");
}
