#!/usr/bin/env bash
# bench/run.sh [SCENARIO...] - times pycstrip against the tools people use
# today, side by side, on the benchmark corpus (bench/corpus.sh), and writes
# BENCH_OUT/results.{json,md} (bench/report.py prints the tables).
#
# Scenarios: tree wheel tar tar.gz tar.zst tar.xz (default: all of them).
# Each one first runs pycstrip once on a fresh copy of its input: that run
# gives the peak RSS (GNU time), checks the result (listing, contents,
# RECORD), and tells whether this pycstrip handles the format at all; when it
# fails the scenario is skipped with the reason printed.  Then one hyperfine
# call times pycstrip and the other tools, each run on a fresh copy made by
# --prepare on tmpfs (BENCH_WORK).
#
# Environment (mk/bench.mk sets them):
#   PYCSTRIP        binary under test      [build/pycstrip]
#   BENCH_CORPUS    corpus directory (manifest.env inside)        (required)
#   BENCH_WORK      scratch directory on tmpfs  [/dev/shm/pycstrip-bench]
#   BENCH_OUT       results directory           [build/bench]
#   BENCH_MIN_RUNS / BENCH_MAX_RUNS   hyperfine -m / -M        [3 / 10]
#   BENCH_TREE_PAR  options of a second timed tree variant, e.g. "--threads 2"
#                   [--threads 1 when --help shows --threads; "none": no variant]
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"


# --- tree --------------------------------------------------------------------
tree_listing() { # DIR: names, types, sizes, modes, mtimes of what tree mode keeps
	(cd "$1" && find . \( -name __pycache__ -prune \) -o \( -name '*.py[co]' \) -o \
	    \( -type d -printf '%P d %m\n' \) -o -printf '%P %y %s %m %T@\n') | sort
}
scen_tree() {
	begin tree "tree mode: SCALE $SCALE tree, $TREE_FILES files, $TREE_PYCACHE_DIRS __pycache__, $TREE_PYC .pyc, $((TREE_DISK_KB / 1024)) MiB"
	[ -x "$PYCSTRIP" ] || { skip "$PYCSTRIP not built"; return; }
	need_space $((TREE_DISK_KB + TREE_DISK_KB / 10)) || return
	local T=$WORK/tree src=$CORPUS/$TREE par rc removed_other
	local prep="rm -rf $(q "$T") && cp -a $(q "$src") $(q "$T")"
	tree_listing "$src" >"$WORK/tree-expected.txt"
	# correctness + peak RSS, -q
	eval "$prep"
	rss_run pycstrip-q "$PYCSTRIP" -q "$T"
	rc=$?
	if [ $rc -ne 0 ]; then
		skip "pycstrip -q TREE exited $rc: $(first_err pycstrip-q)"
		rm -rf "$T"
		return
	fi
	if [ -n "$(find "$T" \( -name __pycache__ -o -name '*.py[co]' \) -print -quit)" ]; then
		check pycstrip-q "bytecode left: $(find "$T" \( -name __pycache__ -o -name '*.py[co]' \) | wc -l) entries"
	elif ! tree_listing "$T" | cmp -s - "$WORK/tree-expected.txt"; then
		check pycstrip-q "kept files differ from the corpus: $(tree_listing "$T" | diff - "$WORK/tree-expected.txt" | grep -c '^[<>]') lines"
	else
		check pycstrip-q ok
	fi
	# peak RSS with the removed list kept for --json
	eval "$prep"
	rm -f "$WORK/tree.json"
	if rss_run pycstrip-json "$PYCSTRIP" -q --json "$WORK/tree.json" "$T"; then
		removed_other=$((TREE_FILES - TREE_KEPT_FILES - TREE_PYC))
		check pycstrip-json "$("$PY" - "$WORK/tree.json" "$((TREE_FILES - TREE_KEPT_FILES))" \
		    "$((TREE_DIRS - TREE_KEPT_DIRS))" "$removed_other" "$TREE_PYC_BYTES" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
files, dirs, other, pyc_bytes = map(int, sys.argv[2:])
t = s["targets"][0]
bad = []
if not s.get("ok"): bad.append("ok is false")
if t["removed_files"] != files: bad.append("removed_files %d != %d" % (t["removed_files"], files))
if t["removed_dirs"] != dirs: bad.append("removed_dirs %d != %d" % (t["removed_dirs"], dirs))
if len(t["removed"]) != files: bad.append("len(removed) %d != %d" % (len(t["removed"]), files))
if other == 0 and t["removed_bytes"] != pyc_bytes:
    bad.append("removed_bytes %d != %d" % (t["removed_bytes"], pyc_bytes))
print("; ".join(bad) or "ok")
EOF
)"
	else
		check pycstrip-json "exited $?: $(first_err pycstrip-json)"
	fi
	rm -f "$WORK/tree.json"
	add "pycstrip -q" "$prep" "$(q "$PYCSTRIP") -q $(q "$T")" pycstrip-q
	par=$(tree_par_opts)
	if [ -n "$par" ]; then
		eval "$prep"
		# shellcheck disable=SC2086  # $par is a list of options
		if rss_run pycstrip-par "$PYCSTRIP" -q $par "$T"; then
			if tree_listing "$T" | cmp -s - "$WORK/tree-expected.txt"; then
				check pycstrip-par ok
			else
				check pycstrip-par "result differs from the corpus minus bytecode"
			fi
			add "pycstrip -q $par" "$prep" "$(q "$PYCSTRIP") -q $par $(q "$T")" pycstrip-par
		else
			note "pycstrip -q $par failed: $(first_err pycstrip-par)"
		fi
	else
		note "no --threads option in pycstrip --help: one tree variant timed"
	fi
	local qT
	qT=$(q "$T")
	add "find pair" "$prep" "find $qT -name __pycache__ -type d -prune -exec rm -rf {} +; find $qT -name '*.py[co]' -delete"
	add "find -delete" "$prep" "find $qT \\( -name __pycache__ -o -name '*.py[co]' \\) -delete"
	add "python pathlib" "$prep" "$PY -c \"import pathlib, shutil, sys; r = pathlib.Path(sys.argv[1]); [shutil.rmtree(p) for p in list(r.rglob('__pycache__'))]; [p.unlink() for p in list(r.rglob('*.py[co]'))]\" $qT"
	if command -v py3clean >/dev/null; then
		add "py3clean" "$prep" "py3clean $qT"
	else
		note "py3clean not installed (python3-minimal)"
	fi
	if command -v pyclean >/dev/null; then
		add "pyclean" "$prep" "pyclean $qT"
	else
		note "pyclean not installed (PyPI only; not a Debian 12 package)"
	fi
	add "floor: scan + rm -rf list" "$prep" \
	    "find $qT -name __pycache__ -prune >/dev/null; cd $qT && xargs -0 rm -rf -- <$(q "$CORPUS/$TREE_TARGETS_LIST")"
	add "floor: scan + unlink/rmdir list" "$prep" \
	    "find $qT -name __pycache__ -prune >/dev/null; cd $qT && xargs -0 rm -f -- <$(q "$CORPUS/$TREE_FILES_LIST") && xargs -0 rmdir -- <$(q "$CORPUS/$TREE_DIRS_LIST")"
	timeit
	rm -rf "$T" "$WORK/tree-expected.txt"
}

