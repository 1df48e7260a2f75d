#!/bin/sh
# tests/e2e/tree.sh - tree mode end to end: trees compiled by the real
# Python, stripped by the binary under test, then judged by Python itself
# (imports), by find(1) (what should have gone) and by full listings (what
# must not have changed).  Also the command line: exit codes, output options,
# jobs, hostile trees (symlinks out, a directory swapped for a symlink while
# the walk runs, immutable entries, non-UTF-8 names, 10,000 levels).
. "$(dirname "$0")/lib.sh"

# ---- helpers ----------------------------------------------------------------

# mktree DIR : a small real package set, compiled as Python compiles it:
# copies of json and email (stdlib) and idna and attr (Debian's
# dist-packages), plus "app" with legacy (-b) pyc beside their sources, one
# sourceless module, interrupted-write temporaries and look-alikes to keep.
mktree() {
	mkdir -p "$1"
	cp -a /usr/lib/python3.11/json /usr/lib/python3.11/email "$1"/
	cp -a /usr/lib/python3/dist-packages/idna \
	    /usr/lib/python3/dist-packages/attr "$1"/
	mkdir -p "$1/app/legacy" "$1/app/weird.pyc"
	echo 'VALUE = 42' >"$1/app/__init__.py"
	echo 'LONE = "lone"' >"$1/app/lone.py"
	echo '' >"$1/app/legacy/__init__.py"
	echo 'def f(): return "legacy"' >"$1/app/legacy/mod.py"
	echo 'data' >"$1/app/data.txt"
	echo 'not a module' >"$1/app/weird.pyc/keep.txt"
	echo 'upper case' >"$1/app/X.PYC"
	echo 'windows ext' >"$1/app/ext.pyd"
	echo 'tilde' >"$1/app/mod.pyc~"
	echo 'not digits' >"$1/app/mod.pyc.12a"
	ln -s ../json "$1/app/link-to-json"
	chmod 0640 "$1/app/data.txt"
	"$PY" -m compileall -q -o 0 -o 1 -o 2 "$1" >/dev/null
	"$PY" -m compileall -q -b "$1/app/legacy" "$1/app/lone.py" >/dev/null
	rm "$1/app/lone.py"
	# What an interrupted bytecode write leaves behind (importlib's
	# _write_atomic names its temporary "X.pyc.<id>").
	cp "$1/app/legacy/mod.pyc" "$1/app/legacy/mod.pyc.140234567"
	cp "$1/json/__pycache__/decoder.cpython-311.pyc" \
	    "$1/json/__pycache__/decoder.cpython-311.pyc.99"
	# Something odd inside a __pycache__: all of it goes.
	mkdir -p "$1/email/__pycache__/stray/deeper"
	echo 'stray' >"$1/email/__pycache__/stray/deeper/notes.txt"
	[ -f "$1/app/lone.pyc" ] || fail "compileall -b made no app/lone.pyc"
	[ -f "$1/json/__pycache__/__init__.cpython-311.opt-2.pyc" ] ||
	    fail "compileall -o 2 made no opt-2 pyc"
}

# bc_files DIR : what pycstrip must remove, by find: every non-directory in
# a __pycache__, every .pyc/.pyo/.pyc.NNN/.pyo.NNN that is not a directory.
bc_files() {
	(cd "$1" && find . \( -path '*/__pycache__/*' ! -type d \) -o \
	    \( ! -type d \( -name '*.pyc' -o -name '*.pyo' -o \
	    -regex '.*\.py[co]\.[0-9]+' \) \) | sed 's|^\./||' | LC_ALL=C sort)
}

# bc_dirs DIR : how many directories go (each __pycache__ and all below).
bc_dirs() {
	(cd "$1" && find . -type d \( -name __pycache__ -o \
	    -path '*/__pycache__/*' \) | wc -l)
}

