#!/bin/sh
# scripts/build-libarchive.sh DIR - builds a slim static libarchive from
# Debian's own source package into DIR (normally build/libarchive):
#   DIR/lib/libarchive.a, DIR/include/archive.h, archive_entry.h
# Only the compressors pycstrip uses are enabled (zlib, bzip2, liblzma,
# libzstd): no crypto, xml, acl, xattr, iconv, lz4, lzo, front ends or tests,
# so that a fully static pycstrip stays small and needs no NSS.
# Idempotent: does nothing when DIR/lib/libarchive.a exists.
set -eu
DIR=${1:-build/libarchive}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
[ -f "$DIR/lib/libarchive.a" ] && exit 0

# 1. Source: Debian's package for the libarchive-dev installed here, fetched
#    with a private apt configuration so that the system's is not touched.
src=$(find "$DIR/src" -maxdepth 1 -type d -name 'libarchive-*' 2>/dev/null | head -n 1)
if [ -z "$src" ]; then
	apt=$DIR/apt
	mkdir -p "$apt/parts" "$apt/lists/partial" "$apt/cache/archives/partial" "$DIR/src"
	found=0
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		sed 's/^Types:.*/Types: deb deb-src/' "$f" >"$apt/parts/$(basename "$f")"
		found=1
	done
	if [ -f /etc/apt/sources.list ]; then
		sed -n 's/^deb \(.*\)/deb-src \1/p' /etc/apt/sources.list >"$apt/parts/main.list"
		[ -s "$apt/parts/main.list" ] && found=1
	fi
	[ "$found" -eq 1 ] || { echo "build-libarchive: no apt sources found" >&2; exit 1; }
	set -- -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$apt/parts" \
	    -o Dir::State::Lists="$apt/lists" -o Dir::Cache="$apt/cache" \
	    -o APT::Sandbox::User=root
	apt-get "$@" -qq update
	ver=$(dpkg-query -W -f='${Version}' libarchive-dev 2>/dev/null || true)
	(cd "$DIR/src" && if [ -n "$ver" ]; then
		apt-get "$@" -qq source --download-only "libarchive=$ver" ||
		    apt-get "$@" -qq source --download-only libarchive
	else
		apt-get "$@" -qq source --download-only libarchive
	fi)
	(cd "$DIR/src" && dpkg-source --no-check -x ./*.dsc >/dev/null)
	src=$(find "$DIR/src" -maxdepth 1 -type d -name 'libarchive-*' | head -n 1)
	rm -rf "$apt"
fi

# 2. Build the static library only.
b=$DIR/cmake
mkdir -p "$b"
(cd "$b" && cmake -S "$src" -B . -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$DIR" -DCMAKE_POSITION_INDEPENDENT_CODE=OFF \
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
mkdir -p "$DIR/include" "$DIR/lib"
cp "$src/libarchive/archive.h" "$src/libarchive/archive_entry.h" "$DIR/include/"
cp "$b/libarchive/libarchive.a" "$DIR/lib/libarchive.a.tmp"
mv "$DIR/lib/libarchive.a.tmp" "$DIR/lib/libarchive.a"
echo "build-libarchive: $DIR/lib/libarchive.a ($(grep -m1 'ARCHIVE_VERSION_ONLY_STRING' "$src/libarchive/archive.h" | sed 's/.*"\(.*\)".*/\1/'))"
