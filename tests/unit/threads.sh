#!/bin/bash
# weft read -o under ThreadSanitizer: the reader, the digest thread and the
# writing thread share batches and the files' state; a race between them is
# a report here, not a wrong digest some day. Each run's streams and digests
# are checked against the generator's truth as well.
# Shapes: a mapped capture with late bytes (written in place, digest made
# again) and --pcap, the same through stdin, thousands of files open at
# once (buffers resized), names already taken on disk (the writing thread
# renames: NAMEc1), and a full disk (as root: a tmpfs of 2 MB mounted here).
# usage: threads.sh WEFT-TSAN WEFT-GEN   Prints "threads: N passed, N failed, N skipped".
set -u
W=$1 GEN=$2
CHECK=$(dirname "$0")/../lib/check_truth.py
D=$(mktemp -d)
MNT=""
cleanup() { [ -n "$MNT" ] && umount "$MNT" 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT
export TSAN_OPTIONS="halt_on_error=1 exitcode=66"
pass=0 fail=0 skip=0
"$GEN" -o "$D/a.pcap" -t "$D/a.jsonl" --conns 300 --concurrent 64 --size 2000:80000 \
	--reorder 0.05 --dup 0.02 --late 0.1 --seed 5
"$GEN" -o "$D/b.pcap" -t "$D/b.jsonl" --conns 2000 --concurrent 2000 --size 500:20000 --seed 6
run() { # label truth|- outdir args...
	local label=$1 truth=$2 out=$3; shift 3
	if ! "$@" >"$D/log" 2>&1 && ! grep -q "^Error: .*No space" "$D/log"; then
		echo "FAIL threads: $label"; grep -A12 "WARNING: ThreadSanitizer" "$D/log" | head -30
		tail -3 "$D/log"; fail=$((fail + 1)); return
	fi
	if grep -q "WARNING: ThreadSanitizer" "$D/log"; then
		echo "FAIL threads: $label"; grep -A12 "WARNING: ThreadSanitizer" "$D/log" | head -30
		fail=$((fail + 1)); return
	fi
	if [ "$truth" != - ] && ! /usr/bin/python3 "$CHECK" "$truth" "$out" >"$D/check" 2>&1; then
		echo "FAIL threads: $label: not the truth"; head -5 "$D/check"; fail=$((fail + 1)); return
	fi
	echo "ok   threads: $label"; pass=$((pass + 1))
}
rm -rf "$D/o"
run "mapped capture, late bytes, --pcap" "$D/a.jsonl" "$D/o" "$W" read -q --pcap -o "$D/o" "$D/a.pcap"
rm -rf "$D/o"
run "the same from stdin" "$D/a.jsonl" "$D/o" sh -c "'$W' read -q -o '$D/o' - < '$D/a.pcap'"
rm -rf "$D/o"
run "2,000 connections open at once" "$D/b.jsonl" "$D/o" "$W" read -q -o "$D/o" "$D/b.pcap"
# the same again into the same directory, its report gone: every name is
# taken, the writing thread moves each file on to NAMEc1
rm -f "$D/o/flows.jsonl" "$D/o/report.xml"
run "names taken on disk (renamed by the writing thread)" "$D/b.jsonl" "$D/o" \
	"$W" read -q -o "$D/o" "$D/b.pcap"
if [ "$(id -u)" = 0 ] && mkdir -p "$D/full" && mount -t tmpfs -o size=2m tmpfs "$D/full"; then
	MNT=$D/full
	run "a full disk (2 MB tmpfs)" - "$D/full/o" "$W" read -q -o "$D/full/o" "$D/a.pcap"
	umount "$MNT"; MNT=""
else
	echo "skip threads: a full disk: not root (mounting a small tmpfs needs it)"; skip=$((skip + 1))
fi
echo "threads: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
