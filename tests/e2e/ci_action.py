#!/usr/bin/python3
"""End to end: the GitHub Action (action.yml) run step by step as GitHub's
runner does (tests/ghaction.py), with the release served from a loopback
HTTP server, and the README's workflow examples (examples/ci/github-*.yml)
run as jobs with their pycstrip step pointed at this checkout."""
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
import ghaction  # noqa: E402
import yaml  # noqa: E402
from cihelp import ROOT, PYCSTRIP, check  # noqa: E402

V = cihelp.version()
CLOSED = "http://127.0.0.1:9"  # discard port: nothing listens there


def runner(d, **kw):
    for sub in ("ws", "temp", "cache"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    return ghaction.Runner(os.path.join(d, "ws"), os.path.join(d, "temp"),
                           os.path.join(d, "cache"), base_env=env, **kw)


def action(r, inputs, ref="v" + V):
    return ghaction.run_action(ROOT, inputs, r, action_ref=ref,
                               action_repository="pycstrip/pycstrip")


def target(d, r):
    """The thing to strip in the workspace: the example wheel when this
    build rewrites wheels, else a tree.  Returns (paths input, files)."""
    if cihelp.wheels_supported():
        whl = cihelp.build_wheel(r.workspace)
        return "dist/*.whl", len(cihelp.bytecode_in_wheel(whl))
    cihelp.make_tree(r.workspace, n=3)
    return "src", 3


def summary_of(res):
    path = res.outputs["summary-json"]
    check(os.path.isabs(path) and os.path.exists(path), "no summary: %r" % path)
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def case_download_strip(d):
    r = runner(d)
    site, note = cihelp.release_site(d)
    print("# " + note)
    paths, files = target(d, r)
    with cihelp.serve(site) as (url, srv):
        res = action(r, {"paths": paths, "release-url": url})
    check(res.ok, "action failed", res.log())
    check(res.steps["install"]["outputs"]["how"] == "download", res.log())
    check(srv.hits == ["/v%s/SHA256SUMS" % V,
                       "/v%s/pycstrip-%s-linux-%s.tar.gz" % (V, V, cihelp.arch())],
          "requests: %s" % srv.hits)
    cache = os.path.join(r.tool_cache, "pycstrip", V, cihelp.arch())
    check(os.path.exists(cache + ".complete"), "no .complete marker")
    check(res.outputs["binary"] == os.path.join(cache, "pycstrip"), res.outputs)
    check(res.outputs["removed-files"] == str(files), res.outputs)
    check(res.outputs["found"] == "true", res.outputs)
    check(res.outputs["errors"] == "0", res.outputs)
    s = summary_of(res)
    check(s["totals"]["removed_files"] == files, s)
    check(res.outputs["removed-bytes"] == str(s["totals"]["removed_bytes"]),
          res.outputs)
    check("| **total: 1 targets** |" in res.summary, res.summary)
    check(res.count("notice") == 1 and res.count("error") == 0, res.log())
    if paths.endswith(".whl"):
        whl = os.path.join(r.workspace, "dist",
                           os.listdir(os.path.join(r.workspace, "dist"))[0])
        check(cihelp.bytecode_in_wheel(whl) == [], "bytecode left in wheel")
        cihelp.sh([cihelp.PY, "-m", "wheel", "unpack", "-d",
                   os.path.join(d, "unpacked"), whl])
    else:
        left = subprocess.run(["find", r.workspace, "-name", "*.pyc"],
                              stdout=subprocess.PIPE, text=True).stdout
        check(left == "", "bytecode left: " + left)
    return None


def case_tool_cache_hit(d):
    r = runner(d)
    cache = os.path.join(r.tool_cache, "pycstrip", V, cihelp.arch())
    os.makedirs(cache)
    shutil.copy(PYCSTRIP, os.path.join(cache, "pycstrip"))
    open(cache + ".complete", "w").close()
    cihelp.make_tree(r.workspace)
    res = action(r, {"paths": "src", "release-url": CLOSED})
    check(res.ok, "action failed", res.log())
    check(res.steps["install"]["outputs"]["how"] == "cache", res.log())
    check(res.outputs["binary"] == os.path.join(cache, "pycstrip"), res.outputs)
    check(res.outputs["removed-files"] == "2", res.outputs)


def case_cache_without_marker_is_not_used(d):
    r = runner(d)
    cache = os.path.join(r.tool_cache, "pycstrip", V, cihelp.arch())
    os.makedirs(cache)
    shutil.copy(PYCSTRIP, os.path.join(cache, "pycstrip"))
    cihelp.make_tree(r.workspace)
    res = action(r, {"paths": "src", "release-url": CLOSED})
    # Not complete: ignored; the download fails (nothing listens), so the
    # action falls back to building from its own source.
    check(res.ok, "action failed", res.log())
    check("cannot download release" in res.stderr, res.log())
    check(res.steps["install"]["outputs"]["how"] == "source", res.log())


def case_binary_input(d):
    r = runner(d)
    cihelp.make_tree(r.workspace)
    res = action(r, {"paths": "src", "binary": PYCSTRIP, "release-url": CLOSED})
    check(res.ok, "action failed", res.log())
    check(res.steps["install"]["outputs"]["how"] == "given", res.log())
    check(res.outputs["binary"] == PYCSTRIP, res.outputs)
    check(not os.listdir(r.tool_cache), "tool cache touched")


def case_checksum_mismatch_fails(d):
    r = runner(d)
    site, _ = cihelp.release_site(d)
    sums = os.path.join(site, "v" + V, "SHA256SUMS")
    with open(sums) as f:
        text = f.read()
    with open(sums, "w") as f:
        f.write(re.sub(r"^[0-9a-f]{64}", "0" * 64, text))
    cihelp.make_tree(r.workspace)
    with cihelp.serve(site) as (url, _srv):
        res = action(r, {"paths": "src", "release-url": url})
    check(not res.ok, "action passed despite a bad checksum", res.log())
    check(res.failed_step == "Install pycstrip", res.failed_step)
    check("checksum mismatch" in res.stderr, res.log())
    check(not os.path.exists(os.path.join(r.tool_cache, "pycstrip", V,
                                          cihelp.arch() + ".complete")),
          "bad download cached")
    left = subprocess.run(["find", r.workspace, "-name", "*.pyc"],
                          stdout=subprocess.PIPE, text=True).stdout
    check(left != "", "pycstrip ran anyway")


def case_build_from_source(d):
    r = runner(d)
    cihelp.make_tree(r.workspace)
    # A branch ref has no release: the action builds from its own source.
    res = action(r, {"paths": "src", "release-url": CLOSED}, ref="main")
    check(res.ok, "action failed", res.log())
    check(res.steps["install"]["outputs"]["how"] == "source", res.log())
    check("building from source" in res.stderr, res.log())
    check(res.outputs["binary"].startswith(r.temp), res.outputs)
    check(res.outputs["removed-files"] == "2", res.outputs)


def case_check_caps_annotations(d):
    r = runner(d)
    cihelp.make_tree(r.workspace, n=25, sourceless=12)
    res = action(r, {"paths": "src", "mode": "check", "binary": PYCSTRIP,
                     "keep-sourceless": "true"})
    check(not res.ok, "check passed with bytecode present", res.log())
    check(res.exit_code == 1, "exit %d" % res.exit_code)
    check(res.steps["run"]["outputs"]["found"] == "true", res.steps)
    check(res.count("error") == 10, "errors: %d" % res.count("error"), res.log())
    check(res.count("warning") == 10, "warnings: %d" % res.count("warning"))
    notices = [a for a in res.annotations if a["type"] == "notice"]
    check(len(notices) == 1 and "17 more annotations" in notices[0]["message"],
          notices)
    first = [a for a in res.annotations if a["type"] == "error"][0]
    check(first["props"]["file"].startswith("src/pkg/__pycache__/m00."),
          first)
    check("found 25 files" in res.summary, res.summary)
    # nothing was removed
    left = subprocess.run(["find", r.workspace, "-name", "*.pyc"],
                          stdout=subprocess.PIPE, text=True).stdout
    check(len(left.split()) == 37, left)


def case_check_without_fail_on_found(d):
    r = runner(d)
    cihelp.make_tree(r.workspace)
    res = action(r, {"paths": "src", "mode": "check", "binary": PYCSTRIP,
                     "fail-on-found": "false", "annotations": "false",
                     "summary": "false"})
    check(res.ok, "action failed", res.log())
    check(res.outputs["found"] == "true", res.outputs)
    check(res.annotations == [] and res.summary == "", res.log())


def case_check_clean_passes(d):
    r = runner(d)
    os.makedirs(os.path.join(r.workspace, "src", "pkg"))
    res = action(r, {"paths": "src", "mode": "check", "binary": PYCSTRIP})
    check(res.ok, "action failed", res.log())
    check(res.outputs["found"] == "false", res.outputs)
    check(res.outputs["removed-files"] == "0", res.outputs)


def case_nothing_matches_fails(d):
    r = runner(d)
    res = action(r, {"paths": "dist/*.whl", "binary": PYCSTRIP})
    check(not res.ok, "passed with no target", res.log())
    check(any("no file matches" in a["message"] for a in res.annotations),
          res.log())


def case_hostile_inputs_do_nothing(d):
    r = runner(d)
    cihelp.make_tree(r.workspace)
    pwned = os.path.join(d, "pwned")
    for p in ("/tmp/pwned", pwned):
        if os.path.exists(p):
            os.unlink(p)
    evil = "$(touch /tmp/pwned) `touch %s` ; touch %s \" ' $(touch %s)" % (
        pwned, pwned, pwned)
    res = action(r, {"paths": evil, "exclude": evil, "json": evil,
                     "mode": "check", "jobs": "1$(touch %s)" % pwned,
                     "binary": PYCSTRIP, "version": evil,
                     "release-url": evil})
    check(not os.path.exists("/tmp/pwned"), "/tmp/pwned created")
    check(not os.path.exists(pwned), "pwned created")
    check(not res.ok, "hostile jobs value accepted", res.log())
    res = action(r, {"paths": "$(touch /tmp/pwned) src", "binary": PYCSTRIP,
                     "exclude": "$(touch %s)" % pwned})
    check(not os.path.exists("/tmp/pwned"), "/tmp/pwned created")
    check(not os.path.exists(pwned), "pwned created")
    check(not res.ok, "a missing path must fail the step", res.log())
    check(res.outputs["errors"] == "2", res.outputs)


def case_no_inputs_in_run(d):
    with open(os.path.join(ROOT, "action.yml"), encoding="utf-8") as f:
        a = yaml.safe_load(f)
    for step in a["runs"]["steps"]:
        check("${{" not in step.get("run", ""),
              "expression inside run: of %s" % step.get("name"))
        check(step.get("shell") == "bash", "step without shell: bash")
        for k, v in (step.get("env") or {}).items():
            ghaction.substitute(str(v), {"inputs": {}, "github": {},
                                         "runner": {}, "steps": {}})
    return None


# --- the README's workflows --------------------------------------------

def run_example(d, name, r, prepare, stubs):
    """Runs the single job of examples/ci/NAME: `uses: */pycstrip@...` runs
    this checkout's action (with the test's release URL), the Build step is
    the test's own build (prepare), other actions are stubbed."""
    with open(os.path.join(ROOT, "examples", "ci", name), encoding="utf-8") as f:
        wf = yaml.safe_load(f)
    (job,) = wf["jobs"].values()
    ran = []

    def uses(step, inputs, result):
        ref = step["uses"]
        ran.append(ref)
        m = re.fullmatch(r"[\w.-]+/pycstrip@(v[\d.]+)", ref)
        if m:
            check(m.group(1) == "v" + V, "example pins %s, version is %s"
                  % (ref, V))
            inputs = dict(inputs, **stubs.get("pycstrip", {}))
            res = ghaction.run_action(ROOT, inputs, r, action_ref=m.group(1),
                                      action_repository="pycstrip/pycstrip",
                                      result=result)
            return res.ok, res.outputs
        key = ref.split("@")[0]
        check(key in stubs, "no stub for %s" % ref)
        return stubs[key](inputs), {}

    for step in job["steps"]:
        if step.get("name") == "Build":
            step.pop("run")
            step["uses"] = "test/build"
    stubs = dict(stubs, **{"test/build": lambda _i: prepare() or True})
    res = ghaction.run_job(job, r, uses)
    return res, ran


def case_example_publish(d):
    r = runner(d)
    site, _ = cihelp.release_site(d)
    published = []

    def prepare():
        if cihelp.wheels_supported():
            cihelp.build_wheel(r.workspace)
        else:
            return  # the job then fails on 'no file matches': checked below

    def publish(_inputs):
        dist = os.path.join(r.workspace, "dist")
        for f in os.listdir(dist):
            check(cihelp.bytecode_in_wheel(os.path.join(dist, f)) == [],
                  "published a wheel with bytecode")
            published.append(f)
        return True

    with cihelp.serve(site) as (url, _srv):
        res, ran = run_example(d, "github-publish.yml", r, prepare, {
            "actions/checkout": lambda _i: True,
            "actions/setup-python": lambda _i: True,
            "pypa/gh-action-pypi-publish": publish,
            "pycstrip": {"release-url": url}})
    if not cihelp.wheels_supported():
        check(not res.ok, "job passed with no wheel")
        return "this build does not rewrite wheels yet"
    check(res.ok, "job failed at %s" % res.failed_step, res.log())
    check(published == ["dirtypkg-1.0-py3-none-any.whl"], published)
    check("pycstrip removed 2 files" in res.stdout, res.log())
    check(ran[-1].startswith("pypa/gh-action-pypi-publish"), ran)
    return None


def case_example_gate(d):
    r = runner(d)
    site, _ = cihelp.release_site(d)
    cihelp.make_tree(r.workspace)
    with cihelp.serve(site) as (url, _srv):
        stubs = {"actions/checkout": lambda _i: True,
                 "pycstrip": {"release-url": url}}
        res, _ = run_example(d, "github-check.yml", r, lambda: None, stubs)
        check(not res.ok, "gate passed with bytecode in the tree", res.log())
        check(res.count("error") == 2, res.log())
        shutil.rmtree(os.path.join(r.workspace, "src", "pkg", "__pycache__"))
        res, _ = run_example(d, "github-check.yml", r, lambda: None, stubs)
        check(res.ok, "gate failed on a clean tree", res.log())


def case_expression_subset(_d):
    ctx = {"inputs": {"a": "", "b": "x"}, "github": {"action_ref": "v1"},
           "steps": {}, "runner": {}}
    ev = ghaction.evaluate
    check(ev("inputs.a || github.action_ref", ctx) == "v1", "||")
    check(ev("inputs.b || github.action_ref", ctx) == "x", "|| first")
    check(ev("format('{0}/{1}', 'a', inputs.b)", ctx) == "a/x", "format")
    check(ev("inputs.b == 'X'", ctx) is True, "== ignores case")
    check(ev("!inputs.a && true", ctx) is True, "! &&")


def main():
    c = cihelp.Cases()
    c.run("action: expression evaluator of the step runner", case_expression_subset)
    c.run("action: no ${{ }} inside run:, every step bash", case_no_inputs_in_run)
    c.run("action: downloads the release, verifies, caches, strips", case_download_strip)
    c.run("action: uses a tool-cache hit without downloading", case_tool_cache_hit)
    c.run("action: no .complete marker, offline: builds from source", case_cache_without_marker_is_not_used)
    c.run("action: uses the binary input as is", case_binary_input)
    c.run("action: a checksum mismatch fails the step", case_checksum_mismatch_fails)
    c.run("action: builds from source on a branch ref", case_build_from_source)
    c.run("action: check mode fails, annotations capped at 10 per type", case_check_caps_annotations)
    c.run("action: check with fail-on-found false passes", case_check_without_fail_on_found)
    c.run("action: check on a clean tree passes", case_check_clean_passes)
    c.run("action: paths matching nothing fail", case_nothing_matches_fails)
    c.run("action: hostile inputs run no command", case_hostile_inputs_do_nothing)
    c.run("README: publish workflow strips the wheel before publishing", case_example_publish)
    c.run("README: check workflow gates a repository", case_example_gate)
    c.finish()


if __name__ == "__main__":
    main()
