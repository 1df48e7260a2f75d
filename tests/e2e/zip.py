#!/usr/bin/python3
"""End-to-end tests of archive mode for the zip family (wheels, eggs, zips,
zipapps).

Every input is made at test time by real tools (python -m build, wheel
pack, setuptools bdist_egg, zipapp, Info-ZIP zip, Python's zipfile for
zip64) and every result is judged by independent clients (wheel unpack,
installer, pip, unzip -t, zipimport, running the .pyz) and by the strict
checker below, which compares each kept member's local header and
compressed bytes with the input's.  Prints "ok N - name" lines.
"""
import base64
import csv
import hashlib
import io
import json
import os
import random
import shutil
import stat
import struct
import subprocess
import sys
import traceback
import zipfile

PY = "/usr/bin/python3"
BIN = os.environ["PYCSTRIP"]
ROOT = os.environ.get("PYCSTRIP_ROOT",
                      os.path.dirname(os.path.dirname(os.path.dirname(
                          os.path.abspath(__file__)))))
SCRATCH = os.environ.get("PYCSTRIP_SCRATCH", "/tmp/pycstrip-e2e-zip")
SCHEMA = os.path.join(ROOT, "schema", "summary.schema.json")
ENV = dict(os.environ, LC_ALL="C.UTF-8", PYTHONDONTWRITEBYTECODE="1",
           PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_ROOT_USER_ACTION="ignore")

n_cases = 0
n_failed = 0


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def run(*args, ok=(0,), cwd=None, inp=None):
    p = subprocess.run([str(a) for a in args], capture_output=True, env=ENV,
                       cwd=cwd, input=inp, timeout=300)
    if ok is not None and p.returncode not in ok:
        raise Fail("%s exited %d\nstdout: %s\nstderr: %s" % (
            " ".join(map(str, args)), p.returncode,
            p.stdout.decode(errors="replace")[-2000:],
            p.stderr.decode(errors="replace")[-2000:]))
    return p


def pycstrip(*args, ok=(0,)):
    return run(BIN, *args, ok=ok)


def case(name):
    def wrap(fn):
        global n_cases, n_failed
        n_cases += 1
        d = os.path.join(SCRATCH, "%03d" % n_cases)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        old = os.getcwd()
        os.chdir(d)
        try:
            fn()
            print("ok %d - %s" % (n_cases, name), flush=True)
            os.chdir(old)
            shutil.rmtree(d, ignore_errors=True)
        except Exception as e:  # noqa: BLE001
            n_failed += 1
            os.chdir(old)
            print("not ok %d - %s (kept %s)" % (n_cases, name, d), flush=True)
            for line in (str(e) if isinstance(e, Fail) else
                         traceback.format_exc()).splitlines()[-30:]:
                print("#   " + line)
        return fn
    return wrap


def summary(path):
    """Loads a JSON summary and validates it against the schema."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if os.path.exists(SCHEMA):
        import jsonschema
        with open(SCHEMA) as f:
            schema = json.load(f)
        jsonschema.validate(doc, schema)
    return doc


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def snap(path):
    st = os.stat(path)
    return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size, sha(path))


def no_temp_left(d="."):
    left = [n for n in os.listdir(d) if ".pycstrip-" in n]
    check(not left, "temporary files left: %r" % left)


# --------------------------------------------------------------------------
# A zip reader of our own, strict: what PyPI's upload check and a streaming
# reader would see must be what the central directory says.

class Entry:
    pass


def u16(b, o):
    return struct.unpack_from("<H", b, o)[0]


def u32(b, o):
    return struct.unpack_from("<I", b, o)[0]


def u64(b, o):
    return struct.unpack_from("<Q", b, o)[0]


def extras(b):
    out, i = [], 0
    while i < len(b):
        check(len(b) - i >= 4, "malformed extra field")
        hid, sz = struct.unpack_from("<HH", b, i)
        check(i + 4 + sz <= len(b), "malformed extra field")
        out.append((hid, b[i + 4:i + 4 + sz]))
        i += 4 + sz
    return out


def without_zip64(b):
    return [x for x in extras(b) if x[0] != 1]


def parse(path, strict=True):
    """Parses path; with strict, asserts the rules pycstrip's output keeps."""
    data = open(path, "rb").read()
    z = {"data": data}
    pos = data.rfind(b"PK\x05\x06")
    check(pos >= 0, "no end record")
    count, cd_size, cd_off, clen = struct.unpack_from("<HIIH", data, pos + 10)
    z["comment"] = data[pos + 22:pos + 22 + clen]
    if strict:
        check(pos + 22 + clen == len(data), "bytes after the end record")
    cd_end = pos
    z["zip64"] = data[pos - 20:pos - 16] == b"PK\x06\x07"
    if z["zip64"]:
        e64 = u64(data, pos - 12)
        check(data[e64:e64 + 4] == b"PK\x06\x06", "zip64 end record missing")
        count, cd_size, cd_off = struct.unpack_from("<QQQ", data, e64 + 32)
        cd_end = e64
        if strict:
            check(e64 + 56 == pos - 20, "zip64 end record misplaced")
    # A prefix glued on in front: offsets count from the zip's own start.
    delta = cd_end - cd_size - cd_off
    if strict:
        check(delta == 0, "central directory misplaced")
    cd_off += delta
    entries = []
    o = cd_off
    names = set()
    for _ in range(count):
        check(data[o:o + 4] == b"PK\x01\x02", "bad central header")
        e = Entry()
        (e.made_by, e.needed, e.flags, e.method, e.time, e.date, e.crc,
         e.csize, e.usize, nl, xl, cl, disk, e.int_attr, e.ext_attr,
         e.offset) = struct.unpack_from("<HHHHHHIIIHHHHHII", data, o + 4)
        e.name = data[o + 46:o + 46 + nl]
        e.cextra = data[o + 46 + nl:o + 46 + nl + xl]
        e.ccomment = data[o + 46 + nl + xl:o + 46 + nl + xl + cl]
        z64 = dict(extras(e.cextra)).get(1, b"")
        k = 0
        for f in ("usize", "csize", "offset"):
            if getattr(e, f) == 0xFFFFFFFF:
                setattr(e, f, u64(z64, k))
                k += 8
        if strict:
            check(e.name not in names, "duplicate name %r" % e.name)
            # zip64 only where needed
            for f in ("usize", "csize", "offset"):
                if getattr(e, f) < 0xFFFFFFFF:
                    check(struct.unpack_from(
                        "<I", data, o + {"usize": 24, "csize": 20,
                                         "offset": 42}[f])[0] ==
                        getattr(e, f), "needless zip64 field")
        names.add(e.name)
        e.offset += delta
        o += 46 + nl + xl + cl
        lo = e.offset
        check(data[lo:lo + 4] == b"PK\x03\x04", "no local header for %r" %
              e.name)
        (e.lneeded, e.lflags, e.lmethod, e.ltime, e.ldate, e.lcrc, lcs, lus,
         lnl, lxl) = struct.unpack_from("<HHHHHIIIHH", data, lo + 4)
        e.lname = data[lo + 30:lo + 30 + lnl]
        e.lextra = data[lo + 30 + lnl:lo + 30 + lnl + lxl]
        e.local = data[lo:lo + 30 + lnl + lxl]
        e.dstart = lo + 30 + lnl + lxl
        e.raw = data[e.dstart:e.dstart + e.csize]
        e.end = e.dstart + e.csize
        if strict:
            check(not e.flags & 8 and not e.lflags & 8,
                  "data descriptor on %r" % e.name)
            check(e.lname == e.name, "local name differs: %r" % e.name)
            check(e.lmethod == e.method and e.lflags == e.flags,
                  "local method/flags differ: %r" % e.name)
            check(e.lcrc == e.crc, "local crc differs: %r" % e.name)
            lz = dict(extras(e.lextra)).get(1, b"")
            k = 0
            if lus == 0xFFFFFFFF:
                lus = u64(lz, k)
                k += 8
            if lcs == 0xFFFFFFFF:
                lcs = u64(lz, k)
            check((lcs, lus) == (e.csize, e.usize),
                  "local sizes differ: %r" % e.name)
        entries.append(e)
    if strict:
        # Members follow each other with nothing between them.
        by_off = sorted(entries, key=lambda e: e.offset)
        for a, b in zip(by_off, by_off[1:]):
            check(a.end == b.offset, "gap or overlap after %r" % a.name)
        if by_off:
            check(by_off[-1].end == cd_off, "gap before the directory")
        check([e.name for e in by_off] == [e.name for e in entries],
              "central order differs from file order")
    z["entries"] = entries
    z["prefix"] = data[:min([e.offset for e in entries] or [cd_off])]
    z["by_name"] = {e.name: e for e in entries}
    return z


