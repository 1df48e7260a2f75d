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

const char *
ps_error_shown(const char *s, size_t len, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0;

	while (i < len && o + 8 < size) {
		size_t n = 1;

		if (u[i] >= 0xc2 && u[i] <= 0xf4) {
			size_t need = u[i] >= 0xf0 ? 4 : u[i] >= 0xe0 ? 3 : 2;
			size_t k;

			for (k = 1; k < need && i + k < len &&
			    (u[i + k] & 0xc0) == 0x80; k++)
				;
			n = k == need ? need : 0;
		} else if (u[i] < 0x20 || u[i] >= 0x7f) {
			n = 0;
		}
		if (n == 0) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[u[i] >> 4];
			out[o++] = hex[u[i] & 15];
			i++;
		} else {
			memcpy(out + o, u + i, n);
			o += n;
			i += n;
		}
	}
	if (i < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}
