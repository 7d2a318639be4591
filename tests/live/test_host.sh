#!/bin/bash
# Host mode: weft on the server namespace's own interface while it serves
# downloads to a client namespace. The host's traffic must flow untouched
# (every download completes with the right sha256) while weft reassembles
# it. Namespaces made here, removed on every exit, traffic only between them.
#   1. the default mode on an interface with addresses is host; parallel
#      downloads (IPv4 and IPv6, 1-50 MB) byte-exact in the s2c streams;
#   2. a ring buffer too small for the GSO packets: downloads still intact,
#      the lost payload reported as gaps, every other byte right (a burst
#      can also lose whole records, counted as lost: the stream shows a gap
#      where one was, and a flow whose request was lost is found by its
#      response);
#   3. bypassed flows (depth) still pass in the kernel;
#   4. a killed weft leaves no program attached;
#   5. -c: the streams printed on stdout (as tcpflow -c), no file written;
#   6. 1 again with XDP (native) on ingress instead of TC.
# Needs root. Prints "host: N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
SUITE=host CASES=6 WHY="namespaces and TC programs need it"
source tests/live/suite.sh

export TOPO=wh$$
source tests/live/topo.sh
WORK=$(mktemp -d /tmp/weft-host.XXXXXX)
topo_trap "$WORK"

