#!/bin/bash
# Live tests of the control plane (weft flow / policy / prog / stats) on a
# running `weft run`, in namespaces made here and removed on every exit:
#   - policy set idle-timeout: an idle connection ends (reason idle) within
#     the new bound, without a restart, and the kernel's sweep removes its
#     flow table entry;
#   - policy set depth 1000: files of 1000 bytes while the kernel's bypass
#     counter rises during the transfer, and the download stays intact;
#   - policy set port N ignore: no files for it, its packets counted in the
#     kernel, none copied;
#   - flow evict ID: that connection ends with reason manual, the rest of
#     its packets are bypassed;
#   - flow list/show, stats, prog show, policy show: JSON that parses, with
#     the kernel's live counters (pure ACKs kept in the kernel);
#   - prog detach dev: the daemon writes everything (reason shutdown),
#     detaches and removes its pins.
# All of it twice: with the kernel's sweepers (BPF map iterators) and with
# the user-space sweep weft falls back to where the kernel refuses them
# (forced with WEFT_SWEEPER=user). A kernel that refuses iterators skips the
# first run with a line that says so.
# Needs root. Prints "control: N passed, N failed, N skipped".
set -u
SELF=$(readlink -f "$0")
cd "$(dirname "$0")/../.."
if [ -z "${WEFT_SWEEPER:-}" ] && [ "$(id -u)" = 0 ]; then
	tp=0; tf=0; ts=0; rc=0
	for sw in kernel user; do
		WEFT_SWEEPER=$sw "$SELF" >"/tmp/weft-ctl-$$.$sw" 2>&1 || rc=1
		sed "s/^\(ok  \|FAIL\|skip\) control:/\1 control ($sw sweeper):/" "/tmp/weft-ctl-$$.$sw" |
			grep -v "^control: [0-9]* passed"
		read -r p f s < <(sed -n 's/^control: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' \
			"/tmp/weft-ctl-$$.$sw")
		tp=$((tp + ${p:-0})); tf=$((tf + ${f:-1})); ts=$((ts + ${s:-0}))
		rm -f "/tmp/weft-ctl-$$.$sw"
	done
	echo "control: $tp passed, $tf failed, $ts skipped"
	[ "$tf" = 0 ] && [ $rc = 0 ]
	exit
fi
SUITE=control CASES=5 WHY="namespaces, XDP and AF_XDP need it"
source tests/live/suite.sh

export TOPO=wc$$
export TOPO_RATE=20mbit # transfers last long enough to watch them
source tests/live/topo.sh
WORK=$(mktemp -d /tmp/weft-ctl.XXXXXX)
topo_trap "$WORK"

start_ctl() { # outdir [args]: weft on the mirror, once it published
	start_weft "$M" "$MM" "$@" && sleep 1.2
}

# every -j output parses (python3 -m json.tool, as the issue asks)
J() { # args...: weft -j args, checked, JSON on stdout
	local out
	out=$("$WEFT" -j "$@")
	echo "$out" | $PY -m json.tool >/dev/null || { echo "  not JSON: weft -j $*: $out" >&2; return 1; }
	echo "$out"
}

jq_py() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

topo_up 1 || { ko "topology"; exit 1; }
SRV=$WORK/srv; mkdir -p "$SRV"
head -c 12000000 /dev/urandom >"$SRV/big.bin"
head -c 3000000 /dev/urandom >"$SRV/mid.bin"
serve_http "$SRV" || { ko "no HTTP server"; exit 1; }
# a second server on another port, for the port filter
(cd "$SRV" && exec ip netns exec "$S" /usr/bin/python3 -m http.server 8081 --bind :: >/dev/null 2>&1) &
PIDS+=($!)

# An idle connection: the server sends a line, then both sit still.
idle_pair() { # port seconds
	ip netns exec "$S" $PY -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('$SRV4', $1)); s.listen(1); c, _ = s.accept(); c.sendall(b'hello\n'); time.sleep($2)" &
	PIDS+=($!)
	sleep 0.3
	ip netns exec "$C" $PY -c "
