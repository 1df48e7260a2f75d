"""ghaction.py - runs a composite GitHub Action's steps the way the runner does.

No local runner for composite actions exists here (act sets INPUT_* variables
that GitHub does not set for composite actions, actions/runner#665), so the
tests run action.yml with this module:

- each `run:` step is written to a file and run as GitHub's `shell: bash`
  does: `bash --noprofile --norc -eo pipefail FILE` (`sh`: `sh -e FILE`);
- a step's environment is the runner's default variables (GITHUB_*,
  RUNNER_*, CI), what earlier steps appended to GITHUB_ENV, and the `env:` the
  step declares; never INPUT_*;
- `${{ }}` is evaluated (inputs, github, runner, steps, env contexts; ||, &&,
  !, ==, != with GitHub's case-insensitive string equality, literals,
  format(), contains(), startsWith(), success(), failure(), always()), also
  textually inside `run:`, as GitHub does, so an action that put
  `${{ inputs.x }}` in a script would be injectable here too;
- GITHUB_OUTPUT, GITHUB_ENV (key=value and key<<DELIM forms), GITHUB_PATH and
  GITHUB_STEP_SUMMARY files per step; outputs collected per step id;
- `::error`/`::warning`/`::notice` lines on standard output are collected as
  annotations.

Also runs a workflow job's steps (run_job): `run:` steps as above, a step that
`uses:` the action under test through run_action, other `uses:` steps
handed to a callback (the tests stub actions/checkout and the like).
"""
import os
import platform
import re
import subprocess
import tempfile

import yaml

__all__ = ["ActionResult", "evaluate", "run_action", "run_job", "substitute"]


class ExprError(Exception):
    pass


_TOKEN = re.compile(r"""\s*(?:
    (?P<num>-?\d+(?:\.\d+)?)
  | (?P<str>'(?:[^']|'')*')
  | (?P<op>\|\||&&|==|!=|<=|>=|[!<>()\[\],.*])
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
)""", re.X)


def _tokens(text):
    pos, out = 0, []
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExprError("cannot parse expression at %r" % text[pos:])
        pos = m.end()
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
    return out


def _truthy(v):
    return not (v is None or v is False or v == 0 or v == "")


def _str(v):
    if v is None:
        return ""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _eq(a, b):
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if isinstance(a, str) or isinstance(b, str):
        try:
            return float(a if not isinstance(a, bool) else int(a)) == \
                float(b if not isinstance(b, bool) else int(b))
        except (TypeError, ValueError):
            return False
    return a == b


class _Parser:
    def __init__(self, tokens, ctx, status):
        self.t, self.i, self.ctx, self.status = tokens, 0, ctx, status

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None)

    def take(self, value=None):
        tok = self.peek()
        if tok[0] is None or (value is not None and tok[1] != value):
            raise ExprError("expected %r, got %r" % (value, tok[1]))
        self.i += 1
        return tok

    def parse(self):
        v = self.or_()
        if self.i != len(self.t):
            raise ExprError("trailing tokens: %r" % (self.t[self.i:],))
        return v

    def or_(self):
        v = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            r = self.and_()
            v = v if _truthy(v) else r
        return v

    def and_(self):
        v = self.cmp()
        while self.peek() == ("op", "&&"):
            self.take()
            r = self.cmp()
            v = r if _truthy(v) else v
        return v

    def cmp(self):
        v = self.unary()
        while self.peek()[1] in ("==", "!="):
            op = self.take()[1]
            r = self.unary()
            v = _eq(v, r) if op == "==" else not _eq(v, r)
        return v

    def unary(self):
        if self.peek() == ("op", "!"):
            self.take()
            return not _truthy(self.unary())
        return self.postfix()

    def postfix(self):
        v = self.primary()
        while True:
            tok = self.peek()
            if tok == ("op", "."):
                self.take()
                name = self.take()[1]
                v = v.get(name) if isinstance(v, dict) else None
            elif tok == ("op", "["):
                self.take()
                key = self.or_()
                self.take("]")
                v = v.get(_str(key)) if isinstance(v, dict) else None
            else:
                return v

    def primary(self):
        kind, val = self.take()
        if kind == "num":
            return float(val)
        if kind == "str":
            return val[1:-1].replace("''", "'")
        if (kind, val) == ("op", "("):
            v = self.or_()
            self.take(")")
            return v
        if kind == "name":
            if val in ("true", "false"):
                return val == "true"
            if val == "null":
                return None
            if self.peek() == ("op", "("):
                return self.call(val)
            if val not in self.ctx:
                raise ExprError("unknown context %r" % val)
            return self.ctx[val]
        raise ExprError("unexpected %r" % val)

    def call(self, fn):
        self.take("(")
        args = []
        while self.peek() != ("op", ")"):
            args.append(self.or_())
            if self.peek() == ("op", ","):
                self.take()
        self.take(")")
        fn = fn.lower()
        if fn == "success":
            return self.status == "success"
        if fn == "failure":
            return self.status == "failure"
        if fn == "always":
            return True
        if fn == "cancelled":
            return False
        if fn == "format":
            out = _str(args[0])
            for n, a in enumerate(args[1:]):
                out = out.replace("{%d}" % n, _str(a))
            return out
        if fn == "contains":
            hay, needle = args
            if isinstance(hay, list):
                return any(_eq(h, needle) for h in hay)
            return _str(needle).lower() in _str(hay).lower()
        if fn == "startswith":
            return _str(args[0]).lower().startswith(_str(args[1]).lower())
        if fn == "endswith":
            return _str(args[0]).lower().endswith(_str(args[1]).lower())
        raise ExprError("unsupported function %s()" % fn)