# bc_bytes DIR [LIST] : the sum of the sizes of bc_files (or of the names
# in file LIST, relative to DIR).
bc_bytes() {
	if [ $# -gt 1 ]; then
		_l=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
	else
		_l=$PWD/.bc_files
		bc_files "$1" >"$_l"
	fi
	(cd "$1" && tr '\n' '\0' <"$_l" | xargs -0 -r stat -c %s |
	    awk '{ s += $1 } END { print s + 0 }')
}

# expect_summary SUMMARY INDEX PATH FILES DIRS BYTES MODE : the summary is
# valid and its target INDEX names PATH, lists exactly the names in file
# FILES and counts DIRS directories and BYTES bytes.
expect_summary() {
	validate_summary "$1" || fail "$1 does not validate"
	"$PY" - "$@" <<'PYEOF' || fail "summary $1 is not as expected"
import json, sys
f, idx, path, files, dirs, size, mode = sys.argv[1:8]
s = json.load(open(f, encoding="utf-8"))
t = s["targets"][int(idx)]
want = sorted(l for l in open(files, encoding="utf-8",
                              errors="surrogateescape").read().splitlines() if l)
got = sorted(t["removed"])
errs = []
def check(what, a, b):
    if a != b:
        errs.append("%s: got %r, expected %r" % (what, a, b))
check("mode", s["mode"], mode)
check("path", t["path"], path)
check("kind", t["kind"], "tree")
check("removed_files", t["removed_files"], len(want))
check("removed_dirs", t["removed_dirs"], int(dirs))
check("removed_bytes", t["removed_bytes"], int(size))
if got != want:
    errs.append("removed differs: extra %r missing %r" % (
        sorted(set(got) - set(want))[:10], sorted(set(want) - set(got))[:10]))
tot = s["totals"]
check("totals.targets", tot["targets"], len(s["targets"]))
for k in ("removed_files", "removed_dirs", "removed_bytes"):
    check("totals." + k, tot[k], sum(x[k] for x in s["targets"]))
nerr = sum(x["status"] == "error" for x in s["targets"])
check("totals.errors", tot["errors"], nerr)
check("ok", s["ok"], nerr == 0)
for e in errs:
    print(e, file=sys.stderr)
sys.exit(1 if errs else 0)
PYEOF
}

# same_except_bytecode BEFORE AFTER : listings (lib.sh `listing`) agree on
# every entry that is not bytecode; the mtime of a directory that held a
# removed entry may change; no bytecode is left.
same_except_bytecode() {
	"$PY" - "$1" "$2" <<'PYEOF' || fail "listings differ beyond bytecode"
import os, re, sys
bc_name = re.compile(r".*\.py[co](\.[0-9]+)?$")
def load(fn):
    out = {}
    for line in open(fn, encoding="utf-8", errors="surrogateescape"):
        f = line.rstrip("\n").split(" ")
        out[f[0]] = f
    return out
def is_bc(path, kind):
    parts = path.split("/")
    if "__pycache__" in parts[:-1]:
        return True
    if parts[-1] == "__pycache__" and kind == "d":
        return True
    return kind != "d" and bc_name.match(parts[-1]) is not None
before, after = load(sys.argv[1]), load(sys.argv[2])
gone = [p for p, f in before.items() if is_bc(p, f[1])]
touched = {os.path.dirname(p) for p in gone
           if not is_bc(os.path.dirname(p), "d")}
errs = []
for p, f in before.items():
    if is_bc(p, f[1]):
        if p in after:
            errs.append("bytecode left: " + p)
        continue
    if p not in after:
        errs.append("removed but not bytecode: " + p)
        continue
    a = after[p]
    if f[1] == "d" and p in touched:
        f, a = f[:3] + f[4:], a[:3] + a[4:]
    if f != a:
        errs.append("changed: %s\n  before %s\n  after  %s" % (
            p, " ".join(f), " ".join(a)))
for p in after:
    if p not in before:
        errs.append("new entry: " + p)
if not gone:
    errs.append("the tree had no bytecode: the test proves nothing")
for e in errs[:30]:
    print(e, file=sys.stderr)
sys.exit(1 if errs else 0)
PYEOF
}

# imports DIR CODE : runs CODE with DIR first on the path, writing nothing.
imports() {
	PYTHONPATH=$1 "$PY" -B -c "import sys; sys.dont_write_bytecode = True
$2"
}

IMPORT_ALL='
import os, json, email.mime.text, email.parser, idna, attr, app, app.legacy.mod
root = os.path.realpath(sys.path[1] if sys.path[0] == "" else sys.path[0])
for m in (json, email, idna, attr, app):
    assert os.path.realpath(m.__file__).startswith(root + os.sep), m.__file__
assert json.loads("[1, {\"a\": 2}]") == [1, {"a": 2}]
msg = email.parser.Parser().parsestr("Subject: hi\n\nbody")
assert msg["Subject"] == "hi"
assert email.mime.text.MIMEText("x")["Content-Type"].startswith("text/plain")
assert idna.encode("bücher.example") == b"xn--bcher-kva.example"
@attr.s
class P:
    x = attr.ib()
assert P(1).x == 1
assert app.VALUE == 42 and app.legacy.mod.f() == "legacy"
'

# ---- cases ------------------------------------------------------------------

case_strip_real_tree() {
	mktree t
	listing t >before
	bc_files t >want
	dirs=$(bc_dirs t)
	bytes=$(bc_bytes t)
	[ "$(wc -l <want)" -gt 100 ] || fail "too little bytecode: $(wc -l <want)"
	"$PYCSTRIP" --json s.json t 2>err || fail "exit $?: $(cat err)"
	expect_summary s.json 0 t want "$dirs" "$bytes" strip
	"$PY" -c 'import json,sys; t=json.load(open("s.json"))["targets"][0]
assert t["sourceless"] == ["app/lone.pyc"], t["sourceless"]
assert t["status"] == "ok" and t["error"] is None and t["failures"] == []'
	grep -q 'lone.pyc' err || fail "no warning about the sourceless module"
	listing t >after
	same_except_bytecode before after
	[ -z "$(bc_files t)" ] || fail "bytecode left: $(bc_files t | head)"
	imports "$PWD/t" "$IMPORT_ALL" || fail "stripped packages do not import"
	# The sourceless module went with its bytecode, as the spec says.
	if imports "$PWD/t" 'import app.lone' 2>/dev/null; then
		fail "app.lone still imports"
	fi
	[ -z "$(bc_files t)" ] || fail "importing wrote bytecode"
}
run_case "strip: compileall tree; only bytecode goes; packages import" \
    case_strip_real_tree

case_keep_sourceless() {
	mktree t
	bc_files t | grep -vx 'app/lone.pyc' >want
	dirs=$(bc_dirs t)
	bytes=$(bc_bytes t want)
	"$PYCSTRIP" --keep-sourceless --json s.json t 2>err ||
	    fail "exit $?: $(cat err)"
	expect_summary s.json 0 t want "$dirs" "$bytes" strip
	"$PY" -c 'import json; t=json.load(open("s.json"))["targets"][0]
assert t["sourceless"] == ["app/lone.pyc"], t["sourceless"]
assert "app/lone.pyc" not in t["removed"]'
	[ "$(bc_files t)" = "app/lone.pyc" ] ||
	    fail "left: $(bc_files t | head)"
	grep -q 'lone.pyc' err || fail "no warning about the sourceless module"
	imports "$PWD/t" "$IMPORT_ALL
import app.lone
assert app.lone.LONE == 'lone'
assert app.lone.__file__.endswith('lone.pyc')" ||
	    fail "the kept sourceless module does not import"
}
run_case "--keep-sourceless: lone legacy pyc kept, listed, importable" \
    case_keep_sourceless

case_dry_run() {
	mktree t
	listing t >before
	bc_files t >want
	"$PYCSTRIP" -n --json s.json t 2>err || fail "exit $?: $(cat err)"
	listing t >after
	cmp before after || fail "dry-run changed the tree: $(diff before after | head)"
	expect_summary s.json 0 t want "$(bc_dirs t)" "$(bc_bytes t)" dry-run
	"$PYCSTRIP" --dry-run -q t || fail "--dry-run exit $?"
	listing t >after
	cmp before after || fail "--dry-run -q changed the tree"
}
run_case "dry-run: full listing unchanged, summary says what would go" \
    case_dry_run

case_check() {
	mktree t
	listing t >before
	bc_files t >want
	expect_status 1 "$PYCSTRIP" --check --json s.json t
	listing t >after
	cmp before after || fail "--check changed the tree: $(diff before after | head)"
	expect_summary s.json 0 t want "$(bc_dirs t)" "$(bc_bytes t)" check
	"$PYCSTRIP" -q t
	listing t >before
	expect_status 0 "$PYCSTRIP" --check --json s2.json t
	listing t >after
	cmp before after || fail "--check on a clean tree changed it"
	: >none
	expect_summary s2.json 0 t none 0 0 check
	# A tree with only a kept sourceless module: nothing to remove.
	mkdir -p k && echo x >k/m.pyc
	expect_status 0 "$PYCSTRIP" --check --keep-sourceless -q k
	expect_status 1 "$PYCSTRIP" --check -q k
	[ -f k/m.pyc ] || fail "--check removed k/m.pyc"
}
run_case "--check: exit 1 when found, 0 when clean; changes nothing" case_check

case_symlinks_out() {
	mkdir -p out/pkg/__pycache__ t/pkg
	echo 'outside' >out/target.pyc
	echo 'x = 1' >out/pkg/mod.py
	echo 'bytecode' >out/pkg/__pycache__/mod.cpython-311.pyc
	echo 'lone' >out/pkg/lone.pyc
	echo 'x = 1' >t/pkg/x.py
	ln -s "$PWD/out/target.pyc" t/pkg/x.pyc
	ln -s ../../out/pkg t/pkg/linkdir
	ln -s "$PWD/out/pkg/__pycache__" t/pkg/__pycache__
	ln -s "$PWD/out" t/outlink.pyc
	ln -s /nonexistent/dangling.pyc t/dangling.pyc
	listing out >before
	"$PYCSTRIP" --json s.json t 2>err || fail "exit $?: $(cat err)"
	validate_summary s.json
	listing out >after
	cmp before after || fail "outside changed: $(diff before after)"
	[ ! -e t/pkg/x.pyc ] && [ ! -L t/pkg/x.pyc ] || fail "link x.pyc kept"
	[ ! -L t/outlink.pyc ] || fail "link outlink.pyc kept"
	[ ! -L t/dangling.pyc ] || fail "dangling.pyc kept"
	[ -L t/pkg/linkdir ] || fail "link to a directory removed"
	[ -f t/pkg/x.py ] || fail "x.py removed"
	"$PY" -c 'import json; t=json.load(open("s.json"))["targets"][0]
r = t["removed"]
assert "pkg/x.pyc" in r and "outlink.pyc" in r and "dangling.pyc" in r, r
assert not any(p.startswith("pkg/linkdir/") for p in r), r
assert not any(p.startswith("pkg/__pycache__/") for p in r), r'
}
run_case "symlinks: links removed as links, never followed out" \
    case_symlinks_out

# The swapper: exchanges each directory with a symlink to an outside
# directory (renameat2 RENAME_EXCHANGE), pair after pair of the file
# "pairs", as fast as it can until the file "stop" appears; prints how many
# exchanges succeeded.
SWAPPER='
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
pairs = [tuple(w.encode() for w in l.split()) for l in open("pairs")]
n = 0
open("swapper.ready", "w").close()
while not os.path.exists("stop"):
    for a, b in pairs:
        if libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0:
            n += 1
print(n)
'

# A tree whose directories are many and worth walking, with outside
# directories that hold bytecode the walk must never reach, and the pairs
# to exchange: the top package, every fifth package, every fifth
# __pycache__ and every fifth subpackage, each with a symlink out.  The
# outside directories mirror the names inside, so that a walker that
# re-resolved a path string after an exchange would find files to delete.
mkrace() {
	"$PY" - <<'PYEOF'
import os
def put(p):
    os.makedirs(os.path.dirname(p), exist_ok=True)
    open(p, "wb").close()
def make_sub(d):
    put(d + "/__init__.py"); put(d + "/m.py"); put(d + "/m.pyc")
    for sub in ("", "/__pycache__", "/inner", "/inner/__pycache__"):
        for j in range(3):
            put("%s%s/m%d.cpython-311.pyc" % (d, sub, j))
            put("%s%s/n%d.cpython-311.pyc" % (d, sub, j))
    put(d + "/inner/__init__.py")
outs = ("out", "out2", "out3")
for top in outs:
    make_sub(top)
pairs = []
def pair(real, link, out):
    os.symlink(os.path.abspath(out), link)
    pairs.append(real + " " + link)
for i in range(150):
    d = "t/pkg/sub%03d" % i
    make_sub(d)
    make_sub("out/sub%03d" % i)
    if i % 5 == 0:
        pair(d, "t/pkg/link%03d" % i, outs[i % 3])
    elif i % 5 == 2:
        pair(d + "/__pycache__", d + "/pclink", outs[i % 3])
    elif i % 5 == 4:
        pair(d + "/inner", d + "/innerlink", outs[i % 3])
pair("t/pkg", "t/pkglink", "out")
with open("pairs", "w") as f:
    f.write("\n".join(pairs) + "\n")
PYEOF
}

# quick_listing DIR : every entry below DIR with its type, size, inode and
# mtime, in one process (the outside trees are too big for `listing`).
quick_listing() {
	"$PY" - "$1" <<'PYEOF'
import os, sys
for root, dirs, files in os.walk(sys.argv[1]):
    for n in sorted(dirs + files):
        st = os.lstat(os.path.join(root, n))
        print(os.path.join(root, n), st.st_mode, st.st_size, st.st_ino,
              st.st_mtime_ns)
PYEOF
}

case_swap_race() {
	# The race is about names, not the file system: tmpfs when there is
	# one, for speed.
	if [ -d /dev/shm ] && [ -w /dev/shm ]; then
		base=$(mktemp -d /dev/shm/pycstrip-race.XXXXXX)
		trap 'rm -rf "$base"' EXIT
		cd "$base"
	fi
	run=0
	total=0
	while [ "$run" -lt 10 ]; do
		run=$((run + 1))
		rm -rf t out out2 out3 stop swapper.ready pairs
		mkrace
		for o in out out2 out3; do quick_listing "$o" >"$o.before"; done
		"$PY" -c "$SWAPPER" >swaps &
		spid=$!
		while [ ! -e swapper.ready ]; do sleep 0.01; done
		set +e
		"$PYCSTRIP" --json s.json t 2>err
		rc=$?
		set -e
		: >stop
		wait "$spid"
		n=$(cat swaps)
		total=$((total + n))
		case $rc in 0|3) ;; *) fail "run $run: exit $rc: $(cat err)" ;; esac
		validate_summary s.json
		for o in out out2 out3; do
			quick_listing "$o" >"$o.after"
			cmp "$o.before" "$o.after" || fail "run $run: $o changed:
$(diff "$o.before" "$o.after" | head -20)"
		done
		echo "run $run: exit $rc, $n exchanges"
	done
	[ "$total" -gt 100 ] || fail "the swapper hardly ran ($total exchanges)"
}
run_case "race: directories swapped for symlinks during the walk, 10 runs" \
    case_swap_race

# chattr needs a file system with the immutable flag (ext4 here, not tmpfs).
chattr_ok() {
	_p=$PYCSTRIP_SCRATCH/chattr-probe
	rm -f "$_p" && : >"$_p" || return 1
	if chattr +i "$_p" 2>/dev/null; then
		chattr -i "$_p"
		rm -f "$_p"
		return 0
	fi
	rm -f "$_p"
	return 1
}

case_immutable() {
	trap 'chattr -i t/a/__pycache__/stuck.cpython-311.pyc t/b/frozen \
	    2>/dev/null || true' EXIT
	mkdir -p t/a/__pycache__ t/b/frozen t/c/__pycache__
	echo 'x' >t/a/mod.py
	echo 'pyc' >t/a/__pycache__/stuck.cpython-311.pyc
	echo 'pyc' >t/a/__pycache__/free.cpython-311.pyc
	echo 'x' >t/b/frozen/f.py
	echo 'pyc' >t/b/frozen/f.pyc
	echo 'pyc' >t/c/__pycache__/c.cpython-311.pyc
	echo 'x' >t/c/c.py
	echo 'pyc' >t/c/c.pyc
	chattr +i t/a/__pycache__/stuck.cpython-311.pyc t/b/frozen
	set +e
	"$PYCSTRIP" --json s.json t 2>err
	rc=$?
	set -e
	[ "$rc" -eq 3 ] || fail "exit $rc, expected 3: $(cat err)"
	validate_summary s.json
	[ -f t/a/__pycache__/stuck.cpython-311.pyc ] || fail "stuck pyc vanished"
	[ -f t/b/frozen/f.pyc ] || fail "pyc in a frozen dir vanished"
	[ ! -e t/a/__pycache__/free.cpython-311.pyc ] || fail "free pyc kept"
	[ ! -e t/c/__pycache__ ] || fail "t/c/__pycache__ kept"
	[ ! -e t/c/c.pyc ] || fail "t/c/c.pyc kept"
	grep -q 'stuck.cpython-311.pyc' err || fail "stderr names no entry: $(cat err)"
	"$PY" -c 'import json; s=json.load(open("s.json")); t=s["targets"][0]
assert s["ok"] is False and s["totals"]["errors"] == 1, s["totals"]
assert t["status"] == "error" and t["error"], t["error"]
paths = [f["path"] for f in t["failures"]]
assert "a/__pycache__/stuck.cpython-311.pyc" in paths, paths
assert "b/frozen/f.pyc" in paths, paths
assert all(f["error"] for f in t["failures"])
r = t["removed"]
assert "c/c.pyc" in r and "a/__pycache__/free.cpython-311.pyc" in r, r
assert "a/__pycache__/stuck.cpython-311.pyc" not in r, r
assert "b/frozen/f.pyc" not in r, r'
}
if chattr_ok; then
	run_case "chattr +i: unremovable entries listed, exit 3, rest removed" \
	    case_immutable
