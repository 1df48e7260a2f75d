"""cihelp.py - shared pieces of the CI-wrapper end-to-end tests.

TAP-style cases, the release layout served from a loopback HTTP server, and
the example wheel built with real Python tooling.
"""
import contextlib
import functools
import http.server
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import threading
import traceback
import zipfile

PY = "/usr/bin/python3"
ROOT = os.environ.get("PYCSTRIP_ROOT") or os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))
PYCSTRIP = os.environ.get("PYCSTRIP") or os.path.join(ROOT, "build", "pycstrip")
SCRATCH = os.environ.get("PYCSTRIP_SCRATCH") or "/tmp/pycstrip-ci-e2e"


def version():
    with open(os.path.join(ROOT, "src", "pycstrip.h"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#define PS_VERSION"):
                return line.split('"')[1]
    raise RuntimeError("no PS_VERSION in src/pycstrip.h")


def arch():
    """The release asset's ARCH for this machine (x86_64 or aarch64)."""
    m = platform.machine()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(m, m)


class Cases:
    """Numbered TAP-ish cases, each in a fresh scratch dir kept on failure."""

    def __init__(self):
        self.n = 0
        self.failed = 0
        os.makedirs(SCRATCH, exist_ok=True)

    def run(self, name, fn):
        self.n += 1
        d = os.path.join(SCRATCH, "%03d" % self.n)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        try:
            skip = fn(d)
        except Exception:  # noqa: BLE001 - report every failure as a case
            self.failed += 1
            print("not ok %d - %s (kept %s)" % (self.n, name, d))
            for line in traceback.format_exc().splitlines()[-40:]:
                print("#   " + line)
            sys.stdout.flush()
            return
        if skip:
            print("ok %d - %s # SKIP %s" % (self.n, name, skip))
        else:
            print("ok %d - %s" % (self.n, name))
        sys.stdout.flush()
        shutil.rmtree(d, ignore_errors=True)

    def finish(self):
        sys.exit(1 if self.failed else 0)


def check(cond, msg, log=""):
    if not cond:
        raise AssertionError(msg + ("\n" + log if log else ""))


def sh(argv, cwd=None, env=None, ok=True):
    p = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True,
                       stdin=subprocess.DEVNULL)
    if ok and p.returncode != 0:
        raise AssertionError("%s exited %d:\n%s" % (argv, p.returncode,
                                                    p.stdout))
    return p


# --- the release ---------------------------------------------------------

def release_assets(dest):
    """Writes the release assets into dest/: pycstrip-V-linux-A.tar.gz and
    SHA256SUMS.  Uses `make dist`'s output in ROOT/dist/ when it holds this
    version for this arch and its binary is the one under test; otherwise
    lays out the same from $PYCSTRIP (GNU tar, sha256sum).  Returns a note
    saying which."""
    v, a = version(), arch()
    name = "pycstrip-%s-linux-%s" % (v, a)
    made = os.path.join(ROOT, "dist", name + ".tar.gz")
    sums = os.path.join(ROOT, "dist", "SHA256SUMS")
    os.makedirs(dest, exist_ok=True)
    if os.path.exists(made) and os.path.exists(sums):
        with tarfile.open(made) as t:
            m = t.extractfile(name + "/pycstrip")
            packed = m.read() if m else b""
        with open(PYCSTRIP, "rb") as f:
            if f.read() == packed:
                shutil.copy(made, dest)
                shutil.copy(sums, dest)
                return "release assets from make dist"
    top = os.path.join(dest, "_layout", name)
    os.makedirs(top)
    shutil.copy(PYCSTRIP, os.path.join(top, "pycstrip"))
    os.chmod(os.path.join(top, "pycstrip"), 0o755)
    for src, dst in (("README.md", "README.md"), ("LICENSE", "LICENSE"),
                     ("schema/summary.schema.json", "summary.schema.json")):
        p = os.path.join(ROOT, src)
        if os.path.exists(p):
            shutil.copy(p, os.path.join(top, dst))
    sh(["tar", "--owner=0", "--group=0", "--numeric-owner", "-czf",
        os.path.join(dest, name + ".tar.gz"), "-C",
        os.path.join(dest, "_layout"), name])
    shutil.rmtree(os.path.join(dest, "_layout"))
    p = sh(["sha256sum", name + ".tar.gz"], cwd=dest)
    with open(os.path.join(dest, "SHA256SUMS"), "w") as f:
        f.write(p.stdout)
    return "release assets laid out from the binary under test"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        self.server.hits.append(self.path)


@contextlib.contextmanager
def serve(root):
    """Serves root on 127.0.0.1 (a free port); yields the base URL.  The
    list of requested paths is the server's .hits."""
    handler = functools.partial(_Quiet, directory=root)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.hits = []
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield "http://127.0.0.1:%d" % srv.server_address[1], srv
    finally:
        srv.shutdown()
        srv.server_close()


def release_site(d):
    """A directory laid out like GitHub's release downloads:
    d/site/vVERSION/{asset, SHA256SUMS}.  Returns (site, note)."""
    site = os.path.join(d, "site")
    note = release_assets(os.path.join(site, "v" + version()))
    return site, note


# --- the example wheel ----------------------------------------------------

def build_wheel(d):
    """Builds examples/ci/dirtypkg (with its __pycache__) into d/dist with
    python3 -m build; returns the wheel's path."""
    src = os.path.join(d, "dirtypkg-src")
    shutil.copytree(os.path.join(ROOT, "examples", "ci", "dirtypkg"), src)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="")
    env.pop("PYTHONDONTWRITEBYTECODE")
    sh([PY, "-m", "compileall", "-q", "dirtypkg"], cwd=src, env=env)
    sh([PY, "-m", "build", "--wheel", "--no-isolation", "--outdir",
        os.path.join(d, "dist"), src], cwd=d)
    shutil.rmtree(src)
    whl = [f for f in os.listdir(os.path.join(d, "dist"))
           if f.endswith(".whl")]
    check(len(whl) == 1, "expected one wheel, got %s" % whl)
    path = os.path.join(d, "dist", whl[0])
    with zipfile.ZipFile(path) as z:
        check(any("__pycache__/" in n for n in z.namelist()),
              "the example wheel has no __pycache__")
    return path


def bytecode_in_wheel(path):
    with zipfile.ZipFile(path) as z:
        return [n for n in z.namelist()
                if "__pycache__/" in n or n.endswith((".pyc", ".pyo"))]


@functools.lru_cache(maxsize=None)
def wheels_supported():
    """Whether the binary under test rewrites wheels yet (the zip rewriter
    is another piece of work); the cases fall back to a tree target."""
    d = os.path.join(SCRATCH, "probe")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    try:
        whl = build_wheel(d)
        p = sh([PYCSTRIP, "--dry-run", whl], ok=False)
        return p.returncode == 0
    finally:
        shutil.rmtree(d, ignore_errors=True)


def make_tree(d, n=2, sourceless=0):
    """A source tree d/src/pkg with compiled bytecode: n modules, and
    sourceless legacy .pyc files; returns the tree's path."""
    pkg = os.path.join(d, "src", "pkg")
    os.makedirs(pkg)
    for i in range(n):
        with open(os.path.join(pkg, "m%02d.py" % i), "w") as f:
            f.write("X = %d\n" % i)
    sh([PY, "-m", "compileall", "-q", pkg])
    for i in range(sourceless):
        with open(os.path.join(pkg, "lone%02d.pyc" % i), "wb") as f:
            f.write(b"\0" * 16)
    return os.path.join(d, "src")
