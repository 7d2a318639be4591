#!/bin/bash
# Live tests of `weft run`, in network namespaces made here and removed on
# every exit, traffic only between them:
#   1. real traffic: parallel HTTP downloads (IPv4 and IPv6, 1-50 MB random
#      files) between two namespaces, weft in tap mode on a mirror of the
#      link: every file byte-exact in an s2c stream, every request in c2s;
#      the frames taken in batches (a hundred or more a wakeup, not two or
#      three), the XDP program's doorbell rung once per 2048 frames a CPU
#      hands over;
#   2. the same with a 2-queue veth and one AF_XDP socket per queue (the
#      mirror hashes each direction on its own, so a connection's packets
#      come on both queues and must be merged back in time order);
#   3. replay: captures tcpreplayed into a veth give what `weft read` gives
#      (one of them with segments captured after the ACKs that cover them);
#   4. errors: each one line, non-zero, nothing left attached or pinned.
# Needs root. Prints "live: N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
SUITE=live CASES=16 WHY="namespaces, XDP and AF_XDP need it"
source tests/live/suite.sh
CORPUS=${CORPUS:-$ROOT/../shared/corpus}

export TOPO=wt$$
source tests/live/topo.sh
WORK=$(mktemp -d /tmp/weft-live.XXXXXX)
topo_trap "$WORK"