def strict_compare(out_path, in_path, changed=()):
    """Strict output checks, then each kept member against the input:
    same local header (unless the input had a data descriptor: then the
    same fields but bit 3, CRC and sizes), same compressed bytes, same
    central fields but offsets; same order; same prefix and comment.
    Names in changed (the RECORD) may differ in content.  Returns the
    set of names removed."""
    out = parse(out_path)
    inp = parse(in_path, strict=False)
    check(out["prefix"] == inp["prefix"], "prefix changed")
    check(out["comment"] == inp["comment"], "comment changed")
    in_names = [e.name for e in inp["entries"]]
    out_names = [e.name for e in out["entries"]]
    it = iter(in_names)
    check(all(n in it for n in out_names), "member order changed")
    for e in out["entries"]:
        i = inp["by_name"][e.name]
        for f in ("made_by", "time", "date", "int_attr", "ext_attr",
                  "ccomment"):
            check(getattr(e, f) == getattr(i, f), "%s of %r changed" %
                  (f, e.name))
        check(without_zip64(e.cextra) == without_zip64(i.cextra),
              "central extra of %r changed" % e.name)
        if e.name in changed:
            continue
        check(e.raw == i.raw, "compressed bytes of %r changed" % e.name)
        for f in ("method", "crc", "csize", "usize"):
            check(getattr(e, f) == getattr(i, f), "%s of %r changed" %
                  (f, e.name))
        check(e.flags == i.flags & ~8, "flags of %r changed" % e.name)
        if not i.flags & 8:
            check(e.local == i.local, "local header of %r changed" % e.name)
        else:
            check((e.lneeded, e.ltime, e.ldate) ==
                  (i.lneeded, i.ltime, i.ldate) and
                  without_zip64(e.lextra) == without_zip64(i.lextra),
                  "local header of %r changed" % e.name)
    return set(in_names) - set(out_names)


def record_rows(whl):
    with zipfile.ZipFile(whl) as z:
        name = [n for n in z.namelist()
                if n.count("/") == 1 and n.endswith(".dist-info/RECORD")][0]
        return z.read(name)


def judge_wheel(whl, tmp="judge"):
    """wheel unpack (hashes), installer (RECORD), pip install --target."""
    shutil.rmtree(tmp, ignore_errors=True)
    run(PY, "-m", "wheel", "unpack", "-d", tmp + "/unpacked", whl)
    run(PY, "-m", "installer", "--no-compile-bytecode", "--destdir",
        tmp + "/inst", whl)
    run(PY, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
        "--no-compile", "--target", tmp + "/pip", whl)
    # PyPI's RECORD rule: RECORD names == files (signatures aside).
    with zipfile.ZipFile(whl) as z:
        files = {n for n in z.namelist() if not n.endswith(("/", "\\")) and
                 not n.endswith(("/RECORD.jws", "/RECORD.p7s"))}
        rec = record_rows(whl).decode()
        names = {r[0] for r in csv.reader(rec.splitlines()) if r}
        check(files == names, "RECORD %r != files %r" % (names ^ files,
                                                          files ^ names))
        check(z.testzip() is None, "zipfile testzip failed")
    run("unzip", "-tq", whl)


# --------------------------------------------------------------------------
# Inputs

def make_project(d, name="demo"):
    """A setuptools project whose package tree holds __pycache__, a legacy
    sourceless .pyc, names with commas, quotes and non-ASCII."""
    pkg = os.path.join(d, "src", name)
    os.makedirs(pkg)
    with open(os.path.join(d, "pyproject.toml"), "w") as f:
        f.write('[build-system]\nrequires = ["setuptools"]\n'
                'build-backend = "setuptools.build_meta"\n'
                '[project]\nname = "%s"\nversion = "1.0"\n'
                '[tool.setuptools.packages.find]\nwhere = ["src"]\n'
                '[tool.setuptools.package-data]\n'
                '"*" = ["*.pyc", "__pycache__/*", "*.txt"]\n' % name)
    files = {"__init__.py": "X = 1\n", "mod.py": "def f():\n    return 2\n",
             "café.py": "Y = 'é'\n", "a,b \"q\".txt": "data\n"}
    for n, t in files.items():
        with open(os.path.join(pkg, n), "w", encoding="utf-8") as f:
            f.write(t)
    run(PY, "-m", "compileall", "-q", pkg)
    # A legacy sourceless module: it imports with no .py beside it.
    run(PY, "-c", "import py_compile,sys; py_compile.compile(sys.argv[1],"
        " cfile=sys.argv[2])", os.path.join(pkg, "mod.py"),
        os.path.join(pkg, "legacy.pyc"))
    return pkg


def build_wheel(d, name="demo"):
    make_project(d, name)
    run(PY, "-m", "build", "--wheel", "--no-isolation", "-o", "dist", d)
    whl = [os.path.join("dist", n) for n in os.listdir("dist")
           if n.endswith(".whl")][0]
    return whl


_wheel_cache = {}


