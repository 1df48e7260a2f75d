# scripts/ci-install.sh - finds or fetches the pycstrip binary for the CI
# wrappers.  POSIX sh (the GitLab template runs it on alpine's busybox too).
# Sourced, then `pycstrip_install` is called; it sets PYCSTRIP_EXE (absolute
# path of a working pycstrip) and PYCSTRIP_HOW (given|path|cache|download|
# source), or returns non-zero after a message on standard error.
# .gitlab-ci-template.yml carries a verbatim copy of this file (GitLab cannot
# include a script from the template's project); a test keeps them equal.
#
# Settings, all optional, from the environment:
#   PYCSTRIP_BINARY       a prebuilt pycstrip to use as is
#   PYCSTRIP_VERSION      release wanted: 0.1.0 or v0.1.0; anything else (a
#                         branch, a commit) has no release: build from source
#   PYCSTRIP_RELEASE_URL  base of the release downloads; the asset is at
#                         $PYCSTRIP_RELEASE_URL/vVERSION/pycstrip-VERSION-linux-ARCH.tar.gz
#                         beside SHA256SUMS
#   PYCSTRIP_TOOL_CACHE   tool cache root: a release is kept in
#                         TOOL_CACHE/pycstrip/VERSION/ARCH/ with the marker
#                         TOOL_CACHE/pycstrip/VERSION/ARCH.complete
#   PYCSTRIP_OS, PYCSTRIP_ARCH  runner OS and arch (Linux; X64/ARM64 as
#                         GitHub names them, or x86_64/aarch64/amd64/arm64);
#                         default: uname
#   PYCSTRIP_SOURCE       a pycstrip source tree to build from when no
#                         release fits
#   PYCSTRIP_WORK         scratch directory (default: TMPDIR or /tmp)
#
# Order: the given binary; a pycstrip on PATH that reports the wanted
# version; the tool cache; the release download, checked against
# SHA256SUMS (a mismatch is fatal, never a reason to fall back); a build
# from source.

pycstrip_say() {
	echo "pycstrip: $*" >&2
}

pycstrip_fetch() { # URL FILE
	# debian:*-slim images have no downloader at all: add curl as root.
	if ! command -v curl >/dev/null 2>&1 && ! command -v wget >/dev/null 2>&1 &&
	    ! command -v python3 >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 &&
	    [ "$(id -u)" -eq 0 ]; then
		pycstrip_say "no curl, wget or python3: installing curl with apt-get"
		apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install \
		    -y -qq --no-install-recommends curl ca-certificates >&2 || true
	fi
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL --retry 2 --connect-timeout 20 -o "$2" "$1"
	elif command -v wget >/dev/null 2>&1; then
		# No -T: Debian's busybox 1.35 wget crashes with it.
		wget -q -O "$2" "$1"
	elif command -v python3 >/dev/null 2>&1; then
		python3 -c 'import sys, shutil, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=20) as r, open(sys.argv[2], "wb") as f:
    shutil.copyfileobj(r, f)' "$1" "$2"
	else
		pycstrip_say "no curl, wget or python3 to download with"
		return 1
	fi
}

pycstrip_sha256() { # FILE
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | cut -d' ' -f1
	elif command -v shasum >/dev/null 2>&1; then
		shasum -a 256 "$1" | cut -d' ' -f1
	else
		python3 -c 'import hashlib, sys
print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$1"
	fi
}

# Builds from PYCSTRIP_SOURCE into a scratch build directory: a dynamic
# build is enough, it runs on the machine that built it.
pycstrip_build() { # WHY
	src=${PYCSTRIP_SOURCE:-}
	if [ -z "$src" ] || [ ! -f "$src/Makefile" ] || [ ! -f "$src/src/pycstrip.h" ]; then
		pycstrip_say "$1, and no pycstrip source to build from: give a 'binary', a release 'version', or a 'source' checkout"
		return 1
	fi
	pycstrip_say "$1: building from source in $src"
	for tool in make cc; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			pycstrip_say "cannot build from source: no $tool (install make, gcc, pkg-config, libarchive-dev, libjansson-dev)"
			return 1
		fi
	done
	if ! pkg-config --exists libarchive jansson 2>/dev/null &&
	    command -v apt-get >/dev/null 2>&1; then
		sudo=
		[ "$(id -u)" -eq 0 ] || sudo="sudo -n"
		pycstrip_say "installing the build dependencies with apt-get"
		$sudo apt-get update -qq >&2 &&
		    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
		    --no-install-recommends pkg-config libarchive-dev libjansson-dev >&2 ||
		    pycstrip_say "apt-get failed; trying to build anyway"
	fi
	out=$work/pycstrip-build
	# CI= : no -Werror here; a newer compiler's new warning must not stop it.
	if ! make -C "$src" --no-print-directory CI= BUILD="$out" "$out/pycstrip" >&2; then
		pycstrip_say "build from source failed"
		return 1
	fi
	PYCSTRIP_EXE=$out/pycstrip
	PYCSTRIP_HOW=source
}

