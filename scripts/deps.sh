#!/bin/sh
# scripts/deps.sh - installs the Debian/Ubuntu packages listed in
# scripts/packages.txt that are missing (apt-get, as root or through sudo),
# then runs every scripts/deps.d/*.sh.  Does nothing when all is present.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
missing=""
for p in $(sed 's/#.*//' "$HERE/packages.txt"); do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	echo "deps: installing:$missing"
	if [ "$(id -u)" -eq 0 ]; then
		SUDO=
	elif command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "deps: need root or sudo to install:$missing" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
for s in "$HERE"/deps.d/*.sh; do
	[ -f "$s" ] && sh "$s"
done
exit 0
