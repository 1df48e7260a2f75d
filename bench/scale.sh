#!/usr/bin/env bash
# bench/scale.sh [SCENARIO...] - the scale cases of issue 7, one checked run
# each (time and peak RSS with GNU time), results in BENCH_OUT/scale.{md,json}:
#
#   scale-tree  a 1,011,110-entry tree (deep and wide: 100,000 __pycache__,
#               400,000 .pyc, 14 levels; bench/mktree.py wide): pycstrip -q,
#               with --json, with the tree worker threads; find -delete for
#               reference.  Targets: peak RSS <= 16 MiB (-q), <= 64 MiB (--json).
#   scale-deep  a 10,000-level directory chain (bench/mktree.py deep) under
#               `ulimit -n 1024`: no crash, chain intact, bytecode gone.
#   scale-jobs  `pycstrip -j 2` over 50 artifacts (25 wheels, 25 .tar.gz made
#               from one corpus replica's site-packages) against -j 1: the
#               summary lists all 50, in the order given, each complete.
#   scale-zip64 a wheel over 4 GiB (4.5 GB stored member + 200,000 small ones,
#               bench/mkbig.py) stripped in place: zip64 sizes, RECORD, CRC.
#   scale-bigtar a pax tar over 8 GiB (8.7 GB member + 200,000 small ones).
#               These two write to BENCH_BIG_DIR [/var/tmp/pycstrip-bench-big]
#               (disk: 10 and 19 GB free needed) and are not in the default
#               list: make bench-scale BENCH_SCALE_SCENARIOS="scale-zip64 scale-bigtar"
#               Sizes: BENCH_ZIP64_BYTES, BENCH_BIGTAR_BYTES, BENCH_BIG_SMALL.
#
# Each case is skipped with a printed reason when BENCH_WORK or RAM is short
# or this pycstrip cannot handle the artifacts yet.  Environment: as run.sh.
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}'; }

# --- 1M-entry tree ---------------------------------------------------------------
scale_tree() {
	begin scale-tree "scale: 1,011,110-entry tree (100,000 __pycache__, 400,000 .pyc, 14 levels deep)"
	[ -x "$PYCSTRIP" ] || { skip "$PYCSTRIP not built"; return; }
	# empty files: ~1 KiB of tmpfs inode and dentry per entry, two copies
	need_space 3000000 || return
	local TPL=$WORK/wide-template T=$WORK/wide t0 left n par
	rm -rf "$TPL" "$T"
	t0=$(now)
	"$PY" "$ROOT/bench/mktree.py" wide "$TPL" >"$SD/gen.env" || { skip "bench/mktree.py wide failed"; return; }
	meta value "generate the tree (python)" "$(since "$t0") s"
	# shellcheck disable=SC1091
	. "$SD/gen.env"
	local kept=$((GEN_ENTRIES - 5 * GEN_PYCACHE))
	meta value "entries / __pycache__ / .pyc" "$GEN_ENTRIES / $GEN_PYCACHE / $GEN_PYC"
	run_variant() { # NAME ARGS...
		local name=$1
		shift
		rm -rf "$T"
		cp -a "$TPL" "$T"
		local rc
		rss_run "$name" "$@"
		rc=$?
		if [ $rc -ne 0 ]; then
			check "$name" "exited $rc: $(first_err "$name")"
			return 1
		fi
		left=$(find "$T" \( -name __pycache__ -o -name '*.py[co]' \) | wc -l)
		n=$(find "$T" -mindepth 1 | wc -l)
		if [ "$left" -ne 0 ]; then
			check "$name" "$left bytecode entries left"
		elif [ "$n" -ne "$kept" ]; then
			check "$name" "$n entries kept, expected $kept"
		else
			check "$name" ok
		fi
	}
	run_variant pycstrip-q "$PYCSTRIP" -q "$T" || { rm -rf "$TPL" "$T"; skip "pycstrip -q failed on the tree"; return; }
	if run_variant pycstrip-json "$PYCSTRIP" -q --json "$WORK/wide.json" "$T"; then
		check "summary counts" "$("$PY" - "$WORK/wide.json" "$GEN_PYC" "$GEN_PYCACHE" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
t = s["targets"][0]
pyc, dirs = int(sys.argv[2]), int(sys.argv[3])
bad = []
if t["removed_files"] != pyc: bad.append("removed_files %d != %d" % (t["removed_files"], pyc))
if t["removed_dirs"] != dirs: bad.append("removed_dirs %d != %d" % (t["removed_dirs"], dirs))
if len(t["removed"]) != pyc: bad.append("len(removed) %d" % len(t["removed"]))
print("; ".join(bad) or "ok")
EOF
)"
	fi
	rm -f "$WORK/wide.json"
	par=$(tree_par_opts)
	if [ -n "$par" ]; then
		# shellcheck disable=SC2086
		run_variant pycstrip-par "$PYCSTRIP" -q $par "$T"
		meta alias pycstrip-par "pycstrip -q $par"
	fi
	run_variant find-delete find "$T" \( -name __pycache__ -o -name '*.py[co]' \) -delete
	rm -rf "$TPL" "$T"
	meta status "" ok
}