def fresh_wheel(name="demo"):
    """A built wheel, copied into the current directory (built once)."""
    if name not in _wheel_cache:
        d = os.path.join(SCRATCH, "wheel-" + name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        old = os.getcwd()
        os.chdir(d)
        try:
            _wheel_cache[name] = os.path.abspath(build_wheel("proj", name))
        finally:
            os.chdir(old)
    src = _wheel_cache[name]
    shutil.copy(src, os.path.basename(src))
    return os.path.basename(src)


# --------------------------------------------------------------------------
# Cases

@case("wheel from python -m build: bytecode out, RECORD rows dropped, "
      "installs and verifies")
def _():
    whl = fresh_wheel()
    shutil.copy(whl, "orig.whl")
    before = record_rows(whl)
    check(b"__pycache__" in before, "the test wheel holds no bytecode")
    p = pycstrip("--json", "s.json", whl)
    s = summary("s.json")
    t = s["targets"][0]
    check(t["format"] == "zip" and t["compression"] is None, t)
    check(t["record_updated"] is True, t)
    want = {"demo/__pycache__/__init__.cpython-%d%d.pyc" % sys.version_info[:2],
            "demo/__pycache__/mod.cpython-%d%d.pyc" % sys.version_info[:2],
            "demo/__pycache__/café.cpython-%d%d.pyc" % sys.version_info[:2],
            "demo/legacy.pyc"}
    check(set(t["removed"]) == want, t["removed"])
    check(t["removed_files"] == 4 and t["removed_dirs"] == 1, t)
    check(t["sourceless"] == ["demo/legacy.pyc"], t)
    check(t["bytes_after"] == os.path.getsize(whl), t)
    check(t["bytes_before"] == os.path.getsize("orig.whl"), t)
    check(b"sourceless" in p.stderr, p.stderr)
    removed = strict_compare(whl, "orig.whl", changed={
        b"demo-1.0.dist-info/RECORD"})
    check(removed == {n.encode() for n in want}, removed)
    # RECORD: the other rows byte for byte, in order.
    after = record_rows(whl)
    kept = [ln for ln in before.splitlines(keepends=True)
            if not any(n.encode() in ln for n in want)]
    check(after == b"".join(kept), after)
    check(b'"demo/a,b ""q"".txt"' in after, after)
    judge_wheel(whl)
    no_temp_left()
    # Imports from the installed copy.
    run(PY, "-c", "import demo.mod, demo.café; assert demo.mod.f() == 2",
        cwd="judge/pip")


@case("wheel: --keep-sourceless keeps the lone legacy .pyc and lists it")
def _():
    whl = fresh_wheel()
    pycstrip("--keep-sourceless", "--json", "s.json", whl)
    t = summary("s.json")["targets"][0]
    check(t["sourceless"] == ["demo/legacy.pyc"], t)
    check("demo/legacy.pyc" not in t["removed"], t)
    with zipfile.ZipFile(whl) as z:
        check("demo/legacy.pyc" in z.namelist(), z.namelist())
    judge_wheel(whl)


@case("wheel: --dry-run and --check change nothing; bytes_after is exact")
def _():
    whl = fresh_wheel()
    before = snap(whl)
    pycstrip("-n", "--json", "n.json", whl)
    pycstrip("--check", "--json", "c.json", whl, ok=(1,))
    check(snap(whl) == before, "file changed")
    n = summary("n.json")["targets"][0]
    c = summary("c.json")
    check(c["mode"] == "check" and n["record_updated"] is True, n)
    os.mkdir("out")
    out = os.path.join("out", whl)
    pycstrip("-o", out, whl)
    check(snap(whl) == before, "-o changed the input")
    check(n["bytes_after"] == os.path.getsize(out), (n, os.path.getsize(out)))
    check(n["removed"] == c["targets"][0]["removed"], c)
    # In place gives the same bytes as -o.
    pycstrip(whl)
    check(sha(whl) == sha(out), "in place differs from -o")
    judge_wheel(out)
    no_temp_left()


@case("a wheel named .bin is still a wheel; a zipapp with a vendored "
      "dist-info is not")
def _():
    whl = fresh_wheel()
    os.rename(whl, "thing.bin")
    pycstrip("--json", "s.json", "thing.bin")
    t = summary("s.json")["targets"][0]
    check(t["record_updated"] is True and t["removed_files"] == 4, t)
    os.rename("thing.bin", whl)
    judge_wheel(whl)
    # pip install --target + zipapp: the dist-info's RECORD lists files
    # relative to site-packages, not this archive's: a plain zip.
    run(PY, "-m", "pip", "install", "-q", "--no-index", "--no-deps",
        "--target", "app", whl)
    open("app/__main__.py", "w").write("import demo\nprint(demo.X)\n")
    os.makedirs("app/__pycache__")
    run(PY, "-m", "compileall", "-q", "app")
    run(PY, "-m", "zipapp", "app", "-o", "app.pyz")
    rec = [n for n in zipfile.ZipFile("app.pyz").namelist()
           if n.endswith(".dist-info/RECORD")][0]
    before = zipfile.ZipFile("app.pyz").read(rec)
    pycstrip("--json", "s.json", "app.pyz")
    t = summary("s.json")["targets"][0]
    check(t["record_updated"] is None and t["removed_files"] > 0, t)
    check(zipfile.ZipFile("app.pyz").read(rec) == before, "RECORD changed")
    check(run(PY, "app.pyz").stdout == b"1\n", "app does not run")


@case("wheel: --verify passes on a good wheel and refuses a corrupt member")
def _():
    whl = fresh_wheel()
    pycstrip("--verify", "-o", "ok.whl", whl)
    # Flip one byte of a kept member's data whose CRC stays in the headers.
    z = parse(whl, strict=False)
    e = z["by_name"][b"demo/mod.py"]
    data = bytearray(open(whl, "rb").read())
    data[e.dstart] ^= 0x01
    open("bad.whl", "wb").write(data)
    before = snap("bad.whl")
    p = pycstrip("--verify", "bad.whl", ok=(3,))
    check(b"bad.whl" in p.stderr and b"demo/mod.py" in p.stderr, p.stderr)
    check(snap("bad.whl") == before, "refused file changed")
    # Without --verify the raw copy goes through, as zip -d would.
    pycstrip("-n", "bad.whl")
    no_temp_left()


def rehash_wheel(src, dst, wrong=None):
    """src rewritten with sha512 RECORD rows for .py files and sha384 for
    the rest (the wheel spec allows any hash as strong as sha256); the row
    of member wrong gets the hash of other bytes."""
    with zipfile.ZipFile(src) as z:
        rname = [n for n in z.namelist() if n.endswith(".dist-info/RECORD")][0]
        rows = []
        for r in csv.reader(z.read(rname).decode().splitlines()):
            if r and r[0] != rname:
                data = z.read(r[0])
                algo = "sha512" if r[0].endswith(".py") else "sha384"
                h = hashlib.new(algo, data + (b"!" if r[0] == wrong else b""))
                r[1] = algo + "=" + base64.urlsafe_b64encode(
                    h.digest()).rstrip(b"=").decode()
            rows.append(r)
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(rows)
        with zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as o:
            for i in z.infolist():
                o.writestr(i, out.getvalue() if i.filename == rname
                           else z.read(i.filename))


@case("wheel: --verify checks sha384 and sha512 RECORD hashes too")
def _():
    whl = fresh_wheel()
    strong = "strong/" + whl
    os.makedirs("strong")
    rehash_wheel(whl, strong)
    rows = record_rows(strong).decode()
    check("sha512=" in rows and "sha384=" in rows, rows)
    pycstrip("--verify", strong)
    judge_wheel(strong)
    check(b"__pycache__" not in record_rows(strong), "not stripped")
    rehash_wheel(whl, "bad.whl", wrong="demo/mod.py")
    before = snap("bad.whl")
    p = pycstrip("--verify", "bad.whl", ok=(3,))
    check(b"sha512 of demo/mod.py does not match" in p.stderr, p.stderr)
    check(snap("bad.whl") == before, "refused file changed")
    no_temp_left()


@case("wheel repacked by wheel pack (compiled in place) strips and verifies")
def _():
    whl = fresh_wheel()
    run(PY, "-m", "wheel", "unpack", "-d", "u", whl)
    os.remove(whl)
    tree = os.path.join("u", "demo-1.0")
    shutil.rmtree(os.path.join(tree, "demo", "__pycache__"))
    run(PY, "-m", "compileall", "-q", "-o", "0", "-o", "1", tree)
    os.mkdir("packed")
    run(PY, "-m", "wheel", "pack", "-d", "packed", tree)
    w = os.path.join("packed", os.listdir("packed")[0])
    shutil.copy(w, "orig.whl")
    pycstrip("--verify", "--json", "s.json", w)
    t = summary("s.json")["targets"][0]
    check(t["removed_files"] >= 6 and t["record_updated"] is True, t)
    strict_compare(w, "orig.whl", changed={b"demo-1.0.dist-info/RECORD"})
    judge_wheel(w)


@case("wheel: RECORD.jws and RECORD.p7s are dropped and reported")
def _():
    whl = fresh_wheel()
    with zipfile.ZipFile(whl) as src, zipfile.ZipFile(
            "signed.whl", "w", zipfile.ZIP_DEFLATED) as dst:
        for i in src.infolist():
            dst.writestr(i, src.read(i))
        dst.writestr("demo-1.0.dist-info/RECORD.jws", "{}")
        dst.writestr("demo-1.0.dist-info/RECORD.p7s", b"\x30\x00")
    os.rename("signed.whl", whl)
    run(PY, "-m", "wheel", "unpack", "-d", "before", whl)
    pycstrip("--json", "s.json", whl)
    t = summary("s.json")["targets"][0]
    check(sorted(t["signatures_removed"]) == [
        "demo-1.0.dist-info/RECORD.jws", "demo-1.0.dist-info/RECORD.p7s"], t)
    with zipfile.ZipFile(whl) as z:
        check(not [n for n in z.namelist() if "RECORD." in n], z.namelist())
    judge_wheel(whl)


@case("wheel: nothing to remove leaves the file alone (inode, times)")
def _():
    for src in sorted(os.listdir("/usr/share/python-wheels")):
        if not src.endswith(".whl"):
            continue
        shutil.copy(os.path.join("/usr/share/python-wheels", src), src)
        before = snap(src)
        pycstrip("--verify", "--json", "s.json", src)
        t = summary("s.json")["targets"][0]
        check(t["removed_files"] == 0 and t["record_updated"] is False, t)
        check(t["bytes_after"] == t["bytes_before"], t)
        check(snap(src) == before, "untouched file changed: " + src)
        # -o still writes a copy.
        pycstrip("-o", "copy.whl", src)
        check(sha("copy.whl") == before[4], "copy differs")
        os.remove("copy.whl")


@case("real wheels from /usr/share/python-wheels, compiled and repacked")
def _():
    src = [n for n in sorted(os.listdir("/usr/share/python-wheels"))
           if n.startswith("pip-")][0]
    run(PY, "-m", "wheel", "unpack", "-d", "u",
        os.path.join("/usr/share/python-wheels", src))
    tree = os.path.join("u", os.listdir("u")[0])
    run(PY, "-m", "compileall", "-q", tree)
    os.mkdir("packed")
    run(PY, "-m", "wheel", "pack", "-d", "packed", tree)
    w = os.path.join("packed", os.listdir("packed")[0])
    shutil.copy(w, "orig.whl")
    pycstrip("--verify", "--json", "s.json", w)
    t = summary("s.json")["targets"][0]
    check(t["removed_files"] > 100 and t["record_updated"] is True, t)
    dist = [n for n in os.listdir(tree) if n.endswith(".dist-info")][0]
    strict_compare(w, "orig.whl", changed={(dist + "/RECORD").encode()})
    judge_wheel(w)
    run(PY, "-c", "import pip; print(pip.__version__)", cwd="judge/pip")


@case("egg from setuptools bdist_egg: zipimport still works")
def _():
    make_project("proj")
    with open("proj/setup.py", "w") as f:
        f.write("from setuptools import setup\nsetup()\n")
    run(PY, "setup.py", "-q", "bdist_egg", "-d", "../eggs", cwd="proj")
    egg = os.path.join("eggs", os.listdir("eggs")[0])
    shutil.copy(egg, "orig.egg")
    pycstrip("--json", "s.json", egg)
    t = summary("s.json")["targets"][0]
    check(t["removed_files"] > 0 and t["record_updated"] is None, t)
    with zipfile.ZipFile(egg) as z:
        left = [n for n in z.namelist() if n.endswith((".pyc", ".pyo"))]
        check(not left, left)
    strict_compare(egg, "orig.egg")
    run("unzip", "-tq", egg)
    run(PY, "-c", "import sys; sys.path.insert(0, sys.argv[1]); "
        "import demo.mod; assert demo.mod.f() == 2; "
        "assert 'zipimport' in repr(demo.__loader__)", egg)


@case("zipapp .pyz with shebang and comment: runs, prefix and comment kept")
def _():
    os.makedirs("app/pkg/__pycache__")
    with open("app/__main__.py", "w") as f:
        f.write("import pkg\nprint('hello', pkg.V)\n")
    with open("app/pkg/__init__.py", "w") as f:
        f.write("V = 42\n")
    run(PY, "-m", "compileall", "-q", "app")
    run(PY, "-m", "zipapp", "app", "-p", "/usr/bin/env python3", "-o",
        "app.pyz")
    with zipfile.ZipFile("app.pyz", "a") as z:
        z.comment = b"built by the zip e2e test"
    shutil.copy("app.pyz", "orig.pyz")
    with zipfile.ZipFile("app.pyz") as z:
        check(any("__pycache__" in n for n in z.namelist()), z.namelist())
    pycstrip("--json", "s.json", "app.pyz")
    t = summary("s.json")["targets"][0]
    check(t["removed_files"] >= 2, t)
    strict_compare("app.pyz", "orig.pyz")
    check(open("app.pyz", "rb").read(2) == b"#!", "shebang lost")
    check(os.stat("app.pyz").st_mode & 0o111, "lost its execute bits")
    out = run("./app.pyz").stdout
    check(out == b"hello 42\n", out)
    run("unzip", "-tq", "app.pyz", ok=(0, 1))  # unzip warns of the prefix


@case("Info-ZIP zip -r with directory entries and -z comment")
def _():
    os.makedirs("p/sub/__pycache__")
    os.makedirs("p/__pycache__/deep")
    for n in ("p/a.py", "p/sub/b.py", "p/x.pyc.12345", "p/X.PYC",
              "p/sub/__pycache__/b.cpython-311.pyc",
              "p/__pycache__/deep/z.txt"):
        with open(n, "w") as f:
            f.write("data " + n + "\n" * 200)
    run("sh", "-c", "echo 'a comment' | zip -q -r -z x.zip p")
    shutil.copy("x.zip", "orig.zip")
    pycstrip("--json", "s.json", "x.zip")
    t = summary("s.json")["targets"][0]
    check(set(t["removed"]) == {"p/x.pyc.12345",
                                "p/sub/__pycache__/b.cpython-311.pyc",
                                "p/__pycache__/deep/z.txt"}, t["removed"])
    check(t["removed_dirs"] == 3, t)
    removed = strict_compare("x.zip", "orig.zip")
    check(b"p/__pycache__/" in removed and b"p/sub/__pycache__/" in removed,
          removed)
    names = zipfile.ZipFile("x.zip").namelist()
    check("p/X.PYC" in names and "p/sub/" in names, names)
    check(parse("x.zip")["comment"] == b"a comment", "comment")
    run("unzip", "-tq", "x.zip")


@case("-x excludes a member; its __pycache__ directory entry stays")
def _():
    os.makedirs("p/__pycache__")
    for n in ("p/a.py", "p/__pycache__/a.cpython-311.pyc",
              "p/__pycache__/keep.cpython-311.pyc"):
        with open(n, "w") as f:
            f.write(n)
    run("zip", "-q", "-r", "x.zip", "p")
    shutil.copy("x.zip", "orig.zip")
    pycstrip("--json", "s.json", "-x", "p/__pycache__/keep*", "x.zip")
    names = zipfile.ZipFile("x.zip").namelist()
    check(names == ["p/", "p/a.py", "p/__pycache__/",
                    "p/__pycache__/keep.cpython-311.pyc"], names)
    strict_compare("x.zip", "orig.zip")
    t = summary("s.json")["targets"][0]
    check(t["removed_dirs"] == 0 and t["removed_files"] == 1,
          "the kept __pycache__ is counted as removed: %r" % t)


@case("a regular file named __pycache__ stays; a link so named goes")
def _():
    os.makedirs("p/d")
    for n in ("p/a.py", "p/__pycache__", "p/d/x.pyc"):
        with open(n, "w") as f:
            f.write(n)
    os.symlink("d", "p/d/__pycache__")
    run("zip", "-q", "-r", "--symlinks", "x.zip", "p")
    os.makedirs("tree")
    shutil.copytree("p", "tree/p", symlinks=True)
    pycstrip("--json", "z.json", "x.zip")
    pycstrip("--json", "t.json", "tree")
    names = zipfile.ZipFile("x.zip").namelist()
    check("p/__pycache__" in names, "the plain file went: %r" % names)
    check("p/d/__pycache__" not in names, "the link stayed: %r" % names)
    z, t = summary("z.json")["targets"][0], summary("t.json")["targets"][0]
    check(sorted(z["removed"]) == sorted(t["removed"]) ==
          ["p/d/__pycache__", "p/d/x.pyc"], (z["removed"], t["removed"]))
    check(z["removed_dirs"] == t["removed_dirs"] == 0, (z, t))


@case("zip streamed to a pipe (data descriptors): none in the output")
def _():
    os.makedirs("p/__pycache__")
    for n in ("p/a.py", "p/b.txt", "p/__pycache__/a.cpython-311.pyc"):
        with open(n, "wb") as f:
            f.write(os.urandom(3000) + b"x" * 3000)
    run("sh", "-c", "zip -q -r - p | cat > dd.zip")
    z = parse("dd.zip", strict=False)
    check(any(e.flags & 8 for e in z["entries"]), "no data descriptors")
    shutil.copy("dd.zip", "orig.zip")
    shutil.copy("dd.zip", "plain.zip")
    pycstrip("--verify", "dd.zip")
    strict_compare("dd.zip", "orig.zip")
    # Without --verify the headers are checked while copying.
    pycstrip("plain.zip")
    strict_compare("plain.zip", "orig.zip")
    check(open("plain.zip", "rb").read() == open("dd.zip", "rb").read(),
          "a strip with --verify and one without differ")
    run("unzip", "-tq", "dd.zip")
    with zipfile.ZipFile("dd.zip") as zz:
        check(zz.testzip() is None, "testzip")
        check(zz.read("p/b.txt") == open("p/b.txt", "rb").read(), "content")


@case("encrypted zip (zip -P): entries keep their descriptors, still open")
def _():
    os.makedirs("p/__pycache__")
    open("p/a.py", "w").write("secret source\n" * 50)
    open("p/__pycache__/a.cpython-311.pyc", "w").write("x")
    run("zip", "-q", "-P", "pw", "-r", "e.zip", "p")
    pycstrip("e.zip")
    run("unzip", "-P", "pw", "-tq", "e.zip")
    with zipfile.ZipFile("e.zip") as z:
        check(z.namelist() == ["p/", "p/a.py"], z.namelist())
        check(z.read("p/a.py", pwd=b"pw") == b"secret source\n" * 50, "data")


@case("data descriptor behind a local header longer than 64 KiB")
def _():
    name = b"n" * 2000
    data = b"payload " * 100
    crc = zipfile.crc32(data)
    extra = struct.pack("<HH", 0xCAFE, 64996) + b"\0" * 64996
    with open("big.zip", "wb") as f:
        ents = []
        for n, d, dd, x in ((name, data, True, extra),
                            (b"p/__pycache__/a.pyc", b"c", False, b""),
                            (b"p/after.py", b"x" * 300, False,
                             struct.pack("<HH", 0xBEEF, 100) + b"\1" * 100)):
            c = zipfile.crc32(d)
            ents.append((n, f.tell(), c, len(d), dd))
            f.write(struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 8 if dd else 0,
                                0, 0, 0x21, 0 if dd else c,
                                0 if dd else len(d), 0 if dd else len(d),
                                len(n), len(x)) + n + x + d)
            if dd:
                f.write(struct.pack("<IIII", 0x08074b50, c, len(d), len(d)))
        cd = f.tell()
        for n, off, c, size, dd in ents:
            f.write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 0x0314, 20,
                                8 if dd else 0, 0, 0, 0x21, c, size, size,
                                len(n), 0, 0, 0, 0, 0o100644 << 16, off) + n)
        end = f.tell()
        f.write(struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 3, 3, end - cd,
                            cd, 0))
    shutil.copy("big.zip", "orig.zip")
    shutil.copy("big.zip", "plain.zip")
    pycstrip("--verify", "big.zip")
    strict_compare("big.zip", "orig.zip")
    pycstrip("plain.zip")
    check(open("plain.zip", "rb").read() == open("big.zip", "rb").read(),
          "a strip with --verify and one without differ")
    with zipfile.ZipFile("big.zip") as z:
        check(z.namelist() == [name.decode(), "p/after.py"], z.namelist())
        check(z.read(name.decode()) == data, "data")
    run("unzip", "-tq", "big.zip")