# --- wheel -------------------------------------------------------------------
check_wheel() { # ORIG OUT KEPT_ENTRIES
	"$PY" - "$@" <<'EOF'
import csv, io, sys, zipfile
orig, out, kept = sys.argv[1], sys.argv[2], int(sys.argv[3])
bad = []
def bytecode(n):
    return "__pycache__" in n.split("/") or n.endswith((".pyc", ".pyo"))
zo, zn = zipfile.ZipFile(orig), zipfile.ZipFile(out)
before = {i.filename: i for i in zo.infolist()}
after = zn.infolist()
names = [i.filename for i in after]
if any(bytecode(n) for n in names): bad.append("bytecode left")
if len(names) != kept: bad.append("%d entries, expected %d" % (len(names), kept))
if len(set(names)) != len(names): bad.append("duplicate names")
order = [n for n in before if n in set(names)]
if order != names: bad.append("member order changed")
records = [n for n in names if n.count("/") == 1 and n.endswith(".dist-info/RECORD")]
for i in after:
    if i.flag_bits & 8: bad.append("data descriptor on " + i.filename); break
    o = before.get(i.filename)
    if o is None: bad.append("new member " + i.filename); break
    if i.filename in records: continue
    if (o.CRC, o.compress_size, o.file_size, o.compress_type, o.date_time,
            o.external_attr) != (i.CRC, i.compress_size, i.file_size,
            i.compress_type, i.date_time, i.external_attr):
        bad.append("member changed: " + i.filename); break
if len(records) != 1: bad.append("%d RECORD files" % len(records))
else:
    rows = list(csv.reader(io.StringIO(zn.read(records[0]).decode())))
    rnames = {r[0] for r in rows if r}
    sigs = {records[0] + ".jws", records[0] + ".p7s"}
    if rnames != set(names) - sigs:
        bad.append("RECORD names != archive names (%d vs %d)" % (len(rnames), len(names)))
first = zn.testzip()
if first: bad.append("CRC error in " + first)
print("; ".join(bad) or "ok")
EOF
}
scen_wheel() {
	begin wheel "wheel in place: $((WHEEL_SIZE / 1000000)) MB, $WHEEL_ENTRIES entries, $WHEEL_BYTECODE bytecode"
	[ -x "$PYCSTRIP" ] || { skip "$PYCSTRIP not built"; return; }
	need_space $((WHEEL_SIZE / 1024 * 3)) || return
	local D=$WORK/wheel src=$CORPUS/$WHEEL rc res w
	local qD qw
	qD=$(q "$D")
	w=$D/$(basename "$WHEEL")  # wheel unpack wants a valid wheel name
	qw=$(q "$w")
	local prep="rm -rf $qD && mkdir -p $qD && cp $(q "$src") $qw"
	eval "$prep"
	rss_run pycstrip "$PYCSTRIP" -q "$w"
	rc=$?
	if [ $rc -ne 0 ]; then
		skip "pycstrip -q WHEEL exited $rc: $(first_err pycstrip)"
		rm -rf "$D"
		return
	fi
	meta size "input" "$WHEEL_SIZE"
	meta size "pycstrip" "$(stat -c %s "$w")"
	res=$(check_wheel "$src" "$w" "$WHEEL_KEPT_ENTRIES" 2>&1 | tail -n 1)
	check pycstrip "$res"
	if [ "$res" = ok ] && "$PY" -m wheel unpack -d "$D/u" "$w" >/dev/null 2>"$D/unpack.err"; then
		check "wheel unpack (hashes)" ok
	elif [ "$res" = ok ]; then
		check "wheel unpack (hashes)" "failed: $(head -c 200 "$D/unpack.err")"
	fi
	eval "$prep"
	if rss_run pycstrip-json "$PYCSTRIP" -q --json "$D/s.json" "$w"; then
		check pycstrip-json ok
	else
		check pycstrip-json "exited $?: $(first_err pycstrip-json)"
	fi
	add "pycstrip" "$prep" "$(q "$PYCSTRIP") -q $qw" pycstrip
	add "cp" "$prep" "cp $qw $qD/x.whl"
	add "zip -d" "$prep" "zip -q -d $qw '*.pyc' '*/__pycache__/*'"
	add "wheel unpack+pack" "$prep" \
	    "cd $qD && $PY -m wheel unpack -d u $qw >/dev/null && find u -name __pycache__ -type d -prune -exec rm -rf {} + && find u -name '*.py[co]' -delete && mkdir -p o && $PY -m wheel pack -d o u/* >/dev/null"
	timeit
	rm -rf "$D"
}

