/*
 * codec.h - the compressed byte streams around a tar archive: gzip, bzip2,
 * xz and zstd, read and written in threads of their own.
 *
 * A reader decompresses a whole file, from its first byte to its last, in a
 * thread that runs ahead of the caller by a few fixed-size chunks; it reports
 * the end of the stream only after every check of the format passed (gzip
 * CRC-32 and length of every member, bzip2 block and stream CRCs, xz and zstd
 * checks), and refuses bytes after the compressed data other than zeros.
 *
 * A writer compresses what it is given and writes it to a file descriptor.
 * Its output depends only on the bytes, the codec and the level, never on
 * the number of threads or the machine, so that stripping the same input
 * twice gives the same bytes:
 *   - gzip: one member with no name and a zero timestamp (as `gzip -n`),
 *     compressed the way pigz does it: 128 KiB blocks, each primed with the
 *     32 KiB before it and ended with a sync flush, spread over threads;
 *   - xz: liblzma's multi-threaded encoder even with one thread (its blocks
 *     do not depend on the thread count), CRC-64 check;
 *   - zstd: 4 MiB blocks, each compressed into a frame of its own (content
 *     size and checksum) by a pool of threads and written in order; each
 *     thread has a static context allocated up front, and libzstd's own
 *     worker pool is not used (libzstd 1.5.4 crashes or ends a frame early
 *     when its own allocations fail);
 *   - bzip2: one stream, in one thread.
 *
 * Neither holds memory beyond a few chunks plus the compressors' own state
 * (zstd: threads + 2 blocks of 4 MiB in and out, and one context a thread).
 */
#ifndef PS_CODEC_H
#define PS_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

enum ps_codec {
	PS_CODEC_NONE = 0,
	PS_CODEC_GZIP,
	PS_CODEC_BZIP2,
	PS_CODEC_XZ,
	PS_CODEC_ZSTD,
};

/* Recognises a compressed stream by its first len bytes (magic numbers). */
enum ps_codec ps_codec_detect(const void *buf, size_t len);

/* Returns "none", "gzip", "bzip2", "xz" or "zstd" (static). */
const char *ps_codec_name(enum ps_codec c);

/*
 * Returns the level to use: level itself when it is in the codec's range,
 * the codec's usual default (gzip 6, bzip2 9, xz 6, zstd 3) when level is
 * negative; -1 with err set when level is out of range.
 */
int ps_codec_level(enum ps_codec c, int level, struct ps_error *err);

/* Returns threads, or the number of online processors when it is <= 0. */
int ps_codec_threads(int threads);

struct ps_codec_reader;

/*
 * Starts decompressing the file open on fd (read with pread from offset 0
 * to its end; fd is borrowed and must stay open until the reader is freed).
 * Returns the reader, or NULL with err set.
 */
struct ps_codec_reader *ps_codec_reader_new(enum ps_codec c, int fd,
    struct ps_error *err);

/*
 * Points *buf at the next decompressed bytes and returns how many there are
 * (at least one); they stay valid until the next call.  Returns 0 at the end
 * of the stream, or -1 with err set ("gzip: unexpected end of file", ...).
 */
ssize_t ps_codec_read(struct ps_codec_reader *r, const void **buf,
    struct ps_error *err);

/* Stops the reader's thread and frees it; takes NULL. */
void ps_codec_reader_free(struct ps_codec_reader *r);

struct ps_codec_writer;

/*
 * Starts a compressed stream written to fd (borrowed), at the given level
 * (already resolved by ps_codec_level()) with up to threads compressing
 * threads (at least one).  c must not be PS_CODEC_NONE.  Returns the
 * writer, or NULL with err set.
 */
struct ps_codec_writer *ps_codec_writer_new(enum ps_codec c, int level,
    int threads, int fd, struct ps_error *err);

/* Compresses len bytes.  Returns 0, or -1 with err set. */
int ps_codec_write(struct ps_codec_writer *w, const void *buf, size_t len,
    struct ps_error *err);

/*
 * Ends the stream and waits until all of it is written; *written gets the
 * number of compressed bytes written to fd.  Returns 0, or -1 with err set.
 */
int ps_codec_writer_finish(struct ps_codec_writer *w, uint64_t *written,
    struct ps_error *err);

/* Stops the writer's threads and frees it (unfinished output is left as
 * it is: the caller discards the file); takes NULL. */
void ps_codec_writer_free(struct ps_codec_writer *w);

#endif
