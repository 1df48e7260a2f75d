# tests/e2e/lib.sh - sourced by the end-to-end shell tests.
#
#   . "$(dirname "$0")/lib.sh"
#   case_removes_pycache() { mkpkg; "$PYCSTRIP" . ; [ ! -e pkg/__pycache__ ]; }
#   run_case "tree: removes __pycache__" case_removes_pycache
#   finish
#
# run_case runs the function under `set -e` in a fresh scratch directory
# ($PYCSTRIP_SCRATCH/NN), prints "ok N - NAME" or "not ok N - NAME" with the
# tail of the case's output, and keeps the directory only on failure.
# Helpers: fail MSG (fails the case), expect_status CODE CMD..., listing DIR.
set -u
: "${PYCSTRIP:?set PYCSTRIP to the binary under test}"
: "${PYCSTRIP_ROOT:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${PYCSTRIP_SCRATCH:=${TMPDIR:-/tmp}/pycstrip-e2e-$$}"
PY=/usr/bin/python3
export LC_ALL=C.UTF-8 PYTHONDONTWRITEBYTECODE=1
_n=0
_failed=0
mkdir -p "$PYCSTRIP_SCRATCH"

run_case() { # NAME FUNCTION
	_n=$((_n + 1))
	_dir=$PYCSTRIP_SCRATCH/$(printf '%03d' "$_n")
	rm -rf "$_dir"
	mkdir -p "$_dir"
	# A plain statement, not part of a && list: `set -e` would not apply
	# inside a function called from one.
	(
		cd "$_dir" || exit 1
		set -e
		"$2"
	) >"$_dir.log" 2>&1
	_rc=$?
	if [ "$_rc" -eq 0 ]; then
		echo "ok $_n - $1"
		rm -rf "$_dir" "$_dir.log"
	else
		echo "not ok $_n - $1 (exit $_rc; kept $_dir)"
		# The reason first: a CI log may show only the first lines.
		grep '^FAIL: ' "$_dir.log" | tail -n 3 | sed 's/^/#   /'
		tail -n 25 "$_dir.log" | sed 's/^/#   /'
		_failed=$((_failed + 1))
	fi
}

finish() {
	[ "$_failed" -eq 0 ]
	exit $?
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# expect_status CODE CMD... : runs CMD, fails the case unless it exits CODE.
expect_status() {
	_want=$1
	shift
	set +e
	"$@"
	_got=$?
	set -e
	[ "$_got" -eq "$_want" ] || fail "expected exit $_want, got $_got: $*"
}

# listing DIR : one line per entry: path, type, mode, mtime, size/target, sha256
listing() {
	(cd "$1" && find . -mindepth 1 -printf '%p %y %m %T@ %s %l\n' | LC_ALL=C sort |
	    while IFS= read -r line; do
		p=${line%% *}
		if [ -f "$p" ] && [ ! -L "$p" ]; then
			echo "$line $(sha256sum <"$p" | cut -c1-64)"
		else
			echo "$line"
		fi
	    done)
}

# validate_summary FILE : checks FILE against schema/summary.schema.json
validate_summary() {
	"$PY" - "$PYCSTRIP_ROOT/schema/summary.schema.json" "$1" <<'PYEOF'
import json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.validators.validator_for(schema).check_schema(schema)
jsonschema.validate(json.load(open(sys.argv[2], encoding="utf-8")), schema)
PYEOF
}
