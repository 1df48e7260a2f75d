/*
 * test_summary.c - the JSON summary: UTF-8 escaping, fields and types,
 * totals and the ok/errors pair, writing, and the shipped schema.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "summary.h"

static void
expect_utf8(const char *in, size_t len, const char *want)
{
	char *got = ps_summary_utf8(in, len);

	cr_assert_not_null(got);
	cr_expect_str_eq(got, want, "got \"%s\", expected \"%s\"", got, want);
	free(got);
}

#define UTF8(in, want) expect_utf8((in), sizeof(in) - 1, (want))

Test(summary, utf8_keeps_ascii)
{
	UTF8("pkg/__pycache__/a.cpython-311.pyc",
	    "pkg/__pycache__/a.cpython-311.pyc");
	UTF8("", "");
	UTF8("back\\slash \"quote\"", "back\\slash \"quote\"");
}

Test(summary, utf8_keeps_valid_multibyte)
{
	UTF8("caf\xc3\xa9.pyc", "caf\xc3\xa9.pyc");
	UTF8("\xe2\x82\xac", "\xe2\x82\xac");
	UTF8("\xf0\x9f\x98\x80/x.pyc", "\xf0\x9f\x98\x80/x.pyc");
	UTF8("\xef\xbf\xbd", "\xef\xbf\xbd");
	UTF8("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");
}

Test(summary, utf8_escapes_invalid_bytes_lower_case)
{
	UTF8("a\xff" "b", "a\\xffb");
	UTF8("\xAB", "\\xab");
	UTF8("\xfe\xff", "\\xfe\\xff");
	UTF8("latin1 caf\xe9.pyc", "latin1 caf\\xe9.pyc");
	UTF8("\x80", "\\x80");
}

Test(summary, utf8_escapes_truncated_sequences)
{
	UTF8("\xc3", "\\xc3");
	UTF8("\xc3" "A", "\\xc3A");
	UTF8("\xe2\x82", "\\xe2\\x82");
	UTF8("\xe2\x82" "x", "\\xe2\\x82x");
	UTF8("\xf0\x9f\x98", "\\xf0\\x9f\\x98");
	UTF8("\xc3\xc3\xa9", "\\xc3\xc3\xa9");
}

Test(summary, utf8_escapes_overlong_surrogates_and_out_of_range)
{
	UTF8("\xc0\xaf", "\\xc0\\xaf");
	UTF8("\xc1\xbf", "\\xc1\\xbf");
	UTF8("\xe0\x80\xaf", "\\xe0\\x80\\xaf");
	UTF8("\xed\xa0\x80", "\\xed\\xa0\\x80");
	UTF8("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");
	UTF8("\xf5\x80\x80\x80", "\\xf5\\x80\\x80\\x80");
}

Test(summary, utf8_uses_len_not_nul)
{
	expect_utf8("ab\xffzz", 3, "ab\\xff");
}

/* ---- building ---------------------------------------------------------- */

static const char *const top_keys[] = {
	"schema_version", "tool", "mode", "ok", "totals", "targets",
};
static const char *const total_keys[] = {
	"targets", "removed_files", "removed_dirs", "removed_bytes", "errors",
};
static const char *const target_keys[] = {
	"path", "kind", "format", "compression", "status", "error",
	"removed_files", "removed_dirs", "removed_bytes", "removed",
	"sourceless", "signatures_removed", "bytes_before", "bytes_after",
	"record_updated", "failures",
};

static void
expect_keys(const json_t *obj, const char *what, const char *const *keys,
    size_t n)
{
	size_t i;
	const char *k;
	json_t *v;

	cr_assert(json_is_object(obj), "%s is not an object", what);
	cr_expect_eq(json_object_size(obj), n, "%s has %zu keys, expected %zu",
	    what, json_object_size(obj), n);
	for (i = 0; i < n; i++)
		cr_expect_not_null(json_object_get(obj, keys[i]),
		    "%s lacks \"%s\"", what, keys[i]);
	json_object_foreach((json_t *)obj, k, v) {
		bool known = false;

		for (i = 0; i < n; i++)
			known = known || strcmp(k, keys[i]) == 0;
		cr_expect(known, "%s has an extra key \"%s\"", what, k);
		(void)v;
	}
}

