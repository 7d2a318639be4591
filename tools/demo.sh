#!/bin/bash
# make demo: three network namespaces (server, client, and a monitor that
# gets a mirror of their link), weft in tap mode on the mirror, a few HTTP
# downloads, then what weft saw. Everything is removed on exit.
set -u
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
	echo "Error: make demo needs root (network namespaces, XDP, AF_XDP)" >&2
	exit 1
fi
export TOPO=wdemo$$
source tests/live/topo.sh
OUT=$PWD/out/demo
SRV=$(mktemp -d /tmp/weft-demo.XXXXXX)
topo_trap "$SRV"

echo "== topology: $S (server $SRV4 / $SRV6) <-> $C (client), mirror -> $M ($MM)"
topo_up 1
for mb in 2 5 9; do head -c $((mb * 1048576)) /dev/urandom >"$SRV/file-${mb}MB.bin"; done
serve_http "$SRV"
rm -rf "$OUT"
nsenter --net="/run/netns/$M" build/weft run dev "$MM" -o "$OUT" &
WP=$!
PIDS+=($WP)
sleep 1.5
echo
echo "== downloads (client namespace)"
for f in file-2MB.bin file-5MB.bin; do
	ip netns exec "$C" curl -s -o /dev/null -w "GET http://$SRV4:8080/$f  %{size_download} bytes\n" "http://$SRV4:8080/$f"
done
ip netns exec "$C" curl -s -o /dev/null -w "GET http://[$SRV6]:8080/file-9MB.bin  %{size_download} bytes\n" "http://[$SRV6]:8080/file-9MB.bin"
sleep 0.5
echo
echo "== the pinned maps of the running weft"
ls "/sys/fs/bpf/weft/$MM"
echo
kill -INT $WP; wait $WP
echo
echo "== $OUT/flows.jsonl"
cut -c1-300 "$OUT/flows.jsonl"
echo
echo "== recovered files: each download byte for byte?"
for f in "$SRV"/*.bin; do
	name=$(basename "$f")
	hit=$(for s in "$OUT"/*; do
		case "$s" in *flows.jsonl|*report.xml) continue;; esac
		tail -c "$(stat -c %s "$f")" "$s" | cmp -s - "$f" && echo "$(basename "$s")"
	done)
	echo "$name -> ${hit:-NOT FOUND}"
done
