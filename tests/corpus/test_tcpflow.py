#!/usr/bin/python3
"""weft against the tcpflow program on every corpus capture.

Both write one file per direction with the same names. Every file must be
equal, or differ for a listed reason that this test checks on the file
itself (never assumed from the capture's name):

  padding   tcpflow 1.6.1 takes Ethernet trailer bytes (frame longer than the
            IP packet) for payload: weft's bytes are tcpflow's less at most
            64 trailing bytes, or tcpflow's whole file is that short junk.
  gaps      weft reports captured loss as gaps (zeros at stream offsets);
            outside weft's gaps, the bytes agree (tcpflow may stop early or
            start at its own first byte). The gaps prove themselves: the
            file is the reported length, zeros in every gap, and a stream
            that ends in a gap no longer than the sequence space the capture
            shows for it (a 1 GiB phantom is not excused).
  fragments tcpflow does not reassemble IP fragments: the capture has them
            and tcpflow has no or shorter files.
  encap     tcpflow does not decode the encapsulation (QinQ, PPPoE, raw IP,
            IP-in-IP...): tcpflow wrote nothing for that connection.
  idle      the capture's clock jumps past the idle timeout: weft ended the
            connection (reason idle) and named the rest cN.
  tshark    tcpflow disagrees with tshark's follow output and weft agrees.
  rst       weft ends a connection at its RST; tcpflow keeps what came after.
  overlap   bytes sent twice with different content: tcpflow writes the
            last copy, weft keeps the one it delivered first and counts the
            difference (conflicts); outside weft's gaps the files differ in
            no more bytes than weft counted.
  tshark    (also) tshark's follow output is weft's file without a final
            gap the capture proves (ACKed bytes after the last segment seen,
            which tshark cannot show).
  split     tcpflow took retransmissions after a FIN for a new connection
            (cN); those bytes are in weft's single stream.
  linktypes a pcapng whose interfaces differ in link type: libpcap, under
            tcpflow, stops at the first interface of another type.
  ordered   a capture scrambled on purpose: weft gives the ordered capture's
            stream, as tcpflow's own suite expects.

tcpflow's own test suite expectations are checked too: a capture and its
scrambled or split versions give the same streams.
usage: test_tcpflow.py WEFT CORPUS [CAPTURE...]
"""
import json, os, re, subprocess, sys, tempfile
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness
from tshark_follow import tshark_streams, with_markers, seq_spans, stream_span

WEFT, CORPUS = sys.argv[1], sys.argv[2]
MANIFEST = {}
for line in open(os.path.join(CORPUS, "MANIFEST.tsv")).read().splitlines()[1:]:
    f = line.split("\t")
    MANIFEST[f[0]] = {"encap": f[7], "notable": f[8]}
CAPS = sys.argv[3:] or sorted(MANIFEST)
PAD = 64

def run_both(path, tmp):
    t, w = os.path.join(tmp, "tcpflow"), os.path.join(tmp, "weft")
    os.makedirs(t)
    subprocess.run(["tcpflow", "-r", path, "-o", t], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=120)
    subprocess.run([WEFT, "read", "-q", "-o", w, path], timeout=120)
    files = lambda d: {x for x in os.listdir(d) if x not in ("report.xml", "flows.jsonl")}
    return t, w, files(t), files(w)

def load_flows(w):
    by_file = {}
    flows = [json.loads(l) for l in open(os.path.join(w, "flows.jsonl"))]
    for f in flows:
        for d in ("c2s", "s2c"):
            if f[d]["file"]:
                by_file[f[d]["file"]] = (f, d)
    return flows, by_file