# --- 10,000-deep chain -------------------------------------------------------------
DEPTH=${BENCH_DEEP:-10000}
scale_deep() {
	begin scale-deep "scale: $DEPTH-level directory chain, ulimit -n 1024"
	[ -x "$PYCSTRIP" ] || { skip "$PYCSTRIP not built"; return; }
	need_space 200000 || return
	local T=$WORK/deep rc
	deep_check() { # NAME: chain intact, bytecode gone
		check "$1" "$("$PY" - "$T" "$DEPTH" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
depth, bad = 0, []
while True:
    names = set(os.listdir(fd))
    left = names & {"__pycache__", "m.pyc"}
    if left: bad.append("level %d still has %s" % (depth, sorted(left))); break
    if depth and "m.py" not in names: bad.append("m.py missing at level %d" % depth); break
    if "d" not in names: break
    nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    os.close(fd)
    fd, depth = nfd, depth + 1
if not bad and depth != int(sys.argv[2]): bad.append("chain is %d deep" % depth)
print("; ".join(bad) or "ok")
EOF
)"
	}
	for variant in q json; do
		rm -rf "$T"
		"$PY" "$ROOT/bench/mktree.py" deep "$T" "$DEPTH" >"$SD/gen.env" || { skip "bench/mktree.py deep failed"; return; }
		if [ $variant = q ]; then
			rss_run pycstrip-q bash -c 'ulimit -n 1024 && exec "$@"' - "$PYCSTRIP" -q "$T"
		else
			rss_run pycstrip-json bash -c 'ulimit -n 1024 && exec "$@"' - "$PYCSTRIP" -q --json "$WORK/deep.json" "$T"
		fi
		rc=$?
		if [ $rc -ne 0 ]; then
			check pycstrip-$variant "exited $rc: $(first_err pycstrip-$variant)"
		else
			deep_check pycstrip-$variant
		fi
	done
	rm -rf "$T" "$WORK/deep.json"
	meta status "" ok
}

