#!/bin/sh
# scripts/build-libarchive.sh [--fetch-only] DIR - builds a slim static
# libarchive from Debian's own source package into DIR (build/libarchive):
#   DIR/lib/libarchive.a, DIR/include/archive.h, DIR/include/archive_entry.h
# Only the compressors pycstrip links are enabled (zlib, bzip2, liblzma,
# libzstd): no crypto, xml, acl, xattr, iconv, lz4, lzo, front ends or tests,
# so that a fully static pycstrip stays small and needs no NSS.
#
# Once per machine: the source is fetched (apt-get source, with a private
# apt configuration: the system's is not touched) and the built library is
# kept in $PYCSTRIP_CACHE (default ~/.cache/pycstrip), keyed by the
# libarchive version and this script's hash; a fresh checkout copies it.
# Idempotent: does nothing when DIR/lib/libarchive.a exists.
set -eu
fetch_only=0
if [ "${1:-}" = "--fetch-only" ]; then
	fetch_only=1
	shift
fi
DIR=${1:-build/libarchive}
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${PYCSTRIP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pycstrip}
[ "$fetch_only" -eq 0 ] && [ -f "$DIR/lib/libarchive.a" ] && exit 0

ver=$(dpkg-query -W -f='${Version}' libarchive-dev 2>/dev/null || true)
key=$(printf '%s %s %s' "$ver" "$(uname -m)" "$(cat "$HERE/build-libarchive.sh")" |
    sha256sum | cut -c1-16)
built=$CACHE/libarchive-$key
if [ "$fetch_only" -eq 0 ] && [ -f "$built/lib/libarchive.a" ]; then
	mkdir -p "$DIR"
	cp -R "$built/lib" "$built/include" "$DIR/"
	exit 0
fi

# 1. Source: Debian's package for the installed libarchive-dev.
srcdir=$CACHE/src-${ver:-any}
src=$(find "$srcdir" -maxdepth 1 -type d -name 'libarchive-*' 2>/dev/null | head -n 1)
if [ -z "$src" ]; then
	apt=$CACHE/apt.$$
	rm -rf "$apt" "$srcdir.tmp"
	mkdir -p "$apt/parts" "$apt/lists/partial" "$apt/cache/archives/partial" "$srcdir.tmp"
	found=0
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		sed 's/^Types:.*/Types: deb deb-src/' "$f" >"$apt/parts/$(basename "$f")"
		found=1
	done
	if [ -f /etc/apt/sources.list ] && grep -q '^deb ' /etc/apt/sources.list; then
		sed -n 's/^deb \(.*\)/deb-src \1/p' /etc/apt/sources.list >"$apt/parts/main.list"
		found=1
	fi
	[ "$found" -eq 1 ] || { echo "build-libarchive: no apt sources found" >&2; exit 1; }
	set -- -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$apt/parts" \
	    -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" \
	    -o APT::Sandbox::User=root
	apt-get "$@" -qq update
	(cd "$srcdir.tmp" &&
	    { [ -n "$ver" ] && apt-get "$@" -qq source --download-only "libarchive=$ver"; } ||
	    apt-get "$@" -qq source --download-only libarchive)
	(cd "$srcdir.tmp" && dpkg-source --no-check -x ./*.dsc >/dev/null)
	rm -rf "$apt" "$srcdir"
	mv "$srcdir.tmp" "$srcdir"
	src=$(find "$srcdir" -maxdepth 1 -type d -name 'libarchive-*' | head -n 1)
fi
[ "$fetch_only" -eq 1 ] && exit 0

# 2. Build the static library only (~1-3 min on 2 cores).
b=$CACHE/cmake.$$
rm -rf "$b"
mkdir -p "$b"
trap 'rm -rf "$b"' EXIT
(cd "$b" && cmake -S "$src" -B . -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_POSITION_INDEPENDENT_CODE=OFF \
    -DCMAKE_C_FLAGS="-O2 -ffunction-sections -fdata-sections" \
    -DENABLE_OPENSSL=OFF -DENABLE_NETTLE=OFF -DENABLE_MBEDTLS=OFF \
    -DENABLE_LIBB2=OFF -DENABLE_LZ4=OFF -DENABLE_LZO=OFF \
    -DENABLE_LIBXML2=OFF -DENABLE_EXPAT=OFF -DENABLE_PCREPOSIX=OFF \
    -DENABLE_PCRE2POSIX=OFF -DENABLE_CNG=OFF -DENABLE_TAR=OFF \
    -DENABLE_CPIO=OFF -DENABLE_CAT=OFF -DENABLE_XATTR=OFF -DENABLE_ACL=OFF \
    -DENABLE_ICONV=OFF -DENABLE_TEST=OFF -DENABLE_INSTALL=OFF \
    -DENABLE_ZLIB=ON -DENABLE_BZip2=ON -DENABLE_LZMA=ON -DENABLE_ZSTD=ON \
    >"$b/cmake.log" 2>&1) || { tail -n 30 "$b/cmake.log" >&2; exit 1; }
make -C "$b" -j"${JOBS:-2}" archive_static >"$b/make.log" 2>&1 ||
    { tail -n 30 "$b/make.log" >&2; exit 1; }
rm -rf "$built.tmp"
mkdir -p "$built.tmp/include" "$built.tmp/lib"
cp "$src/libarchive/archive.h" "$src/libarchive/archive_entry.h" "$built.tmp/include/"
cp "$b/libarchive/libarchive.a" "$built.tmp/lib/"
rm -rf "$built"
mv "$built.tmp" "$built"
mkdir -p "$DIR"
cp -R "$built/lib" "$built/include" "$DIR/"
echo "build-libarchive: $DIR/lib/libarchive.a ($(basename "$src"))"
