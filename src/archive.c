#define _GNU_SOURCE
#include "archive.h"

#include <errno.h>
#include <unistd.h>

#include "atomic.h"
#include "tar.h"
#include "zip.h"

int
ps_archive_run(const struct ps_options *opts, const char *path, int fd,
    const struct stat *st, struct ps_result *res, struct ps_error *err)
{
	res->kind = PS_KIND_ARCHIVE;
	res->bytes_before = st->st_size;
	if (opts->mode == PS_MODE_STRIP && opts->output == NULL)
		ps_atomic_remove_stale(path);
	switch (ps_zip_probe(fd, st->st_size, err)) {
	case -1:
		return -1;
	case 1:
		return ps_zip_run(opts, path, fd, st, res, err);
	default:
		return ps_tar_run(opts, path, fd, st, res, err);
	}
}

int
ps_archive_copy(int fd, off_t size, const char *output,
    const struct stat *like, struct ps_error *err)
{
	struct ps_atomic a;

	if (ps_atomic_begin(&a, output, like, err) < 0)
		return -1;
	if (ps_atomic_copy(&a, fd, size, err) < 0) {
		ps_atomic_abort(&a);
		return -1;
	}
	return ps_atomic_commit(&a, err);
}
