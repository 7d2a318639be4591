#!/bin/bash
# make demo: three network namespaces (server, client, and a monitor that
# gets a mirror of their link), weft in tap mode on the mirror, a few HTTP
# downloads, then what weft saw. Everything is removed on exit. Stops at the
# first failure with a line that says what failed, and exits non-zero.
set -u
cd "$(dirname "$0")/.."
die() { echo "Error: demo: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "make demo needs root (network namespaces, BPF)"
[ -x build/weft ] || die "build/weft is missing (make)"
export TOPO=wdemo$$
# the link as a container host has it: segmentation offloads on, unpaced
export TOPO_UNPACED=1
source tests/live/topo.sh
OUT=$PWD/out/demo
SRV=$(mktemp -d /tmp/weft-demo.XXXXXX)
topo_trap "$SRV"

echo "== topology: $S (server $SRV4 / $SRV6) <-> $C (client), mirror -> $M ($MM)"
topo_up 1 || die "cannot make the namespaces and the mirror (ip, tc)"
for mb in 2 5 9; do head -c $((mb * 1048576)) /dev/urandom >"$SRV/file-${mb}MB.bin"; done
serve_http "$SRV" || die "the HTTP server in $S does not answer"
rm -rf "$OUT"
LOG=$SRV/weft.log
nsenter --net="/run/netns/$M" build/weft run dev "$MM" -o "$OUT" 2>"$LOG" &
WP=$!
PIDS+=($WP)
for _ in $(seq 100); do
	grep -q "weft: attached" "$LOG" && break
	kill -0 $WP 2>/dev/null || break
	sleep 0.1
done
grep -q "weft: attached" "$LOG" || die "weft run did not start: $(cat "$LOG")"
grep attached "$LOG"
echo
echo "== downloads (client namespace)"
for u in "$SRV4:8080/file-2MB.bin" "$SRV4:8080/file-5MB.bin" "[$SRV6]:8080/file-9MB.bin"; do
	ip netns exec "$C" curl -sf -o /dev/null -w "GET http://$u  %{size_download} bytes\n" \
		"http://$u" || die "the download of http://$u failed"
done
sleep 0.5
echo
echo "== the pinned maps of the running weft"
ls "/sys/fs/bpf/weft/$MM" || die "weft pinned no maps"
echo
kill -INT $WP
wait $WP || die "weft run exited with status $?: $(tail -3 "$LOG")"
cat "$LOG"
echo
echo "== $OUT/flows.jsonl"
[ -s "$OUT/flows.jsonl" ] || die "no flows.jsonl"
cut -c1-300 "$OUT/flows.jsonl"
echo
echo "== recovered files: each download byte for byte?"
missing=0
for f in "$SRV"/*.bin; do
	name=$(basename "$f")
	hit=$(for s in "$OUT"/*; do
		case "$s" in *flows.jsonl|*report.xml) continue;; esac
		tail -c "$(stat -c %s "$f")" "$s" | cmp -s - "$f" && echo "$(basename "$s")"
	done)
	echo "$name -> ${hit:-NOT FOUND}"
	[ -n "$hit" ] || missing=$((missing + 1))
done
[ $missing = 0 ] || die "$missing of the downloads are not in weft's streams"
echo
echo "demo: every download recovered byte for byte"
