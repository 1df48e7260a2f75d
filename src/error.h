/*
 * error.h - the error record every library call fills on failure.
 *
 * Library functions return 0 (or a pointer) on success and -1 (or NULL) on
 * failure after filling a caller-supplied struct ps_error.  The message is
 * relative to the target being processed ("cannot open: Permission denied",
 * "zip: central directory truncated"); the command prefixes "pycstrip: PATH: ".
 * Setters return -1 so that a failure is one statement:
 *
 *     return ps_error_sys(err, errno, "cannot open %s", name);
 *
 * A struct ps_error holds no heap memory; it may be copied and need not be
 * released.
 */
#ifndef PS_ERROR_H
#define PS_ERROR_H

#include <stdarg.h>
#include <stddef.h>

enum ps_error_kind {
	PS_ERR_NONE = 0,
	PS_ERR_INPUT,  /* bad or hostile input: the target is refused */
	PS_ERR_SYS,    /* a system call failed (errnum says why) */
	PS_ERR_NOMEM,  /* out of memory */
};

struct ps_error {
	enum ps_error_kind kind;
	int errnum;      /* errno of a PS_ERR_SYS failure, else 0 */
	char msg[1024];  /* lower case, no full stop, no target path prefix */
};

/* Records a bad-input failure; returns -1. */
int ps_error_input(struct ps_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Records a failed system call: the message is the formatted text followed
 * by ": " and strerror(errnum).  Returns -1.
 */
int ps_error_sys(struct ps_error *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records an allocation failure; returns -1. */
int ps_error_nomem(struct ps_error *err);

/*
 * The length of the valid UTF-8 sequence at s (n bytes left, n >= 1): 1 to
 * 4, or 0 for a NUL, a byte that cannot start a sequence, a cut-short
 * sequence, an overlong form, a surrogate or a code point past U+10FFFF.
 */
size_t ps_utf8_len(const unsigned char *s, size_t n);

/* Writes byte b as the four characters "\xNN" (lower-case hex) at out. */
void ps_byte_escape(char *out, unsigned char b);

/*
 * Writes a printable rendering of the len bytes at s (a member name, say)
 * into out, of size bytes (at least 16): control bytes and bytes of invalid
 * UTF-8 become "\xNN", a name too long is cut with "...".  For messages
 * only.  Returns out.
 */
const char *ps_error_shown(const char *s, size_t len, char *out,
    size_t size);

/* Clears err to "no error". */
void ps_error_clear(struct ps_error *err);

#endif
