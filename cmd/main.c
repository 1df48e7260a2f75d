/*
 * pycstrip - remove Python bytecode from source trees and release
 * artifacts.  This file parses the command line, runs the library over the
 * targets (up to --jobs at once), prints, writes the summary and picks the
 * exit status (SPEC "Exit status").
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <locale.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "atomic.h"
#include "bigmem.h"
#include "pycstrip.h"
#include "report.h"
#include "summary.h"

enum { EXIT_FOUND = 1, EXIT_USAGE = 2, EXIT_FAILED = 3 };
enum { OPT_CHECK = 256, OPT_JSON, OPT_KEEP_SOURCELESS, OPT_VERIFY,
    OPT_LEVEL, OPT_THREADS, OPT_VERSION };

struct cli {
	struct ps_options opts;
	const char *json;
	FILE *json_out;         /* opened before any target is touched */
	int jobs;
	int verbosity;          /* 0 quiet, 1 normal, 2 verbose */
	char **paths;
	size_t n_paths;
	struct ps_result *results;
	size_t next;            /* next target to take, under lock */
	pthread_mutex_t lock;   /* guards next and standard error */
};

static const char usage_text[] =
"usage: pycstrip [OPTIONS] PATH...\n"
"       pycstrip report [--format markdown|github|dotenv|codequality]\n"
"                       [--github-output FILE] SUMMARY.json\n"
"\n"
"Remove Python bytecode (__pycache__ directories, *.pyc, *.pyo) from\n"
"directories (in place) and from wheels, zips, sdists and tar archives.\n"
"\n"
"  -n, --dry-run          report what would be removed; change nothing\n"
"      --check            like --dry-run, but exit 1 when anything is found\n"
"  -o, --output FILE      archive mode, one PATH: write the result to FILE\n"
"                         ('-' = stdout)\n"
"      --json FILE        write the JSON summary to FILE ('-' = stdout)\n"
"  -x, --exclude GLOB     leave matching paths alone (repeatable)\n"
"      --keep-sourceless  keep X.pyc/X.pyo outside __pycache__ with no X.py\n"
"      --verify           archives: check every kept entry's CRC-32, size\n"
"                         and (wheels) RECORD hash\n"
"  -j, --jobs N           process up to N targets at once (default 1)\n"
"      --level N          compression level for re-compressed tar archives\n"
"      --threads N        threads for one target: tree walkers (default one\n"
"                         per core, at most 4) and gzip/xz/zstd compressors\n"
"                         (default one per core)\n"
"  -q, --quiet            print only errors\n"
"  -v, --verbose          list every removed path\n"
"      --version          print the version\n"
"  -h, --help             print this help\n"
"\n"
"Exit status: 0 done (--check: nothing found); 1 --check found bytecode;\n"
"2 usage error; 3 at least one target failed (failed archives untouched).\n";

static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("pycstrip: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'pycstrip --help' for more information.\n", stderr);
	return EXIT_USAGE;
}

