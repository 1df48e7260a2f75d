#!/usr/bin/python3
"""End to end: the GitLab template's job script (before_script + script,
inputs interpolated as GitLab does) on the tool sets of the images it
promises to work on, emulated by PATH: alpine (busybox only: sh, wget,
sha256sum, tar), python:*-slim (sh, coreutils, tar, python3; no curl or
wget), plus the install script's PATH and offline rules."""
import json
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the test helpers
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import cihelp  # noqa: E402
import yaml  # noqa: E402
from cihelp import ROOT, PYCSTRIP, check  # noqa: E402

V = cihelp.version()
BUSYBOX = shutil.which("busybox")

# What a python:3.12-slim image has of what the script uses (Debian-based).
SLIM_TOOLS = ["sh", "cat", "cut", "mkdir", "mktemp", "mv", "rm", "touch",
              "uname", "id", "tar", "gzip", "sha256sum", "awk", "python3",
              "pwd", "ls", "test", "["]


def job_script(inputs):
    """The template's job as the runner sees it: variables with the inputs
    interpolated, and the before_script and script text."""
    with open(os.path.join(ROOT, ".gitlab-ci-template.yml")) as f:
        spec, jobs = yaml.safe_load_all(f)
    values = {k: v.get("default", "") for k, v in spec["spec"]["inputs"].items()}
    values.update(inputs)

    def interp(s):
        return re.sub(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]",
                      lambda m: str(values[m.group(1)]).lower()
                      if isinstance(values[m.group(1)], bool)
                      else str(values[m.group(1)]), s)
    job = jobs[".$[[ inputs.job-prefix ]]pycstrip"]
    variables = {k: interp(str(v)) for k, v in job["variables"].items()}
    script = "\n".join(job["before_script"] + job["script"])
    return variables, script


def toolbox(d, kind):
    """A bin directory holding only the tools of an image of that kind."""
    b = os.path.join(d, "bin-" + kind)
    os.makedirs(b)
    if kind == "alpine":
        applets = subprocess.run([BUSYBOX, "--list"], stdout=subprocess.PIPE,
                                 text=True, check=True).stdout.split()
        for a in applets:
            os.symlink(BUSYBOX, os.path.join(b, a))
    else:
        for t in SLIM_TOOLS:
            p = "/usr/bin/python3" if t == "python3" else shutil.which(t)
            check(p is not None, "no %s here" % t)
            os.symlink(p, os.path.join(b, t))
    return b


def run_job(d, kind, inputs, workdir):
    variables, script = job_script(inputs)
    path = os.path.join(d, "job.sh")
    with open(path, "w") as f:
        f.write(script)
    env = dict(variables, PATH=toolbox(d, kind), HOME=d, TMPDIR=d)
    sh = [BUSYBOX, "sh", "-e", path] if kind == "alpine" else \
        [os.path.join(env["PATH"], "sh"), "-e", path]
    return subprocess.run(sh, cwd=workdir, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True,
                          stdin=subprocess.DEVNULL, timeout=300)


def job_case(kind):
    def case(d):
        if kind == "alpine" and BUSYBOX is None:
            raise AssertionError("busybox missing (run make deps)")
        site, note = cihelp.release_site(d)
        print("# " + note)
        work = os.path.join(d, "work")
        cihelp.make_tree(work, n=3)
        with cihelp.serve(site) as (url, srv):
            p = run_job(d, kind, {"paths": "src", "release-url": url}, work)
            hits = list(srv.hits)
        check(p.returncode == 0, "job failed", p.stdout)
        check("downloaded pycstrip-%s-linux-%s.tar.gz" % (V, cihelp.arch())
              in p.stdout, p.stdout)
        check(len(hits) == 2, hits)
        with open(os.path.join(work, "pycstrip.env")) as f:
            check("PYCSTRIP_REMOVED_FILES=3\n" in f.read(), "dotenv")
        with open(os.path.join(work, "pycstrip-codequality.json")) as f:
            check(json.load(f) == [], "codequality")
        left = subprocess.run(["find", work, "-name", "*.pyc"],
                              stdout=subprocess.PIPE, text=True).stdout
        check(left == "", left)
    return case


def case_slim_check_fails(d):
    site, _ = cihelp.release_site(d)
    work = os.path.join(d, "work")
    cihelp.make_tree(work, n=2)
    with cihelp.serve(site) as (url, _srv):
        p = run_job(d, "slim", {"paths": "src", "mode": "check",
                                "release-url": url}, work)
    check(p.returncode == 1, "exit %d" % p.returncode, p.stdout)
    with open(os.path.join(work, "pycstrip-codequality.json")) as f:
        check(len(json.load(f)) == 2, "codequality items")


