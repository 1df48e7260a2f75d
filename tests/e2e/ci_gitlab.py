#!/usr/bin/python3
"""End to end: the GitLab CI template (.gitlab-ci-template.yml) run by
gitlab-ci-local (pinned in tools/ci, installed by `make deps`) with the shell
executor, in a scratch git repository that includes it with inputs; the
release is served from a loopback HTTP server.  Also runs the README's
pipeline (examples/ci/gitlab-ci.yml)."""
import json
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ beside the test helpers
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
import cihelp  # noqa: E402
import yaml  # noqa: E402
from cihelp import ROOT, PY, PYCSTRIP, check  # noqa: E402

GCL = os.path.join(ROOT, "build", "ci-tools", "node_modules", ".bin",
                   "gitlab-ci-local")
V = cihelp.version()

BUILD_JOB = {
    "stage": "build",
    "script": [
        "%s -m compileall -q dirtypkg/dirtypkg" % PY,
        "%s -m build --wheel --no-isolation --outdir dist dirtypkg" % PY,
    ],
    "artifacts": {"paths": ["dist/"]},
}


def repo(d, pipeline, files=()):
    """A git repository d/repo with an origin remote, the template, the
    example package and .gitlab-ci.yml = pipeline (a dict)."""
    r = os.path.join(d, "repo")
    os.makedirs(r)
    shutil.copy(os.path.join(ROOT, ".gitlab-ci-template.yml"), r)
    shutil.copytree(os.path.join(ROOT, "examples", "ci", "dirtypkg"),
                    os.path.join(r, "dirtypkg"))
    for name, text in files:
        p = os.path.join(r, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(text)
    with open(os.path.join(r, ".gitlab-ci.yml"), "w") as f:
        yaml.safe_dump(pipeline, f, sort_keys=False)
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    cihelp.sh(git + ["init", "-q", "-b", "main"], cwd=r)
    cihelp.sh(git + ["remote", "add", "origin",
                     "https://gitlab.example.com/group/project.git"], cwd=r)
    cihelp.sh(git + ["add", "-A"], cwd=r)
    cihelp.sh(git + ["commit", "-q", "-m", "init"], cwd=r)
    return r


def gcl(r, *jobs):
    env = dict(os.environ, HOME=os.path.join(os.path.dirname(r), "home"))
    # build/ci-tools/bin/node is a Node.js >= 20 (scripts/deps.d/ci.sh).
    env["PATH"] = os.path.join(ROOT, "build", "ci-tools", "bin") + ":" + \
        env.get("PATH", "/usr/bin:/bin")
    env.pop("PYCSTRIP", None)
    os.makedirs(env["HOME"], exist_ok=True)
    p = subprocess.run([GCL, "--force-shell-executor", "--shell-isolation",
                        "--no-artifacts-to-source", "--max-job-name-padding",
                        "0", *jobs], cwd=r, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True,
                       stdin=subprocess.DEVNULL, timeout=600)
    return p.returncode, p.stdout


def job_file(r, job, name):
    return os.path.join(r, ".gitlab-ci-local", "builds", job, name)


def artifact(r, job, name):
    return os.path.join(r, ".gitlab-ci-local", "artifacts", job, name)


def dotenv(path):
    out = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            out[k] = v
    check(os.path.getsize(path) < 5 * 1024, "dotenv over 5 KB")
    return out


def codequality(path):
    with open(path) as f:
        items = json.load(f)
    check(isinstance(items, list), "codequality is not a list")
    for it in items:
        for k in ("description", "check_name", "fingerprint", "severity"):
            check(isinstance(it.get(k), str) and it[k], "no %s: %s" % (k, it))
        check(isinstance(it["location"]["path"], str), it)
        check(it["location"]["lines"]["begin"] == 1, it)
        check(it["severity"] in ("info", "minor", "major", "critical",
                                 "blocker"), it)
    fps = [it["fingerprint"] for it in items]
    check(len(fps) == len(set(fps)), "fingerprints not unique")
    return items


def include(site_url, **inputs):
    return {"local": ".gitlab-ci-template.yml",
            "inputs": dict({"release-url": site_url}, **inputs)}


def needs_wheels():
    if not cihelp.wheels_supported():
        return "this build does not rewrite wheels yet"
    return None


def case_strips_a_wheel(d):
    skip = needs_wheels()
    if skip:
        return skip
    site, note = cihelp.release_site(d)
    print("# " + note)
    with cihelp.serve(site) as (url, srv):
        r = repo(d, {
            "stages": ["build", "test", "deploy"],
            "include": [include(url, paths="dist/*.whl")],
            "build-wheel": BUILD_JOB,
            "after": {"stage": "deploy", "needs": ["pycstrip"], "script": [
                'echo "removed=$PYCSTRIP_REMOVED_FILES found=$PYCSTRIP_FOUND"',
                'test "$PYCSTRIP_REMOVED_FILES" = 2']},
        })
        rc, out = gcl(r)
        hits = list(srv.hits)
    check(rc == 0, "pipeline failed", out)
    check("removed=2 found=true" in out, "dotenv not passed on", out)
    check(hits == ["/v%s/SHA256SUMS" % V,
                   "/v%s/pycstrip-%s-linux-%s.tar.gz" % (V, V, cihelp.arch())],
          hits)
    env = dotenv(artifact(r, "pycstrip", ".gitlab-ci-reports/dotenv/pycstrip.env")
                 if os.path.exists(artifact(r, "pycstrip",
                                            ".gitlab-ci-reports/dotenv/pycstrip.env"))
                 else job_file(r, "pycstrip", "pycstrip.env"))
    check(env["PYCSTRIP_REMOVED_FILES"] == "2" and env["PYCSTRIP_OK"] == "true",
          env)
    check(codequality(job_file(r, "pycstrip", "pycstrip-codequality.json")) == [],
          "findings after a strip")
    with open(artifact(r, "pycstrip", "pycstrip-summary.json")) as f:
        s = json.load(f)
    check(s["totals"]["removed_files"] == 2, s)
    whl = artifact(r, "pycstrip", "dist/dirtypkg-1.0-py3-none-any.whl")
    check(cihelp.bytecode_in_wheel(whl) == [], "bytecode left in the artifact")
    cihelp.sh([PY, "-m", "wheel", "unpack", "-d", os.path.join(d, "un"), whl])


def case_check_fails_the_job(d):
    skip = needs_wheels()
    if skip:
        return skip
    r = repo(d, {
        "stages": ["build", "test"],
        "include": [include("http://127.0.0.1:9", paths="dist/*.whl",
                            mode="check", binary=PYCSTRIP)],
        "build-wheel": BUILD_JOB,
    })
    rc, out = gcl(r)
    check(rc != 0, "pipeline passed with bytecode in the wheel", out)
    check("bytecode found (mode: check)" in out, out)
    items = codequality(job_file(r, "pycstrip", "pycstrip-codequality.json"))
    check(len(items) == 2 and all(i["severity"] == "major" for i in items),
          items)
    check(items[0]["location"]["path"] == "dist/dirtypkg-1.0-py3-none-any.whl",
          items)
    env = dotenv(job_file(r, "pycstrip", "pycstrip.env"))
    check(env["PYCSTRIP_FOUND"] == "true" and env["PYCSTRIP_MODE"] == "check",
          env)
    # when: always: the summary is kept although the job failed
    check(os.path.exists(artifact(r, "pycstrip", "pycstrip-summary.json")),
          "no summary artifact after a failed job", out)
    whl = job_file(r, "pycstrip", "dist/dirtypkg-1.0-py3-none-any.whl")
    check(len(cihelp.bytecode_in_wheel(whl)) == 2, "check mode changed the wheel")


def case_tree_check_passes_when_clean(d):
    r = repo(d, {
        "include": [include("http://127.0.0.1:9", paths="src", mode="check",
                            binary=PYCSTRIP, artifacts="src/")],
    }, files=[("src/pkg/__init__.py", "")])
    rc, out = gcl(r)
    check(rc == 0, "check failed on a clean tree", out)
    env = dotenv(job_file(r, "pycstrip", "pycstrip.env"))
    check(env["PYCSTRIP_FOUND"] == "false", env)


def case_hostile_inputs(d):
    pwned = os.path.join(d, "pwned")
    for p in ("/tmp/pwned", pwned):
        if os.path.exists(p):
            os.unlink(p)
    r = repo(d, {
        "include": [include("http://127.0.0.1:9",
                            paths="$(touch /tmp/pwned) `touch %s` src" % pwned,
                            exclude="$(touch %s)" % pwned,
                            binary=PYCSTRIP, artifacts="src/")],
    }, files=[("src/pkg/__init__.py", "")])
    rc, out = gcl(r)
    check(not os.path.exists("/tmp/pwned"), "/tmp/pwned created", out)
    check(not os.path.exists(pwned), "pwned created", out)
    check(rc != 0, "missing paths must fail the job", out)
    env = dotenv(job_file(r, "pycstrip", "pycstrip.env"))
    check(env["PYCSTRIP_ERRORS"] == "4", env)


def case_readme_pipeline(d):
    skip = needs_wheels()
    if skip:
        return skip
    with open(os.path.join(ROOT, "examples", "ci", "gitlab-ci.yml")) as f:
        pipeline = yaml.safe_load(f)
    site, _ = cihelp.release_site(d)
    with cihelp.serve(site) as (url, _srv):
        for inc in pipeline["include"]:
            check(inc.pop("project") == "pycstrip/pycstrip", inc)
            check(inc.pop("ref") == "v" + V, "example pins another version")
            check(inc.pop("file") == ".gitlab-ci-template.yml", inc)
            inc["local"] = ".gitlab-ci-template.yml"
            inc["inputs"]["release-url"] = url
        pipeline["build"]["script"] = BUILD_JOB["script"]
        publish = pipeline["publish"]["script"]
        check(publish[0].startswith("echo "), publish)
        pipeline["publish"]["script"] = [publish[0], (
            "%s -c 'import sys, zipfile; n = zipfile.ZipFile(sys.argv[1])"
            ".namelist(); sys.exit(any(\"__pycache__\" in x for x in n))' "
            "dist/dirtypkg-1.0-py3-none-any.whl" % PY)]
        r = repo(d, pipeline, files=[("src/pkg/__init__.py", "")])
        rc, out = gcl(r)
    check(rc == 0, "pipeline failed", out)
    check("pycstrip removed 2 files" in out, out)
    check(os.path.exists(job_file(r, "repo-pycstrip", "pycstrip.env")),
          "the check job did not run", out)


def main():
    c = cihelp.Cases()
    if not os.path.exists(GCL):
        print("not ok 1 - gitlab-ci-local missing (run make deps): %s" % GCL)
        sys.exit(1)
    c.run("gitlab: template strips a wheel; dotenv, codequality, summary", case_strips_a_wheel)
    c.run("gitlab: check mode fails the job; reports kept", case_check_fails_the_job)
    c.run("gitlab: check on a clean tree passes", case_tree_check_passes_when_clean)
    c.run("gitlab: hostile inputs run no command", case_hostile_inputs)
    c.run("README: GitLab pipeline", case_readme_pipeline)
    c.finish()


if __name__ == "__main__":
    main()
