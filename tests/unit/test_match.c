/*
 * test_match.c - the name rules and excludes of match.h, on plain strings.
 */
#include <stdbool.h>
#include <string.h>

#include <criterion/criterion.h>

#include "match.h"

static enum ps_bytecode
bc(const char *name)
{
	return ps_match_bytecode(name, strlen(name));
}

static size_t
srclen(const char *name)
{
	return ps_match_source_len(name, strlen(name));
}

static size_t
prefix(const char *name)
{
	return ps_match_pycache_prefix(name, strlen(name));
}

static bool
excluded1(const char *glob, const char *path)
{
	const char *globs[] = { glob };

	return ps_match_excluded(globs, 1, path);
}

Test(match, pycache_is_exact_name)
{
	cr_assert(ps_match_is_pycache("__pycache__", 11));
	cr_assert_not(ps_match_is_pycache("__pycache", 9));
	cr_assert_not(ps_match_is_pycache("__pycache__x", 12));
	cr_assert_not(ps_match_is_pycache("x__pycache__", 12));
	cr_assert_not(ps_match_is_pycache("__PYCACHE__", 11));
	cr_assert_not(ps_match_is_pycache("", 0));
}

Test(match, pycache_uses_len_not_nul)
{
	/* Only the first len bytes count: a component inside a longer path. */
	cr_assert(ps_match_is_pycache("__pycache__/a.pyc", 11));
	cr_assert_not(ps_match_is_pycache("__pycache__", 10));
}

Test(match, pyc_and_pyo_are_bytecode_files)
{
	cr_assert_eq(bc("a.pyc"), PS_BC_FILE);
	cr_assert_eq(bc("a.pyo"), PS_BC_FILE);
	cr_assert_eq(bc("mod.cpython-311.pyc"), PS_BC_FILE);
	cr_assert_eq(bc("mod.cpython-311.opt-1.pyc"), PS_BC_FILE);
	cr_assert_eq(bc("mod.cpython-311.opt-2.pyc"), PS_BC_FILE);
	cr_assert_eq(bc("a.py.pyc"), PS_BC_FILE);
	cr_assert_eq(bc("a.pyc.pyc"), PS_BC_FILE);
	cr_assert_eq(bc("a b.pyc"), PS_BC_FILE);
}

Test(match, name_that_is_only_the_suffix_ends_in_pyc)
{
	/* SPEC: "every file whose name ends in .pyc". */
	cr_assert_eq(bc(".pyc"), PS_BC_FILE);
}

Test(match, interrupted_write_temporaries_are_removed)
{
	cr_assert_eq(bc("a.pyc.1"), PS_BC_TEMP);
	cr_assert_eq(bc("a.pyc.123"), PS_BC_TEMP);
	cr_assert_eq(bc("a.cpython-311.pyc.140234567890123"), PS_BC_TEMP);
	cr_assert_eq(bc("a.pyo.42"), PS_BC_TEMP);
}

Test(match, temporaries_need_digits_only)
{
	cr_assert_eq(bc("x.pyc."), PS_BC_NONE);
	cr_assert_eq(bc("x.pyc.12a"), PS_BC_NONE);
	cr_assert_eq(bc("x.pyc.a12"), PS_BC_NONE);
	cr_assert_eq(bc("x.pyc.-1"), PS_BC_NONE);
	cr_assert_eq(bc("x.pyc.1.2"), PS_BC_NONE);
	cr_assert_eq(bc("x.pyc.tmp"), PS_BC_NONE);
	cr_assert_eq(bc("x.pyc. 1"), PS_BC_NONE);
	cr_assert_eq(bc("x.pyd.123"), PS_BC_NONE);
	cr_assert_eq(bc("x.py.123"), PS_BC_NONE);
}

Test(match, other_names_are_kept)
{
	cr_assert_eq(bc("X.PYC"), PS_BC_NONE);
	cr_assert_eq(bc("x.Pyc"), PS_BC_NONE);
	cr_assert_eq(bc("x.PYO"), PS_BC_NONE);
	cr_assert_eq(bc("x.pyd"), PS_BC_NONE);
	cr_assert_eq(bc("x.py"), PS_BC_NONE);
	cr_assert_eq(bc("x.pyi"), PS_BC_NONE);
	cr_assert_eq(bc("x.pyw"), PS_BC_NONE);
	cr_assert_eq(bc("x.pycx"), PS_BC_NONE);
	cr_assert_eq(bc("x.pyc~"), PS_BC_NONE);
	cr_assert_eq(bc("x.pyc.bak"), PS_BC_NONE);
	cr_assert_eq(bc("pyc"), PS_BC_NONE);
	cr_assert_eq(bc("xpyc"), PS_BC_NONE);
	cr_assert_eq(bc("x.so"), PS_BC_NONE);
	cr_assert_eq(bc(""), PS_BC_NONE);
	cr_assert_eq(bc("__pycache__"), PS_BC_NONE);
}

