#!/bin/sh
# tests/e2e/sanitized.sh - inside `make test`, a handful of end-to-end runs
# of the AddressSanitizer + UndefinedBehaviorSanitizer build
# (build/sanitize/pycstrip, mk/sanitize.mk) and of the plain binary under
# valgrind memcheck: trees, wheels, zips of every kind zip(1) and zipapp
# write, tars in every compression, and damaged copies of each (truncated,
# bytes overwritten).  Any sanitizer report, leak (LeakSanitizer exits 86
# here) or valgrind error (exit 99) fails the case.  `make sanitize` runs
# every test with the sanitizer build; `make valgrind` a larger subset.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-harden.sh"

case $PYCSTRIP in
*/static/*)
	echo "ok 1 - sanitized runs # SKIP done in the dynamic pass"
	exit 0 ;;
esac
if ldd "$PYCSTRIP" 2>/dev/null | grep -q libasan; then
	echo "ok 1 - sanitized runs # SKIP every test already runs sanitized"
	exit 0
fi
SAN=$PYCSTRIP_ROOT/build/sanitize/pycstrip
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:exitcode=86
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=87
VG=$PYCSTRIP_ROOT/tests/valgrind-pycstrip

# san WANT... -- ARGS : runs the sanitizer build; exit must be one of WANT
san() {
	_want=
	while [ "$1" != -- ]; do _want="$_want $1"; shift; done
	shift
	set +e
	"$SAN" "$@" >san.out 2>san.err
	_rc=$?
	set -e
	if grep -Eq 'Sanitizer|runtime error:' san.err; then
		cat san.err
		fail "sanitizer report: $*"
	fi
	case " $_want " in
	*" $_rc "*) ;;
	*) cat san.err; fail "exit $_rc (want$_want): $*" ;;
	esac
}

case_build() {
	[ -x "$SAN" ] || make -s --no-print-directory -C "$PYCSTRIP_ROOT" sanitize-build
	[ -x "$SAN" ] || fail "no sanitizer build"
	ldd "$SAN" | grep -q libasan || fail "$SAN is not built with ASan"
}

case_tree() {
	mkdir t
	make_pkg t/a
	make_pkg t/b
	mkdir -p t/c/__pycache__
	: >"t/c/$(printf 'bad\377name.pyc')"
	ln -s ../a t/c/link
	san 1 -- --check --json s1.json t
	san 0 -- -v --threads 2 --json s2.json -x 'b/pkg/sub' t
	[ -d t/b/pkg/sub/__pycache__ ] || fail "excluded directory removed"
	[ ! -e t/a/pkg/__pycache__ ] || fail "not removed"
	san 0 -- --keep-sourceless -q t
	for f in markdown github dotenv codequality; do
		san 0 -- report --format "$f" s2.json
	done
}

# Every kind of archive the seed script makes, and damaged copies.
case_archives() {
	sh "$PYCSTRIP_ROOT/tests/fuzz/make-seeds.sh" seeds >/dev/null
	mkdir work
	n=0
	for a in seeds/fuzz_zip/* seeds/fuzz_tar/*; do
		case $a in */gz-wrapped-*) continue ;; esac  # fuzz_tar's own
		n=$((n + 1))
		# --verify cannot check an encrypted entry: it refuses.
		v=0
		case $a in *encrypted*) v=3 ;; esac
		san "$v" -- -q -n --verify --json s.json "$a"
		validate_summary s.json
		cp "$a" "work/$n.${a##*.}"
		san 0 -- -q --json s.json "work/$n.${a##*.}"
		san "$v" -- -q --check --verify "work/$n.${a##*.}"
		san 0 -- -q -o "work/$n.out" "$a"
		# Damaged: cut short, and 64 bytes overwritten at three places.
		"$PY" - "$a" work/d <<'PYEOF'
import sys
data = open(sys.argv[1], "rb").read()
out = sys.argv[2]
open(out + "-half", "wb").write(data[: len(data) // 2])
for k, at in enumerate((len(data) // 3, len(data) - 30, 40)):
    d = bytearray(data)
    d[at : at + 64] = bytes((i * 37 + k) & 0xFF for i in range(64))[: len(d) - at]
    open("%s-flip%d" % (out, k), "wb").write(bytes(d))
PYEOF
		for d in work/d-*; do
			cp "$d" before
			san 0 1 3 -- -q "$d"
			if [ "$_rc" -eq 3 ]; then
				cmp -s before "$d" || fail "refused, yet changed: $d ($a)"
			fi
			san 0 1 3 -- -q --check --verify "$d"
			no_temp_left work
			rm -f "$d"
		done
	done
	echo "$n archives"
	[ "$n" -ge 10 ] || fail "too few seeds"
}

case_valgrind() {
	command -v valgrind >/dev/null || fail "valgrind not installed"
	make_pkg t
	w=$(make_wheel "$PWD")
	g=$(make_targz "$PWD")
	for cmd in "-q --json s.json t" "-q --verify --json s.json $w" "-q -o out.tar.gz $g" "-q $g"; do
		set +e
		# shellcheck disable=SC2086
		VALGRIND_PYCSTRIP=$PYCSTRIP "$VG" $cmd 2>err
		rc=$?
		set -e
		[ "$rc" -eq 0 ] || { cat err; fail "valgrind: exit $rc: $cmd"; }
	done
}

run_case "sanitized: the ASan/UBSan build is there" case_build
run_case "sanitized: tree strip, check, excludes, report formats" case_tree
run_case "sanitized: every zip and tar kind, and damaged copies" case_archives
run_case "valgrind: tree, wheel --verify, tar.gz -o and in place" case_valgrind
finish
