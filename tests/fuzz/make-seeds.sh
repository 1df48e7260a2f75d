#!/bin/sh
# tests/fuzz/make-seeds.sh OUTDIR - writes the fuzzers' seed corpora, one
# directory per target, from real artifacts made at this moment by the real
# tools (nothing opaque is committed):
#   fuzz_match   member names of the wheels in /usr/share/python-wheels and
#                of a compileall'd package, with exclude globs
#   fuzz_record  the RECORD files of those wheels, and variants (CRLF, no
#                final newline, quoted fields, a signature row)
#   fuzz_zip     wheels: wheel pack of a compiled package, zip -r of it
#                (stored, deflated, zip64 with -fz), a zipapp with a
#                shebang, a zip with a comment, a data-descriptor zip
#                (zip from a pipe), an encrypted one, bzip2 as the method,
#                a wheel with a RECORD.jws signature
#   fuzz_tar     tars of that package: ustar, pax, GNU (long names), gzip,
#                bzip2, xz, zstd, a hard link to a removed .pyc; plain
#                ones behind "GZ!" (the harness gzips them); base-256
#                numbers; GNU and pax 1.0 sparse members
set -eu
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1 LC_ALL=C.UTF-8
rm -rf "$OUT"
mkdir -p "$OUT/fuzz_match" "$OUT/fuzz_record" "$OUT/fuzz_zip" "$OUT/fuzz_tar"
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

# A small real package, compiled twice (plain and -O).
P=$W/src/demo-1.0
mkdir -p "$P/demo/sub" "$P/demo-1.0.dist-info"
printf 'X = 1\n' >"$P/demo/__init__.py"
printf 'def f():\n    return "\\u00e9"\n' >"$P/demo/mod.py"
printf 'Y = 2\n' >"$P/demo/sub/__init__.py"
printf 'data\n' >"$P/demo/data.txt"
printf 'caf\303\251\n' >"$P/demo/$(printf 'caf\303\251.txt')"
"$PY" -m compileall -q "$P/demo" >/dev/null
"$PY" -O -m compileall -q "$P/demo" >/dev/null
cp "$(ls "$P"/demo/__pycache__/mod.cpython-*.pyc | head -n 1)" "$P/demo/legacy.pyc"
cp "$P/demo/legacy.pyc" "$P/demo/mod.pyc.4242"
printf 'Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n' >"$P/demo-1.0.dist-info/METADATA"
printf 'Wheel-Version: 1.0\nGenerator: seeds\nRoot-Is-Purelib: true\nTag: py3-none-any\n' \
    >"$P/demo-1.0.dist-info/WHEEL"
