/*
 * zip.h - the zip family (wheels, eggs, zips, zipapps): the project's own
 * container rewriter.
 *
 * Reads the end record (and zip64 end record), the central directory and
 * each kept member's local header; refuses structural damage; then writes
 * the kept members' local headers and compressed bytes as they are (no
 * recompression), a new central directory and end record.  Wheels get their
 * RECORD edited (record.h).  See APPNOTE.TXT 4.3 and PyPI's upload checks.
 */
#ifndef PS_ZIP_H
#define PS_ZIP_H

#include <stdbool.h>
#include <sys/stat.h>

#include "pycstrip.h"

/* Returns whether the file on fd (size bytes) ends with a zip end record. */
bool ps_zip_detect(int fd, off_t size);

/* As ps_archive_run(), for a file that ps_zip_detect() accepted. */
int ps_zip_run(const struct ps_options *opts, const char *path, int fd,
    const struct stat *st, struct ps_result *res, struct ps_error *err);

#endif
