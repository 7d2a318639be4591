#!/bin/bash
# weft read against tcpflow, and weft's engine against libnids and against a
# floor (reading the capture and touching every byte), on generated captures
# in one run: wall time, peak memory, and the ratios.
#   capture 1: CONNS connections, 64 at a time (default 2500: about 500 MB)
#   capture 2: CONNS2 connections all open at once (default 3000: about 500 MB),
#              where the number of open files decides the cost
# Goals: weft read -o DIR (SHA-256 on) at most 0.5x tcpflow's wall time on
# both, files identical; the engine at most 2x the floor and below libnids.
# Each files run is also set against its own floor: the bytes of the streams
# read from the capture, hashed and written into as many files, in 64 KB
# writes, and nothing else (files-floor.c), its CPU time over the CPUs there
# are: what the machine charges for the bytes whoever does the work.
# Added to it, what weft's reassembly costs beyond reading the capture (its
# engine alone less reading and touching every byte) gives the best weft
# itself could do on the machine, with no cost of its own for threads,
# copies or buffers.
# usage: tests/bench/bench-read.sh [CONNS] [CONNS2]
set -eu
cd "$(dirname "$0")/../.."
CONNS=${1:-2500}
CONNS2=${2:-3000}
# Outputs on tmpfs when there is one: the disk of a shared VM adds seconds of
# noise (journal, writeback of earlier runs) that belong to neither tool.
BASE=/dev/shm; [ -d "$BASE" ] && [ -w "$BASE" ] || BASE=/tmp
W=$(mktemp -d "$BASE/weft-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
cc -O2 -o "$W/nids-count" tests/bench/nids-count.c -lnids -lpcap
cc -O2 -Iinclude -o "$W/weft-count" tests/bench/weft-count.c build/libweft.a -lpcap -lcrypto -lpthread
# the floor: read the capture as the engine does (a private map) and touch
# every byte, so the engine's ratio to it is what reassembly costs
cat >"$W/touch.c" <<'EOF'
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
int main(int argc, char **argv)
{
	int fd = open(argv[1], O_RDONLY);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb))
		return 1;
	const unsigned char *p = mmap(0, sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return 1;
	madvise((void *)p, sb.st_size, MADV_SEQUENTIAL);
	/* every byte, a word at a time (as fast as memory lets it) */
	uint64_t sum = 0, w;
	off_t i = 0;
	for (; i + 8 <= sb.st_size; i += 8) {
		memcpy(&w, p + i, 8);
		sum ^= w;
	}
	for (; i < sb.st_size; i++)
		sum ^= p[i];
	printf("%llu\n", (unsigned long long)sum);
	return 0;
}
EOF
cc -O3 -o "$W/touch" "$W/touch.c"
cc -O2 -o "$W/files-floor" tests/bench/files-floor.c -lcrypto

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
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
cpu_best() { # cmd... -> the least user + system seconds of 3 runs
	local c b=""
	for i in 1 2 3; do
		/usr/bin/time -f "%U %S" -o "$W/time.cpu" "$@" >/dev/null 2>"$W/err" || { cat "$W/err"; exit 1; }
		c=$(awk '{print $1 + $2}' "$W/time.cpu")
		if [ -z "$b" ] || awk -v a="$c" -v b="$b" 'BEGIN{exit !(a<b)}'; then b=$c; fi
	done
	echo "$b"
}