import socket, time
s = socket.create_connection(('$SRV4', $1)); s.recv(100); time.sleep($2)" &
	PIDS+=($!)
}

# ---- idle timeout set live ----
out=$WORK/o-idle; rm -rf "$out"
if ! start_ctl "$out"; then
	if grep -q "refused BPF program sweep" "$WORK/weft.log"; then
		echo "skip control: the kernel refuses the iterator programs: $(cat "$WORK/weft.log")"
		echo "control: 0 passed, 0 failed, $CASES skipped"
		exit 0
	fi
	ko "weft did not start"; exit 1
fi
grep -q "$WEFT_SWEEPER sweeper\|${WEFT_SWEEPER}-space sweeper" "$WORK/weft.log" ||
	ko "weft does not say it runs the $WEFT_SWEEPER sweeper: $(grep attached "$WORK/weft.log")"
idle_pair 9000 40
sleep 1.5
n_open=$(J stats | jq_py 'd["engine"]["open"]')
t0=$(date +%s.%N)
J policy set idle-timeout 2s >/dev/null
ended=""
for _ in $(seq 100); do
	if grep -q '"dport": 9000' "$out/flows.jsonl" 2>/dev/null; then ended=$(date +%s.%N); break; fi
	sleep 0.1
done
reason=$(grep '"dport": 9000' "$out/flows.jsonl" 2>/dev/null | jq_py 'd["end"]')
pol=$(J policy show | jq_py 'd["idle-timeout-ns"]')
if [ "$n_open" -ge 1 ] && [ -n "$ended" ] && [ "$reason" = idle ] && [ "$pol" = 2000000000 ] &&
   $PY -c "import sys; sys.exit(0 if $ended - $t0 <= 2 + 2.5 else 1)"; then
	ok "policy set idle-timeout 2s: the idle connection ended (idle) $($PY -c "print('%.1f' % ($ended - $t0))") s later, no restart"
else
	ko "idle-timeout: open=$n_open reason=$reason policy=$pol ended=$ended t0=$t0"
fi
# the kernel's own entry for it goes too: the daemon's sweep runs every
# quarter of the shortest timeout (at least every second), and the new
# policy makes one run at once
gone=""
for _ in $(seq 60); do
	if J flow list | $PY -c 'import json,sys; sys.exit(any(9000 in (f["sport"], f["dport"]) for f in json.load(sys.stdin)))'; then
		gone=$(date +%s.%N); break
	fi
	sleep 0.1
done
# the counters reach `weft stats` through the daemon's once-a-second
# publication (the user sweeper's) or at once (the kernel's): wait for them
for _ in $(seq 30); do
	if [ "$WEFT_SWEEPER" = user ]; then
		swept=$(J stats | jq_py 'd["engine"]["user_sweep_removed"] if d["engine"]["sweeper"] == "user" else -1')
	else
		swept=$(J stats | jq_py 'd["xdp"]["kernel_swept"] if d["engine"]["sweeper"] == "kernel" else -1')
	fi
	[ "${swept:-0}" -ge 1 ] && break
	sleep 0.1
done
if [ -n "$gone" ] && [ "${swept:-0}" -ge 1 ]; then
	ok "policy set idle-timeout 2s: the kernel flow table entry swept too ($($PY -c "print('%.1f' % ($gone - $t0))") s after the change)"
else
	ko "kernel sweep: entry still listed (gone=$gone) or swept=$swept; engine: $(J stats | jq_py 'd["engine"]')"
fi