def evaluate(expr, ctx, status="success"):
    """Value of one expression (without the ${{ }})."""
    return _Parser(_tokens(expr), ctx, status).parse()


_EMBED = re.compile(r"\$\{\{(.*?)\}\}", re.S)


def substitute(text, ctx, status="success"):
    """Text with every ${{ expr }} replaced by its string value."""
    if not isinstance(text, str):
        return text
    return _EMBED.sub(lambda m: _str(evaluate(m.group(1), ctx, status)), text)


def _condition(cond, ctx, status):
    """A step's if: (default success()); GitHub adds success() unless a
    status function appears."""
    if cond is None or cond == "":
        return status == "success"
    if isinstance(cond, bool):
        return cond and status == "success"
    cond = str(cond).strip()
    m = re.fullmatch(r"\$\{\{(.*)\}\}", cond, re.S)
    if m:
        cond = m.group(1)
    if not re.search(r"\b(success|failure|always|cancelled)\s*\(", cond):
        cond = "success() && (%s)" % cond
    return _truthy(evaluate(cond, ctx, status))


def _read_kv(path):
    """Parses a GITHUB_OUTPUT / GITHUB_ENV file."""
    out = {}
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        m = re.match(r"^([^=<]+)<<(.+)$", line)
        if m and "=" not in line.split("<<")[0]:
            key, delim, val = m.group(1), m.group(2), []
            while i < len(lines) and lines[i] != delim:
                val.append(lines[i])
                i += 1
            if i >= len(lines):
                raise ValueError("%s: unterminated %s<<%s" % (path, key, delim))
            i += 1
            out[key] = "\n".join(val)
        elif "=" in line:
            key, val = line.split("=", 1)
            out[key] = val
        else:
            raise ValueError("%s: bad line %r" % (path, line))
    return out


_COMMAND = re.compile(r"^::(error|warning|notice|debug)(?: ([^:]*))?::(.*)$")


def _unescape_data(s):
    return s.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def _unescape_prop(s):
    return (s.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":")
            .replace("%2C", ",").replace("%25", "%"))


def parse_annotations(stdout):
    """The workflow commands in stdout, as dicts type/props/message."""
    found = []
    for line in stdout.splitlines():
        m = _COMMAND.match(line)
        if not m or m.group(1) == "debug":
            continue
        props = {}
        if m.group(2):
            for part in m.group(2).split(","):
                k, _, v = part.partition("=")
                props[k] = _unescape_prop(v)
        found.append({"type": m.group(1), "props": props,
                      "message": _unescape_data(m.group(3))})
    return found


class ActionResult:
    def __init__(self):
        self.ok = True
        self.outputs = {}
        self.steps = {}
        self.stdout = ""
        self.stderr = ""
        self.summary = ""
        self.annotations = []
        self.failed_step = None
        self.exit_code = 0

    def count(self, kind):
        return sum(1 for a in self.annotations if a["type"] == kind)

    def log(self):
        return "--- stdout\n%s--- stderr\n%s--- summary\n%s" % (
            self.stdout, self.stderr, self.summary)


