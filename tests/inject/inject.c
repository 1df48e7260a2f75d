/*
 * inject.c - an LD_PRELOAD shim that makes the Nth call of one libc
 * function fail, as jq's tests/inject_errors.c does for stdio, so that the
 * end-to-end tests can prove that every failing system call or allocation
 * ends in a clean error: exit 3, a message, the archive untouched, no
 * temporary left.
 *
 *   PS_INJECT_FUNC=write       the function (canonical name, see funcs[])
 *   PS_INJECT_N=7              which call fails (1 = the first)
 *   PS_INJECT_ERRNO=ENOSPC     EIO (default), ENOSPC, EDQUOT, EACCES,
 *                              ENOMEM, EFBIG, EPERM, EROFS, EINTR
 *   PS_INJECT_STICKY=1         every call from the Nth on fails (a disk that
 *                              stays full), not just the Nth
 *   PS_INJECT_ACTION=fail      fail (default); kill / kill-after: SIGKILL
 *                              the process just before / just after the Nth
 *                              call runs; stop: SIGSTOP before it (the test
 *                              then signals and continues the process);
 *                              term / int: raise SIGTERM / SIGINT before it;
 *                              segv / abort: a crash there (SIGSEGV raised,
 *                              abort())
 *   PS_INJECT_COUNT=FILE       counting mode: at exit, append one line
 *                              "NAME CALLS" per function called to FILE
 *
 * Aliases count as one function: open = open + open64, openat = openat +
 * openat64, pread = pread + pread64, pwrite = pwrite + pwrite64, mkostemp =
 * mkstemp + mkostemp (+64), mmap = mmap + mmap64.  Calls are counted only
 * once the shim's constructor has run (just before main) and until its
 * destructor runs.
 * malloc, calloc and realloc wrap glibc's __libc_* entry points rather than
 * dlsym(RTLD_NEXT): dlsym itself allocates, which would recurse.  Built
 * with -DPS_INJECT_NO_MALLOC they are left alone: a binary built with
 * AddressSanitizer must keep its own allocator (its free() would refuse
 * glibc's blocks).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

enum {
	F_OPEN, F_OPENAT, F_READ, F_PREAD, F_WRITE, F_PWRITE, F_CLOSE,
	F_FSYNC, F_FDATASYNC, F_FCHMOD, F_RENAME, F_RENAMEAT, F_LINKAT,
	F_UNLINK, F_UNLINKAT, F_FDOPENDIR, F_GETDENTS64, F_COPY_FILE_RANGE,
	F_MKOSTEMP, F_FOPEN, F_MMAP, F_MALLOC, F_CALLOC, F_REALLOC, F_COUNT
};

static const char *const funcs[F_COUNT] = {
	"open", "openat", "read", "pread", "write", "pwrite", "close",
	"fsync", "fdatasync", "fchmod", "rename", "renameat", "linkat",
	"unlink", "unlinkat", "fdopendir", "getdents64", "copy_file_range",
	"mkostemp", "fopen", "mmap", "malloc", "calloc", "realloc",
};

enum action { A_FAIL, A_KILL, A_KILL_AFTER, A_STOP, A_TERM, A_INT, A_SEGV,
    A_ABORT };

static volatile int active;
static int target = -1;
static unsigned long target_n;
static int sticky;
static int fail_errno = EIO;
static enum action action;
static const char *count_file;
static unsigned long counts[F_COUNT];

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

static const struct { const char *name; int value; } errnos[] = {
	{ "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EDQUOT", EDQUOT },
	{ "EACCES", EACCES }, { "ENOMEM", ENOMEM }, { "EFBIG", EFBIG },
	{ "EPERM", EPERM }, { "EROFS", EROFS }, { "EINTR", EINTR },
};

#define REAL(ret, name, args) \
	static ret (*real_##name) args
REAL(int, open, (const char *, int, ...));
REAL(int, open64, (const char *, int, ...));
REAL(int, openat, (int, const char *, int, ...));
REAL(int, openat64, (int, const char *, int, ...));
REAL(ssize_t, read, (int, void *, size_t));
REAL(ssize_t, pread, (int, void *, size_t, off_t));
REAL(ssize_t, pread64, (int, void *, size_t, off_t));
REAL(ssize_t, write, (int, const void *, size_t));
REAL(ssize_t, pwrite, (int, const void *, size_t, off_t));
REAL(ssize_t, pwrite64, (int, const void *, size_t, off_t));
REAL(int, close, (int));
REAL(int, fsync, (int));
REAL(int, fdatasync, (int));
REAL(int, fchmod, (int, mode_t));
REAL(int, rename, (const char *, const char *));
REAL(int, renameat, (int, const char *, int, const char *));
REAL(int, linkat, (int, const char *, int, const char *, int));
REAL(int, unlink, (const char *));
REAL(int, unlinkat, (int, const char *, int));
REAL(DIR *, fdopendir, (int));
REAL(ssize_t, getdents64, (int, void *, size_t));
REAL(ssize_t, copy_file_range, (int, off_t *, int, off_t *, size_t,
    unsigned));
REAL(int, mkstemp, (char *));
REAL(int, mkstemp64, (char *));
REAL(int, mkostemp, (char *, int));
REAL(int, mkostemp64, (char *, int));
REAL(FILE *, fopen, (const char *, const char *));
REAL(FILE *, fopen64, (const char *, const char *));
REAL(void *, mmap, (void *, size_t, int, int, int, off_t));
REAL(void *, mmap64, (void *, size_t, int, int, int, off_t));

#define RESOLVE(name) \
	(*(void **)&real_##name = dlsym(RTLD_NEXT, #name))

static void
resolve(void)
{
	RESOLVE(open); RESOLVE(open64); RESOLVE(openat); RESOLVE(openat64);
	RESOLVE(read); RESOLVE(pread); RESOLVE(pread64); RESOLVE(write);
	RESOLVE(pwrite); RESOLVE(pwrite64); RESOLVE(close); RESOLVE(fsync);
	RESOLVE(fdatasync); RESOLVE(fchmod); RESOLVE(rename);
	RESOLVE(renameat); RESOLVE(linkat); RESOLVE(unlink);
	RESOLVE(unlinkat); RESOLVE(fdopendir); RESOLVE(getdents64);
	RESOLVE(copy_file_range); RESOLVE(mkstemp); RESOLVE(mkstemp64);
	RESOLVE(mkostemp); RESOLVE(mkostemp64); RESOLVE(fopen);
	RESOLVE(fopen64); RESOLVE(mmap); RESOLVE(mmap64);
}

static void
note(const char *what, int f, unsigned long n)
{
	char buf[128];
	int len = snprintf(buf, sizeof buf, "inject: %s %s call %lu\n", what,
	    funcs[f], n);

	if (len > 0 && real_write != NULL)
		(void)real_write(2, buf, (size_t)len);
}

/*
 * Counts one call of f; returns 1 when this call must fail (errno is then
 * set), 0 when it must run.  The kill and signal actions happen here.
 */