else
	_n=$((_n + 1))
	echo "ok $_n - chattr +i: unremovable entries # SKIP no immutable flag on this file system"
fi

case_usage_errors() {
	mkdir -p t/__pycache__ && : >t/__pycache__/a.pyc
	expect_status 2 "$PYCSTRIP"
	expect_status 2 "$PYCSTRIP" --no-such-option t
	expect_status 2 "$PYCSTRIP" -Z t
	expect_status 2 "$PYCSTRIP" --json
	expect_status 2 "$PYCSTRIP" -o out.whl t t
	expect_status 2 "$PYCSTRIP" -j 0 t
	expect_status 2 "$PYCSTRIP" -j many t
	[ -f t/__pycache__/a.pyc ] || fail "a usage error still removed files"
	set +e
	"$PYCSTRIP" --bogus t 2>err
	set -e
	[ "$(wc -l <err)" -le 2 ] || fail "usage error says too much: $(cat err)"
	grep -q -- '--help' err || fail "no pointer to --help: $(cat err)"
	"$PYCSTRIP" --help >help || fail "--help exit $?"
	for o in --dry-run --check --output --json --exclude --keep-sourceless \
	    --verify --jobs --level --quiet --verbose --version --help; do
		grep -q -- "$o" help || fail "--help does not mention $o"
	done
	"$PYCSTRIP" --version >v || fail "--version exit $?"
	grep -q 'pycstrip' v || fail "--version: $(cat v)"
}
run_case "exit 2: no PATH, bad option, -o with two PATHs, bad -j" \
    case_usage_errors

