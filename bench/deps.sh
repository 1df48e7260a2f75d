#!/bin/sh
# bench/deps.sh - installs the packages of scripts/packages-bench.txt that are
# missing (apt-get, as root or through sudo).  A package this system does not
# offer (e.g. python3-distutils on a newer Ubuntu) is skipped with a note: the
# benchmark then skips what needs it.  Quick and silent when all is present.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LIST=$ROOT/scripts/packages-bench.txt
installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'
}
missing=""
for p in $(sed 's/#.*//' "$LIST"); do
	installed "$p" || missing="$missing $p"
done
[ -n "$missing" ] || exit 0
if ! command -v apt-get >/dev/null 2>&1; then
	echo "bench-deps: no apt-get here; install by hand:$missing" >&2
	exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
	SUDO=
elif command -v sudo >/dev/null 2>&1; then
	SUDO=sudo
else
	echo "bench-deps: need root or sudo to install:$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
avail=""
for p in $missing; do
	if apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [^(]'; then
		avail="$avail $p"
	else
		echo "bench-deps: $p is not available on this system (skipped)"
	fi
done
if [ -n "$avail" ]; then
	echo "bench-deps: installing:$avail"
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $avail >/dev/null
fi
exit 0
