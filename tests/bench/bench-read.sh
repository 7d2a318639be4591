#!/bin/bash
# weft read against tcpflow, and weft's engine against libnids, on the same
# generated capture in one run: wall time, peak memory, and the ratios.
# usage: tests/bench/bench-read.sh [CONNS] (default 2500: about 500 MB)
set -eu
cd "$(dirname "$0")/../.."
CONNS=${1:-2500}
# Outputs on tmpfs when there is one: the disk of a shared VM adds seconds of
# noise (journal, writeback of earlier runs) that belong to neither tool.
BASE=/dev/shm; [ -d "$BASE" ] && [ -w "$BASE" ] || BASE=/tmp
W=$(mktemp -d "$BASE/weft-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
cc -O2 -o "$W/nids-count" tests/bench/nids-count.c -lnids -lpcap
cc -O2 -Iinclude -o "$W/weft-count" tests/bench/weft-count.c build/libweft.a -lpcap -lcrypto

echo "== capture: $CONNS connections, 20-400 KB each, mild reordering and duplicates"
build/weft-gen -o "$W/bench.pcap" -t "$W/truth.jsonl" --conns "$CONNS" --concurrent 64 \
	--size 20000:400000 --reorder 0.02 --dup 0.01 --seed 42
ls -la "$W/bench.pcap" | awk '{printf "%d MB, ", $5/1048576}'
capinfos -c "$W/bench.pcap" 2>/dev/null | awk '/Number of packets/ {print $NF, "packets"}'
cat "$W/bench.pcap" >/dev/null   # both start from the page cache

measure() { # name cmd... -> "wall rss"
	local out=$W/time.$1; shift
	/usr/bin/time -f "%e %M" -o "$out" "$@" >/dev/null 2>"$W/err" || { cat "$W/err"; exit 1; }
	cat "$out"
}
best() { # the best of 3 runs: less noise on a shared machine
	local name=$1; shift
	local b="" r
	for i in 1 2 3; do
		rm -rf "$W/o-$name"
		r=$(measure "$name" "$@")
		if [ -z "$b" ] || awk -v a="${r% *}" -v b="${b% *}" 'BEGIN{exit !(a<b)}'; then b=$r; fi
	done
	echo "$b"
}

echo
echo "== files: weft read -o DIR  vs  tcpflow -o DIR (outputs in $BASE)"
wr=$(best weft build/weft read -q -o "$W/o-weft" "$W/bench.pcap")
tr=$(best tcpflow bash -c "mkdir -p $W/o-tcpflow && tcpflow -r $W/bench.pcap -o $W/o-tcpflow")
same=0; diff=0
for f in "$W"/o-tcpflow/*; do
	b=$(basename "$f"); [ "$b" = report.xml ] && continue
	if cmp -s "$f" "$W/o-weft/$b"; then same=$((same+1)); else diff=$((diff+1)); fi
done
printf "weft    %6.2f s  %7d KB peak RSS\n" ${wr% *} ${wr#* }
printf "tcpflow %6.2f s  %7d KB peak RSS\n" ${tr% *} ${tr#* }
echo "files identical: $same, different: $diff"
awk -v a="${wr% *}" -v b="${tr% *}" 'BEGIN{printf "ratio weft/tcpflow wall time: %.2f (goal <= 0.50)\n", a/b}'

echo
echo "== engine, no output: weft  vs  libnids"
wn=$(best wcount "$W/weft-count" "$W/bench.pcap")
nn=$(best ncount "$W/nids-count" "$W/bench.pcap")
"$W/weft-count" "$W/bench.pcap"; "$W/nids-count" "$W/bench.pcap"
printf "weft    %6.2f s  %7d KB peak RSS\n" ${wn% *} ${wn#* }
printf "libnids %6.2f s  %7d KB peak RSS\n" ${nn% *} ${nn#* }
awk -v a="${wn% *}" -v b="${nn% *}" 'BEGIN{printf "ratio weft/libnids wall time: %.2f (goal < 1)\n", a/b}'
