#!/usr/bin/python3
"""weft against captures of known truth from weft-gen.

Each scenario writes a capture with one impairment (or all of them), runs
`weft read`, and checks every connection byte for byte and gap for gap
(tests/lib/check_truth.py). Then: the memory cap on a capture built to hurt,
several files continuing each other, and the same under a filter.
usage: test_gen.py WEFT WEFT_GEN [quick] [sanitized]
"""
import json, os, resource, struct, subprocess, sys, tempfile
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness

WEFT, GEN = sys.argv[1], sys.argv[2]
QUICK = "quick" in sys.argv[3:]
# under ASan the shadow memory and quarantine make RSS meaningless
SANITIZED = "sanitized" in sys.argv[3:]
CHECK = os.path.join(os.path.dirname(__file__), "..", "lib", "check_truth.py")

SCENARIOS = [
    ("clean", []),
    ("reorder", ["--reorder", "0.3"]),
    ("duplicates", ["--dup", "0.3"]),
    ("overlapping retransmissions", ["--overlap", "0.4"]),
    ("capture loss, exact gaps", ["--loss", "0.15"]),
    ("sequence wraparound", ["--wrap"]),
    ("midstream pickup", ["--midstream", "0.6"]),
    ("RST endings", ["--rst", "0.5"]),
    ("VLAN", ["--vlan"]),
    ("QinQ", ["--qinq"]),
    ("IPv6", ["--ipv6", "1"]),
    ("IP fragments (v4 and v6)", ["--frag", "0.4", "--ipv6", "0.5"]),
    ("4-tuple reuse", ["--reuse", "0.5"]),
    ("keep-alives", ["--keepalive", "0.3"]),
    ("FIN with data", ["--fin-data", "0.7"]),
    ("snaplen cut payloads", ["--snaplen", "300"]),
    ("small MSS, many rounds", ["--mss", "100", "--rounds", "6"]),
    ("everything at once", ["--reorder", "0.3", "--loss", "0.1", "--dup", "0.1", "--overlap", "0.2",
                            "--wrap", "--ipv6", "0.5", "--frag", "0.2", "--qinq", "--midstream", "0.3",
                            "--rst", "0.3", "--reuse", "0.3", "--keepalive", "0.1", "--fin-data", "0.3"]),
    # Encapsulations, and lengths that disagree: the bytes past a PPPoE or
    # 802.3 length are padding (or held back: a gap), never data; a record
    # length of 0xfffffff0 with IP length 0 gives what is present, no 4 GiB
    # gap. The truth counts the lying packets; the summary must too.
    ("PPPoE with Ethernet padding", ["--pppoe", "--pad", "--ipv6", "0.5"]),
    ("PPPoE length shorter than IP's", ["--pppoe", "--pad", "--vlan", "--lie", "0.3", "--ipv6", "0.5"]),
    ("MPLS, 1-3 labels, pseudowires", ["--mpls", "3", "--ipv6", "0.5"]),
    ("MPLS under VLAN", ["--mpls", "3", "--vlan"]),
    ("MPLS under QinQ", ["--mpls", "2", "--qinq", "--ipv6", "0.5"]),
    ("PPP link type", ["--ppp", "--ipv6", "0.5"]),
    ("MPLS over PPP", ["--ppp", "--mpls", "2", "--ipv6", "0.5"]),
    ("802.3 LLC/SNAP with padding", ["--llc", "--pad", "--mss", "1400", "--ipv6", "0.5"]),
    ("802.3 length shorter than IP's", ["--llc", "--pad", "--mss", "1400", "--lie", "0.3", "--vlan",
                                        "--ipv6", "0.5"]),
    ("record length 0xfffffff0, IP length 0", ["--wire-lie", "0.2", "--ipv6", "0.5"]),
    ("IPv6 fragments with destination options", ["--ipv6", "1", "--dstopts", "--frag", "0.5"]),
    ("fragmented IPv4 tunnels (4in4, 6in4)", ["--tunnel", "0.7", "--frag", "0.5", "--ipv6", "0.5",
                                               "--dstopts"]),
    # Reordered after the tap (two RX queues, two taps merged): a data
    # segment captured after the ACKs that cover it. Its hole was declared a
    # gap when the ACK came; its bytes fill it late, in place, and the final
    # gap list is exact.
    ("late bytes: segments captured after their ACKs", ["--late", "0.2"]),
    ("late bytes with loss and reordering", ["--late", "0.2", "--loss", "0.1", "--reorder", "0.2",
                                             "--dup", "0.1", "--ipv6", "0.5"]),
    # Spoofed RST|ACKs no receiver would take (outside its window, or
    # before the SYN-ACK acknowledging nothing): the connection goes on,
    # every byte is there, and the real ends (FIN or RST) still count.
    ("evasive RSTs outside the window", ["--evasive-rst", "0.6", "--rst", "0.3"]),
    ("evasive RSTs with loss, reordering, midstream", ["--evasive-rst", "0.6", "--rst", "0.3", "--loss", "0.1",
                                                       "--reorder", "0.2", "--midstream", "0.3", "--wrap"]),
    ("encapsulations at once", ["--pppoe", "--pad", "--lie", "0.2", "--wire-lie", "0.1", "--mpls", "2",
                                "--qinq", "--ipv6", "0.5", "--dstopts", "--frag", "0.3", "--reorder", "0.3",
                                "--loss", "0.1", "--dup", "0.1", "--overlap", "0.2", "--midstream", "0.3",
                                "--tunnel", "0.3"]),
]

