#!/bin/bash
# weft read -o under ThreadSanitizer: the reader, the digest thread and the
# writing thread share batches, the capture's map and the files' state; a
# race between them is a report here, not a wrong digest some day.
# Shapes: a mapped file (bytes queued uncopied), the same through stdin
# (copied), late bytes (written in place, digest made again), --pcap, and
# thousands of files open at once (buffers resized).
# usage: threads.sh WEFT-TSAN WEFT-GEN   Prints "threads: N passed, N failed, 0 skipped".
set -u
W=$1 GEN=$2
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
export TSAN_OPTIONS="halt_on_error=1 exitcode=66"
pass=0 fail=0
"$GEN" -o "$D/a.pcap" -t "$D/a.jsonl" --conns 300 --concurrent 64 --size 2000:80000 \
	--reorder 0.05 --dup 0.02 --late 0.1 --seed 5
"$GEN" -o "$D/b.pcap" -t "$D/b.jsonl" --conns 2000 --concurrent 2000 --size 500:20000 --seed 6
run() { # label args...
	local label=$1; shift
	rm -rf "$D/o"
	if "$@" >"$D/log" 2>&1; then
		echo "ok   threads: $label"; pass=$((pass + 1))
	else
		echo "FAIL threads: $label"; grep -A12 "WARNING: ThreadSanitizer" "$D/log" | head -30
		tail -3 "$D/log"; fail=$((fail + 1))
	fi
}
run "mapped capture, late bytes, --pcap" "$W" read -q --pcap -o "$D/o" "$D/a.pcap"
run "the same from stdin" sh -c "'$W' read -q -o '$D/o' - < '$D/a.pcap'"
run "2,000 connections open at once" "$W" read -q -o "$D/o" "$D/b.pcap"
echo "threads: $pass passed, $fail failed, 0 skipped"
[ "$fail" = 0 ]
