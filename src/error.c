#include "error.h"

#include <stdio.h>
#include <string.h>

static void
vset(struct ps_error *err, enum ps_error_kind kind, int errnum,
    const char *fmt, va_list ap)
{
	int n;

	err->kind = kind;
	err->errnum = errnum;
	n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	if (n < 0)
		err->msg[0] = '\0';
}

int
ps_error_input(struct ps_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(err, PS_ERR_INPUT, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int
ps_error_sys(struct ps_error *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	vset(err, PS_ERR_SYS, errnum, fmt, ap);
	va_end(ap);
	len = strlen(err->msg);
	/* Truncation of the strerror text is harmless: the message stays valid. */
	(void)snprintf(err->msg + len, sizeof err->msg - len, ": %s",
	    strerror(errnum));
	return -1;
}

int
ps_error_nomem(struct ps_error *err)
{
	err->kind = PS_ERR_NOMEM;
	err->errnum = 0;
	(void)snprintf(err->msg, sizeof err->msg, "out of memory");
	return -1;
}

void
ps_error_clear(struct ps_error *err)
{
	err->kind = PS_ERR_NONE;
	err->errnum = 0;
	err->msg[0] = '\0';
}
