/*
 * fuzz_zip.c - libFuzzer target for the zip family rewriter (zip.h): the
 * end records, central directory and local header parser, the RECORD
 * editing of wheels (the file is named in.whl) and the writer.  See
 * fuzz_archive.h for what is checked.
 */
#include "fuzz_archive.h"
#include "zip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_archive(data, size, ".whl", ps_zip_run, ps_zip_detect);
}