pycstrip_install() {
	work=${PYCSTRIP_WORK:-${TMPDIR:-/tmp}}
	PYCSTRIP_EXE=
	PYCSTRIP_HOW=

	# 1. A binary given by the user is used as is.
	if [ -n "${PYCSTRIP_BINARY:-}" ]; then
		case $PYCSTRIP_BINARY in
		/*) exe=$PYCSTRIP_BINARY ;;
		*) exe=$(pwd)/$PYCSTRIP_BINARY ;;
		esac
		if [ ! -f "$exe" ] || [ ! -x "$exe" ]; then
			pycstrip_say "binary '$PYCSTRIP_BINARY' is not an executable file"
			return 1
		fi
		PYCSTRIP_EXE=$exe
		PYCSTRIP_HOW=given
		pycstrip_say "using the given binary $exe"
		return 0
	fi

	version=${PYCSTRIP_VERSION:-}
	version=${version#refs/tags/}
	version=${version#v}
	case $version in
	[0-9]*.[0-9]*.[0-9]*) ;;
	*)
		pycstrip_build "'${PYCSTRIP_VERSION:-}' is not a release version"
		return
		;;
	esac
	case $version in
	*[!0-9A-Za-z.+-]*)
		pycstrip_say "bad version '$version'"
		return 1
		;;
	esac

	# 2. One already on PATH, of the wanted version.
	if exe=$(command -v pycstrip 2>/dev/null) &&
	    [ "$("$exe" --version 2>/dev/null)" = "pycstrip $version" ]; then
		PYCSTRIP_EXE=$exe
		PYCSTRIP_HOW=path
		pycstrip_say "using $exe (version $version, on PATH)"
		return 0
	fi

	os=${PYCSTRIP_OS:-$(uname -s)}
	arch=${PYCSTRIP_ARCH:-$(uname -m)}
	case $arch in
	X64 | x64 | x86_64 | amd64) arch=x86_64 ;;
	ARM64 | arm64 | aarch64) arch=aarch64 ;;
	*) arch= ;;
	esac
	case $os in
	Linux | linux) ;;
	*) arch= ;;
	esac
	if [ -z "$arch" ]; then
		pycstrip_build "no release binary for ${PYCSTRIP_OS:-$(uname -s)}/${PYCSTRIP_ARCH:-$(uname -m)}"
		return
	fi

	# 3. The tool cache, filled by an earlier run or by the runner's image.
	cache=${PYCSTRIP_TOOL_CACHE:-}
	if [ -n "$cache" ] && [ -f "$cache/pycstrip/$version/$arch.complete" ] &&
	    [ -x "$cache/pycstrip/$version/$arch/pycstrip" ]; then
		PYCSTRIP_EXE=$cache/pycstrip/$version/$arch/pycstrip
		PYCSTRIP_HOW=cache
		pycstrip_say "using $PYCSTRIP_EXE (tool cache)"
		return 0
	fi

	# 4. The release asset, checked against SHA256SUMS.
	name=pycstrip-$version-linux-$arch
	base=${PYCSTRIP_RELEASE_URL:-}
	base=${base%/}/v$version
	dl=$(mktemp -d "$work/pycstrip-dl.XXXXXX") || return 1
	if ! pycstrip_fetch "$base/SHA256SUMS" "$dl/SHA256SUMS" ||
	    ! pycstrip_fetch "$base/$name.tar.gz" "$dl/$name.tar.gz"; then
		rm -rf "$dl"
		pycstrip_build "cannot download release $version from $base"
		return
	fi
	want=$(awk -v f="$name.tar.gz" '$2 == f || $2 == "*" f { print $1; exit }' "$dl/SHA256SUMS")
	got=$(pycstrip_sha256 "$dl/$name.tar.gz")
	if [ -z "$want" ]; then
		rm -rf "$dl"
		pycstrip_say "SHA256SUMS of release $version has no line for $name.tar.gz"
		return 1
	fi
	if [ "$want" != "$got" ]; then
		rm -rf "$dl"
		pycstrip_say "checksum mismatch for $name.tar.gz: SHA256SUMS says $want, the download is $got"
		return 1
	fi
	if ! tar -xzf "$dl/$name.tar.gz" -C "$dl" ||
	    [ ! -x "$dl/$name/pycstrip" ] ||
	    [ "$("$dl/$name/pycstrip" --version 2>/dev/null)" != "pycstrip $version" ]; then
		rm -rf "$dl"
		pycstrip_say "release $version: $name.tar.gz does not hold a working pycstrip $version"
		return 1
	fi
	pycstrip_say "downloaded $name.tar.gz (sha256 $got, verified)"
	if [ -n "$cache" ] && mkdir -p "$cache/pycstrip/$version" 2>/dev/null; then
		dest=$cache/pycstrip/$version/$arch
		rm -rf "$dest" "$dest.complete"
		if mv "$dl/$name" "$dest" && touch "$dest.complete"; then
			rm -rf "$dl"
			PYCSTRIP_EXE=$dest/pycstrip
			PYCSTRIP_HOW=download
			return 0
		fi
	fi
	PYCSTRIP_EXE=$dl/$name/pycstrip
	PYCSTRIP_HOW=download
	return 0
}