# --- -j 2 over 50 artifacts --------------------------------------------------------
scale_jobs() {
	begin scale-jobs "scale: pycstrip -j 2 over 50 artifacts (25 wheels, 25 .tar.gz)"
	[ -x "$PYCSTRIP" ] || { skip "$PYCSTRIP not built"; return; }
	need_space 2500000 || return
	local A=$WORK/jobs-src J=$WORK/jobs st i args=() rc
	rm -rf "$A" "$J"
	st=$A/stage/scalejobs-1.0
	mkdir -p "$st/scalejobs-1.0.dist-info" "$A/out"
	cp -a "$CORPUS/tree/pkg000/site" "$st/site"
	printf '%s\n' 'Metadata-Version: 2.1' 'Name: scalejobs' 'Version: 1.0' >"$st/scalejobs-1.0.dist-info/METADATA"
	printf '%s\n' 'Wheel-Version: 1.0' 'Generator: bench/scale.sh' 'Root-Is-Purelib: true' \
	    'Tag: py3-none-any' >"$st/scalejobs-1.0.dist-info/WHEEL"
	"$PY" -m wheel pack -d "$A/out" "$st" >/dev/null || { skip "wheel pack failed"; return; }
	tar -C "$A/stage" -czf "$A/out/scalejobs-1.0.tar.gz" scalejobs-1.0
	rm -rf "$A/stage"
	meta size wheel "$(stat -c %s "$A/out/scalejobs-1.0-py3-none-any.whl")"
	meta size tar.gz "$(stat -c %s "$A/out/scalejobs-1.0.tar.gz")"
	for i in $(seq -w 1 25); do
		cp "$A/out/scalejobs-1.0-py3-none-any.whl" "$A/w$i.whl"
		cp "$A/out/scalejobs-1.0.tar.gz" "$A/t$i.tar.gz"
		args+=("$J/w$i.whl" "$J/t$i.tar.gz")
	done
	rm -rf "$A/out"
	for j in 1 2; do
		rm -rf "$J"
		cp -a "$A" "$J"
		rss_run "pycstrip-j$j" "$PYCSTRIP" -q -j $j --json "$WORK/jobs$j.json" "${args[@]}"
		rc=$?
		if [ $rc -ne 0 ]; then
			if [ $j = 1 ]; then
				skip "pycstrip -j 1 over the artifacts exited $rc: $(first_err pycstrip-j1)"
				rm -rf "$A" "$J" "$WORK"/jobs?.json
				return
			fi
			check "pycstrip-j$j" "exited $rc: $(first_err "pycstrip-j$j")"
			continue
		fi
		check "pycstrip-j$j" "$("$PY" - "$WORK/jobs$j.json" "${args[@]}" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
paths = sys.argv[2:]
t = s["targets"]
bad = []
if [x["path"] for x in t] != paths: bad.append("targets missing or out of order")
if not s.get("ok"): bad.append("ok is false")
for kind in (".whl", ".tar.gz"):
    xs = [x for x in t if x["path"].endswith(kind)]
    sig = {(x["status"], x["removed_files"], x["removed_dirs"], x["removed_bytes"], len(x["removed"])) for x in xs}
    if len(sig) != 1 or list(sig)[0][0] != "ok" or list(sig)[0][1] == 0:
        bad.append("%s targets differ or failed: %s" % (kind, sorted(sig)[:3]))
if s["totals"]["targets"] != len(paths): bad.append("totals.targets %d" % s["totals"]["targets"])
print("; ".join(bad) or "ok (50 targets in order)")
EOF
)"
	done
	local t1 t2
	t1=$(grep "^once	pycstrip-j1	" "$SD/meta.tsv" | cut -f3)
	t2=$(grep "^once	pycstrip-j2	" "$SD/meta.tsv" | cut -f3)
	if [ -n "$t1" ] && [ -n "$t2" ]; then
		meta value "speed-up -j 2 over -j 1" "$(awk -v a="$t1" -v b="$t2" 'BEGIN {printf "%.2f×", a / b}')"
	fi
	rm -rf "$A" "$J" "$WORK"/jobs?.json
	meta status "" ok
}