static json_int_t
int_at(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	cr_assert(json_is_integer(v), "\"%s\" is not an integer", key);
	return json_integer_value(v);
}

static const char *
str_at(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	cr_assert(json_is_string(v), "\"%s\" is not a string", key);
	return json_string_value(v);
}

static void
expect_strings(const json_t *arr, const char *what, const char *const *want,
    size_t n)
{
	size_t i;

	cr_assert(json_is_array(arr), "%s is not an array", what);
	cr_assert_eq(json_array_size(arr), n, "%s: %zu items, expected %zu",
	    what, json_array_size(arr), n);
	for (i = 0; i < n; i++) {
		json_t *v = json_array_get(arr, i);

		cr_assert(json_is_string(v), "%s[%zu] is not a string", what, i);
		cr_expect_str_eq(json_string_value(v), want[i]);
	}
}

static struct ps_options
options(enum ps_mode mode)
{
	struct ps_options o = {0};

	o.mode = mode;
	o.level = -1;
	o.collect = true;
	return o;
}

/* A tree target with two files and a directory removed, one sourceless. */
static void
tree_result(struct ps_result *res, const struct ps_options *o,
    const char *path)
{
	ps_result_init(res, path);
	res->kind = PS_KIND_TREE;
	cr_assert_eq(ps_result_removed_file(res, o,
	    "pkg/__pycache__/a.cpython-311.pyc", 100), 0);
	cr_assert_eq(ps_result_removed_file(res, o, "pkg/lone.pyc", 20), 0);
	ps_result_removed_dir(res);
	cr_assert_eq(ps_result_sourceless(res, o, "pkg/lone.pyc"), 0);
}

/* A wheel that lost one file and its signature. */
static void
wheel_result(struct ps_result *res, const struct ps_options *o,
    const char *path)
{
	ps_result_init(res, path);
	res->kind = PS_KIND_ARCHIVE;
	res->format = "zip";
	res->compression = "none";
	cr_assert_eq(ps_result_archive_member(res, o,
	    "pkg/__pycache__/m.cpython-312.pyc", false, 300), 0);
	cr_assert_eq(ps_strlist_push(&res->signatures_removed,
	    "pkg-1.0.dist-info/RECORD.jws"), 0);
	res->bytes_before = 81920;
	res->bytes_after = 77824;
	res->record_updated = 1;
}

static void
failed_result(struct ps_result *res, const char *path, const char *msg)
{
	struct ps_error err = {0};

	ps_result_init(res, path);
	res->kind = PS_KIND_ARCHIVE;
	res->format = "tar";
	res->compression = "gzip";
	ps_error_input(&err, "%s", msg);
	ps_result_fail(res, &err);
}

static void
release_all(struct ps_result *r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		ps_result_release(&r[i]);
}

Test(summary, top_level_fields_and_types)
{
	struct ps_options o = options(PS_MODE_STRIP);
	struct ps_result r[1];
	json_t *s, *tool;

	tree_result(&r[0], &o, "src");
	s = ps_summary_build(&o, r, 1);
	cr_assert_not_null(s);
	expect_keys(s, "summary", top_keys, 6);
	cr_expect_eq(int_at(s, "schema_version"), 1);
	cr_expect_eq(PS_SUMMARY_SCHEMA_VERSION, 1);
	tool = json_object_get(s, "tool");
	expect_keys(tool, "tool", (const char *const[]){ "name", "version" }, 2);
	cr_expect_str_eq(str_at(tool, "name"), "pycstrip");
	cr_expect_str_eq(str_at(tool, "version"), PS_VERSION);
	cr_expect_str_eq(str_at(s, "mode"), "strip");
	cr_expect(json_is_true(json_object_get(s, "ok")));
	expect_keys(json_object_get(s, "totals"), "totals", total_keys, 5);
	cr_assert(json_is_array(json_object_get(s, "targets")));
	cr_expect_eq(json_array_size(json_object_get(s, "targets")), 1);
	json_decref(s);
	release_all(r, 1);
}

Test(summary, mode_names)
{
	static const struct { enum ps_mode m; const char *name; } modes[] = {
		{ PS_MODE_STRIP, "strip" },
		{ PS_MODE_DRY_RUN, "dry-run" },
		{ PS_MODE_CHECK, "check" },
	};
	size_t i;

	for (i = 0; i < 3; i++) {
		struct ps_options o = options(modes[i].m);
		json_t *s = ps_summary_build(&o, NULL, 0);

		cr_assert_not_null(s);
		cr_expect_str_eq(str_at(s, "mode"), modes[i].name);
		json_decref(s);
	}
}

