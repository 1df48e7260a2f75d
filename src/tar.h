/*
 * tar.h - the tar family (ustar, pax, GNU; plain or gzip, bzip2, xz, zstd):
 * headers read by libarchive (or, for the common shapes of a plain tar,
 * directly), member bytes copied as they are.
 */
#ifndef PS_TAR_H
#define PS_TAR_H

#include <stdint.h>
#include <sys/stat.h>

#include "pycstrip.h"

/*
 * As ps_archive_run(), for any file that is not a zip.  A file that is not
 * a tar archive is refused with an error ("not a zip or tar archive").
 */
int ps_tar_run(const struct ps_options *opts, const char *path, int fd,
    const struct stat *st, struct ps_result *res, struct ps_error *err);

/*
 * Whether pycstrip reads the headers of the plain tar on fd (size bytes)
 * itself rather than through libarchive (for tests: the two readers must
 * agree).  Returns 1 and appends each member's name to names, 0 when the
 * archive is left to libarchive, -1 with err set (a read error, out of
 * memory).
 */
struct ps_strlist;
int ps_tar_direct_names(int fd, int64_t size, struct ps_strlist *names,
    struct ps_error *err);

#endif