# ---- depth 1000: files of 1000 bytes, bypass counter rising meanwhile ----
J policy set depth 1000 >/dev/null
sleep 1.3 # reread within a second
ip netns exec "$C" curl -s --limit-rate 3M -o "$WORK/big.got" "http://$SRV4:8080/big.bin" &
cpid=$!
sleep 1.5
b1=$(J stats | jq_py 'd["xdp"]["bypassed"]')
sleep 1
b2=$(J stats | jq_py 'd["xdp"]["bypassed"]')
flows_json=$(J flow list)
wait $cpid
sleep 0.5
bad=0
cmp -s "$WORK/big.got" "$SRV/big.bin" || { echo "  the download itself broke"; bad=1; }
[ "$b2" -gt "$b1" ] && [ "$b1" -gt 0 ] || { echo "  bypassed did not rise during the transfer: $b1 -> $b2"; bad=1; }
echo "$flows_json" | $PY -c "
import json, sys
fl = [f for f in json.load(sys.stdin) if f['dport'] == 8080 and f['bypass']]
assert fl and fl[0]['bypass']['reason'] == 'depth' and fl[0]['bypass']['directions'] == ['s2c'], fl
assert fl[0]['s2c']['packets'] > fl[0]['bypass']['packets'] > 0, fl
" || { echo "  flow list does not show the s2c bypass"; bad=1; }
J policy set depth 0 >/dev/null
sleep 1.3

# ---- ignore a port: no files, packets counted in the kernel ----
f0=$(J stats | jq_py 'd["xdp"]["filtered_port"]')
u0=$(J stats | jq_py 'd["xdp"]["to_user"]')
J policy set port 8081 ignore >/dev/null
[ "$(J policy show | jq_py 'd["ignore-ports"]')" = "[8081]" ] || { echo "  policy show lacks the port"; bad=1; }
ip netns exec "$C" curl -s -o "$WORK/mid.got" "http://$SRV4:8081/mid.bin"
cmp -s "$WORK/mid.got" "$SRV/mid.bin" || { echo "  the 8081 download broke"; bad=1; }
sleep 0.3
f1=$(J stats | jq_py 'd["xdp"]["filtered_port"]')
u1=$(J stats | jq_py 'd["xdp"]["to_user"]')
[ $((f1 - f0)) -gt 1000 ] || { echo "  filtered_port rose only $f0 -> $f1"; bad=1; }
[ $((u1 - u0)) -lt 10 ] || { echo "  $((u1 - u0)) packets copied while only port 8081 talked"; bad=1; }
J policy set port 8081 follow >/dev/null

