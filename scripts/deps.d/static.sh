#!/bin/sh
# scripts/deps.d/static.sh - what `make static` and `make dist` need: the
# static libraries pycstrip links (their -dev packages), dpkg-dev and cmake
# to build a slim libarchive from Debian's source package, and that source
# itself (fetched once per machine into the cache, see
# scripts/build-libarchive.sh).  Quick when all is present.
set -eu
HERE=$(cd "$(dirname "$0")/.." && pwd)
missing=""
for p in dpkg-dev cmake libzstd-dev liblzma-dev libbz2-dev zlib1g-dev \
    libjansson-dev libdeflate-dev libc6-dev file; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	echo "deps: installing:$missing"
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# The libarchive source: a network step, so it belongs here.
sh "$HERE/build-libarchive.sh" --fetch-only build/libarchive ||
    echo "deps: could not fetch Debian's libarchive source: 'make static' will fail" >&2