# ---- 1 and 2: real traffic through a mirror ----
downloads() { # queues label path [weft run args...]: path is the one weft must take
	local queues=$1 label=$2 want=$3; shift 3
	topo_up "$queues" || { ko "$label: topology"; return; }
	local srv=$WORK/srv out=$WORK/out-$queues got=$WORK/got-$queues
	rm -rf "$srv" "$out" "$got"; mkdir -p "$srv" "$got"
	local sizes=(1 7 23 50) i=0
	for mb in "${sizes[@]}"; do
		head -c $((mb * 1048576 + RANDOM)) /dev/urandom >"$srv/f$i.bin"; i=$((i + 1))
	done
	serve_http "$srv" || { ko "$label: no HTTP server"; return; }
	start_weft "$M" "$MM" "$out" "$@" || { ko "$label: weft did not start"; return; }
	local afxdp=0; [ "$want" = afxdp ] && afxdp=1
	local cpids=()
	for i in 0 1 2 3; do
		local host=$SRV4; [ $((i % 2)) = 1 ] && host="[$SRV6]"
		timeout 120 ip netns exec "$C" curl -s -o "$got/f$i.bin" "http://$host:8080/f$i.bin" &
		cpids+=($!)
	done
	wait "${cpids[@]}"
	sleep 0.5
	# from another shell: the running instance and its kernel counters
	local N="nsenter --net=/run/netns/$M" sbad=0
	$N "$WEFT" -j stats dev "$MM" >"$WORK/stats.json" || sbad=1
	$N "$WEFT" -j prog show >"$WORK/prog.json" || sbad=1
	stop_weft
	$PY - "$WORK/stats.json" "$WORK/prog.json" "$MM" "$afxdp" <<'EOF2' || sbad=1
import json, sys
s, p = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
dev, afxdp = sys.argv[3], sys.argv[4] == "1"
c = s["xdp"]
assert s["running"] and c["to_user"] > 1000 and c["no_socket"] == 0, s
assert c["packets"] >= c["to_user"], c
assert s["capture"]["path"] == ("afxdp" if afxdp else "ring"), s["capture"]
assert s["engine"]["sweeper"] in ("kernel", "user"), s["engine"]
if afxdp:
    # the doorbell: every 2048 frames a CPU hands over (an eighth of the ring)
    assert 1 <= c["tap_doorbells"] <= c["to_user"] // 2048, c
else:
    assert s["capture"]["ring_full_lost"] == 0, s["capture"]
assert any(i["dev"] == dev and i["running"] and i["path"] == s["capture"]["path"] for i in p), p
EOF2
	$N "$WEFT" stats dev "$MM" 2>&1 | grep -q "no weft instance is attached" || sbad=1
	if [ $sbad = 0 ]; then ok "$label: weft stats and prog show from another shell (JSON), and after the stop"
	else ko "$label: weft stats / prog show"; fi
	local line
	if [ $afxdp = 1 ]; then
		# the reader takes the frames in batches, not a wakeup per few
		# frames (AF_XDP wakes a caught-up poller for every frame; a 4 ms
		# nap gave 140 a wakeup, the doorbell 480), and loses none; a
		# 1500-byte MTU's frames fit AF_XDP's smallest UMEM frame: 32 MB a
		# queue hold 16384 of them, twice what 4 KB frames would
		if grep -q "queue(s) of 16384 frames of 2048 bytes" "$WORK/weft.log"
		then ok "$label: 16384 UMEM frames of 2 KB a queue at MTU 1500"
		else ko "$label: UMEM frames: $(grep attached "$WORK/weft.log")"; fi
		line=$(grep -E "^weft: AF_XDP" "$WORK/weft.log"); echo "  $line"
		if echo "$line" | awk '{ if (!($3 > 10000 && $3 / $6 >= 128 && $10 == 0)) exit 1 }'
		then ok "$label: frames taken in batches ($(echo "$line" | awk '{printf "%d", $3 / $6}') a wakeup), no kernel drops"
		else ko "$label: frames / wakeups or drops: $line"; fi
	else
		# the ring path: GSO packets whole, nothing lost at a full ring,
		# no interface drops
		line=$(grep -E "^weft: ring buffer" "$WORK/weft.log"); echo "  $line"
		if echo "$line" | grep -qE "ring full: 0 with headers only .*, 0 lost; interface drops 0$"
		then ok "$label: the ring path lost nothing (no full ring, no interface drops)"
		else ko "$label: losses: $line"; fi
	fi
	if $PY - "$srv" "$got" "$out" <<'EOF'
import json, os, sys
srv, got, out = sys.argv[1:4]
flows = [json.loads(l) for l in open(os.path.join(out, "flows.jsonl"))]
s2c = [open(os.path.join(out, f["s2c"]["file"]), "rb").read() for f in flows if f["s2c"]["file"]]
c2s = b"".join(open(os.path.join(out, f["c2s"]["file"]), "rb").read() for f in flows if f["c2s"]["file"])
bad = 0
for f in sorted(os.listdir(srv)):
    want = open(os.path.join(srv, f), "rb").read()
    if open(os.path.join(got, f), "rb").read() != want:
        print("download of %s failed" % f); bad += 1
    if not any(s.endswith(want) and s.find(b"\r\n\r\n") == len(s) - len(want) - 4 for s in s2c):
        print("%s (%d bytes) is not byte-exact in any s2c stream" % (f, len(want))); bad += 1
    if ("GET /%s HTTP/1.1" % f).encode() not in c2s:
        print("the request for %s is not in the c2s streams" % f); bad += 1
gaps = sum(len(f[d]["gaps"]) for f in flows for d in ("c2s", "s2c"))
if gaps:
    print("%d gaps" % gaps); bad += 1
if any(f["end"] != "fin" for f in flows):
    print("ends:", [f["end"] for f in flows]); bad += 1
sys.exit(1 if bad else 0)
EOF
	then ok "$label: $(ls "$srv" | wc -l) downloads byte-exact in the s2c streams, requests in c2s"
	else ko "$label"; fi
	kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; PIDS=()
	ip link show 2>/dev/null | grep -q "$TOPO" && ko "$label: an interface left in the root namespace"
	[ -e "/sys/fs/bpf/weft/$MM" ] && ko "$label: pins left behind"
	topo_down
}

# the default on a veth mirror: the ring path
downloads 1 "mirror, IPv4+IPv6, 1 queue, default path" ring
# AF_XDP, forced, with a socket per queue: the mirror hashes each direction
# on its own, so a connection's packets come on both queues and are merged
downloads 2 "mirror, 2 RX queues, path afxdp, a socket per queue" afxdp path afxdp
# a host's unpaced GSO bursts on a virtual mirror port (segmentation
# offloads on, no shaping), weft with default arguments: native XDP lost
# 2.68 of 32.5 MB there, silently; the ring path must lose nothing
TOPO_UNPACED=1 downloads 2 "unpaced GSO mirror, 2 RX queues, default arguments" ring