def _machine_arch():
    m = platform.machine()
    return {"x86_64": "X64", "aarch64": "ARM64", "arm64": "ARM64"}.get(m, m)


class Runner:
    """The runner's side: temp dir, tool cache, workspace, GITHUB_ENV, PATH."""

    def __init__(self, workspace, temp, tool_cache, base_env=None,
                 github=None, arch=None):
        self.workspace = workspace
        self.temp = temp
        self.tool_cache = tool_cache
        self.arch = arch or _machine_arch()
        self.env_file_values = {}
        self.extra_path = []
        self.base_env = dict(base_env or {})
        self.base_env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        self.base_env.setdefault("HOME", os.environ.get("HOME", "/root"))
        self.base_env.setdefault("LANG", "C.UTF-8")
        self.github = {"server_url": "https://github.com",
                       "repository": "user/project", "workspace": workspace,
                       "event_name": "push", "ref": "refs/heads/main",
                       "action_repository": "", "action_ref": "",
                       "action_path": ""}
        self.github.update(github or {})
        self.n = 0

    def runner_ctx(self):
        return {"os": "Linux", "arch": self.arch, "temp": self.temp,
                "tool_cache": self.tool_cache, "name": "test-runner"}

    def default_env(self, files, action_path=None):
        env = dict(self.base_env)
        env.update({
            "CI": "true", "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": self.workspace,
            "GITHUB_REPOSITORY": self.github["repository"],
            "GITHUB_SERVER_URL": self.github["server_url"],
            "GITHUB_REF": self.github["ref"],
            "GITHUB_EVENT_NAME": self.github["event_name"],
            "RUNNER_OS": "Linux", "RUNNER_ARCH": self.arch,
            "RUNNER_TEMP": self.temp, "RUNNER_TOOL_CACHE": self.tool_cache,
        })
        env.update(files)
        if action_path:
            env["GITHUB_ACTION_PATH"] = action_path
        env.update(self.env_file_values)
        if self.extra_path:
            env["PATH"] = ":".join(reversed(self.extra_path)) + ":" + env["PATH"]
        return env

    def run_script(self, shell, script, env, cwd, result):
        """Runs one run: step; returns its exit code."""
        self.n += 1
        d = os.path.join(self.temp, "_step%03d" % self.n)
        os.makedirs(d)
        path = os.path.join(d, "script")
        with open(path, "w", encoding="utf-8") as f:
            f.write(script)
        shell = shell or "bash"
        if shell == "bash":
            argv = ["bash", "--noprofile", "--norc", "-eo", "pipefail", path]
        elif shell == "sh":
            argv = ["sh", "-e", path]
        else:
            raise ValueError("unsupported shell %r" % shell)
        p = subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, errors="replace", timeout=900)
        result.stdout += p.stdout
        result.stderr += p.stderr
        result.annotations += parse_annotations(p.stdout)
        return p.returncode

    def step_files(self):
        d = tempfile.mkdtemp(prefix="_files", dir=self.temp)
        files = {}
        for key in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH",
                    "GITHUB_STEP_SUMMARY"):
            files[key] = os.path.join(d, key.lower())
            open(files[key], "w").close()
        return files

    def collect(self, files, result):
        self.env_file_values.update(_read_kv(files["GITHUB_ENV"]))
        with open(files["GITHUB_PATH"], encoding="utf-8") as f:
            self.extra_path += [l for l in f.read().splitlines() if l]
        with open(files["GITHUB_STEP_SUMMARY"], encoding="utf-8") as f:
            result.summary += f.read()
        return _read_kv(files["GITHUB_OUTPUT"])