def tshark_count(path, flt):
    out = subprocess.run(["tshark", "-r", path, "-Y", flt, "-T", "fields", "-e", "frame.number"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    return len(out.split())

def outside_gaps_agree(tf, wf, gaps):
    """tcpflow's bytes equal weft's wherever weft has data, for weft's
    offsets or shifted by a leading gap (tcpflow starts at its first byte)."""
    return outside_gaps_differ(tf, wf, gaps) == 0

def outside_gaps_differ(tf, wf, gaps):
    """How few bytes tcpflow's file and weft's differ in wherever weft has
    data (aligned as in outside_gaps_agree); None if they cannot be aligned."""
    def holes(n):
        m = bytearray(n)
        for off, ln in gaps:
            m[off:off + ln] = b"\1" * max(0, min(ln, n - off))
        return m
    mask = holes(len(wf))
    shifts = {0} | ({gaps[0][1]} if gaps and gaps[0][0] == 0 else set())
    best = None
    for sh in shifts:
        diff = sum(1 for i in range(min(len(tf), len(wf) - sh))
                   if not mask[i + sh] and tf[i] != wf[i + sh])
        extra = len(tf) - (len(wf) - sh)
        if extra <= PAD and (best is None or diff < best):
            best = diff
    return best

class Ctx:
    def __init__(self, rel, path, w, flows):
        self.rel, self.path, self.w, self.flows = rel, path, w, flows
        self._pad = self._frag = self._ts = self._acks = None

    def seq_span(self, flow, d):
        """The sequence space the capture shows for direction d."""
        if self._acks is None:
            self._acks = seq_spans(self.path)
        return stream_span(self._acks, flow, d)

    def padded(self):
        if self._pad is None:
            self._pad = tshark_count(self.path, "tcp && (eth.padding || eth.trailer)") > 0
        return self._pad

    def fragmented(self):
        if self._frag is None:
            self._frag = tshark_count(self.path, "ip.flags.mf == 1 || ip.frag_offset > 0 || ipv6.fragment") > 0
        return self._frag

    def tshark_agrees(self, flow, d, tail=False):
        """tshark's follow output is weft's file (with tail, less a final
        gap: bytes ACKed after the last segment, which tshark cannot show)."""
        if self._ts is None:
            self._ts = tshark_streams(self.path)
        c, s = (flow["src"], flow["sport"]), (flow["dst"], flow["dport"])
        side = flow[d]
        got = open(os.path.join(self.w, side["file"]), "rb").read()
        gaps = side["gaps"]
        if tail:
            if not gaps or sum(gaps[-1]) != len(got):
                return False
            got, gaps = got[:gaps[-1][0]], gaps[:-1]
        got = with_markers(got, gaps)
        for ep, a2b, b2a in self._ts:
            if set(ep) == {c, s}:
                want = a2b if (ep[0] == (c if d == "c2s" else s)) else b2a
                if want == got:
                    return True
        return False

def gaps_proven(ctx, flow, d, wf):
    """weft's gaps of this direction are what the capture justifies."""
    side = flow[d]
    if not side["gaps"] or len(wf) != side["bytes"]:
        return False
    for off, ln in side["gaps"]:
        if off + ln > len(wf) or wf[off:off + ln].count(0) != ln:
            return False
    off, ln = side["gaps"][-1]
    return off + ln < len(wf) or len(wf) <= ctx.seq_span(flow, d) + 2

def explain_diff(ctx, name, tf, wf, by_file):
    flow, d = by_file.get(name, (None, None))
    if flow and flow["end"] == "rst" and tf.startswith(wf):
        return "rst"
    if ctx.rel in ORDERED and wf == ordered_stream(ORDERED[ctx.rel], name):
        return "ordered"
    if wf == tf[:len(wf)] and 0 < len(tf) - len(wf) <= PAD and ctx.padded():
        return "padding"
    if flow and flow[d]["gaps"] and outside_gaps_agree(tf, wf, flow[d]["gaps"]) and \
            gaps_proven(ctx, flow, d, wf):
        return "gaps"
    if ctx.fragmented() and len(tf) < len(wf):
        return "fragments"
    if flow and ctx.tshark_agrees(flow, d):
        return "tshark"
    if flow and gaps_proven(ctx, flow, d, wf) and ctx.tshark_agrees(flow, d, tail=True):
        return "tshark"
    if flow and flow[d]["conflicts"]:
        diff = outside_gaps_differ(tf, wf, flow[d]["gaps"])
        if diff is not None and 0 < diff <= flow[d]["conflicts"]:
            return "overlap"
    if flow and any(f["end"] == "idle" and {(f["src"], f["sport"]), (f["dst"], f["dport"])} ==
                    {(flow["src"], flow["sport"]), (flow["dst"], flow["dport"])} for f in ctx.flows):
        return "idle"
    return None

def same_tuple(a, b):
    return {(a["src"], a["sport"]), (a["dst"], a["dport"])} == {(b["src"], b["sport"]), (b["dst"], b["dport"])}

def explain_tcpflow_only(ctx, name, tf):
    if len(tf) <= PAD and ctx.padded():
        return "padding"
    base = re.sub(r"c\d+$", "", name)
    for f in ctx.flows:
        for d in ("c2s", "s2c"):
            if f[d]["file"] and re.sub(r"c\d+$", "", f[d]["file"]) == base and any(
                    g["end"] == "idle" and same_tuple(g, f) for g in ctx.flows):
                return "idle"
    base = re.sub(r"c\d+$", "", name)
    # weft has this direction under another count (an idle split, or
    # tcpflow's own split of one connection): its content is in weft's
    for w in os.listdir(ctx.w):
        if re.sub(r"c\d+$", "", w) == base:
            content = open(os.path.join(ctx.w, w), "rb").read()
            # tcpflow took retransmissions after a FIN for a new connection;
            # the bytes (less Ethernet padding) are in weft's one stream
            if any(len(tf) - k > 0 and tf[:len(tf) - k] in content for k in range(PAD + 1)):
                return "split"
            # ... or written at its own offsets: holes (zeros) and at most a
            # few padding bytes aside, the same bytes as weft's from there
            at = content.find(tf[:64]) if len(tf) >= 64 else -1
            if at >= 0:
                seg = content[at:at + len(tf)]
                bad = sum(1 for a, b in zip(tf, seg) if a and a != b) + max(0, len(tf) - len(seg))
                if bad <= PAD:
                    return "split"
            if ctx.padded() and len(tf) <= PAD:
                return "padding"
    return None

def explain_weft_only(ctx, name, tfiles, by_file):
    flow, d = by_file.get(name, (None, None))
    enc = MANIFEST.get(ctx.rel, {}).get("encap", "")
    if enc == "per-packet":
        return "linktypes"  # libpcap under tcpflow stops at the first interface of another type
    if not tfiles and enc != "ether":
        return "encap"
    if not tfiles and tshark_count(ctx.path, "vlan.etype == 0x8100 && eth.type == 0x88a8") > 0:
        return "encap"
    if ctx.fragmented():
        return "fragments"
    if flow and tshark_count(ctx.path, "ipv6 && ip") > 0 and flow["src"].count(":"):
        return "encap"  # IPv6 in IPv4: tcpflow does not open the tunnel
    if flow and any(f["end"] == "idle" for f in ctx.flows):
        return "idle"
    if flow and flow[d]["gaps"] and flow[d]["gaps"][0][0] == 0 and \
            gaps_proven(ctx, flow, d, open(os.path.join(ctx.w, name), "rb").read()):
        return "gaps"  # all weft knows of this side is what the peer acknowledged
    if flow and ctx.tshark_agrees(flow, d):
        return "tshark"
    return None

REASONS = {}

# tcpflow's own suite: a scrambled capture must give the ordered one's streams
ORDERED = {"tcpflow/test5-lines-randomized.pcap": "tcpflow/test5-lines.pcap",
           "tcpflow/test5-lines-randomized2.pcap": "tcpflow/test5-lines.pcap"}

def ordered_stream(rel, name):
    d = tempfile.mkdtemp()
    subprocess.run([WEFT, "read", "-q", "-o", d, os.path.join(CORPUS, rel)], check=True)
    p = os.path.join(d, name)
    data = open(p, "rb").read() if os.path.exists(p) else None
    subprocess.run(["rm", "-rf", d])
    return data

def check(rel):
    path = os.path.join(CORPUS, rel)
    with tempfile.TemporaryDirectory() as tmp:
        t, w, tfiles, wfiles = run_both(path, tmp)
        flows, by_file = load_flows(w)
        ctx = Ctx(rel, path, w, flows)
        bad = []
        # QinQ: tcpflow names the connection by its outer tag alone, weft's
        # %v carries both (--201.200); the same bytes under either name agree
        for wn in sorted(wfiles):
            m = re.match(r"^(.*--\d+)\.\d+((?:c\d+)?)$", wn)
            if m and m.group(1) + m.group(2) in tfiles and m.group(1) + m.group(2) not in wfiles:
                tn = m.group(1) + m.group(2)
                if open(os.path.join(t, tn), "rb").read() == open(os.path.join(w, wn), "rb").read():
                    REASONS["qinq-name"] = REASONS.get("qinq-name", 0) + 1
                    tfiles = tfiles - {tn}
                    wfiles = wfiles - {wn}
        for name in sorted(tfiles | wfiles):
            tf = open(os.path.join(t, name), "rb").read() if name in tfiles else None
            wf = open(os.path.join(w, name), "rb").read() if name in wfiles else None
            if tf == wf:
                continue
            if tf is not None and wf is not None:
                why = explain_diff(ctx, name, tf, wf, by_file)
            elif wf is None:
                why = explain_tcpflow_only(ctx, name, tf)
            else:
                why = explain_weft_only(ctx, name, tfiles, by_file)
            if why:
                REASONS[why] = REASONS.get(why, 0) + 1
            else:
                bad.append("%s (tcpflow %s, weft %s bytes)" % (
                    name, "-" if tf is None else len(tf), "-" if wf is None else len(wf)))
        assert not bad, "unexplained: " + "; ".join(bad[:5])

def same_streams(a, b):
    """tcpflow's suite: these captures must give identical streams."""
    outs = []
    for files in (a, b):
        d = tempfile.mkdtemp()
        subprocess.run([WEFT, "read", "-q", "-o", d] + [os.path.join(CORPUS, f) for f in files], check=True)
        outs.append({x: open(os.path.join(d, x), "rb").read() for x in os.listdir(d)
                     if x not in ("flows.jsonl", "report.xml")})
        subprocess.run(["rm", "-rf", d])
    assert outs[0] == outs[1], "streams differ: %s vs %s" % (sorted(outs[0]), sorted(outs[1]))
    assert outs[0], "no streams"

t = harness.Tests("tcpflow-diff")
for rel in CAPS:
    t.run(rel, check, rel)
T = "tcpflow/"
def prefix_of(small, big, name):
    """test1-out-of-order holds two segments of test1, swapped."""
    outs = []
    for f in (small, big):
        d = tempfile.mkdtemp()
        subprocess.run([WEFT, "read", "-q", "-o", d, os.path.join(CORPUS, f)], check=True)
        outs.append(open(os.path.join(d, name), "rb").read())
        subprocess.run(["rm", "-rf", d])
    small, big = outs
    # 1396 bytes, a 22-byte hole (packets the cut left out), 65 bytes: both
    # pieces stand in the full capture's stream at the same distance
    p = big.find(small[:1396])
    assert len(small) == 1483 and p >= 0 and big[p + 1418:p + 1483] == small[1418:], \
        "%d bytes, not found in test1's stream" % len(small)

t.run("tcpflow suite: test1-out-of-order is test1's start", prefix_of, T + "test1-out-of-order.pcap",
      T + "test1.pcap", "074.125.019.104.00080-192.168.001.102.50955")
t.run("tcpflow suite: test1-part1 + part2 = test1", same_streams, [T + "test1.pcap"],
      [T + "test1-part1.pcap", T + "test1-part2.pcap"])
t.run("tcpflow suite: test5-lines-randomized = test5-lines", same_streams, [T + "test5-lines.pcap"],
      [T + "test5-lines-randomized.pcap"])
print("explained differences: " + ", ".join("%s %d" % kv for kv in sorted(REASONS.items())))
sys.exit(t.done())