# ---- 3: replay equals read ----
replay() {
	topo_up 1 || { ko "replay: topology"; return; }
	ip -n "$C" link set "$MS" mtu 9000; ip -n "$M" link set "$MM" mtu 9000
	local bad=0 n=0
	"$ROOT/build/weft-gen" -o "$WORK/gen.pcap" -t /dev/null --conns 40 --seed 11 \
		--reorder 0.2 --loss 0.05 --dup 0.1 --qinq --ipv6 0.5 --frag 0.2 --midstream 0.2 --rst 0.2 \
		--late 0.2
	# frames of 3 KB on the 9000-byte MTU: the UMEM frames must be the
	# large ones, or AF_XDP drops these
	"$ROOT/build/weft-gen" -o "$WORK/jumbo.pcap" -t /dev/null --conns 6 --seed 12 --mss 3000 \
		--reorder 0.1 --size 20000:60000
	for cap in "$WORK/gen.pcap" "$WORK/jumbo.pcap" "$CORPUS/pcapplusplus/three_http_streams.pcap" \
		   "$CORPUS/tcpflow/test5-lines-randomized.pcap" "$CORPUS/tcpflow/test7-three-flows.pcap" \
		   "$CORPUS/pcapplusplus/examples/http-packets.pcap" \
		   "$CORPUS/pcapplusplus/VlanPackets.pcap" "$CORPUS/pcapplusplus/frag_http_req.pcap"; do
		n=$((n + 1))
		rm -rf "$WORK/rl" "$WORK/rr"
		"$WEFT" read -q -o "$WORK/rr" "$cap"
		# the AF_XDP path too for the generated ones (the jumbo frames
		# need its large UMEM frames)
		local how=""; case $cap in "$WORK"/*) [ $((n % 2)) = 0 ] && how="path afxdp";; esac
		start_weft "$M" "$MM" "$WORK/rl" $how || { bad=$((bad + 1)); continue; }
		ip netns exec "$C" tcpreplay -q -i "$MS" --topspeed "$cap" >/dev/null 2>&1
		sleep 0.5
		stop_weft
		if ! $PY - "$WORK/rr" "$WORK/rl" <<'EOF'
import json, os, sys
a, b = sys.argv[1:3]
def load(d):
    out = {}
    for l in open(os.path.join(d, "flows.jsonl")):
        f = json.loads(l)
        k = (f["src"], f["sport"], f["dst"], f["dport"], tuple(f["vlan"]), f["c2s"]["sha256"])
        out[k] = (f["end"] if f["end"] != "shutdown" else "eof",
                  [(f[s]["file"], f[s]["bytes"], f[s]["gaps"], f[s]["sha256"]) for s in ("c2s", "s2c")])
    return out
fa, fb = load(a), load(b)
if fa != fb:
    print("read: %d connections, live: %d" % (len(fa), len(fb)))
    for k in set(fa) ^ set(fb):
        print(" only in", "read" if k in fa else "live", k[:5])
    for k in set(fa) & set(fb):
        if fa[k] != fb[k]:
            print(" differs", k[:5], fa[k][0], fb[k][0])
    sys.exit(1)
for f in os.listdir(a):
    if f not in ("flows.jsonl", "report.xml") and open(os.path.join(a, f), "rb").read() != open(os.path.join(b, f), "rb").read():
        print("file differs:", f); sys.exit(1)
EOF
		then echo "  replay differs from read: $cap"; bad=$((bad + 1)); fi
	done
	topo_down
	if [ $bad = 0 ]; then ok "replay: $n captures replayed live give what weft read gives"
	else ko "replay: $bad of $n captures differ"; fi
}
replay

# ---- least privilege: -U ----
unprivileged() {
	topo_up 1 || { ko "-U: topology"; return; }
	local srv=$WORK/usrv out=$WORK/uout bad=0
	mkdir -p "$srv"; rm -rf "$out"
	chmod 755 "$WORK"   # the unprivileged worker must reach its output
	head -c 3000000 /dev/urandom >"$srv/u.bin"
	serve_http "$srv" || { ko "-U: no HTTP server"; return; }
	start_weft "$M" "$MM" "$out" -U nobody || { ko "-U: weft did not start"; return; }
	local child
	child=$(pgrep -P "$WEFT_PID" | head -1)
	[ "$(ps -o user= -p "$child" 2>/dev/null | tr -d ' ')" = nobody ] || { echo "  the worker is not nobody"; bad=$((bad + 1)); }
	[ "$(ls /proc/"$child"/fd | wc -l)" -lt 24 ] || { echo "  the worker keeps $(ls /proc/"$child"/fd | wc -l) descriptors"; bad=$((bad + 1)); }
	ip netns exec "$C" curl -s -o /dev/null "http://$SRV4:8080/u.bin"
	sleep 1.2
	# the unprivileged worker still steers its maps (control plane)
	"$WEFT" -j stats dev "$MM" | grep -q '"mode": "tap"' || { echo "  the worker publishes no counters"; bad=$((bad + 1)); }
	stop_weft
	local f
	for f in "$out"/*; do
		[ "$(stat -c %U "$f")" = nobody ] || { echo "  $f is not nobody's"; bad=$((bad + 1)); }
	done
	f=$(ls "$out" | grep "^010.199.000.001.08080" | head -1)
	[ -n "$f" ] && tail -c 3000000 "$out/$f" | cmp -s - "$srv/u.bin" || { echo "  stream not exact"; bad=$((bad + 1)); }
	[ -e "/sys/fs/bpf/weft/$MM" ] && { echo "  pins left"; bad=$((bad + 1)); }
	ip -n "$M" link show "$MM" | grep -q xdp && { echo "  XDP left attached"; bad=$((bad + 1)); }
	case_end $bad "-U" "-U nobody: the worker runs as nobody, its files are nobody's, nothing left behind"
}
unprivileged

# ---- the legacy TC hook (kernels before 6.6 have no tcx links) ----
legacy_tc() {
	topo_up 1 || { ko "legacy tc: topology"; return; }
	local srv=$WORK/lsrv bad=0 u
	mkdir -p "$srv"; chmod 755 "$WORK"
	head -c 3000000 /dev/urandom >"$srv/l.bin"
	serve_http "$srv" || { ko "legacy tc: no HTTP server"; return; }
	for u in "" "-U nobody"; do
		local out=$WORK/lout${u:+-u}; rm -rf "$out"
		start_weft "$M" "$MM" "$out" tc legacy $u || { echo "  tc legacy $u: did not start"; bad=$((bad + 1)); continue; }
		ip netns exec "$M" tc filter show dev "$MM" ingress | grep -q "pref 30703" ||
			{ echo "  tc legacy $u: no cls_bpf filter"; bad=$((bad + 1)); }
		ip netns exec "$C" curl -s -o /dev/null "http://$SRV4:8080/l.bin"
		sleep 0.5
		stop_weft
		local f; f=$(ls "$out" | grep "^010.199.000.001.08080" | head -1)
		[ -n "$f" ] && tail -c 3000000 "$out/$f" | cmp -s - "$srv/l.bin" ||
			{ echo "  tc legacy $u: stream not exact"; bad=$((bad + 1)); }
		[ -n "$(ip netns exec "$M" tc filter show dev "$MM" ingress)" ] &&
			{ echo "  tc legacy $u: a filter left behind"; bad=$((bad + 1)); }
	done
	case_end $bad "legacy tc" "tc legacy (and with -U nobody): the download exact, no filter left behind"
}
legacy_tc

# ---- least privilege: exactly the documented capabilities ----
# (README, weft.8): CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON on the ring
# path; the AF_XDP path adds CAP_NET_RAW and CAP_IPC_LOCK
capabilities() {
	topo_up 1 || { ko "capabilities: topology"; return; }
	local srv=$WORK/csrv out=$WORK/cout bad=0
	mkdir -p "$srv"; rm -rf "$out"
	head -c 2000000 /dev/urandom >"$srv/c.bin"
	serve_http "$srv" || { ko "capabilities: no HTTP server"; return; }
	# every capability in the bounding set but KEEP dropped (root without
	# them is as weak as any user)
	only() { # keep,keep -- command...
		local keep=$1; shift
		local drop
		drop=$(capsh --print | sed -n 's/^Bounding set =//p' | tr ',' '\n' |
			grep -vxF -f <(echo "$keep" | tr ',' '\n') | paste -sd,)
		exec nsenter --net="/run/netns/$M" capsh --drop="$drop" -- -c 'exec "$0" "$@"' "$@"
	}
	: >"$WORK/weft.log" # (the last case's says "attached" too)
	(only cap_bpf,cap_net_admin,cap_perfmon "$WEFT" run dev "$MM" -o "$out" >"$WORK/weft.log" 2>&1) &
	WEFT_PID=$!; PIDS+=("$WEFT_PID")
	for _ in $(seq 150); do grep -q "weft: attached" "$WORK/weft.log" && break; sleep 0.1; done
	grep -q "weft: attached" "$WORK/weft.log" || { echo "  did not start: $(cat "$WORK/weft.log")"; bad=$((bad + 1)); }
	ip netns exec "$C" curl -s -o /dev/null "http://$SRV4:8080/c.bin"
	sleep 0.5
	stop_weft
	local f; f=$(ls "$out" 2>/dev/null | grep "^010.199.000.001.08080" | head -1)
	[ -n "$f" ] && tail -c 2000000 "$out/$f" | cmp -s - "$srv/c.bin" ||
		{ echo "  with CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON: the stream is not exact"; bad=$((bad + 1)); }
	# AF_XDP with its two more
	rm -rf "$out"
	(ulimit -l 8192; only cap_bpf,cap_net_admin,cap_perfmon,cap_net_raw,cap_ipc_lock timeout 8 \
		"$WEFT" run dev "$MM" -o "$out" path afxdp >"$WORK/weft.log" 2>&1)
	grep -q "weft: attached" "$WORK/weft.log" || { echo "  afxdp did not start: $(cat "$WORK/weft.log")"; bad=$((bad + 1)); }
	# one missing: one line that names it, nothing left behind
	local c out1
	for c in cap_bpf cap_net_admin cap_perfmon; do
		out1=$( (only "$(echo cap_bpf,cap_net_admin,cap_perfmon | tr ',' '\n' | grep -vx $c | paste -sd,)" \
			timeout 10 "$WEFT" run dev "$MM" -o "$WORK/c-$c") 2>&1)
		if [ $? = 0 ] || [ "$(echo "$out1" | grep -c .)" != 1 ] ||
		   ! echo "$out1" | grep -qi "missing: $c"; then
			echo "  without $c: $out1"; bad=$((bad + 1))
		fi
	done
	out1=$( (ulimit -l 8192; only cap_bpf,cap_net_admin,cap_perfmon,cap_net_raw timeout 10 "$WEFT" run \
		dev "$MM" -o "$WORK/c-x" path afxdp) 2>&1)
	echo "$out1" | grep -qi "missing: CAP_IPC_LOCK" || { echo "  afxdp without CAP_IPC_LOCK: $out1"; bad=$((bad + 1)); }
	[ -e "/sys/fs/bpf/weft/$MM" ] && { echo "  pins left"; bad=$((bad + 1)); }
	case_end $bad "capabilities" "capabilities: CAP_BPF+CAP_NET_ADMIN+CAP_PERFMON reassemble (AF_XDP: +CAP_NET_RAW+CAP_IPC_LOCK); one missing is one line naming it"
}
capabilities

# ---- bpffs mounted elsewhere: pins go there, no mount, no CAP_SYS_ADMIN ----
bpffs_elsewhere() {
	local ns=${TOPO}f bad=0 dir=$WORK/bpffs
	ip netns add "$ns" || { ko "bpffs elsewhere: namespace"; return; }
	ip -n "$ns" link add "${TOPO}p" type veth peer name "${TOPO}q"
	ip -n "$ns" link set dev "${TOPO}p" up
	mkdir -p "$dir"
	# a private mount namespace: /sys/fs/bpf unmounted, a bpffs at $dir
	unshare -m --propagation private bash -c '
		umount /sys/fs/bpf 2>/dev/null; mount -t bpf bpf "$1" || exit 9
		drop=$(capsh --print | sed -n "s/^Bounding set =//p" | tr , "\n" |
			grep -vxE "cap_bpf|cap_net_admin|cap_perfmon" | paste -sd,)
		nsenter --net=/run/netns/$2 capsh --drop="$drop" -- -c "exec \"\$0\" run dev \"\$1\" -o \"\$2\"" \
			"$4" "$3" "$5/out" >"$5/log" 2>&1 &
		p=$!
		for _ in $(seq 100); do grep -q "weft: attached" "$5/log" && break; sleep 0.1; done
		[ -e "$1/weft/$3/cfg_map" ] || echo "no pins under $1/weft/$3"
		nsenter --net=/run/netns/$2 "$4" prog show | grep -q "^$3 " || echo "prog show does not find it"
		kill -INT $p; wait $p
		[ -e "$1/weft/$3" ] && echo "pins left"
		umount "$1"' _ "$dir" "$ns" "${TOPO}p" "$WEFT" "$WORK" >"$WORK/bpffs.out" 2>&1
	local rc=$?
	if [ $rc != 0 ] || [ -s "$WORK/bpffs.out" ] || ! grep -q "weft: attached" "$WORK/log"; then
		echo "  rc=$rc $(cat "$WORK/bpffs.out") $(cat "$WORK/log" 2>/dev/null | head -2)"; bad=1
	fi
	ip netns del "$ns"
	if [ $bad = 0 ]; then ok "bpffs mounted elsewhere: pins there, found by prog show, no CAP_SYS_ADMIN"
	else ko "bpffs elsewhere"; fi
}
bpffs_elsewhere

# ---- 4: errors ----
errors() {
	topo_up 1 || { ko "errors: topology"; return; }
	local bad=0 out
	expect() { # what words... -- command
		local words=$1; shift
		out=$("$@" 2>&1); local rc=$?
		if [ $rc = 0 ] || [ "$(echo "$out" | grep -c .)" != 1 ] || ! echo "$out" | grep -q "$words"; then
			echo "  expected one error line with '$words', got rc=$rc: $out"; bad=$((bad + 1))
		fi
	}
	local N="nsenter --net=/run/netns/$M"
	expect "not found" $N "$WEFT" run dev nosuch0 -o "$WORK/e1"
	expect "needs CAP_BPF" $N setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$WEFT" run dev "$MM" -o /tmp
	# a second weft on the same interface
	start_weft "$M" "$MM" "$WORK/e2" || bad=$((bad + 1))
	expect "another weft" $N "$WEFT" run dev "$MM" -o "$WORK/e3"
	stop_weft
	# a foreign XDP program already attached
	if ip -n "$M" link set dev "$MM" xdp obj "$ROOT/build/weft.bpf.o" sec xdp 2>/dev/null; then
		expect "another XDP program" timeout 10 $N "$WEFT" run dev "$MM" -o "$WORK/e4" path afxdp
	else
		echo "  could not attach a foreign XDP program to test with"; bad=$((bad + 1))
	fi
	ip -n "$M" link set dev "$MM" xdp off
	# a stop while the programs load (a background job starts with SIGINT
	# ignored): kept, the run ends at once and leaves nothing behind
	nsenter --net="/run/netns/$M" "$WEFT" run dev "$MM" -o "$WORK/e8" >"$WORK/early.log" 2>&1 &
	local ep=$! k
	PIDS+=("$ep")
	sleep 0.3
	kill -INT "$ep"
	for k in $(seq 100); do kill -0 "$ep" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$ep" 2>/dev/null; then
		echo "  a SIGINT while loading was lost: still running 10 s later"; bad=$((bad + 1))
		kill -KILL "$ep"
	fi
	wait "$ep" 2>/dev/null
	[ -e "/sys/fs/bpf/weft/$MM" ] && { echo "  a stop while loading left pins"; bad=$((bad + 1)); }
	rm -rf "/sys/fs/bpf/weft/$MM"
	# pins left by a dead instance
	start_weft "$M" "$MM" "$WORK/e5" || bad=$((bad + 1))
	kill -KILL "$WEFT_PID"; wait "$WEFT_PID" 2>/dev/null
	if ip -n "$M" link show "$MM" | grep -q xdp ||
	   ip netns exec "$M" bpftool net show dev "$MM" 2>/dev/null | grep -q weft; then
		echo "  a killed weft left its program attached"; bad=$((bad + 1))
	fi
	expect "weft that is gone" $N "$WEFT" run dev "$MM" -o "$WORK/e6"
	rm -rf "/sys/fs/bpf/weft/$MM"; rmdir /sys/fs/bpf/weft 2>/dev/null
	# tap mode on the interface with the default route
	ip -n "$C" route add default via "$SRV4"
	expect "default route" nsenter --net="/run/netns/$C" "$WEFT" run dev "$LC" -o "$WORK/e7" mode tap
	# and after all that, nothing attached anywhere in the topology, no pins
	[ -n "$(ls -A /sys/fs/bpf/weft 2>/dev/null)" ] && { echo "  pins left: $(ls /sys/fs/bpf/weft)"; bad=$((bad + 1)); }
	for ns in $S $C $M; do
		if ip -n "$ns" link show | grep -q "xdp"; then echo "  XDP left in $ns"; bad=$((bad + 1)); fi
	done
	topo_down
	if [ $bad = 0 ]; then ok "errors: one line each, nothing left attached"; else ko "errors: $bad"; fi
}
errors

suite_end