Test(summary, tree_target_fields)
{
	struct ps_options o = options(PS_MODE_STRIP);
	struct ps_result r[1];
	json_t *s, *t;
	const char *removed[] = { "pkg/__pycache__/a.cpython-311.pyc",
	    "pkg/lone.pyc" };
	const char *sourceless[] = { "pkg/lone.pyc" };

	tree_result(&r[0], &o, "src/");
	s = ps_summary_build(&o, r, 1);
	cr_assert_not_null(s);
	t = json_array_get(json_object_get(s, "targets"), 0);
	expect_keys(t, "target", target_keys, 16);
	cr_expect_str_eq(str_at(t, "path"), "src/", "the path as given");
	cr_expect_str_eq(str_at(t, "kind"), "tree");
	cr_expect(json_is_null(json_object_get(t, "format")));
	cr_expect(json_is_null(json_object_get(t, "compression")));
	cr_expect_str_eq(str_at(t, "status"), "ok");
	cr_expect(json_is_null(json_object_get(t, "error")));
	cr_expect_eq(int_at(t, "removed_files"), 2);
	cr_expect_eq(int_at(t, "removed_dirs"), 1);
	cr_expect_eq(int_at(t, "removed_bytes"), 120);
	expect_strings(json_object_get(t, "removed"), "removed", removed, 2);
	expect_strings(json_object_get(t, "sourceless"), "sourceless",
	    sourceless, 1);
	expect_strings(json_object_get(t, "signatures_removed"),
	    "signatures_removed", NULL, 0);
	cr_expect(json_is_null(json_object_get(t, "bytes_before")));
	cr_expect(json_is_null(json_object_get(t, "bytes_after")));
	cr_expect(json_is_null(json_object_get(t, "record_updated")));
	cr_assert(json_is_array(json_object_get(t, "failures")));
	cr_expect_eq(json_array_size(json_object_get(t, "failures")), 0);
	json_decref(s);
	release_all(r, 1);
}

Test(summary, archive_target_fields)
{
	struct ps_options o = options(PS_MODE_STRIP);
	struct ps_result r[1];
	json_t *s, *t;
	const char *removed[] = { "pkg/__pycache__/m.cpython-312.pyc" };
	const char *sigs[] = { "pkg-1.0.dist-info/RECORD.jws" };

	wheel_result(&r[0], &o, "dist/pkg-1.0-py3-none-any.whl");
	s = ps_summary_build(&o, r, 1);
	cr_assert_not_null(s);
	t = json_array_get(json_object_get(s, "targets"), 0);
	expect_keys(t, "target", target_keys, 16);
	cr_expect_str_eq(str_at(t, "kind"), "archive");
	cr_expect_str_eq(str_at(t, "format"), "zip");
	cr_expect_str_eq(str_at(t, "compression"), "none");
	cr_expect_eq(int_at(t, "removed_files"), 1);
	cr_expect_eq(int_at(t, "removed_dirs"), 1,
	    "the __pycache__ prefix counts as a directory");
	cr_expect_eq(int_at(t, "removed_bytes"), 300);
	expect_strings(json_object_get(t, "removed"), "removed", removed, 1);
	expect_strings(json_object_get(t, "signatures_removed"),
	    "signatures_removed", sigs, 1);
	cr_expect_eq(int_at(t, "bytes_before"), 81920);
	cr_expect_eq(int_at(t, "bytes_after"), 77824);
	cr_expect(json_is_true(json_object_get(t, "record_updated")));
	json_decref(s);
	release_all(r, 1);
}

Test(summary, record_updated_false_and_null)
{
	struct ps_options o = options(PS_MODE_STRIP);
	struct ps_result r[2];
	json_t *s, *targets;

	wheel_result(&r[0], &o, "a.whl");
	r[0].record_updated = 0;
	wheel_result(&r[1], &o, "b.zip");
	r[1].record_updated = -1;
	s = ps_summary_build(&o, r, 2);
	cr_assert_not_null(s);
	targets = json_object_get(s, "targets");
	cr_expect(json_is_false(json_object_get(json_array_get(targets, 0),
	    "record_updated")));
	cr_expect(json_is_null(json_object_get(json_array_get(targets, 1),
	    "record_updated")));
	json_decref(s);
	release_all(r, 2);
}