def run_scenario(args, seed, extra_weft=()):
    with tempfile.TemporaryDirectory() as d:
        pcap, truth, out = os.path.join(d, "c.pcap"), os.path.join(d, "t.jsonl"), os.path.join(d, "o")
        subprocess.run([GEN, "-o", pcap, "-t", truth, "--conns", "60", "--concurrent", "8",
                        "--seed", str(seed)] + args, check=True)
        # (a timeout: a length believed wrongly can make a weft write
        # sparse files of many GiB for hours)
        r = subprocess.run([WEFT, "-j", "read", "-q", "-o", out, pcap] + list(extra_weft),
                           stdout=subprocess.PIPE, check=True, timeout=600)
        summary = json.loads(r.stdout.strip().splitlines()[-1])
        r = subprocess.run(["/usr/bin/python3", CHECK, truth, out], stdout=subprocess.PIPE, text=True)
        assert r.returncode == 0, r.stdout.strip().splitlines()[0]
        # every packet whose layers disagree on its length is counted, once;
        # padding is not a disagreement
        lies = sum(json.loads(l).get("lies", 0) for l in open(truth))
        assert summary["length_mismatch"] == lies, (summary["length_mismatch"], lies)

def late_counted():
    """The late bytes of a capture reordered after the tap are counted per
    direction in flows.jsonl, and what they filled is no gap."""
    with tempfile.TemporaryDirectory() as d:
        pcap, truth, out = os.path.join(d, "c.pcap"), os.path.join(d, "t.jsonl"), os.path.join(d, "o")
        subprocess.run([GEN, "-o", pcap, "-t", truth, "--conns", "30", "--seed", "9", "--late", "0.3"],
                       check=True)
        subprocess.run([WEFT, "read", "-q", "-o", out, pcap], check=True, timeout=600)
        flows = [json.loads(l) for l in open(os.path.join(out, "flows.jsonl"))]
        late = sum(f[d]["late"] for f in flows for d in ("c2s", "s2c"))
        gaps = sum(len(f[d]["gaps"]) for f in flows for d in ("c2s", "s2c"))
        assert late > 0 and gaps == 0, (late, gaps)

