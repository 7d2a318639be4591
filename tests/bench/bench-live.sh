#!/bin/bash
# Live: one capture replayed into the mirror veth, received by weft run and,
# in the same script run (one after the other: XDP takes the TCP frames, so
# both cannot see them at once), by tcpdump writing to /dev/null on the same
# interface. Prints packets sent and received, kernel drops, and CPU seconds
# per million packets on the wire (sent: weft keeps pure ACKs and bypassed
# flows in the kernel, so it receives fewer than tcpdump for the same
# traffic), for each replay rate. Outputs on tmpfs: the disk's writeback is
# not what is measured.
# usage: tests/bench/bench-live.sh [CONNS] (root)
set -u
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "Error: needs root"; exit 1; }
CONNS=${1:-600}
export TOPO=wb$$
source tests/live/topo.sh
W=$(mktemp -d /dev/shm/weft-blive.XXXXXX)
trap 'topo_down; rm -rf "$W"' EXIT INT TERM
topo_up 1
ip -n "$C" link set "$MS" mtu 9000; ip -n "$M" link set "$MM" mtu 9000
build/weft-gen -o "$W/r.pcap" -t /dev/null --conns "$CONNS" --concurrent 32 --size 20000:300000 --seed 7
echo "capture: $(capinfos -c "$W/r.pcap" 2>/dev/null | awk '/Number/ {print $NF}') packets, $(( $(stat -c %s "$W/r.pcap") >> 20 )) MB"
NS="nsenter --net=/run/netns/$M"
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime+stime in ticks
HZ=$(getconf CLK_TCK)
printf "%-10s %-8s %10s %10s %10s %12s\n" rate tool sent received drops "cpu s/Mpkt"
for rate in topspeed 2000 500; do
	flag="--topspeed"; [ "$rate" != topspeed ] && flag="--mbps=$rate"
	# weft
	rm -rf "$W/o"
	$NS build/weft run dev "$MM" -o "$W/o" >"$W/weft.log" 2>&1 &
	P=$!; sleep 1.5
	sent=$(ip netns exec "$C" tcpreplay -i "$MS" $flag "$W/r.pcap" 2>&1 | awk '/Actual:/ {print $2}')
	sleep 1; t=$(cpu $P); kill -INT $P; wait $P
	recv=$(grep -o "AF_XDP: [0-9]*" "$W/weft.log" | awk '{print $2}')
	drops=$(grep -o "kernel drops [0-9]*" "$W/weft.log" | awk '{print $3}')
	printf "%-10s %-8s %10s %10s %10s %12.3f\n" "$rate" weft "$sent" "${recv:-0}" "${drops:-?}" \
		"$(echo "$t $HZ ${sent:-1}" | awk '{print $1/$2/($3/1e6)}')"
	# tcpdump
	$NS tcpdump -i "$MM" -B 65536 -w /dev/null -q >"$W/td.log" 2>&1 &
	P=$!; sleep 1.5
	sent=$(ip netns exec "$C" tcpreplay -i "$MS" $flag "$W/r.pcap" 2>&1 | awk '/Actual:/ {print $2}')
	sleep 1; t=$(cpu $P); kill -INT $P; wait $P
	recv=$(awk '/packets captured/ {print $1}' "$W/td.log")
	drops=$(awk '/dropped by kernel/ {print $1}' "$W/td.log")
	printf "%-10s %-8s %10s %10s %10s %12.3f\n" "$rate" tcpdump "$sent" "${recv:-0}" "${drops:-?}" \
		"$(echo "$t $HZ ${sent:-1}" | awk '{print $1/$2/($3/1e6)}')"
done