static int
parse_int(const char *s, long lo, long hi, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

/* Prints library events; called from worker threads. */
static void
on_event(void *ctx, const struct ps_event *ev)
{
	struct cli *c = ctx;
	const char *verb;

	if (ev->kind == PS_EV_REMOVED && c->verbosity < 2)
		return;
	if (ev->kind == PS_EV_WARNING && c->verbosity < 1)
		return;
	pthread_mutex_lock(&c->lock);
	if (ev->kind == PS_EV_REMOVED) {
		verb = c->opts.mode == PS_MODE_STRIP ? "removed" :
		    "would remove";
		size_t tlen = strlen(ev->target);

		fprintf(stderr, "%s %s%s%s\n", verb, ev->target,
		    ev->in_archive ? ": " : tlen > 0 &&
		    ev->target[tlen - 1] == '/' ? "" : "/", ev->name);
	} else {
		fprintf(stderr, "pycstrip: warning: %s%s%s: %s\n", ev->target,
		    ev->name ? ": " : "", ev->name ? ev->name : "",
		    ev->message);
	}
	pthread_mutex_unlock(&c->lock);
}

static void
print_result(struct cli *c, const struct ps_result *r)
{
	const char *verb = c->opts.mode == PS_MODE_STRIP ? "removed" :
	    "would remove";

	pthread_mutex_lock(&c->lock);
	if (r->failed) {
		fprintf(stderr, "pycstrip: %s: %s\n", r->path,
		    r->error ? r->error : "failed");
	} else if (c->verbosity >= 1) {
		fprintf(stderr, "pycstrip: %s: %s %llu file%s, %llu "
		    "director%s, %llu bytes%s\n", r->path, verb,
		    (unsigned long long)r->removed_files,
		    r->removed_files == 1 ? "" : "s",
		    (unsigned long long)r->removed_dirs,
		    r->removed_dirs == 1 ? "y" : "ies",
		    (unsigned long long)r->removed_bytes,
		    r->signatures_removed.n ? " (RECORD signatures dropped)" :
		    "");
	}
	pthread_mutex_unlock(&c->lock);
}

static void *
worker(void *arg)
{
	struct cli *c = arg;

	for (;;) {
		size_t i;

		pthread_mutex_lock(&c->lock);
		i = c->next++;
		pthread_mutex_unlock(&c->lock);
		if (i >= c->n_paths)
			return NULL;
		(void)ps_run_target(&c->opts, c->paths[i], &c->results[i]);
		print_result(c, &c->results[i]);
	}
}

/* Runs every target, up to c->jobs at once; results keep the given order. */
static void
run_all(struct cli *c)
{
	pthread_t tid[64];
	size_t n = (size_t)c->jobs, started = 0, i;

	if (n > c->n_paths)
		n = c->n_paths;
	if (n > sizeof tid / sizeof tid[0])
		n = sizeof tid / sizeof tid[0];
	for (i = 1; i < n; i++)
		if (pthread_create(&tid[started], NULL, worker, c) == 0)
			started++;
	worker(c);
	for (i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
}

static int
write_summary(struct cli *c)
{
	struct ps_error err = { 0 };
	FILE *out = c->json_out;
	int rc = 0;

	if (ps_summary_stream(&c->opts, c->results, c->n_paths, out,
	    &err) < 0) {
		fprintf(stderr, "pycstrip: %s: %s\n", c->json, err.msg);
		rc = -1;
	}
	c->json_out = NULL;
	if (out != stdout && fclose(out) == EOF && rc == 0) {
		fprintf(stderr, "pycstrip: %s: cannot write: %s\n", c->json,
		    strerror(errno));
		rc = -1;
	}
	return rc;
}

/* Set just before main returns: any other exit is one we did not ask for. */
static volatile sig_atomic_t returning;

/*
 * libarchive ends the process with exit(1) when some of its allocations
 * fail (archive_string.c: "Fatal Internal Error in libarchive: No
 * memory").  Here 1 means "--check found bytecode", and the temporary being
 * written would stay: remove it and exit 3 instead.
 */
static void
on_exit_unasked(void)
{
	static const char msg[] = "pycstrip: out of memory in libarchive; "
	    "stopped\n";

	if (returning)
		return;
	ps_atomic_unlink_all();
	(void)write(2, msg, sizeof msg - 1);
	_exit(EXIT_FAILED);
}

static void
on_signal(int sig)
{
	ps_atomic_unlink_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

/*
 * A plain tar that libarchive reads is read through a map of the input: a
 * file cut short by another program while pycstrip reads it raises SIGBUS
 * at the first page past its new end.  That is a failed target, not a
 * crash: the temporary goes, and the exit status is 3.  (Not under
 * AddressSanitizer, which keeps its own SIGBUS report.)
 */
#if !defined(__SANITIZE_ADDRESS__)
static void
on_bus(int sig, siginfo_t *si, void *uc)
{
	static const char msg[] = "pycstrip: an input file was cut short "
	    "while being read; stopped, nothing replaced\n";

	(void)uc;
	if (si->si_code != BUS_ADRERR) {
		on_signal(sig);
		return;
	}
	ps_atomic_unlink_all();
	(void)write(2, msg, sizeof msg - 1);
	_exit(EXIT_FAILED);
}
#endif

static void
catch_signals(void)
{
	/*
	 * Every signal whose default ends the process: the temporary goes
	 * first.  That includes a crash (in pycstrip or in a library),
	 * except under AddressSanitizer, whose own report must not be lost.
	 */
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT,
	    SIGALRM, SIGUSR1, SIGUSR2, SIGVTALRM, SIGPROF,
#if !defined(__SANITIZE_ADDRESS__)
	    SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS, SIGTRAP,
#endif
	};
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		struct sigaction old;

		/* A signal ignored at start stays ignored: nohup's SIGHUP, a
		 * background job's SIGINT. */
		if (sigaction(sigs[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		sigaction(sigs[i], &sa, NULL);
	}
#if !defined(__SANITIZE_ADDRESS__)
	sa.sa_handler = NULL;
	sa.sa_sigaction = on_bus;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGBUS, &sa, NULL);
#endif
	/*
	 * Past a file size limit (ulimit -f) a write fails with EFBIG
	 * instead of killing the process, so the temporary file is removed
	 * and the error reported like any other failed write.
	 */
	signal(SIGXFSZ, SIG_IGN);
}

static int
parse(struct cli *c, int argc, char **argv, const char ***excludes)
{
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "output", required_argument, NULL, 'o' },
		{ "json", required_argument, NULL, OPT_JSON },
		{ "exclude", required_argument, NULL, 'x' },
		{ "keep-sourceless", no_argument, NULL, OPT_KEEP_SOURCELESS },
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ "jobs", required_argument, NULL, 'j' },
		{ "level", required_argument, NULL, OPT_LEVEL },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	size_t n_ex = 0;
	int ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":no:x:j:qvh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'n':
			c->opts.mode = PS_MODE_DRY_RUN;
			break;
		case OPT_CHECK:
			c->opts.mode = PS_MODE_CHECK;
			break;
		case 'o':
			c->opts.output = optarg;
			break;
		case OPT_JSON:
			c->json = optarg;
			break;
		case 'x': {
			const char **p = realloc(*excludes,
			    (n_ex + 1) * sizeof *p);

			if (p == NULL) {
				fputs("pycstrip: out of memory\n", stderr);
				return EXIT_FAILED;
			}
			*excludes = p;
			p[n_ex++] = optarg;
			break;
		}
		case OPT_KEEP_SOURCELESS:
			c->opts.keep_sourceless = true;
			break;
		case OPT_VERIFY:
			c->opts.verify = true;
			break;
		case 'j':
			if (parse_int(optarg, 1, 1024, &c->jobs) < 0)
				return usage_error("invalid --jobs '%s' "
				    "(a number from 1 to 1024)", optarg);
			break;
		case OPT_LEVEL:
			if (parse_int(optarg, 0, 22, &c->opts.level) < 0)
				return usage_error("invalid --level '%s' "
				    "(a number from 0 to 22)", optarg);
			break;
		case OPT_THREADS:
			if (parse_int(optarg, 1, 64, &c->opts.threads) < 0)
				return usage_error("invalid --threads '%s' "
				    "(a number from 1 to 64)", optarg);
			break;
		case 'q':
			c->verbosity = 0;
			break;
		case 'v':
			c->verbosity = 2;
			break;
		case OPT_VERSION:
			printf("pycstrip %s\n", PS_VERSION);
			return 0;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case ':':
			return usage_error("option '%s' needs an argument",
			    argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'",
			    argv[optind - 1]);
		}
	}
	c->opts.excludes = *excludes;
	c->opts.n_excludes = n_ex;
	c->paths = argv + optind;
	c->n_paths = (size_t)(argc - optind);
	if (c->n_paths == 0)
		return usage_error("%s", "no PATH given");
	if (c->opts.output != NULL && c->n_paths != 1)
		return usage_error("%s", "-o/--output takes exactly one PATH");
	if (c->opts.output != NULL && strcmp(c->opts.output, "-") == 0) {
		if (c->json != NULL && strcmp(c->json, "-") == 0)
			return usage_error("%s", "-o - and --json - cannot "
			    "both use standard output");
		if (c->opts.mode == PS_MODE_STRIP && isatty(STDOUT_FILENO))
			return usage_error("%s", "-o -: refusing to write an "
			    "archive to a terminal");
	}
	return -1;
}

