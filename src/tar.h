/*
 * tar.h - the tar family (ustar, pax, GNU; plain or gzip, bzip2, xz, zstd)
 * through libarchive.
 */
#ifndef PS_TAR_H
#define PS_TAR_H

#include <sys/stat.h>

#include "pycstrip.h"

/*
 * As ps_archive_run(), for any file that is not a zip.  A file that is not
 * a tar archive is refused with an error ("not a zip or tar archive").
 */
int ps_tar_run(const struct ps_options *opts, const char *path, int fd,
    const struct stat *st, struct ps_result *res, struct ps_error *err);

#endif