def memcap():
    """Hundreds of thousands of connections, each holding data behind a hole
    that never fills: peak RSS stays under the cap plus a fixed overhead and
    the evictions say memcap."""
    n = 60000 if QUICK else 200000
    with tempfile.TemporaryDirectory() as d:
        pcap, truth, out = os.path.join(d, "h.pcap"), os.path.join(d, "t.jsonl"), os.path.join(d, "o")
        subprocess.run([GEN, "-o", pcap, "-t", truth, "--hurt", str(n), "--mss", "1000"], check=True)
        cap = 16 if QUICK else 64
        r = subprocess.run([WEFT, "-j", "read", "-q", "-c", "--memcap", "%dM" % cap, pcap],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
        # -c prints chunks on stdout, the JSON summary goes to stderr
        summary = json.loads(r.stderr.strip().splitlines()[-1])
        limit = (cap + 24) << 20
        assert summary["engine_mem_peak"] <= (cap << 20) + 4096, summary["engine_mem_peak"]
        if not SANITIZED:
            assert summary["peak_rss"] <= limit, "peak RSS %d MiB over %d MiB" % (
                summary["peak_rss"] >> 20, limit >> 20)
        assert summary["ends"]["memcap"] >= n // 2, summary["ends"]
        # without the cap the same capture needs far more: the cap did the work
        r = subprocess.run([WEFT, "-j", "read", "-q", "-c", pcap], stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, check=True)
        uncapped = json.loads(r.stderr.strip().splitlines()[-1])
        assert uncapped["engine_mem_peak"] > 3 * (cap << 20), uncapped["engine_mem_peak"]
        # and with files: every eviction is in flows.jsonl with its reason
        # (files evict more than -c: the cap counts the sink's state too)
        r = subprocess.run([WEFT, "-j", "read", "-q", "-o", out, "--memcap", "%dM" % cap, pcap],
                           stdout=subprocess.PIPE, check=True)
        with_files = json.loads(r.stdout.strip().splitlines()[-1])
        ends = [json.loads(l)["end"] for l in open(os.path.join(out, "flows.jsonl"))]
        assert ends.count("memcap") == with_files["ends"]["memcap"], (
            ends.count("memcap"), with_files["ends"]["memcap"])
        assert with_files["engine_mem_peak"] <= (cap << 20) + 4096, with_files["engine_mem_peak"]

def split_files():
    """Several files in one run continue each other's connections."""
    with tempfile.TemporaryDirectory() as d:
        pcap, truth = os.path.join(d, "c.pcap"), os.path.join(d, "t.jsonl")
        subprocess.run([GEN, "-o", pcap, "-t", truth, "--conns", "30", "--seed", "5",
                        "--reorder", "0.2", "--loss", "0.05"], check=True)
        subprocess.run(["editcap", "-c", "700", pcap, os.path.join(d, "part.pcap")], check=True,
                       stdout=subprocess.DEVNULL)
        parts = sorted(os.path.join(d, f) for f in os.listdir(d) if f.startswith("part"))
        assert len(parts) >= 3, parts
        out = os.path.join(d, "o")
        subprocess.run([WEFT, "read", "-q", "-o", out] + parts, check=True)
        r = subprocess.run(["/usr/bin/python3", CHECK, truth, out], stdout=subprocess.PIPE, text=True)
        assert r.returncode == 0, r.stdout.strip().splitlines()[0]

def filtered():
    """A filter keeps exactly the connections it names, each whole."""
    with tempfile.TemporaryDirectory() as d:
        pcap, truth, out = os.path.join(d, "c.pcap"), os.path.join(d, "t.jsonl"), os.path.join(d, "o")
        subprocess.run([GEN, "-o", pcap, "-t", truth, "--conns", "40", "--seed", "9"], check=True)
        subprocess.run([WEFT, "read", "-q", "-o", out, pcap, "filter", "tcp port 443"], check=True)
        flows = [json.loads(l) for l in open(os.path.join(out, "flows.jsonl"))]
        want = [json.loads(l) for l in open(truth) if json.loads(l)["dport"] == 443]
        assert flows and len(flows) == len(want), (len(flows), len(want))
        assert all(f["dport"] == 443 for f in flows)
        got = sorted((f["sport"], f["s2c"]["sha256"]) for f in flows)
        assert got == sorted((w["sport"], w["s2c"]["sha256"]) for w in want)

# ---- frames written by hand: the exact cases issue 16 names, and bad ones ----

def ipv4_tcp(src, dst, sport, dport, seq, ack, flags, data=b"", tot_extra=0):
    """An IPv4+TCP packet; tot_extra makes the IP length claim more."""
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + data
    tot = 20 + len(tcp) + tot_extra
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, tot, 1, 0, 64, 6, 0,
                       bytes(src), bytes(dst)) + tcp

def conversation(frame, data):
    """Handshake, data c2s, FINs: each IP packet passed through frame()."""
    c, s, cp, sp = (10, 0, 0, 1), (10, 0, 0, 2), 40000, 80
    pk = [ipv4_tcp(c, s, cp, sp, 1000, 0, 0x02), ipv4_tcp(s, c, sp, cp, 5000, 1001, 0x12),
          ipv4_tcp(c, s, cp, sp, 1001, 5001, 0x10),
          ipv4_tcp(c, s, cp, sp, 1001, 5001, 0x18, data),
          ipv4_tcp(s, c, sp, cp, 5001, 1001 + len(data), 0x11),
          ipv4_tcp(c, s, cp, sp, 1001 + len(data), 5002, 0x11),
          ipv4_tcp(s, c, sp, cp, 5002, 1002 + len(data), 0x10)]
    return [frame(i, p) for i, p in enumerate(pk)]

