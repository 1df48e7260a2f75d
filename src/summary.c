#include "summary.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return s[0] == 0 ? 0 : 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* No overlong forms, no surrogates, nothing past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

char *
ps_summary_utf8(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	static const char hex[] = "0123456789abcdef";
	char *out = malloc(len * 4 + 1);
	size_t i = 0, o = 0;

	if (out == NULL)
		return NULL;
	while (i < len) {
		size_t n = utf8_seq(u + i, len - i);

		if (n == 0) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[u[i] >> 4];
			out[o++] = hex[u[i] & 15];
			i++;
		} else {
			memcpy(out + o, u + i, n);
			o += n;
			i += n;
		}
	}
	out[o] = '\0';
	return out;
}

static json_t *
str_or_null(const char *s)
{
	char *clean;
	json_t *j;

	if (s == NULL)
		return json_null();
	clean = ps_summary_utf8(s, strlen(s));
	if (clean == NULL)
		return NULL;
	j = json_string(clean);
	free(clean);
	return j;
}

static json_t *
str_array(const struct ps_strlist *l)
{
	json_t *a = json_array();
	size_t i;

	if (a == NULL)
		return NULL;
	for (i = 0; i < l->n; i++) {
		if (json_array_append_new(a, str_or_null(l->v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* Entries stored as "path\0message" by ps_result_failure(). */
static json_t *
failures(const struct ps_strlist *l)
{
	json_t *a = json_array();
	size_t i;

	if (a == NULL)
		return NULL;
	for (i = 0; i < l->n; i++) {
		const char *p = l->v[i];
		json_t *o = json_pack("{s:o,s:o}", "path", str_or_null(p),
		    "error", str_or_null(p + strlen(p) + 1));

		if (o == NULL || json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *
int_or_null(int64_t v)
{
	return v < 0 ? json_null() : json_integer(v);
}

static const char *
kind_name(enum ps_kind k)
{
	/* A PATH that is not a directory was to be read as an archive. */
	return k == PS_KIND_TREE ? "tree" : "archive";
}

static json_t *
target(const struct ps_result *r)
{
	return json_pack("{s:o,s:o,s:o,s:o,s:s,s:o,s:I,s:I,s:I,s:o,s:o,s:o,"
	    "s:o,s:o,s:o,s:o}",
	    "path", str_or_null(r->path),
	    "kind", str_or_null(kind_name(r->kind)),
	    "format", str_or_null(r->format),
	    "compression", str_or_null(r->compression),
	    "status", r->failed ? "error" : "ok",
	    "error", r->failed ? str_or_null(r->error ? r->error : "failed") :
	    json_null(),
	    "removed_files", (json_int_t)r->removed_files,
	    "removed_dirs", (json_int_t)r->removed_dirs,
	    "removed_bytes", (json_int_t)r->removed_bytes,
	    "removed", str_array(&r->removed),
	    "sourceless", str_array(&r->sourceless),
	    "signatures_removed", str_array(&r->signatures_removed),
	    "failures", failures(&r->failures),
	    "bytes_before", int_or_null(r->bytes_before),
	    "bytes_after", int_or_null(r->bytes_after),
	    "record_updated", r->record_updated < 0 ? json_null() :
	    json_boolean(r->record_updated));
}

static const char *
mode_name(enum ps_mode m)
{
	switch (m) {
	case PS_MODE_DRY_RUN:
		return "dry-run";
	case PS_MODE_CHECK:
		return "check";
	default:
		return "strip";
	}
}

json_t *
ps_summary_build(const struct ps_options *opts,
    const struct ps_result *results, size_t n)
{
	json_t *root, *targets;
	uint64_t files = 0, dirs = 0, bytes = 0, errors = 0;
	size_t i;

	targets = json_array();
	if (targets == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		const struct ps_result *r = &results[i];

		files += r->removed_files;
		dirs += r->removed_dirs;
		bytes += r->removed_bytes;
		errors += r->failed;
		if (json_array_append_new(targets, target(r)) < 0) {
			json_decref(targets);
			return NULL;
		}
	}
	root = json_pack("{s:i,s:{s:s,s:s},s:s,s:b,s:{s:I,s:I,s:I,s:I,s:I},"
	    "s:o}",
	    "schema_version", PS_SUMMARY_SCHEMA_VERSION,
	    "tool", "name", "pycstrip", "version", PS_VERSION,
	    "mode", mode_name(opts->mode),
	    "ok", errors == 0,
	    "totals", "targets", (json_int_t)n,
	    "removed_files", (json_int_t)files,
	    "removed_dirs", (json_int_t)dirs,
	    "removed_bytes", (json_int_t)bytes,
	    "errors", (json_int_t)errors,
	    "targets", targets);
	return root;
}

int
ps_summary_write(const json_t *summary, FILE *out, struct ps_error *err)
{
	if (json_dumpf(summary, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 ||
	    fputc('\n', out) == EOF || fflush(out) == EOF || ferror(out))
		return ps_error_sys(err, errno ? errno : EIO,
		    "cannot write the summary");
	return 0;
}
