#!/usr/bin/python3
"""Turn pcap files into fuzz inputs (link index, 16-bit length, frame)...
usage: seeds.py OUTDIR PCAP..."""
import os, struct, sys

def frames(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xa1b2c3d4, 0xa1b23c4d, 0xd4c3b2a1, 0x4d3cb2a1):
        return  # pcapng: whole, as a file seed below
    end = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    link = struct.unpack(end + "I", data[20:24])[0]
    i = 24
    while i + 16 <= len(data):
        _, _, cap, _ = struct.unpack(end + "IIII", data[i:i + 16])
        yield link, data[i + 16:i + 16 + cap]
        i += 16 + cap

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for n, p in enumerate(sys.argv[2:]):
    blob = bytearray([0])
    for link, f in frames(p):
        if len(blob) > 60000:
            break
        idx = {1: 0, 101: 1, 228: 2, 229: 3, 113: 4, 276: 5, 0: 6, 108: 7, 9: 8}.get(link, 0)
        blob += bytes([idx | 8]) + struct.pack(">H", len(f)) + f
    open(os.path.join(out, "seed%d" % n), "wb").write(blob)
    # the same frames with callbacks that use the API (bit 4), with and
    # without keep_unconsumed (bit 2)
    for flags in (0x10, 0x14):
        blob[0] = flags
        open(os.path.join(out, "seed%d-%x" % (n, flags)), "wb").write(blob)

# capture files whole (bit 5): the reader's parsing, pcapng options included
for n, p in enumerate(sys.argv[2:]):
    data = open(p, "rb").read()[:60000]
    open(os.path.join(out, "file%d" % n), "wb").write(bytes([0x20]) + data)
