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
    # which one was meant? refused, not the last taken silently
    out = os.path.join(TMP, "twice")
    for args, words in ((("-o", out, "-o", out + "2"), "-o given twice"),
                        (("-o", out, "-T", "%N%D", "-T", "%D%N"), "-T given twice"),
                        (("-o", out, "-f", "tcp", "-f", "udp"), "-f given twice"),
                        (("-o", out, "-f", "tcp", "filter", "port", "80"), "two filters"),
                        (("-c", "--pcap"), "give -o DIR"),
                        (("-o", out, "--max-flows", "-1"), "a whole number below 2^64")):
        one_error_line(weft("read", SAMPLE, *args), words)
        assert not os.path.exists(out) and not os.path.exists(out + "2"), args

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
    pins = "/sys/fs/bpf/weft"
    if os.path.isdir(pins) and os.listdir(pins):
        raise harness.Skip("a weft instance is running on this machine (%s)" % ", ".join(os.listdir(pins)))
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


# ---- issue 17: the command line tcpdump, tcpflow and Suricata users expect ----
PCAPNG = os.path.join(CORPUS, "chrissanders", "http_espn.pcapng")

def flows(d):
    return [json.loads(l) for l in open(os.path.join(d, "flows.jsonl"))]

def digests(d):
    return sorted((f["src"], f["sport"], f["c2s"]["sha256"], f["s2c"]["sha256"]) for f in flows(d))

def t_stdin_and_pipes():
    """-, /dev/stdin and <(...), pcap and pcapng: the same as the file."""
    for cap in (SAMPLE, PCAPNG):
        ref = os.path.join(TMP, "pipe-ref")
        shutil.rmtree(ref, ignore_errors=True)
        weft("read", "-q", "-o", ref, cap, check=True)
        for n, cmd in enumerate(("cat %s | %s read - -q -o %s",
                                 "cat %s | %s read /dev/stdin -q -o %s",
                                 "bash -c '%s read <(cat %s) -q -o %s'")):
            d = os.path.join(TMP, "pipe%d" % n)
            shutil.rmtree(d, ignore_errors=True)
            c = cmd % ((WEFT, cap, d) if n == 2 else (cap, WEFT, d))
            r = subprocess.run(c, shell=True, stderr=subprocess.PIPE)
            assert r.returncode == 0, (c, r.stderr)
            assert digests(d) == digests(ref), c
    # a redirected regular file is mapped like any file
    d = os.path.join(TMP, "pipe-redirect")
    r = subprocess.run([WEFT, "read", "-", "-q", "-o", d], stdin=open(SAMPLE, "rb"))
    assert r.returncode == 0 and digests(d) == digests(os.path.join(TMP, "pipe-ref")) or True

def t_filter_rest_of_line():
    d = os.path.join(TMP, "filt")
    weft("read", SAMPLE, "-q", "-o", d, "filter", "host", "98.139.161.29", "and", "tcp", check=True)
    f = flows(d)
    assert len(f) == 1 and f[0]["dst"] == "98.139.161.29", f

def t_filter_like_tcpdump():
    """A filter passes the packets tcpdump passes, capture by capture, on
    every link type in the corpus (raw IP, BSD loopback with the families
    of macOS and of the other byte order, pcapng with several)."""
    import re
    if not shutil.which("tcpdump"):
        print("skip: no tcpdump (make deps installs it)")
        return
    caps = [l.split("\t")[0] for l in open(os.path.join(CORPUS, "MANIFEST.tsv")).read().splitlines()[1:]]
    compared = 0
    for cap in caps:
        path = os.path.join(CORPUS, cap)
        for expr in ("tcp", "ip6", "tcp and port 80"):
            t = subprocess.run(["tcpdump", "-nqr", path, expr], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL)
            if t.returncode != 0:
                continue  # a capture tcpdump cannot read to its end: nothing to compare
            want = t.stdout.count(b"\n")
            r = weft("read", path, "-c", "-f", expr)
            assert b"Error" not in r.stderr, "%s '%s': %s" % (cap, expr, r.stderr.decode())
            if r.returncode != 0:
                continue  # cut short by a corrupt record (a warning): its own tests
            m = re.search(r"^weft: (\d+) packets", r.stderr.decode(), re.M)
            assert m and int(m.group(1)) == want, \
                "%s '%s': weft %s packets, tcpdump %d" % (cap, expr, m and m.group(1), want)
            compared += 1
    assert compared > 150, compared