# --- a zip64 wheel over 4 GiB and a tar over 8 GiB, on disk -------------------------
BIG=${BENCH_BIG_DIR:-/var/tmp/pycstrip-bench-big}
big_room() { # KB: skips unless BIG has room (RAM too when it is tmpfs)
	mkdir -p "$BIG" || { skip "cannot create $BIG"; return 1; }
	local free
	free=$(kb_free "$BIG")
	if [ "$free" -lt "$1" ]; then
		skip "$BIG has $((free / 1048576)) GiB free, needs $(($1 / 1048576)) GiB (set BENCH_BIG_DIR)"
		return 1
	fi
	case $(stat -f -c %T "$BIG") in
	tmpfs | ramfs)
		if [ "$(kb_memavail)" -lt $(($1 + 2097152)) ]; then
			skip "$BIG is tmpfs and RAM is short: $(($(kb_memavail) / 1048576)) GiB available, needs $(($1 / 1048576 + 2)) GiB"
			return 1
		fi ;;
	esac
}
scale_zip64() {
	local bytes=${BENCH_ZIP64_BYTES:-4500000000} small=${BENCH_BIG_SMALL:-200000}
	begin scale-zip64 "scale: zip64 wheel with a $((bytes / 1000000)) MB stored member + $small small ones, in place in $BIG"
	[ -x "$PYCSTRIP" ] || { skip "$PYCSTRIP not built"; return; }
	big_room $((bytes / 1024 * 2 + 1000000)) || return
	local W=$BIG/big-1.0-py3-none-any.whl t0 rc
	rm -f "$W"
	t0=$(now)
	BIG_BYTES=$bytes SMALL=$small "$PY" "$ROOT/bench/mkbig.py" zip64 "$W" >"$SD/gen.env" || { skip "bench/mkbig.py zip64 failed"; rm -f "$W"; return; }
	meta value "generate (python zipfile)" "$(since "$t0") s"
	# shellcheck disable=SC1091
	. "$SD/gen.env"
	meta size input "$(stat -c %s "$W")"
	rss_run pycstrip "$PYCSTRIP" -q "$W"
	rc=$?
	if [ $rc -ne 0 ]; then
		check pycstrip "exited $rc: $(first_err pycstrip)"
	else
		meta size pycstrip "$(stat -c %s "$W")"
		check pycstrip "$("$PY" - "$W" "$KEPT" "$BIG_BYTES" <<'EOF2'
import csv, io, sys, zipfile, zlib
path, kept, big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
bad = []
zf = zipfile.ZipFile(path)
names = zf.namelist()
if len(names) != kept: bad.append("%d members, expected %d" % (len(names), kept))
if any("__pycache__" in n or n.endswith(".pyc") for n in names): bad.append("bytecode left")
rows = {r[0] for r in csv.reader(io.StringIO(zf.read("big-1.0.dist-info/RECORD").decode())) if r}
if rows != set(names): bad.append("RECORD names != members")
i = zf.getinfo("big/data.bin")
if i.file_size != big or i.compress_size != big: bad.append("big member sizes %d/%d" % (i.file_size, i.compress_size))
crc = 0
with zf.open(i) as f:
    while True:
        b = f.read(1 << 22)
        if not b: break
        crc = zlib.crc32(b, crc)
if crc != i.CRC: bad.append("big member CRC")
print("; ".join(bad) or "ok (zip64 sizes, RECORD, big member CRC)")
EOF2
)"
	fi
	rm -f "$W"
	meta status "" ok
}
scale_bigtar() {
	local bytes=${BENCH_BIGTAR_BYTES:-8700000000} small=${BENCH_BIG_SMALL:-200000}
	begin scale-bigtar "scale: pax tar with a $((bytes / 1000000)) MB member + $small small ones, in place in $BIG"
	[ -x "$PYCSTRIP" ] || { skip "$PYCSTRIP not built"; return; }
	big_room $((bytes / 1024 * 2 + 1000000)) || return
	local T=$BIG/big-1.0.tar t0 rc n
	rm -f "$T"
	t0=$(now)
	BIG_BYTES=$bytes SMALL=$small "$PY" "$ROOT/bench/mkbig.py" tar "$T" >"$SD/gen.env" || { skip "bench/mkbig.py tar failed"; rm -f "$T"; return; }
	meta value "generate (python tarfile)" "$(since "$t0") s"
	# shellcheck disable=SC1091
	. "$SD/gen.env"
	meta size input "$(stat -c %s "$T")"
	rss_run pycstrip "$PYCSTRIP" -q "$T"
	rc=$?
	if [ $rc -ne 0 ]; then
		check pycstrip "exited $rc: $(first_err pycstrip)"
	else
		meta size pycstrip "$(stat -c %s "$T")"
		tar -tvf "$T" >"$SD/listing.txt" 2>"$SD/listing.err"
		n=$(wc -l <"$SD/listing.txt")
		if [ "$n" -ne "$KEPT" ]; then
			check pycstrip "$n members, expected $KEPT: $(head -c 200 "$SD/listing.err")"
		elif grep -q -e __pycache__ -e '\.pyc$' "$SD/listing.txt"; then
			check pycstrip "bytecode left"
		elif ! grep -q " $BIG_BYTES .*big-1.0/big/data.bin\$" "$SD/listing.txt"; then
			check pycstrip "big member missing or resized"
		else
			check pycstrip "ok (GNU tar lists $n members, big member intact)"
		fi
		rm -f "$SD/listing.txt"
	fi
	rm -f "$T"
	meta status "" ok
}

scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(scale-tree scale-deep scale-jobs)
{
	echo "started=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "version=$("$PYCSTRIP" --version 2>/dev/null | head -n 1)"
	echo "commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
	echo "corpus=$CORPUS"
	echo "scale=$SCALE"
	echo "work=$WORK"
	echo "work_fs=$(stat -f -c %T "$WORK")"
	echo "cores=$(nproc)"
	echo "mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
	echo "kernel=$(uname -r)"
	echo "hyperfine=GNU time, one run each"
} >"$OUT/scale.env"
for s in "${scenarios[@]}"; do
	case $s in
	scale-tree) scale_tree ;;
	scale-deep) scale_deep ;;
	scale-jobs) scale_jobs ;;
	scale-zip64) scale_zip64 ;;
	scale-bigtar) scale_bigtar ;;
	*) die "unknown scenario $s (scale-tree scale-deep scale-jobs scale-zip64 scale-bigtar)" ;;
	esac
done
rmdir "$WORK" "$BIG" 2>/dev/null
exec "$PY" "$ROOT/bench/report.py" "$OUT" scale "${scenarios[@]}"
