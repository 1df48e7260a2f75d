#!/bin/sh
# The CI wrappers' files, checked statically: action.yml and the workflows
# with @action-validator/cli (pinned in tools/ci, installed by make deps),
# the workflows' release layout, and the copies that must stay equal (the
# GitLab component, the install script inside the GitLab template).
. "$(dirname "$0")/lib.sh"
R=$PYCSTRIP_ROOT
AV=$R/build/ci-tools/node_modules/.bin/action-validator
PATH=$R/build/ci-tools/bin:$PATH

case_action_validates() {
	[ -x "$AV" ] || fail "action-validator missing (run make deps)"
	"$AV" "$R/action.yml"
}

case_validator_rejects_a_broken_action() {
	printf 'name: x\ndescription: y\nruns:\n  using: composite\n  steps:\n    - run: echo\n' >action.yml
	expect_status 1 "$AV" action.yml
}

case_workflows_validate() {
	for f in "$R"/.github/workflows/*.yml "$R"/examples/ci/github-*.yml; do
		echo "$f"
		"$AV" "$f"
	done
}

case_component_is_the_template() {
	cmp "$R/.gitlab-ci-template.yml" "$R/templates/pycstrip.yml"
}

case_template_embeds_the_install_script() {
	"$PY" - "$R/.gitlab-ci-template.yml" "$R/scripts/ci-install.sh" <<'PYEOF'
import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
spec, jobs = docs
hidden = [k for k in jobs if k.startswith(".")]
assert hidden == [".$[[ inputs.job-prefix ]]pycstrip"], hidden
embedded = jobs[hidden[0]]["before_script"][0]
if embedded != open(sys.argv[2]).read():
    sys.exit("the template's before_script differs from scripts/ci-install.sh")
PYEOF
}

case_install_script_is_posix_sh() {
	sh -n "$R/scripts/ci-install.sh"
	if command -v dash >/dev/null 2>&1; then dash -n "$R/scripts/ci-install.sh"; fi
	if command -v busybox >/dev/null 2>&1; then busybox sh -n "$R/scripts/ci-install.sh"; fi
}

case_release_workflow_layout() {
	"$PY" - "$R" <<'PYEOF'
import os, re, sys, yaml
root = sys.argv[1]
wf = yaml.safe_load(open(os.path.join(root, ".github/workflows/release.yml")))
on = wf[True] if True in wf else wf["on"]   # YAML 1.1 reads `on` as true
assert on["push"]["tags"] == ["v*"], on
build = wf["jobs"]["build"]
arches = sorted(i["arch"] for i in build["strategy"]["matrix"]["include"])
assert arches == ["aarch64", "x86_64"], arches
text = open(os.path.join(root, ".github/workflows/release.yml")).read()
for needle in ("make static", "make test", "make dist", "SHA256SUMS",
               "pycstrip-$VERSION-linux-$ARCH", "gh release create"):
    assert needle in text, needle
# The name the action and the template download must be the name released.
install = open(os.path.join(root, "scripts/ci-install.sh")).read()
assert "name=pycstrip-$version-linux-$arch" in install
assert "$base/$name.tar.gz" in install and '"$base/SHA256SUMS"' in install
ci = yaml.safe_load(open(os.path.join(root, ".github/workflows/ci.yml")))
uses = [s.get("uses") for s in ci["jobs"]["action"]["steps"]]
assert uses.count("./") >= 3, uses
assert any("make test" in s.get("run", "") for s in ci["jobs"]["test"]["steps"])
PYEOF
}

case_examples_pin_this_version() {
	v=$(sed -n 's/^#define PS_VERSION "\(.*\)"$/\1/p' "$R/src/pycstrip.h")
	grep -q "pycstrip/pycstrip@v$v\$" "$R/examples/ci/github-publish.yml"
	grep -q "pycstrip/pycstrip@v$v\$" "$R/examples/ci/github-check.yml"
	grep -q "ref: v$v\$" "$R/examples/ci/gitlab-ci.yml"
	grep -q "rev: v$v\$" "$R/examples/ci/pre-commit-config.yaml"
	grep -q "default: $v\$" "$R/.gitlab-ci-template.yml"
}

# Every CI snippet in README.md (a yaml block that names pycstrip's action,
# template or hooks) is one of examples/ci/*, which the e2e tests run.
case_readme_snippets_are_tested_examples() {
	"$PY" - "$R" <<'PYEOF'
import glob, os, re, sys
root = sys.argv[1]
examples = {}
for p in glob.glob(os.path.join(root, "examples/ci/*.y*ml")):
    examples[open(p).read().strip()] = os.path.basename(p)
readme = open(os.path.join(root, "README.md")).read() \
    if os.path.exists(os.path.join(root, "README.md")) else ""
blocks = re.findall(r"^```ya?ml\n(.*?)^```", readme, re.M | re.S)
used = set()
for b in blocks:
    if not re.search(r"pycstrip/pycstrip|gitlab-ci-template|pycstrip-check", b):
        continue
    if b.strip() not in examples:
        sys.exit("README.md has a CI snippet that is not in examples/ci/:\n" + b)
    used.add(examples[b.strip()])
print("# README.md shows %d of the %d CI examples" % (len(used), len(examples)))
PYEOF
}

run_case "ci: action.yml passes action-validator" case_action_validates
run_case "ci: action-validator rejects a broken action" case_validator_rejects_a_broken_action
run_case "ci: workflows and README workflow examples validate" case_workflows_validate
run_case "ci: templates/pycstrip.yml is .gitlab-ci-template.yml" case_component_is_the_template
run_case "ci: GitLab template embeds scripts/ci-install.sh verbatim" case_template_embeds_the_install_script
run_case "ci: install script parses as POSIX sh" case_install_script_is_posix_sh
run_case "ci: release workflow builds the assets the wrappers download" case_release_workflow_layout
run_case "ci: examples and template pin PS_VERSION" case_examples_pin_this_version
run_case "ci: README CI snippets are the tested examples" case_readme_snippets_are_tested_examples
finish
