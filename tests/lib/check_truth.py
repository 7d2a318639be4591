#!/usr/bin/python3
"""Compare weft's output directory with a weft-gen truth file.

Every connection of the truth must appear in flows.jsonl with the same
client/server, VLAN tags, end reason, and per direction the same stream
length, gap list and SHA-256; the file on disk must hash the same and have
that length. Prints one line per mismatch; exits 1 on any.
usage: check_truth.py TRUTH.jsonl OUTDIR [--ends-only] [--no-vlan]
"""
import hashlib, json, os, sys
from collections import defaultdict

def key(o, vlan=True):
    return (o["src"], o["sport"], o["dst"], o["dport"], tuple(o["vlan"]) if vlan else ())

def main():
    truth_path, out = sys.argv[1], sys.argv[2]
    ends_only = "--ends-only" in sys.argv
    vlan = "--no-vlan" not in sys.argv
    truth = [json.loads(l) for l in open(truth_path)]
    flows = [json.loads(l) for l in open(os.path.join(out, "flows.jsonl"))]
    got = defaultdict(list)
    for f in sorted(flows, key=lambda f: f["id"]):
        got[key(f, vlan)].append(f)
    seen = defaultdict(int)
    bad = 0
    def fail(msg):
        nonlocal bad
        bad += 1
        if bad <= 20:
            print("MISMATCH", msg)
    for t in truth:
        k = key(t, vlan)
        i = seen[k]
        seen[k] += 1
        if i >= len(got[k]):
            fail(f"{k}: connection #{i} missing from flows.jsonl")
            continue
        f = got[k][i]
        if f["end"] != t["end"]:
            fail(f"{k}#{i}: end {f['end']} != {t['end']}")
        if ends_only:
            continue
        for d in ("c2s", "s2c"):
            td, fd = t[d], f[d]
            if fd["bytes"] != td["bytes"]:
                fail(f"{k}#{i} {d}: bytes {fd['bytes']} != {td['bytes']}")
            if [list(g) for g in fd["gaps"]] != td["gaps"]:
                fail(f"{k}#{i} {d}: gaps {fd['gaps']} != {td['gaps']}")
            if td["bytes"] == 0:
                if fd["file"] is not None:
                    fail(f"{k}#{i} {d}: a file for an empty direction")
                continue
            if fd["sha256"] != td["sha256"]:
                fail(f"{k}#{i} {d}: report sha256 differs from truth")
            p = os.path.join(out, fd["file"])
            data = open(p, "rb").read()
            if len(data) != td["bytes"] or hashlib.sha256(data).hexdigest() != td["sha256"]:
                fail(f"{k}#{i} {d}: file {fd['file']} ({len(data)} bytes) differs from truth")
    extra = sum(len(v) for v in got.values()) - sum(seen.values())
    if extra > 0:
        fail(f"{extra} connections in flows.jsonl that the truth does not have")
    print(f"{len(truth)} connections checked, {bad} mismatches")
    return 1 if bad else 0

if __name__ == "__main__":
    sys.exit(main())
