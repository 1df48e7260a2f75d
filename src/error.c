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

size_t
ps_utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return s[0] == 0 ? 0 : 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* No overlong forms, no surrogates, nothing past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

void
ps_byte_escape(char *out, unsigned char b)
{
	static const char hex[] = "0123456789abcdef";

	out[0] = '\\';
	out[1] = 'x';
	out[2] = hex[b >> 4];
	out[3] = hex[b & 15];
}

const char *
ps_error_shown(const char *s, size_t len, char *out, size_t size)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0;

	while (i < len && o + 8 < size) {
		/* Messages escape control bytes too (DEL included). */
		size_t n = u[i] < 0x20 || u[i] == 0x7f ? 0 :
		    ps_utf8_len(u + i, len - i);

		if (n == 0) {
			ps_byte_escape(out + o, u[i]);
			o += 4;
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
