/*
 * fuzz_tar.c - libFuzzer target for the tar family rewriter (tar.h):
 * plain and compressed tar streams through libarchive, the member rules,
 * hard links to removed members, and the re-compression.  See
 * fuzz_archive.h for what is checked.
 */
#include "fuzz_archive.h"
#include "tar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_archive(data, size, ".tar", ps_tar_run, NULL);
}
