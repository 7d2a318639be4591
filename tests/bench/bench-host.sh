#!/bin/bash
# Host mode's cost to the host: iperf3 between two namespaces over a veth
# pair (segmentation offloads on, as on a host's own interface), in the same
# script run with nothing attached to the server's interface, with weft run
# in host mode on it (streams written to tmpfs), and with tcpdump capturing
# it to /dev/null. Both directions: the server receiving (weft's TC ingress)
# and sending (TC egress, 64 KB GSO packets). Prints throughput, the
# monitor's own CPU seconds, the whole machine's busy CPU seconds per GB
# moved, and each monitor's throughput as a share of the bare link's.
# weft-1M is weft with --depth 1M (as Suricata's stream depth): past the
# first megabyte of each direction, the flow is bypassed in the kernel and
# costs only a map lookup.
# usage: tests/bench/bench-host.sh [GB per run] [rounds] (root)
set -u
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "Error: needs root"; exit 1; }
GB=${1:-3}
ROUNDS=${2:-3}
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
cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }

start_mon() { # none | weft | weft-1M | tcpdump
	MON=
	case $1 in
	weft*)
		rm -rf "$W/o"
		local extra=()
		[ "$1" = weft-1M ] && extra=(--depth 1M)
		nsenter --net="/run/netns/$S" build/weft run dev "$LS" -o "$W/o" mode host -q \
			"${extra[@]}" >"$W/weft.log" 2>&1 &
		MON=$!
		for _ in $(seq 50); do [ -e "/sys/fs/bpf/weft/$LS/epub" ] && break; sleep 0.1; done
		sleep 0.3 ;;
	tcpdump)
		nsenter --net="/run/netns/$S" tcpdump -i "$LS" -B 65536 -w /dev/null -q \
			>"$W/td.log" 2>&1 &
		MON=$!
		sleep 1 ;;
	esac
	# the monitor's CPU from here: weft's program load (the verifier) is
	# start-up, not a cost per packet
	MON0=0
	[ -n "$MON" ] && MON0=$(cpu_of "$MON")
}
# sets MONCPU (not in a subshell: the wait must be this shell's)
stop_mon() {
	MONCPU=0
	[ -n "$MON" ] || return
	if ! kill -0 "$MON" 2>/dev/null; then
		echo "Error: the monitor exited early:" >&2; cat "$W"/*.log >&2
	fi
	MONCPU=$(( $(cpu_of "$MON") - MON0 ))
	kill -INT "$MON"; wait "$MON" 2>/dev/null; MON=
}

# one iperf3 run of $GB GB: sets RESULT to "gbit cpu_monitor busy_per_gb"
measure() { # tool dirflag
	start_mon "$1"
	local b0 b1 j
	b0=$(busy)
	j=$(ip netns exec "$C" iperf3 -c "$SRV4" -n "${GB}G" $2 -J 2>/dev/null)
	b1=$(busy)
	stop_mon
	RESULT=$(echo "$j" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
gbit = d["end"]["sum_received"]["bits_per_second"] / 1e9
moved = d["end"]["sum_received"]["bytes"] / 1e9
hz, m, busy = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print("%.2f %.2f %.3f" % (gbit, m / hz, busy / hz / moved))' "$HZ" "$MONCPU" "$((b1 - b0))")
}

echo "iperf3 -n ${GB}G over a veth pair, $ROUNDS rounds each (medians); weft: host mode, streams to tmpfs"
printf "%-22s %-8s %10s %12s %14s %10s\n" direction monitor "Gbit/s" "monitor cpu" "busy cpu s/GB" "of bare"
for dir in "server receives:" "server sends:-R"; do
	label=${dir%%:*}; flag=${dir#*:}
	declare -A G=() MC=() B=()
	for tool in none weft weft-1M tcpdump; do
		gs=(); ms=(); bs=()
		for _ in $(seq "$ROUNDS"); do
			measure "$tool" "$flag"
			read -r g m b <<<"$RESULT"
			gs+=("$g"); ms+=("$m"); bs+=("$b")
		done
		med() { printf "%s\n" "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
		G[$tool]=$(med "${gs[@]}"); MC[$tool]=$(med "${ms[@]}"); B[$tool]=$(med "${bs[@]}")
	done
	for tool in none weft weft-1M tcpdump; do
		printf "%-22s %-8s %10s %12s %14s %9.0f%%\n" "$label" "$tool" "${G[$tool]}" "${MC[$tool]}" \
			"${B[$tool]}" "$(echo "${G[$tool]} ${G[none]}" | awk '{print 100 * $1 / $2}')"
	done
	cost() { echo "${G[$1]} ${G[none]}" | awk '{printf "%.1f%%", 100 - 100 * $1 / $2}'; }
	echo "$label: throughput lost: weft $(cost weft), weft --depth 1M $(cost weft-1M), tcpdump $(cost tcpdump)"
	unset G MC B
done
grep -h "^weft: ring" "$W/weft.log" 2>/dev/null