Test(summary, totals_are_sums_and_order_is_kept)
{
	struct ps_options o = options(PS_MODE_DRY_RUN);
	struct ps_result r[3];
	json_t *s, *totals, *targets;

	tree_result(&r[0], &o, "one");
	wheel_result(&r[1], &o, "two.whl");
	tree_result(&r[2], &o, "three");
	s = ps_summary_build(&o, r, 3);
	cr_assert_not_null(s);
	totals = json_object_get(s, "totals");
	cr_expect_eq(int_at(totals, "targets"), 3);
	cr_expect_eq(int_at(totals, "removed_files"), 2 + 1 + 2);
	cr_expect_eq(int_at(totals, "removed_dirs"), 1 + 1 + 1);
	cr_expect_eq(int_at(totals, "removed_bytes"), 120 + 300 + 120);
	cr_expect_eq(int_at(totals, "errors"), 0);
	cr_expect(json_is_true(json_object_get(s, "ok")));
	targets = json_object_get(s, "targets");
	cr_expect_str_eq(str_at(json_array_get(targets, 0), "path"), "one");
	cr_expect_str_eq(str_at(json_array_get(targets, 1), "path"), "two.whl");
	cr_expect_str_eq(str_at(json_array_get(targets, 2), "path"), "three");
	json_decref(s);
	release_all(r, 3);
}

Test(summary, failed_targets_make_ok_false_and_count_as_errors)
{
	struct ps_options o = options(PS_MODE_STRIP);
	struct ps_result r[3];
	json_t *s, *t;

	failed_result(&r[0], "bad.tar.gz", "gzip: crc mismatch");
	tree_result(&r[1], &o, "good");
	failed_result(&r[2], "worse.zip", "zip: entries overlap");
	s = ps_summary_build(&o, r, 3);
	cr_assert_not_null(s);
	cr_expect(json_is_false(json_object_get(s, "ok")));
	cr_expect_eq(int_at(json_object_get(s, "totals"), "errors"), 2);
	cr_expect_eq(int_at(json_object_get(s, "totals"), "targets"), 3);
	t = json_array_get(json_object_get(s, "targets"), 0);
	expect_keys(t, "failed target", target_keys, 16);
	cr_expect_str_eq(str_at(t, "status"), "error");
	cr_expect_str_eq(str_at(t, "error"), "gzip: crc mismatch");
	cr_expect_eq(int_at(t, "removed_files"), 0);
	t = json_array_get(json_object_get(s, "targets"), 1);
	cr_expect_str_eq(str_at(t, "status"), "ok");
	cr_expect(json_is_null(json_object_get(t, "error")));
	json_decref(s);
	release_all(r, 3);
}

Test(summary, target_of_unknown_kind_still_fits_the_schema)
{
	struct ps_options o = options(PS_MODE_STRIP);
	struct ps_result r[1];
	struct ps_error err = {0};
	json_t *s, *t;
	const char *kind;

	ps_result_init(&r[0], "missing");
	ps_error_sys(&err, 2, "cannot open");
	ps_result_fail(&r[0], &err);
	s = ps_summary_build(&o, r, 1);
	cr_assert_not_null(s);
	t = json_array_get(json_object_get(s, "targets"), 0);
	kind = str_at(t, "kind");
	cr_expect(strcmp(kind, "tree") == 0 || strcmp(kind, "archive") == 0,
	    "kind is \"%s\"", kind);
	cr_expect_str_eq(str_at(t, "status"), "error");
	cr_expect(strstr(str_at(t, "error"), "cannot open") != NULL);
	json_decref(s);
	release_all(r, 1);
}

