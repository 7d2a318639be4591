#!/bin/bash
# Live (tap mode): one capture replayed into the mirror veth, at several
# rates, received in turn by each monitor on the same interface (XDP takes
# the TCP frames, so two cannot see them at once):
#   tcpdump   tcpdump -w /dev/null: capture only
#   weft-c    weft run -c >/dev/null: every byte reassembled, nothing stored
#   tcpdump-w tcpdump -w FILE: the capture stored, as a pcap
#   weft      weft run -o DIR: per-direction files + flows.jsonl with SHA-256
# (files on tmpfs: the disk's writeback is not what is measured). weft-c is
# compared with tcpdump, weft with tcpdump-w: the same job done.
# For each: packets received, kernel drops, the monitor's own CPU (all its
# threads, from schedstat, over the replay) and the whole machine's busy CPU
# over the replay less that of the same replay with no monitor (so the
# kernel's copy into each tool's ring counts too), both per million packets
# sent, the median of ROUNDS rounds. weft keeps pure ACKs in the kernel, so
# it receives fewer packets than tcpdump for the same traffic.
# tcpdump gets a 32 MB buffer (-B 32768), the memory of weft's RX ring
# (16384 frames of 2 KB at this MTU): what each can hold while its reader is away is
# then down to how it uses the same memory.
# PIN=1 runs tcpreplay (and with it the softirq that feeds the mirror) on
# CPU 0 and every monitor on CPU 1, as a capture box keeps its capture
# process off the interrupt's core; unpinned, the scheduler moves a monitor
# to whichever CPU is idle at each wakeup and its caches go cold.
# HOG=NICE (implies PIN=1) starves the monitors: a busy loop at that nice
# level (-19 .. 19) shares CPU 1 with them through each replay, as another
# job would on a busy box; it is where packets are lost, and "lost %" says
# what share of what each was handed it lost.
# weft-nh is weft's files without the SHA-256 (--no-hash), as tcpdump -w
# stores without one.
# Then the unpaced mirror (MIRROR=0 skips it, MIRROR=only runs it alone):
# real parallel HTTP downloads (1, 7, 23 and 50 MB, IPv4 and IPv6) between
# two namespaces with segmentation offloads on and no shaping, as a
# container host sends them, mirrored to a 2-queue veth, received by weft
# (default path, path ring, path afxdp) and by tcpdump -w (its capture read
# back by weft read): the bytes of the downloads found byte-exact in the
# streams, and each monitor's own CPU per million packets the link carried.
# usage: [RATES="topspeed 2000 500"] [MONS="none tcpdump weft-c tcpdump-w weft weft-nh"]
#        [PIN=1] [HOG=NICE] [MIRROR=0|only] tests/bench/bench-live.sh [CONNS] [ROUNDS]   (root)
set -u
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "Error: needs root"; exit 1; }
CONNS=${1:-600}
PY=/usr/bin/python3
ROUNDS=${2:-3}
export TOPO=wb$$
source tests/live/topo.sh
W=$(mktemp -d /dev/shm/weft-blive.XXXXXX)
trap 'kill "${PIDS[@]}" 2>/dev/null; topo_down; rm -rf "$W"' EXIT INT TERM
topo_up 1
# the mirror port keeps its MTU of 1500, as a SPAN port does: the capture's
# frames fit, and veth runs XDP natively at that size
build/weft-gen -o "$W/r.pcap" -t /dev/null --conns "$CONNS" --concurrent 32 --size 20000:300000 --seed 7
PKTS=$(tcpdump -r "$W/r.pcap" -qn 2>/dev/null | wc -l)
echo "capture: $PKTS packets, $(( $(stat -c %s "$W/r.pcap") >> 20 )) MB; $ROUNDS rounds, medians"
NS="nsenter --net=/run/netns/$M"
REPLAY=()
HOG=${HOG:-}
[ -n "$HOG" ] && PIN=1
if [ "${PIN:-0}" = 1 ]; then
	NS="taskset -c 1 $NS"; REPLAY=(taskset -c 0)
	echo "pinned: tcpreplay on CPU 0, monitors on CPU 1${HOG:+, with a busy loop at nice $HOG}"
