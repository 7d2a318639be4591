#!/usr/bin/python3
"""weft read under captures built to hurt (tests/mem/attacks.py), each run
with a memory cap: peak RSS (VmHWM, from /usr/bin/time) at most the cap
plus a fixed 48 MiB, the largest output file what the capture justifies,
and the streams that must come out whole do.

    test_memcap.py WEFT [table]   'table' prints attack, RSS, time, file
    test_memcap.py WEFT sanitized the small attacks only, no RSS check (an
                                  ASan/UBSan build's memory is its own)
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attacks  # noqa: E402

MiB = 1 << 20
CAP = 64 * MiB
OVERHEAD = 48 * MiB

# attack: (largest file allowed, memory cap). The in-order connections run
# with a cap that holds about 130k of them, so what the sink holds for each
# (a digest context, a name: 500 bytes) outside the account would be more
# than the fixed overhead.
LIMITS = {
    "holes": (1 * MiB, CAP),
    "synflood": (0, CAP),
    "frags": (16, CAP),
    "inorder": (16, 96 * MiB),
    "barefin": (0, CAP),
    "forged": (64, CAP),
    "timeback": (16, CAP),
    "tsoverflow": (16, CAP),
}
SMALL = ("barefin", "forged", "timeback", "tsoverflow")
ARGS = {"inorder": {"conns": 160_000}}


def run(weft, pcap, out, cap=CAP):
    t = time.time()
    r = subprocess.run(["/usr/bin/time", "-f", "MAXRSS %M", weft, "read", pcap, "-o", out,
                        "--memcap", str(cap), "-q"], capture_output=True, text=True)
    dt = time.time() - t
    m = re.search(r"MAXRSS (\d+)", r.stderr)
    rss = int(m.group(1)) * 1024 if m else -1
    largest = 0
    for name in os.listdir(out):
        if name not in ("flows.jsonl", "report.xml"):
            largest = max(largest, os.stat(os.path.join(out, name)).st_size)
    flows = []
    if os.path.exists(os.path.join(out, "flows.jsonl")):
        with open(os.path.join(out, "flows.jsonl")) as f:
            flows = [json.loads(line) for line in f]
    return r.returncode, rss, dt, largest, flows, r.stderr


def main():
    weft = sys.argv[1]
    table = len(sys.argv) > 2 and sys.argv[2] == "table"
    sanitized = len(sys.argv) > 2 and sys.argv[2] == "sanitized"
    passed = failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        if table:
            print("%-9s %9s %12s %8s %14s" % ("attack", "cap", "peak RSS", "time",
                                              "largest file"))
        for name, (largest_max, cap) in LIMITS.items():
            if sanitized and name not in SMALL:
                continue
            pcap = attacks.write(tmp, name, **ARGS.get(name, {}))
            out = os.path.join(tmp, name + ".out")
            rc, rss, dt, largest, flows, err = run(weft, pcap, out, cap)
            problems = []
            if rc != 0:
                problems.append("exit %d: %s" % (rc, err.strip()[-300:]))
            if "runtime error" in err or "Sanitizer" in err:
                problems.append(err.strip()[-400:])
            if rss > cap + OVERHEAD and not sanitized:
                problems.append("peak RSS %.1f MiB > cap %d MiB + %d MiB" %
                                (rss / MiB, cap // MiB, OVERHEAD // MiB))
            if largest > largest_max:
                problems.append("largest file %d bytes > %d" % (largest, largest_max))
            if name == "frags":
                # the connection after the flood: one line, whole, closed by FIN
                last = [f for f in flows if f["sport"] == 1024 and f["dport"] == 80]
                if len(last) != 1 or last[0]["end"] != "fin" or last[0]["c2s"]["bytes"] != 5:
                    problems.append("the connection after the flood is split or cut: %s"
                                    % [(f["end"], f["c2s"]["bytes"]) for f in last])
            if name == "timeback":
                c = [f for f in flows if f["sport"] == 40000]
                if len(c) != 1 or c[0]["c2s"]["bytes"] != 6 or c[0]["last"] < c[0]["first"]:
                    problems.append("time going back split or ended it: %s" %
                                    [(f["end"], f["first"], f["last"]) for f in c])
            if name == "tsoverflow" and sum(f["c2s"]["bytes"] for f in flows) != 6:
                problems.append("the stream of a file with silly times is not whole")
            if name in ("barefin", "forged"):
                claimed = sum(f[d]["bytes"] for f in flows for d in ("c2s", "s2c"))
                if claimed > 64:
                    problems.append("%d bytes claimed from %d packets" % (claimed, 10))
            if table:
                print("%-9s %5d MiB %8.1f MiB %7.2fs %14d" % (name, cap // MiB, rss / MiB, dt,
                                                            largest))
            if problems:
                failed += 1
                print("FAIL %s: %s" % (name, "; ".join(problems)))
            else:
                passed += 1
                print("ok %s (RSS %.1f MiB, %.2f s)" % (name, rss / MiB, dt))
    print("memcap: %d passed, %d failed, 0 skipped" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
