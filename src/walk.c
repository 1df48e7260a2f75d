#define _GNU_SOURCE
#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "match.h"

/*
 * The walk keeps a stack of frames, one per directory on the current path.
 * Each frame holds the whole list of its directory's entries, read at once
 * and then the directory stream closed, so that a frame costs no more than
 * one descriptor (and none once it is deeper than PS_WALK_MAX_FDS below the
 * current directory):
 *
 *   frames[0]  target      fd  ents: a b c ...   next -> 2
 *   frames[1]  target/b    fd  ents: __pycache__ x.py   next -> 1
 *   frames[2]  b/__pycache__ (doomed)  ents: x.cpython-311.pyc
 *
 * A doomed frame is a __pycache__ directory (or a directory inside one):
 * everything in it goes, then the directory itself, by unlinkat() on the
 * parent's descriptor when the frame is popped.
 */

struct ent {
	size_t off;            /* of the name in the frame's names buffer */
	unsigned char type;    /* d_type */
};

struct frame {
	int fd;                /* -1 while closed to bound open descriptors */
	dev_t dev;
	ino_t ino;
	char *names;           /* NUL-terminated names, back to back */
	struct ent *ents;
	size_t n, next;        /* entries to visit: [next, n) */
	size_t all;            /* entries in the directory (for look-ups) */
	size_t pathlen;        /* length of this directory's relative path */
	size_t namelen;        /* length of its own name at the path's end */
	bool doomed;           /* __pycache__ or inside one: remove it all */
	bool child_failed;     /* something below could not be removed */
	bool borrowed;         /* fd and entries belong to another walk */
	bool child_kept;       /* an excluded entry below stays */
};

struct walk {
	const struct ps_options *opts;
	struct ps_result *res;
	struct ps_error *err;
	struct frame *frames;
	size_t depth, cap;
	char *path;            /* relative path of the current entry */
	size_t pathcap;
	int fatal;             /* -1 once the walk cannot go on */
	size_t max_fds;        /* this walk's share of PS_WALK_MAX_FDS */
};

static const char *
ent_name(const struct frame *f, size_t i)
{
	return f->names + f->ents[i].off;
}

static int
cmp_ent(const void *a, const void *b, void *names)
{
	return strcmp((const char *)names + ((const struct ent *)a)->off,
	    (const char *)names + ((const struct ent *)b)->off);
}

