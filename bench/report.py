#!/usr/bin/python3
"""bench/report.py OUT NAME SCENARIO... - turns the raw results of bench/run.sh
(and bench/scale.sh) into tables: prints them, and writes OUT/NAME.md and
OUT/NAME.json (machine-readable: every command's times, peak RSS, checks,
every ratio with its target and verdict).

Raw input per scenario, in OUT/scenarios/SCENARIO/: meta.tsv (lines KEY, NAME,
VALUE: title, status, note, check, rss, once, exit, size, alias, command,
value, target) and hyperfine.json when the scenario was timed.
"""
import json
import os
import sys

MIB = 1024  # KiB per MiB

# Ratios with their targets, per scenario: (label, numerator, denominator, op,
# target).  A name is a hyperfine command name, "@min:A|B" the smaller median
# of several, "@size:NAME" a size from meta.tsv; op "<", "<=", ">=" or None
# (report only).  Numerator/denominator "x" pairs are read as time(a)/time(b).
FLOOR_TREE = "@min:floor: scan + rm -rf list|floor: scan + unlink/rmdir list"
RATIOS = {
    "tree": [
        ("pycstrip -q / floor", "pycstrip -q", FLOOR_TREE, "<", 1.05),
        ("pycstrip -q / floor (below the 1-thread floor)", "pycstrip -q", FLOOR_TREE, "<", 1.0),
        ("pycstrip -q / find pair", "pycstrip -q", "find pair", "<", 1.0),
        ("pycstrip -q / find -delete", "pycstrip -q", "find -delete", "<", 1.0),
        ("pycstrip -q / python pathlib", "pycstrip -q", "python pathlib", "<", 1.0),
        ("pycstrip -q / py3clean", "pycstrip -q", "py3clean", "<", 1.0),
        ("pycstrip -q / pyclean", "pycstrip -q", "pyclean", "<", 1.0),
        ("pycstrip -q --threads 1 / floor", "pycstrip -q --threads 1", FLOOR_TREE, "<", 1.05),
        ("pycstrip -q --threads 2 / floor", "pycstrip -q --threads 2", FLOOR_TREE, "<", 1.0),
    ],
    "wheel": [
        ("pycstrip / cp", "pycstrip", "cp", "<=", 0.6),
        ("zip -d / pycstrip (speed-up)", "zip -d", "pycstrip", ">=", 2.5),
        ("unpack+pack / pycstrip (speed-up)", "wheel unpack+pack", "pycstrip", ">=", 100),
        ("output size / input size", "@size:pycstrip", "@size:input", None, None),
    ],
    "tar": [
        ("pycstrip / cp", "pycstrip", "cp", "<=", 0.6),
        ("pycstrip / bsdtar", "pycstrip", "bsdtar", None, None),
        ("pycstrip / tar --delete", "pycstrip", "tar --delete", None, None),
    ],
    "tar.gz": [
        ("pycstrip / bsdtar", "pycstrip", "bsdtar", "<=", 0.7),
        ("pycstrip / gzip pipe", "pycstrip", "gzip pipe", None, None),
        ("pycstrip / 1-thread floor", "pycstrip", "floor: gzip -d + gzip -6 kept (1 thread)", None, None),
        ("size / gzip -6 single-threaded", "@size:pycstrip", "@size:single-threaded gzip -6 -n", "<=", 1.02),
    ],
    "tar.zst": [
        ("pycstrip / zstd pipe", "pycstrip", "zstd pipe", "<=", 0.8),
        ("pycstrip / bsdtar", "pycstrip", "bsdtar", None, None),
        ("size / zstd -3 single-threaded", "@size:pycstrip", "@size:single-threaded zstd -3 --single-thread -q -c", "<=", 1.02),
    ],
    "tar.xz": [
        ("pycstrip / bsdtar", "pycstrip", "bsdtar", "<=", 0.6),
        ("pycstrip / 1-thread floor", "pycstrip", "floor: xz -6 -T1 kept", None, None),
        ("size / xz -6 single-threaded", "@size:pycstrip", "@size:single-threaded xz -6 -T1 -c", "<=", 1.02),
    ],
}
# Peak RSS targets (KiB) per scenario and rss_run name.
RSS_TARGETS = {
    "tree": {"pycstrip-q": 32 * MIB, "pycstrip-json": 64 * MIB, "pycstrip-par": 32 * MIB},
    "wheel": {"pycstrip": 32 * MIB, "pycstrip-json": 32 * MIB},
    "tar": {"pycstrip": 32 * MIB},
    "scale-tree": {"pycstrip-q": 16 * MIB, "pycstrip-json": 64 * MIB, "pycstrip-par": 16 * MIB},
    "scale-deep": {"pycstrip-q": 16 * MIB, "pycstrip-json": 64 * MIB},
}


