/*
 * test_walk.c - tree mode on real directories made with mkdtemp.
 *
 * Each test builds a small tree, runs ps_walk_tree() on it and checks what
 * is left on disk and what the result says.  Trees live on tmpfs
 * (/dev/shm) where it exists, except the immutable-entry test, which needs a
 * file system with FS_IMMUTABLE_FL (the root ext4, under /var/tmp).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "walk.h"

static char root[256];     /* the tree under test */
static char outside[256];  /* a directory beside it, never to be touched */

static void
mktemp_in(char *buf, size_t size, const char *base)
{
	snprintf(buf, size, "%s/ps-walk.XXXXXX", base);
	cr_assert_not_null(mkdtemp(buf), "mkdtemp %s: %s", buf,
	    strerror(errno));
}

static const char *
scratch_base(void)
{
	struct stat st;

	return stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
}

static void
setup_dirs(void)
{
	mktemp_in(root, sizeof root, scratch_base());
	mktemp_in(outside, sizeof outside, scratch_base());
}

static void
rmtree(const char *dir)
{
	char cmd[600];

	if (dir[0] == '\0')
		return;
	snprintf(cmd, sizeof cmd, "chattr -R -i '%s' 2>/dev/null; rm -rf '%s'",
	    dir, dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static void
teardown_dirs(void)
{
	rmtree(root);
	rmtree(outside);
}

static const char *
at(const char *base, const char *rel)
{
	static char buf[4][1024];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof buf[i], "%s/%s", base, rel);
	return buf[i];
}

/* Creates every missing parent directory of rel below base. */
static void
parents(const char *base, const char *rel)
{
	char path[1024];
	char *p;

	snprintf(path, sizeof path, "%s/%s", base, rel);
	for (p = path + strlen(base) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			cr_assert_fail("mkdir %s: %s", path, strerror(errno));
		*p = '/';
	}
}

/* Writes a file of size bytes at base/rel. */
static void
mkfile(const char *base, const char *rel, size_t size)
{
	FILE *f;
	size_t i;

	parents(base, rel);
	f = fopen(at(base, rel), "w");
	cr_assert_not_null(f, "fopen %s: %s", at(base, rel), strerror(errno));
	for (i = 0; i < size; i++)
		fputc('a' + (int)(i % 26), f);
	cr_assert_eq(fclose(f), 0);
}

static void
mkdirs(const char *base, const char *rel)
{
	char tmp[1024];

	snprintf(tmp, sizeof tmp, "%s/", rel);
	parents(base, tmp);
}

static void
mklink(const char *base, const char *rel, const char *target)
{
	parents(base, rel);
	cr_assert_eq(symlink(target, at(base, rel)), 0, "symlink %s: %s", rel,
	    strerror(errno));
}

static bool
exists(const char *base, const char *rel)
{
	struct stat st;

	return lstat(at(base, rel), &st) == 0;
}

static bool
is_link(const char *base, const char *rel)
{
	struct stat st;

	return lstat(at(base, rel), &st) == 0 && S_ISLNK(st.st_mode);
}

static void
expect_present(const char *base, const char *rel)
{
	cr_expect(exists(base, rel), "%s should be kept", rel);
}

static void
expect_absent(const char *base, const char *rel)
{
	cr_expect_not(exists(base, rel), "%s should be removed", rel);
}

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Checks that list holds exactly the n names of want, in any order. */
static void
expect_list(const struct ps_strlist *list, const char *what,
    const char *const *want, size_t n)
{
	char **got;
	const char **w;
	size_t i;

	cr_expect_eq(list->n, n, "%s: %zu names, expected %zu", what, list->n,
	    n);
	for (i = 0; i < list->n; i++)
		cr_log_info("%s[%zu] = %s", what, i, list->v[i]);
	if (list->n != n)
		return;
	got = calloc(n + 1, sizeof *got);
	w = calloc(n + 1, sizeof *w);
	cr_assert(got != NULL && w != NULL);
	memcpy(got, list->v, n * sizeof *got);
	memcpy(w, want, n * sizeof *w);
	qsort(got, n, sizeof *got, cmpstr);
	qsort(w, n, sizeof *w, cmpstr);
	for (i = 0; i < n; i++)
		cr_expect_str_eq(got[i], w[i], "%s: got %s, expected %s", what,
		    got[i], w[i]);
	free(got);
	free(w);
}

#define EXPECT_LIST(list, ...) do { \
	const char *want_[] = { __VA_ARGS__ }; \
	expect_list((list), #list, want_, sizeof want_ / sizeof want_[0]); \
} while (0)

/* Events may come from several worker threads at once. */
struct counter {
	size_t removed;
	size_t warnings;
};

static void
count_event(void *ctx, const struct ps_event *ev)
{
	struct counter *c = ctx;

	if (ev->kind == PS_EV_REMOVED)
		__atomic_fetch_add(&c->removed, 1, __ATOMIC_RELAXED);
	else if (ev->kind == PS_EV_WARNING)
		__atomic_fetch_add(&c->warnings, 1, __ATOMIC_RELAXED);
}

static struct ps_options
options(enum ps_mode mode, struct counter *c)
{
	struct ps_options o = {0};

	o.mode = mode;
	o.level = -1;
	o.collect = true;
	o.sizes = true;
	o.on_event = c != NULL ? count_event : NULL;
	o.event_ctx = c;
	return o;
}

/* Walks root with opts into a fresh res; the walk must succeed. */
static void
walk_ok(const struct ps_options *opts, struct ps_result *res)
{
	struct ps_error err = {0};

	ps_result_init(res, root);
	cr_assert_eq(ps_walk_tree(opts, root, res, &err), 0, "walk: %s",
	    err.msg);
}

TestSuite(walk, .init = setup_dirs, .fini = teardown_dirs);

Test(walk, removes_pycache_wholly)
{
	struct counter c = {0};
	struct ps_options o = options(PS_MODE_STRIP, &c);
	struct ps_result res;

	mkfile(root, "pkg/__init__.py", 10);
	mkfile(root, "pkg/__pycache__/__init__.cpython-311.pyc", 100);
	mkfile(root, "pkg/__pycache__/README", 5);
	mkfile(root, "pkg/__pycache__/sub/deeper/x.txt", 7);
	mkdirs(root, "pkg/__pycache__/empty");
	walk_ok(&o, &res);
	expect_absent(root, "pkg/__pycache__");
	expect_present(root, "pkg/__init__.py");
	expect_present(root, "pkg");
	cr_expect_eq(res.removed_files, 3);
	cr_expect_eq(res.removed_dirs, 4);
	cr_expect_eq(res.removed_bytes, 112);
	cr_expect_eq(res.found, 7);
	cr_expect_not(res.failed);
	cr_expect_eq(c.removed, 3, "one event per removed file");
	EXPECT_LIST(&res.removed, "pkg/__pycache__/__init__.cpython-311.pyc",
	    "pkg/__pycache__/README", "pkg/__pycache__/sub/deeper/x.txt");
	cr_expect_eq(res.sourceless.n, 0);
	cr_expect_eq(res.failures.n, 0);
	ps_result_release(&res);
}

Test(walk, pycache_at_root_and_nested)
{
	struct ps_options o = options(PS_MODE_STRIP, NULL);
	struct ps_result res;

	mkfile(root, "__pycache__/top.cpython-311.pyc", 1);
	mkfile(root, "a/b/c/d/__pycache__/m.cpython-311.opt-2.pyc", 2);
	mkfile(root, "a/b/c/d/m.py", 1);
	walk_ok(&o, &res);
	expect_absent(root, "__pycache__");
	expect_absent(root, "a/b/c/d/__pycache__");
	expect_present(root, "a/b/c/d/m.py");
	EXPECT_LIST(&res.removed, "__pycache__/top.cpython-311.pyc",
	    "a/b/c/d/__pycache__/m.cpython-311.opt-2.pyc");
	cr_expect_eq(res.removed_dirs, 2);
	ps_result_release(&res);
}

Test(walk, odd_entries_inside_pycache_go_too)
{
	struct ps_options o = options(PS_MODE_STRIP, NULL);
	struct ps_result res;

	mkfile(outside, "keep.txt", 3);
	mkdirs(outside, "dir");
	mkfile(outside, "dir/also.pyc", 3);
	mklink(root, "__pycache__/to-file", at(outside, "keep.txt"));
	mklink(root, "__pycache__/to-dir", at(outside, "dir"));
	mklink(root, "__pycache__/dangling", "/nonexistent/x");
	cr_assert_eq(mkfifo(at(root, "__pycache__/fifo"), 0644), 0);
	walk_ok(&o, &res);
	expect_absent(root, "__pycache__");
	expect_present(outside, "keep.txt");
	expect_present(outside, "dir/also.pyc");
	cr_expect_eq(res.removed_dirs, 1);
	cr_expect_not(res.failed);
	ps_result_release(&res);
}

Test(walk, removes_pyc_pyo_and_temporaries)
{
	struct ps_options o = options(PS_MODE_STRIP, NULL);
	struct ps_result res;

	mkfile(root, "a.py", 1);
	mkfile(root, "a.pyc", 10);
	mkfile(root, "b.py", 1);
	mkfile(root, "b.pyo", 20);
	mkfile(root, "c.pyc.123", 30);
	mkfile(root, "d.pyo.9", 40);
	mkfile(root, "sub/e.cpython-311.pyc.140234", 50);
	walk_ok(&o, &res);
	expect_absent(root, "a.pyc");
	expect_absent(root, "b.pyo");
	expect_absent(root, "c.pyc.123");
	expect_absent(root, "d.pyo.9");
	expect_absent(root, "sub/e.cpython-311.pyc.140234");
	expect_present(root, "a.py");
	expect_present(root, "b.py");
	expect_present(root, "sub");
	EXPECT_LIST(&res.removed, "a.pyc", "b.pyo", "c.pyc.123", "d.pyo.9",
	    "sub/e.cpython-311.pyc.140234");
	cr_expect_eq(res.removed_files, 5);
	cr_expect_eq(res.removed_dirs, 0);
	cr_expect_eq(res.removed_bytes, 150);
	cr_expect_eq(res.sourceless.n, 0, "temporaries are never sourceless");
	ps_result_release(&res);
}

Test(walk, keeps_everything_else)
{
	struct ps_options o = options(PS_MODE_STRIP, NULL);
	struct ps_result res;

	mkfile(root, "X.PYC", 1);
	mkfile(root, "x.Pyo", 1);
	mkfile(root, "ext.cpython-311-x86_64-linux-gnu.so", 1);
	mkfile(root, "ext.pyd", 1);
	mkfile(root, "mod.py", 1);
	mkfile(root, "g.pyc.12a", 1);
	mkfile(root, "h.pyc.", 1);
	mkfile(root, "i.pycx", 1);
	mkfile(root, "x__pycache__/k.txt", 1);
	mkfile(root, "__pycache__x/k.txt", 1);
	mkfile(root, "weird.pyc/inner.py", 1);
	mkfile(root, "weird.pyc/inner.pyc", 4);
	mkdirs(root, "empty.pyo");
	walk_ok(&o, &res);
	expect_present(root, "X.PYC");
	expect_present(root, "x.Pyo");
	expect_present(root, "ext.cpython-311-x86_64-linux-gnu.so");
	expect_present(root, "ext.pyd");
	expect_present(root, "mod.py");
	expect_present(root, "g.pyc.12a");
	expect_present(root, "h.pyc.");
	expect_present(root, "i.pycx");
	expect_present(root, "x__pycache__/k.txt");
	expect_present(root, "__pycache__x/k.txt");
	expect_present(root, "weird.pyc/inner.py");
	expect_present(root, "empty.pyo");
	expect_absent(root, "weird.pyc/inner.pyc");
	EXPECT_LIST(&res.removed, "weird.pyc/inner.pyc");
	cr_expect_eq(res.removed_dirs, 0);
	ps_result_release(&res);
}

Test(walk, symlink_named_pyc_is_removed_as_link)
{
	struct ps_options o = options(PS_MODE_STRIP, NULL);
	struct ps_result res;

	mkfile(outside, "target.pyc", 12);
	mkfile(root, "a.py", 1);
	mklink(root, "a.pyc", at(outside, "target.pyc"));
	mkfile(root, "d.py", 1);
	mklink(root, "d.pyc", "/nonexistent/dangling.pyc");
	walk_ok(&o, &res);
	cr_expect_not(is_link(root, "a.pyc"));
	expect_absent(root, "a.pyc");
	expect_absent(root, "d.pyc");
	expect_present(outside, "target.pyc");
	EXPECT_LIST(&res.removed, "a.pyc", "d.pyc");
	ps_result_release(&res);
}

Test(walk, symlink_to_directory_is_not_entered)
{
	struct ps_options o = options(PS_MODE_STRIP, NULL);
	struct ps_result res;

	mkfile(outside, "__pycache__/x.cpython-311.pyc", 5);
	mkfile(outside, "y.pyc", 5);
	mkfile(outside, "y.py", 5);
	mkfile(outside, "z.pyc.77", 5);
	mklink(root, "link", outside);
	mklink(root, "pkg/up", "..");
	mkfile(root, "pkg/__init__.py", 1);
	walk_ok(&o, &res);
	expect_present(outside, "__pycache__/x.cpython-311.pyc");
	expect_present(outside, "y.pyc");
	expect_present(outside, "z.pyc.77");
	cr_expect(is_link(root, "link"), "a link that does not match is kept");
	cr_expect(is_link(root, "pkg/up"));
	cr_expect_eq(res.removed_files, 0);
	cr_expect_eq(res.removed_dirs, 0);
	cr_expect_eq(res.removed.n, 0);
	ps_result_release(&res);
}

Test(walk, symlink_to_directory_named_like_pyc_is_removed_as_link)
{
	struct ps_options o = options(PS_MODE_STRIP, NULL);
	struct ps_result res;

	mkfile(outside, "__pycache__/x.cpython-311.pyc", 5);
	mkfile(outside, "y.pyc", 5);
	mkfile(root, "dirlink.py", 1);
	mklink(root, "dirlink.pyc", outside);
	walk_ok(&o, &res);
	expect_absent(root, "dirlink.pyc");
	expect_present(outside, "__pycache__/x.cpython-311.pyc");
	expect_present(outside, "y.pyc");
	EXPECT_LIST(&res.removed, "dirlink.pyc");
	ps_result_release(&res);
}

Test(walk, version_control_dirs_are_not_entered)
{
	struct ps_options o = options(PS_MODE_STRIP, NULL);
	struct ps_result res;

	mkfile(root, ".git/__pycache__/hook.cpython-311.pyc", 1);
	mkfile(root, ".git/hooks/x.pyc", 1);
	mkfile(root, ".hg/a.pyc", 1);
	mkfile(root, ".svn/pristine/b.pyo", 1);
	mkfile(root, "vendor/lib/.git/c.pyc", 1);
	mkfile(root, ".github/__pycache__/d.cpython-311.pyc", 1);
	mkfile(root, ".gitx/e.pyc.1", 1);
	walk_ok(&o, &res);
	expect_present(root, ".git/__pycache__/hook.cpython-311.pyc");
	expect_present(root, ".git/hooks/x.pyc");
	expect_present(root, ".hg/a.pyc");
	expect_present(root, ".svn/pristine/b.pyo");
	expect_present(root, "vendor/lib/.git/c.pyc");
	expect_absent(root, ".github/__pycache__");
	expect_absent(root, ".gitx/e.pyc.1");
	EXPECT_LIST(&res.removed, ".github/__pycache__/d.cpython-311.pyc",
	    ".gitx/e.pyc.1");
	ps_result_release(&res);
}

static void
sourceless_tree(void)
{
	mkfile(root, "pkg/__init__.py", 1);
	mkfile(root, "pkg/lone.pyc", 8);
	mkfile(root, "pkg/lone2.pyo", 16);
	mkfile(root, "pkg/withsrc.py", 1);
	mkfile(root, "pkg/withsrc.pyc", 32);
	mkfile(root, "pkg/tmp.pyc.5", 64);
	mkfile(root, "pkg/__pycache__/orphan.cpython-311.pyc", 128);
}

Test(walk, sourceless_modules_are_listed_and_removed)
{
	struct counter c = {0};
	struct ps_options o = options(PS_MODE_STRIP, &c);
	struct ps_result res;

	sourceless_tree();
	walk_ok(&o, &res);
	EXPECT_LIST(&res.sourceless, "pkg/lone.pyc", "pkg/lone2.pyo");
	EXPECT_LIST(&res.removed, "pkg/lone.pyc", "pkg/lone2.pyo",
	    "pkg/withsrc.pyc", "pkg/tmp.pyc.5",
	    "pkg/__pycache__/orphan.cpython-311.pyc");
	expect_absent(root, "pkg/lone.pyc");
	expect_absent(root, "pkg/lone2.pyo");
	cr_expect_eq(res.removed_bytes, 8 + 16 + 32 + 64 + 128);
	cr_expect_geq(c.warnings, 2, "each sourceless module is warned about");
	cr_expect_not(res.failed, "sourceless modules are not errors");
	ps_result_release(&res);
}

Test(walk, keep_sourceless_keeps_and_still_lists)
{
	struct counter c = {0};
	struct ps_options o = options(PS_MODE_STRIP, &c);
	struct ps_result res;

	o.keep_sourceless = true;
	sourceless_tree();
	walk_ok(&o, &res);
	EXPECT_LIST(&res.sourceless, "pkg/lone.pyc", "pkg/lone2.pyo");
	EXPECT_LIST(&res.removed, "pkg/withsrc.pyc", "pkg/tmp.pyc.5",
	    "pkg/__pycache__/orphan.cpython-311.pyc");
	expect_present(root, "pkg/lone.pyc");
	expect_present(root, "pkg/lone2.pyo");
	expect_absent(root, "pkg/withsrc.pyc");
	cr_expect_eq(res.removed_files, 3);
	cr_expect_eq(res.removed_bytes, 32 + 64 + 128);
	cr_expect_geq(c.warnings, 2);
	ps_result_release(&res);
}

Test(walk, excludes_leave_matching_paths_alone)
{
	const char *globs[] = { "vendor", "pkg/keep.pyc", "skip/*",
	    "pkg/sub/__pycache__" };
	struct ps_options o = options(PS_MODE_STRIP, NULL);
	struct ps_result res;

	o.excludes = globs;
	o.n_excludes = 4;
	mkfile(root, "vendor/__pycache__/a.cpython-311.pyc", 1);
	mkfile(root, "deep/vendor/b.pyc", 1);
	mkfile(root, "pkg/keep.py", 1);
	mkfile(root, "pkg/keep.pyc", 1);
	mkfile(root, "pkg/other.py", 1);
	mkfile(root, "pkg/other.pyc", 1);
	mkfile(root, "skip/x/__pycache__/c.cpython-311.pyc", 1);
	mkfile(root, "pkg/sub/__pycache__/d.cpython-311.pyc", 1);
	mkfile(root, "pkg/__pycache__/e.cpython-311.pyc", 1);
	walk_ok(&o, &res);
	expect_present(root, "vendor/__pycache__/a.cpython-311.pyc");
	expect_present(root, "deep/vendor/b.pyc");
	expect_present(root, "pkg/keep.pyc");
	expect_present(root, "skip/x/__pycache__/c.cpython-311.pyc");
	expect_present(root, "pkg/sub/__pycache__/d.cpython-311.pyc");
	expect_absent(root, "pkg/other.pyc");
	expect_absent(root, "pkg/__pycache__");
	EXPECT_LIST(&res.removed, "pkg/other.pyc",
	    "pkg/__pycache__/e.cpython-311.pyc");
	ps_result_release(&res);
}

Test(walk, excluded_file_inside_pycache_keeps_it)
{
	const char *globs[] = { "keep.*.pyc" };
	struct ps_options o = options(PS_MODE_STRIP, NULL);
	struct ps_result res;

	o.excludes = globs;
	o.n_excludes = 1;
	mkfile(root, "pkg/__pycache__/keep.cpython-311.pyc", 1);
	mkfile(root, "pkg/__pycache__/drop.cpython-311.pyc", 1);
	walk_ok(&o, &res);
	expect_present(root, "pkg/__pycache__/keep.cpython-311.pyc");
	expect_absent(root, "pkg/__pycache__/drop.cpython-311.pyc");
	EXPECT_LIST(&res.removed, "pkg/__pycache__/drop.cpython-311.pyc");
	cr_expect_eq(res.removed_dirs, 0,
	    "a __pycache__ that keeps an entry is not removed");
	cr_expect_not(res.failed, "keeping an excluded entry is no failure");
	ps_result_release(&res);
}

/* A snapshot of every entry: path, inode, type, size, mtime. */
static char *
snapshot(const char *dir)
{
	char cmd[512];
	char *buf = NULL;
	size_t len = 0;
	FILE *p, *mem;
	int ch;

	snprintf(cmd, sizeof cmd,
	    "cd '%s' && find . -printf '%%p %%i %%y %%s %%T@ %%C@ %%l\\n' | "
	    "LC_ALL=C sort", dir);
	mem = open_memstream(&buf, &len);
	p = popen(cmd, "r");
	cr_assert(mem != NULL && p != NULL);
	while ((ch = fgetc(p)) != EOF)
		fputc(ch, mem);
	cr_assert_eq(pclose(p), 0);
	fclose(mem);
	return buf;
}

static void
report_only_changes_nothing(enum ps_mode mode)
{
	struct counter c = {0};
	struct ps_options o = options(mode, &c);
	struct ps_options strip = options(PS_MODE_STRIP, NULL);
	struct ps_result dry, res;
	char *before, *after;
	size_t i;

	sourceless_tree();
	mkfile(root, "pkg/sub/__pycache__/s.cpython-311.pyc", 9);
	mkdirs(root, "pkg/sub/__pycache__/nested");
	cr_assert_eq(mkfifo(at(root, "pkg/__pycache__/fifo"), 0644), 0);
	before = snapshot(root);
	walk_ok(&o, &dry);
	after = snapshot(root);
	cr_expect_str_eq(after, before, "the tree changed");
	cr_expect_eq(c.removed, dry.removed_files);
	walk_ok(&strip, &res);
	cr_expect_eq(dry.removed_files, res.removed_files);
	cr_expect_eq(dry.removed_dirs, res.removed_dirs);
	cr_expect_eq(dry.removed_bytes, res.removed_bytes);
	cr_expect_eq(dry.found, res.found);
	cr_expect_eq(dry.removed_dirs, 3);
	cr_expect_eq(dry.removed_files, 7);
	expect_list(&dry.removed, "dry-run removed",
	    (const char *const *)res.removed.v, res.removed.n);
	expect_list(&dry.sourceless, "dry-run sourceless",
	    (const char *const *)res.sourceless.v, res.sourceless.n);
	for (i = 0; i < res.removed.n; i++)
		expect_absent(root, res.removed.v[i]);
	free(before);
	free(after);
	ps_result_release(&dry);
	ps_result_release(&res);
}

Test(walk, dry_run_changes_nothing)
{
	report_only_changes_nothing(PS_MODE_DRY_RUN);
}

Test(walk, check_changes_nothing)
{
	report_only_changes_nothing(PS_MODE_CHECK);
}

Test(walk, without_collect_counts_but_lists_nothing)
{
	struct counter c = {0};
	struct ps_options o = options(PS_MODE_STRIP, &c);
	struct ps_result res;

	o.collect = false;
	mkfile(root, "a/__pycache__/x.cpython-311.pyc", 3);
	mkfile(root, "a/y.py", 3);
	mkfile(root, "a/y.pyc", 4);
	walk_ok(&o, &res);
	cr_expect_eq(res.removed_files, 2);
	cr_expect_eq(res.removed_dirs, 1);
	cr_expect_eq(res.removed_bytes, 7);
	cr_expect_eq(res.removed.n, 0);
	cr_expect_eq(c.removed, 2, "events still come without collect");
	expect_absent(root, "a/y.pyc");
	ps_result_release(&res);
}

Test(walk, empty_tree_is_fine)
{
	struct ps_options o = options(PS_MODE_STRIP, NULL);
	struct ps_result res;

	walk_ok(&o, &res);
	cr_expect_eq(res.found, 0);
	cr_expect_eq(res.removed_files + res.removed_dirs + res.removed_bytes, 0);
	cr_expect_not(res.failed);
	ps_result_release(&res);
}

Test(walk, missing_target_fails)
{
	struct ps_options o = options(PS_MODE_STRIP, NULL);
	struct ps_result res;
	struct ps_error err = {0};

	ps_result_init(&res, at(root, "nope"));
	cr_expect_eq(ps_walk_tree(&o, at(root, "nope"), &res, &err), -1);
	cr_expect_neq(err.kind, PS_ERR_NONE);
	cr_expect_neq(err.msg[0], '\0', "a message says why");
	ps_result_release(&res);
}

Test(walk, fifos_and_sockets_are_never_opened, .timeout = 20)
{
	struct ps_options o = options(PS_MODE_STRIP, NULL);
	struct ps_result res;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int s;

	mkfile(root, "x.py", 1);
	cr_assert_eq(mkfifo(at(root, "x.pyc"), 0644), 0);
	cr_assert_eq(mkfifo(at(root, "data"), 0644), 0);
	cr_assert_eq(mkfifo(at(root, "data.py"), 0644), 0);
	mkdirs(root, "sub");
	cr_assert_eq(mkfifo(at(root, "sub/t.pyc.3"), 0644), 0);
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", at(root, "sock"));
	s = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_geq(s, 0);
	cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
	walk_ok(&o, &res);
	close(s);
	expect_absent(root, "x.pyc");
	expect_absent(root, "sub/t.pyc.3");
	expect_present(root, "data");
	expect_present(root, "data.py");
	expect_present(root, "sock");
	EXPECT_LIST(&res.removed, "x.pyc", "sub/t.pyc.3");
	ps_result_release(&res);
}

/* Sets or clears FS_IMMUTABLE_FL; returns -1 when unsupported. */
static int
immutable(const char *path, bool on)
{
	int fd, flags, rc = -1;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
		flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
		rc = ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	close(fd);
	return rc;
}

Test(walk, unremovable_entry_is_reported_and_walk_goes_on)
{
	struct ps_options o = options(PS_MODE_STRIP, NULL);
	struct ps_result res;
	struct ps_error err = {0};
	char base[256];
	bool named = false;
	size_t i;

	/* tmpfs may lack the immutable flag: use the root file system. */
	mktemp_in(base, sizeof base, "/var/tmp");
	mkfile(base, "pkg/__pycache__/stuck.cpython-311.pyc", 3);
	mkfile(base, "pkg/__pycache__/free.cpython-311.pyc", 3);
	mkfile(base, "pkg/m.py", 1);
	mkfile(base, "pkg/m.pyc", 1);
	mkfile(base, "other/__pycache__/o.cpython-311.pyc", 3);
	if (immutable(at(base, "pkg/__pycache__/stuck.cpython-311.pyc"),
	    true) != 0) {
		rmtree(base);
		cr_skip_test("no immutable flag here: %s", strerror(errno));
	}
	ps_result_init(&res, base);
	cr_expect_eq(ps_walk_tree(&o, base, &res, &err), 0,
	    "a stuck entry does not stop the walk: %s", err.msg);
	immutable(at(base, "pkg/__pycache__/stuck.cpython-311.pyc"), false);
	cr_expect_geq(res.failures.n, 1);
	for (i = 0; i < res.failures.n; i++) {
		cr_log_info("failure: %s", res.failures.v[i]);
		if (strstr(res.failures.v[i],
		    "pkg/__pycache__/stuck.cpython-311.pyc") != NULL)
			named = true;
	}
	cr_expect(named, "the failure names the entry");
	cr_expect(res.failed, "the target fails");
	expect_present(base, "pkg/__pycache__/stuck.cpython-311.pyc");
	expect_absent(base, "pkg/__pycache__/free.cpython-311.pyc");
	expect_absent(base, "pkg/m.pyc");
	expect_absent(base, "other/__pycache__");
	for (i = 0; i < res.removed.n; i++)
		cr_expect(strstr(res.removed.v[i], "stuck") == NULL,
		    "%s was not removed", res.removed.v[i]);
	ps_result_release(&res);
	rmtree(base);
}

/*
 * A 10,000-level chain d/d/d/... with bytecode along the way, walked under a
 * 256 descriptor limit in a child process.  Paths this deep exceed PATH_MAX,
 * so the chain is built and checked with *at() calls, one level at a time.
 */
#define CHAIN_DEPTH 10000

static int
chain_child(void)
{
	struct rlimit rl = { 256, 256 };
	struct ps_options o = options(PS_MODE_STRIP, NULL);
	struct ps_result res;
	struct ps_error err = {0};
	struct stat st;
	int fd, next, i, nbc = 0;

	fd = open(root, O_RDONLY | O_DIRECTORY);
	for (i = 0; i < CHAIN_DEPTH && fd >= 0; i++) {
		if (i % 1000 == 999) {
			close(openat(fd, "m.py", O_CREAT | O_WRONLY, 0644));
			close(openat(fd, "m.pyc", O_CREAT | O_WRONLY, 0644));
			nbc++;
		}
		if (mkdirat(fd, "d", 0755) != 0)
			return 10;
		next = openat(fd, "d", O_RDONLY | O_DIRECTORY);
		close(fd);
		fd = next;
	}
	if (fd < 0 || mkdirat(fd, "__pycache__", 0755) != 0)
		return 11;
	next = openat(fd, "__pycache__", O_RDONLY | O_DIRECTORY);
	close(openat(next, "x.cpython-311.pyc", O_CREAT | O_WRONLY, 0644));
	close(next);
	close(fd);

	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 12;
	ps_result_init(&res, root);
	if (ps_walk_tree(&o, root, &res, &err) != 0) {
		fprintf(stderr, "walk: %s\n", err.msg);
		return 13;
	}
	if (res.failed || res.failures.n != 0)
		return 14;
	if (res.removed_files != (uint64_t)nbc + 1 || res.removed_dirs != 1) {
		fprintf(stderr, "files %llu dirs %llu\n",
		    (unsigned long long)res.removed_files,
		    (unsigned long long)res.removed_dirs);
		return 15;
	}
	ps_result_release(&res);

	/* Everything but the bytecode is still there. */
	fd = open(root, O_RDONLY | O_DIRECTORY);
	for (i = 0; i < CHAIN_DEPTH; i++) {
		if (i % 1000 == 999 &&
		    (fstatat(fd, "m.py", &st, 0) != 0 ||
		    fstatat(fd, "m.pyc", &st, AT_SYMLINK_NOFOLLOW) == 0))
			return 16;
		next = openat(fd, "d", O_RDONLY | O_DIRECTORY);
		close(fd);
		if (next < 0)
			return 17;
		fd = next;
	}
	if (fstatat(fd, "__pycache__", &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 18;
	close(fd);
	return 0;
}

static void
in_child(int (*fn)(void))
{
	pid_t pid;
	int status;

	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(fn());
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "child died of signal %d",
	    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	cr_assert_eq(WEXITSTATUS(status), 0,
	    "child failed at step %d (see source)", WEXITSTATUS(status));
}

Test(walk, ten_thousand_levels_under_256_descriptors, .timeout = 120)
{
	in_child(chain_child);
}

/*
 * Sixteen chains of 300 levels walked by sixteen threads: walk.h promises
 * at most PS_WALK_MAX_FDS directory handles at once, whatever the thread
 * count, so a 256 descriptor limit must do.
 */
#define WIDE_CHAINS 16
#define WIDE_DEPTH 300

static int
wide_child(void)
{
	struct rlimit rl = { 256, 256 };
	struct ps_options o = options(PS_MODE_STRIP, NULL);
	struct ps_result res;
	struct ps_error err = {0};
	char name[16];
	int c, i, fd, next;

	for (c = 0; c < WIDE_CHAINS; c++) {
		fd = open(root, O_RDONLY | O_DIRECTORY);
		snprintf(name, sizeof name, "c%02d", c);
		for (i = 0; i <= WIDE_DEPTH && fd >= 0; i++) {
			const char *n = i == 0 ? name : "d";

			if (mkdirat(fd, n, 0755) != 0)
				return 10;
			next = openat(fd, n, O_RDONLY | O_DIRECTORY);
			close(fd);
			fd = next;
		}
		if (fd < 0 || mkdirat(fd, "__pycache__", 0755) != 0)
			return 11;
		next = openat(fd, "__pycache__", O_RDONLY | O_DIRECTORY);
		close(openat(next, "x.cpython-311.pyc", O_CREAT | O_WRONLY,
		    0644));
		close(next);
		close(fd);
	}
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 12;
	o.threads = 16;
	ps_result_init(&res, root);
	if (ps_walk_tree(&o, root, &res, &err) != 0) {
		fprintf(stderr, "walk: %s\n", err.msg);
		return 13;
	}
	for (i = 0; i < (int)res.failures.n; i++)
		fprintf(stderr, "failure: %.80s...\n", res.failures.v[i]);
	if (res.failed || res.failures.n != 0)
		return 14;
	if (res.removed_files != WIDE_CHAINS || res.removed_dirs != WIDE_CHAINS)
		return 15;
	ps_result_release(&res);
	return 0;
}

Test(walk, sixteen_threads_keep_the_descriptor_bound, .timeout = 120)
{
	in_child(wide_child);
}

/* A mixed tree gives the same result with one thread and with several. */
static void
mixed_tree(void)
{
	char rel[64];
	int i;

	for (i = 0; i < 12; i++) {
		snprintf(rel, sizeof rel, "p%02d/__pycache__/m.cpython-311.pyc", i);
		mkfile(root, rel, (size_t)i);
		snprintf(rel, sizeof rel, "p%02d/sub/a.pyc", i);
		mkfile(root, rel, 3);
		snprintf(rel, sizeof rel, "p%02d/sub/b.py", i);
		mkfile(root, rel, 1);
		snprintf(rel, sizeof rel, "p%02d/sub/b.pyc", i);
		mkfile(root, rel, 5);
	}
	mkfile(root, "top.py", 1);
	mkfile(root, "top.pyc", 7);
	mkfile(root, "zz.pyc.4", 9);
	mkfile(root, "lone.pyo", 11);
}

Test(walk, thread_count_does_not_change_the_result)
{
	struct ps_result one, many, strip;
	struct ps_options o1 = options(PS_MODE_DRY_RUN, NULL);
	struct ps_options o4 = options(PS_MODE_DRY_RUN, NULL);
	struct ps_options os4 = options(PS_MODE_STRIP, NULL);

	mixed_tree();
	o1.threads = 1;
	o4.threads = 4;
	os4.threads = 4;
	walk_ok(&o1, &one);
	walk_ok(&o4, &many);
	walk_ok(&os4, &strip);
	cr_expect_eq(one.removed_files, 12 * 3 + 3);
	cr_expect_eq(one.removed_dirs, 12);
	cr_expect_eq(one.removed_bytes, 66 + 12 * 8 + 7 + 9 + 11);
	cr_expect_eq(many.removed_files, one.removed_files);
	cr_expect_eq(many.removed_dirs, one.removed_dirs);
	cr_expect_eq(many.removed_bytes, one.removed_bytes);
	cr_expect_eq(strip.removed_bytes, one.removed_bytes);
	expect_list(&many.removed, "threads=4 removed",
	    (const char *const *)one.removed.v, one.removed.n);
	expect_list(&strip.removed, "strip threads=4 removed",
	    (const char *const *)one.removed.v, one.removed.n);
	expect_list(&many.sourceless, "threads=4 sourceless",
	    (const char *const *)one.sourceless.v, one.sourceless.n);
	cr_expect_eq(one.sourceless.n, 13);
	ps_result_release(&one);
	ps_result_release(&many);
	ps_result_release(&strip);
}