int
main(int argc, char **argv)
{
	struct cli c;
	const char **excludes = NULL;
	uint64_t found = 0;
	size_t i;
	int rc, failed = 0;

	ps_big_heap();
	if (setlocale(LC_CTYPE, "C.UTF-8") == NULL)
		(void)setlocale(LC_CTYPE, "");
	if (argc > 1 && strcmp(argv[1], "report") == 0)
		return ps_cmd_report(argc - 1, argv + 1);
	memset(&c, 0, sizeof c);
	c.opts.level = -1;
	c.jobs = 1;
	c.verbosity = 1;
	rc = parse(&c, argc, argv, &excludes);
	if (rc >= 0)
		goto out;
	/* A summary that cannot be written is found out before any change. */
	if (c.json != NULL) {
		c.json_out = strcmp(c.json, "-") == 0 ? stdout :
		    fopen(c.json, "w");
		if (c.json_out == NULL) {
			fprintf(stderr, "pycstrip: %s: cannot open: %s\n",
			    c.json, strerror(errno));
			rc = EXIT_FAILED;
			goto out;
		}
	}
	c.opts.collect = c.json != NULL;
	/* Nobody sees removed_bytes with -q and no summary: skip the stats. */
	c.opts.sizes = c.json != NULL || c.verbosity >= 1;
	c.opts.on_event = on_event;
	c.opts.event_ctx = &c;
	c.results = calloc(c.n_paths, sizeof *c.results);
	if (c.results == NULL) {
		fputs("pycstrip: out of memory\n", stderr);
		rc = EXIT_FAILED;
		goto out;
	}
	for (i = 0; i < c.n_paths; i++)
		ps_result_init(&c.results[i], c.paths[i]);
	pthread_mutex_init(&c.lock, NULL);
	catch_signals();
	(void)atexit(on_exit_unasked);
	run_all(&c);
	for (i = 0; i < c.n_paths; i++) {
		failed |= c.results[i].failed;
		found += c.results[i].found;
	}
	if (c.json != NULL && write_summary(&c) < 0)
		failed = 1;
	rc = failed ? EXIT_FAILED :
	    c.opts.mode == PS_MODE_CHECK && found > 0 ? EXIT_FOUND : 0;
	for (i = 0; i < c.n_paths; i++)
		ps_result_release(&c.results[i]);
	free(c.results);
	pthread_mutex_destroy(&c.lock);
out:
	free(excludes);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "pycstrip: cannot write to standard output: "
		    "%s\n", strerror(errno));
		if (rc == 0 || rc == EXIT_FOUND)
			rc = EXIT_FAILED;
	}
	returning = 1;
	return rc;
}