# Download every file of $srv in parallel (even ones over IPv6) into $got,
# saving each response's header as $got/NAME.hdr. Returns the failures.
download_all() { # srv got
	local srv=$1 got=$2 i=0 pids=() f host
	for f in "$srv"/*; do
		f=$(basename "$f"); host=$SRV4
		[ $((i % 2)) = 1 ] && host="[$SRV6]"
		timeout 120 ip netns exec "$C" curl -s -D "$got/$f.hdr" -o "$got/$f" \
			"http://$host:8080/$f" &
		pids+=($!); i=$((i + 1))
	done
	local bad=0
	for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
	for f in "$srv"/*; do
		f=$(basename "$f")
		if [ "$(sha256sum <"$srv/$f")" != "$(sha256sum <"$got/$f" 2>/dev/null)" ]; then
			echo "  download of $f: wrong sha256"; bad=$((bad + 1))
		fi
	done
	return $bad
}

# Each s2c stream against what the client got (header + body): byte-exact
# outside the reported gaps, gaps where bytes are missing, and the gap
# total as told. check_streams OUT GOT MODE: MODE exact (no gap allowed),
# gaps (some gap required) or depth:N (stream cut at N bytes).
check_streams() {
	$PY - "$@" <<'EOF'
import json, os, sys
out, got, mode = sys.argv[1:4]
flows = [json.loads(l) for l in open(os.path.join(out, "flows.jsonl"))]
want = {}
for f in os.listdir(got):
    if not f.endswith(".hdr"):
        want[f] = open(os.path.join(got, f + ".hdr"), "rb").read() + open(os.path.join(got, f), "rb").read()
def read(f, d):
    return open(os.path.join(out, f[d]["file"]), "rb").read() if f[d]["file"] else b""
def same_outside_gaps(data, w, gaps):
    pos = 0
    for off, ln in sorted(gaps):
        if data[pos:off] != w[pos:off]:
            return False
        pos = off + ln
    return data[pos:] == w[pos:]
bad = total_gap = 0
for name, w in sorted(want.items()):
    req = ("GET /%s HTTP/1.1" % name).encode()
    # the flow by its request; else (a full ring can lose a whole record:
    # counted, and the stream shows a gap there) by its response's bytes
    match = [f for f in flows if req in read(f, "c2s")]
    if not match and mode == "gaps":
        match = [f for f in flows if f["c2s"]["gaps"] and len(read(f, "s2c")) == len(w)
                 and same_outside_gaps(read(f, "s2c"), w, f["s2c"]["gaps"])]
    if not match:
        print("  the request for %s is not in the c2s streams" % name); bad += 1
        continue
    f = match[-1]
    data = read(f, "s2c")
    gaps = f["s2c"]["gaps"]
    if mode.startswith("depth:"):
        n = int(mode[6:])
        if data != w[:len(data)] or len(data) < n or len(data) >= len(w):
            print("  %s: %d bytes kept of %d, depth %d" % (name, len(data), len(w), n)); bad += 1
        continue
    if len(data) != len(w):
        print("  %s: stream %d bytes, sent %d" % (name, len(data), len(w))); bad += 1; continue
    pos = 0
    for off, ln in sorted(gaps):
        if data[pos:off] != w[pos:off]:
            print("  %s: bytes differ outside the gaps" % name); bad += 1
        pos = off + ln; total_gap += ln
    if data[pos:] != w[pos:]:
        print("  %s: bytes differ after the last gap" % name); bad += 1
    if f["s2c"]["bytes"] != len(w) or any(data[o:o + l].strip(b"\0") for o, l in gaps):
        print("  %s: stream of %d bytes, %d sent, or data in a gap" % (name, f["s2c"]["bytes"], len(w))); bad += 1
    if f["end"] != "fin" and (mode == "exact" or f["end"] != "shutdown"):
        print("  %s: ended %s" % (name, f["end"])); bad += 1
    if mode == "exact" and gaps:
        print("  %s: %d gaps" % (name, len(gaps))); bad += 1
if mode == "gaps" and not total_gap:
    print("  no gap reported"); bad += 1
print("  %d streams, %d gap bytes" % (len(want), total_gap))
sys.exit(1 if bad else 0)
EOF
}

N() { nsenter --net="/run/netns/$S" "$@"; }
tc_progs() { bpftool prog show 2>/dev/null | grep -c "name weft_tc_"; }

# ---- 1: default mode host, parallel downloads byte-exact; 6: the same
# with XDP on ingress (native on a veth) ----
downloads() { # attach-name-expected label [weft args]
	local attach=$1 label=$2; shift 2
	topo_up_pair || { ko "$label: topology"; return; }
	local srv=$WORK/srv got=$WORK/got out=$WORK/out bad=0 mb i=0
	rm -rf "$srv" "$got" "$out"; mkdir -p "$srv" "$got"
	for mb in 1 7 23 50; do
		head -c $((mb * 1048576 + RANDOM)) /dev/urandom >"$srv/f$i.bin"; i=$((i + 1))
	done
	serve_http "$srv" || { ko "$label: no HTTP server"; return; }
	start_weft "$S" "$LS" "$out" "$@" || { ko "$label: weft did not start"; return; }
	download_all "$srv" "$got" || bad=$((bad + 1))
	sleep 1.2 # a second: the daemon has published
	N "$WEFT" -j prog show >"$WORK/prog.json"
	N "$WEFT" -j stats dev "$LS" >"$WORK/stats.json"
	stop_weft
	grep -E "^weft: ring" "$WORK/weft.log"
	$PY - "$WORK/prog.json" "$WORK/stats.json" "$LS" "$attach" <<'EOF' || bad=$((bad + 1))
import json, sys
p, s, dev = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
assert [i for i in p if i["dev"] == dev and i["mode"] == "host" and i["attach"] == sys.argv[4]], p
c = s["xdp"]
assert s["mode"] == "host" and c["to_user"] > 100 and c["ring_full_lost"] == 0, s
EOF
	check_streams "$out" "$got" exact || bad=$((bad + 1))
	[ "$(tc_progs)" = 0 ] || { echo "  TC programs left attached"; bad=$((bad + 1)); }
	N ip link show "$LS" | grep -q ' xdp' && { echo "  XDP left attached"; bad=$((bad + 1)); }
	[ -e "/sys/fs/bpf/weft/$LS" ] && { echo "  pins left"; bad=$((bad + 1)); }
	case_end $bad "$label" "$label: 4 downloads (IPv4+IPv6) intact, byte-exact in the s2c streams"
}
downloads tc "default mode host"

# ---- 2: the ring overflows: gaps, never silent loss ----
overflow() {
	# paced: weft keeps up with the records that fit, so what the ring
	# cannot take is the large ones, cut to their headers
	TOPO_RATE=200mbit topo_up_pair || { ko "overflow: topology"; return; }
	local srv=$WORK/osrv got=$WORK/ogot out=$WORK/oout bad=0
	rm -rf "$srv" "$got" "$out"; mkdir -p "$srv" "$got"
	head -c 9000000 /dev/urandom >"$srv/a.bin"
	head -c 5000000 /dev/urandom >"$srv/b.bin"
	serve_http "$srv" || { ko "overflow: no HTTP server"; return; }
	# 16 KB: a GSO packet of more than 16 KB never fits, its headers do
	start_weft "$S" "$LS" "$out" mode host ring 16K || { ko "overflow: weft did not start"; return; }
	download_all "$srv" "$got" || bad=$((bad + 1))
	sleep 0.5
	N "$WEFT" -j stats dev "$LS" >"$WORK/ostats.json"
	stop_weft
	grep -E "^weft: ring" "$WORK/weft.log"
	$PY -c 'import json,sys; c=json.load(open(sys.argv[1]))["xdp"]; sys.exit(0 if c["ring_full_headers_only"] > 0 else 1)' \
		"$WORK/ostats.json" || { echo "  no record was cut to its headers"; bad=$((bad + 1)); }
	check_streams "$out" "$got" gaps || bad=$((bad + 1))
	case_end $bad "overflow" "ring full: downloads intact, lost payload reported as exact gaps, every other byte right"
}
overflow

# ---- 3: bypass passes ----
bypass() {
	# paced, so the engine reaches the depth while the packets still come
	TOPO_RATE=200mbit topo_up_pair || { ko "bypass: topology"; return; }
	local srv=$WORK/bsrv got=$WORK/bgot out=$WORK/bout bad=0
	rm -rf "$srv" "$got" "$out"; mkdir -p "$srv" "$got"
	head -c 12000000 /dev/urandom >"$srv/c.bin"
	head -c 8000000 /dev/urandom >"$srv/d.bin"
	serve_http "$srv" || { ko "bypass: no HTTP server"; return; }
	start_weft "$S" "$LS" "$out" --depth 1M || { ko "bypass: weft did not start"; return; }
	download_all "$srv" "$got" || bad=$((bad + 1))
	sleep 1.2
	N "$WEFT" -j stats dev "$LS" >"$WORK/bstats.json"
	stop_weft
	$PY -c 'import json,sys; c=json.load(open(sys.argv[1]))["xdp"]; sys.exit(0 if c["bypassed"] > 20 else 1)' \
		"$WORK/bstats.json" || { echo "  nothing bypassed"; bad=$((bad + 1)); }
	check_streams "$out" "$got" depth:1048576 || bad=$((bad + 1))
	case_end $bad "bypass" "depth 1M: bypassed in the kernel yet passed: downloads intact, streams cut at the depth"
}
bypass

# ---- 4: killed ----
killed() {
	topo_up_pair || { ko "killed: topology"; return; }
	local bad=0
	start_weft "$S" "$LS" "$WORK/kout" || { ko "killed: weft did not start"; return; }
	[ "$(tc_progs)" = 2 ] || { echo "  expected 2 TC programs, $(tc_progs)"; bad=$((bad + 1)); }
	kill -KILL "$WEFT_PID"; wait "$WEFT_PID" 2>/dev/null
	sleep 0.5
	[ "$(tc_progs)" = 0 ] || { echo "  a killed weft left its TC programs"; bad=$((bad + 1)); }
	serve_http "$WORK" || { echo "  the host no longer serves"; bad=$((bad + 1)); }
	rm -rf "/sys/fs/bpf/weft/$LS"; rmdir /sys/fs/bpf/weft 2>/dev/null
	kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; PIDS=() # (the server)
	topo_down
	if [ $bad = 0 ]; then ok "a killed weft leaves no TC program attached"; else ko "killed: $bad"; fi
}
killed

# ---- 5: -c, the streams on stdout ----
chunks() {
	topo_up_pair || { ko "chunks: topology"; return; }
	local srv=$WORK/csrv got=$WORK/cgot cwd=$WORK/ccwd bad=0
	rm -rf "$srv" "$got" "$cwd"; mkdir -p "$srv" "$got" "$cwd"
	head -c 3000000 /dev/urandom >"$srv/e.bin"
	serve_http "$srv" || { ko "chunks: no HTTP server"; return; }
	cd "$cwd" || return
	start_weft "$S" "$LS" - -c mode host || { cd "$ROOT"; ko "chunks: weft did not start"; return; }
	cd "$ROOT"
	download_all "$srv" "$got" || bad=$((bad + 1))
	stop_weft
	[ -z "$(ls -A "$cwd")" ] || { echo "  -c alone wrote files: $(ls "$cwd")"; bad=$((bad + 1)); }
	$PY - "$WORK/weft.out" "$got/e.bin.hdr" "$got/e.bin" <<'EOF' || bad=$((bad + 1))
import re, sys
out = open(sys.argv[1], "rb").read()
want = open(sys.argv[2], "rb").read() + open(sys.argv[3], "rb").read()
streams, pos = {}, 0
head = re.compile(rb"-- (?:\S+ )?conn (\d+) (c2s|s2c) (?:offset (\d+), (\d+) bytes|gap at offset (\d+), (\d+) bytes) --\n")
while pos < len(out):
    m = head.match(out, pos)
    assert m, "not a chunk header at %d: %r" % (pos, out[pos:pos + 60])
    pos = m.end()
    assert not m[5], "a gap: %r" % m[0]
    s = streams.setdefault((m[1], m[2]), bytearray())
    off, n = int(m[3]), int(m[4])
    assert off == len(s), "chunk at %d, stream at %d" % (off, len(s))
    s += out[pos:pos + n]
    assert out[pos + n:pos + n + 1] == b"\n", "no newline after a chunk"
    pos += n + 1
s2c = [bytes(v) for (c, d), v in streams.items() if d == b"s2c"]
c2s = [bytes(v) for (c, d), v in streams.items() if d == b"c2s"]
assert want in s2c, "the download is not one of the %d s2c streams" % len(s2c)
assert any(b"GET /e.bin HTTP/1.1" in v for v in c2s), "no request in c2s"
EOF
	case_end $bad "chunks" "-c: the download byte-exact in the chunks on stdout, no file written"
}
chunks

# ---- 6: XDP on ingress ----
downloads native+tc "host mode, XDP on ingress" mode host ingress xdp

suite_end