@case("zip64: more than 65,535 entries, in and out")
def _():
    with zipfile.ZipFile("big.zip", "w", zipfile.ZIP_STORED) as z:
        for i in range(70000):
            z.writestr("m/%05d.py" % i, b"")
            if i % 2 == 0:
                z.writestr("m/__pycache__/%05d.cpython-311.pyc" % i, b"c")
        z.writestr("m/lone.pyc", b"x")
    check(parse("big.zip", strict=False)["zip64"], "input is not zip64")
    shutil.copy("big.zip", "orig.zip")
    pycstrip("-o", "small.zip", "big.zip")
    out = parse("small.zip")
    check(len(out["entries"]) == 70000, len(out["entries"]))
    check(out["zip64"], "70,000 entries need zip64")
    strict_compare("small.zip", "orig.zip")
    run("unzip", "-tq", "small.zip")
    # Fewer than 65,535 left: the output drops zip64.
    with zipfile.ZipFile("big2.zip", "w", zipfile.ZIP_STORED) as z:
        for i in range(40000):
            z.writestr("m/%05d.py" % i, b"")
            z.writestr("m/__pycache__/%05d.cpython-311.pyc" % i, b"c")
    pycstrip("--json", "s.json", "-o", "small2.zip", "big2.zip")
    t = summary("s.json")["targets"][0]
    check(t["removed_files"] == 40000, t)
    out = parse("small2.zip")
    check(not out["zip64"] and len(out["entries"]) == 40000, "zip64 kept")
    strict_compare("small2.zip", "big2.zip")


