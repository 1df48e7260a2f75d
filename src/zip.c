#include "zip.h"

/* Placeholder until the zip rewriter lands: recognises nothing. */
bool
ps_zip_detect(int fd, off_t size)
{
	(void)fd;
	(void)size;
	return false;
}

int
ps_zip_run(const struct ps_options *opts, const char *path, int fd,
    const struct stat *st, struct ps_result *res, struct ps_error *err)
{
	(void)opts; (void)path; (void)fd; (void)st; (void)res;
	return ps_error_input(err, "zip archives are not supported yet");
}
