#!/usr/bin/python3
"""The weft command line: errors, bad input, outputs, bpftool manners.

Bad input gets one clear line and a non-zero exit, and loses nothing already
reassembled; output never goes through a planted symlink nor mixes into an
earlier run's directory.
usage: test_cli.py WEFT WEFT_GEN CORPUS
"""
import json, os, shutil, stat, subprocess, sys, tempfile
import xml.etree.ElementTree as ET
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness

WEFT, GEN, CORPUS = (os.path.abspath(a) for a in sys.argv[1:4])
TMP = tempfile.mkdtemp()
SAMPLE = os.path.join(CORPUS, "pcapplusplus", "three_http_streams.pcap")

def weft(*args, check=None):
    r = subprocess.run([WEFT] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if check is not None:
        assert (r.returncode == 0) == check, "exit %d: %s" % (r.returncode, r.stderr.decode())
    return r

def one_error_line(r, words):
    lines = r.stderr.decode().strip().splitlines()
    assert r.returncode != 0, "exit 0"
    assert len(lines) == 1, "expected one line, got %r" % lines
    assert lines[0].startswith("Error: ") and words in lines[0], lines[0]

def gen(name, *args):
    p = os.path.join(TMP, name)
    subprocess.run([GEN, "-o", p, "-t", p + ".truth"] + list(args), check=True)
    return p

def t_missing():
    out = os.path.join(TMP, "never")
    one_error_line(weft("read", "/nonexistent.pcap", "-o", out), "No such file")
    assert not os.path.exists(out), "output directory created for nothing"

def t_not_capture():
    p = os.path.join(TMP, "text.pcap")
    open(p, "w").write("this is not a capture file\n" * 10)
    r = weft("read", p, "-o", os.path.join(TMP, "nc"))
    assert r.returncode != 0
    assert "not a pcap or pcapng capture file" in r.stderr.decode()

def t_directory_input():
    one_error_line(weft("read", TMP, "-o", os.path.join(TMP, "d")), "")

def t_truncated():
    full = gen("trunc.pcap", "--conns", "20", "--seed", "3")
    cut = os.path.join(TMP, "cut.pcap")
    data = open(full, "rb").read()
    open(cut, "wb").write(data[:-7])
    a, b = os.path.join(TMP, "ta"), os.path.join(TMP, "tb")
    weft("read", "-q", "-o", a, full, check=True)
    r = weft("read", "-q", "-o", b, cut)
    assert r.returncode != 0, "a cut file must not exit 0"
    assert "cut short" in r.stderr.decode(), r.stderr.decode()
    key = lambda f: (f["src"], f["sport"], f["dst"], f["dport"])
    fa = {key(f): f for f in map(json.loads, open(os.path.join(a, "flows.jsonl")))}
    fb = [json.loads(l) for l in open(os.path.join(b, "flows.jsonl"))]
    assert len(fb) == len(fa), "connections lost: %d of %d" % (len(fb), len(fa))
    same = sum(1 for f in fb if f["c2s"]["sha256"] == fa[key(f)]["c2s"]["sha256"]
               and f["s2c"]["sha256"] == fa[key(f)]["s2c"]["sha256"])
    assert same >= len(fa) - 1, "only %d of %d streams intact" % (same, len(fa))

def t_corrupt_record():
    full = gen("corrupt.pcap", "--conns", "5", "--seed", "4")
    data = bytearray(open(full, "rb").read())
    # the 40th record's caplen becomes absurd: everything before it counts
    pos, n = 24, 0
    while n < 40:
        cap = int.from_bytes(data[pos + 8:pos + 12], "little")
        pos += 16 + cap
        n += 1
    data[pos + 8:pos + 12] = (0x7fffffff).to_bytes(4, "little")
    p = os.path.join(TMP, "corrupt2.pcap")
    open(p, "wb").write(data)
    r = weft("-j", "read", "-q", "-o", os.path.join(TMP, "co"), p)
    assert r.returncode != 0
    assert json.loads(r.stdout.decode().strip().splitlines()[-1])["packets"] == 40

def t_existing_output():
    d = os.path.join(TMP, "existing")
    weft("read", "-q", "-o", d, SAMPLE, check=True)
    before = {f: open(os.path.join(d, f), "rb").read() for f in os.listdir(d)}
    one_error_line(weft("read", "-q", "-o", d, SAMPLE), "already holds weft output")
    assert before == {f: open(os.path.join(d, f), "rb").read() for f in os.listdir(d)}
    weft("read", "-q", "-o", d, "--force", SAMPLE, check=True)

def t_symlink_planted():
    d = os.path.join(TMP, "sym")
    os.makedirs(d)
    victim = os.path.join(TMP, "victim")
    open(victim, "w").write("keep me")
    ref = os.path.join(TMP, "symref")
    weft("read", "-q", "-o", ref, SAMPLE, check=True)
    name = sorted(f for f in os.listdir(ref) if f[0].isdigit())[0]
    os.symlink(victim, os.path.join(d, name))
    weft("read", "-q", "-o", d, SAMPLE, check=True)
    assert open(victim).read() == "keep me", "wrote through a symlink"
    # the stream went to the next free name instead
    assert open(os.path.join(d, name + "c1"), "rb").read() == open(os.path.join(ref, name), "rb").read()

def t_modes_and_reports():
    d = os.path.join(TMP, "modes")
    weft("read", "-q", "-o", d, SAMPLE, check=True)
    files = [f for f in os.listdir(d) if f[0].isdigit()]
    assert files
    for f in files + ["flows.jsonl", "report.xml"]:
        mode = stat.S_IMODE(os.stat(os.path.join(d, f)).st_mode)
        assert mode == 0o640, "%s has mode %o" % (f, mode)
    root = ET.parse(os.path.join(d, "report.xml")).getroot()
    objs = root.findall("fileobject")
    assert len(objs) == len(files), (len(objs), len(files))
    for o in objs:
        name = os.path.basename(o.find("filename").text)
        assert int(o.find("filesize").text) == os.path.getsize(os.path.join(d, name))
    for line in open(os.path.join(d, "flows.jsonl")):
        f = json.loads(line)
        for k in ("id", "src", "sport", "dst", "dport", "vlan", "first", "last", "end", "c2s", "s2c"):
            assert k in f, k
        for side in ("c2s", "s2c"):
            for k in ("file", "bytes", "packets", "gaps", "sha256"):
                assert k in f[side], k

def t_no_hash():
    """--no-hash: the same files and report, with no digest; the default's
    digest is the SHA-256 of each file."""
    import hashlib
    a, b = os.path.join(TMP, "hash"), os.path.join(TMP, "nohash")
    cap = gen("nohash.pcap", "--conns", "12", "--seed", "5", "--loss", "0.05")
    weft("read", "-q", "-o", a, cap, check=True)
    weft("read", "-q", "--no-hash", "-o", b, cap, check=True)
    fa = [json.loads(l) for l in open(os.path.join(a, "flows.jsonl"))]
    fb = [json.loads(l) for l in open(os.path.join(b, "flows.jsonl"))]
    assert len(fa) == len(fb) == 12, (len(fa), len(fb))
    for x, y in zip(fa, fb):
        for side in ("c2s", "s2c"):
            if x[side]["file"]:
                data = open(os.path.join(a, x[side]["file"]), "rb").read()
                assert x[side]["sha256"] == hashlib.sha256(data).hexdigest(), x[side]
                assert open(os.path.join(b, y[side]["file"]), "rb").read() == data
            assert y[side]["sha256"] is None, y[side]
            x[side]["sha256"] = None
        assert x == y, (x, y)
    root = ET.parse(os.path.join(b, "report.xml")).getroot()
    assert root.findall("fileobject") and not root.findall("fileobject/hashdigest")
    assert ET.parse(os.path.join(a, "report.xml")).getroot().findall("fileobject/hashdigest")

def t_chunks_stdout():
    d = os.path.join(TMP, "chunks")
    os.makedirs(d)
    r = subprocess.run([WEFT, "read", "-q", "-c", SAMPLE], cwd=d, stdout=subprocess.PIPE, check=True)
    assert r.stdout.startswith(b"-- 172.016.133.132.54615-098.139.161.029.00080 conn 1 c2s offset 0, "), r.stdout[:90]
    assert os.listdir(d) == [], "-c alone must write no files"

def t_bad_filter():
    out = os.path.join(TMP, "bf")
    one_error_line(weft("read", SAMPLE, "-o", out, "filter", "tcp port"), "filter")
    assert not os.path.exists(out)

def t_usage_errors():
    one_error_line(weft("read", SAMPLE, "--bogus"), "unknown option")
    one_error_line(weft("frobnicate"), "unknown object")
    one_error_line(weft("read"), "no capture file")
    one_error_line(weft("read", SAMPLE, "--memcap", "lots"), "bad value")

def t_json_errors():
    r = weft("-j", "read", "/nonexistent.pcap")
    assert r.returncode != 0
    assert "No such file" in json.loads(r.stdout)["error"]
    r = weft("-p", "nosuch")
    assert "error" in json.loads(r.stdout)

def t_help_and_prefix():
    r = weft("help", check=True)
    assert b"read" in r.stdout
    r = weft("read", "help", check=True)
    assert b"Usage" in r.stdout and not r.stderr
    d = os.path.join(TMP, "prefix")
    weft("re", "-q", "-o", d, SAMPLE, check=True)  # unique prefix of "read"
    assert os.path.exists(os.path.join(d, "flows.jsonl"))
    r = weft("-j", "version", check=True)
    assert json.loads(r.stdout)["version"]

def t_prog_and_stats_without_instance():
    # the control-plane objects, with no weft running: one line each, or
    # {"error": ...} with -j, and a non-zero exit
    one_error_line(weft("stats"), "no weft instance is running")
    one_error_line(weft("stats", "dev", "nosuch0"), "no weft instance is attached to nosuch0")
    one_error_line(weft("prog", "bogus"), "unknown command")
    one_error_line(weft("prog", "detach"), "which interface")
    one_error_line(weft("prog", "detach", "dev", "nosuch0"), "no weft instance is attached to nosuch0")
    one_error_line(weft("flow", "list"), "no weft instance is running")
    one_error_line(weft("flow", "li", "dev", "nosuch0"), "no weft instance is attached to nosuch0")
    one_error_line(weft("flow", "show"), "needs an ID")
    one_error_line(weft("flow", "show", "x1"), "a flow id is a number")
    one_error_line(weft("flow", "evict", "3", "dev", "nosuch0"), "no weft instance is attached")
    one_error_line(weft("flow", "bogus"), "unknown command")
    one_error_line(weft("policy", "show"), "no weft instance is running")
    one_error_line(weft("policy", "set", "dev", "nosuch0", "idle", "5s"), "no weft instance is attached")
    one_error_line(weft("policy", "frob"), "unknown command")
    # run's words, refused before anything is attached
    one_error_line(weft("run", "dev", "nosuch0", "ingress", "tcp"), "ingress needs tc or xdp")
    one_error_line(weft("run", "dev", "nosuch0", "ingress"), "ingress needs tc or xdp")
    r = weft("-j", "prog", "show", check=True)
    assert isinstance(json.loads(r.stdout), list)
    for args in (("stats", "dev", "nosuch0"), ("flow", "list", "dev", "nosuch0"),
                 ("policy", "show", "dev", "nosuch0"), ("flow", "show", "zz")):
        r = weft("-j", *args)
        assert r.returncode != 0 and json.loads(r.stdout)["error"], (args, r.stdout)
    for obj in ("prog", "flow", "policy", "stats"):
        r = weft(obj, "help")
        assert r.returncode == 0 and b"Usage:" in r.stdout and not r.stderr, (obj, r.stderr)

def t_template():
    d = os.path.join(TMP, "tmpl")
    weft("read", "-q", "-o", d, "-T", "%N-%A.%a", SAMPLE, check=True)
    assert any(f.startswith("1-") for f in os.listdir(d)), os.listdir(d)

def t_library_example():
    """The README's example (tools/examples/http-requests.c) finds every
    HTTP request tshark finds in a capture with real loss."""
    p = os.path.join(CORPUS, "pcapplusplus", "examples", "http-packets.pcap")
    ex = os.path.join(os.path.dirname(WEFT), "http-requests")
    mine = subprocess.run([ex, p], stdout=subprocess.PIPE, text=True, check=True).stdout.splitlines()
    theirs = subprocess.run(["tshark", "-r", p, "-Y", "http.request", "-T", "fields", "-e",
                             "http.request.method", "-e", "http.request.uri"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.splitlines()
    got = sorted(" ".join(l.split(" ")[1:3]) for l in mine)
    want = sorted(l.replace("\t", " ") for l in theirs)
    assert got == want and len(got) > 100, (len(got), len(want))

t = harness.Tests("cli")
for name, fn in sorted((k, v) for k, v in globals().items() if k.startswith("t_")):
    t.run(name[2:], fn)
shutil.rmtree(TMP)
sys.exit(t.done())
