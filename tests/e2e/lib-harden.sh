# tests/e2e/lib-harden.sh - inputs shared by the hardening tests
# (inject.sh, faults.sh, crash.sh); sourced after lib.sh.  Everything is
# built at test time by the real tools: compileall, wheel pack, GNU tar.

# make_pkg DIR : a small package compiled by the real compileall, with a
# sourceless legacy .pyc and an interrupted-write temporary beside it
make_pkg() {
	mkdir -p "$1/pkg/sub" "$1/pkg/data"
	printf 'X = 1\n' >"$1/pkg/__init__.py"
	printf 'def f():\n    return 2\n' >"$1/pkg/mod.py"
	printf 'Y = 3\n' >"$1/pkg/sub/__init__.py"
	printf 'Z = 4\n' >"$1/pkg/sub/deep.py"
	printf 'data\n' >"$1/pkg/data/x.txt"
	"$PY" -m compileall -q "$1/pkg" >/dev/null
	"$PY" -O -m compileall -q "$1/pkg/sub" >/dev/null
	cp "$1/pkg/__pycache__/mod.cpython-"*.pyc "$1/pkg/legacy.pyc"
	cp "$1/pkg/__pycache__/mod.cpython-"*.pyc "$1/pkg/mod.pyc.12345"
}

# make_wheel OUTDIR [EXTRA_KB] : prints the path of a wheel packed by
# `wheel pack`; EXTRA_KB of random (incompressible) data make it bigger
make_wheel() {
	_w=$PYCSTRIP_SCRATCH/wheel-src.$$
	rm -rf "$_w" && mkdir -p "$_w/inj-1.0"
	make_pkg "$_w/inj-1.0"
	if [ "${2:-0}" -gt 0 ]; then
		head -c "$(($2 * 1024))" /dev/urandom >"$_w/inj-1.0/pkg/data/blob.bin"
	fi
	mkdir -p "$_w/inj-1.0/inj-1.0.dist-info"
	printf 'Metadata-Version: 2.1\nName: inj\nVersion: 1.0\n' \
	    >"$_w/inj-1.0/inj-1.0.dist-info/METADATA"
	printf 'Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n' \
	    >"$_w/inj-1.0/inj-1.0.dist-info/WHEEL"
	"$PY" -m wheel pack -d "$1" "$_w/inj-1.0" >/dev/null
	rm -rf "$_w"
	echo "$1/inj-1.0-py3-none-any.whl"
}

# make_targz OUTDIR [EXTRA_KB] : prints the path of an sdist-like tar.gz
make_targz() {
	_t=$PYCSTRIP_SCRATCH/tar-src.$$
	rm -rf "$_t" && mkdir -p "$_t/inj-1.0"
	make_pkg "$_t/inj-1.0"
	if [ "${2:-0}" -gt 0 ]; then
		head -c "$(($2 * 1024))" /dev/urandom >"$_t/inj-1.0/pkg/data/blob.bin"
	fi
	printf 'Metadata-Version: 2.1\nName: inj\nVersion: 1.0\n' >"$_t/inj-1.0/PKG-INFO"
	tar -C "$_t" -czf "$1/inj-1.0.tar.gz" inj-1.0
	rm -rf "$_t"
	echo "$1/inj-1.0.tar.gz"
}

# supported FILE : the archive's rewriter is there (a dry run succeeds)
supported() {
	"$PYCSTRIP" -q -n "$1" >/dev/null 2>&1
}

# no_temp_left DIR : no ".NAME.pycstrip-XXXXXX" below DIR
no_temp_left() {
	_left=$(find "$1" -name '.*.pycstrip-*')
	[ -z "$_left" ] || fail "temporary left: $_left"
}

# no_crash RC ERRFILE : not killed by a signal, no sanitizer report
no_crash() {
	if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:|Segmentation' "$2"; then
		sed 's/^/  /' "$2"
		fail "sanitizer report or crash"
	fi
	[ "$1" -lt 128 ] || fail "killed by signal $(($1 - 128))"
}
