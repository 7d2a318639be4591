#!/bin/bash
# Scale of the control plane: N concurrent connections (default 100000,
# generated with known truth: each holds data behind a hole, so all stay
# open) replayed into the mirror of a namespace topology of our own, then
#   - weft flow list -j: every connection listed, and how long it takes;
#   - weft policy set idle-timeout 1s while other traffic is replayed: how
#     long the engine's idle sweep and the kernel table sweep take for N
#     flows, and the packets lost meanwhile (XDP to_user vs frames taken,
#     AF_XDP kernel drops, ring buffer full);
# all of it once with the kernel's sweepers (BPF map iterators) and once
# with the user-space sweep weft falls back to where the kernel refuses
# them, so their costs at N flows stand side by side.
# Root only. Usage: tests/bench/bench-scale.sh [N] [SWEEPERS, default "kernel user"]
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
WEFT=$ROOT/build/weft
PY=/usr/bin/python3
N=${1:-100000}
[ "$(id -u)" = 0 ] || { echo "bench-scale: skipped, not root"; exit 0; }
export TOPO=wb$$
source tests/live/topo.sh
WORK=$(mktemp -d /dev/shm/weft-scale.XXXXXX)
topo_trap "$WORK"
topo_up 1 || exit 1

"$ROOT/build/weft-gen" -o "$WORK/open.pcap" -t /dev/null --hurt "$N" --mss 100 --seed 5 >/dev/null
"$ROOT/build/weft-gen" -o "$WORK/bg.pcap" -t /dev/null --conns 400 --size 20000:200000 --seed 6 >/dev/null
SWEEPERS=${2:-kernel user}
declare -A SWEEP_MS SLICE_MS
run_one() { # sweeper
local sw=$1
echo "== sweeper: $sw"
rm -rf "$WORK/out"
nsenter --net="/run/netns/$M" "$WEFT" run dev "$MM" -o "$WORK/out" sweeper "$sw" >"$WORK/weft.log" 2>&1 &
WP=$!; PIDS+=("$WP")
for _ in $(seq 50); do grep -q "weft: attached" "$WORK/weft.log" && break; sleep 0.1; done
grep -q "weft: attached" "$WORK/weft.log" || { echo "  weft did not start: $(cat "$WORK/weft.log")"; return; }
sleep 1.2
t0=$(date +%s.%N)
ip netns exec "$C" tcpreplay -q -i "$MS" --pps 60000 "$WORK/open.pcap" >/dev/null 2>&1
sleep 2
echo "replayed $(( N * 4 )) packets of $N connections in $($PY -c "print('%.1f' % ($(date +%s.%N) - $t0))") s"
stats() { "$WEFT" -j stats; }
get() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
s0=$(stats)
echo "engine: $(echo "$s0" | get 'd["engine"]["open"]') open connections, kernel flow table: $(echo "$s0" | get 'd["xdp"]["kernel_flows_new"]') entries made"

# 1: list them all
t0=$(date +%s.%N)
listed=$("$WEFT" -j flow list | get 'sum(1 for f in d if f["followed"])')
t1=$(date +%s.%N)
printf "weft flow list -j: %d followed flows listed in %.2f s\n" "$listed" "$($PY -c "print($t1 - $t0)")"

# 2: sweep them by policy while other traffic flows
ip netns exec "$C" tcpreplay -q -i "$MS" --pps 20000 "$WORK/bg.pcap" >/dev/null 2>&1 &
RP=$!; PIDS+=("$RP")
sleep 1
a=$(stats)
t0=$(date +%s.%N)
"$WEFT" policy set idle-timeout 1s closing-timeout 1s halfopen-timeout 1s
while :; do
	open=$(stats | get 'd["engine"]["open"]')
	[ "$open" -lt $((N / 100)) ] && break
	$PY -c "import sys; sys.exit(0 if $(date +%s.%N) - $t0 < 60 else 1)" || break
	sleep 0.2
done
t1=$(date +%s.%N)
wait "$RP"
sleep 1
b=$(stats)
$PY - "$a" "$b" "$t0" "$t1" "$N" <<'EOF'
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
t0, t1, n = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
d = lambda k1, k2: b[k1][k2] - a[k1][k2]
ends = b["engine"]["ends"]["idle"] - a["engine"]["ends"]["idle"]
print("policy set idle-timeout 1s: %d connections ended (idle) within %.1f s" % (ends, t1 - t0))
print("engine idle sweep (costliest): %.1f ms of work for %d flows (%.1f ms per 100k), in slices; the longest slice (the rings' longest wait) %.2f ms" % (
    b["engine"]["idle_sweep_ns"] / 1e6, n, b["engine"]["idle_sweep_ns"] / 1e6 * 100000 / n,
    b["engine"]["idle_sweep_slice_ns_max"] / 1e6))
print("kernel table sweep (%s sweeper: flows + bypass), costliest pass: %.1f ms; user-space: %d entries removed, longest slice %.2f ms" % (
    b["engine"]["sweeper"], b["engine"]["kernel_sweep_ns_max"] / 1e6, b["engine"]["user_sweep_removed"],
    b["engine"]["user_sweep_slice_ns_max"] / 1e6))
print("during the sweep: %d packets to user space, %d frames taken, %d AF_XDP kernel drops, %d ring full, %d ring records lost" % (
    d("xdp", "to_user"), d("af_xdp", "frames"), d("af_xdp", "kernel_drops"), d("af_xdp", "ring_full"),
    d("capture", "ring_full_lost")))
print("SWEEP %.1f %.2f" % (b["engine"]["kernel_sweep_ns_max"] / 1e6, b["engine"]["user_sweep_slice_ns_max"] / 1e6))
EOF
kill -INT "$WP"; wait "$WP" 2>/dev/null
"$WEFT" policy show >/dev/null 2>&1 # (gone with it)
}
for sw in $SWEEPERS; do run_one "$sw" | tee "$WORK/$sw.txt" | grep -v "^SWEEP"; done
# side by side
k=$(sed -n 's/^SWEEP //p' "$WORK/kernel.txt" 2>/dev/null); u=$(sed -n 's/^SWEEP //p' "$WORK/user.txt" 2>/dev/null)
if [ -n "$k" ] && [ -n "$u" ]; then
	$PY -c "k, u = [float(x) for x in '$k'.split()], [float(x) for x in '$u'.split()]
print('table sweep at %d flows, costliest pass: kernel iterators %.1f ms, user space %.1f ms (%.2fx), longest user-space slice %.2f ms' % ($N, k[0], u[0], u[0] / k[0] if k[0] else 0, u[1]))"
fi
