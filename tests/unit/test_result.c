/*
 * test_result.c - what an archive target's result counts: each directory
 * at or below a __pycache__ component once, whether the archive has an
 * entry for it or not, in any member order.
 */
#include <criterion/criterion.h>
#include <stdbool.h>

#include "pycstrip.h"

struct member {
	const char *name;
	bool is_dir;
};

/* Feeds the members in order; returns removed_dirs. */
static uint64_t
dirs_of(const struct member *m, size_t n)
{
	struct ps_options opts = { 0 };
	struct ps_result res;
	uint64_t dirs;
	size_t i;

	ps_result_init(&res, "x.whl");
	for (i = 0; i < n; i++)
		cr_assert_eq(ps_result_archive_member(&res, &opts, m[i].name,
		    m[i].is_dir, 1), 0);
	dirs = res.removed_dirs;
	ps_result_release(&res);
	return dirs;
}

#define DIRS(...) ({ \
	static const struct member m_[] = { __VA_ARGS__ }; \
	dirs_of(m_, sizeof m_ / sizeof m_[0]); \
})

Test(result, members_of_one_directory_count_it_once)
{
	cr_expect_eq(DIRS({ "a/__pycache__/x.pyc", false },
	    { "a/__pycache__/y.pyc", false },
	    { "a/__pycache__/", true }), 1);
}

Test(result, a_directory_seen_again_later_is_not_counted_again)
{
	cr_expect_eq(DIRS({ "a/__pycache__/x.pyc", false },
	    { "b/__pycache__/y.pyc", false },
	    { "a/__pycache__/z.pyc", false },
	    { "./b/__pycache__/w.pyc", false }), 2);
}

Test(result, every_level_below_pycache_counts, .description =
    "a/__pycache__, .../s, .../s/t: deepest first, then shallower")
{
	cr_expect_eq(DIRS({ "a/__pycache__/s/t/q.pyc", false },
	    { "a/__pycache__/s/r.pyc", false },
	    { "a/__pycache__/p.pyc", false },
	    { "a/__pycache__/s/t/", true }), 3);
	cr_expect_eq(DIRS({ "a/__pycache__/p.pyc", false },
	    { "a/__pycache__/s/r.pyc", false },
	    { "a/__pycache__/s/t/q.pyc", false }), 3);
	/* "s" is not "st" cut short. */
	cr_expect_eq(DIRS({ "a/__pycache__/st/x.pyc", false },
	    { "a/__pycache__/s/y.pyc", false }), 3);
}

Test(result, a_file_named_pycache_brings_no_directory)
{
	/* Then its namesake directory still counts, once. */
	cr_expect_eq(DIRS({ "a/__pycache__", false },
	    { "a/__pycache__/x.pyc", false },
	    { "a/__pycache__/y.pyc", false }), 1);
	cr_expect_eq(DIRS({ "a/__pycache__", false },
	    { "a/__pycache__", false }), 0);
}

Test(result, a_directory_entry_alone_counts)
{
	cr_expect_eq(DIRS({ "e/__pycache__/", true },
	    { "e/__pycache__/sub/", true },
	    { "e/__pycache__/sub/", true }), 2);
}
