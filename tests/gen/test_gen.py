#!/usr/bin/python3
"""weft against captures of known truth from weft-gen.

Each scenario writes a capture with one impairment (or all of them), runs
`weft read`, and checks every connection byte for byte and gap for gap
(tests/lib/check_truth.py). Then: the memory cap on a capture built to hurt,
several files continuing each other, and the same under a filter.
usage: test_gen.py WEFT WEFT_GEN [quick] [sanitized]
"""
import json, os, resource, subprocess, sys, tempfile
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
]

def run_scenario(args, seed, extra_weft=()):
    with tempfile.TemporaryDirectory() as d:
        pcap, truth, out = os.path.join(d, "c.pcap"), os.path.join(d, "t.jsonl"), os.path.join(d, "o")
        subprocess.run([GEN, "-o", pcap, "-t", truth, "--conns", "60", "--concurrent", "8",
                        "--seed", str(seed)] + args, check=True)
        subprocess.run([WEFT, "read", "-q", "-o", out, pcap] + list(extra_weft), check=True)
        r = subprocess.run(["/usr/bin/python3", CHECK, truth, out], stdout=subprocess.PIPE, text=True)
        assert r.returncode == 0, r.stdout.strip().splitlines()[0]

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
                           stdout=subprocess.PIPE, check=True)
        # -c prints chunks, then the JSON summary is the last line
        summary = json.loads(r.stdout.strip().splitlines()[-1])
        limit = (cap + 24) << 20
        assert summary["engine_mem_peak"] <= (cap << 20) + 4096, summary["engine_mem_peak"]
        if not SANITIZED:
            assert summary["peak_rss"] <= limit, "peak RSS %d MiB over %d MiB" % (
                summary["peak_rss"] >> 20, limit >> 20)
        assert summary["ends"]["memcap"] >= n // 2, summary["ends"]
        # without the cap the same capture needs far more: the cap did the work
        r = subprocess.run([WEFT, "-j", "read", "-q", "-c", pcap], stdout=subprocess.PIPE, check=True)
        uncapped = json.loads(r.stdout.strip().splitlines()[-1])
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

t = harness.Tests("generator")
seeds = [1] if QUICK else [1, 2, 3]
for name, args in SCENARIOS:
    for seed in seeds:
        t.run("%s (seed %d)" % (name, seed), run_scenario, args, seed)
t.run("overlap policy last gives the same truth on consistent retransmissions",
      run_scenario, ["--overlap", "0.4", "--reorder", "0.3"], 4, ["--overlap", "last"])
t.run("memory cap on a capture built to hurt", memcap)
t.run("several files continue each other", split_files)
t.run("filter expression", filtered)
sys.exit(t.done())