static int
hit(int f)
{
	unsigned long n;

	if (!active)
		return 0;
	n = __atomic_add_fetch(&counts[f], 1, __ATOMIC_SEQ_CST);
	if (f != target || (sticky ? n < target_n : n != target_n))
		return 0;
	switch (action) {
	case A_FAIL:
		if (n == target_n && f != F_MALLOC && f != F_CALLOC &&
		    f != F_REALLOC)
			note("failing", f, n);
		/* An allocator fails with ENOMEM, whatever was asked:
		 * glibc asserts it (allocatestack.c). */
		errno = f == F_MALLOC || f == F_CALLOC || f == F_REALLOC ?
		    ENOMEM : fail_errno;
		return 1;
	case A_KILL:
		note("killing before", f, n);
		raise(SIGKILL);
		break;
	case A_STOP:
		note("stopping before", f, n);
		raise(SIGSTOP);
		break;
	case A_TERM:
		raise(SIGTERM);
		break;
	case A_INT:
		raise(SIGINT);
		break;
	case A_SEGV:
		raise(SIGSEGV);
		break;
	case A_ABORT:
		abort();
	case A_KILL_AFTER:
		break;
	}
	return 0;
}

/* Runs after the real call: the kill-after action. */
static void
after(int f)
{
	if (action == A_KILL_AFTER && active && f == target &&
	    counts[f] == target_n) {
		note("killing after", f, target_n);
		raise(SIGKILL);
	}
}