@case("a glued-on prefix (cat stub x.zip) and a bytecode-only archive")
def _():
    os.makedirs("p/__pycache__")
    open("p/__pycache__/a.cpython-311.pyc", "w").write("a")
    open("p/a.py", "w").write("a")
    run("zip", "-q", "-r", "x.zip", "p")
    with open("sfx.zip", "wb") as f:
        f.write(b"#!/bin/sh\nexit 0\n" + open("x.zip", "rb").read())
    shutil.copy("sfx.zip", "orig.zip")
    pycstrip("sfx.zip")
    strict_compare("sfx.zip", "orig.zip")
    run("unzip", "-tq", "sfx.zip")
    # Everything removed: an empty zip with the comment.
    run("zip", "-q", "-r", "only.zip", "p/__pycache__")
    pycstrip("only.zip")
    check(zipfile.ZipFile("only.zip").namelist() == [], "not empty")


def sparse_zip64(path):
    """A zip with a 4 GiB + 16 byte stored member (a hole in a sparse file)
    between a bytecode member and a small one, which therefore sits past
    4 GiB: zip64 sizes, offset and end records.  Returns the byte counts
    that removing the bytecode member saves."""
    big = (1 << 32) + 16
    f = open(path, "wb")
    ents = []

    def local(name, data, size=None, z64=False):
        off = f.tell()
        n = name.encode()
        size = len(data) if size is None else size
        crc = zipfile.crc32(data) if size == len(data) else 0
        extra = struct.pack("<HHQQ", 1, 16, size, size) if z64 else b""
        f.write(struct.pack("<IHHHHHIIIHH", 0x04034b50, 45 if z64 else 20,
                            0, 0, 0, 0x21, crc,
                            0xFFFFFFFF if z64 else size,
                            0xFFFFFFFF if z64 else size, len(n), len(extra)))
        f.write(n + extra)
        if size == len(data):
            f.write(data)
        else:
            f.seek(size, 1)
        ents.append((n, off, crc, size))
        return f.tell() - off

    saved = local("pkg/__pycache__/a.cpython-311.pyc", b"bytecode")
    local("big.bin", b"", size=big, z64=True)
    local("pkg/c.py", b"print('c')\n")
    cd = f.tell()
    for n, off, crc, size in ents:
        vals = []
        if size >= 0xFFFFFFFF:
            vals += [size, size]
        if off >= 0xFFFFFFFF:
            vals.append(off)
        extra = struct.pack("<HH", 1, 8 * len(vals)) + b"".join(
            struct.pack("<Q", v) for v in vals) if vals else b""
        rec = struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014b50, 0x0314, 45 if vals else 20, 0,
            0, 0, 0x21, crc, min(size, 0xFFFFFFFF), min(size, 0xFFFFFFFF),
            len(n), len(extra), 0, 0, 0, 0o100644 << 16,
            min(off, 0xFFFFFFFF)) + n + extra
        if off == 0:
            saved += len(rec)
        f.write(rec)
    end = f.tell()
    f.write(struct.pack("<IQHHIIQQQQ", 0x06064b50, 44, 45, 45, 0, 0, 3, 3,
                        end - cd, cd))
    f.write(struct.pack("<IIQI", 0x07064b50, 0, end, 1))
    f.write(struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 3, 3, end - cd,
                        0xFFFFFFFF, 0))
    f.close()
    return saved