def write_pcap(path, link, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 262144, link))
        for i, fr in enumerate(frames):
            cap, wire = (fr, len(fr)) if isinstance(fr, bytes) else fr
            f.write(struct.pack("<IIII", 1700000000, i, len(cap), wire) + cap)

def read_pcap(link, frames):
    with tempfile.TemporaryDirectory() as d:
        pcap, out = os.path.join(d, "h.pcap"), os.path.join(d, "o")
        write_pcap(pcap, link, frames)
        r = subprocess.run([WEFT, "-j", "read", "-q", "-o", out, pcap], stdout=subprocess.PIPE,
                           check=True, timeout=120)
        summary = json.loads(r.stdout.strip().splitlines()[-1])
        flows = [json.loads(l) for l in open(os.path.join(out, "flows.jsonl"))]
        files = {f["id"]: open(os.path.join(out, f["c2s"]["file"]), "rb").read()
                 for f in flows if f["c2s"]["file"]}
        return summary, flows, files

ETH = bytes([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1])
REQ = b"GET / HTTP/1.0\r\n\r\n"

def one_clean_flow(summary, flows, files, mismatches):
    assert len(flows) == 1, flows
    f = flows[0]
    assert (f["c2s"]["bytes"], f["c2s"]["gaps"], f["s2c"]["bytes"], f["end"]) == \
        (len(REQ), [], 0, "fin"), f
    assert files[f["id"]] == REQ, files[f["id"]]
    assert summary["length_mismatch"] == mismatches, summary["length_mismatch"]

def pppoe_shorter_than_ip():
    """The case of issue 16: a PPPoE length of 42 (PPP protocol + 40 bytes
    of IP) under an IPv4 total length of 46 on the bare ACK, and 6 bytes of
    Ethernet padding: those 6 bytes are not data (first-wins kept them over
    the request)."""
    def frame(i, ip):
        over = 6 if i == 2 else 0
        if over:
            ip = ip[:2] + struct.pack(">H", len(ip) + over) + ip[4:]
        h = ETH + struct.pack(">HBBHHH", 0x8864, 0x11, 0, 7, 2 + len(ip), 0x0021)
        fr = h + ip + b"PADPAD"[:over]
        return fr + b"\xee" * max(0, 60 - len(fr))
    one_clean_flow(*read_pcap(1, conversation(frame, REQ)), 1)

def wire_length_lie():
    """A record whose length field says 0xfffffff0 over an IPv4 total
    length of 0: what is present is the packet, no 4 GiB gap."""
    def frame(i, ip):
        if i != 3:
            return ETH + b"\x08\x00" + ip
        ip = ip[:2] + b"\0\0" + ip[4:]
        return (ETH + b"\x08\x00" + ip, 0xfffffff0)
    one_clean_flow(*read_pcap(1, conversation(frame, REQ)), 1)

def cooked_llc():
    """Linux cooked (SLL) names an LLC frame by protocol 4, with no length:
    SNAP inside, then IPv4."""
    def frame(i, ip):
        return struct.pack(">HHH8sH", 0, 1, 6, b"\2\0\0\0\0\1\0\0", 4) + \
            bytes([0xaa, 0xaa, 3, 0, 0, 0, 8, 0]) + ip
    one_clean_flow(*read_pcap(113, conversation(frame, REQ)), 0)

