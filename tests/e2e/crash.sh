#!/bin/sh
# tests/e2e/crash.sh - crash safety of in-place rewrites on ~100 MB
# artifacts (a wheel from `wheel pack`, a tar.gz from GNU tar).
#
# SIGKILL at many moments: at the Nth write-side call spread over the run
# (the inject shim kills the process right there), before and after the
# fsync of the (unnamed, O_TMPFILE) temporary, before and after the linkat
# that names it, just before and just after the rename, and at wall-clock
# moments from outside.  Afterwards the path holds the original or the
# complete stripped archive (sha256 of one of the two, never a torn file);
# nothing is left beside it but, when killed between the linkat and the
# rename, a temporary named ".NAME.pycstrip-XXXXXX"; once it is over a
# minute old (touch -d) the next run removes it and finishes the job.
# SIGINT / SIGTERM / SIGHUP during the rewrite: the temporary goes, the
# original stays, the exit status is 128 + the signal (re-raised); a signal
# ignored at start (nohup) stays ignored.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-harden.sh"

SHIM=
for d in "$(dirname "$PYCSTRIP")" "$PYCSTRIP_ROOT/build"; do
	if [ -f "$d/inject.so" ] && [ "$d/inject.so" -nt "$PYCSTRIP_ROOT/tests/inject/inject.c" ]; then
		SHIM=$d/inject.so
		break
	fi
done
if ldd "$PYCSTRIP" 2>/dev/null | grep -q libasan; then
	SHIM=  # the sanitizer build: the plain binary's run covers this
fi
if [ -z "$SHIM" ] || ! ldd "$PYCSTRIP" >/dev/null 2>&1; then
	echo "ok 1 - crash safety # SKIP static or sanitizer binary, or no shim"
	exit 0
fi

# The big files live on tmpfs when there is one (the root file system here
# is slow to unlink on) with room for them, in a directory of their own.
MB=${CRASH_MB:-100}
BIG=
if [ "$(df -k --output=avail /dev/shm 2>/dev/null | tail -n 1)" -gt $((MB * 8 * 1024)) ] 2>/dev/null; then
	BIG=$(mktemp -d /dev/shm/pycstrip-crash.XXXXXX 2>/dev/null) || BIG=
fi
[ -n "$BIG" ] || BIG=$(mktemp -d "$PYCSTRIP_SCRATCH/big.XXXXXX")
trap 'rm -rf "$BIG"' EXIT INT TERM

# big_tree DIR NAME : MB of random data, 800 modules with their bytecode
big_tree() {
	mkdir -p "$1/$2/big/data" "$1/$2/big/__pycache__" "$1/$2/$2.dist-info"
	for i in 1 2 3 4; do
		head -c $((MB * 1024 * 1024 / 4)) /dev/urandom >"$1/$2/big/data/blob$i.bin"
	done
	printf 'def f():\n    return 1\n' >"$1/$2/big/m0.py"
	"$PY" -m compileall -q "$1/$2/big" >/dev/null
	"$PY" - "$1/$2/big" <<'PYEOF'
import glob, shutil, sys
d = sys.argv[1]
pyc = glob.glob(d + "/__pycache__/m0.*.pyc")[0]
tag = pyc.split("/")[-1].split(".")[1]
for i in range(1, 800):
    shutil.copy(d + "/m0.py", "%s/m%d.py" % (d, i))
    shutil.copy(pyc, "%s/__pycache__/m%d.%s.pyc" % (d, i, tag))
PYEOF
	printf 'Metadata-Version: 2.1\nName: big\nVersion: 1.0\n' >"$1/$2/$2.dist-info/METADATA"
	printf 'Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n' \
	    >"$1/$2/$2.dist-info/WHEEL"
}