mkdir -p "$W/whl"
"$PY" -m wheel pack -d "$W/whl" "$P" >/dev/null
cp "$W"/whl/*.whl "$OUT/fuzz_zip/wheel-pack.whl"
(cd "$P" && zip -qr -0 "$OUT/fuzz_zip/stored.zip" . && zip -qr -9 "$OUT/fuzz_zip/deflated.zip" .)
(cd "$P" && zip -qr -fz "$OUT/fuzz_zip/zip64.zip" demo)
(cd "$P" && zip -qr - demo | cat >"$OUT/fuzz_zip/from-pipe.zip")
(cd "$P" && zip -qr "$W/c.zip" demo && echo "a comment" | zip -qz "$W/c.zip" && cp "$W/c.zip" "$OUT/fuzz_zip/comment.zip")
(cd "$P" && zip -qr -P secret "$OUT/fuzz_zip/encrypted.zip" demo/__pycache__ demo/mod.py)
(cd "$P" && zip -qr -Z bzip2 "$OUT/fuzz_zip/bzip2-method.zip" demo)
cp "$OUT/fuzz_zip/wheel-pack.whl" "$W/signed.whl"
mkdir -p "$W/sig/demo-1.0.dist-info" && printf '{}' >"$W/sig/demo-1.0.dist-info/RECORD.jws"
(cd "$W/sig" && zip -q "$W/signed.whl" demo-1.0.dist-info/RECORD.jws)
cp "$W/signed.whl" "$OUT/fuzz_zip/signed.whl"
mkdir -p "$W/app" && cp -r "$P/demo" "$W/app/" && printf 'import demo\n' >"$W/app/__main__.py"
"$PY" -m zipapp -p '/usr/bin/env python3' -o "$OUT/fuzz_zip/app.pyz" "$W/app"
for w in /usr/share/python-wheels/*.whl; do
	[ -f "$w" ] || continue
	# The big ones only as seeds for the name and RECORD targets.
	unzip -Z1 "$w" | head -n 400 >"$OUT/fuzz_match/$(basename "$w").names"
	rec=$(unzip -Z1 "$w" | grep '\.dist-info/RECORD$' | head -n 1)
	unzip -p "$w" "$rec" | head -c 60000 >"$OUT/fuzz_record/$(basename "$w").RECORD"
done
unzip -p "$OUT/fuzz_zip/wheel-pack.whl" demo-1.0.dist-info/RECORD >"$OUT/fuzz_record/demo.RECORD"
R=$OUT/fuzz_record/demo.RECORD
sed 's/$/\r/' "$R" >"$OUT/fuzz_record/crlf.RECORD"
head -c -1 "$R" >"$OUT/fuzz_record/no-final-newline.RECORD"
{ printf '"demo/a,b.py",sha256=x,1\n"demo/""q"".py",,\n\n'; cat "$R";
  printf 'demo-1.0.dist-info/RECORD.jws,,\n'; } >"$OUT/fuzz_record/quoted.RECORD"
tr '\n' '\r' <"$R" >"$OUT/fuzz_record/cr.RECORD"

# Names: one per line is one input with the name as the path; add globs.
i=0
(cd "$P" && find . | sed 's|^\./||') | while IFS= read -r n; do
	i=$((i + 1))
	printf '%s' "$n" >"$OUT/fuzz_match/name-$i"
done
printf '*.pyc\ndemo/sub\n./demo/__pycache__/mod.cpython-311.pyc' >"$OUT/fuzz_match/globs-1"
printf 'demo/sub/\n[a-z]*\n./a/./b/__pycache__/../x.pyc.123' >"$OUT/fuzz_match/globs-2"

# Tars.
(cd "$W/src" &&
	tar --format=ustar -cf "$OUT/fuzz_tar/ustar.tar" demo-1.0 &&
	tar --format=pax -cf "$OUT/fuzz_tar/pax.tar" demo-1.0 &&
	tar --format=gnu -czf "$OUT/fuzz_tar/gnu.tar.gz" demo-1.0 &&
	tar --format=pax -cjf "$OUT/fuzz_tar/pax.tar.bz2" demo-1.0 &&
	tar --format=gnu -cJf "$OUT/fuzz_tar/gnu.tar.xz" demo-1.0 &&
	tar --format=pax --zstd -cf "$OUT/fuzz_tar/pax.tar.zst" demo-1.0)
L=$W/long/$(printf 'd%.0s' $(seq 1 120))/__pycache__
mkdir -p "$L" && cp "$P/demo/legacy.pyc" "$L/m.cpython-311.pyc"
ln "$L/m.cpython-311.pyc" "$W/long/hard.pyc.keep"
(cd "$W" && tar --format=gnu -cf "$OUT/fuzz_tar/gnu-long-hardlink.tar" long)
(cd "$W" && bsdtar --format=pax -cf "$OUT/fuzz_tar/bsdtar-pax.tar" long)
# Base-256 numbers (GNU: a uid past octal's reach, a date before 1970) and
# sparse members (GNU and pax 1.0).
(cd "$W/src" && tar --format=gnu --owner=big:3000000 --mtime='1901-01-01' \
	-cf "$OUT/fuzz_tar/gnu-base256.tar" demo-1.0/demo/mod.py demo-1.0/demo/__pycache__)
mkdir -p "$W/sp/demo" && truncate -s 300K "$W/sp/demo/sparse.bin" &&
	printf 'x' | dd of="$W/sp/demo/sparse.bin" bs=1 seek=150000 conv=notrunc 2>/dev/null &&
	cp "$P/demo/legacy.pyc" "$W/sp/demo/legacy.pyc"
(cd "$W/sp" && tar --format=gnu --sparse -cf "$OUT/fuzz_tar/gnu-sparse.tar" demo &&
	tar --format=pax --sparse --sparse-version=1.0 -cf "$OUT/fuzz_tar/pax-sparse.tar" demo)
# The harness gzips what follows "GZ!" (fuzz_tar.c).
for t in ustar.tar pax.tar gnu-long-hardlink.tar; do
	{ printf 'GZ!'; cat "$OUT/fuzz_tar/$t"; } >"$OUT/fuzz_tar/gz-wrapped-$t"
done
for d in "$OUT"/*; do
	echo "seeds: $(basename "$d"): $(find "$d" -type f | wc -l) files"
done