@case("zip64 member over 4 GiB (sparse): dry-run sizes the output exactly")
def _():
    path = "/dev/shm/pycstrip-zip64-%d.zip" % os.getpid()
    saved = sparse_zip64(path)
    try:
        before = snap(path)
        pycstrip("-n", "--json", "s.json", path)
        t = summary("s.json")["targets"][0]
        check(t["removed"] == ["pkg/__pycache__/a.cpython-311.pyc"], t)
        check(t["bytes_after"] == t["bytes_before"] - saved,
              (t["bytes_after"], t["bytes_before"], saved))
        check(snap(path) == before, "dry run changed the file")
        pycstrip("--check", path, ok=(1,))
    finally:
        os.remove(path)


@case("hostile names: ./, ../, absolute, non-UTF-8; never used as paths")
def _():
    os.makedirs("sub/x/__pycache__")
    open("sub/x/__pycache__/b.cpython-311.pyc", "w").write("sentinel")
    os.chdir("sub")
    with zipfile.ZipFile("h.zip", "w") as z:
        z.writestr("./pkg/__pycache__/a.cpython-311.pyc", "a")
        z.writestr("../x/__pycache__/b.cpython-311.pyc", "b")
        z.writestr("/abs/c.pyc", "c")
        z.writestr("pkg/X.pyc", "d")
        z.writestr("pkg/Y.py", "e")
        z.writestr("pkg/caf\u00e9.py", "f")
    data = bytearray(open("h.zip", "rb").read())
    # A Latin-1 name: patch "X" to 0xE9 in the local and central headers.
    for at in [i for i in range(len(data)) if data[i:i + 9] == b"pkg/X.pyc"]:
        data[at + 4] = 0xE9
    open("h.zip", "wb").write(data)
    shutil.copy("h.zip", "orig.zip")
    pycstrip("--json", "s.json", "h.zip")
    t = summary("s.json")["targets"][0]
    check(set(t["removed"]) == {
        "./pkg/__pycache__/a.cpython-311.pyc",
        "../x/__pycache__/b.cpython-311.pyc", "/abs/c.pyc",
        "pkg/\\xe9.pyc"}, t["removed"])
    check("pkg/\\xe9.pyc" in t["sourceless"], t["sourceless"])
    with open("s.json", "rb") as f:
        f.read().decode("utf-8")  # valid UTF-8
    names = zipfile.ZipFile("h.zip").namelist()
    check(names == ["pkg/Y.py", "pkg/caf\u00e9.py"], names)
    strict_compare("h.zip", "orig.zip")
    os.chdir("..")
    check(open("sub/x/__pycache__/b.cpython-311.pyc").read() == "sentinel",
          "a file outside the archive was touched")


def bad_case(data, args=(), msg=None):
    open("bad.zip", "wb").write(data)
    before = snap("bad.zip")
    p = pycstrip(*args, "bad.zip", ok=(3,))
    check(b"bad.zip" in p.stderr, p.stderr)
    if msg:
        check(msg in p.stderr, p.stderr)
    check(snap("bad.zip") == before, "refused file changed")
    no_temp_left()


