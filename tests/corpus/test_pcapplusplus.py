#!/usr/bin/python3
"""weft against PcapPlusPlus' expected reassembly outputs.

PcapPlusPlus writes each connection's bytes in delivery order, both sides
interleaved, with a lost stretch as "[N bytes missing]". `weft read -c`
prints the chunks in delivery order, so the same text can be rebuilt from it
and must match byte for byte. Per-direction expectations (the "sides"
example) are compared with weft's per-direction files.
usage: test_pcapplusplus.py WEFT CORPUS
"""
import os, subprocess, sys, tempfile
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import chunks, harness

WEFT, CORPUS = sys.argv[1], sys.argv[2]
P = os.path.join(CORPUS, "pcapplusplus")

def conversations(pcap):
    """conn id -> PcapPlusPlus-style text of that connection."""
    out = subprocess.run([WEFT, "read", "-q", "-c", pcap], check=True,
                         stdout=subprocess.PIPE).stdout
    conv = {}
    for cid, _d, _off, data, n in chunks.parse(out):
        piece = data if data is not None else b"[%d bytes missing]" % n
        conv[cid] = conv.get(cid, b"") + piece
    return conv

# expected file -> the captures one of whose connections it describes
CASES = {
    "expected/one_tcp_stream_output.txt": ["one_tcp_stream.pcap"],
    "expected/one_http_stream_fin_output.txt": ["one_http_stream_fin.pcap"],
    "expected/one_http_stream_fin2_output.txt": ["one_http_stream_fin2.pcap"],
    "expected/one_http_stream_rst_output.txt": ["one_http_stream_rst.pcap"],
    "expected/one_ipv6_http_stream.txt": ["one_ipv6_http_stream.pcap"],
    "expected/one_ipv6_http_stream2.txt": ["four_ipv6_http_streams.pcap"],
    "expected/one_ipv6_http_stream3.txt": ["four_ipv6_http_streams.pcap"],
    "expected/one_ipv6_http_stream4.txt": ["four_ipv6_http_streams.pcap"],
    "expected/three_http_streams_conn_1_output.txt": ["three_http_streams.pcap"],
    "expected/three_http_streams_conn_2_output.txt": ["three_http_streams.pcap"],
    "expected/three_http_streams_conn_3_output.txt": ["three_http_streams.pcap"],
    "examples/expected/tcpreassembly_sanity/172.16.133.54.64370-23.21.118.18.80.txt":
        ["examples/tcp-reassembly.pcap"],
}
for f in sorted(os.listdir(os.path.join(P, "examples/expected/tcpreassembly_multiple_streams"))):
    CASES["examples/expected/tcpreassembly_multiple_streams/" + f] = ["examples/http-packets.pcap"]

cache = {}
def check_conversation(exp_rel, pcaps):
    want = open(os.path.join(P, exp_rel), "rb").read()
    for pc in pcaps:
        if pc not in cache:
            cache[pc] = conversations(os.path.join(P, pc))
        for text in cache[pc].values():
            if text == want:
                return
    best = max((t for pc in pcaps for t in cache[pc].values()),
               key=lambda t: len(os.path.commonprefix([t, want])), default=b"")
    i = len(os.path.commonprefix([best, want]))
    raise AssertionError("no connection matches (closest differs at byte %d of %d: "
                         "got %r, want %r)" % (i, len(want), best[i:i + 30], want[i:i + 30]))

def check_sides():
    exp = os.path.join(P, "examples/expected/tcpreassembly_sides")
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([WEFT, "read", "-q", "-o", d, os.path.join(P, "examples/tcp-reassembly.pcap")],
                       check=True)
        for f in os.listdir(exp):
            # PcapPlusPlus: 172.16.133.54.64370-23.21.118.18.80.txt; weft: tcpflow's zero padding
            a, b = f[:-4].split("-")
            def pad(ep):
                parts = ep.split(".")
                return ".".join("%03d" % int(x) for x in parts[:4]) + ".%05d" % int(parts[4])
            mine = os.path.join(d, pad(a) + "-" + pad(b))
            assert os.path.exists(mine), "no file " + mine
            assert open(mine, "rb").read() == open(os.path.join(exp, f), "rb").read(), f

def check_frag():
    """frag_http_req_reassembled.txt is the hex of the defragmented frame
    (Ethernet, IPv4, TCP, payload): its TCP payload must be weft's request."""
    raw = bytes.fromhex(open(os.path.join(P, "expected/frag_http_req_reassembled.txt")).read().strip())
    ip = raw[14:]
    ihl = (ip[0] & 15) * 4
    tot = int.from_bytes(ip[2:4], "big")
    tcp = ip[ihl:tot]
    payload = tcp[(tcp[12] >> 4) * 4:]
    assert payload, "no payload in the expected frame"
    conv = conversations(os.path.join(P, "frag_http_req.pcap"))
    assert payload in conv.values(), "weft's stream is not the defragmented payload (%d bytes)" % len(payload)

t = harness.Tests("pcapplusplus")
t.run("frag_http_req: IPv4 fragments reassembled", check_frag)
for exp_rel, pcaps in sorted(CASES.items()):
    t.run(exp_rel, check_conversation, exp_rel, pcaps)
t.run("tcpreassembly_sides per-direction files", check_sides)
sys.exit(t.done())