__attribute__((constructor)) static void
init(void)
{
	const char *s;
	size_t i;

	resolve();
	count_file = getenv("PS_INJECT_COUNT");
	if ((s = getenv("PS_INJECT_FUNC")) != NULL)
		for (i = 0; i < F_COUNT; i++)
			if (strcmp(s, funcs[i]) == 0)
				target = (int)i;
	if (s != NULL && target < 0) {
		fprintf(stderr, "inject: unknown PS_INJECT_FUNC %s\n", s);
		_exit(125);
	}
	if ((s = getenv("PS_INJECT_N")) != NULL)
		target_n = strtoul(s, NULL, 10);
	sticky = getenv("PS_INJECT_STICKY") != NULL &&
	    strcmp(getenv("PS_INJECT_STICKY"), "1") == 0;
	if ((s = getenv("PS_INJECT_ERRNO")) != NULL) {
		fail_errno = 0;
		for (i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
			if (strcmp(s, errnos[i].name) == 0)
				fail_errno = errnos[i].value;
		if (fail_errno == 0) {
			fprintf(stderr, "inject: unknown PS_INJECT_ERRNO %s\n",
			    s);
			_exit(125);
		}
	}
	if ((s = getenv("PS_INJECT_ACTION")) != NULL) {
		if (strcmp(s, "fail") == 0)
			action = A_FAIL;
		else if (strcmp(s, "kill") == 0)
			action = A_KILL;
		else if (strcmp(s, "kill-after") == 0)
			action = A_KILL_AFTER;
		else if (strcmp(s, "stop") == 0)
			action = A_STOP;
		else if (strcmp(s, "term") == 0)
			action = A_TERM;
		else if (strcmp(s, "int") == 0)
			action = A_INT;
		else if (strcmp(s, "segv") == 0)
			action = A_SEGV;
		else if (strcmp(s, "abort") == 0)
			action = A_ABORT;
		else {
			fprintf(stderr, "inject: unknown PS_INJECT_ACTION %s\n",
			    s);
			_exit(125);
		}
	}
	active = 1;
}

__attribute__((destructor)) static void
fini(void)
{
	FILE *out;
	size_t i;

	active = 0;
	if (count_file == NULL || (out = fopen(count_file, "a")) == NULL)
		return;
	for (i = 0; i < F_COUNT; i++)
		if (counts[i] > 0)
			fprintf(out, "%s %lu\n", funcs[i], counts[i]);
	fclose(out);
}

/* Wraps one call: fail, or run the real function and apply "after". */
#define CALL(f, fail, real_call) do { \
	__typeof__(real_call) r_; \
	if (hit(f)) \
		return fail; \
	r_ = real_call; \
	after(f); \
	return r_; \
} while (0)

static mode_t
mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int
open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	CALL(F_OPEN, -1, real_open(path, flags, mode));
}

int
open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	CALL(F_OPEN, -1, real_open64(path, flags, mode));
}

int
openat(int dfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	CALL(F_OPENAT, -1, real_openat(dfd, path, flags, mode));
}

int
openat64(int dfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	CALL(F_OPENAT, -1, real_openat64(dfd, path, flags, mode));
}

ssize_t
read(int fd, void *buf, size_t n)
{
	CALL(F_READ, -1, real_read(fd, buf, n));
}

ssize_t
pread(int fd, void *buf, size_t n, off_t off)
{
	CALL(F_PREAD, -1, real_pread(fd, buf, n, off));
}

ssize_t
pread64(int fd, void *buf, size_t n, off_t off)
{
	CALL(F_PREAD, -1, real_pread64(fd, buf, n, off));
}