Test(match, bytecode_uses_len_not_nul)
{
	cr_assert_eq(ps_match_bytecode("a.pycXYZ", 5), PS_BC_FILE);
	cr_assert_eq(ps_match_bytecode("a.pyc.12/x", 8), PS_BC_TEMP);
	cr_assert_eq(ps_match_bytecode("a.pyc", 4), PS_BC_NONE);
	cr_assert_eq(ps_match_bytecode("a.pyc.12a", 8), PS_BC_TEMP);
}

Test(match, source_len_of_legacy_pyc)
{
	cr_assert_eq(srclen("a.pyc"), 4);
	cr_assert_eq(srclen("a.pyo"), 4);
	cr_assert_eq(srclen("pkg_mod.pyc"), 10);
	cr_assert_eq(srclen("a.py.pyc"), 7);
	cr_assert_eq(ps_match_source_len("mod.pyc-junk", 7), 6);
}

Test(match, source_len_is_zero_for_other_names)
{
	cr_assert_eq(srclen("a.pyc.123"), 0);
	cr_assert_eq(srclen("a.py"), 0);
	cr_assert_eq(srclen("a.PYC"), 0);
	cr_assert_eq(srclen("a.pyd"), 0);
	cr_assert_eq(srclen("__pycache__"), 0);
	cr_assert_eq(srclen(""), 0);
}

Test(match, pycache_prefix_of_member_names)
{
	cr_assert_eq(prefix("pkg/__pycache__/a.cpython-311.pyc"), 15);
	cr_assert_eq(prefix("__pycache__/a.pyc"), 11);
	cr_assert_eq(prefix("__pycache__"), 11);
	cr_assert_eq(prefix("__pycache__/"), 11);
	cr_assert_eq(prefix("a/b/__pycache__/"), 15);
	cr_assert_eq(prefix("a/__pycache__/README"), 13);
	cr_assert_eq(prefix("a/__pycache__/sub/deeper/x"), 13);
	cr_assert_eq(prefix("../x/__pycache__/a.pyc"), 16);
	cr_assert_eq(prefix("/abs/__pycache__/a.pyc"), 16);
}

Test(match, pycache_prefix_is_the_shortest)
{
	cr_assert_eq(prefix("a/__pycache__/b/__pycache__/c.pyc"), 13);
	cr_assert_eq(prefix("__pycache__/__pycache__/c.pyc"), 11);
}

Test(match, pycache_prefix_needs_a_whole_component)
{
	cr_assert_eq(prefix("a/x__pycache__/b.pyc"), 0);
	cr_assert_eq(prefix("a/__pycache__x/b.pyc"), 0);
	cr_assert_eq(prefix("a/__pycache_/b.pyc"), 0);
	cr_assert_eq(prefix("a/__PYCACHE__/b.pyc"), 0);
	cr_assert_eq(prefix("a/b.pyc"), 0);
	cr_assert_eq(prefix("__pycache__.py"), 0);
	cr_assert_eq(prefix(""), 0);
}

Test(match, pycache_prefix_uses_len_not_nul)
{
	cr_assert_eq(ps_match_pycache_prefix("a/__pycache__/x", 12), 0);
	cr_assert_eq(ps_match_pycache_prefix("a/__pycache__x", 13), 13);
}

Test(match, strip_dot_skips_leading_dot_slash)
{
	cr_assert_str_eq(ps_match_strip_dot("./a/b.pyc"), "a/b.pyc");
	cr_assert_str_eq(ps_match_strip_dot("././a"), "a");
	cr_assert_str_eq(ps_match_strip_dot(".//a"), "a");
	cr_assert_str_eq(ps_match_strip_dot("././/./a"), "a");
	cr_assert_str_eq(ps_match_strip_dot("./__pycache__/"), "__pycache__/");
}