Test(summary, unremovable_entries_are_listed_as_failures)
{
	struct ps_options o = options(PS_MODE_STRIP);
	struct ps_result r[1];
	json_t *s, *t, *f, *item;

	tree_result(&r[0], &o, "tree");
	cr_assert_eq(ps_result_failure(&r[0], &o,
	    "pkg/__pycache__/stuck.pyc", "cannot remove: Operation not permitted"),
	    0);
	cr_assert_eq(ps_result_failure(&r[0], &o, "a: b/x.pyc",
	    "cannot remove: Device or resource busy"), 0);
	s = ps_summary_build(&o, r, 1);
	cr_assert_not_null(s);
	cr_expect(json_is_false(json_object_get(s, "ok")));
	cr_expect_eq(int_at(json_object_get(s, "totals"), "errors"), 1);
	t = json_array_get(json_object_get(s, "targets"), 0);
	cr_expect_str_eq(str_at(t, "status"), "error");
	cr_expect(json_is_string(json_object_get(t, "error")));
	f = json_object_get(t, "failures");
	cr_assert(json_is_array(f));
	cr_assert_eq(json_array_size(f), 2);
	item = json_array_get(f, 0);
	expect_keys(item, "failure", (const char *const[]){ "path", "error" },
	    2);
	cr_expect_str_eq(str_at(item, "path"), "pkg/__pycache__/stuck.pyc");
	cr_expect_str_eq(str_at(item, "error"),
	    "cannot remove: Operation not permitted");
	item = json_array_get(f, 1);
	cr_expect_str_eq(str_at(item, "path"), "a: b/x.pyc",
	    "a name holding \": \" survives");
	cr_expect_str_eq(str_at(item, "error"),
	    "cannot remove: Device or resource busy");
	cr_expect_eq(int_at(t, "removed_files"), 2,
	    "what was removed still counts");
	json_decref(s);
	release_all(r, 1);
}

Test(summary, invalid_utf8_names_are_escaped)
{
	struct ps_options o = options(PS_MODE_STRIP);
	struct ps_result r[1];
	json_t *s, *t;
	const char *removed[] = { "caf\\xe9/__pycache__/a.pyc",
	    "ok\xc3\xa9.pyc" };

	ps_result_init(&r[0], "tree\xff");
	r[0].kind = PS_KIND_TREE;
	cr_assert_eq(ps_result_removed_file(&r[0], &o,
	    "caf\xe9/__pycache__/a.pyc", 1), 0);
	cr_assert_eq(ps_result_removed_file(&r[0], &o, "ok\xc3\xa9.pyc", 1), 0);
	s = ps_summary_build(&o, r, 1);
	cr_assert_not_null(s);
	t = json_array_get(json_object_get(s, "targets"), 0);
	cr_expect_str_eq(str_at(t, "path"), "tree\\xff");
	expect_strings(json_object_get(t, "removed"), "removed", removed, 2);
	json_decref(s);
	release_all(r, 1);
}

/* Streams the summary of r to a temporary file; returns its name (static). */
static const char *
write_tmp(const struct ps_options *o, const struct ps_result *r, size_t n)
{
	static char name[] = "/tmp/ps-summary.XXXXXX";
	struct ps_error err = {0};
	FILE *f;
	int fd;

	strcpy(name, "/tmp/ps-summary.XXXXXX");
	fd = mkstemp(name);
	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	cr_assert_not_null(f);
	cr_assert_eq(ps_summary_stream(o, r, n, f, &err), 0, "write: %s",
	    err.msg);
	cr_assert_eq(fclose(f), 0);
	return name;
}

static char *
slurp(const char *name)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = fopen(name, "r");

	cr_assert_not_null(f);
	cr_assert_geq(getdelim(&text, &len, '\0', f), 1);
	fclose(f);
	return text;
}

Test(summary, write_gives_parsable_json_and_a_final_newline)
{
	struct ps_options o = options(PS_MODE_CHECK);
	struct ps_result r[2];
	json_t *s, *back;
	json_error_t jerr;
	const char *name;
	char *text;

	tree_result(&r[0], &o, "t\xfe");
	wheel_result(&r[1], &o, "w.whl");
	s = ps_summary_build(&o, r, 2);
	cr_assert_not_null(s);
	name = write_tmp(&o, r, 2);
	text = slurp(name);
	cr_expect_eq(text[strlen(text) - 1], '\n');
	back = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	cr_assert_not_null(back, "not JSON: %s", jerr.text);
	cr_expect(json_equal(back, s));
	unlink(name);
	free(text);
	json_decref(back);
	json_decref(s);
	release_all(r, 2);
}

/*
 * The streamed text is exactly what jansson prints for the same document
 * (JSON_INDENT(2) | JSON_PRESERVE_ORDER): names with every character JSON
 * must escape, empty and full lists, nested failures, nulls.
 */