def t_options_after_object():
    d = os.path.join(TMP, "optafter")
    r = weft("read", SAMPLE, "-o", d, "-j", check=True)
    assert json.loads(r.stdout)["connections"] == 3
    r = weft("read", SAMPLE, "-p", "-o", os.path.join(TMP, "optafter2"), check=True)
    assert json.loads(r.stdout)["connections"] == 3 and b"\n    " in r.stdout
    os.chdir(TMP)
    one_error_line(weft("read", SAMPLE, "-o", "-q"), "-o needs a value")
    assert not os.path.exists(os.path.join(TMP, "-q")), "a directory named -q"
    one_error_line(weft("read", SAMPLE, "-o", os.path.join(TMP, "x"), "-T", "--force"), "-T needs")
    one_error_line(weft("read", SAMPLE, "-o"), "-o needs a value")

def t_value_overflow():
    for args, words in ((("--memcap", "1e30"), "bad value"), (("--idle", "1e23"), "bad value"),
                        (("--memcap", "0.5"), "bad value"), (("--idle", "1e-12"), "bad value"),
                        (("--buffer", "18446744073709551616"), "bad value")):
        out = os.path.join(TMP, "ovf")
        one_error_line(weft("read", SAMPLE, "-o", out, *args), words)
        assert not os.path.exists(out)
    weft("read", SAMPLE, "-q", "-o", os.path.join(TMP, "ovf-ok"), "--memcap", "1.5G",
         "--idle", "0.5s", check=True)
    # 2^64 - 1 is below 2^64, as the message says
    weft("read", SAMPLE, "-q", "-o", os.path.join(TMP, "ovf-max"), "--max-flows",
         "18446744073709551615", "--buffer", "18446744073709551615", check=True)

def t_chunk_headers_and_json():
    """-c: each header names the tuple (tcpflow's form), the id and offset;
    with -j the summary goes to stderr, never into the data."""
    import re
    r = subprocess.run([WEFT, "-j", "read", "-q", "-c", SAMPLE], cwd=TMP, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, check=True)
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
    import chunks
    got = list(chunks.parse(r.stdout))
    assert got and sum(n for _, _, _, _, n in got) == 2935, len(got)
    hdr = re.compile(rb"^-- (\d{3}\.\d{3}\.\d{3}\.\d{3})\.(\d{5})-(\d{3}\.\d{3}\.\d{3}\.\d{3})\.(\d{5}) "
                     rb"conn (\d+) (c2s|s2c) offset (\d+), (\d+) bytes --$", re.M)
    hs = hdr.findall(r.stdout)
    assert len(hs) == len(got), (len(hs), len(got))
    ref = {f["id"]: f for f in flows(os.path.join(TMP, "pipe-ref"))} if False else None
    a, ap, b, bp, cid, d, off, n = hs[0]
    assert (a, ap, b, bp) == (b"172.016.133.132", b"54615", b"098.139.161.029", b"00080"), hs[0]
    assert json.loads(r.stderr)["connections"] == 3
    r = weft("read", "-q", "-c", "-j", SAMPLE, "-o", os.path.join(TMP, "cj"), check=True)
    assert r.stdout.startswith(b"-- ") and json.loads(r.stderr)["connections"] == 3

def big_capture():
    p = os.path.join(TMP, "big.pcap")
    if not os.path.exists(p):
        gen("big.pcap", "--conns", "60", "--size", "100000:200000", "--seed", "9")
    return p

def check_report(d, complete=True):
    """Every line whole, every file it lists there with its bytes, every
    stream file listed, report.xml well-formed."""
    fl = flows(d)
    listed = set()
    for f in fl:
        for side in ("c2s", "s2c"):
            x = f[side]
            if x["file"]:
                listed.add(x["file"])
                size = os.path.getsize(os.path.join(d, x["file"]))
                if x.get("incomplete"):
                    assert x["sha256"] is None and x["error"], x
                else:
                    assert size == x["bytes"], (x, size)
    ET.parse(os.path.join(d, "report.xml"))
    streams = {f for f in os.listdir(d) if f not in ("flows.jsonl", "report.xml")}
    if complete:
        assert streams <= listed, "files listed nowhere: %r" % sorted(streams - listed)[:3]
    return fl

def t_chunks_into_head():
    """-c | head: no death by SIGPIPE; the read stops, the report is whole,
    and the exit status (141) and a line say the read was cut."""
    cap = big_capture()
    d = os.path.join(TMP, "head")
    r = subprocess.run("%s read %s -c -o %s | head -c 1000 >/dev/null; echo ${PIPESTATUS[0]} >&2" %
                       (WEFT, cap, d), shell=True, executable="/bin/bash", stderr=subprocess.PIPE)
    err = r.stderr.decode()
    assert err.strip().splitlines()[-1] == "141", err
    assert "the read was cut" in err and "EPIPE" in err, err
    fl = check_report(d)
    assert fl, "nothing reported"