case_failed_targets() {
	mkdir -p a/__pycache__ b/__pycache__
	: >a/__pycache__/x.pyc
	: >b/__pycache__/y.pyc
	mkfifo fifo
	set +e
	timeout 20 "$PYCSTRIP" --json s.json a missing fifo /dev/null b 2>err
	rc=$?
	set -e
	[ "$rc" -ne 124 ] || fail "blocked (on the FIFO?)"
	[ "$rc" -eq 3 ] || fail "exit $rc, expected 3: $(cat err)"
	[ ! -e a/__pycache__ ] && [ ! -e b/__pycache__ ] ||
	    fail "the good targets were not processed"
	grep -q 'missing' err || fail "no message names 'missing': $(cat err)"
	grep -q 'fifo' err || fail "no message names 'fifo': $(cat err)"
	[ -p fifo ] || fail "the FIFO is gone"
	validate_summary s.json
	"$PY" -c 'import json; s=json.load(open("s.json"))
st = [t["status"] for t in s["targets"]]
assert [t["path"] for t in s["targets"]] == ["a", "missing", "fifo", "/dev/null", "b"]
assert st == ["ok", "error", "error", "error", "ok"], st
assert s["ok"] is False and s["totals"]["errors"] == 3
assert all(t["error"] for t in s["targets"] if t["status"] == "error")'
}
run_case "exit 3: missing path, FIFO, device; others still processed" \
    case_failed_targets

