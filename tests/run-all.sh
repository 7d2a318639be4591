#!/bin/bash
# Every test of weft, in order: unit, generator truth, corpus against ground
# truth and peers, the command line, all of it again under ASan/UBSan, and a
# bounded fuzz run. Prints one line per test and a closing "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
CORPUS=${CORPUS:-../shared/corpus}
PY=/usr/bin/python3            # Debian's python, where scapy and friends live
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
LOG=$(mktemp -d)
trap 'rm -rf "$LOG"' EXIT
pass=0; fail=0; skip=0

# add the counts a suite printed on its closing line
count() {
	local out=$1 p f s
	if grep -q "^\[==========\]" "$out"; then      # cmocka
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | tail -1)
		s=0
	else
		read -r p f s < <(sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1 \2 \3/p' "$out" | tail -1)
	fi
	pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0})); skip=$((skip + ${s:-0}))
}

suite() {
	local name=$1; shift
	local out="$LOG/$(echo "$name" | tr ' /' '__').log"
	echo "== $name"
	"$@" >"$out" 2>&1
	local rc=$?
	if [ $rc -ne 0 ] && grep -q "^FAIL" "$out"; then
		# a failing script's own words around its FAIL lines say why
		grep -vE "^(ok|skip) |: [0-9]+ passed, [0-9]+ failed, " "$out" | tail -40
	else
		grep -E "^(FAIL|skip)|^\[  (FAILED|ERROR) |^\[   LINE|ERROR:|runtime error" "$out" | head -40
	fi
	count "$out"
	if [ $rc -ne 0 ] && ! grep -qE "^(FAIL|\[  FAILED)" "$out"; then
		# it died without saying which test: that is a failure too
		echo "FAIL $name: exit $rc"; tail -20 "$out"; fail=$((fail + 1))
	fi
	tail -1 "$out"
}

if [ ! -d "$CORPUS" ]; then
	echo "Error: the corpus is not at $CORPUS (set CORPUS=...)"; exit 1
fi

echo "== build"
make -s -j2 all build/fuzz_engine || { echo "0 passed, 1 failed"; exit 1; }
SAN="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
make -s -j2 O=build-asan CC=clang CFLAGS="$SAN" all || { echo "0 passed, 1 failed"; exit 1; }
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1
make -s -j2 O=build-tsan CC=clang CFLAGS="-O1 -g -fsanitize=thread" build-tsan/weft ||
	{ echo "0 passed, 1 failed"; exit 1; }

suite "unit" build/test_engine
suite "unit: declared gaps" build/test_gapset
suite "unit: segment list" build/test_seglist
suite "library symbols" tests/unit/symbols.sh build/libweft.a
suite "unit: stream layer" build/test_stream
suite "generator truth" $PY tests/gen/test_gen.py build/weft build/weft-gen
suite "PcapPlusPlus expected" $PY tests/corpus/test_pcapplusplus.py build/weft "$CORPUS"
suite "tshark follow (every capture)" $PY tests/corpus/test_tshark.py build/weft "$CORPUS" \
	$(cut -f1 "$CORPUS/MANIFEST.tsv" | tail -n +2)
suite "tcpflow differential" $PY tests/corpus/test_tcpflow.py build/weft "$CORPUS"
suite "command line" $PY tests/cli/test_cli.py build/weft build/weft-gen "$CORPUS"
suite "memory, disk and time under attack" $PY tests/mem/test_memcap.py build/weft

suite "unit (ASan/UBSan)" build-asan/test_engine
suite "unit: declared gaps (ASan/UBSan)" build-asan/test_gapset
suite "unit: segment list (ASan/UBSan)" build-asan/test_seglist
suite "unit: stream layer (ASan/UBSan)" build-asan/test_stream
suite "unit: worker stages, slow writer (ASan/UBSan)" build-asan/test_hasher
# (the generator is a test tool: the plain build makes the captures)
suite "generator truth (ASan/UBSan)" $PY tests/gen/test_gen.py build-asan/weft build/weft-gen quick sanitized
suite "PcapPlusPlus expected (ASan/UBSan)" $PY tests/corpus/test_pcapplusplus.py build-asan/weft "$CORPUS"
suite "tshark follow (ASan/UBSan)" $PY tests/corpus/test_tshark.py build-asan/weft "$CORPUS" \
	$(cut -f1 "$CORPUS/MANIFEST.tsv" | tail -n +2)
suite "attacks (ASan/UBSan)" $PY tests/mem/test_memcap.py build-asan/weft sanitized
suite "command line (ASan/UBSan)" $PY tests/cli/test_cli.py build-asan/weft build/weft-gen "$CORPUS"
suite "reader and worker threads (TSan)" tests/unit/threads.sh build-tsan/weft build/weft-gen

fuzz() {
	local dir=$LOG/fuzz
	mkdir -p "$dir/pcaps"
	for a in "--reorder 0.3 --loss 0.2" "--frag 0.5 --ipv6 0.5" "--qinq --midstream 0.5 --rst 0.5" \
		 "--reuse 0.5 --wrap --dup 0.3" "--snaplen 120 --overlap 0.5" \
		 "--pppoe --pad --lie 0.3 --mpls 3 --vlan --wire-lie 0.2" "--ppp --mpls 2 --ipv6 0.5" \
		 "--llc --pad --mss 1400 --lie 0.3" "--ipv6 1 --dstopts --frag 0.5"; do
		build/weft-gen -o "$dir/pcaps/$RANDOM.pcap" -t /dev/null --conns 3 --size 200:3000 --mss 300 $a
	done
	$PY tests/fuzz/seeds.py "$dir/seeds" "$dir"/pcaps/*.pcap "$CORPUS/wireshark/tcp-badsegments.pcap" \
		"$CORPUS/pcapplusplus/ip4_fragments.pcap" "$CORPUS/pcapplusplus/ip6_fragments.pcap" \
		"$CORPUS/chrissanders/http_post.pcapng"
	local bin=$PWD/build/fuzz_engine
	if (cd "$dir" && "$bin" -max_total_time="$FUZZ_SECONDS" seeds >fuzz.log 2>&1); then
		grep -h "^Done" "$dir/fuzz.log"
		echo "fuzz: 1 passed, 0 failed, 0 skipped"
	else
		grep -hE "ERROR|SUMMARY|gap at|data at" "$dir/fuzz.log" | head
		echo "FAIL fuzz: see the crash above"
		echo "fuzz: 0 passed, 1 failed, 0 skipped"
		return 1
	fi
}
suite "fuzz (libFuzzer, ${FUZZ_SECONDS}s)" fuzz

if [ "$(id -u)" != 0 ]; then
	echo "== privileged tests (BPF, network namespaces): skipped, not root"
else
	suite "BPF program (BPF_PROG_TEST_RUN)" build/test_xdp
fi
for t in tests/live/test_*.sh; do
	[ -e "$t" ] || continue
	if [ "$(id -u)" != 0 ]; then skip=$((skip + 1)); continue; fi
	suite "$(basename "$t" .sh)" "$t"
done

echo
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
