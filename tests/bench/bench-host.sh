#!/bin/bash
# Host mode's cost to the host: iperf3 between two namespaces over a veth
# pair (segmentation offloads on, as on a host's own interface), in the same
# script run with nothing attached to the server's interface, with weft run
# in host mode on it, and with tcpdump on it. Both directions: the server
# receiving (weft's TC ingress) and sending (TC egress, 64 KB GSO packets).
# Prints throughput, the monitor's own CPU seconds, the whole machine's busy
# CPU seconds per GB moved, each monitor's throughput as a share of the
# bare link's, and the packets whose payload it dropped (a monitor that
# drops does less work, so a share is read with its drops). The monitors,
# by what they do with the bytes:
#   tcpdump      captures to /dev/null (the issue's yardstick);
#   weft-c       reassembles every byte and prints the streams (-c) to
#                /dev/null: the same "output discarded" as tcpdump's;
#   weft-xdp     weft-c with XDP (native) on ingress instead of TC: on a
#                veth that turns off the peer's segmentation offloads, so
#                the client sends MTU-sized packets (why TC is the default);
#   weft-hdr and tcpdump-hdr   weft-c and tcpdump copying 128 bytes of each
#                packet (snap length), headers and no payload: what is left
#                of either's cost without the copy of the payload, which
#                both make once, in the same place (not run by default);
#   weft-1M      weft with --depth 1M (Suricata's stream depth): past the
#                first megabyte of each direction a flow is bypassed in the
#                kernel and costs a map lookup;
#   weft         reassembles every byte into files on tmpfs, with SHA-256;
#   weft-nh      the same without the SHA-256 (--no-hash);
#   tcpdump-w    captures every byte into a pcap file on the same tmpfs: the
#                same "every byte stored" as weft's.
# Writing a file costs what the page cache costs (dd on this machine's tmpfs:
# about 1.6 GB/s), so a monitor that stores every byte of a 20 Gbit/s link
# competes with iperf3 for the CPU whatever it is; compare weft with the
# tcpdump that does the same work.
# weft-c@SIZE and tcpdump@KIB: weft-c with ring SIZE, tcpdump with -B KIB
# (defaults: 64 MB each), to compare at other equal memories.
# iperf3's client runs on CPU 0 and its server on CPU 1 (PIN=0: wherever the
# scheduler puts them): on two CPUs, the spread of the bare link's
# throughput from round to round falls from about 30% to 10%.
# Rounds are outside, monitors inside, so the machine's drift falls on all.
# usage: tests/bench/bench-host.sh [GB per run] [rounds] [monitors...] (root)
set -u
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "Error: needs root"; exit 1; }
GB=${1:-3}
ROUNDS=${2:-3}
shift 2 2>/dev/null
TOOLS=${*:-none tcpdump weft-c weft-xdp weft-1M weft weft-nh tcpdump-w}
export TOPO=wbh$$
source tests/live/topo.sh
W=$(mktemp -d /dev/shm/weft-bhost.XXXXXX)
MON=
cleanup() { [ -n "$MON" ] && kill "$MON" 2>/dev/null; kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; topo_down; rm -rf "$W"; }
trap cleanup EXIT INT TERM
topo_up_pair || exit 1
ip netns exec "$S" iperf3 -s -D -I "$W/iperf.pid" >/dev/null
PIDS+=("$(cat "$W/iperf.pid" 2>/dev/null)")
sleep 0.5
HZ=$(getconf CLK_TCK)
AFF=()
[ "${PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && AFF=(-A 0,1)
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }

start_mon() { # a monitor of TOOLS
	MON=
	rm -rf "$W/o" "$W/cap.pcap"
	local NS=(nsenter --net="/run/netns/$S")
	# MONITOR@SIZE: weft's ring (ring SIZE) or tcpdump's buffer (-B, in KiB)
	local sz=${1#*@} wr=() tb=(-B 65536)
	[ "$sz" != "$1" ] && wr=(ring "$sz") && tb=(-B "$sz")
	case ${1%@*} in
	weft)    "${NS[@]}" build/weft run dev "$LS" mode host -o "$W/o" >"$W/weft.log" 2>&1 & ;;
	weft-nh) "${NS[@]}" build/weft run dev "$LS" mode host -o "$W/o" --no-hash >"$W/weft.log" 2>&1 & ;;
	weft-1M) "${NS[@]}" build/weft run dev "$LS" mode host -o "$W/o" --depth 1M \
			>"$W/weft.log" 2>&1 & ;;
	weft-c)  "${NS[@]}" build/weft run dev "$LS" mode host "${wr[@]}" -c >/dev/null 2>"$W/weft.log" & ;;
	weft-xdp) "${NS[@]}" build/weft run dev "$LS" mode host ingress xdp "${wr[@]}" -c >/dev/null \
			2>"$W/weft.log" & ;;
	weft-hdr) "${NS[@]}" build/weft run dev "$LS" mode host snaplen 128 "${wr[@]}" -c >/dev/null \
			2>"$W/weft.log" & ;;
	tcpdump-hdr) "${NS[@]}" tcpdump -i "$LS" "${tb[@]}" -s 128 -w /dev/null -q >"$W/td.log" 2>&1 & ;;
	tcpdump) "${NS[@]}" tcpdump -i "$LS" "${tb[@]}" -w /dev/null -q >"$W/td.log" 2>&1 & ;;
	tcpdump-w) "${NS[@]}" tcpdump -i "$LS" -B 65536 -w "$W/cap.pcap" -q >"$W/td.log" 2>&1 & ;;
	*) return ;;
	esac
	MON=$!
	if [ "${1#weft}" != "$1" ]; then
		for _ in $(seq 50); do [ -e "/sys/fs/bpf/weft/$LS/epub" ] && break; sleep 0.1; done
		sleep 0.3
	else
		sleep 1
	fi
	# the monitor's CPU from here: weft's program load (the verifier) is
	# start-up, not a cost per packet
	MON0=$(cpu_of "$MON")
}
# sets MONCPU and MONDROP (not in a subshell: the wait must be this shell's)
stop_mon() {
	MONCPU=0 MONDROP=0
	[ -n "$MON" ] || return
	if ! kill -0 "$MON" 2>/dev/null; then
		echo "Error: the monitor exited early:" >&2; cat "$W"/*.log >&2
	fi
	MONCPU=$(( $(cpu_of "$MON") - MON0 ))
	kill -INT "$MON"; wait "$MON" 2>/dev/null; MON=
	# packets whose payload never reached the monitor: tcpdump's kernel
	# drops; weft's records cut to their headers or lost when its ring
	# was full (reported as gaps)
	MONDROP=$(cat "$W"/*.log 2>/dev/null | awk '/dropped by kernel/ {d += $1}
		/^weft: ring buffer:/ {d += $8 + $15} END {print d + 0}')
	rm -f "$W"/*.log
}

# one iperf3 run of $GB GB: sets RESULT to "gbit cpu_monitor busy_per_gb dropped"
measure() { # tool dirflag
	start_mon "$1"
	local b0 b1 j
	b0=$(busy)
	j=$(ip netns exec "$C" iperf3 -c "$SRV4" -n "${GB}G" $2 "${AFF[@]}" -J 2>/dev/null)
	b1=$(busy)
	stop_mon
	RESULT=$(echo "$j" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
gbit = d["end"]["sum_received"]["bits_per_second"] / 1e9
moved = d["end"]["sum_received"]["bytes"] / 1e9
hz, m, busy = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print("%.2f %.2f %.3f %s" % (gbit, m / hz, busy / hz / moved, sys.argv[4]))' "$HZ" "$MONCPU" \
		"$((b1 - b0))" "$MONDROP")
}

med() { printf "%s\n" "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "iperf3 -n ${GB}G ${AFF[*]} over a veth pair, $ROUNDS rounds (medians); weft in host mode; files on tmpfs"
printf "%-16s %-10s %10s %12s %14s %8s %9s\n" direction monitor "Gbit/s" "monitor cpu" "busy cpu s/GB" \
	"of bare" "dropped"
for dir in "server receives:" "server sends:-R"; do
	label=${dir%%:*}; flag=${dir#*:}
	declare -A GS=() MS=() BS=() DS=()
	for _ in $(seq "$ROUNDS"); do
		for tool in $TOOLS; do
			measure "$tool" "$flag"
			read -r g m b d <<<"$RESULT"
			GS[$tool]+=" $g"; MS[$tool]+=" $m"; BS[$tool]+=" $b"; DS[$tool]+=" $d"
		done
	done
	# shellcheck disable=SC2086
	bare=$(med ${GS[none]:-0})
	for tool in $TOOLS; do
		# shellcheck disable=SC2086
		printf "%-16s %-10s %10s %12s %14s %7.0f%% %9s\n" "$label" "$tool" "$(med ${GS[$tool]})" \
			"$(med ${MS[$tool]})" "$(med ${BS[$tool]})" \
			"$(echo "$(med ${GS[$tool]}) $bare" | awk '{print $2 ? 100 * $1 / $2 : 0}')" \
			"$(med ${DS[$tool]})"
	done
	unset GS MS BS DS
done
echo "(dropped: packets whose payload never reached the monitor, median of the rounds:"
echo " tcpdump's kernel drops; weft's records cut to their headers or lost when its"
echo " ring was full, each reported as a gap in its stream)"