case_excludes() {
	mkdir -p t/vendor/__pycache__ t/pkg/__pycache__ t/pkg/sub/__pycache__ \
	    t/deep/vendor t/skip/x/__pycache__
	for f in t/vendor/__pycache__/v.cpython-311.pyc t/deep/vendor/d.pyc \
	    t/pkg/keep.pyc t/pkg/other.pyc t/pkg/__pycache__/p.cpython-311.pyc \
	    t/pkg/sub/__pycache__/s.cpython-311.pyc \
	    t/skip/x/__pycache__/k.cpython-311.pyc; do
		echo b >"$f"
	done
	: >t/pkg/keep.py
	: >t/pkg/other.py
	"$PYCSTRIP" -x vendor -x 'pkg/keep*' --exclude 'skip/' \
	    -x pkg/sub/__pycache__ --json s.json t 2>err ||
	    fail "exit $?: $(cat err)"
	validate_summary s.json
	for f in t/vendor/__pycache__/v.cpython-311.pyc t/deep/vendor/d.pyc \
	    t/pkg/keep.pyc t/pkg/sub/__pycache__/s.cpython-311.pyc \
	    t/skip/x/__pycache__/k.cpython-311.pyc; do
		[ -f "$f" ] || fail "excluded $f was removed"
	done
	[ ! -e t/pkg/other.pyc ] || fail "t/pkg/other.pyc kept"
	[ ! -e t/pkg/__pycache__ ] || fail "t/pkg/__pycache__ kept"
	printf '%s\n' pkg/__pycache__/p.cpython-311.pyc pkg/other.pyc >want
	expect_summary s.json 0 t want 1 4 strip
}
run_case "-x: excluded paths and directories are left alone" case_excludes

case_vcs_and_trailing_slash() {
	mkdir -p t/.git/objects/__pycache__ t/.hg/store t/.svn/pristine \
	    t/sub/.git t/.github/__pycache__ t/pkg/__pycache__
	for f in t/.git/objects/__pycache__/a.cpython-311.pyc t/.git/b.pyc \
	    t/.hg/store/c.pyc t/.svn/pristine/d.pyo t/sub/.git/e.pyc \
	    t/.github/__pycache__/f.cpython-311.pyc \
	    t/pkg/__pycache__/g.cpython-311.pyc; do
		echo b >"$f"
	done
	listing t/.git >git-before
	"$PYCSTRIP" -v --json s.json t/ 2>err || fail "exit $?: $(cat err)"
	listing t/.git >git-after
	cmp git-before git-after || fail ".git changed"
	for f in t/.hg/store/c.pyc t/.svn/pristine/d.pyo t/sub/.git/e.pyc; do
		[ -f "$f" ] || fail "$f removed from a version-control directory"
	done
	[ ! -e t/.github/__pycache__ ] || fail ".github is not version control"
	[ ! -e t/pkg/__pycache__ ] || fail "t/pkg/__pycache__ kept"
	printf '%s\n' .github/__pycache__/f.cpython-311.pyc \
	    pkg/__pycache__/g.cpython-311.pyc >want
	expect_summary s.json 0 t/ want 2 4 strip
	grep -q 't/pkg/__pycache__/g.cpython-311.pyc' err ||
	    fail "-v: $(cat err)"
	! grep -q '//' err || fail "-v doubled a slash: $(cat err)"
}
run_case "version-control dirs are not entered; PATH kept as given" \
    case_vcs_and_trailing_slash

case_verbose_and_quiet() {
	mktree t
	cp -a t t2
	bc_files t >want
	"$PYCSTRIP" -v t >out 2>err || fail "exit $?"
	[ ! -s out ] || fail "-v wrote to stdout: $(head out)"
	"$PY" - t want err <<'PYEOF' || fail "-v does not list every removed path"
import sys
root, want, err = sys.argv[1:]
text = open(err, encoding="utf-8", errors="surrogateescape").read()
missing = [p for p in open(want).read().split("\n")
           if p and (root + "/" + p) not in text]
if missing:
    print("not listed:", missing[:10], file=sys.stderr)
    sys.exit(1)
PYEOF
	# -q: nothing on standard error when all goes well (the sourceless
	# warning included), and nothing on standard output.
	rm t2/app/lone.pyc
	"$PYCSTRIP" -q t2 >out 2>err || fail "-q exit $?"
	[ ! -s err ] || fail "-q printed: $(head err)"
	[ ! -s out ] || fail "-q wrote to stdout: $(head out)"
	[ -z "$(bc_files t2)" ] || fail "-q did not strip"
	# -q still reports a failed target.
	set +e
	"$PYCSTRIP" -q missing 2>err
	rc=$?
	set -e
	[ "$rc" -eq 3 ] || fail "-q missing: exit $rc"
	grep -q missing err || fail "-q hid the error"
}
run_case "-v lists every removed path on stderr; -q is quiet" \
    case_verbose_and_quiet