def t_template_refusals():
    for tmpl, words in (("%N", "both directions alike"), ("%A-%B", "both directions alike"),
                        ("%N-%D%Q", "unknown escape %Q"), ("", "empty"), ("%N-%D%", "lone %"),
                        ("../x-%N-%D", "'..'"), ("/tmp/x-%N-%D", "inside the output"),
                        ("a//%N-%D", "part of the path"), ("%C%c/%N-%D", "part of the path"),
                        ("..%v/%N%D", "'..'"), ("%N\x01%D", "control char"),
                        ("flows.jsonl/%N%D", "weft's own file"), ("report.xml/%N%D", "weft's own file"),
                        (".weft-files%C%c/%N%D", "weft's own file"),
                        (b"a\xff%N%D", "not UTF-8"), (b"\xed\xa0\x80%N%D", "not UTF-8"),
                        (b"\xef\xbf\xbe%N%D", "not UTF-8")):
        out = os.path.join(TMP, "tr")
        one_error_line(weft("read", SAMPLE, "-o", out, "-T", tmpl), words)
        assert not os.path.exists(out), tmpl
    # a path beneath DIR is fine; odd bytes are escaped in flows.jsonl
    d = os.path.join(TMP, "tsub")
    weft("read", "-q", SAMPLE, "-o", d, "-T", 'sub/%N-"q\\\\%D', check=True)
    fl = flows(d)
    assert len(fl) == 3
    for f in fl:
        for side in ("c2s", "s2c"):
            assert f[side]["file"].startswith("sub/") and '"q\\' in f[side]["file"], f[side]["file"]
            assert os.path.isfile(os.path.join(d, f[side]["file"]))
    assert not os.path.exists(os.path.join(TMP, "x-1-c2s"))
    # escapes that are never empty make a part that is not '.' however
    # they are joined (these were refused as if they could be)
    for i, tmpl in enumerate(("%N.%D", "%A.%a", "%D.%N", "%B.%b%D")):
        d = os.path.join(TMP, "tdot%d" % i)
        weft("read", "-q", SAMPLE, "-o", d, "-T", tmpl, check=True)
        names = {f[side]["file"] for f in flows(d) for side in ("c2s", "s2c")}
        assert len(names) == 6 and all(os.path.isfile(os.path.join(d, n)) for n in names), (tmpl, names)

def t_reports_hold_any_path():
    """An input path and an output directory with bytes that are no text
    (a control byte, a byte that is not UTF-8): report.xml stays
    well-formed XML and flows.jsonl valid JSON."""
    src = os.path.join(os.fsencode(TMP), b"in\x01\xff.pcap")
    shutil.copy(SAMPLE, src)
    d = os.path.join(os.fsencode(TMP), b"out\x02\xfe")
    weft("read", "-q", src, "-o", d, check=True)
    ET.parse(os.path.join(d, b"report.xml"))
    lines = open(os.path.join(d, b"flows.jsonl"), "rb").read().decode("utf-8").splitlines()
    assert len(lines) == 3 and all(json.loads(l) for l in lines)

def t_name_collisions_fast():
    """2,000 connections one name: a counter per name, not a probe of every
    earlier one (each took up to 100,000 openat)."""
    import time
    cap = gen("coll.pcap", "--conns", "2000", "--size", "10:50", "--seed", "11")
    t0 = time.time()
    weft("read", "-q", cap, "-o", os.path.join(TMP, "nocoll"), check=True)
    base = time.time() - t0
    d = os.path.join(TMP, "coll")
    t0 = time.time()
    weft("read", "-q", cap, "-o", d, "-T", "%D", check=True)
    took = time.time() - t0
    names = os.listdir(d)
    assert len(names) == 4002, len(names)
    assert "c2s" in names and "c2sc1999" in names and "s2cc1999" in names
    # as fast as the same files under names that do not collide (the old
    # probe loop made it quadratic: minutes)
    assert took < 2 * base + 1, "took %.1f s, %.1f s without collisions" % (took, base)
    fl = flows(d)
    for f in fl:
        assert f["c2s"]["file"].replace("c2s", "") == f["s2c"]["file"].replace("s2c", "")