def good_zip():
    os.makedirs("p/__pycache__", exist_ok=True)
    open("p/__pycache__/a.cpython-311.pyc", "w").write("a" * 100)
    open("p/a.py", "w").write("print(1)\n" * 20)
    run("zip", "-q", "-r", "g.zip", "p")
    return open("g.zip", "rb").read()


@case("bad input: truncated, garbage directory, trailing bytes, empty file")
def _():
    g = good_zip()
    bad_case(g[:len(g) // 2], msg=b"zip: no end of central directory")
    bad_case(g[:-5])
    cd = g.rfind(b"PK\x01\x02")
    bad_case(g[:cd] + b"\xff" * 40 + g[cd + 40:])
    bad_case(g + b"junk", msg=b"after the end record")
    bad_case(b"")


@case("bad input: local header disagrees, overlap, duplicate names")
def _():
    g = bytearray(good_zip())
    z = parse("g.zip")
    kept = z["by_name"][b"p/a.py"]
    b1 = bytearray(g)
    b1[kept.offset + 30] ^= 0x20  # local name differs ('p' -> 'P')
    bad_case(bytes(b1), msg=b"differ")
    b2 = bytearray(g)
    struct.pack_into("<I", b2, kept.offset + 14, kept.crc ^ 1)
    bad_case(bytes(b2), msg=b"differ")
    # Two central entries pointing at one local header.
    with zipfile.ZipFile("d.zip", "w") as d:
        d.writestr("a.py", "1")
        d.writestr("b.py", "2")
    dd = bytearray(open("d.zip", "rb").read())
    second = dd.rfind(b"PK\x01\x02")
    struct.pack_into("<I", dd, second + 42, 0)
    bad_case(bytes(dd))
    with zipfile.ZipFile("dup.zip", "w") as d:
        d.writestr("a.py", "1")
        with __import__("warnings").catch_warnings():
            __import__("warnings").simplefilter("ignore")
            d.writestr("a.py", "2")
    bad_case(open("dup.zip", "rb").read(), msg=b"duplicate")


def synthetic_wheel(path, n):
    """A wheel of n modules, each with its bytecode, and a true RECORD."""
    files = {}
    for i in range(n):
        files["pkg/m%05d.py" % i] = ("X = %d\n" % i).encode()
        files["pkg/__pycache__/m%05d.cpython-312.pyc" % i] = bytes(40)
    dist = "pkg-1.0.dist-info/"
    files[dist + "METADATA"] = b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n"
    files[dist + "WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: test\n"
                             b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    rows = []
    for name, data in files.items():
        h = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
        rows.append("%s,sha256=%s,%d" % (name, h.rstrip(b"=").decode(),
                                         len(data)))
    rows.append(dist + "RECORD,,")
    files[dist + "RECORD"] = ("\n".join(rows) + "\n").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)


# Big enough that the main thread and the RECORD worker both take chunks
# of the local-header checks (256 entries each).  Entry 2j is m<j>.py:
# the early damage is near the end of chunk 41 (entry 10746), the late one
# opens chunk 42 (entry 10752), so the thread on chunk 42 often fails
# first; the report must still name the early one.
@case("damaged members of a big wheel: the first in the file is named, "
      "however the checks are shared out")
def _():
    whl = "pkg-1.0-py3-none-any.whl"
    synthetic_wheel(whl, 20000)
    good = open(whl, "rb").read()
    z = parse(whl)
    early = z["by_name"][b"pkg/m05373.py"].offset
    late = z["by_name"][b"pkg/m05376.py"].offset
    both = bytearray(good)
    both[early + 14] ^= 1                      # CRC differs
    both[late + 30 + 5] ^= 0x20                # name differs ('m' -> 'M')
    only_late = bytearray(good)
    only_late[late + 30 + 5] ^= 0x20
    for data, named, not_named in ((both, b"pkg/m05373.py", b"m05376"),
                                   (only_late, b"pkg/m05376.py", b"m05373")):
        for _ in range(10):
            open(whl, "wb").write(data)
            p = pycstrip(whl, ok=(3,))
            check(named in p.stderr and b"differ" in p.stderr and
                  not_named not in p.stderr, p.stderr)
            check(open(whl, "rb").read() == data, "refused wheel changed")
            no_temp_left()
    open(whl, "wb").write(good)
    open("in.whl", "wb").write(good)
    pycstrip(whl)
    strict_compare(whl, "in.whl", changed=(b"pkg-1.0.dist-info/RECORD",))
    judge_wheel(whl)
    with zipfile.ZipFile(whl) as out:
        check(len(out.namelist()) == 20003, "%d members" % len(out.namelist()))


@case("bad input: wheel whose RECORD does not list a file is refused")
def _():
    whl = fresh_wheel()
    with zipfile.ZipFile(whl, "a") as z:
        z.writestr("demo/extra.py", "E = 1\n")
    before = snap(whl)
    p = pycstrip(whl, ok=(3,))
    check(b"RECORD" in p.stderr and b"demo/extra.py" in p.stderr, p.stderr)
    check(snap(whl) == before, "refused wheel changed")
    no_temp_left()


# RECORD is read and checked by a thread of its own that starts before the
# names are matched: whatever fails first, each mode refuses the wheel
# with the same message, untouched, and the thread is waited for.
@case("bad input: a wheel's RECORD work fails or is cut short, in every mode")
def _():
    whl = "pkg-1.0-py3-none-any.whl"
    modes = ((), ("-n",), ("--check",), ("--verify",), ("-o", "out.whl"))

    def refused(data, *wants):
        for args in modes:
            open(whl, "wb").write(data)
            before = snap(whl)
            p = pycstrip(*args, whl, ok=(3,))
            for want in (whl.encode(),) + wants:
                check(want in p.stderr, (args, p.stderr))
            check(snap(whl) == before, "refused wheel changed %r" % (args,))
            check(not os.path.exists("out.whl"), "output left %r" % (args,))
            no_temp_left()

    synthetic_wheel(whl, 300)
    good = open(whl, "rb").read()
    z = parse(whl)
    # RECORD lists a file the wheel lacks.
    with zipfile.ZipFile(whl, "a") as w:
        w.writestr("pkg/extra.py", "E = 1\n")
    refused(open(whl, "rb").read(), b"RECORD", b"pkg/extra.py")
    # RECORD's own local header disagrees with its central entry.
    bad = bytearray(good)
    bad[z["by_name"][b"pkg-1.0.dist-info/RECORD"].offset + 30 + 1] ^= 0x20
    refused(bytes(bad), b"pkg-1.0.dist-info/RECORD", b"differ")
    def repack(path, keep=lambda name: True):
        # good's members that keep() accepts, into a new zip at path.
        w = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED)
        with zipfile.ZipFile(io.BytesIO(good)) as g:
            for info in g.infolist():
                if keep(info.filename):
                    w.writestr(info, g.read(info))
        return w

    # Matching the names fails (a duplicate) while RECORD is being read.
    with repack("dup.whl") as w:
        with __import__("warnings").catch_warnings():
            __import__("warnings").simplefilter("ignore")
            w.writestr("pkg/m00007.py", "X = 7\n")
    refused(open("dup.whl", "rb").read(), b"duplicate", b"pkg/m00007.py")
    # Nothing to remove and a RECORD that does not match: still refused.
    repack("clean.whl", lambda name: "__pycache__" not in name).close()
    p = pycstrip("clean.whl", ok=(3,))
    check(b"RECORD" in p.stderr and b"clean.whl" in p.stderr, p.stderr)
    # The good wheel still strips, and its RECORD is what PyPI wants.
    open(whl, "wb").write(good)
    pycstrip(whl)
    judge_wheel(whl)


@case("bad input: directory as -o target; not-an-archive file")
def _():
    good_zip()
    os.mkdir("outdir")
    before = snap("g.zip")
    p = pycstrip("-o", "outdir", "g.zip", ok=(3,))
    check(b"outdir" in p.stderr, p.stderr)
    check(snap("g.zip") == before and os.listdir("outdir") == [], "changed")
    open("text.whl", "w").write("not a zip at all\n" * 10)
    p = pycstrip("text.whl", ok=(3,))
    check(b"text.whl" in p.stderr, p.stderr)
    no_temp_left()


@case("-o through a symbolic link writes where it points; a dangling one is refused")
def _():
    g = good_zip()
    os.symlink("target.zip", "link.zip")
    before = snap("g.zip")
    p = pycstrip("-o", "link.zip", "g.zip", ok=(3,))
    check(b"g.zip" in p.stderr and b"link.zip" in p.stderr and
          b"dangling" in p.stderr, p.stderr)
    check(not os.path.exists("target.zip"), "wrote through a dangling link")
    open("target.zip", "wb").close()
    pycstrip("-o", "link.zip", "g.zip")
    check(os.path.islink("link.zip") and os.readlink("link.zip") == "target.zip",
          "the link was replaced")
    names = zipfile.ZipFile("target.zip").namelist()
    check(names and not any(n.endswith(".pyc") for n in names), names)
    # nothing to remove: the copy goes through the link too
    os.symlink("copy.zip", "link2.zip")
    open("copy.zip", "wb").close()
    pycstrip("-o", "link2.zip", "target.zip")
    check(os.path.islink("link2.zip"), "the link was replaced")
    check(open("copy.zip", "rb").read() == open("target.zip", "rb").read(),
          "not a copy")
    check(snap("g.zip") == before, "input changed")
    no_temp_left()


@case("-o refuses PATH itself (or a link to it), a device and a FIFO")
def _():
    good_zip()
    os.symlink("g.zip", "same.zip")
    os.mkfifo("fifo")
    before = snap("g.zip")
    for out, why in (("g.zip", b"being read"), ("same.zip", b"being read"),
                     ("./g.zip", b"being read"),
                     ("/dev/null", b"not a regular file"),
                     ("fifo", b"not a regular file")):
        p = pycstrip("-o", out, "g.zip", ok=(3,))
        check(out.encode() in p.stderr and why in p.stderr, p.stderr)
        check(snap("g.zip") == before, "input changed by -o %s" % out)
    check(os.path.islink("same.zip") and
          stat.S_ISFIFO(os.lstat("fifo").st_mode) and
          stat.S_ISCHR(os.stat("/dev/null").st_mode), "a target was replaced")
    # a dry run writes nothing, so names nothing wrong
    pycstrip("-n", "-o", "g.zip", "g.zip")
    no_temp_left()


@case("-o - writes to standard output: the same bytes as -o FILE")
def _():
    g = good_zip()
    before = snap("g.zip")
    pycstrip("-q", "-o", "f.zip", "g.zip")
    p = pycstrip("-q", "-o", "-", "g.zip")
    check(p.stdout == open("f.zip", "rb").read(), "stdout differs from -o FILE")
    check(not os.path.exists("-"), "wrote a file named -")
    # a wheel: RECORD edited the same way
    whl = fresh_wheel()
    pycstrip("-q", "-o", "w.whl", whl)
    p = pycstrip("-q", "-o", "-", whl)
    check(p.stdout == open("w.whl", "rb").read(), "wheel on stdout differs")
    # standard output opened for appending (no copy_file_range there)
    with open("app.zip", "wb") as f:
        f.write(b"")
    with open("app.zip", "ab") as f:
        subprocess.run([BIN, "-q", "-o", "-", "g.zip"], stdout=f, env=ENV,
                       check=True, timeout=300)
    check(open("app.zip", "rb").read() == open("f.zip", "rb").read(),
          "appended output differs")
    # nothing to remove: a copy
    p = pycstrip("-q", "-o", "-", "f.zip")
    check(p.stdout == open("f.zip", "rb").read(), "copy differs")
    # damaged: refused before a byte is written
    b = bytearray(g)
    b[g.find(b"p/a.py") - 30 + 14] ^= 0xff   # p/a.py's local CRC
    open("bad.zip", "wb").write(b)
    p = pycstrip("-o", "-", "bad.zip", ok=(3,))
    check(p.stdout == b"" and b"bad.zip" in p.stderr, (p.stdout[:40], p.stderr))
    p = pycstrip("-o", "-", "--json", "-", "g.zip", ok=(2,))
    check(b"standard output" in p.stderr, p.stderr)
    if os.path.exists("/dev/full"):
        with open("/dev/full", "wb") as full:
            p = subprocess.run([BIN, "-o", "-", "g.zip"], stdout=full,
                               stderr=subprocess.PIPE, env=ENV, timeout=300)
        check(p.returncode == 3 and b"g.zip" in p.stderr and
              b"No space left" in p.stderr, (p.returncode, p.stderr))
    check(snap("g.zip") == before, "input changed")
    no_temp_left()


@case("mutated archives: never a crash, a hang or a temporary file left")
def _():
    g = good_zip()
    rnd = random.Random(4)
    eocd = g.rfind(b"PK\x05\x06")
    cd = g.find(b"PK\x01\x02")
    hot = [0, 4, 14, 18, 22, 26, 28, cd, cd + 20, cd + 28, cd + 42,
           eocd + 8, eocd + 10, eocd + 12, eocd + 16, eocd + 20]
    results = {}
    for i in range(300):
        b = bytearray(g)
        kind = i % 4
        if kind == 0:
            pos = rnd.choice(hot) + rnd.randrange(4)
            b[pos % len(b)] = rnd.randrange(256)
        elif kind == 1:
            pos = rnd.randrange(len(b))
            b[pos] ^= 1 << rnd.randrange(8)
        elif kind == 2:
            b = b[:rnd.randrange(len(b))]
        else:
            b += os.urandom(rnd.randrange(1, 64))
        open("m.zip", "wb").write(b)
        p = pycstrip("-o", "o.zip", "m.zip", ok=(0, 3))
        results[p.returncode] = results.get(p.returncode, 0) + 1
        if p.returncode == 0:
            parse("o.zip")
            os.remove("o.zip")
        else:
            check(not os.path.exists("o.zip"), "output left on failure")
            check(b"m.zip" in p.stderr, p.stderr)
    no_temp_left()
    check(results.get(3, 0) > 50, results)


print("# zip e2e: %d cases, %d failed" % (n_cases, n_failed))
sys.exit(1 if n_failed else 0)