case_json_stdout() {
	mktree t
	bc_files t >want
	dirs=$(bc_dirs t)
	bytes=$(bc_bytes t)
	"$PYCSTRIP" -v --json - t >out 2>err || fail "exit $?"
	"$PY" -c 'import json,sys; json.load(open("out", encoding="utf-8"))' ||
	    fail "stdout is not only JSON: $(head -c 300 out)"
	expect_summary out 0 t want "$dirs" "$bytes" strip
	[ -s err ] || fail "-v printed nothing on stderr"
}
run_case "--json -: standard output holds only the JSON summary" \
    case_json_stdout

case_jobs_order() {
	mktree big
	for n in 1 2 3 4; do
		mkdir -p "small$n/p/__pycache__"
		i=0
		while [ "$i" -lt "$n" ]; do
			: >"small$n/p/__pycache__/m$i.cpython-311.pyc"
			i=$((i + 1))
		done
	done
	bc_files big >want-big
	dirs=$(bc_dirs big)
	bytes=$(bc_bytes big)
	"$PYCSTRIP" -j 2 --json s.json big small3 small1 small4 small2 2>err ||
	    fail "exit $?: $(cat err)"
	validate_summary s.json
	expect_summary s.json 0 big want-big "$dirs" "$bytes" strip
	"$PY" -c 'import json; s=json.load(open("s.json"))
p = [t["path"] for t in s["targets"]]
assert p == ["big", "small3", "small1", "small4", "small2"], p
for t in s["targets"][1:]:
    n = int(t["path"][-1])
    assert t["removed_files"] == n and t["removed_dirs"] == 1, t
    assert sorted(t["removed"]) == ["p/__pycache__/m%d.cpython-311.pyc" % i
                                    for i in range(n)], t["removed"]'
	for n in 1 2 3 4; do
		[ ! -e "small$n/p/__pycache__" ] || fail "small$n not stripped"
	done
}
run_case "-j 2: several targets, summary in the order given" case_jobs_order

case_non_utf8_names() {
	"$PY" - <<'PYEOF'
import os
os.makedirs(b"t/caf\xe9/__pycache__")
for p in (b"t/caf\xe9/__pycache__/m.cpython-311.pyc", b"t/\xff.pyc",
          b"t/\xff.py", b"t/ok\xc3\xa9.pyc", b"t/ok\xc3\xa9.py",
          b"t/lone\xfe.pyc"):
    open(p, "wb").close()
PYEOF
	"$PYCSTRIP" --json s.json t 2>err || fail "exit $?: $(cat err)"
	validate_summary s.json
	"$PY" - <<'PYEOF' || fail "names are not escaped as expected"
import json, os
raw = open("s.json", "rb").read()
raw.decode("utf-8")  # strictly valid UTF-8
t = json.loads(raw)["targets"][0]
want = sorted(["caf\\xe9/__pycache__/m.cpython-311.pyc", "\\xff.pyc",
               "ok\u00e9.pyc", "lone\\xfe.pyc"])
assert sorted(t["removed"]) == want, t["removed"]
assert t["sourceless"] == ["lone\\xfe.pyc"], t["sourceless"]
left = sorted(os.listdir(b"t"))
assert left == sorted([b"caf\xe9", b"\xff.py", b"ok\xc3\xa9.py"]), left
assert os.listdir(b"t/caf\xe9") == [], os.listdir(b"t/caf\xe9")
PYEOF
}
run_case "non-UTF-8 names: removed, and written as \\xNN in the summary" \
    case_non_utf8_names