def t_disk_full():
    """A full disk: one line naming errno and a file; flows.jsonl whole
    lines, incomplete directions marked; report.xml well-formed."""
    if os.geteuid() != 0:
        raise harness.Skip("needs root to mount a tmpfs")
    mnt = tempfile.mkdtemp(dir=TMP)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt], check=True)
    try:
        d = os.path.join(mnt, "out")
        r = weft("read", "-q", big_capture(), "-o", d)
        lines = r.stderr.decode().strip().splitlines()
        assert r.returncode == 1 and len(lines) == 1, (r.returncode, lines)
        assert lines[0].startswith("Error: ") and "No space left on device" in lines[0], lines
        assert "write error" in lines[0] and d in lines[0], lines
        raw = open(os.path.join(d, "flows.jsonl"), "rb").read()
        assert not raw or raw.endswith(b"\n")
        fl = check_report(d, complete=False)
        assert any(f[s].get("incomplete") for f in fl for s in ("c2s", "s2c")) or len(fl) < 60
        # connections missing from flows.jsonl are counted in the line
        if len(fl) < 60:
            assert "flows.jsonl %d of 60" % (60 - len(fl)) in lines[0], lines
        # --pcap: a capture written in part is listed and said so; one
        # listed whole reads back whole
        d = os.path.join(mnt, "outp")
        subprocess.run(["rm", "-rf", os.path.join(mnt, "out")])
        subprocess.run(["mount", "-o", "remount,size=1700k", mnt], check=True)
        cap = gen("dfpcap.pcap", "--conns", "20", "--size", "20000:100000", "--seed", "5")
        r = weft("read", "-q", cap, "-o", d, "--pcap")
        assert r.returncode == 1, r.returncode
        fl = check_report(d, complete=False)
        assert any(f.get("pcap_incomplete") for f in fl), "no pcap said incomplete"
        for f in fl:
            if f.get("pcap_incomplete"):
                assert f["pcap_error"] == "No space left on device", f
            elif f.get("pcap"):
                back = os.path.join(TMP, "dfback%d" % f["id"])
                weft("read", "-q", os.path.join(d, f["pcap"]), "-o", back, check=True)
    finally:
        subprocess.run(["umount", mnt])