files_vs_tcpflow() { # capture label
	local cap=$1 label=$2
	echo
	echo "== files ($label): weft read -o DIR (SHA-256 on)  vs  tcpflow -o DIR (outputs in $BASE)"
	local wr tr same=0 diff=0
	wr=$(best weft build/weft read -q -o "$W/o-weft" "$cap")
	tr=$(best tcpflow bash -c "mkdir -p $W/o-tcpflow && tcpflow -r $cap -o $W/o-tcpflow")
	for f in "$W"/o-tcpflow/*; do
		b=$(basename "$f"); [ "$b" = report.xml ] && continue
		if cmp -s "$f" "$W/o-weft/$b"; then same=$((same+1)); else diff=$((diff+1)); fi
	done
	printf "weft    %6.2f s  %7d KB peak RSS\n" ${wr% *} ${wr#* }
	printf "tcpflow %6.2f s  %7d KB peak RSS\n" ${tr% *} ${tr#* }
	echo "files identical: $same, different: $diff"
	echo "ratio weft/tcpflow wall time ($label): $(ratio ${wr% *} ${tr% *}) (goal <= 0.50)"
	# the floor of any tool on this machine: the bytes of the streams
	# read, hashed and written, no more, over every CPU there is
	local bytes nfiles cpu ncpu fw
	bytes=$(find "$W/o-tcpflow" -type f ! -name report.xml -printf '%s\n' | awk '{s+=$1} END {print s+0}')
	nfiles=$(find "$W/o-tcpflow" -type f ! -name report.xml | wc -l)
	ncpu=$(nproc)
	cpu=""
	for i in 1 2 3; do
		rm -rf "$W/o-floor"; mkdir "$W/o-floor"
		if ! /usr/bin/time -f "%U %S" -o "$W/time.floor" "$W/files-floor" "$cap" "$W/o-floor" \
			"$bytes" "$nfiles" >/dev/null; then
			echo "floor ($label): not measured (above)"; rm -rf "$W/o-floor"; return
		fi
		c=$(awk '{print $1 + $2}' "$W/time.floor")
		if [ -z "$cpu" ] || awk -v a="$c" -v b="$cpu" 'BEGIN{exit !(a<b)}'; then cpu=$c; fi
	done
	rm -rf "$W/o-floor"
	fw=$(awk -v c="$cpu" -v n="$ncpu" 'BEGIN{printf "%.2f", c / n}')
	echo "floor ($label): $((bytes / 1048576)) MB into $nfiles files, read, hashed, written: $cpu s CPU; over $ncpu CPUs $fw s wall = $(ratio "$fw" ${tr% *})x tcpflow (no tool goes below this)"
	echo "ratio weft/floor wall time ($label): $(ratio ${wr% *} "$fw")"
	# weft's own bound: the floor's work plus what its reassembly costs
	# beyond reading the capture (the engine alone, less reading and
	# touching every byte), spread perfectly over the CPUs
	local ec tc bw
	ec=$(cpu_best "$W/weft-count" "$cap")
	tc=$(cpu_best "$W/touch" "$cap")
	bw=$(awk -v f="$cpu" -v e="$ec" -v t="$tc" -v n="$ncpu" 'BEGIN{d=e-t; if (d<0) d=0; printf "%.2f", (f+d)/n}')
	echo "floor + reassembly ($label): engine alone $ec s CPU, reading $tc s: ($cpu + $ec - $tc) / $ncpu = $bw s wall = $(ratio "$bw" ${tr% *})x tcpflow (weft with no overhead of its own)"
	rm -rf "$W/o-weft" "$W/o-tcpflow"
}

echo "== capture 1: $CONNS connections, 64 at a time, 20-400 KB each, mild reordering and duplicates"
build/weft-gen -o "$W/bench.pcap" -t "$W/truth.jsonl" --conns "$CONNS" --concurrent 64 \
	--size 20000:400000 --reorder 0.02 --dup 0.01 --seed 42
ls -la "$W/bench.pcap" | awk '{printf "%d MB, ", $5/1048576}'
capinfos -M -c "$W/bench.pcap" 2>/dev/null | awk '/Number of packets/ {print $NF, "packets"}'
echo "== capture 2: $CONNS2 connections all open at once, 20-300 KB each"
build/weft-gen -o "$W/conc.pcap" -t "$W/truth2.jsonl" --conns "$CONNS2" --concurrent "$CONNS2" \
	--size 20000:300000 --reorder 0.02 --dup 0.01 --seed 7
ls -la "$W/conc.pcap" | awk '{printf "%d MB, ", $5/1048576}'
capinfos -M -c "$W/conc.pcap" 2>/dev/null | awk '/Number of packets/ {print $NF, "packets"}'
cat "$W/bench.pcap" "$W/conc.pcap" >/dev/null   # all start from the page cache

files_vs_tcpflow "$W/bench.pcap" "capture 1"
files_vs_tcpflow "$W/conc.pcap" "capture 2, $CONNS2 concurrent"

echo
echo "== engine, no output (capture 1): weft  vs  libnids  vs  the floor"
wn=$(best wcount "$W/weft-count" "$W/bench.pcap")
nn=$(best ncount "$W/nids-count" "$W/bench.pcap")
fl=$(best floor "$W/touch" "$W/bench.pcap")
"$W/weft-count" "$W/bench.pcap"; "$W/nids-count" "$W/bench.pcap"
printf "weft    %6.2f s  %7d KB peak RSS\n" ${wn% *} ${wn#* }
printf "libnids %6.2f s  %7d KB peak RSS\n" ${nn% *} ${nn#* }
printf "floor   %6.2f s  %7d KB peak RSS  (read the capture, touch every byte)\n" ${fl% *} ${fl#* }
echo "ratio weft/libnids wall time: $(ratio ${wn% *} ${nn% *}) (goal < 1)"
echo "ratio weft/floor wall time: $(ratio ${wn% *} ${fl% *}) (goal <= 2)"
