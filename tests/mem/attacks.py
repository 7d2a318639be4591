#!/usr/bin/python3
"""Captures built to hurt: each is a few hundred bytes to a few MB of pcap
that once cost far more memory, disk or time than it holds. Written as raw
IPv4 pcap (linktype 101) with struct, so 300k packets take a second.

    attacks.py DIR [NAME...]   writes DIR/NAME.pcap (all by default)
"""
import os
import struct
import sys

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


class Pcap:
    def __init__(self, path):
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101))
        self.ts = 1_600_000_000_000_000  # microseconds

    def rec(self, data, wire=None, dt=1):
        self.ts += dt
        self.f.write(struct.pack("<IIII", self.ts // 1_000_000, self.ts % 1_000_000,
                                 len(data), len(data) if wire is None else wire))
        self.f.write(data)

    def close(self):
        self.f.close()


def ip4(src, dst, payload, proto=6, ident=0, frag=0, tot=None):
    n = 20 + len(payload) if tot is None else tot
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, n, ident, frag, 64, proto, 0,
                       bytes(src), bytes(dst)) + payload


def tcp(sport, dport, seq, ack, flags, data=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, seq & 0xffffffff, ack & 0xffffffff,
                       0x50, flags, 65535, 0, 0) + data


def addr(i, net=10):
    return [net, (i >> 16) & 255, (i >> 8) & 255, i & 255]


def pkt(p, cli, srv, sport, dport, seq, ack, flags, data=b"", **kw):
    p.rec(ip4(cli, srv, tcp(sport, dport, seq, ack, flags, data)), **kw)


def holes(p, conns=4, segs=150_000):
    """1-byte segments each behind a hole: held, never delivered"""
    for c in range(conns):
        cli, srv = addr(c + 1), [192, 168, 0, 1]
        pkt(p, cli, srv, 40000, 80, 100, 0, SYN)
        pkt(p, srv, cli, 80, 40000, 500, 101, SYN | ACK)
        pkt(p, cli, srv, 40000, 80, 101, 501, ACK)
        for i in range(segs):
            pkt(p, cli, srv, 40000, 80, 103 + 2 * i, 501, ACK, b"x")


def synflood(p, conns=300_000):
    """SYN-only connections, each one a table entry"""
    srv = [192, 168, 0, 1]
    for i in range(conns):
        pkt(p, addr(i), srv, 1024 + i % 60000, 80, i * 7, 0, SYN)


def frags(p, n=20_000):
    """datagrams that never complete, each with a fragment 60000 bytes in
    (a 64 KiB buffer), then a normal connection that must stay whole"""
    src, dst = [10, 9, 0, 1], [10, 9, 0, 2]
    for i in range(n):
        p.rec(ip4(src, dst, b"\0" * 8, ident=i & 0xffff, frag=0x2000))
        p.rec(ip4(src, dst, b"\0" * 8, ident=i & 0xffff, frag=0x2000 | (60000 // 8)))
    normal(p, 1)


def normal(p, conns, data=b"hello"):
    srv = [192, 168, 0, 1]
    for i in range(conns):
        cli = addr(i, 172)
        sp = 1024 + i % 60000
        pkt(p, cli, srv, sp, 80, 100, 0, SYN)
        pkt(p, srv, cli, 80, sp, 500, 101, SYN | ACK)
        pkt(p, cli, srv, sp, 80, 101, 501, ACK | PSH, data)
        pkt(p, cli, srv, sp, 80, 101 + len(data), 501, FIN | ACK)
        pkt(p, srv, cli, 80, sp, 501, 102 + len(data), FIN | ACK)


def inorder(p, conns=110_000):
    """connections with one in-order byte each, left open: sink state each"""
    srv = [192, 168, 0, 1]
    for i in range(conns):
        cli = addr(i)
        sp = 1024 + i % 60000
        pkt(p, cli, srv, sp, 80, 100, 0, SYN)
        pkt(p, srv, cli, 80, sp, 500, 101, SYN | ACK)
        pkt(p, cli, srv, sp, 80, 101, 501, ACK | PSH, b"x")


def barefin(p, n=10):
    """a FIN|ACK of connections picked up midstream: zero-byte directions"""
    for i in range(n):
        pkt(p, addr(i), [192, 168, 0, 1], 40000 + i, 80, 123456 + i, 777, FIN | ACK)


def forged(p, n=10):
    """records claiming 0xfffffff0 wire bytes with IPv4 total length 0"""
    cli, srv = [10, 0, 0, 1], [10, 0, 0, 2]
    pkt(p, cli, srv, 40000, 80, 100, 0, SYN)
    pkt(p, srv, cli, 80, 40000, 500, 101, SYN | ACK)
    for i in range(n):
        p.rec(ip4(cli, srv, tcp(40000, 80, 101 + 4 * i, 501, ACK, b"abcd"), tot=0),
              wire=0xfffffff0)


def timeback(p):
    """one record stamped 10 minutes in the past mid-connection"""
    cli, srv = [10, 0, 0, 1], [10, 0, 0, 2]
    pkt(p, cli, srv, 40000, 80, 100, 0, SYN)
    pkt(p, srv, cli, 80, 40000, 500, 101, SYN | ACK)
    pkt(p, cli, srv, 40000, 80, 101, 501, ACK | PSH, b"ab")
    pkt(p, cli, srv, 40000, 80, 103, 501, ACK | PSH, b"cd", dt=-600_000_000)
    pkt(p, [10, 0, 0, 3], srv, 40001, 80, 1, 1, ACK | PSH, b"z", dt=601_000_000)
    pkt(p, cli, srv, 40000, 80, 105, 501, ACK | PSH, b"ef")


def tsoverflow(path):
    """pcapng: if_tsresol of seconds, if_tsoffset of 2^63-1 s and a
    timestamp of 2^63 units: overflowed ts_ns (undefined behaviour)"""
    def block(btype, body):
        n = 12 + len(body)
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)
    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    opts = struct.pack("<HHB3x", 9, 1, 0) + struct.pack("<HHq", 14, 8, (1 << 63) - 1) + b"\0" * 4
    idb = block(1, struct.pack("<HHI", 101, 0, 65535) + opts)
    out = shb + idb
    cli, srv = [10, 0, 0, 1], [10, 0, 0, 2]
    for i, ts in enumerate((1 << 63, 1 << 63, (1 << 64) - 1)):
        data = ip4(cli, srv, tcp(40000, 80, 100 + 2 * i, 1, ACK | PSH, b"ab"))
        pad = b"\0" * (-len(data) % 4)
        out += block(6, struct.pack("<IIIII", 0, ts >> 32, ts & 0xffffffff, len(data),
                                    len(data)) + data + pad)
    with open(path, "wb") as f:
        f.write(out)


ATTACKS = {f.__name__: f for f in (holes, synflood, frags, inorder, barefin, forged, timeback)}
PCAPNG = {"tsoverflow": tsoverflow}


def write(dirname, name, **kw):
    if name in PCAPNG:
        path = os.path.join(dirname, name + ".pcapng")
        PCAPNG[name](path)
        return path
    path = os.path.join(dirname, name + ".pcap")
    p = Pcap(path)
    ATTACKS[name](p, **kw)
    p.close()
    return path


if __name__ == "__main__":
    os.makedirs(sys.argv[1], exist_ok=True)
    for name in sys.argv[2:] or list(ATTACKS) + list(PCAPNG):
        print(write(sys.argv[1], name))