def install(d, env, path_dirs=()):
    """Runs pycstrip_install in sh with env; returns (rc, output, exe, how)."""
    script = ('. "%s/scripts/ci-install.sh"\npycstrip_install || exit $?\n'
              'echo "EXE=$PYCSTRIP_EXE"\necho "HOW=$PYCSTRIP_HOW"\n' % ROOT)
    full = dict({"PATH": ":".join(list(path_dirs) + ["/usr/bin", "/bin"]),
                 "PYCSTRIP_WORK": d}, **env)
    p = subprocess.run(["sh", "-c", script], env=full, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True,
                       stdin=subprocess.DEVNULL)
    exe = re.search(r"^EXE=(.*)$", p.stdout, re.M)
    how = re.search(r"^HOW=(.*)$", p.stdout, re.M)
    return p.returncode, p.stdout, exe and exe.group(1), how and how.group(1)


def case_path_of_the_wanted_version(d):
    b = os.path.join(d, "bin")
    os.makedirs(b)
    os.symlink(PYCSTRIP, os.path.join(b, "pycstrip"))
    rc, out, exe, how = install(d, {"PYCSTRIP_VERSION": "v" + V,
                                    "PYCSTRIP_RELEASE_URL": "http://127.0.0.1:9"},
                                [b])
    check(rc == 0 and how == "path", out)
    check(exe == os.path.join(b, "pycstrip"), out)


def case_path_of_another_version_is_ignored(d):
    b = os.path.join(d, "bin")
    os.makedirs(b)
    with open(os.path.join(b, "pycstrip"), "w") as f:
        f.write("#!/bin/sh\necho pycstrip 0.0.1\n")
    os.chmod(os.path.join(b, "pycstrip"), 0o755)
    site, _ = cihelp.release_site(d)
    with cihelp.serve(site) as (url, _srv):
        rc, out, exe, how = install(d, {"PYCSTRIP_VERSION": V,
                                        "PYCSTRIP_RELEASE_URL": url}, [b])
    check(rc == 0 and how == "download", out)
    check(subprocess.run([exe, "--version"], stdout=subprocess.PIPE,
                         text=True).stdout.strip() == "pycstrip " + V, exe)


def case_offline_without_source_says_why(d):
    rc, out, _exe, _how = install(d, {"PYCSTRIP_VERSION": V,
                                      "PYCSTRIP_RELEASE_URL": "http://127.0.0.1:9"})
    check(rc != 0, out)
    check("cannot download release %s" % V in out, out)
    check("no pycstrip source to build from" in out, out)


def case_unknown_arch_builds_or_says_why(d):
    rc, out, _exe, _how = install(d, {"PYCSTRIP_VERSION": V,
                                      "PYCSTRIP_ARCH": "s390x",
                                      "PYCSTRIP_RELEASE_URL": "http://127.0.0.1:9"})
    check(rc != 0 and "no release binary for Linux/s390x" in out, out)


def case_missing_checksum_line_fails(d):
    site, _ = cihelp.release_site(d)
    with open(os.path.join(site, "v" + V, "SHA256SUMS"), "w") as f:
        f.write("0" * 64 + "  something-else.tar.gz\n")
    with cihelp.serve(site) as (url, _srv):
        rc, out, _exe, _how = install(d, {"PYCSTRIP_VERSION": V,
                                          "PYCSTRIP_RELEASE_URL": url,
                                          "PYCSTRIP_SOURCE": ROOT})
    check(rc != 0 and "has no line for" in out, out)
    check("building from source" not in out, "fell back after a bad release")


def main():
    c = cihelp.Cases()
    c.run("install: GitLab job on alpine's busybox (wget, sha256sum, tar)", job_case("alpine"))
    c.run("install: GitLab job on python:slim's tools (python3 download)", job_case("slim"))
    c.run("install: GitLab job in check mode exits 1 with findings", case_slim_check_fails)
    c.run("install: a pycstrip of the wanted version on PATH is used", case_path_of_the_wanted_version)
    c.run("install: a pycstrip of another version on PATH is not", case_path_of_another_version_is_ignored)
    c.run("install: offline and no source: a clear message", case_offline_without_source_says_why)
    c.run("install: unknown arch: a clear message", case_unknown_arch_builds_or_says_why)
    c.run("install: SHA256SUMS without the asset fails, no fallback", case_missing_checksum_line_fails)
    c.finish()


if __name__ == "__main__":
    main()