fi
HZ=$(getconf CLK_TCK)
# ns on CPU of every thread of a process
oncpu() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {print s + 0}'; }
# times the monitor's threads went to sleep: its wakeups
sleeps() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt/ {s += $2} END {print s + 0}'; }
# the machine's busy ticks: user nice system irq softirq
busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
median() { sort -g | awk '{v[NR] = $1} END {print NR ? v[int((NR + 1) / 2)] : 0}'; }

# start a monitor, wait until it listens; sets P
start() {
	local mon=$1
	rm -rf "$W/o" "$W/log"
	case $mon in
	none) P=; return 0 ;;
	tcpdump) $NS tcpdump -i "$MM" -B 32768 -w /dev/null -q >"$W/log" 2>&1 & P=$!; pat="listening" ;;
	tcpdump-w) rm -f "$W/td.pcap"
		$NS tcpdump -i "$MM" -B 32768 -w "$W/td.pcap" -q >"$W/log" 2>&1 & P=$!; pat="listening" ;;
	weft-c) $NS build/weft run dev "$MM" -c >/dev/null 2>"$W/log" & P=$!; pat="weft: attached" ;;
	weft) $NS build/weft run dev "$MM" -o "$W/o" >"$W/log" 2>&1 & P=$!; pat="weft: attached" ;;
	weft-nh) $NS build/weft run dev "$MM" -o "$W/o" --no-hash >"$W/log" 2>&1 & P=$!
		pat="weft: attached" ;;
	esac
	for _ in $(seq 100); do grep -q "$pat" "$W/log" && break; sleep 0.05; done
	sleep 0.3
}

# one replay at $1 under monitor $2:
# "received drops cpu_own_ns busy_ticks sent gaps wakeups" (gaps: weft's, else -)
one() {
	local rate=$1 mon=$2 flag="--topspeed" c0 b0 s0=0 s1=0 sent c1 b1 recv drops gaps=-
	[ "$rate" != topspeed ] && flag="--mbps=$rate"
	start "$mon"
	c0=0; [ -n "$P" ] && { c0=$(oncpu "$P"); s0=$(sleeps "$P"); }
	b0=$(busy)
	local hog=
	if [ -n "$HOG" ]; then nice -n "$HOG" taskset -c 1 sh -c 'while :; do :; done' & hog=$!; fi
	sent=$("${REPLAY[@]}" ip netns exec "$C" tcpreplay -i "$MS" $flag "$W/r.pcap" 2>&1 |
		awk '/Actual:/ {print $2}')
	[ -n "$hog" ] && { kill "$hog"; wait "$hog" 2>/dev/null; }
	sleep 0.5
	b1=$(busy); c1=0; [ -n "$P" ] && { c1=$(oncpu "$P"); s1=$(sleeps "$P"); }
	# stopped only after tcpdump's block timer has handed over its last
	# block: what it has not written by then is lost, not late
	if [ -n "$P" ]; then sleep 1.2; kill -INT "$P"; wait "$P"; fi
	case $mon in
	none) recv=0; drops=0 ;;
	tcpdump*) recv=$(awk '/packets captured/ {print $1}' "$W/log")
		drops=$(awk '/dropped by kernel/ {print $1}' "$W/log") ;;
	weft*) recv=$(grep -oE "(AF_XDP:|ring buffer:) [0-9]*" "$W/log" | awk '{print $NF}')
		# AF_XDP's kernel drops, or the ring's lost records and headers-only
		# copies; and the interface's own drops either way
		drops=$(grep -oE "kernel drops [0-9]*|[0-9]* with headers only|[0-9]* lost|interface drops [0-9]*" \
			"$W/log" | grep -oE "[0-9]+" | awk '{s += $1} END {print s + 0}')
		gaps=$(grep -o "[0-9]* gaps" "$W/log" | awk '{print $1}') ;;
	esac
	echo "${recv:-0} ${drops:-0} $((c1 - c0)) $((b1 - b0)) ${sent:-1} ${gaps:-?} $((s1 - s0))"
}