def bad_frames():
    """Frames that must be refused as what they are, never read past."""
    syn = ipv4_tcp((10, 0, 0, 1), (10, 0, 0, 2), 1, 2, 0, 0, 0x02)
    label = lambda bottom: struct.pack(">I", 16 << 12 | bottom << 8 | 64)
    eth = [ETH + b"\x88\x47" + label(0) * 17 + label(1) + syn,   # 18 labels
           ETH + b"\x88\x47" + label(0) * 3,                     # stack cut short
           ETH + b"\x88\x47" + label(1) + b"\x30" + syn[1:],     # nibble 3
           ETH + b"\x88\x64\x11\x00\x00\x07\x00\x04\xc0\x21\x01\x01",  # PPPoE LCP
           ETH + struct.pack(">H", 50) + bytes([0x42, 0x42, 3]) + bytes(47),  # STP
           ETH + struct.pack(">H", 20) + bytes([0xaa, 0xaa, 3, 0, 0, 0, 8, 0]) + syn]  # 802.3 says 20
    s, flows, _ = read_pcap(1, eth)
    assert (s["malformed"], s["non_tcp"], s["tcp_packets"], s["length_mismatch"]) == (3, 3, 0, 0), s
    # LCP; IPv4 with a compressed protocol field; a protocol cut short; nothing
    ppp = [b"\xff\x03\xc0\x21\x01\x01\x00\x04", b"\x21" + syn, b"\xff\x03\x00", b"\xff\x03"]
    s, flows, _ = read_pcap(9, ppp)
    assert (s["malformed"], s["non_tcp"], s["tcp_packets"]) == (2, 1, 1), s

def sparse_past_4gib():
    """A 5.6 GiB transfer captured sparsely (one segment every 380 MiB, each
    ACKed, the sequence space wrapping): every segment at its 64-bit offset
    in the file (written sparse, never hashed), the gaps between exact, the
    stream as long as its last byte."""
    c, s, cp, sp = (10, 0, 0, 1), (10, 0, 0, 2), 40000, 80
    isn, jump, n = 0xf0000000, 380 << 20, 16
    seq = lambda off: (isn + 1 + off) % (1 << 32)
    pk = [ipv4_tcp(c, s, cp, sp, isn, 0, 0x02), ipv4_tcp(s, c, sp, cp, 5000, isn + 1, 0x12),
          ipv4_tcp(c, s, cp, sp, seq(0), 5001, 0x10)]
    for k in range(n):
        pk.append(ipv4_tcp(c, s, cp, sp, seq(k * jump), 5001, 0x18, b"seg%05d" % k))
        pk.append(ipv4_tcp(s, c, sp, cp, 5001, seq(k * jump + 8), 0x10))
    end = (n - 1) * jump + 8
    pk += [ipv4_tcp(c, s, cp, sp, seq(end), 5001, 0x11), ipv4_tcp(s, c, sp, cp, 5001, seq(end + 1), 0x11),
           ipv4_tcp(c, s, cp, sp, seq(end + 1), 5002, 0x10)]
    with tempfile.TemporaryDirectory() as d:
        pcap, out = os.path.join(d, "h.pcap"), os.path.join(d, "o")
        write_pcap(pcap, 101, pk)
        subprocess.run([WEFT, "read", "-q", "--no-hash", "-o", out, pcap], check=True, timeout=120)
        flows = [json.loads(l) for l in open(os.path.join(out, "flows.jsonl"))]
        assert len(flows) == 1 and flows[0]["end"] == "fin", flows
        c2s = flows[0]["c2s"]
        assert c2s["bytes"] == end, (c2s["bytes"], end)
        assert c2s["gaps"] == [[(k - 1) * jump + 8, jump - 8] for k in range(1, n)], c2s["gaps"]
        path = os.path.join(out, c2s["file"])
        assert os.stat(path).st_size == end
        with open(path, "rb") as f:
            for k in range(n):
                f.seek(k * jump)
                assert f.read(8) == b"seg%05d" % k, k

t = harness.Tests("generator")
t.run("PPPoE length 42 under IPv4 length 46: padding is not data", pppoe_shorter_than_ip)
t.run("record length 0xfffffff0, IPv4 length 0: no 4 GiB gap", wire_length_lie)
t.run("Linux cooked LLC/SNAP", cooked_llc)
t.run("a sparse stream past 4 GiB: offsets, gaps and length exact", sparse_past_4gib)
t.run("bad MPLS, PPP, LLC frames refused", bad_frames)
seeds = [1] if QUICK else [1, 2, 3]
for name, args in SCENARIOS:
    for seed in seeds:
        t.run("%s (seed %d)" % (name, seed), run_scenario, args, seed)
t.run("overlap policy last gives the same truth on consistent retransmissions",
      run_scenario, ["--overlap", "0.4", "--reorder", "0.3"], 4, ["--overlap", "last"])
t.run("late bytes counted in flows.jsonl, no gap left", late_counted)
t.run("memory cap on a capture built to hurt", memcap)
t.run("several files continue each other", split_files)
t.run("filter expression", filtered)
sys.exit(t.done())
