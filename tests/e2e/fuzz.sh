#!/bin/sh
# tests/e2e/fuzz.sh - the fuzz targets inside `make test`: build them (clang,
# libFuzzer, ASan, UBSan: mk/fuzz.mk), replay every regression input
# (tests/fuzz/regress/TARGET/) and seed (tests/fuzz/make-seeds.sh), then
# fuzz each target for FUZZ_SMOKE seconds (default 10) from its seeds, so
# that a regression in a parser shows in CI.  The long runs are `make fuzz
# FUZZ_SECONDS=3600`.  Runs once, with the dynamic binary's pass.
. "$(dirname "$0")/lib.sh"

SMOKE=${FUZZ_SMOKE:-10}
case $PYCSTRIP in
*/static/* | */sanitize/*)
	echo "ok 1 - fuzz # SKIP done in the plain build's pass"
	exit 0 ;;
esac
if ! command -v clang >/dev/null 2>&1; then
	echo "ok 1 - fuzz # SKIP clang not installed (scripts/packages.txt)"
	exit 0
fi
FUZZ=$PYCSTRIP_ROOT/build/fuzz
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# The archive targets' files go in the case's directory, which goes when
# the case passes (a smoke run's time limit can end one mid-input).
export PSFUZZ_TMPDIR=.

case_build() {
	make -s --no-print-directory -C "$PYCSTRIP_ROOT" fuzz-build fuzz-seeds
}

# replay TARGET : every regression input and seed, once each
replay() {
	files=$(find "$PYCSTRIP_ROOT/tests/fuzz/regress/$1" "$FUZZ/seeds/$1" \
	    -type f ! -name 'README*' 2>/dev/null || true)
	[ -n "$files" ] || fail "no inputs for $1"
	# shellcheck disable=SC2086
	"$FUZZ/$1" $files
	echo "$1: replayed $(echo "$files" | wc -l) inputs"
}

# smoke TARGET : fuzz from the seeds for SMOKE seconds
smoke() {
	mkdir corpus
	dict=
	[ -f "$PYCSTRIP_ROOT/tests/fuzz/$1.dict" ] && dict=-dict=$PYCSTRIP_ROOT/tests/fuzz/$1.dict
	"$FUZZ/$1" -max_total_time="$SMOKE" -print_final_stats=1 -timeout=20 \
	    -rss_limit_mb=2048 $dict -artifact_prefix="$PWD/" corpus \
	    "$FUZZ/seeds/$1" 2>log || { tail -n 60 log; ls; fail "$1 found a crash (input kept here)"; }
	grep -E '^(stat::number_of_executed_units|#[0-9]+ +DONE)' log
}

run_case "fuzz: build the targets and the seeds" case_build
for t in fuzz_match fuzz_record fuzz_zip fuzz_tar; do
	[ -f "$PYCSTRIP_ROOT/tests/fuzz/$t.c" ] || continue
	eval "case_replay_$t() { replay $t; }"
	eval "case_smoke_$t() { smoke $t; }"
	run_case "fuzz: $t replays its regression inputs and seeds" "case_replay_$t"
	run_case "fuzz: $t for $SMOKE s finds nothing" "case_smoke_$t"
done
finish
