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
	off_t off = 0;

	if (ps_atomic_begin(&a, output, like, err) < 0)
		return -1;
	while (off < size) {
		ssize_t n = copy_file_range(fd, &off, a.fd, NULL,
		    (size_t)(size - off), 0);

		if (n < 0 && (errno == EXDEV || errno == ENOSYS ||
		    errno == EINVAL || errno == EOPNOTSUPP ||
		    errno == EBADF)) {
			char buf[1 << 16];
			ssize_t r = pread(fd, buf, sizeof buf, off);

			if (r > 0 && write(a.fd, buf, (size_t)r) != r)
				r = -1;
			n = r;
			if (n > 0)
				off += n;
		}
		if (n < 0) {
			ps_error_sys(err, errno, "cannot copy to %s",
			    ps_atomic_is_stdout(output) ? "standard output" :
			    output);
			ps_atomic_abort(&a);
			return -1;
		}
		if (n == 0) {
			ps_error_input(err, "file shrank while being read");
			ps_atomic_abort(&a);
			return -1;
		}
	}
	return ps_atomic_commit(&a, err);
}
