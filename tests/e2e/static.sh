#!/bin/sh
# End-to-end tests of the static binary (run when $PYCSTRIP is one; the
# dynamic run skips them): fully static, small, and UTF-8 member names
# handled with no locale files at all, in an empty root that holds only the
# binary and the archives (chroot, as root).
. "$(dirname "$0")/lib.sh"

if ! file -L "$PYCSTRIP" | grep -q 'statically linked'; then
	echo "ok 1 - static binary checks # SKIP $PYCSTRIP is not static"
	exit 0
fi

case_linked() {
	file -L "$PYCSTRIP" | grep 'statically linked'
	! readelf -lW "$PYCSTRIP" | grep INTERP || fail "has an ELF interpreter"
	ldd "$PYCSTRIP" 2>&1 | grep -q 'not a dynamic executable' || fail "ldd: $(ldd "$PYCSTRIP" 2>&1)"
	size=$(stat -L -c %s "$PYCSTRIP")
	[ "$size" -le 3145728 ] || fail "$size bytes"
	"$PYCSTRIP" --version
}

# A package whose names are not ASCII, compiled, as a wheel (wheel pack
# writes its RECORD), a pax tar.gz (UTF-8 path records) and a ustar tar
# (raw bytes in the header).
make_artifacts() {
	d=demo-1.0
	pkg=$(printf 'd\303\251mo')
	mod=$(printf '\303\274ber')
	mkdir -p "src/$d/$pkg" "src/$d/$d.dist-info"
	printf 'X = "\303\274"\n' >"src/$d/$pkg/$mod.py"
	printf '' >"src/$d/$pkg/__init__.py"
	PYTHONDONTWRITEBYTECODE= "$PY" -m compileall -q "src/$d/$pkg"
	[ -f "src/$d/$pkg/__pycache__/$mod.cpython-311.pyc" ] || fail "no bytecode"
	printf 'Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n' \
	    >"src/$d/$d.dist-info/METADATA"
	printf 'Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n' \
	    >"src/$d/$d.dist-info/WHEEL"
	"$PY" -m wheel pack -d root "src/$d" >/dev/null
	tar -czf root/a.tar.gz --format=pax -C src "$d"
	tar -cf root/b.tar --format=ustar -C src "$d"
	ls root/*.whl >/dev/null
}

# in_root FILE... : runs the binary in an empty root holding only itself
# and FILEs (from root/), with an empty environment; summary in root/s.json.
in_root() {
	cp "$PYCSTRIP" root/pycstrip
	for f in root/*; do
		case " pycstrip $* " in *" ${f#root/} "*) ;; *) rm -rf "$f" ;; esac
	done
	[ "$(find root -mindepth 1 | wc -l)" -eq $(($# + 1)) ] ||
	    fail "root is not empty: $(find root)"
	args=""
	for f in "$@"; do args="$args /$f"; done
	# shellcheck disable=SC2086
	env -i /usr/sbin/chroot root /pycstrip -v --json /s.json $args \
	    >out.txt 2>err.txt || { cat err.txt; fail "exit $?"; }
	cat err.txt
	validate_summary root/s.json
	"$PY" - root/s.json <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1], encoding="utf-8"))
for t in s["targets"]:
    want = "d\u00e9mo/__pycache__/\u00fcber.cpython-311.pyc"
    assert any(n.endswith(want) for n in t["removed"]), (t["path"], t["removed"])
    assert t["status"] == "ok", t
PYEOF
}

case_root_tar() {
	mkdir root
	make_artifacts
	in_root a.tar.gz b.tar
	# Kept names intact, bytecode gone: GNU tar judges.
	for a in root/a.tar.gz root/b.tar; do
		tar -tf "$a" >list.txt
		grep -q "$pkg/$mod.py\$" list.txt || fail "$a: kept name lost"
		! grep -q __pycache__ list.txt || fail "$a: bytecode left"
	done
}

case_root_wheel() {
	mkdir root
	make_artifacts
	whl=$(cd root && ls *.whl)
	in_root "$whl"
	"$PY" -m wheel unpack -d unpacked "root/$whl" >/dev/null
	[ -f "unpacked/demo-1.0/$pkg/$mod.py" ] || fail "wheel: kept name lost"
	[ ! -e "unpacked/demo-1.0/$pkg/__pycache__" ] || fail "wheel: bytecode left"
}

run_case "static: fully static, no interpreter, <= 3 MB" case_linked
if [ "$(id -u)" -eq 0 ] && [ -x /usr/sbin/chroot ]; then
	run_case "static: UTF-8 names in an empty root: pax tar.gz, ustar tar" case_root_tar
	run_case "static: UTF-8 names in an empty root: wheel" case_root_wheel
else
	echo "ok 2 - empty root # SKIP needs root for chroot"
fi
finish
