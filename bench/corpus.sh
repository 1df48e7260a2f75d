#!/bin/sh
# bench/corpus.sh CORPUS_DIR SCALE - makes sure CORPUS_DIR holds the benchmark
# corpus of that SCALE, built once by $BENCH_CORPUS_SCRIPT (default
# ../shared/bench/make-corpus.sh, relative to the repository) and reused
# afterwards.  A corpus of another SCALE, or one whose build was interrupted
# (no manifest.env), is rebuilt; make-corpus.sh itself refuses to delete a
# directory it did not make.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
[ $# -eq 2 ] || { echo "usage: $0 CORPUS_DIR SCALE" >&2; exit 2; }
CORPUS=$1
SCALE=$2
SCRIPT=${BENCH_CORPUS_SCRIPT:-../shared/bench/make-corpus.sh}
case $SCRIPT in /*) ;; *) SCRIPT=$ROOT/$SCRIPT ;; esac
if [ -f "$CORPUS/manifest.env" ] &&
    grep -qx "SCALE=$SCALE" "$CORPUS/manifest.env"; then
	echo "bench: corpus $CORPUS (SCALE $SCALE, cached)"
	exit 0
fi
if [ ! -f "$SCRIPT" ]; then
	echo "bench: corpus script $SCRIPT not found (set BENCH_CORPUS_SCRIPT)" >&2
	exit 1
fi
echo "bench: building corpus $CORPUS (SCALE $SCALE) with $SCRIPT"
echo "bench: (once; SCALE 28 takes ~7 min and ~5 GB, SCALE 1 ~1.5 min)"
parent=$(dirname "$CORPUS")
mkdir -p "$parent"
need_kb=$((SCALE * 190000 + 400000))
avail_kb=$(df -Pk "$parent" | awk 'NR == 2 {print $4}')
if [ "$avail_kb" -lt "$need_kb" ]; then
	echo "bench: $parent has $((avail_kb / 1024)) MiB free; the corpus needs about $((need_kb / 1024)) MiB" >&2
	exit 1
fi
log=$CORPUS.log
FORCE=1 bash "$SCRIPT" "$CORPUS" "$SCALE" >"$log" 2>&1 || {
	tail -n 20 "$log" >&2
	echo "bench: corpus build failed (log: $log)" >&2
	exit 1
}
cat "$CORPUS/stats.txt"
