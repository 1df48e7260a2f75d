#include "match.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#define PYCACHE "__pycache__"

bool
ps_match_is_pycache(const char *name, size_t len)
{
	return len == sizeof PYCACHE - 1 && memcmp(name, PYCACHE, len) == 0;
}

static bool
ends_with(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

enum ps_bytecode
ps_match_bytecode(const char *name, size_t len)
{
	size_t i;

	if (ends_with(name, len, ".pyc") || ends_with(name, len, ".pyo"))
		return PS_BC_FILE;
	/*
	 * importlib writes "X.pyc.<id>" and renames it into place; an
	 * interrupted write leaves it behind.  The tail is all digits.
	 */
	i = len;
	while (i > 0 && name[i - 1] >= '0' && name[i - 1] <= '9')
		i--;
	if (i == len)
		return PS_BC_NONE;
	if (ends_with(name, i, ".pyc.") || ends_with(name, i, ".pyo."))
		return PS_BC_TEMP;
	return PS_BC_NONE;
}

size_t
ps_match_source_len(const char *name, size_t len)
{
	/* "X.pyc" -> "X.py": only a non-empty X counts. */
	if (len > 4 && ps_match_bytecode(name, len) == PS_BC_FILE)
		return len - 1;
	return 0;
}

size_t
ps_match_pycache_prefix(const char *name, size_t len)
{
	size_t start = 0;

	while (start < len) {
		const char *slash = memchr(name + start, '/', len - start);
		size_t end = slash ? (size_t)(slash - name) : len;

		if (ps_match_is_pycache(name + start, end - start))
			return end;
		start = end + 1;
	}
	return 0;
}

const char *
ps_match_strip_dot(const char *name)
{
	while (name[0] == '.' && name[1] == '/') {
		name += 2;
		while (*name == '/')
			name++;
	}
	return name;
}

/* Matches one glob against path[0..len) with fnmatch flags. */
static bool
glob_n(const char *glob, const char *path, size_t len, int flags)
{
	char stack[512];
	char *copy = stack;
	bool hit;

	if (len >= sizeof stack) {
		copy = malloc(len + 1);
		if (copy == NULL)
			return false;
	}
	memcpy(copy, path, len);
	copy[len] = '\0';
	hit = fnmatch(glob, copy, flags) == 0;
	if (copy != stack)
		free(copy);
	return hit;
}

static bool
excluded_by(const char *glob, size_t glen, const char *path)
{
	size_t plen = strlen(path);
	size_t i;

	if (strchr(glob, '/') == NULL) {
		/* Against every component. */
		size_t start = 0;

		while (start <= plen) {
			const char *slash = strchr(path + start, '/');
			size_t end = slash ? (size_t)(slash - path) : plen;

			if (end > start &&
			    glob_n(glob, path + start, end - start, 0))
				return true;
			if (slash == NULL)
				break;
			start = end + 1;
		}
		return false;
	}
	(void)glen;
	/* Against the whole path and each directory prefix of it. */
	for (i = 1; i <= plen; i++)
		if ((i == plen || path[i] == '/') && glob_n(glob, path, i, 0))
			return true;
	return false;
}

bool
ps_match_excluded(const char *const *globs, size_t n, const char *path)
{
	size_t k;

	path = ps_match_strip_dot(path);
	for (k = 0; k < n; k++) {
		const char *g = ps_match_strip_dot(globs[k]);
		size_t glen = strlen(g);
		char stack[512];
		char *copy = NULL;
		bool hit;

		while (glen > 1 && g[glen - 1] == '/')
			glen--;
		if (glen == 0)
			continue;
		if (g[glen] != '\0') {
			/* A trailing '/' means the same directory. */
			copy = glen < sizeof stack ? stack : malloc(glen + 1);
			if (copy == NULL)
				continue;
			memcpy(copy, g, glen);
			copy[glen] = '\0';
			g = copy;
		}
		hit = excluded_by(g, glen, path);
		if (copy != NULL && copy != stack)
			free(copy);
		if (hit)
			return true;
	}
	return false;
}

bool
ps_match_member(const char *name, bool is_dir, bool is_link,
    bool *loose)
{
	size_t len = strlen(name);
	const char *base;
	size_t pre;

	*loose = false;
	while (len > 0 && name[len - 1] == '/')
		len--;
	if (len == 0)
		return false;
	/* "x/__pycache__" itself: only a directory or a link goes. */
	pre = ps_match_pycache_prefix(name, len);
	if (pre != 0 && (pre < len || is_dir || is_link))
		return true;
	if (is_dir)
		return false;
	base = name + len;
	while (base > name && base[-1] != '/')
		base--;
	switch (ps_match_bytecode(base, (size_t)(name + len - base))) {
	case PS_BC_FILE:
		*loose = true;
		return true;
	case PS_BC_TEMP:
		return true;
	default:
		return false;
	}
}