# --- tar family ----------------------------------------------------------------
# scen_tar KIND: plain tar, tar.gz, tar.zst, tar.xz
scen_tar() {
	local kind=$1 src kept size entries dec recomp magic title
	case $kind in
	tar) src=$TAR kept=$KEPT_TAR size=$TAR_SIZE entries="$TAR_ENTRIES entries, $TAR_BYTECODE bytecode"
		dec="cat" recomp="" magic="" ;;
	tar.gz) src=$TAR_GZ kept=$KEPT_TAR size=$TAR_GZ_SIZE entries="$TAR_ENTRIES entries, $TAR_BYTECODE bytecode"
		dec="gzip -dc" recomp="gzip -6 -n" magic="1f8b" ;;
	tar.zst) src=$TAR_ZST kept=$KEPT_TAR size=$TAR_ZST_SIZE entries="$TAR_ENTRIES entries, $TAR_BYTECODE bytecode"
		dec="zstd -dcq" recomp="zstd -3 --single-thread -q -c" magic="28b52ffd" ;;
	tar.xz) src=$TAR_XZ kept=$XZ_KEPT_TAR size=$TAR_XZ_SIZE entries="$XZ_ENTRIES entries, $XZ_BYTECODE bytecode, $XZ_REPLICAS replica(s)"
		dec="xz -dc" recomp="xz -6 -T1 -c" magic="fd377a585a00" ;;
	esac
	title="$kind in place: $((size / 1000000)) MB, $entries"
	begin "$kind" "$title"
	[ -x "$PYCSTRIP" ] || { skip "$PYCSTRIP not built"; return; }
	need_space $(((size + $(stat -c %s "$CORPUS/$kept")) / 1024 * 3 + 100000)) || return
	local D=$WORK/$kind qD in rc got
	qD=$(q "$D")
	in=$D/a.$kind
	local prep="rm -rf $qD && mkdir -p $qD && cp $(q "$CORPUS/$src") $qD/a.$kind"
	eval "$prep"
	rss_run pycstrip "$PYCSTRIP" -q "$in"
	rc=$?
	if [ $rc -ne 0 ]; then
		skip "pycstrip -q $kind exited $rc: $(first_err pycstrip)"
		rm -rf "$D"
		return
	fi
	meta size input "$size"
	meta size pycstrip "$(stat -c %s "$in")"
	# same compression, same members and contents as the corpus' kept.tar
	got=$(od -An -tx1 -N6 "$in" | tr -d ' \n')
	if [ -n "$magic" ] && [ "${got#"$magic"}" = "$got" ]; then
		check pycstrip "output is not $kind (magic $got)"
	else
		$dec "$in" >"$D/dec.tar"
		local lg le dg de
		lg=$(tar -tvf "$D/dec.tar" | md5sum)
		le=$(tar -tvf "$CORPUS/$kept" | md5sum)
		dg=$(tar -xOf "$D/dec.tar" | md5sum)
		de=$(tar -xOf "$CORPUS/$kept" | md5sum)
		if [ "$lg" != "$le" ]; then
			check pycstrip "tar -tv listing differs from kept.tar ($(tar -tf "$D/dec.tar" | wc -l) vs $(tar -tf "$CORPUS/$kept" | wc -l) members)"
		elif [ "$dg" != "$de" ]; then
			check pycstrip "member contents differ from kept.tar"
		else
			check pycstrip ok
		fi
		if [ -n "$recomp" ]; then
			# the same stripped tar, compressed single-threaded at the same level
			meta size "single-threaded $recomp" "$($recomp <"$D/dec.tar" | wc -c)"
		fi
		rm -f "$D/dec.tar"
	fi
	local P qin qout qkept ex pats
	P=$(q "$PYCSTRIP")
	qin=$qD/a.$kind
	qout=$qD/o.$kind
	qkept=$(q "$CORPUS/$kept")
	ex="--exclude __pycache__ --exclude '*.py[co]'"
	pats="--wildcards '*/__pycache__' '*.pyc'"
	add "pycstrip" "$prep" "$P -q $qin" pycstrip
	case $kind in
	tar)
		add "cp" "$prep" "cp $qin $qout"
		add "bsdtar" "$prep" "bsdtar -cf $qout $ex @$qin"
		add "tar --delete" "$prep" "tar --delete $pats -f $qin"
		;;
	tar.gz)
		add "bsdtar" "$prep" "bsdtar -czf $qout $ex @$qin"
		add "gzip pipe" "$prep" "gzip -dc $qin | tar --delete $pats -f - | gzip -6 -n >$qout"
		add "floor: gzip -d + gzip -6 kept (1 thread)" "$prep" "gzip -dc $qin >/dev/null && gzip -6 -n -c $qkept >/dev/null"
		;;
	tar.zst)
		add "zstd pipe" "$prep" "zstd -dcq $qin | tar --delete $pats -f - | zstd -3 -q -c >$qout"
		add "bsdtar" "$prep" "bsdtar --zstd -cf $qout $ex @$qin"
		;;
	tar.xz)
		add "bsdtar" "$prep" "bsdtar -cJf $qout $ex @$qin"
		add "floor: xz -6 -T1 kept" "$prep" "xz -6 -T1 -c $qkept >/dev/null"
		;;
	esac
	timeit
	rm -rf "$D"
}

