#!/bin/sh
# .pre-commit-hooks.yaml run by pre-commit itself (Debian's), through
# `pre-commit try-repo` on a scratch copy of the hook manifest, against a
# repository with a wheel built by python3 -m build.
. "$(dirname "$0")/lib.sh"
export PRE_COMMIT_HOME="$PYCSTRIP_SCRATCH/pre-commit-home"
BIN=$PYCSTRIP_SCRATCH/bin
mkdir -p "$BIN"
ln -sf "$PYCSTRIP" "$BIN/pycstrip"
export PATH="$BIN:$PATH"

setup() {
	mkdir hooks work
	cp "$PYCSTRIP_ROOT/.pre-commit-hooks.yaml" hooks/
	git -C hooks init -q
	git -C hooks add .pre-commit-hooks.yaml
	git -C hooks -c user.email=t@example.com -c user.name=t commit -q -m hooks
	cp -r "$PYCSTRIP_ROOT/examples/ci/dirtypkg" pkg
	(cd pkg && "$PY" -m compileall -q dirtypkg)
	"$PY" -m build --wheel --no-isolation --outdir work/vendor pkg >/dev/null 2>&1
	git -C work init -q
}

case_check_hook_fails_on_a_wheel_with_bytecode() {
	setup
	git -C work add -A
	cd work
	expect_status 1 pre-commit try-repo ../hooks pycstrip-check --all-files
}

case_check_hook_passes_once_stripped() {
	setup
	"$PYCSTRIP" -q work/vendor/*.whl
	git -C work add -A
	cd work
	pre-commit try-repo ../hooks pycstrip-check --all-files
}

case_no_bytecode_hook_fails_on_a_pyc() {
	setup
	mkdir -p work/src/__pycache__
	cp pkg/dirtypkg/__pycache__/*.pyc work/src/__pycache__/
	git -C work add -A
	cd work
	expect_status 1 pre-commit try-repo ../hooks pycstrip-no-bytecode --all-files
	git rm -q -r --cached src
	pre-commit try-repo ../hooks pycstrip-no-bytecode --all-files
}

if ! command -v pre-commit >/dev/null 2>&1; then
	echo "not ok 1 - pre-commit missing (run make deps)"
	exit 1
fi
# The README's .pre-commit-config.yaml, pointed at the scratch hook repo.
case_readme_config() {
	setup
	rev=$(git -C hooks rev-parse HEAD)
	sed -e "s|repo: https://github.com/pycstrip/pycstrip|repo: $PWD/hooks|" \
	    -e "s|rev: v[0-9.]*|rev: $rev|" \
	    "$PYCSTRIP_ROOT/examples/ci/pre-commit-config.yaml" >work/.pre-commit-config.yaml
	grep -q "repo: $PWD/hooks" work/.pre-commit-config.yaml
	git -C work add -A
	cd work
	expect_status 1 pre-commit run --all-files
	"$PYCSTRIP" -q vendor/*.whl
	git add -A
	pre-commit run --all-files
}

run_case "pre-commit: pycstrip-check fails on a wheel with bytecode" case_check_hook_fails_on_a_wheel_with_bytecode
run_case "pre-commit: pycstrip-check passes on the stripped wheel" case_check_hook_passes_once_stripped
run_case "pre-commit: pycstrip-no-bytecode fails on a committed .pyc" case_no_bytecode_hook_fails_on_a_pyc
run_case "README: .pre-commit-config.yaml example" case_readme_config
finish