# ---- flow evict ID ----
ip netns exec "$C" curl -s --limit-rate 2M -o "$WORK/big2.got" "http://$SRV4:8080/big.bin" &
cpid=$!
sleep 1.5
id=$(J flow list | jq_py '[f["id"] for f in d if f["followed"] and f["dport"] == 8080][0]')
J flow show "$id" | jq_py 'd["s2c"]["bytes"] > 0' | grep -q True || { echo "  flow show $id"; bad=1; }
ev=$(J flow evict "$id" | jq_py 'd["result"]')
b1=$(J stats | jq_py 'd["xdp"]["bypassed"]')
sleep 1
b2=$(J stats | jq_py 'd["xdp"]["bypassed"]')
wait $cpid
cmp -s "$WORK/big2.got" "$SRV/big.bin" || { echo "  the evicted download broke"; bad=1; }
reason=$($PY -c "
import json
for l in open('$out/flows.jsonl'):
    f = json.loads(l)
    if f['id'] == $id: print(f['end'])")
[ "$ev" = evicted ] && [ "$reason" = manual ] || { echo "  evict: result $ev, end '$reason'"; bad=1; }
[ "$b2" -gt "$b1" ] || { echo "  evicted flow's packets not bypassed: $b1 -> $b2"; bad=1; }
"$WEFT" flow show "$id" >/dev/null 2>&1 || true
one=$("$WEFT" flow evict "$id" 2>&1); rc=$?
[ $rc != 0 ] && echo "$one" | grep -q "follows no connection" || { echo "  evicting it twice: $one"; bad=1; }

# ---- the rest of the JSON, and the pure ACKs kept in the kernel ----
st=$(J stats) && pr=$(J prog show) && ps=$(J policy show) || bad=1
echo "$st" | jq_py 'd["xdp"]["acks_kept"] > 1000 and d["mode"] == "tap" and d["engine"]["connections"] >= 3' |
	grep -q True || { echo "  stats: $st"; bad=1; }
echo "$pr" | jq_py '[i for i in d if i["running"] and i["mode"] == "tap"] != []' | grep -q True ||
	{ echo "  prog show: $pr"; bad=1; }
e=$("$WEFT" -j policy set idle-timeout 0s); [ $? != 0 ] && echo "$e" | $PY -m json.tool >/dev/null || { echo "  bad value: $e"; bad=1; }
e=$("$WEFT" policy set b 1 2>&1); echo "$e" | grep -q ambiguous || { echo "  ambiguous key: $e"; bad=1; }
e=$("$WEFT" policy set port 99999 ignore 2>&1); echo "$e" | grep -q "1 to 65535" || { echo "  bad port: $e"; bad=1; }
e=$("$WEFT" -j flow show 999999); [ $? != 0 ] && echo "$e" | jq_py 'd["error"]' | grep -q "no flow" || { echo "  unknown id: $e"; bad=1; }
e=$(nsenter --net="/run/netns/$M" "$WEFT" run dev "$MM" -o "$WORK/x" 2>&1); echo "$e" | grep -q "another weft" || { echo "  second weft: $e"; bad=1; }
if [ $bad = 0 ]; then
	ok "depth 1000 (s2c bypassed, counter rising mid-transfer), port ignore (no copy), flow evict (manual, then bypassed), JSON of every command parses"
else
	ko "depth / port / evict / JSON"
fi

# ---- files: depth 1000 gave 1000-byte files, port 8081 none ----
$PY - "$out" <<'EOF' && ok "files: the depth-limited download left 1000 bytes, the ignored port nothing" || ko "files after depth / port"
import json, os, sys
out = sys.argv[1]
flows = [json.loads(l) for l in open(os.path.join(out, "flows.jsonl"))]
depth = [f for f in flows if f["end"] == "depth"]
assert depth, [f["end"] for f in flows]
for f in depth:
    assert f["s2c"]["bytes"] == 1000, f
    assert os.path.getsize(os.path.join(out, f["s2c"]["file"])) == 1000, f
assert not [f for f in flows if 8081 in (f["sport"], f["dport"])], "port 8081 was followed"
assert not [n for n in os.listdir(out) if "08081" in n], "files for port 8081"
EOF

# ---- prog detach ----
idle_pair 9001 30
sleep 1
d=$(J prog detach dev "$MM" | jq_py 'd["detached"]')
for _ in $(seq 50); do kill -0 "$WEFT_PID" 2>/dev/null || break; sleep 0.1; done
bad=0
[ "$d" = True ] || { echo "  detach said $d"; bad=1; }
kill -0 "$WEFT_PID" 2>/dev/null && { echo "  the daemon still runs"; bad=1; }
wait "$WEFT_PID" 2>/dev/null
[ -e "/sys/fs/bpf/weft/$MM" ] && { echo "  pins left"; bad=1; }
ip -n "$M" link show "$MM" | grep -q xdp && { echo "  XDP left attached"; bad=1; }
grep '"dport": 9001' "$out/flows.jsonl" | grep -q '"end": "shutdown"' || { echo "  the open connection was not written (shutdown)"; bad=1; }
e=$("$WEFT" prog detach dev "$MM" 2>&1); echo "$e" | grep -q "no weft instance is attached" || { echo "  second detach: $e"; bad=1; }
if [ $bad = 0 ]; then ok "prog detach dev: open connections written (shutdown), program and pins gone"
else ko "prog detach"; fi

suite_end
