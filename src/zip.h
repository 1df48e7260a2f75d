/*
 * zip.h - the zip family (wheels, eggs, zips, zipapps): the project's own
 * container rewriter.
 *
 * Reads the end record (and zip64 end record), the central directory and
 * each kept member's local header; refuses structural damage; then writes
 * the kept members' local headers and compressed bytes as they are (no
 * recompression), a new central directory and end record.  Wheels get their
 * RECORD edited (record.h).  See APPNOTE.TXT 4.3 and PyPI's upload checks
 * (warehouse/utils/zipfiles.py, wheel.py), whose rules the output follows:
 * no data descriptors, no duplicate names, local headers that agree with
 * the central directory, RECORD listing exactly the files.
 *
 * Member names are only compared, never used as paths.
 */
#ifndef PS_ZIP_H
#define PS_ZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "pycstrip.h"

/*
 * Tells whether the file on fd (size bytes) is of the zip family: it
 * starts with a local header, or has an end record in its last 64 KiB +
 * 22 bytes.  An end record that does not end the file exactly still counts
 * (ps_zip_run() then refuses the file), unless the file starts like a tar
 * or a compressed stream, which may hold a zip.  Returns 1 or 0, or -1
 * with err set when the file cannot be read (or memory runs out).
 */
int ps_zip_probe(int fd, off_t size, struct ps_error *err);

/* As ps_zip_probe(), true for 1 and for -1 (ps_zip_run() then fails). */
bool ps_zip_detect(int fd, off_t size);

/*
 * As ps_archive_run(), for a file that ps_zip_detect() accepted.  Sets
 * res->format "zip", bytes_after (what the output is or would be),
 * record_updated (1 RECORD rewritten or to be, 0 a wheel left as it was,
 * -1 not a wheel) and signatures_removed.
 *
 * A wheel is a zip with a top-level "<name>.dist-info/RECORD": for a file
 * named *.whl (the input, or the -o output) it must list exactly the
 * archive's files or the file is refused; for any other name a RECORD that
 * does not match just means the zip is not a wheel (a zipapp holding
 * vendored packages).  On a big wheel the RECORD work runs in a second
 * thread while the kept members are copied.
 */
int ps_zip_run(const struct ps_options *opts, const char *path, int fd,
    const struct stat *st, struct ps_result *res, struct ps_error *err);

/*
 * The parser on its own, for tests.  ps_zip_open() reads the end records
 * and the central directory of the file on fd (size bytes) and checks
 * them: one end record ending the file, zip64 records that agree, every
 * central header whole, no duplicate names, no two entries at one offset.
 * Returns 0 with *zp set (free with ps_zip_free(), which takes NULL), or -1
 * with err set.  ps_zip_check_entry() reads entry i's local header (and
 * data descriptor) and checks them against the central directory and the
 * space up to the next entry.
 */
struct ps_zip;
int ps_zip_open(struct ps_zip **zp, int fd, uint64_t size,
    struct ps_error *err);
void ps_zip_free(struct ps_zip *z);
size_t ps_zip_count(const struct ps_zip *z);
/* Entry i's name (*len bytes, no NUL), in central directory order. */
const char *ps_zip_name(const struct ps_zip *z, size_t i, size_t *len);
/* Bytes before the first local header (a zipapp's shebang line). */
uint64_t ps_zip_prefix(const struct ps_zip *z);
int ps_zip_check_entry(struct ps_zip *z, size_t i, struct ps_error *err);

#endif