Test(match, strip_dot_keeps_other_names)
{
	const char *s = "a/b.pyc";

	cr_assert_eq(ps_match_strip_dot(s), s, "returns a pointer into name");
	cr_assert_str_eq(ps_match_strip_dot("../a"), "../a");
	cr_assert_str_eq(ps_match_strip_dot(".a"), ".a");
	cr_assert_str_eq(ps_match_strip_dot("..a"), "..a");
	cr_assert_str_eq(ps_match_strip_dot("/a"), "/a");
	cr_assert_str_eq(ps_match_strip_dot(".pyc"), ".pyc");
	cr_assert_str_eq(ps_match_strip_dot(""), "");
}

Test(match, no_globs_exclude_nothing)
{
	cr_assert_not(ps_match_excluded(NULL, 0, "a/b.pyc"));
}

Test(match, glob_without_slash_matches_any_component)
{
	cr_assert(excluded1("vendor", "vendor"));
	cr_assert(excluded1("vendor", "vendor/__pycache__/a.pyc"));
	cr_assert(excluded1("vendor", "a/vendor"));
	cr_assert(excluded1("vendor", "a/b/vendor/x.pyc"));
	cr_assert(excluded1("*.pyc", "a/b/x.pyc"));
	cr_assert(excluded1("*.pyc", "x.pyc"));
	cr_assert(excluded1("ven*", "a/vendored/x.pyc"));
	cr_assert(excluded1("__pycache__", "pkg/__pycache__/m.pyc"));
	cr_assert(excluded1("?.pyc", "pkg/a.pyc"));
	cr_assert(excluded1("[ab].pyc", "pkg/b.pyc"));
}

Test(match, glob_without_slash_needs_a_whole_component)
{
	cr_assert_not(excluded1("vendor", "vendored/x.pyc"));
	cr_assert_not(excluded1("vendor", "a/myvendor/x.pyc"));
	cr_assert_not(excluded1("vendor", "a/b.pyc"));
	cr_assert_not(excluded1("*.pyc", "a/b.pyo"));
	cr_assert_not(excluded1("Vendor", "vendor/x.pyc"));
	cr_assert_not(excluded1("?.pyc", "pkg/ab.pyc"));
}

Test(match, star_in_component_glob_does_not_cross_slash)
{
	cr_assert_not(excluded1("a*c", "ab/c"));
	cr_assert_not(excluded1("a*c", "x/ab/c/d.pyc"));
	cr_assert(excluded1("a*c", "x/abbc/d.pyc"));
}

Test(match, glob_with_slash_matches_whole_path_or_a_directory_prefix)
{
	cr_assert(excluded1("a/b", "a/b"));
	cr_assert(excluded1("a/b", "a/b/c.pyc"));
	cr_assert(excluded1("a/b", "a/b/__pycache__/c.cpython-311.pyc"));
	cr_assert(excluded1("pkg/keep.pyc", "pkg/keep.pyc"));
	cr_assert(excluded1("a/*.pyc", "a/x.pyc"));
	cr_assert(excluded1("a/b*", "a/bc/d.pyc"));
}

Test(match, glob_with_slash_is_anchored_at_the_root)
{
	cr_assert_not(excluded1("a/b", "x/a/b"));
	cr_assert_not(excluded1("a/b", "x/a/b/c.pyc"));
	cr_assert_not(excluded1("a/b", "a/bc/d.pyc"));
	cr_assert_not(excluded1("a/b", "a"));
	cr_assert_not(excluded1("a/b", "a/c.pyc"));
	cr_assert_not(excluded1("pkg/keep.pyc", "pkg/other.pyc"));
}

Test(match, star_in_path_glob_crosses_slash)
{
	cr_assert(excluded1("a/*", "a/b/c/d.pyc"));
	cr_assert(excluded1("*/vendor", "x/y/vendor/z.pyc"));
	cr_assert(excluded1("*/vendor", "x/vendor"));
	cr_assert(excluded1("src/*/__pycache__", "src/a/b/__pycache__/m.pyc"));
	cr_assert_not(excluded1("*/vendor", "vendor/z.pyc"));
}

Test(match, trailing_slash_on_glob_is_ignored)
{
	cr_assert(excluded1("vendor/", "vendor/x.pyc"));
	cr_assert(excluded1("vendor/", "a/vendor/x.pyc"));
	cr_assert(excluded1("a/b/", "a/b"));
	cr_assert(excluded1("a/b/", "a/b/c.pyc"));
	cr_assert_not(excluded1("a/b/", "x/a/b/c.pyc"));
}

Test(match, leading_dot_slash_on_path_is_ignored)
{
	cr_assert(excluded1("a/b", "./a/b/c.pyc"));
	cr_assert(excluded1("vendor", "./vendor/x.pyc"));
	cr_assert(excluded1("x.pyc", "./x.pyc"));
}

