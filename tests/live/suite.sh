# The frame every live test script shares, sourced from the checkout's top
# with SUITE (the name its lines start with), CASES (how many it runs, for
# the line a user without root gets) and WHY (what needs root) set.
ROOT=$PWD
WEFT=$ROOT/build/weft
PY=/usr/bin/python3
pass=0; fail=0
ok() { echo "ok   $SUITE: $1"; pass=$((pass + 1)); }
ko() { echo "FAIL $SUITE: $1"; fail=$((fail + 1)); }
# The end of a case that made its own namespaces: its servers stopped, the
# namespaces removed, the verdict. case_end BAD LABEL TEXT
case_end() {
	kill "${PIDS[@]}" 2>/dev/null; wait 2>/dev/null; PIDS=()
	topo_down
	if [ "$1" = 0 ]; then ok "$3"; else ko "$2: $1"; fi
}
# the last line run-all.sh counts, and the script's status
suite_end() {
	echo "$SUITE: $pass passed, $fail failed, 0 skipped"
	[ "$fail" = 0 ]
}
if [ "$(id -u)" != 0 ]; then
	echo "$SUITE: skipped: not root ($WHY)"
	echo "$SUITE: 0 passed, 0 failed, $CASES skipped"
	exit 0
fi