# Display names of the single checked runs of bench/run.sh.
DISPLAY = {"pycstrip-q": "pycstrip -q", "pycstrip-json": "pycstrip -q --json FILE",
           "pycstrip-par": "pycstrip -q (second variant)",
           "pycstrip-j1": "pycstrip -j 1 --json (50 targets)",
           "pycstrip-j2": "pycstrip -j 2 --json (50 targets)",
           "find-delete": "find -delete (reference)"}


def read_meta(path):
    meta = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t", 2)
            if len(parts) == 3:
                meta.append(tuple(parts))
    return meta


def fmt_s(x):
    if x is None:
        return "-"
    if x >= 100:
        return "%.1f" % x
    if x >= 10:
        return "%.2f" % x
    return "%.3f" % x


def fmt_kb(kb):
    if kb is None:
        return "-"
    return "%.1f MiB" % (kb / 1024.0)


def check_op(value, op, target):
    if op is None or value is None:
        return None
    return {"<": value < target, "<=": value <= target, ">=": value >= target}[op]


def scenario(out, name):
    d = os.path.join(out, "scenarios", name)
    meta = read_meta(os.path.join(d, "meta.tsv"))
    first = {}
    for k, n, v in meta:
        first.setdefault((k, n), v)
    res = {"name": name, "title": first.get(("title", ""), name),
           "status": first.get(("status", ""), "incomplete"),
           "load": first.get(("load", "")),
           "notes": [v for k, n, v in meta if k == "note"],
           "checks": {n: v for k, n, v in meta if k == "check"},
           "sizes": {n: int(v) for k, n, v in meta if k == "size"},
           "values": {n: v for k, n, v in meta if k == "value"},
           "commands": [], "single_runs": [], "ratios": []}
    alias = {v: n for k, n, v in meta if k == "alias"}  # command -> rss name
    ralias = {n: v for k, n, v in meta if k == "alias"}
    res["aliases"] = sorted(ralias)
    rss = {n: int(v) for k, n, v in meta if k == "rss" and v.isdigit()}
    once = {n: float(v) for k, n, v in meta if k == "once" and v.replace(".", "", 1).isdigit()}
    exits = {n: int(v) for k, n, v in meta if k == "exit"}
    cmdline = {n: v for k, n, v in meta if k == "command"}
    hf = os.path.join(d, "hyperfine.json")
    medians = {}
    if os.path.exists(hf):
        with open(hf) as f:
            data = json.load(f)
        for r in data["results"]:
            cname = r["command"]
            bad = [c for c in r.get("exit_codes", []) if c]
            run = alias.get(cname)
            medians[cname] = r["median"]
            res["commands"].append({
                "name": cname, "command": cmdline.get(cname),
                "median": r["median"], "mean": r["mean"], "stddev": r.get("stddev"),
                "min": r["min"], "max": r["max"], "runs": len(r["times"]),
                "cpu": (r.get("user") or 0) + (r.get("system") or 0),
                "failed_runs": len(bad),
                "peak_rss_kb": rss.get(run) if run else None,
                "rss_target_kb": RSS_TARGETS.get(name, {}).get(run) if run else None,
                "check": res["checks"].get(run) if run else None})
    timed_runs = set(alias)
    for n in rss:
        if n in alias.values() and medians:
            continue
        res["single_runs"].append({
            "name": n, "label": ralias.get(n) or DISPLAY.get(n, n), "seconds": once.get(n), "peak_rss_kb": rss[n],
            "exit": exits.get(n), "check": res["checks"].get(n),
            "rss_target_kb": RSS_TARGETS.get(name, {}).get(n)})
    del timed_runs
    base = None
    for c in res["commands"]:
        if c["name"].startswith("pycstrip"):
            base = c["median"]
            break
    for c in res["commands"]:
        c["vs_pycstrip"] = c["median"] / base if base else None

    cpus = {c["name"]: c["cpu"] for c in res["commands"]}

    def cpu(ref):  # user+sys of a plain command name, else None
        if ref.startswith("@min:"):
            vals = [(medians[x], x) for x in ref[5:].split("|") if x in medians]
            return cpus.get(min(vals)[1]) if vals else None
        return cpus.get(ref)

    def value(ref):
        if ref.startswith("@min:"):
            vals = [medians[x] for x in ref[5:].split("|") if x in medians]
            return min(vals) if vals else None
        if ref.startswith("@prefix:"):
            vals = [v for k, v in medians.items() if k.startswith(ref[8:]) and "--json" not in k]
            return vals[0] if vals else None
        if ref.startswith("@size:"):
            return res["sizes"].get(ref[6:])
        return medians.get(ref)

    if res["status"].startswith("skipped"):
        res["single_runs"] = []
        return res
    failed = {c["name"] for c in res["commands"] if c["failed_runs"]}
    for label, a, b, op, target in RATIOS.get(name, []):
        va, vb = value(a), value(b)
        if va is None or vb is None or not vb:
            continue
        ratio = va / vb
        entry = {"label": label, "value": ratio, "op": op, "target": target,
                 "pass": check_op(ratio, op, target)}
        ca, cb = cpu(a), cpu(b)
        if ca is not None and cb:
            entry["cpu_ratio"] = ca / cb
        if failed & {a, b}:
            entry["pass"] = None
            entry["label"] += " (runs failed: not valid)"
        res["ratios"].append(entry)
    for c in res["commands"] + res["single_runs"]:
        t = c.get("rss_target_kb")
        if t and c.get("peak_rss_kb") is not None:
            res["ratios"].append({"label": "peak RSS %s" % c.get("label", c["name"]), "value": c["peak_rss_kb"] / 1024.0,
                                  "op": "<=", "target": t / 1024.0, "unit": "MiB",
                                  "pass": c["peak_rss_kb"] <= t})
    return res