case_build() {
	big_tree "$BIG/src" big-1.0
	mkdir -p "$BIG/whl" "$BIG/tgz"
	"$PY" -m wheel pack -d "$BIG/whl" "$BIG/src/big-1.0" >/dev/null
	rm -rf "$BIG/src/big-1.0/big-1.0.dist-info"
	tar -C "$BIG/src" -czf "$BIG/tgz/big-1.0.tar.gz" big-1.0
	rm -rf "$BIG/src"
	for a in "$BIG/whl/big-1.0-py3-none-any.whl" "$BIG/tgz/big-1.0.tar.gz"; do
		supported "$a" || { echo "SKIP: $a not supported yet"; rm -f "$a"; continue; }
		cp "$a" "$a.orig"
		cp "$a" "$a.clean"
		"$PYCSTRIP" -q "$a.clean"
		cmp -s "$a.orig" "$a.clean" && fail "nothing stripped from $a"
		sha256sum <"$a.orig" | cut -c1-64 >"$a.orig.sha"
		sha256sum <"$a.clean" | cut -c1-64 >"$a.clean.sha"
		ls -l "$a.orig" "$a.clean"
	done
}

# after_kill FILE RC : the file is whole; temporaries are ours by name;
# aged, they are cleaned up by the next run, which finishes the job.
after_kill() {
	f=$1 rc=$2
	n=$(basename "$f")
	d=$(dirname "$f")
	[ "$rc" -eq 137 ] || [ "$rc" -eq 0 ] || fail "exit $rc, not killed nor done"
	sha=$(sha256sum <"$f" | cut -c1-64)
	if [ "$sha" = "$(cat "$f.orig.sha")" ]; then
		state=original
	elif [ "$sha" = "$(cat "$f.clean.sha")" ]; then
		state=stripped
	else
		fail "torn file after kill: $(ls -l "$f")"
	fi
	temps=0
	for t in "$d"/.* "$d"/*; do
		b=$(basename "$t")
		case $b in
		. | .. | "$n" | "$n".orig | "$n".clean | "$n".*sha | "$n".counts) continue ;;
		esac
		[ -e "$t" ] || continue
		echo "$b" | grep -Eq "^\\.$(echo "$n" | sed 's/\./\\./g')\\.pycstrip-[A-Za-z0-9]{6}\$" ||
		    fail "unexpected file left: $b"
		[ -f "$t" ] && [ ! -L "$t" ] || fail "temporary is not a regular file: $b"
		touch -d '-2 min' "$t"
		temps=$((temps + 1))
	done
	echo "  -> exit $rc, $state, $temps temporary file(s)"
	if [ -n "${expect:-}" ] && [ "$expect" != "$state/$temps" ]; then
		fail "expected $expect (state/temporaries), got $state/$temps"
	fi
	# A run costs seconds on a big tar.gz: a few of them prove the point.
	if [ "$temps" -gt 0 ] && [ "$(cat "$BIG/reruns" 2>/dev/null || echo 0)" -lt 3 ]; then
		"$PYCSTRIP" -q "$f" || fail "the run after the kill failed"
		cmp -s "$f" "$f.clean" || fail "the run after the kill did not finish the job"
		no_temp_left "$d"
		echo $(($(cat "$BIG/reruns" 2>/dev/null || echo 0) + 1)) >"$BIG/reruns"
		echo "  -> the next run removed the stale temporary and stripped it"
	fi
	find "$d" -name '.*.pycstrip-*' -exec rm -f {} +
	cmp -s "$f" "$f.orig" || cp "$f.orig" "$f"
}

# kill_at FILE FUNC N [kill|kill-after [STATE/TEMPS]] : STATE/TEMPS is what
# must be left ("original/1": the original and one temporary)
kill_at() {
	expect=${5:-}
	echo "${4:-kill} at $2 #$3"
	set +e
	PS_INJECT_FUNC=$2 PS_INJECT_N=$3 PS_INJECT_ACTION=${4:-kill} \
	    LD_PRELOAD=$SHIM "$PYCSTRIP" -q "$1" 2>/dev/null
	rc=$?
	set -e
	after_kill "$1" "$rc"
}

# busiest FILE [REGEX] : the write-side (or REGEX) function with the most
# calls during a run, and how many
busiest() {
	if [ ! -f "$1.counts" ]; then
		PS_INJECT_COUNT=$1.counts LD_PRELOAD=$SHIM "$PYCSTRIP" -q "$1" 2>/dev/null
		cp "$1.orig" "$1"
	fi
	awk -v re="^(${2:-write|pwrite|copy_file_range})\$" '$1 ~ re { print $2, $1 }' \
	    "$1.counts" | sort -n | tail -n 1
}

kill_loop() { # FILE
	f=$1
	[ -f "$f" ] || { echo "SKIP: not supported yet"; return 0; }
	cp "$f.orig" "$f"
	rm -f "$BIG/reruns"
	# Spread over the run: 5 points from the first call to the last, of
	# the busiest reading and the busiest writing function.
	for re in 'read|pread' 'write|pwrite|copy_file_range'; do
		set -- $(busiest "$f" "$re")
		c=$1 func=$2
		echo "busiest: $func, $c calls"
		[ "$c" -ge 1 ] || fail "no $re calls counted"
		for i in 0 1 2 3 4; do
			kill_at "$f" "$func" $((1 + (c - 1) * i / 4))
		done
	done
	# written, not yet flushed; flushed, still unnamed; about to be
	# named; named, not yet renamed; the moment before the rename;
	# renamed, directory not yet flushed
	kill_at "$f" fsync 1 kill original/0
	kill_at "$f" fsync 1 kill-after original/0
	kill_at "$f" linkat 1 kill original/0
	kill_at "$f" linkat 1 kill-after original/1
	kill_at "$f" rename 1 kill original/1
	kill_at "$f" rename 1 kill-after stripped/0
	# Wall-clock moments from outside, over the time a run takes.
	start=$(date +%s%N)
	"$PYCSTRIP" -q "$f"
	ms=$((($(date +%s%N) - start) / 1000000 + 1))
	cp "$f.orig" "$f"
	echo "a run takes $ms ms"
	for p in 10 35 65 90; do
		"$PYCSTRIP" -q "$f" 2>/dev/null &
		pid=$!
		sleep "$(echo "$ms $p" | awk '{ printf "%.3f", $1 * $2 / 100000 }')"
		kill -KILL "$pid" 2>/dev/null || true
		set +e
		wait "$pid"
		rc=$?
		set -e
		echo "external SIGKILL at $p%"
		expect=
		after_kill "$f" "$rc"
	done
}

case_kill_wheel() {
	kill_loop "$BIG/whl/big-1.0-py3-none-any.whl"
}

case_kill_targz() {
	kill_loop "$BIG/tgz/big-1.0.tar.gz"
}

# spawn SIG_DFL|SIG_IGN CMD... : runs CMD in the background with SIGINT,
# SIGTERM and SIGHUP at that disposition (a shell's background job would
# otherwise start with SIGINT ignored); sets pid
spawn() {
	_disp=$1
	shift
	"$PY" -c 'import os, signal, sys
d = getattr(signal, sys.argv[1])
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, d)
os.execv(sys.argv[2], sys.argv[2:])' "$_disp" "$@" &
	pid=$!
}

wait_stopped() { # PID
	_i=0
	while [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" != T ]; do
		_i=$((_i + 1))
		[ "$_i" -lt 600 ] || fail "process never stopped"
		sleep 0.05
	done
}

# signal_mid FILE SIG EXPECTED_RC : stops the run half way through its
# writes (inject shim), sends SIG, lets it go on
signal_mid() {
	f=$1 sig=$2 want=$3
	cp "$f.orig" "$f"
	set -- $(busiest "$f")
	PS_INJECT_FUNC=$2 PS_INJECT_N=$(($1 / 2 + 1)) PS_INJECT_ACTION=stop \
	    LD_PRELOAD=$SHIM spawn "${disp:-SIG_DFL}" "$PYCSTRIP" -q "$f"
	wait_stopped "$pid"
	# the temporary is unnamed: "DIR/#INODE (deleted)" among its files
	ls -l "/proc/$pid/fd" | grep -q "$(dirname "$f")/#[0-9]* (deleted)" ||
	    fail "no unnamed temporary while stopped mid-write: $(ls -l "/proc/$pid/fd")"
	[ -z "$(find "$(dirname "$f")" -name '.*.pycstrip-*')" ] ||
	    fail "a named temporary while stopped mid-write"
	kill "-$sig" "$pid"
	kill -CONT "$pid"
	set +e
	wait "$pid"
	rc=$?
	set -e
	echo "$sig mid-write: exit $rc"
	[ "$rc" -eq "$want" ] || fail "$sig: expected exit $want, got $rc"
	no_temp_left "$(dirname "$f")"
	if [ "$want" -eq 0 ]; then
		cmp -s "$f" "$f.clean" || fail "$sig ignored, yet not stripped"
	else
		cmp -s "$f" "$f.orig" || fail "$sig: the original changed"
	fi
	cp "$f.orig" "$f"
}

case_signals() {
	for f in "$BIG/whl/big-1.0-py3-none-any.whl" "$BIG/tgz/big-1.0.tar.gz"; do
		[ -f "$f" ] || { echo "SKIP: $f not supported yet"; continue; }
		signal_mid "$f" INT 130
		signal_mid "$f" TERM 143
		signal_mid "$f" HUP 129
		# nohup: SIGHUP ignored at start stays ignored.
		disp=SIG_IGN signal_mid "$f" HUP 0
	done
	# From outside, at wall-clock moments, without the shim.
	f=$BIG/tgz/big-1.0.tar.gz
	[ -f "$f" ] || return 0
	for p in 0.3 1.0; do
		cp "$f.orig" "$f"
		spawn SIG_DFL "$PYCSTRIP" -q "$f"
		sleep "$p"
		kill -TERM "$pid" 2>/dev/null || true
		set +e
		wait "$pid"
		rc=$?
		set -e
		echo "external SIGTERM after $p s: exit $rc"
		no_temp_left "$(dirname "$f")"
		case $rc in
		# A SIGTERM that lands after the rename finds the result in place.
		143) cmp -s "$f" "$f.orig" || cmp -s "$f" "$f.clean" ||
		    fail "SIGTERM: neither the original nor the stripped archive" ;;
		0) cmp -s "$f" "$f.clean" || fail "finished, not stripped" ;;
		*) fail "SIGTERM: exit $rc" ;;
		esac
	done
	cp "$f.orig" "$f"
}

# A crash mid-write (in pycstrip or a library it calls): the temporary
# goes before the process dies of the signal; the original stays.
case_crash_handler() {
	for f in "$BIG/whl/big-1.0-py3-none-any.whl" "$BIG/tgz/big-1.0.tar.gz"; do
		[ -f "$f" ] || { echo "SKIP: $f not supported yet"; continue; }
		cp "$f.orig" "$f"
		set -- $(busiest "$f")
		for a in segv:139 abort:134; do
			set +e
			PS_INJECT_FUNC=$2 PS_INJECT_N=$(($1 / 2 + 1)) \
			    PS_INJECT_ACTION=${a%%:*} LD_PRELOAD=$SHIM \
			    "$PYCSTRIP" -q "$f" 2>/dev/null
			rc=$?
			set -e
			echo "${a%%:*} mid-write: exit $rc"
			[ "$rc" -eq "${a##*:}" ] || fail "${a%%:*}: exit $rc"
			no_temp_left "$(dirname "$f")"
			cmp -s "$f" "$f.orig" || fail "${a%%:*}: the original changed"
		done
	done
}

run_case "crash: build a ${MB} MB wheel and tar.gz" case_build
run_case "crash: SIGKILL while a ${MB} MB wheel is rewritten" case_kill_wheel
run_case "crash: SIGKILL while a ${MB} MB tar.gz is rewritten" case_kill_targz
run_case "crash: SIGINT, SIGTERM, SIGHUP (and nohup) mid-rewrite" case_signals
run_case "crash: SIGSEGV or abort() mid-write removes the temporary" case_crash_handler
finish
