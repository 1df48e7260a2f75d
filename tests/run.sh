#!/bin/sh
# tests/run.sh BUILD - runs every unit and end-to-end test against
# BUILD/pycstrip (and, when BUILD/static/pycstrip exists, the end-to-end
# tests once more against it) and ends with one line "N passed, N failed".
#
# Unit tests: BUILD/unit-tests (Criterion); its Synthesis line is counted.
# End to end: every executable tests/e2e/*.sh / *.py; each prints TAP-style
# lines "ok ..." / "not ok ..."; a script that exits non-zero without
# printing "not ok" counts as one failure.  Scratch space: BUILD/e2e/.
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
passed=0
failed=0
log=$BUILD/test-logs
mkdir -p "$log"

# --- unit -------------------------------------------------------------------
if [ -x "$BUILD/unit-tests" ]; then
	"$BUILD/unit-tests" -j2 2>"$log/unit.err" >"$log/unit.out"
	rc=$?
	cat "$log/unit.err" "$log/unit.out" | grep -v '^\[----\]' | grep -Ev '^\[(PASS|RUN )' || true
	line=$(grep 'Synthesis:' "$log/unit.err" | tail -n 1 | sed 's/\x1b\[[0-9;]*m//g')
	t=$(echo "$line" | sed -n 's/.*Tested: *\([0-9]*\).*/\1/p')
	p=$(echo "$line" | sed -n 's/.*Passing: *\([0-9]*\).*/\1/p')
	if [ -n "$t" ] && [ -n "$p" ]; then
		passed=$((passed + p))
		failed=$((failed + t - p))
	fi
	if [ -z "$t" ] || { [ "$rc" -ne 0 ] && [ "$t" = "$p" ]; }; then
		echo "not ok - unit tests exited $rc without a synthesis"
		failed=$((failed + 1))
	fi
fi

# --- end to end -------------------------------------------------------------
run_e2e() { # BINARY LABEL
	bin=$1
	label=$2
	for script in "$ROOT"/tests/e2e/*.sh "$ROOT"/tests/e2e/*.py; do
		[ -f "$script" ] && [ -x "$script" ] || continue
		name=$label/$(basename "$script")
		out=$log/$(echo "$name" | tr '/' '_').out
		echo "# $name"
		PYCSTRIP=$bin PYCSTRIP_ROOT=$ROOT \
		    PYCSTRIP_SCRATCH=$BUILD/e2e/$label/$(basename "$script") \
		    "$script" >"$out" 2>&1 </dev/null
		rc=$?
		grep -E '^(not )?ok|^# ' "$out" | grep -Ev '^# (PASS|RUN)' || true
		p=$(grep -c '^ok' "$out")
		f=$(grep -c '^not ok' "$out")
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			echo "not ok - $name exited $rc (log: $out)"
			tail -n 20 "$out" | sed 's/^/#   /'
			f=1
		fi
		passed=$((passed + p))
		failed=$((failed + f))
	done
}
run_e2e "$BUILD/pycstrip" dynamic
if [ -x "$BUILD/static/pycstrip" ]; then
	run_e2e "$BUILD/static/pycstrip" static
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
