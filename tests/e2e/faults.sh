#!/bin/sh
# tests/e2e/faults.sh - real resource limits, not simulated ones: a file
# size limit (ulimit -f, SIGXFSZ ignored and default), a directory pycstrip
# may not write to, a read-only mount, a full tmpfs; and the clean-up of
# stale temporaries a killed run left.  Each time: exit 3 with the cause,
# the archive byte for byte as it was, no temporary left.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-harden.sh"

# expect_refused FILE ORIG ERRFILE RC TEXT : exit 3, message, untouched
expect_refused() {
	no_crash "$4" "$3"
	[ "$4" -eq 3 ] || { cat "$3"; fail "expected exit 3, got $4"; }
	grep -q "^pycstrip: .*$(basename "$1"): .*$5" "$3" ||
	    { cat "$3"; fail "no message with '$5'"; }
	cmp -s "$2" "$1" || fail "$1 changed"
	no_temp_left "$(dirname "$1")"
}

archives() { # DIR KB : a wheel and a tar.gz of about KB each, if supported
	for a in "$(make_wheel "$1" "$2")" "$(make_targz "$1" "$2")"; do
		if supported "$a"; then
			echo "$a"
		else
			echo "SKIP: $a not supported yet" >&2
			rm -f "$a"
		fi
	done
}

# A size limit with SIGXFSZ ignored: write() fails with EFBIG.
case_ulimit_ignored() {
	for a in $(archives "$PWD" 300); do
		cp "$a" orig
		set +e
		sh -c "trap '' XFSZ; ulimit -f 200; exec \"\$0\" \"\$1\"" \
		    "$PYCSTRIP" "$a" 2>err
		rc=$?
		set -e
		expect_refused "$a" orig err "$rc" "File too large"
	done
}

# With SIGXFSZ at its default the kernel would kill pycstrip in the middle
# of the temporary; pycstrip ignores the signal so the write fails instead.
case_ulimit_default() {
	for a in $(archives "$PWD" 300); do
		cp "$a" orig
		set +e
		sh -c "trap - XFSZ; ulimit -f 200; exec \"\$0\" \"\$1\"" \
		    "$PYCSTRIP" "$a" 2>err
		rc=$?
		set -e
		expect_refused "$a" orig err "$rc" "File too large"
	done
}

# -o past the size limit: no output file, the input untouched.
case_ulimit_output() {
	for a in $(archives "$PWD" 300); do
		cp "$a" orig
		set +e
		sh -c "ulimit -f 200; exec \"\$0\" -o out \"\$1\"" "$PYCSTRIP" "$a" 2>err
		rc=$?
		set -e
		no_crash "$rc" err
		[ "$rc" -eq 3 ] || fail "expected exit 3, got $rc"
		[ ! -e out ] || fail "output file left"
		cmp -s orig "$a" || fail "input changed"
		no_temp_left .
	done
}

# as_other CMD... : runs CMD as an unprivileged user when we are root (root
# writes anywhere, permission bits or not)
as_other() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"
	else
		"$@"
	fi
}

# other_can_reach : cd to a directory the unprivileged user can reach (the
# scratch directory's parents may be closed to it, e.g. a CI home)
other_can_reach() {
	as_other test -x "$PWD" 2>/dev/null && return 0
	_d=$(mktemp -d /tmp/pycstrip-faults.XXXXXX)
	chmod 755 "$_d"
	trap 'rm -rf "$_d"' EXIT
	echo "working in $_d"
	cd "$_d"
}

