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