def table(rows, headers):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    lines = ["| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(str(x).ljust(w) for x, w in zip(r, widths)) + " |")
    return lines


def render(res):
    out = ["### %s" % res["title"], ""]
    if res["status"] != "ok":
        out += ["**%s**" % res["status"], ""]
    if res["status"].startswith("skipped"):
        return out + ["- note: " + n for n in res["notes"]] + [""]
    if res["commands"]:
        rows = []
        for c in res["commands"]:
            rows.append([c["name"], fmt_s(c["median"]),
                         "%s ± %s" % (fmt_s(c["mean"]), fmt_s(c["stddev"] or 0)),
                         fmt_s(c["cpu"]), c["runs"] if not c["failed_runs"] else "%d (%d failed)" % (c["runs"], c["failed_runs"]),
                         fmt_kb(c["peak_rss_kb"]),
                         "%.2f×" % c["vs_pycstrip"] if c["vs_pycstrip"] else "-",
                         c["check"] or ""])
        out += table(rows, ["command", "median s", "mean ± σ s", "user+sys s", "runs",
                            "peak RSS", "÷ pycstrip", "check"])
        out.append("")
    if res["single_runs"]:
        rows = [[s["label"], fmt_s(s["seconds"]), fmt_kb(s["peak_rss_kb"]),
                 "" if s["exit"] in (None, 0) else "exit %d" % s["exit"], s["check"] or ""]
                for s in res["single_runs"]]
        out += ["single runs (peak RSS, checks):", ""]
        out += table(rows, ["run", "seconds", "peak RSS", "status", "check"])
        out.append("")
    if res["values"]:
        out += table([[k, v] for k, v in res["values"].items()], ["measure", "value"])
        out.append("")
    if res["ratios"]:
        rows = []
        for r in res["ratios"]:
            unit = " " + r["unit"] if r.get("unit") else ""
            tgt = "%s %g%s" % (r["op"], r["target"], unit) if r["op"] else "(report)"
            verdict = {True: "PASS", False: "MISS", None: ""}[r["pass"]]
            cr = "%.3f" % r["cpu_ratio"] if r.get("cpu_ratio") is not None else ""
            rows.append([r["label"], "%.3f%s" % (r["value"], unit), tgt, verdict, cr])
        out += table(rows, ["ratio (of medians)", "value", "target", "", "user+sys ratio"])
        out.append("")
    if res["sizes"]:
        out.append("sizes: " + ", ".join("%s %s B" % (k, format(v, ",")) for k, v in res["sizes"].items()))
        out.append("")
    shown = {c["name"] for c in res["single_runs"]} | set(res["aliases"])
    for n, v in res["checks"].items():
        if n not in shown:
            out.append("- check %s: %s" % (n, v))
    for n in res["notes"]:
        out.append("- note: " + n)
    if res["load"]:
        out.append("- load average at start: " + res["load"])
    out.append("")
    return out


def main():
    out, name, scenarios = sys.argv[1], sys.argv[2], sys.argv[3:]
    env = {}
    envf = os.path.join(out, "run.env" if name == "results" else name + ".env")
    if os.path.exists(envf):
        with open(envf) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("=")
                env[k] = v
    results = [scenario(out, s) for s in scenarios
               if os.path.exists(os.path.join(out, "scenarios", s, "meta.tsv"))]
    misses = [(r["name"], x["label"]) for r in results for x in r["ratios"] if x["pass"] is False]
    lines = ["## pycstrip benchmark (%s)" % name, ""]
    lines.append("%s (commit %s), corpus SCALE %s at %s, scratch %s (%s), %s cores, "
                 "%.0f GiB RAM, kernel %s, %s, started %s" % (
                     env.get("version", "?"), env.get("commit", "?"), env.get("scale", "?"),
                     env.get("corpus", "?"), env.get("work", "?"), env.get("work_fs", "?"),
                     env.get("cores", "?"), int(env.get("mem_kb", "0") or 0) / 1048576.0,
                     env.get("kernel", "?"), env.get("hyperfine", "?"), env.get("started", "?")))
    lines.append("")
    if name == "results":
        lines.append("Times are hyperfine medians over runs on fresh copies (made by --prepare, "
                     "not timed); ÷ pycstrip = the command's median over pycstrip's; user+sys = "
                     "mean CPU time; peak RSS from GNU time on a separate checked run.")
    else:
        lines.append("One checked run per line, timed with GNU time (wall seconds, peak RSS).")
    lines.append("")
    for r in results:
        lines += render(r)
    if misses:
        lines.append("**Targets missed:** " + "; ".join("%s: %s" % m for m in misses))
    else:
        lines.append("All measured targets met." if any(r["ratios"] for r in results)
                     else "No target could be measured.")
    lines.append("")
    text = "\n".join(lines)
    with open(os.path.join(out, name + ".md"), "w") as f:
        f.write(text)
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump({"env": env, "scenarios": results,
                   "missed": [{"scenario": a, "ratio": b} for a, b in misses]}, f, indent=2)
        f.write("\n")
    print()
    print(text)
    print("bench: results in %s/%s.md and %s.json" % (out, name, name))


if __name__ == "__main__":
    main()