case_readonly_dir() {
	other_can_reach
	mkdir ro
	for a in $(archives "$PWD/ro" 20); do
		cp "$a" orig
		chmod 644 "$a"
	done
	chmod 755 ro
	[ "$(id -u)" -eq 0 ] || chmod 555 ro
	chmod 755 .
	for a in ro/*; do
		[ -f "$a" ] || continue
		cp "$a" orig
		set +e
		as_other "$PYCSTRIP" "$a" 2>err
		rc=$?
		set -e
		expect_refused "$a" orig err "$rc" "cannot create temporary file in ro: Permission denied"
		# A dry run still works.
		as_other "$PYCSTRIP" -q -n "$a"
	done
	chmod 755 ro
}

# Tree mode in a directory it may not change: the entries it cannot remove
# are reported, the others removed, exit 3.
case_readonly_tree() {
	other_can_reach
	mkdir -p t/a t/b
	make_pkg t/a
	make_pkg t/b
	chmod -R a+rX t
	chown -R 65534:65534 t/b 2>/dev/null || true
	[ "$(id -u)" -eq 0 ] || chmod 555 t/a/pkg t/a/pkg/__pycache__
	set +e
	as_other "$PYCSTRIP" t 2>err
	rc=$?
	set -e
	no_crash "$rc" err
	[ "$rc" -eq 3 ] || { cat err; fail "expected exit 3, got $rc"; }
	grep -q '^pycstrip: t: a/pkg/.*: cannot remove.*: Permission denied' err ||
	    { cat err; fail "no message naming the entry"; }
	[ -e t/a/pkg/__pycache__ ] || fail "the read-only entries went"
	[ ! -e t/b/pkg/__pycache__ ] || fail "the writable entries stayed"
	[ -e t/a/pkg/mod.py ] && [ -e t/b/pkg/mod.py ] || fail "a source went"
	chmod -R u+w t 2>/dev/null || true
}

# mount_tmpfs DIR SIZE : root only; returns 1 (with a note) when impossible
mount_tmpfs() {
	mkdir -p "$1"
	if ! mount -t tmpfs -o "size=$2" tmpfs "$1" 2>/dev/null; then
		echo "SKIP: cannot mount a tmpfs (not root or no CAP_SYS_ADMIN)"
		return 1
	fi
}

case_readonly_mount() {
	mount_tmpfs mnt 4m || return 0
	set +e
	(
		set -e
		for a in $(archives "$PWD" 20); do
			cp "$a" mnt/
		done
		mount -o remount,ro mnt
		for a in mnt/*; do
			cp "$a" orig
			set +e
			"$PYCSTRIP" "$a" 2>err
			rc=$?
			set -e
			expect_refused "$a" orig err "$rc" "Read-only file system"
		done
	)
	rc=$?
	set -e
	umount mnt
	[ "$rc" -eq 0 ]
}

# A full file system: the temporary cannot grow; it goes, the original
# stays, the free space is what it was.
case_full_tmpfs() {
	mount_tmpfs mnt 500k || return 0
	set +e
	(
		set -e
		for a in $(archives "$PWD" 300); do
			rm -f mnt/*
			cp "$a" mnt/
			m=mnt/$(basename "$a")
			free=$(df --output=avail mnt | tail -n 1)
			set +e
			"$PYCSTRIP" "$m" 2>err
			rc=$?
			set -e
			expect_refused "$m" "$a" err "$rc" "No space left on device"
			[ "$(df --output=avail mnt | tail -n 1)" = "$free" ] ||
			    fail "free space changed"
			# -o onto the full file system
			set +e
			"$PYCSTRIP" -o mnt/out "$a" 2>err
			rc=$?
			set -e
			no_crash "$rc" err
			[ "$rc" -eq 3 ] || fail "-o: expected exit 3, got $rc"
			[ ! -e mnt/out ] || fail "-o: output left"
			no_temp_left mnt
		done
		# Tree mode needs no space: it only removes.
		rm -f mnt/*
		make_pkg mnt/tree
		head -c 400000 /dev/zero >mnt/fill 2>/dev/null || true
		"$PYCSTRIP" -q mnt/tree
		[ ! -e mnt/tree/pkg/__pycache__ ] || fail "tree not cleaned"
	)
	rc=$?
	set -e
	umount mnt
	[ "$rc" -eq 0 ]
}

# Stale temporaries: a strip run in place removes the ".NAME.pycstrip-XXXXXX"
# files beside its target that it owns and that are older than a minute; it
# spares fresh ones (a concurrent run's), other names, other owners, links.
case_stale_cleanup() {
	w=$(make_wheel "$PWD" 0)
	supported "$w" || { echo "SKIP: zip rewriter not available"; return 0; }
	n=$(basename "$w")
	: >".$n.pycstrip-old111"
	: >".$n.pycstrip-new222"
	: >".$n.pycstrip-ab"
	: >".other.whl.pycstrip-old333"
	ln -s "$n" ".$n.pycstrip-lnk444"
	if [ "$(id -u)" -eq 0 ]; then
		: >".$n.pycstrip-his555"
		chown 65534 ".$n.pycstrip-his555"
	fi
	for f in old111 ab lnk444 his555; do
		[ -e ".$n.pycstrip-$f" ] || [ -L ".$n.pycstrip-$f" ] || continue
		touch -h -d '-2 min' ".$n.pycstrip-$f"
	done
	touch -d '-2 min' ".other.whl.pycstrip-old333"
	# A dry run changes nothing, stale files included.
	"$PYCSTRIP" -q -n "$w"
	[ -e ".$n.pycstrip-old111" ] || fail "a dry run removed a stale file"
	"$PYCSTRIP" -q "$w"
	[ ! -e ".$n.pycstrip-old111" ] || fail "stale temporary kept"
	[ -e ".$n.pycstrip-new222" ] || fail "fresh temporary removed"
	[ -e ".$n.pycstrip-ab" ] || fail "other name removed"
	[ -e ".other.whl.pycstrip-old333" ] || fail "another target's removed"
	[ -L ".$n.pycstrip-lnk444" ] || fail "symlink removed"
	if [ "$(id -u)" -eq 0 ]; then
		[ -e ".$n.pycstrip-his555" ] || fail "another owner's removed"
	fi
	# Nothing left to strip: the clean-up still happens.
	touch -d '-2 min' ".$n.pycstrip-new222"
	"$PYCSTRIP" -q "$w"
	[ ! -e ".$n.pycstrip-new222" ] || fail "not cleaned when nothing matched"
}

# find_shim : sets shim to the inject shim, or says SKIP and returns 1
# (it needs a plain dynamically linked binary)
find_shim() {
	shim=
	for d in "$(dirname "$PYCSTRIP")" "$PYCSTRIP_ROOT/build"; do
		[ -f "$d/inject.so" ] && shim=$d/inject.so && break
	done
	if [ -z "$shim" ] || ! ldd "$PYCSTRIP" >/dev/null 2>&1 ||
	    ldd "$PYCSTRIP" | grep -q libasan; then
		echo "SKIP: needs the inject shim and a plain dynamic binary"
		return 1
	fi
}

# A run stopped for minutes (^Z) keeps its temporary: another run's stale
# clean-up sees the lock on it and spares it; both then finish.  Stopped
# just before its rename: an unnamed temporary has its name by then.
case_stopped_run_spared() {
	find_shim || return 0
	w=$(make_wheel "$PWD" 50)
	supported "$w" || { echo "SKIP: zip rewriter not available"; return 0; }
	cp "$w" orig
	"$PYCSTRIP" -q -o clean "$w"
	PS_INJECT_FUNC=rename PS_INJECT_N=1 PS_INJECT_ACTION=stop \
	    LD_PRELOAD=$shim "$PYCSTRIP" -q "$w" &
	pid=$!
	i=0
	while [ "$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)" != T ]; do
		i=$((i + 1))
		[ "$i" -lt 400 ] || fail "never stopped"
		sleep 0.05
	done
	tmp=$(find . -maxdepth 1 -name '.*.pycstrip-*')
	[ -n "$tmp" ] || fail "no temporary while stopped"
	touch -d '-5 min' "$tmp"
	"$PYCSTRIP" -q "$w" || fail "the second run failed"
	[ -e "$tmp" ] || fail "the stopped run's temporary was removed"
	kill -CONT "$pid"
	set +e
	wait "$pid"
	rc=$?
	set -e
	[ "$rc" -eq 0 ] || fail "the stopped run ended with exit $rc"
	cmp -s clean "$w" || fail "not the stripped archive"
	no_temp_left .
}

# A sandbox with O_TMPFILE but no linkat through /proc: the unnamed
# temporary cannot be named at the commit, so its bytes go to a named one.
case_unnamed_cannot_be_linked() {
	find_shim || return 0
	w=$(make_wheel "$PWD" 5)
	supported "$w" || { echo "SKIP: zip rewriter not available"; return 0; }
	cp "$w" orig
	chmod 0640 "$w"
	"$PYCSTRIP" -q -o clean "$w"
	for e in EPERM EACCES EROFS; do
		cp orig "$w"
		PS_INJECT_FUNC=linkat PS_INJECT_N=1 PS_INJECT_ERRNO=$e \
		    LD_PRELOAD=$shim "$PYCSTRIP" -q "$w" 2>err ||
		    fail "linkat $e: exit $?: $(cat err)"
		cmp -s clean "$w" || fail "linkat $e: not the stripped archive"
		[ "$(stat -c %a "$w")" = 640 ] || fail "linkat $e: mode $(stat -c %a "$w")"
		no_temp_left .
	done
}

# The summary cannot be written (a full device): exit 3 and a message, on
# a file and on standard output alike.
case_summary_full() {
	[ -w /dev/full ] || { echo "SKIP: no /dev/full"; return 0; }
	make_pkg t
	set +e
	"$PYCSTRIP" -q --json /dev/full t 2>err
	rc=$?
	set -e
	no_crash "$rc" err
	[ "$rc" -eq 3 ] || { cat err; fail "--json /dev/full: exit $rc"; }
	grep -q '^pycstrip: /dev/full: .*No space left on device' err ||
	    { cat err; fail "no message"; }
	make_pkg t
	set +e
	"$PYCSTRIP" -q --json - t >/dev/full 2>err
	rc=$?
	set -e
	no_crash "$rc" err
	[ "$rc" -eq 3 ] || { cat err; fail "--json - >/dev/full: exit $rc"; }
	grep -q 'No space left on device' err || { cat err; fail "no message"; }
}

run_case "ulimit -f, SIGXFSZ ignored: EFBIG, untouched" case_ulimit_ignored
run_case "ulimit -f, SIGXFSZ default: not killed, untouched" case_ulimit_default
run_case "ulimit -f with -o: no output left" case_ulimit_output
run_case "read-only directory: refused, untouched" case_readonly_dir
run_case "tree without write permission: reported, the rest removed" case_readonly_tree
run_case "read-only mount: refused, untouched" case_readonly_mount
run_case "full tmpfs: refused, untouched, space given back" case_full_tmpfs
run_case "summary on a full device: exit 3 with the cause" case_summary_full
run_case "stale temporaries: only old ones of ours" case_stale_cleanup
run_case "stale clean-up spares a stopped run's temporary (flock)" case_stopped_run_spared
run_case "O_TMPFILE that cannot be linked: copied to a named temporary" case_unnamed_cannot_be_linked
finish
