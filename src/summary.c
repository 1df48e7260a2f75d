#define _GNU_SOURCE
#include "summary.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

char *
ps_summary_utf8(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	char *out = malloc(len * 4 + 1);
	size_t i = 0, o = 0;

	if (out == NULL)
		return NULL;
	while (i < len) {
		size_t n = ps_utf8_len(u + i, len - i);

		if (n == 0) {
			ps_byte_escape(out + o, u[i]);
			o += 4;
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

static const char *
kind_name(enum ps_kind k)
{
	/* A PATH that is not a directory was to be read as an archive. */
	return k == PS_KIND_TREE ? "tree" : "archive";
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

/*
 * The summary is written as it is walked, never built whole: a target's
 * "removed" list can hold hundreds of thousands of paths, and a JSON tree
 * of them would cost several times the list itself.  The text is what
 * jansson's json_dumpf(JSON_INDENT(2) | JSON_PRESERVE_ORDER) gives for the
 * same document (test_summary.c checks this).
 */
struct jw {
	FILE *out;
	int depth;
	bool first;      /* nothing written yet in the open container */
	bool bad;        /* out of memory */
};

static void
jw_indent(struct jw *w)
{
	int i;

	fputc('\n', w->out);
	for (i = 0; i < w->depth * 2; i++)
		fputc(' ', w->out);
}

/* Starts a value: the comma and newline before it, and its key. */
static void
jw_item(struct jw *w, const char *key)
{
	if (w->depth > 0) {
		if (!w->first)
			fputc(',', w->out);
		jw_indent(w);
	}
	w->first = false;
	if (key != NULL)
		fprintf(w->out, "\"%s\": ", key);
}

static void
jw_open(struct jw *w, const char *key, char c)
{
	jw_item(w, key);
	fputc(c, w->out);
	w->depth++;
	w->first = true;
}

static void
jw_close(struct jw *w, char c)
{
	w->depth--;
	if (!w->first)
		jw_indent(w);
	fputc(c, w->out);
	w->first = false;
}

/* A JSON string of valid UTF-8, escaped as jansson escapes it. */
static void
jw_quoted(FILE *out, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	fputc('"', out);
	while (*u != '\0') {
		size_t n = 0;

		while (u[n] >= 0x20 && u[n] != '"' && u[n] != '\\')
			n++;
		fwrite(u, 1, n, out);
		u += n;
		switch (*u) {
		case '\0':
			continue;
		case '"':
			fputs("\\\"", out);
			break;
		case '\\':
			fputs("\\\\", out);
			break;
		case '\b':
			fputs("\\b", out);
			break;
		case '\f':
			fputs("\\f", out);
			break;
		case '\n':
			fputs("\\n", out);
			break;
		case '\r':
			fputs("\\r", out);
			break;
		case '\t':
			fputs("\\t", out);
			break;
		default:
			fprintf(out, "\\u%04X", *u);
		}
		u++;
	}
	fputc('"', out);
}

/* A string value, or null; names that are not UTF-8 get their \xNN. */
static void
jw_str(struct jw *w, const char *key, const char *s)
{
	char *clean;

	jw_item(w, key);
	if (s == NULL) {
		fputs("null", w->out);
		return;
	}
	clean = ps_summary_utf8(s, strlen(s));
	if (clean == NULL) {
		w->bad = true;
		fputs("null", w->out);
		return;
	}
	jw_quoted(w->out, clean);
	free(clean);
}

static void
jw_int(struct jw *w, const char *key, int64_t v)
{
	jw_item(w, key);
	if (v < 0)
		fputs("null", w->out);
	else
		fprintf(w->out, "%" PRId64, v);
}

static void
jw_uint(struct jw *w, const char *key, uint64_t v)
{
	jw_item(w, key);
	fprintf(w->out, "%" PRIu64, v);
}

static void
jw_bool(struct jw *w, const char *key, int v)
{
	jw_item(w, key);
	fputs(v < 0 ? "null" : v ? "true" : "false", w->out);
}

static void
jw_list(struct jw *w, const char *key, const struct ps_strlist *l)
{
	size_t i;

	jw_open(w, key, '[');
	for (i = 0; i < l->n; i++)
		jw_str(w, NULL, l->v[i]);
	jw_close(w, ']');
}

/* Entries stored as "path\0message" by ps_result_failure(). */
static void
jw_failures(struct jw *w, const struct ps_strlist *l)
{
	size_t i;

	jw_open(w, "failures", '[');
	for (i = 0; i < l->n; i++) {
		const char *p = l->v[i];

		jw_open(w, NULL, '{');
		jw_str(w, "path", p);
		jw_str(w, "error", p + strlen(p) + 1);
		jw_close(w, '}');
	}
	jw_close(w, ']');
}

static void
jw_target(struct jw *w, const struct ps_result *r)
{
	jw_open(w, NULL, '{');
	jw_str(w, "path", r->path);
	jw_str(w, "kind", kind_name(r->kind));
	jw_str(w, "format", r->format);
	jw_str(w, "compression", r->compression);
	jw_str(w, "status", r->failed ? "error" : "ok");
	jw_str(w, "error", r->failed ? (r->error ? r->error : "failed") : NULL);
	jw_uint(w, "removed_files", r->removed_files);
	jw_uint(w, "removed_dirs", r->removed_dirs);
	jw_uint(w, "removed_bytes", r->removed_bytes);
	jw_list(w, "removed", &r->removed);
	jw_list(w, "sourceless", &r->sourceless);
	jw_list(w, "signatures_removed", &r->signatures_removed);
	jw_failures(w, &r->failures);
	jw_int(w, "bytes_before", r->bytes_before);
	jw_int(w, "bytes_after", r->bytes_after);
	jw_bool(w, "record_updated", r->record_updated);
	jw_close(w, '}');
}

int
ps_summary_stream(const struct ps_options *opts,
    const struct ps_result *results, size_t n, FILE *out,
    struct ps_error *err)
{
	struct jw w = { out, 0, true, false };
	uint64_t files = 0, dirs = 0, bytes = 0, errors = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		files += results[i].removed_files;
		dirs += results[i].removed_dirs;
		bytes += results[i].removed_bytes;
		errors += results[i].failed;
	}
	errno = 0;
	jw_open(&w, NULL, '{');
	jw_int(&w, "schema_version", PS_SUMMARY_SCHEMA_VERSION);
	jw_open(&w, "tool", '{');
	jw_str(&w, "name", "pycstrip");
	jw_str(&w, "version", PS_VERSION);
	jw_close(&w, '}');
	jw_str(&w, "mode", mode_name(opts->mode));
	jw_bool(&w, "ok", errors == 0);
	jw_open(&w, "totals", '{');
	jw_uint(&w, "targets", n);
	jw_uint(&w, "removed_files", files);
	jw_uint(&w, "removed_dirs", dirs);
	jw_uint(&w, "removed_bytes", bytes);
	jw_uint(&w, "errors", errors);
	jw_close(&w, '}');
	jw_open(&w, "targets", '[');
	for (i = 0; i < n; i++)
		jw_target(&w, &results[i]);
	jw_close(&w, ']');
	jw_close(&w, '}');
	if (w.bad)
		return ps_error_nomem(err);
	if (fputc('\n', out) == EOF || fflush(out) == EOF || ferror(out))
		return ps_error_sys(err, errno ? errno : EIO,
		    "cannot write the summary");
	return 0;
}

json_t *
ps_summary_build(const struct ps_options *opts,
    const struct ps_result *results, size_t n)
{
	struct ps_error err;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	json_t *j = NULL;

	if (f == NULL)
		return NULL;
	if (ps_summary_stream(opts, results, n, f, &err) == 0 &&
	    fclose(f) == 0)
		j = json_loadb(text, len, 0, NULL);
	else
		fclose(f);
	free(text);
	return j;
}