case_deep_chain() {
	"$PY" - <<'PYEOF'
import os
fd = os.open(".", os.O_RDONLY)
os.mkdir("chain", dir_fd=fd)
nfd = os.open("chain", os.O_RDONLY, dir_fd=fd); os.close(fd); fd = nfd
for i in range(10000):
    if i % 1000 == 999:
        for n in ("m.py", "m.pyc"):
            os.close(os.open(n, os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
    os.mkdir("d", dir_fd=fd)
    nfd = os.open("d", os.O_RDONLY, dir_fd=fd); os.close(fd); fd = nfd
os.mkdir("__pycache__", dir_fd=fd)
pc = os.open("__pycache__", os.O_RDONLY, dir_fd=fd)
os.close(os.open("x.cpython-311.pyc", os.O_CREAT | os.O_WRONLY, 0o644,
                 dir_fd=pc))
os.close(pc); os.close(fd)
PYEOF
	set +e
	(ulimit -n 1024 && exec "$PYCSTRIP" --json s.json chain) 2>err
	rc=$?
	set -e
	[ "$rc" -eq 0 ] || fail "exit $rc: $(head -c 500 err)"
	validate_summary s.json
	"$PY" - <<'PYEOF' || fail "the chain is not as it should be"
import json, os
t = json.load(open("s.json"))["targets"][0]
assert (t["removed_files"], t["removed_dirs"]) == (11, 1), t
assert len(t["removed"]) == 11
assert max(p.count("/") for p in t["removed"]) == 10001
fd = os.open("chain", os.O_RDONLY)
for i in range(10000):
    names = set(os.listdir(fd))
    want = {"d", "m.py"} if i % 1000 == 999 else {"d"}
    assert names == want, (i, names)
    nfd = os.open("d", os.O_RDONLY, dir_fd=fd); os.close(fd); fd = nfd
assert os.listdir(fd) == [], os.listdir(fd)
os.close(fd)
PYEOF
}
run_case "10,000-level chain under ulimit -n 1024" case_deep_chain

# Sixteen deep chains walked by sixteen threads (what the default thread
# count gives on a 16-core machine) must also fit in 1,024 descriptors.  On
# tmpfs when there is one (64,000 directories), four runs: an overrun
# depends on how the threads interleave.
case_wide_deep_threads() {
	base=.
	if [ -d /dev/shm ] && [ -w /dev/shm ]; then
		base=$(mktemp -d /dev/shm/pycstrip-wide.XXXXXX)
		trap 'rm -rf "$base"' EXIT
	fi
	"$PY" - "$base" <<'PYEOF'
import os, sys
top = os.open(sys.argv[1], os.O_RDONLY)
os.mkdir("w", dir_fd=top)
w = os.open("w", os.O_RDONLY, dir_fd=top)
for c in range(16):
    name = "c%02d" % c
    os.mkdir(name, dir_fd=w)
    fd = os.open(name, os.O_RDONLY, dir_fd=w)
    for i in range(4000):
        os.mkdir("d", dir_fd=fd)
        nfd = os.open("d", os.O_RDONLY, dir_fd=fd); os.close(fd); fd = nfd
    os.mkdir("__pycache__", dir_fd=fd)
    pc = os.open("__pycache__", os.O_RDONLY, dir_fd=fd)
    os.close(os.open("x.cpython-311.pyc", os.O_CREAT | os.O_WRONLY, 0o644,
                     dir_fd=pc))
    os.close(pc); os.close(fd)
PYEOF
	for mode in -n -n -n --json=s.json; do
		set +e
		(ulimit -n 1024 && exec "$PYCSTRIP" --threads 16 -q "$mode" \
		    "$base/w") 2>err
		rc=$?
		set -e
		[ "$rc" -eq 0 ] || fail "$mode: exit $rc: $(head -c 300 err)"
	done
	validate_summary s.json
	"$PY" -c 'import json; t=json.load(open("s.json"))["targets"][0]
assert (t["removed_files"], t["removed_dirs"]) == (16, 16), t["error"]'
}
if "$PYCSTRIP" --help 2>/dev/null | grep -q -- --threads; then
	run_case "16 deep chains, --threads 16, under ulimit -n 1024" \
	    case_wide_deep_threads
else
	_n=$((_n + 1))
	echo "ok $_n - 16 deep chains under ulimit -n 1024 # SKIP no --threads"
fi


case_sourceless_words() {
	mkdir -p t/app
	echo x >t/app/lone.pyc
	mkfifo t/app/pipe.pyc
	"$PYCSTRIP" -n --json s.json t 2>err || fail "exit $?: $(cat err)"
	grep -q 'lone.pyc: sourceless module would be removed' err ||
	    fail "dry run does not say would: $(cat err)"
	! grep -q 'pipe.pyc' err || fail "a FIFO called a module: $(cat err)"
	"$PY" -c 'import json; t=json.load(open("s.json"))["targets"][0]
assert t["sourceless"] == ["app/lone.pyc"], t["sourceless"]
assert sorted(t["removed"]) == ["app/lone.pyc", "app/pipe.pyc"], t["removed"]'
	"$PYCSTRIP" t 2>err || fail "exit $?: $(cat err)"
	grep -q 'lone.pyc: sourceless module removed' err ||
	    fail "no warning: $(cat err)"
	[ ! -e t/app/lone.pyc ] && [ ! -e t/app/pipe.pyc ] ||
	    fail "left: $(ls t/app)"
}
run_case "sourceless: dry run says 'would be removed'; a FIFO is no module" \
    case_sourceless_words

# Overlapping targets on two jobs: what one removes under the other's feet
# is gone, not an error (as rm -rf and pyclean take it).
case_overlap_jobs() {
	i=0
	while [ $i -lt 40 ]; do
		mkdir -p "t/pkg/d$i/__pycache__/x"
		j=0
		while [ $j -lt 30 ]; do
			: >"t/pkg/d$i/__pycache__/x/m$j.pyc"
			j=$((j + 1))
		done
		i=$((i + 1))
	done
	tar -cf t.tar t
	for k in 1 2 3 4 5; do
		rm -rf t
		tar -xf t.tar
		"$PYCSTRIP" -q -j 2 t t/pkg t/pkg/d1 2>err ||
		    fail "round $k: exit $?: $(head -c 300 err)"
		[ -z "$(find t -name __pycache__)" ] || fail "round $k: left some"
	done
}
run_case "overlapping targets on -j 2: vanished entries are not errors" \
    case_overlap_jobs

finish
