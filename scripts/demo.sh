#!/bin/sh
# scripts/demo.sh BUILD - the `make demo` run (see examples/demo/README.md).
set -eu
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEMO=$BUILD/demo
rm -rf "$DEMO"
mkdir -p "$DEMO"
cp -R "$ROOT/examples/demo/src" "$DEMO/src"
/usr/bin/python3 -m compileall -q -o 0 -o 1 -o 2 "$DEMO/src"
/usr/bin/python3 -m compileall -q -b "$DEMO/src/demo_pkg/sub"
cp "$DEMO/src/demo_pkg/sub/util.pyc" "$DEMO/src/demo_pkg/orphan.pyc"
echo "== before: $(find "$DEMO/src" -name '*.py[co]' | wc -l) bytecode files"
echo "== $BUILD/pycstrip --json $DEMO/summary.json $DEMO/src"
"$BUILD/pycstrip" --json "$DEMO/summary.json" "$DEMO/src"
echo "== after: $(find "$DEMO/src" -name '*.py[co]' | wc -l) bytecode files"
echo "== summary ($DEMO/summary.json)"
cat "$DEMO/summary.json"
echo "== $BUILD/pycstrip report --format markdown $DEMO/summary.json"
"$BUILD/pycstrip" report --format markdown "$DEMO/summary.json"
