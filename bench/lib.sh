# bench/lib.sh - shared by bench/run.sh and bench/scale.sh (sourced): the
# environment (see run.sh), scenario bookkeeping in BENCH_OUT/scenarios/NAME/
# meta.tsv (read by bench/report.py), peak-RSS runs and the hyperfine call.
# shellcheck shell=bash
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYCSTRIP=${PYCSTRIP:-$ROOT/build/pycstrip}
CORPUS=${BENCH_CORPUS:?set BENCH_CORPUS to the corpus directory}
WORK=${BENCH_WORK:-/dev/shm/pycstrip-bench}
OUT=${BENCH_OUT:-$ROOT/build/bench}
MIN_RUNS=${BENCH_MIN_RUNS:-3}
MAX_RUNS=${BENCH_MAX_RUNS:-10}
PY=/usr/bin/python3
export LC_ALL=C

die() { echo "bench: $*" >&2; exit 1; }
[ -f "$CORPUS/manifest.env" ] || die "no corpus in $CORPUS (run bench/corpus.sh)"
# shellcheck disable=SC1091
. "$CORPUS/manifest.env"
CORPUS=$CORPUS_DIR
case $PYCSTRIP in /*) ;; *) PYCSTRIP=$PWD/$PYCSTRIP ;; esac
command -v hyperfine >/dev/null || die "hyperfine missing (make bench-deps)"

mkdir -p "$OUT/scenarios" "$WORK" || die "cannot create $OUT or $WORK"
WORK=$(cd "$WORK" && pwd)
OUT=$(cd "$OUT" && pwd)
case $WORK in /|/dev/shm|/tmp|"$HOME") die "BENCH_WORK must be a dedicated directory, not $WORK" ;; esac

# Scratch copies are big (3.6 GB tree at SCALE 28, on a shared tmpfs): remove
# them however the run ends.
cleanup() {
	(cd "$WORK" 2>/dev/null && rm -rf tree tree-expected.txt tree.json wheel \
	    tar tar.gz tar.zst tar.xz wide-template wide wide.json deep deep.json \
	    jobs-src jobs jobs1.json jobs2.json)
	rmdir "$WORK" 2>/dev/null
	if [ -n "${BIG:-}" ]; then
		rm -f "$BIG/big-1.0-py3-none-any.whl" "$BIG/big-1.0.tar" "$BIG"/.big-1.0*
		rmdir "$BIG" 2>/dev/null
	fi
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Time a private copy: other engineers may relink build/pycstrip mid-run.
if [ -x "$PYCSTRIP" ]; then
	cp "$PYCSTRIP" "$OUT/pycstrip.under-test" || die "cannot copy $PYCSTRIP"
	export PYCSTRIP_BUILT=$PYCSTRIP
	PYCSTRIP=$OUT/pycstrip.under-test
fi

q() { printf '%q' "$1"; }

# --- scenario bookkeeping --------------------------------------------------
S=
SD=
names=()
preps=()
cmds=()
begin() { # NAME TITLE
	S=$1
	SD=$OUT/scenarios/$S
	rm -rf "$SD"
	mkdir -p "$SD"
	: >"$SD/meta.tsv"
	names=()
	preps=()
	cmds=()
	echo
	echo "=== $S: $2"
	meta title "" "$2"
	meta load "" "$(cut -d' ' -f1-3 /proc/loadavg)"
}
meta() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$SD/meta.tsv"; }
skip() {
	meta status "" "skipped: $1"
	echo "bench: $S skipped: $1"
}
note() {
	meta note "" "$1"
	echo "  note: $1"
}
add() { # NAME PREPARE COMMAND [RUN]: RUN = the rss_run NAME of the same command
	[ $# -lt 4 ] || meta alias "$4" "$1"
	names+=("$1")
	preps+=("$2")
	cmds+=("$3")
}
kb_free() { df -Pk "$1" | awk 'NR == 2 {print $4}'; }
kb_memavail() { awk '/^MemAvailable:/ {print $2}' /proc/meminfo; }
need_space() { # KB: skips the scenario unless BENCH_WORK and RAM have room
	local free mem
	free=$(kb_free "$WORK")
	mem=$(kb_memavail)
	if [ "$free" -lt "$1" ]; then
		skip "$WORK has $((free / 1024)) MiB free, needs $(($1 / 1024)) MiB"
		return 1
	fi
	case $(stat -f -c %T "$WORK") in
	tmpfs | ramfs)
		if [ "$mem" -lt $(($1 + 1048576)) ]; then
			skip "only $((mem / 1024)) MiB of RAM available, the tmpfs copy needs $(($1 / 1024)) MiB + 1 GiB"
			return 1
		fi ;;
	*) note "$WORK is not tmpfs: unlink times include the device" ;;
	esac
	return 0
}

# rss_run NAME CMD...: runs CMD once; records its peak RSS (KiB) and wall time
# in meta.tsv; stdout/stderr go to SD/NAME.{out,err}; returns CMD's status.
rss_run() {
	local name=$1 f rc kb secs
	shift
	f=$SD/$name.time
	if [ -x /usr/bin/time ]; then
		/usr/bin/time -f '%M %e' -o "$f" "$@" >"$SD/$name.out" 2>"$SD/$name.err"
		rc=$?
	else
		"$PY" - "$f" "$@" >"$SD/$name.out" 2>"$SD/$name.err" <<'EOF'
import os, sys, time
t = time.monotonic()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, ru = os.wait4(pid, 0)
open(sys.argv[1], "w").write("%d %.2f\n" % (ru.ru_maxrss, time.monotonic() - t))
sys.exit(os.waitstatus_to_exitcode(status) & 255)
EOF
		rc=$?
	fi
	read -r kb secs < <(tail -n 1 "$f")
	meta rss "$name" "$kb"
	meta once "$name" "$secs"
	meta exit "$name" "$rc"
	return "$rc"
}
first_err() { # NAME: the first lines of what a run printed on stderr
	head -n 3 "$SD/$1.err" | tr '\n' ' ' | cut -c1-300 | sed 's/ *$//'
}
check() { # NAME RESULT: records a check result ("ok" or what is wrong)
	meta check "$1" "$2"
	echo "  check $1: $2"
}

# timeit: one hyperfine call over the commands added since begin().
timeit() {
	local args=() i
	for i in "${!names[@]}"; do
		args+=(-n "${names[$i]}" -p "${preps[$i]}" "${cmds[$i]}")
		meta command "${names[$i]}" "${cmds[$i]}"
	done
	echo "  timing ${#names[@]} commands (hyperfine -m $MIN_RUNS -M $MAX_RUNS, fresh copy per run)"
	hyperfine --style basic -i -m "$MIN_RUNS" -M "$MAX_RUNS" \
	    --export-json "$SD/hyperfine.json" "${args[@]}" >"$SD/hyperfine.txt" 2>&1
	local rc=$?
	grep -E '^(Benchmark|  Time|  Range)' "$SD/hyperfine.txt" | sed 's/^/  /'
	[ $rc -eq 0 ] || { meta status "" "hyperfine failed ($rc), see $SD/hyperfine.txt"; return 1; }
	meta status "" "ok"
}

# tree_par_opts: the options of the second tree variant, from BENCH_TREE_PAR
# ("none": no second variant) or the --help of this pycstrip: with a
# --threads option (default: one walker a core) the one-walker walk "--threads 1";
# empty when it has none.
tree_par_opts() {
	if [ -n "${BENCH_TREE_PAR:-}" ]; then
		[ "$BENCH_TREE_PAR" = none ] || echo "$BENCH_TREE_PAR"
		return
	fi
	if "$PYCSTRIP" --help 2>&1 | grep -q -- '--threads'; then
		echo "--threads 1"
	fi
}