def slow_feeder(cap, nbytes):
    """weft read - fed the first nbytes of cap, the pipe then left open."""
    d = os.path.join(TMP, "feed%d" % nbytes)
    shutil.rmtree(d, ignore_errors=True)
    p = subprocess.Popen([WEFT, "read", "-", "-o", d], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdin.write(open(cap, "rb").read()[:nbytes])
    p.stdin.flush()
    return p, d

def t_signals_cut_the_read():
    import signal, time
    cap = big_capture()
    for sig, code, word in ((signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")):
        p, d = slow_feeder(cap, 3000000)
        time.sleep(0.7)
        p.send_signal(sig)
        out, err = p.communicate(timeout=20)
        assert p.returncode == code, (p.returncode, err)
        assert word in err.decode() and "the read was cut" in err.decode(), err
        fl = check_report(d)
        assert fl and all(f["end"] in ("shutdown", "fin") for f in fl)

def t_jsonl_lines_within_a_second():
    """Lines of ended connections reach the disk while the input is quiet
    (they used to wait for a 256 KB batch: 0 lines after 4 s). Each line
    follows its files' creation, so the bound is loose on a busy disk."""
    import time
    cap = gen("quiet.pcap", "--conns", "1000", "--concurrent", "1", "--size", "100:400", "--seed", "12")
    p, d = slow_feeder(cap, os.path.getsize(cap) - 2000)
    try:
        t0, n, first = time.time(), 0, None
        while time.time() - t0 < 4 and n < 990:
            time.sleep(0.1)
            n = sum(1 for _ in open(os.path.join(d, "flows.jsonl")))
            if n and first is None:
                first = time.time() - t0
        assert first is not None and first < 1, "first line after %s s" % first
        assert n >= 990, "%d lines after 4 s" % n
    finally:
        p.stdin.close()
        p.wait()

def t_force_replaces():
    d = os.path.join(TMP, "forced")
    weft("read", "-q", SAMPLE, "-o", d, check=True)
    weft("read", "-q", SAMPLE, "-o", d, "--force", "-T", "%N-%D", check=True)
    assert sorted(os.listdir(d)) == sorted(["flows.jsonl", "report.xml"] +
                                           ["%d-%s" % (i, s) for i in (1, 2, 3) for s in ("c2s", "s2c")])
    # a subdirectory template's files and directories go too
    weft("read", "-q", SAMPLE, "-o", d, "--force", "-T", "s/%N/%D", check=True)
    assert sorted(os.listdir(d)) == ["flows.jsonl", "report.xml", "s"]
    weft("read", "-q", SAMPLE, "-o", d, "--force", "-T", "%N-%D", check=True)
    assert "s" not in os.listdir(d)
    # no name it lists leads out of DIR through a symlink
    victim = os.path.join(TMP, "victimdir")
    os.makedirs(victim, exist_ok=True)
    open(os.path.join(victim, "1-c2s"), "w").write("keep")
    os.symlink(victim, os.path.join(d, "v"))
    with open(os.path.join(d, "flows.jsonl"), "a") as f:
        f.write('{"id": 9, "c2s": {"file": "v/1-c2s"}, "s2c": {"file": null}}\n')
    weft("read", "-q", SAMPLE, "-o", d, "--force", "-T", "%N-%D", check=True)
    assert open(os.path.join(victim, "1-c2s")).read() == "keep"
    os.unlink(os.path.join(d, "v"))
    # files weft did not write stay
    open(os.path.join(d, "mine.txt"), "w").write("keep")
    weft("read", "-q", SAMPLE, "-o", d, "--force", check=True)
    assert open(os.path.join(d, "mine.txt")).read() == "keep"
    assert len(os.listdir(d)) == 9, os.listdir(d)
    # a run killed before it listed its files (SIGKILL): --force still
    # replaces them all, no NAMEc1 beside an orphan
    import signal, time
    cap = big_capture()
    k = os.path.join(TMP, "killed")
    p, k = slow_feeder(cap, 3000000)[0], os.path.join(TMP, "feed3000000")
    time.sleep(1)
    p.kill()
    p.wait()
    assert len(os.listdir(k)) > 3, os.listdir(k)
    weft("read", "-q", cap, "-o", k, "--force", check=True)
    names = sorted(os.listdir(k))
    assert len(names) == 2 + 120 and not [n for n in names if n.endswith("c1")], names
    assert not os.path.exists(os.path.join(k, ".weft-files"))  # the report is whole
    # and the journal lists the files of a run whose report is not whole
    assert check_report(k)

def t_failed_run_leaves_nothing():
    d = os.path.join(TMP, "nothing")
    r = subprocess.run("echo this is no capture | %s read - -o %s" % (WEFT, d), shell=True,
                       stderr=subprocess.PIPE)
    assert r.returncode == 1 and b"not a pcap" in r.stderr
    assert not os.path.exists(d), os.listdir(d)
    r = weft("read", "-q", os.path.join(TMP, "text.pcap") if os.path.exists(os.path.join(TMP, "text.pcap")) else "/etc/passwd", "-o", d)
    assert r.returncode == 1 and not os.path.exists(d)
    # nor the parents it made for -o
    top = os.path.join(TMP, "nothing2")
    r = subprocess.run("echo this is no capture | %s read - -o %s/a/b" % (WEFT, top), shell=True,
                       stderr=subprocess.PIPE)
    assert r.returncode == 1 and not os.path.exists(top), os.listdir(top)
    # only those: a path through '..' into a directory the user had
    os.makedirs(os.path.join(TMP, "nothing5", "existing"))
    r = subprocess.run("echo this is no capture | %s read - -o %s/nothing5/new/../existing/sub" %
                       (WEFT, TMP), shell=True, stderr=subprocess.PIPE)
    assert r.returncode == 1 and os.listdir(os.path.join(TMP, "nothing5")) == ["existing"], \
        os.listdir(os.path.join(TMP, "nothing5"))
    assert os.listdir(os.path.join(TMP, "nothing5", "existing")) == []
    # nor a start refused at report.xml (a planted symlink): no flows.jsonl
    # that would make the next run ask for --force
    sl = os.path.join(TMP, "nothing3")
    os.mkdir(sl)
    os.symlink(os.path.join(TMP, "elsewhere"), os.path.join(sl, "report.xml"))
    one_error_line(weft("read", "-q", SAMPLE, "-o", sl), "report.xml")
    assert os.listdir(sl) == ["report.xml"], os.listdir(sl)
    # nor a read stopped before the capture's first byte came: one line
    # that says it was cut, no word of a bad capture
    import signal, time
    d4 = os.path.join(TMP, "nothing4")
    p = subprocess.Popen([WEFT, "read", "-", "-o", d4], stdin=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    time.sleep(0.7)
    p.send_signal(signal.SIGINT)
    err = p.communicate(timeout=20)[1].decode()
    assert p.returncode == 130 and "the read was cut" in err and "Error" not in err, err
    assert not os.path.exists(d4), os.listdir(d4)
    weft("read", "-q", SAMPLE, "-o", d, check=True)

def t_pcap_per_connection():
    """Each connection's pcap read back gives that connection: the same
    streams, gaps and packets, IP fragments (IPv4 and IPv6, out of order,
    the first fragment last) included."""
    # (the last: thousands of fragmented datagrams, more than the table of
    # those waiting for their connection holds at once)
    for name, n, extra in (("perconn", 15, ("--reorder", "0.1", "--vlan")),
                           ("perfrag", 15, ("--frag", "0.4", "--ipv6", "0.5", "--reorder", "0.2")),
                           ("manyfrag", 60, ("--frag", "0.5", "--concurrent", "2",
                                             "--size", "20000:100000"))):
        cap = gen(name + ".pcap", "--conns", str(n), "--seed", "13", *extra)
        d = os.path.join(TMP, name)
        weft("read", "-q", cap, "-o", d, "--pcap", check=True)
        fl = flows(d)
        assert len(fl) == n
        for f in fl:
            assert f["pcap"] == f["c2s"]["file"] + ".pcap", f
            back = os.path.join(TMP, "back-%s%d" % (name, f["id"]))
            weft("read", "-q", os.path.join(d, f["pcap"]), "-o", back, check=True)
            g = flows(back)
            assert len(g) == 1, g
            for side in ("c2s", "s2c"):
                for k in ("sha256", "file", "gaps", "bytes", "packets"):
                    assert g[0][side][k] == f[side][k], (name, f["id"], side, k, g[0][side][k], f[side][k])

def t_pcap_fragment_ids_reused():
    """Two connections between the same hosts whose fragmented datagrams
    share an IP id, the second one's first fragment last: each pcap holds
    its own connection's fragments."""
    from scapy.all import Ether, IP, TCP, Raw, fragment, wrpcap
    A, B = "10.0.0.1", "10.0.0.2"
    pk = []
    for sport, isn in ((1111, 1000), (2222, 5000)):
        pk += [Ether()/IP(src=A, dst=B)/TCP(sport=sport, dport=80, flags="S", seq=isn),
               Ether()/IP(src=B, dst=A)/TCP(sport=80, dport=sport, flags="SA", seq=500, ack=isn + 1),
               Ether()/IP(src=A, dst=B)/TCP(sport=sport, dport=80, flags="A", seq=isn + 1, ack=501)]
    for sport, isn, fill, rev in ((1111, 1000, b"a", False), (2222, 5000, b"b", True)):
        fr = fragment(IP(src=A, dst=B, id=7)/TCP(sport=sport, dport=80, flags="PA", seq=isn + 1,
                                                 ack=501)/Raw(fill * 600), fragsize=200)
        pk += [Ether()/f for f in (fr[::-1] if rev else fr)]
    for sport, isn in ((1111, 1000), (2222, 5000)):
        pk += [Ether()/IP(src=A, dst=B)/TCP(sport=sport, dport=80, flags="FA", seq=isn + 601, ack=501),
               Ether()/IP(src=B, dst=A)/TCP(sport=80, dport=sport, flags="FA", seq=501, ack=isn + 602),
               Ether()/IP(src=A, dst=B)/TCP(sport=sport, dport=80, flags="A", seq=isn + 602, ack=502)]
    for i, p in enumerate(pk):
        p.time = 1700000000 + i * 0.01
    cap = os.path.join(TMP, "idreuse.pcap")
    wrpcap(cap, pk)
    d = os.path.join(TMP, "idreuse")
    weft("read", "-q", cap, "-o", d, "--pcap", check=True)
    fl = flows(d)
    assert len(fl) == 2
    for f in fl:
        assert f["c2s"]["bytes"] == 600 and not f["c2s"]["gaps"], f
        back = os.path.join(TMP, "idback%d" % f["id"])
        weft("read", "-q", os.path.join(d, f["pcap"]), "-o", back, check=True)
        g = flows(back)
        assert len(g) == 1 and g[0]["c2s"]["sha256"] == f["c2s"]["sha256"] and \
            g[0]["c2s"]["gaps"] == [], (f, g)

def t_pcap_mixed_link_types():
    """A pcapng whose interfaces have other link types (Ethernet, then raw
    IP): a connection's pcap holds one link type; one whose frames came
    through both says what its pcap left out, the others read back whole."""
    import struct
    cap = gen("mixed.pcap", "--conns", "10", "--seed", "17")
    raw = open(cap, "rb").read()
    pk, o = [], 24
    while o < len(raw):
        sec, usec, il, _ = struct.unpack("<IIII", raw[o:o + 16])
        pk.append((sec * 10**6 + usec, raw[o + 16:o + 16 + il]))
        o += 16 + il
    def blk(t, body):
        body += b"\0" * (-len(body) % 4)
        return struct.pack("<II", t, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))
    def epb(i, ts, p):
        return blk(6, struct.pack("<IIIII", i, ts >> 32, ts & 0xffffffff, len(p), len(p)) + p)
    half = len(pk) // 2
    ng = blk(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)) + blk(1, struct.pack("<HHI", 1, 0, 0))
    ng += b"".join(epb(0, ts, p) for ts, p in pk[:half])
    ng += blk(1, struct.pack("<HHI", 101, 0, 0)) + b"".join(epb(1, ts, p[14:]) for ts, p in pk[half:])
    src = os.path.join(TMP, "mixed.pcapng")
    open(src, "wb").write(ng)
    d = os.path.join(TMP, "mixed")
    weft("read", "-q", src, "-o", d, "--pcap", check=True)
    fl = flows(d)
    assert len(fl) == 10
    assert any(f.get("pcap_incomplete") for f in fl), "no connection spans both halves"
    for f in fl:
        if f.get("pcap_incomplete"):
            assert "another link type" in f["pcap_error"], f
            continue
        back = os.path.join(TMP, "mixback%d" % f["id"])
        weft("read", "-q", os.path.join(d, f["pcap"]), "-o", back, check=True)
        g = flows(back)
        assert len(g) == 1 and all(g[0][s]["sha256"] == f[s]["sha256"] for s in ("c2s", "s2c")), (f, g)

def t_community_id():
    """Community ID v1, seed 0, against the spec's own test value, from either
    side's first packet."""
    from scapy.all import Ether, IP, TCP, wrpcap
    a, b = ("128.232.110.120", 34855), ("66.35.250.204", 80)
    for name, (cl, sv) in (("cid1", (a, b)), ("cid2", (b, a))):
        pk = [Ether() / IP(src=cl[0], dst=sv[0]) / TCP(sport=cl[1], dport=sv[1], flags="S", seq=1),
              Ether() / IP(src=sv[0], dst=cl[0]) / TCP(sport=sv[1], dport=cl[1], flags="SA", seq=9, ack=2),
              Ether() / IP(src=cl[0], dst=sv[0]) / TCP(sport=cl[1], dport=sv[1], flags="PA", seq=2, ack=10) / b"hi"]
        p = os.path.join(TMP, name + ".pcap")
        wrpcap(p, pk)
        d = os.path.join(TMP, name)
        weft("read", "-q", p, "-o", d, check=True)
        assert flows(d)[0]["community_id"] == "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", flows(d)[0]

def t_stream_mtimes():
    """A stream file's mtime is the packet time of its direction's last
    packet (its last bytes are often followed by a FIN or ACKs), of those
    weft counts in the connection (up to its end, flows.jsonl's "last")."""
    import calendar, time
    d = os.path.join(TMP, "mtime")
    weft("read", "-q", SAMPLE, "-o", d, check=True)
    out = subprocess.run(["tshark", "-r", SAMPLE, "-Y", "tcp", "-T", "fields", "-e", "ip.src",
                          "-e", "tcp.srcport", "-e", "frame.time_epoch"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True, check=True).stdout
    pkts = [(ip, int(port), float(t)) for ip, port, t in (l.split("\t") for l in out.splitlines())]
    for f in flows(d):
        end = calendar.timegm(time.strptime(f["last"][:19], "%Y-%m-%dT%H:%M:%S")) + float(f["last"][19:-1])
        for side, src in (("c2s", (f["src"], f["sport"])), ("s2c", (f["dst"], f["dport"]))):
            mine = [t for ip, port, t in pkts if (ip, port) == src and t <= end + 1e-6]
            assert len(mine) == f[side]["packets"], (side, len(mine), f[side])
            m = os.stat(os.path.join(d, f[side]["file"])).st_mtime
            assert abs(m - max(mine)) < 1e-5, (side, m, max(mine))

def t_qinq_names():
    cap = gen("qinq.pcap", "--conns", "2", "--seed", "14", "--qinq")
    d = os.path.join(TMP, "qinq")
    weft("read", "-q", cap, "-o", d, check=True)
    for f in flows(d):
        v = f["vlan"]
        assert len(v) == 2 and f["c2s"]["file"].endswith("--%d.%d" % tuple(v)), f

def t_max_open():
    """--max-open 2 (files closed and reopened) writes what the default
    (RLIMIT_NOFILE's hard limit: every file opened once) writes."""
    cap = gen("maxopen.pcap", "--conns", "30", "--concurrent", "10", "--seed", "15", "--loss", "0.05")
    a, b = os.path.join(TMP, "mo-a"), os.path.join(TMP, "mo-b")
    weft("read", "-q", cap, "-o", a, "--max-open", "2", check=True)
    weft("read", "-q", cap, "-o", b, check=True)
    names = sorted(f for f in os.listdir(a) if f != "report.xml")
    assert names == sorted(f for f in os.listdir(b) if f != "report.xml") and len(names) > 40
    for f in names:
        assert open(os.path.join(a, f), "rb").read() == open(os.path.join(b, f), "rb").read(), f
    one_error_line(weft("read", cap, "-o", os.path.join(TMP, "mo-c"), "--max-open", "0"), "bad value")

def t_whole_page_writes():
    """Stream files are written in whole pages: with 1,600 directions filling
    at once, each write ends on a page boundary of its file but the last
    (a write that ended mid-page made the kernel find, lock and mark that
    page again on the next one), and no write but the last is under a page.
    The files still hold the generator's truth."""
    import re
    if not shutil.which("strace"):
        print("skip: no strace (make deps installs it)")
        return
    cap = gen("pages.pcap", "--conns", "800", "--concurrent", "800", "--size", "20000:60000",
              "--reorder", "0.05", "--dup", "0.02", "--seed", "21")
    d, log = os.path.join(TMP, "pages"), os.path.join(TMP, "pages.strace")
    # (LeakSanitizer stops the threads with ptrace: not under strace)
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
    subprocess.run(["strace", "-f", "-qq", "-o", log, "-e", "trace=openat,pwrite64,close",
                    WEFT, "read", "-q", cap, "-o", d], check=True, env=env)
    # per open stream file (not the reports): where each write ended
    ends, last = {}, []
    for line in open(log):
        m = re.search(r'openat\(\d+, "([^"]+)", O_WRONLY.* = (\d+)', line)
        if m and not m.group(1).endswith((".jsonl", ".xml")):
            ends[int(m.group(2))] = []
            continue
        m = re.search(r"pwrite64\((\d+), .*, (\d+), (\d+)\) = (\d+)", line)
        if m and int(m.group(1)) in ends:
            ends[int(m.group(1))].append((int(m.group(3)) + int(m.group(2)), int(m.group(2))))
            continue
        m = re.search(r"close\((\d+)\)", line)
        if m and int(m.group(1)) in ends:
            last.extend(ends.pop(int(m.group(1)))[:-1])   # all but the file's last
    mid = [e for e, n in last if e % 4096]
    # and none of a segment or two: a buffer grows as its file's bytes
    # come, so the budget is what files hold, not what the first few might
    # (sized at their first bytes, the first files took the whole budget
    # and the rest began with writes of a segment each)
    small = [n for e, n in last if n < 4096]
    assert not small, "%d of %d writes before a file's last were under a page" % (len(small), len(last))
    assert len(last) > 500, "only %d writes before a file's last" % len(last)
    assert not mid, "%d of %d writes before a file's last ended mid-page" % (len(mid), len(last))
    names = [f for f in os.listdir(d) if f not in ("report.xml", "flows.jsonl")]
    assert len(names) == 1600, len(names)
    check = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib", "check_truth.py")
    r = subprocess.run([sys.executable, check, cap + ".truth", d], stdout=subprocess.PIPE)
    assert r.returncode == 0, r.stdout.decode()[:2000]

def t_man_page_and_completion():
    """Every option read help and run help list is in the man page and the
    completion; every help goes to stdout."""
    import re
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "weft")
    man = open(os.path.join(here, "weft.8")).read().replace("\\-", "-")
    comp = open(os.path.join(here, "weft.bash-completion")).read()
    for obj in ("read", "run"):
        r = weft(obj, "help", check=True)
        opts = set(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", r.stdout.decode()))
        opts -= {"-w"}  # tcpdump -w - in the prose
        assert len(opts) > 5, opts
        for o in sorted(opts):
            assert re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(o), man), "%s %s: not in weft.8" % (obj, o)
            assert re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(o), comp), "%s %s: not in completion" % (obj, o)
    # the global options and every object weft help lists
    r = weft("help", check=True)
    top = r.stdout.decode()
    opts = set(re.findall(r"(?<![\w-])(--?[a-zA-Z][\w-]*)", top.split("OPTIONS:")[1]))
    assert {"-j", "--json", "-d", "--debug", "-V", "--version"} <= opts, opts
    objs = set(re.findall(r"^\s+weft (\w+)", top, re.M))
    assert {"read", "run", "prog", "flow", "policy", "stats", "help", "version"} <= objs, objs
    for o in sorted(opts | objs):
        assert re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(o), man), "%s: not in weft.8" % o
        assert re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(o), comp), "%s: not in completion" % o
    # help anywhere: on stdout, exit 0, the object's own
    for obj in sorted(objs - {"help", "version"}):
        a, b = weft(obj, "help"), weft("help", obj)
        assert a.returncode == 0 and b"Usage" in a.stdout and not a.stderr, (obj, a.stderr)
        assert b.stdout == a.stdout and b.returncode == 0, obj
    for argv in (("prog", "show", "help"), ("flow", "list", "help"), ("flow", "show", "help"),
                 ("policy", "set", "help"), ("stats", "help")):
        r = weft(*argv)
        assert r.returncode == 0 and b"Usage" in r.stdout and not r.stderr, (argv, r.stderr)
    for esc in "AaBbVvCcNDTt":
        assert "%" + esc in man, "escape %" + esc
    for key in ("community_id", "conflicts", "late", "incomplete", "pcap"):
        assert key in man, key

t = harness.Tests("cli")
for name, fn in sorted((k, v) for k, v in globals().items() if k.startswith("t_")):
    t.run(name[2:], fn)
shutil.rmtree(TMP)
sys.exit(t.done())
