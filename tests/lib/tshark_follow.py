"""tshark's "follow TCP stream" as bytes, and weft's files in its terms."""
import re, subprocess

MAX_STREAMS = 40

def tshark_streams(path):
    ids = subprocess.run(["tshark", "-r", path, "-T", "fields", "-e", "tcp.stream", "-Y", "tcp"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.split()
    n = sorted({int(x) for x in ids if x.isdigit()})[:MAX_STREAMS]
    if not n:
        return []
    args = ["tshark", "-r", path, "-o", "tcp.reassemble_out_of_order:TRUE", "-q"]
    for i in n:
        args += ["-z", "follow,tcp,raw,%d" % i]
    out = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    streams = []
    for block in out.split("Follow: tcp,raw")[1:]:
        idx = int(re.search(r"tcp.stream eq (\d+)", block).group(1))
        nodes = re.findall(r"Node (\d): (.*):(\d+)\n", block)
        if len(nodes) != 2:
            continue
        data = [bytearray(), bytearray()]
        for line in block.split("\n"):
            if not line or line.startswith(("=", "Filter", "Node", "Follow")):
                continue
            side = 1 if line.startswith("\t") else 0
            data[side] += bytes.fromhex(line.strip())
        ep = [(a.strip("[]"), int(p)) for _, a, p in nodes]
        streams.append((idx, ep, bytes(data[0]), bytes(data[1])))
    return [s[1:] for s in sorted(streams)]  # tshark prints them in no set order

def with_markers(blob, gaps):
    """weft's file with each gap written as tshark writes a lost stretch."""
    out, pos = bytearray(), 0
    for off, n in gaps:
        out += blob[pos:off] + b"[%d bytes missing in capture file]\x00" % n
        pos = off + n
    return bytes(out + blob[pos:])



def seq_spans(path):
    """The sequence space the capture shows for each direction: from the
    lowest to the highest of its sender's sequence numbers (and ends of
    data) and its receiver's ACKs, modulo 2^32:
    {(src, sport, dst, dport): span}, ports as strings. No stream weft
    writes can be longer (SYN and FIN aside) without bytes it invented."""
    out = subprocess.run(["tshark", "-r", path, "-Y", "tcp", "-T", "fields",
                          "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport",
                          "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport",
                          "-e", "tcp.seq_raw", "-e", "tcp.len", "-e", "tcp.ack_raw",
                          "-e", "tcp.flags.ack"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True).stdout
    ref, lo, hi = {}, {}, {}

    def see(key, v):
        r = ref.setdefault(key, v)
        rel = (v - r + (1 << 31)) % (1 << 32) - (1 << 31)
        lo[key] = min(lo.get(key, rel), rel)
        hi[key] = max(hi.get(key, rel), rel)

    for line in out.splitlines():
        f = [x.split(",")[-1] for x in line.split("\t")]  # the innermost of tunnels
        if len(f) < 10 or not f[6]:
            continue
        src, dst = (f[1] or f[0], f[2]), (f[4] or f[3], f[5])
        seq = int(f[6])
        see(src + dst, seq)
        see(src + dst, (seq + int(f[7] or 0)) % (1 << 32))
        if f[8] and f[9] in ("1", "True"):
            see(dst + src, int(f[8]))
    return {k: hi[k] - lo[k] for k in ref}


def stream_span(spans, flow, d):
    """seq_spans' span of direction d ('c2s' or 's2c') of a flows.jsonl
    connection."""
    c, s = (flow["src"], str(flow["sport"])), (flow["dst"], str(flow["dport"]))
    return spans.get(c + s if d == "c2s" else s + c, 0)