# ---- the unpaced mirror of real downloads ----
# packets the client's end of the link received and sent
lc_pkts() { ip netns exec "$C" cat /proc/net/dev | awk -v d="$LC:" '$1 == d {print $3 + $11}'; }
mirror_bench() {
	topo_down
	TOPO_UNPACED=1 topo_up 2 || { echo "mirror: no topology"; return; }
	local srv=$W/srv; rm -rf "$srv"; mkdir -p "$srv"
	local mb i=0
	for mb in 1 7 23 50; do head -c $((mb * 1048576 + 12345)) /dev/urandom >"$srv/f$i.bin"; i=$((i + 1)); done
	serve_http "$srv" || { echo "mirror: no HTTP server"; return; }
	local total; total=$(cat "$srv"/*.bin | wc -c)
	printf "\nunpaced GSO mirror, 2 RX queues: 4 parallel downloads, %d bytes\n" "$total"
	printf "%-18s %10s %12s %12s %10s %14s %14s\n" monitor packets "bytes found" "of total" "lost" \
		"own cpu s/M" "own cpu s/GB"
	local mon
	for mon in tcpdump-w weft "weft path ring" "weft path afxdp"; do
		rm -rf "$W/o" "$W/log" "$W/td.pcap" "$W/rd"
		case $mon in
		tcpdump-w) $NS tcpdump -i "$MM" -B 32768 -w "$W/td.pcap" -q >"$W/log" 2>&1 & P=$!; pat=listening ;;
		*) $NS build/weft run dev "$MM" -o "$W/o" ${mon#weft} >"$W/log" 2>&1 & P=$!; pat="weft: attached" ;;
		esac
		for _ in $(seq 100); do grep -q "$pat" "$W/log" && break; sleep 0.05; done
		sleep 0.3
		local c0; c0=$(oncpu "$P")
		local pk0; pk0=$(lc_pkts)
		local pids=()
		for i in 0 1 2 3; do
			local host=$SRV4; [ $((i % 2)) = 1 ] && host="[$SRV6]"
			ip netns exec "$C" curl -s -o /dev/null "http://$host:8080/f$i.bin" & pids+=($!)
		done
		wait "${pids[@]}"
		sleep 1.2
		local c1; c1=$(oncpu "$P")
		kill -INT "$P"; wait "$P" 2>/dev/null
		local pkts=$(( $(lc_pkts) - pk0 ))
		local lost=-
		if [ "$mon" = tcpdump-w ]; then
			lost=$(awk '/dropped by kernel/ {print $1}' "$W/log")
			build/weft read -q -o "$W/o" "$W/td.pcap" 2>/dev/null
		else
			lost=$(grep -oE "kernel drops [0-9]*|[0-9]* with headers only|[0-9]* lost|interface drops [0-9]*" \
				"$W/log" | grep -oE "[0-9]+" | awk '{s += $1} END {print s + 0}')
		fi
		local found; found=$($PY - "$srv" "$W/o" <<'EOF'
import json, os, sys
srv, out = sys.argv[1:3]
try:
    flows = [json.loads(l) for l in open(os.path.join(out, "flows.jsonl"))]
except OSError:
    flows = []
s2c = [open(os.path.join(out, f["s2c"]["file"]), "rb").read() for f in flows if f["s2c"]["file"]]
print(sum(len(w) for w in (open(os.path.join(srv, f), "rb").read() for f in os.listdir(srv))
          if any(s.endswith(w) for s in s2c)))
EOF
)
		printf "%-18s %10s %12s %11.1f%% %10s %14.3f %14.3f\n" "$mon" "$pkts" "$found" \
			"$(awk -v f="$found" -v t="$total" 'BEGIN {print 100 * f / t}')" "${lost:-?}" \
			"$(awk -v c=$((c1 - c0)) -v p="$pkts" 'BEGIN {print p ? c / 1e9 / (p / 1e6) : 0}')" \
			"$(awk -v c=$((c1 - c0)) -v t="$total" 'BEGIN {print c / 1e9 / (t / 1e9)}')"
	done
	echo "(packets: what the client's end of the link carried, both ways (GSO packets"
	echo " count once); bytes found: the downloads' bytes found byte-exact in an s2c"
	echo " stream; lost: what each monitor's kernel side reported lost; own cpu: the"
	echo " monitor's threads' CPU per million of those packets, and per GB downloaded)"
	kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; PIDS=()
}
if [ "${MIRROR:-}" = only ]; then mirror_bench; exit 0; fi

MONS=${MONS:-"none tcpdump weft-c tcpdump-w weft weft-nh"}
declare -A PEER=([weft-c]=tcpdump [weft]=tcpdump-w [weft-nh]=tcpdump-w)
RATES=${RATES:-"topspeed 2000 500"}
declare -A R
for r in $(seq "$ROUNDS"); do
	for rate in $RATES; do
		for mon in $MONS; do R[$rate,$mon]+="$(one "$rate" "$mon")"$'\n'; done
	done
done

printf "%-9s %-9s %9s %9s %7s %6s %5s %8s %13s %14s %12s\n" rate monitor sent received drops \
	"lost %" gaps wakeups "own cpu s/M" "added busy s/M" "own vs peer"
for rate in $RATES; do
	bare=$(echo -n "${R[$rate,none]:-}" | awk '{print $4}' | median)
	declare -A OWN
	for mon in $MONS; do
		[ "$mon" = none ] && continue
		rows=${R[$rate,$mon]}
		sent=$(echo -n "$rows" | awk '{print $5}' | median)
		recv=$(echo -n "$rows" | awk '{print $1}' | median)
		drops=$(echo -n "$rows" | awk '{print $2}' | sort -g | tail -1)
		lost=$(echo -n "$rows" | awk '{print ($1 + $2) ? 100 * $2 / ($1 + $2) : 0}' | sort -g | tail -1)
		gaps=$(echo -n "$rows" | awk '{print $6}' | sort -g | tail -1)
		wakes=$(echo -n "$rows" | awk '{print $7}' | median)
		own=$(echo -n "$rows" | awk '{print $3 / 1e9 / ($5 / 1e6)}' | median)
		added=$(echo -n "$rows" | awk -v b="$bare" -v hz="$HZ" '{print ($4 - b) / hz / ($5 / 1e6)}' | median)
		OWN[$mon]=$own
		peer=${PEER[$mon]:-}; t=0; [ -n "$peer" ] && t=${OWN[$peer]:-0}
		ratio=$(awk -v a="$own" -v t="$t" 'BEGIN {if (t > 0) printf "%.2fx", a / t; else print "-"}')
		printf "%-9s %-9s %9s %9s %7s %6.2f %5s %8s %13.3f %14.3f %12s\n" "$rate" "$mon" "$sent" \
			"$recv" "$drops" "$lost" "$gaps" "$wakes" "$own" "$added" "$ratio"
	done
done
echo "(drops, lost % (drops of what the kernel handed the monitor: packets for"
echo " tcpdump, the frames of data and of what the flow table does not keep for"
echo " weft) and gaps in weft's streams: the worst round; wakeups: the times the"
echo " monitor's threads slept over the replay; own cpu: those threads' CPU; added"
echo " busy: the machine's busy time over the replay less that of the same replay"
echo " with no monitor; peer: tcpdump for weft-c, tcpdump-w for weft and weft-nh)"
[ "${MIRROR:-}" = 0 ] || mirror_bench