ssize_t
write(int fd, const void *buf, size_t n)
{
	CALL(F_WRITE, -1, real_write(fd, buf, n));
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	CALL(F_PWRITE, -1, real_pwrite(fd, buf, n, off));
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	CALL(F_PWRITE, -1, real_pwrite64(fd, buf, n, off));
}

/* As Linux does, a failing close still releases the descriptor. */
int
close(int fd)
{
	int failing = hit(F_CLOSE), e = errno, r;

	r = real_close(fd);
	if (failing) {
		errno = e;
		return -1;
	}
	after(F_CLOSE);
	return r;
}

int
fsync(int fd)
{
	CALL(F_FSYNC, -1, real_fsync(fd));
}

int
fdatasync(int fd)
{
	CALL(F_FDATASYNC, -1, real_fdatasync(fd));
}

int
fchmod(int fd, mode_t mode)
{
	CALL(F_FCHMOD, -1, real_fchmod(fd, mode));
}

int
rename(const char *from, const char *to)
{
	CALL(F_RENAME, -1, real_rename(from, to));
}

int
renameat(int fd1, const char *from, int fd2, const char *to)
{
	CALL(F_RENAMEAT, -1, real_renameat(fd1, from, fd2, to));
}

int
linkat(int fd1, const char *from, int fd2, const char *to, int flags)
{
	CALL(F_LINKAT, -1, real_linkat(fd1, from, fd2, to, flags));
}

int
unlink(const char *path)
{
	CALL(F_UNLINK, -1, real_unlink(path));
}

int
unlinkat(int dfd, const char *path, int flags)
{
	CALL(F_UNLINKAT, -1, real_unlinkat(dfd, path, flags));
}

DIR *
fdopendir(int fd)
{
	CALL(F_FDOPENDIR, NULL, real_fdopendir(fd));
}

ssize_t
getdents64(int fd, void *buf, size_t n)
{
	CALL(F_GETDENTS64, -1, real_getdents64(fd, buf, n));
}

ssize_t
copy_file_range(int in, off_t *inoff, int out, off_t *outoff, size_t n,
    unsigned flags)
{
	CALL(F_COPY_FILE_RANGE, -1,
	    real_copy_file_range(in, inoff, out, outoff, n, flags));
}

int
mkstemp(char *tmpl)
{
	CALL(F_MKOSTEMP, -1, real_mkstemp(tmpl));
}

int
mkstemp64(char *tmpl)
{
	CALL(F_MKOSTEMP, -1, real_mkstemp64(tmpl));
}

int
mkostemp(char *tmpl, int flags)
{
	CALL(F_MKOSTEMP, -1, real_mkostemp(tmpl, flags));
}

int
mkostemp64(char *tmpl, int flags)
{
	CALL(F_MKOSTEMP, -1, real_mkostemp64(tmpl, flags));
}

FILE *
fopen(const char *path, const char *mode)
{
	CALL(F_FOPEN, NULL, real_fopen(path, mode));
}

FILE *
fopen64(const char *path, const char *mode)
{
	CALL(F_FOPEN, NULL, real_fopen64(path, mode));
}

/* Only the program's own maps: glibc's allocator calls __mmap. */
void *
mmap(void *addr, size_t n, int prot, int flags, int fd, off_t off)
{
	CALL(F_MMAP, MAP_FAILED, real_mmap(addr, n, prot, flags, fd, off));
}

void *
mmap64(void *addr, size_t n, int prot, int flags, int fd, off_t off)
{
	CALL(F_MMAP, MAP_FAILED, real_mmap64(addr, n, prot, flags, fd, off));
}

#ifndef PS_INJECT_NO_MALLOC
void *
malloc(size_t n)
{
	CALL(F_MALLOC, NULL, __libc_malloc(n));
}

void *
calloc(size_t k, size_t n)
{
	CALL(F_CALLOC, NULL, __libc_calloc(k, n));
}

void *
realloc(void *p, size_t n)
{
	CALL(F_REALLOC, NULL, __libc_realloc(p, n));
}
#endif