# --- main ------------------------------------------------------------------------
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(tree wheel tar tar.gz tar.zst tar.xz)
for s in "${scenarios[@]}"; do
	case $s in
	tree | wheel | tar | tar.gz | tar.zst | tar.xz) ;;
	*) die "unknown scenario $s (tree wheel tar tar.gz tar.zst tar.xz)" ;;
	esac
done
echo "bench: $("$PYCSTRIP" --version 2>/dev/null | head -n 1) (${PYCSTRIP_BUILT:-$PYCSTRIP}, timed as a copy)"
echo "bench: corpus $CORPUS (SCALE $SCALE), scratch $WORK ($(stat -f -c %T "$WORK"), $(($(kb_free "$WORK") / 1024)) MiB free), $(nproc) cores"
{
	echo "started=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "pycstrip=${PYCSTRIP_BUILT:-$PYCSTRIP}"
	echo "pycstrip_sha256=$(sha256sum <"$PYCSTRIP" 2>/dev/null | cut -c1-16)"
	echo "version=$("$PYCSTRIP" --version 2>/dev/null | head -n 1)"
	echo "commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)"
	echo "corpus=$CORPUS"
	echo "scale=$SCALE"
	echo "work=$WORK"
	echo "work_fs=$(stat -f -c %T "$WORK")"
	echo "cores=$(nproc)"
	echo "mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
	echo "kernel=$(uname -r)"
	echo "hyperfine=$(hyperfine --version | head -n 1)"
} >"$OUT/run.env"
for s in "${scenarios[@]}"; do
	case $s in
	tree) scen_tree ;;
	wheel) scen_wheel ;;
	*) scen_tar "$s" ;;
	esac
done
rmdir "$WORK" 2>/dev/null
exec "$PY" "$ROOT/bench/report.py" "$OUT" results "${scenarios[@]}"
