/*
 * archive.h - archive mode: recognise an archive by its content and hand it
 * to the rewriter of its family (zip.h or tar.h).
 *
 * Rules shared by every family (SPEC "Archive mode"):
 *   - dry-run and check only read;
 *   - in place, when nothing matches, the file is not opened for writing;
 *   - with opts->output, the output is always written (a copy when nothing
 *     matches) and the input is never modified;
 *   - writing goes through atomic.h: the original (or the output path) is
 *     replaced whole or not at all.
 */
#ifndef PS_ARCHIVE_H
#define PS_ARCHIVE_H

#include <sys/stat.h>

#include "pycstrip.h"

/*
 * Processes the regular file at path, open read-only on fd with stat st.
 * Fills res (format, compression, counts, bytes_before/after...).  Returns 0,
 * or -1 with err set when the archive is refused or cannot be written (the
 * file is then untouched).
 */
int ps_archive_run(const struct ps_options *opts, const char *path, int fd,
    const struct stat *st, struct ps_result *res, struct ps_error *err);

/*
 * Copies the whole of the file open on fd (size bytes) to the output path
 * through atomic.h: used for -o when nothing matches.  like gives the mode.
 */
int ps_archive_copy(int fd, off_t size, const char *output,
    const struct stat *like, struct ps_error *err);

#endif