/* Appends one entry to f; returns -1 when out of memory. */
static int
add_entry(struct frame *f, size_t *used, size_t *cap, size_t *ncap,
    const char *name, unsigned char type)
{
	size_t len = strlen(name);

	if (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')))
		return 0;
	if (*used + len + 1 > *cap) {
		char *p;

		while (*used + len + 1 > *cap)
			*cap *= 2;
		p = realloc(f->names, *cap);
		if (p == NULL)
			return -1;
		f->names = p;
	}
	if (f->n == *ncap) {
		struct ent *p = realloc(f->ents, 2 * *ncap * sizeof *p);

		if (p == NULL)
			return -1;
		f->ents = p;
		*ncap *= 2;
	}
	memcpy(f->names + *used, name, len + 1);
	f->ents[f->n].off = *used;
	f->ents[f->n].type = type;
	f->n++;
	*used += len + 1;
	return 0;
}

/*
 * Reads all entries of the directory open on fd into f, with getdents64
 * straight on the descriptor (no DIR stream, no dup), then sorts them.
 */
static int
read_entries(struct walk *w, struct frame *f, int fd)
{
	/* Small to start with: a 10,000-level chain holds 10,000 frames. */
	size_t used = 0, cap = 256, ncap = 8;
	char buf[32768];
	ssize_t got;

	f->names = malloc(cap);
	f->ents = malloc(ncap * sizeof *f->ents);
	if (f->names == NULL || f->ents == NULL)
		goto nomem;
	while ((got = getdents64(fd, buf, sizeof buf)) > 0) {
		ssize_t off = 0;

		while (off < got) {
			struct dirent64 *de = (struct dirent64 *)(void *)
			    (buf + off);

			if (add_entry(f, &used, &cap, &ncap, de->d_name,
			    de->d_type) < 0)
				goto nomem;
			off += de->d_reclen;
		}
	}
	/* Removed since it was opened (another run): it is empty now. */
	if (got < 0 && errno != ENOENT)
		return -1;
	f->all = f->n;
	/* Sorted: the removed list comes out the same on every run, and the
	 * source of a legacy .pyc is found by binary search. */
	qsort_r(f->ents, f->n, sizeof *f->ents, cmp_ent, f->names);
	return 0;
nomem:
	w->fatal = ps_error_nomem(w->err);
	errno = ENOMEM;
	return -1;
}

/* Makes w->path hold the current directory's path plus "/" name. */
static int
set_path(struct walk *w, const struct frame *f, const char *name)
{
	size_t nlen = strlen(name);
	size_t need = f->pathlen + 1 + nlen + 1;

	if (need > w->pathcap) {
		size_t cap = w->pathcap ? w->pathcap : 256;
		char *p;

		while (cap < need)
			cap *= 2;
		p = realloc(w->path, cap);
		if (p == NULL)
			return w->fatal = ps_error_nomem(w->err);
		w->path = p;
		w->pathcap = cap;
	}
	if (f->pathlen == 0) {
		memcpy(w->path, name, nlen + 1);
	} else {
		w->path[f->pathlen] = '/';
		memcpy(w->path + f->pathlen + 1, name, nlen + 1);
	}
	return 0;
}

static void
failure(struct walk *w, const char *what, int errnum)
{
	struct ps_error e;
	size_t i;

	if (errnum != 0)
		ps_error_sys(&e, errnum, "%s", what);
	else
		ps_error_input(&e, "%s", what);
	for (i = 0; i < w->depth; i++)
		w->frames[i].child_failed = true;
	if (ps_result_failure(w->res, w->opts, w->path, e.msg) < 0)
		w->fatal = ps_error_nomem(w->err);
}

static bool
removing(const struct walk *w)
{
	return w->opts->mode == PS_MODE_STRIP;
}

/*
 * Returns whether the directory of f has an entry named name[0..len): the
 * source "X.py" of a legacy "X.pyc".  Entries are sorted by name.
 */
static bool
has_entry(const struct frame *f, const char *name, size_t len)
{
	size_t lo = 0, hi = f->all;
	char buf[NAME_MAX + 1];

	if (len == 0 || len > NAME_MAX)
		return false;
	memcpy(buf, name, len);
	buf[len] = '\0';
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(ent_name(f, mid), buf);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Removes (or counts, in a dry run) the non-directory name in f. */
static void
remove_file(struct walk *w, struct frame *f, const char *name)
{
	struct stat st;
	uint64_t size = 0;

	/* The size costs a system call: only when somebody will see it. */
	if (w->opts->sizes || !removing(w)) {
		if (fstatat(f->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			size = (uint64_t)st.st_size;
		else if (errno == ENOENT)
			return;  /* gone already: nothing to do */
	}
	if (removing(w) && unlinkat(f->fd, name, 0) < 0) {
		if (errno != ENOENT)
			failure(w, "cannot remove", errno);
		return;
	}
	if (ps_result_removed_file(w->res, w->opts, w->path, size) < 0)
		w->fatal = ps_error_nomem(w->err);
}

static int
push(struct walk *w, int fd, const struct stat *st, size_t pathlen,
    size_t namelen, bool doomed)
{
	struct frame *f;

	if (w->depth == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 32;
		struct frame *p = realloc(w->frames, cap * sizeof *p);

		if (p == NULL) {
			close(fd);
			return w->fatal = ps_error_nomem(w->err);
		}
		w->frames = p;
		w->cap = cap;
	}
	f = &w->frames[w->depth];
	memset(f, 0, sizeof *f);
	f->fd = fd;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->pathlen = pathlen;
	f->namelen = namelen;
	f->doomed = doomed;
	if (read_entries(w, f, fd) < 0) {
		int e = errno;

		free(f->names);
		free(f->ents);
		close(fd);
		if (w->fatal)
			return -1;
		failure(w, "cannot read directory", e);
		return -1;
	}
	w->depth++;
	/* Keep at most max_fds descriptors: close the farthest one. */
	if (w->depth > w->max_fds) {
		struct frame *old = &w->frames[w->depth - 1 - w->max_fds];

		if (old->fd >= 0 && !old->borrowed) {
			close(old->fd);
			old->fd = -1;
		}
	}
	return 0;
}

/* Enters the subdirectory name of f (w->path holds its path). */
static void
enter(struct walk *w, struct frame *f, const char *name, bool doomed)
{
	struct stat before, after;
	int fd;

	if (fstatat(f->fd, name, &before, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			failure(w, "cannot stat", errno);
		return;
	}
	if (!S_ISDIR(before.st_mode)) {
		/* Replaced since it was listed: treat it as what it is now. */
		if (doomed)
			remove_file(w, f, name);
		return;
	}
	fd = openat(f->fd, name,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		/* Gone since the stat (another run): nothing left to do. */
		if (errno != ENOENT)
			failure(w, "cannot open directory", errno);
		return;
	}
	if (fstat(fd, &after) < 0 || after.st_dev != before.st_dev ||
	    after.st_ino != before.st_ino) {
		/* Swapped between the stat and the open: leave it alone. */
		close(fd);
		failure(w, "directory changed during the walk; left alone", 0);
		return;
	}
	(void)push(w, fd, &after, strlen(w->path), strlen(name), doomed);
}

/* Re-opens the parent of the top frame through "..", checked. */
static int
reopen_parent(struct walk *w)
{
	struct frame *child = &w->frames[w->depth - 1];
	struct frame *parent = &w->frames[w->depth - 2];
	struct stat st;
	int fd;

	fd = openat(child->fd, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd < 0)
		return ps_error_sys(w->err, errno, "cannot reopen directory");
	if (fstat(fd, &st) < 0 || st.st_dev != parent->dev ||
	    st.st_ino != parent->ino) {
		close(fd);
		return ps_error_input(w->err,
		    "a directory was moved during the walk; stopped");
	}
	parent->fd = fd;
	return 0;
}

/* Leaves the top frame; removes it when doomed. */
static void
pop(struct walk *w)
{
	struct frame *f = &w->frames[w->depth - 1];
	struct frame *parent = w->depth > 1 ? &w->frames[w->depth - 2] : NULL;

	if (parent != NULL && parent->fd < 0 && reopen_parent(w) < 0)
		w->fatal = -1;
	if (!f->borrowed) {
		if (f->fd >= 0)
			close(f->fd);
		free(f->names);
		free(f->ents);
	}
	w->depth--;
	/* Popped frames keep their flags: f still points at them. */
	if (parent == NULL || !f->doomed || w->fatal)
		return;
	if (f->child_kept) {
		parent->child_kept = true;
		return;
	}
	/* The directory's own path, for messages: w->path up to it. */
	w->path[f->pathlen] = '\0';
	if (removing(w) &&
	    unlinkat(parent->fd, w->path + f->pathlen - f->namelen,
	    AT_REMOVEDIR) < 0) {
		if (!(errno == ENOTEMPTY && f->child_failed) && errno != ENOENT)
			failure(w, "cannot remove directory", errno);
		return;
	}
	ps_result_removed_dir(w->res);
}

static bool
is_vcs(const char *name)
{
	return strcmp(name, ".git") == 0 || strcmp(name, ".hg") == 0 ||
	    strcmp(name, ".svn") == 0;
}

/* Handles entry i of the top frame. */
static void
visit(struct walk *w, struct frame *f, size_t i)
{
	const char *name = ent_name(f, i);
	size_t len = strlen(name);
	unsigned char type = f->ents[i].type;
	enum ps_bytecode bc;

	if (set_path(w, f, name) < 0)
		return;
	if (type == DT_UNKNOWN) {
		struct stat st;

		if (fstatat(f->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return;
		type = S_ISDIR(st.st_mode) ? DT_DIR :
		    S_ISLNK(st.st_mode) ? DT_LNK : DT_REG;
	}
	if (f->doomed) {
		if (w->opts->n_excludes > 0 && ps_match_excluded(
		    w->opts->excludes, w->opts->n_excludes, w->path)) {
			size_t k;

			/* It stays, and so do the directories that hold it. */
			for (k = 0; k < w->depth; k++)
				w->frames[k].child_kept = true;
			return;
		}
		if (type == DT_DIR)
			enter(w, f, name, true);
		else
			remove_file(w, f, name);
		return;
	}
	if (w->opts->n_excludes > 0 &&
	    ps_match_excluded(w->opts->excludes, w->opts->n_excludes, w->path))
		return;
	if (type == DT_DIR) {
		if (is_vcs(name))
			return;
		enter(w, f, name, ps_match_is_pycache(name, len));
		return;
	}
	/* A link named __pycache__ goes as a link; a plain file so named is
	 * not a directory and stays. */
	if (type == DT_LNK && ps_match_is_pycache(name, len)) {
		remove_file(w, f, name);
		return;
	}
	bc = ps_match_bytecode(name, len);
	if (bc == PS_BC_NONE)
		return;
	/* Only a file or a link can be a module: a FIFO, socket or device
	 * so named simply goes. */
	if (bc == PS_BC_FILE && (type == DT_REG || type == DT_LNK) &&
	    !has_entry(f, name, ps_match_source_len(name, len))) {
		if (ps_result_sourceless(w->res, w->opts, w->path) < 0) {
			w->fatal = ps_error_nomem(w->err);
			return;
		}
		if (w->opts->keep_sourceless)
			return;
	}
	remove_file(w, f, name);
}

/* Runs the walk until its stack is empty; returns 0 or -1 (w->fatal). */
static int
run(struct walk *w)
{
	while (w->depth > 0 && !w->fatal) {
		struct frame *f = &w->frames[w->depth - 1];

		if (f->next == f->n) {
			pop(w);
			continue;
		}
		f->next++;
		visit(w, f, f->next - 1);
	}
	return w->fatal ? -1 : 0;
}

static void
walk_release(struct walk *w)
{
	while (w->depth > 0) {
		struct frame *f = &w->frames[--w->depth];

		if (f->borrowed)
			continue;
		if (f->fd >= 0)
			close(f->fd);
		free(f->names);
		free(f->ents);
	}
	free(w->frames);
	free(w->path);
}

/*
 * Parallel walk: the target's own entries are cut into jobs -- each
 * subdirectory one job, each run of other entries one job -- and worker
 * threads take jobs in turn.  A job walks with a stack of its own whose
 * bottom frame borrows the target's descriptor and entry list, limited to
 * the job's range (the whole list stays visible for source look-ups).
 * Each job fills a result of its own; they are merged in job order, so the
 * summary is the same as a single thread's.
 *
 *   target/   a.pyc b.py | lib/ | src/ | z.pyc
 *   jobs:     [0]          [1]    [2]    [3]
 */
struct job {
	size_t start, end;
	struct ps_result part;
};

struct pool {
	const struct ps_options *opts;
	const struct frame *root;
	struct job *jobs;
	size_t n_jobs;
	size_t next;
	size_t max_fds;        /* per worker: the workers share the bound */
	int fatal;
	struct ps_error err;
	pthread_mutex_t lock;
};

static void
run_job(struct pool *p, struct job *j)
{
	struct ps_error err = { 0 };
	struct walk w = { 0 };
	struct frame *f;

	w.opts = p->opts;
	w.max_fds = p->max_fds;
	w.res = &j->part;
	w.err = &err;
	w.frames = malloc(32 * sizeof *w.frames);
	if (w.frames == NULL) {
		w.fatal = ps_error_nomem(&err);
		goto out;
	}
	w.cap = 32;
	f = &w.frames[0];
	*f = *p->root;
	f->borrowed = true;
	f->next = j->start;
	f->n = j->end;
	w.depth = 1;
	if (set_path(&w, &(struct frame){ 0 }, "") == 0)
		(void)run(&w);
out:
	if (w.fatal) {
		pthread_mutex_lock(&p->lock);
		if (!p->fatal) {
			p->fatal = -1;
			p->err = err;
		}
		pthread_mutex_unlock(&p->lock);
	}
	walk_release(&w);
}

static void *
pool_worker(void *arg)
{
	struct pool *p = arg;

	for (;;) {
		size_t i;
		int stop;

		pthread_mutex_lock(&p->lock);
		i = p->next++;
		stop = p->fatal;
		pthread_mutex_unlock(&p->lock);
		if (stop || i >= p->n_jobs)
			return NULL;
		run_job(p, &p->jobs[i]);
	}
}

/* Walkers when --threads is not given: one a core, at most this many. */
#define DEFAULT_WALKERS 4

/*
 * One walker a core by default (at most DEFAULT_WALKERS): the target's
 * subdirectories are independent, and on the benchmark corpus (tmpfs, 2
 * cores) two walkers took 0.43-0.55 times as long as one in each of the
 * last two measurements.  --threads N asks for exactly N.
 */
static size_t
worker_count(const struct ps_options *opts)
{
	/* The thread count the compressors use: N, or one a core. */
	size_t n = (size_t)ps_codec_threads(opts->threads);

	if (opts->threads < 1 && n > DEFAULT_WALKERS)
		n = DEFAULT_WALKERS;
	return n > 16 ? 16 : n;
}

/* Moves the lists and counts of part to the end of res. */
static int
merge(struct ps_result *res, struct ps_result *part)
{
	res->removed_files += part->removed_files;
	res->removed_dirs += part->removed_dirs;
	res->removed_bytes += part->removed_bytes;
	res->found += part->found;
	if (ps_strlist_move(&res->removed, &part->removed) < 0 ||
	    ps_strlist_move(&res->sourceless, &part->sourceless) < 0 ||
	    ps_strlist_move(&res->failures, &part->failures) < 0)
		return -1;
	if (part->failed)
		res->failed = true;
	return 0;
}

static int
walk_parallel(const struct ps_options *opts, const struct frame *root,
    size_t workers, struct ps_result *res, struct ps_error *err)
{
	struct pool p = { 0 };
	pthread_t tid[16];
	size_t i, started = 0;
	int rc = 0;

	p.opts = opts;
	p.root = root;
	p.jobs = calloc(root->n, sizeof *p.jobs);
	if (p.jobs == NULL)
		return ps_error_nomem(err);
	for (i = 0; i < root->n; i++) {
		bool dir = root->ents[i].type == DT_DIR;

		if (p.n_jobs > 0 && !dir &&
		    root->ents[p.jobs[p.n_jobs - 1].start].type != DT_DIR) {
			p.jobs[p.n_jobs - 1].end = i + 1;
			continue;
		}
		p.jobs[p.n_jobs].start = i;
		p.jobs[p.n_jobs].end = i + 1;
		ps_result_init(&p.jobs[p.n_jobs].part, res->path);
		p.jobs[p.n_jobs].part.kind = PS_KIND_TREE;
		p.n_jobs++;
	}
	pthread_mutex_init(&p.lock, NULL);
	if (workers > p.n_jobs)
		workers = p.n_jobs;
	/* Each worker also holds the target's descriptor, borrowed. */
	p.max_fds = PS_WALK_MAX_FDS / workers > 4 ? PS_WALK_MAX_FDS / workers : 4;
	for (i = 1; i < workers; i++)
		if (pthread_create(&tid[started], NULL, pool_worker, &p) == 0)
			started++;
	pool_worker(&p);
	for (i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	if (p.fatal) {
		*err = p.err;
		rc = -1;
	}
	for (i = 0; i < p.n_jobs; i++) {
		if (rc == 0 && merge(res, &p.jobs[i].part) < 0)
			rc = ps_error_nomem(err);
		ps_result_release(&p.jobs[i].part);
	}
	pthread_mutex_destroy(&p.lock);
	free(p.jobs);
	return rc;
}

int
ps_walk_tree(const struct ps_options *opts, const char *path,
    struct ps_result *res, struct ps_error *err)
{
	struct walk w = { 0 };
	struct stat st;
	size_t workers = worker_count(opts);
	int fd, rc = -1;

	w.opts = opts;
	w.res = res;
	w.err = err;
	w.max_fds = PS_WALK_MAX_FDS;
	res->kind = PS_KIND_TREE;
	/* A directory named on the command line is entered even through a
	 * symbolic link, as find -H does; links below it never are. */
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return ps_error_sys(err, errno, "cannot open directory");
	if (fstat(fd, &st) < 0) {
		ps_error_sys(err, errno, "cannot stat");
		close(fd);
		return -1;
	}
	if (set_path(&w, &(struct frame){ 0 }, "") < 0)
		goto out;
	if (push(&w, fd, &st, 0, 0, false) < 0) {
		if (!w.fatal) {
			ps_error_sys(err, errno, "cannot read directory");
			w.fatal = -1;
		}
		goto out;
	}
	/* An entry of the target that is named __pycache__ is removed; the
	 * target itself, even when it is named so, is not (rm . refuses). */
	if (workers > 1 && w.frames[0].n > 1)
		rc = walk_parallel(opts, &w.frames[0], workers, res, err);
	else
		rc = run(&w);
out:
	walk_release(&w);
	return rc;
}