Test(summary, stream_prints_as_jansson_does)
{
	struct ps_options o = options(PS_MODE_STRIP);
	struct ps_result r[4];
	struct ps_error err = {0};
	json_t *back;
	json_error_t jerr;
	const char *name;
	char *text, *want;
	char ctl[40];
	size_t i;

	for (i = 0; i < 31; i++)
		ctl[i] = (char)(i + 1);
	memcpy(ctl + 31, "\"\\/\x7f" "\xc3\xa9\xff", 8);
	ctl[39] = '\0';
	tree_result(&r[0], &o, "t\xfe");
	cr_assert_eq(ps_result_removed_file(&r[0], &o, ctl, 1), 0);
	wheel_result(&r[1], &o, "w.whl");
	failed_result(&r[2], "bad.tar.gz", "tar: truncated \"input\"\n");
	ps_result_init(&r[3], "empty");
	r[3].kind = PS_KIND_TREE;
	cr_assert_eq(ps_strlist_pushn(&r[3].failures, "a\0b\tc", 5), 0);
	name = write_tmp(&o, r, 4);
	text = slurp(name);
	back = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	cr_assert_not_null(back, "not JSON: %s", jerr.text);
	want = json_dumps(back, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	cr_assert_not_null(want);
	cr_expect_eq(strlen(text), strlen(want) + 1);
	cr_expect_eq(strncmp(text, want, strlen(want)), 0,
	    "streamed:\n%s\njansson:\n%s", text, want);
	(void)err;
	unlink(name);
	free(text);
	free(want);
	json_decref(back);
	release_all(r, 4);
}

Test(summary, write_to_a_closed_stream_fails)
{
	struct ps_options o = options(PS_MODE_STRIP);
	struct ps_error err = {0};
	FILE *f = fopen("/dev/full", "w");

	if (f == NULL)
		cr_skip_test("no /dev/full");
	setvbuf(f, NULL, _IONBF, 0);
	cr_expect_eq(ps_summary_stream(&o, NULL, 0, f, &err), -1);
	cr_expect_neq(err.kind, PS_ERR_NONE);
	fclose(f);
}

/* The repository root: $PYCSTRIP_ROOT, else from this file's name. */
static const char *
repo_root(void)
{
	static char buf[1024];
	const char *env = getenv("PYCSTRIP_ROOT");
	const char *suffix = "tests/unit/test_summary.c";
	size_t n = strlen(__FILE__);

	if (env != NULL)
		return env;
	if (n < strlen(suffix))
		return ".";
	snprintf(buf, sizeof buf, "%.*s", (int)(n - strlen(suffix)), __FILE__);
	return buf[0] != '\0' ? buf : ".";
}

Test(summary, output_validates_against_the_shipped_schema)
{
	struct ps_options o = options(PS_MODE_STRIP);
	struct ps_result r[4];
	char schema[1100], cmd[2600];
	const char *name;
	json_t *s;
	int rc;

	snprintf(schema, sizeof schema, "%s/schema/summary.schema.json",
	    repo_root());
	if (access(schema, R_OK) != 0)
		cr_skip_test("no schema at %s", schema);
	if (system("/usr/bin/python3 -c 'import jsonschema' 2>/dev/null") != 0)
		cr_skip_test("no python3-jsonschema");
	tree_result(&r[0], &o, "tree\xff");
	wheel_result(&r[1], &o, "w.whl");
	failed_result(&r[2], "bad.tgz", "gzip: crc mismatch");
	tree_result(&r[3], &o, "stuck");
	cr_assert_eq(ps_result_failure(&r[3], &o, "x.pyc", "cannot remove"), 0);
	s = ps_summary_build(&o, r, 4);
	cr_assert_not_null(s);
	name = write_tmp(&o, r, 4);
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c '"
	    "import json, sys, jsonschema\n"
	    "s = json.load(open(sys.argv[1]))\n"
	    "jsonschema.Draft202012Validator.check_schema(s)\n"
	    "jsonschema.validate(json.load(open(sys.argv[2], encoding=\"utf-8\")), s)\n"
	    "' '%s' '%s' >&2", schema, name);
	rc = system(cmd);
	cr_expect_eq(rc, 0, "the summary does not validate (see stderr)");
	unlink(name);
	json_decref(s);
	release_all(r, 4);
}
