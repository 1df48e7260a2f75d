/*
 * fuzz_match.c - libFuzzer target for the name and exclude rules (match.h).
 *
 * Input: lines separated by '\n'; the last line is a path (or member
 * name), the ones before it up to eight exclude globs.  Every function of
 * match.h runs on the path and on each of its components, and the results
 * are checked against what the header promises.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "match.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void
check_name(const char *name, size_t len)
{
	enum ps_bytecode bc = ps_match_bytecode(name, len);
	size_t src = ps_match_source_len(name, len);

	CHECK(bc == PS_BC_NONE || bc == PS_BC_FILE || bc == PS_BC_TEMP);
	CHECK(src == 0 || (bc == PS_BC_FILE && src == len - 1 && src > 3));
	if (ps_match_is_pycache(name, len))
		CHECK(len == 11 && bc == PS_BC_NONE);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1);
	const char *globs[8];
	size_t n = 0, i, len, pre;
	char *path, *nl, *p;
	const char *s;
	bool loose, dir;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	path = buf;
	while ((nl = strchr(path, '\n')) != NULL && n < 8) {
		*nl = '\0';
		globs[n++] = path;
		path = nl + 1;
	}
	len = strlen(path);
	check_name(path, len);
	for (p = path; ; ) {
		char *slash = strchr(p, '/');
		size_t clen = slash ? (size_t)(slash - p) : strlen(p);

		check_name(p, clen);
		if (slash == NULL)
			break;
		p = slash + 1;
	}
	pre = ps_match_pycache_prefix(path, len);
	CHECK(pre <= len);
	if (pre > 0) {
		CHECK(pre >= 11 && memcmp(path + pre - 11, "__pycache__", 11) == 0);
		CHECK(pre == len || path[pre] == '/');
		CHECK(pre == 11 || path[pre - 12] == '/');
	}
	s = ps_match_strip_dot(path);
	CHECK(s >= path && s <= path + len);
	CHECK(s[0] != '.' || s[1] != '/');
	for (i = 0; i < 3; i++) {
		size_t sl = strlen(s), sp;

		/* a file, a directory, a symbolic link */
		dir = i == 1;
		loose = false;
		while (sl > 0 && s[sl - 1] == '/')
			sl--;
		sp = ps_match_pycache_prefix(s, sl);
		if (ps_match_member(s, dir, i == 2, &loose)) {
			if (loose)
				CHECK(sp == 0);
		} else {
			CHECK(!loose);
			/* Only a plain file named __pycache__ itself stays. */
			CHECK(sp == 0 || (i == 0 && sp == sl));
		}
	}
	(void)ps_match_excluded(globs, n, path);
	(void)ps_match_excluded(globs, n, s);
	/* A plain path excludes itself. */
	if (len > 0 && len < 200 && strspn(path, "abcdefghijklmnopqrstuvwxyz_")
	    == len) {
		const char *self[1] = { path };

		CHECK(ps_match_excluded(self, 1, path));
	}
	free(buf);
	return 0;
}
