/*
 * fuzz_tar.c - libFuzzer target for the tar family rewriter (tar.h):
 * plain and compressed tar streams through libarchive, the member rules,
 * hard links to removed members, and the re-compression.  See
 * fuzz_archive.h for what is checked.
 *
 * An input that starts with "GZ!" is the rest gzip-compressed here first,
 * so that mutations of a tar's own structure reach the gzip reading path
 * (mutated gzip bytes rarely get past the CRC).
 */
#include <zlib.h>

#include "fuzz_archive.h"
#include "tar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Returns the gzip stream of the len bytes at p (malloc'd), or NULL. */
static unsigned char *
gzip_of(const uint8_t *p, size_t len, size_t *out_len)
{
	z_stream z = { 0 };
	size_t cap = len + len / 8 + 64;
	unsigned char *out = malloc(cap);

	if (out == NULL || deflateInit2(&z, 1, Z_DEFLATED, 31, 8,
	    Z_DEFAULT_STRATEGY) != Z_OK) {
		free(out);
		return NULL;
	}
	z.next_in = (unsigned char *)(uintptr_t)p;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(out);
		return NULL;
	}
	*out_len = cap - z.avail_out;
	deflateEnd(&z);
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *gz;
	size_t gz_len;

	if (size < 3 || memcmp(data, "GZ!", 3) != 0)
		return fuzz_archive(data, size, ".tar", ps_tar_run, NULL);
	gz = gzip_of(data + 3, size - 3, &gz_len);
	if (gz == NULL)
		return 0;
	fuzz_archive(gz, gz_len, ".tar", ps_tar_run, NULL);
	free(gz);
	return 0;
}