Test(match, leading_dot_slash_on_glob_is_ignored)
{
	cr_assert(excluded1("./a/b", "a/b/c.pyc"));
	cr_assert(excluded1("./vendor", "vendor/x.pyc"));
}

Test(match, any_of_several_globs_excludes)
{
	const char *globs[] = { "nomatch", "a/b", "*.pyo" };

	cr_assert(ps_match_excluded(globs, 3, "a/b/c.pyc"));
	cr_assert(ps_match_excluded(globs, 3, "z/y.pyo"));
	cr_assert_not(ps_match_excluded(globs, 3, "z/y.pyc"));
	cr_assert_not(ps_match_excluded(globs, 1, "a/b/c.pyc"),
	    "only the first n globs count");
}

Test(match, member_in_pycache_is_removed)
{
	bool loose = true;

	cr_assert(ps_match_member("pkg/__pycache__/a.cpython-311.pyc", false,
	    false, &loose));
	cr_assert_not(loose);
	loose = true;
	cr_assert(ps_match_member("pkg/__pycache__/README", false, false, &loose));
	cr_assert_not(loose);
	loose = true;
	cr_assert(ps_match_member("pkg/__pycache__/sub/x.txt", false, false,
	    &loose));
	cr_assert_not(loose);
	loose = true;
	cr_assert(ps_match_member("__pycache__/a.pyc", false, false, &loose));
	cr_assert_not(loose);
}

Test(match, pycache_directory_member_is_removed)
{
	bool loose = false;

	cr_assert(ps_match_member("pkg/__pycache__/", true, false, &loose));
	cr_assert(ps_match_member("pkg/__pycache__", true, false, &loose));
	cr_assert(ps_match_member("pkg/__pycache__/sub/", true, false, &loose));
	cr_assert_not(loose);
}

Test(match, pycache_member_that_is_a_plain_file_is_kept)
{
	bool loose = false;

	/* As in tree mode: a regular file named __pycache__ stays, a link
	 * so named goes, and what a __pycache__ component holds goes. */
	cr_assert_not(ps_match_member("pkg/__pycache__", false, false, &loose));
	cr_assert_not(ps_match_member("__pycache__", false, false, &loose));
	cr_assert(ps_match_member("pkg/__pycache__", false, true, &loose));
	cr_assert(ps_match_member("pkg/__pycache__/x", false, true, &loose));
	cr_assert_not(loose);
}

Test(match, loose_bytecode_member_is_removed_and_flagged)
{
	bool loose = false;

	cr_assert(ps_match_member("pkg/a.pyc", false, false, &loose));
	cr_assert(loose);
	loose = false;
	cr_assert(ps_match_member("a.pyo", false, false, &loose));
	cr_assert(loose);
	loose = false;
	cr_assert(ps_match_member("/abs/b.pyc", false, false, &loose));
	cr_assert(loose);
}

Test(match, temporary_member_is_removed_not_loose)
{
	bool loose = false;

	cr_assert(ps_match_member("pkg/a.pyc.1234", false, false, &loose));
	cr_assert_not(loose);
}

Test(match, hostile_member_names_are_only_matched)
{
	bool loose = false;

	cr_assert(ps_match_member("../x/__pycache__/a.pyc", false, false, &loose));
	cr_assert_not(loose);
}

Test(match, other_members_are_kept)
{
	bool loose = false;

	cr_assert_not(ps_match_member("pkg/a.py", false, false, &loose));
	cr_assert_not(ps_match_member("pkg/a.PYC", false, false, &loose));
	cr_assert_not(ps_match_member("pkg/a.pyd", false, false, &loose));
	cr_assert_not(ps_match_member("pkg/a.pyc.12a", false, false, &loose));
	cr_assert_not(ps_match_member("pkg/x__pycache__/a.py", false, false,
	    &loose));
	cr_assert_not(ps_match_member("pkg/", true, false, &loose));
	cr_assert_not(loose);
}

Test(match, directory_named_like_bytecode_is_kept)
{
	bool loose = false;

	cr_assert_not(ps_match_member("pkg/weird.pyc/", true, false, &loose));
	cr_assert_not(ps_match_member("pkg/weird.pyc", true, false, &loose));
	cr_assert_not(ps_match_member("pkg/weird.pyc/mod.py", false, false,
	    &loose));
	cr_assert_not(loose);
}