def run_action(action_dir, inputs=None, runner=None, cwd=None,
               action_ref="", action_repository="", result=None):
    """Runs action_dir/action.yml (composite) with inputs (strings).

    Returns an ActionResult: ok, outputs (the action's), steps (each step's
    outputs and outcome), stdout, stderr, summary, annotations.
    """
    with open(os.path.join(action_dir, "action.yml"), encoding="utf-8") as f:
        action = yaml.safe_load(f)
    if action["runs"]["using"] != "composite":
        raise ValueError("not a composite action")
    given = dict(inputs or {})
    spec = action.get("inputs") or {}
    unknown = set(given) - set(spec)
    if unknown:
        raise ValueError("unexpected inputs %s" % sorted(unknown))
    values = {}
    for name, meta in spec.items():
        meta = meta or {}
        if name in given:
            values[name] = _str(given[name])
        elif "default" in meta:
            values[name] = _str(meta["default"])
        elif meta.get("required"):
            raise ValueError("input %s is required" % name)
        else:
            values[name] = ""
    result = result or ActionResult()
    cwd = cwd or runner.workspace
    github = dict(runner.github, action_path=action_dir, action_ref=action_ref,
                  action_repository=action_repository)
    steps = {}
    status = "success"
    for n, step in enumerate(action["runs"]["steps"]):
        ctx = {"inputs": values, "github": github,
               "runner": runner.runner_ctx(), "steps": steps,
               "env": dict(runner.env_file_values)}
        sid = step.get("id", "__step%d" % n)
        if not _condition(step.get("if"), ctx, status):
            steps[sid] = {"outputs": {}, "outcome": "skipped",
                          "conclusion": "skipped"}
            continue
        if "uses" in step:
            raise ValueError("nested uses: not supported: %s" % step["uses"])
        if "shell" not in step:
            raise ValueError("composite run steps need shell:")
        files = runner.step_files()
        env = runner.default_env(files, action_dir)
        for k, v in (step.get("env") or {}).items():
            env[k] = _str(substitute(_str(v), ctx, status))
        script = substitute(step["run"], ctx, status)
        wd = os.path.join(cwd, substitute(step.get("working-directory", "."),
                                          ctx, status))
        rc = runner.run_script(step["shell"], script, env, wd, result)
        outputs = runner.collect(files, result)
        outcome = "success" if rc == 0 else "failure"
        steps[sid] = {"outputs": outputs, "outcome": outcome,
                      "conclusion": outcome}
        if rc != 0 and not step.get("continue-on-error"):
            status = "failure"
            if result.failed_step is None:
                result.failed_step = step.get("name", sid)
                result.exit_code = rc
    ctx = {"inputs": values, "github": github, "runner": runner.runner_ctx(),
           "steps": steps, "env": dict(runner.env_file_values)}
    result.ok = status == "success"
    result.steps = steps
    result.outputs = {k: _str(substitute(_str((v or {}).get("value", "")), ctx))
                      for k, v in (action.get("outputs") or {}).items()}
    return result


def run_job(job, runner, uses_handler, cwd=None):
    """Runs the steps of one workflow job (a dict from a workflow file).

    uses_handler(step, with_inputs, result) runs a `uses:` step and returns
    (ok, outputs).  Returns an ActionResult for the whole job.
    """
    result = ActionResult()
    steps = {}
    status = "success"
    cwd = cwd or runner.workspace
    job_env = job.get("env") or {}
    for n, step in enumerate(job["steps"]):
        ctx = {"github": runner.github, "runner": runner.runner_ctx(),
               "steps": steps, "env": dict(job_env, **runner.env_file_values),
               "inputs": {}, "secrets": {}, "vars": {}, "matrix": {}}
        sid = step.get("id", "__step%d" % n)
        if not _condition(step.get("if"), ctx, status):
            steps[sid] = {"outputs": {}, "outcome": "skipped",
                          "conclusion": "skipped"}
            continue
        if "uses" in step:
            with_inputs = {k: _str(substitute(_str(v), ctx, status))
                           for k, v in (step.get("with") or {}).items()}
            ok, outputs = uses_handler(step, with_inputs, result)
        else:
            files = runner.step_files()
            env = runner.default_env(files)
            for k, v in dict(job_env, **(step.get("env") or {})).items():
                env[k] = _str(substitute(_str(v), ctx, status))
            script = substitute(step["run"], ctx, status)
            wd = os.path.join(cwd, step.get("working-directory", "."))
            rc = runner.run_script(step.get("shell", "bash"), script, env, wd,
                                   result)
            outputs = runner.collect(files, result)
            ok = rc == 0
        outcome = "success" if ok else "failure"
        steps[sid] = {"outputs": outputs, "outcome": outcome,
                      "conclusion": outcome}
        if not ok and not step.get("continue-on-error"):
            status = "failure"
            if result.failed_step is None:
                result.failed_step = step.get("name", step.get("uses", sid))
    result.ok = status == "success"
    result.steps = steps
    return result
