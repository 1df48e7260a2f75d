/*
 * fuzz_archive.h - the harness shared by fuzz_zip.c and fuzz_tar.c: the
 * input bytes become a file in a private temporary directory, and the
 * rewriter runs on it as the command would: a dry run, a dry run with
 * --verify, and a strip to an output file (-o); the last byte's two low
 * bits turn on --keep-sourceless and two excludes.  Whatever the bytes:
 *
 *   - no crash, leak or undefined behaviour (ASan/UBSan/LeakSanitizer);
 *   - a refusal leaves no output and no temporary file behind;
 *   - a successful strip writes an archive that the rewriter accepts
 *     again and in which nothing is left to remove (idempotence), and that
 *     passes --verify whenever the input did.
 *
 * Test code: the one global is the directory, made for each input and
 * removed when it has passed (a failed check leaves it, to look at).
 */
#ifndef PS_FUZZ_ARCHIVE_H
#define PS_FUZZ_ARCHIVE_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pycstrip.h"

#define CHECK(c) do { if (!(c)) { \
	fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__); \
	abort(); } } while (0)

typedef int (*rewriter)(const struct ps_options *, const char *, int,
    const struct stat *, struct ps_result *, struct ps_error *);

static char fuzz_dir[512];

/* In $PSFUZZ_TMPDIR (make fuzz: one it removes afterwards), or tmpfs. */
static void
fuzz_setup(void)
{
	const char *base = getenv("PSFUZZ_TMPDIR");

	if (base == NULL || strlen(base) > 400)
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(fuzz_dir, sizeof fuzz_dir, "%s/psfuzz-XXXXXX", base);
	CHECK(mkdtemp(fuzz_dir) != NULL);
}

/* Aborts when anything but the input file is left in the directory. */
static void
check_clean(const char *keep)
{
	DIR *d = opendir(fuzz_dir);
	struct dirent *de;

	CHECK(d != NULL);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, keep) == 0)
			continue;
		fprintf(stderr, "left behind: %s\n", de->d_name);
		abort();
	}
	closedir(d);
}

/* Removes the input file and the directory, which must hold nothing else. */
static int
fuzz_done(const char *in, const char *inname)
{
	check_clean(inname);
	CHECK(unlink(in) == 0);
	CHECK(rmdir(fuzz_dir) == 0);
	fuzz_dir[0] = '\0';
	return 0;
}

/* Options that vary with the input: --keep-sourceless and an exclude. */
static bool keep_sourceless;
static bool exclude_sub;

/*
 * Runs fn on the file at path with mode/verify/output; returns its status
 * and, through *found, what it found.
 */
static int
run_once(rewriter fn, const char *path, enum ps_mode mode, bool verify,
    const char *output, uint64_t *found)
{
	static const char *const excludes[] = { "sub", "*/__pycache__/x*" };
	struct ps_options opts = { 0 };
	struct ps_result res;
	struct ps_error err = { 0 };
	struct stat st;
	int fd, rc;

	opts.mode = mode;
	opts.verify = verify;
	opts.output = output;
	opts.level = 1;
	opts.threads = 1;
	opts.collect = true;
	opts.sizes = true;
	opts.keep_sourceless = keep_sourceless;
	if (exclude_sub) {
		opts.excludes = excludes;
		opts.n_excludes = 2;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(fstat(fd, &st) == 0);
	ps_result_init(&res, path);
	rc = fn(&opts, path, fd, &st, &res, &err);
	if (rc < 0)
		CHECK(err.msg[0] != '\0');
	if (found != NULL)
		*found = res.found;
	ps_result_release(&res);
	close(fd);
	return rc;
}

static int
fuzz_archive(const uint8_t *data, size_t size, const char *suffix,
    rewriter fn, bool (*accept)(int, off_t))
{
	char in[600], out[600], inname[32];
	uint64_t found;
	int fd, plain, verified, stripped;

	fuzz_setup();
	/* From the last byte, so that the structure at the front is free. */
	keep_sourceless = size > 0 && (data[size - 1] & 1);
	exclude_sub = size > 0 && (data[size - 1] & 2);
	snprintf(inname, sizeof inname, "in%s", suffix);
	snprintf(in, sizeof in, "%s/%s", fuzz_dir, inname);
	snprintf(out, sizeof out, "%s/out%s", fuzz_dir, suffix);
	fd = open(in, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	CHECK(fd >= 0);
	CHECK(size == 0 || write(fd, data, size) == (ssize_t)size);
	if (accept != NULL && !accept(fd, (off_t)size)) {
		close(fd);
		return fuzz_done(in, inname);
	}
	close(fd);
	plain = run_once(fn, in, PS_MODE_DRY_RUN, false, NULL, NULL);
	verified = run_once(fn, in, PS_MODE_DRY_RUN, true, NULL, NULL);
	/* --verify refuses more, never less. */
	CHECK(plain == 0 || verified < 0);
	stripped = run_once(fn, in, PS_MODE_STRIP, false, out, NULL);
	/* A strip refuses what a dry run refuses, and only that. */
	CHECK((plain == 0) == (stripped == 0));
	if (stripped < 0)
		return fuzz_done(in, inname);
	/* The output is accepted again, with nothing left to remove. */
	CHECK(run_once(fn, out, PS_MODE_DRY_RUN, false, NULL, &found) == 0);
	CHECK(found == 0);
	if (verified == 0)
		CHECK(run_once(fn, out, PS_MODE_DRY_RUN, true, NULL, NULL) == 0);
	CHECK(unlink(out) == 0);
	return fuzz_done(in, inname);
}

#endif
