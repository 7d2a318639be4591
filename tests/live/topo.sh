#!/bin/bash
# A test topology of our own, in network namespaces with unique names:
#   S (server) ==link== C (client); C mirrors both directions of its end of
#   the link (tc u32 + mirred) into a veth MS whose peer MM is in M, where
#   weft runs. MS is created in S and moved to C.
# Source this file; call topo_up, then topo_down (also set as an EXIT trap).
# Traffic stays between these namespaces.

TOPO=${TOPO:-wt$$}
S=${TOPO}s; C=${TOPO}c; M=${TOPO}m
LS=${TOPO}a; LC=${TOPO}b; MS=${TOPO}x; MM=${TOPO}y
SRV4=10.199.0.1; CLI4=10.199.0.2; SRV6=fd99::1; CLI6=fd99::2

topo_down() {
	for ns in $S $C $M; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "/sys/fs/bpf/weft/$MM" "/sys/fs/bpf/weft/$LS" 2>/dev/null
	true
}

topo_up() {
	local queues=${1:-1}
	topo_down
	ip netns add $S && ip netns add $C && ip netns add $M || return 1
	ip link add $LS netns $S type veth peer name $LC netns $C
	ip link add $MS netns $S numtxqueues "$queues" numrxqueues "$queues" type veth \
		peer name $MM netns $M numtxqueues "$queues" numrxqueues "$queues"
	ip -n $S addr add $SRV4/24 dev $LS
	ip -n $C addr add $CLI4/24 dev $LC
	ip -n $S addr add $SRV6/64 dev $LS nodad
	ip -n $C addr add $CLI6/64 dev $LC nodad
	for l in "$S $LS" "$C $LC" "$S $MS" "$M $MM"; do
		set -- $l
		ip -n "$1" link set "$2" up
	done
	ip -n $S link set lo up; ip -n $C link set lo up; ip -n $M link set lo up
	# the link runs at a wire's pace (tbf on the server's side), and a SPAN
	# port copies every frame of the client's end, both ways, to MS: a
	# mirror sees what a wire carried, not the host's unpaced bursts
	ip -n $S link set $MS netns $C
	ip -n $C link set $MS up
	# TOPO_UNPACED=1: a host's unpaced GSO bursts, offloads on, mirrored as
	# they are (a virtual mirror port in a container or VM host)
	[ -z "${TOPO_UNPACED:-}" ] &&
		ip netns exec $S tc qdisc add dev $LS root tbf rate "${TOPO_RATE:-400mbit}" burst 64kb latency 100ms
	ip netns exec $C tc qdisc add dev $LC clsact
	ip netns exec $C tc filter add dev $LC ingress protocol all u32 match u32 0 0 \
		action mirred egress mirror dev $MS
	ip netns exec $C tc filter add dev $LC egress protocol all u32 match u32 0 0 \
		action mirred egress mirror dev $MS
	# frames on a real wire are at most an MTU: keep the mirrored link's
	# segmentation offloads from handing the mirror 64 KB super-packets
	[ -n "${TOPO_UNPACED:-}" ] && return 0
	for l in "$S $LS" "$C $LC"; do
		set -- $l
		ip netns exec "$1" ethtool -K "$2" tso off gso off gro off >/dev/null 2>&1
	done
}

# Two namespaces only, S and C over the veth pair LS/LC, as two hosts
# talk: segmentation offloads on (the host's own interface hands TC 64 KB
# GSO packets), paced only if TOPO_RATE is set.
topo_up_pair() {
	topo_down
	ip netns add $S && ip netns add $C || return 1
	ip link add $LS netns $S type veth peer name $LC netns $C
	ip -n $S addr add $SRV4/24 dev $LS
	ip -n $C addr add $CLI4/24 dev $LC
	ip -n $S addr add $SRV6/64 dev $LS nodad
	ip -n $C addr add $CLI6/64 dev $LC nodad
	ip -n $S link set $LS up; ip -n $C link set $LC up
	ip -n $S link set lo up; ip -n $C link set lo up
	if [ -n "${TOPO_RATE:-}" ]; then
		ip netns exec $S tc qdisc add dev $LS root tbf rate "$TOPO_RATE" burst 64kb latency 100ms
	fi
}

# Processes started in the topology, and a scratch directory: both go on
# exit with the namespaces (topo_trap sets the trap).
PIDS=()
TOPO_SCRATCH=
topo_exit() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	topo_down
	[ -n "$TOPO_SCRATCH" ] && rm -rf "$TOPO_SCRATCH"
	true
}
topo_trap() { TOPO_SCRATCH=${1:-}; trap topo_exit EXIT INT TERM; }

# An HTTP server in S serving DIR on port 8080 (IPv4 and IPv6), stopped by
# topo_exit; waits until it answers.
serve_http() {
	(cd "$1" && exec ip netns exec "$S" /usr/bin/python3 -m http.server 8080 --bind :: \
		>/dev/null 2>&1) &
	PIDS+=($!)
	for _ in $(seq 50); do
		ip netns exec "$S" bash -c "exec 3<>/dev/tcp/127.0.0.1/8080" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# weft run in namespace NS on IFACE, in the background (WEFT_PID), once it
# has attached; its log in $WORK/weft.log. stop_weft: SIGINT, and wait.
start_weft() { # ns iface outdir|- [args]   (-: no -o, stdout to $WORK/weft.out)
	local ns=$1 dev=$2 out=$3; shift 3
	# a previous case's log says "attached" too: start from none (the
	# background child truncates it only when it gets to run)
	rm -f "$WORK/weft.out"; : >"$WORK/weft.log"
	# nsenter changes only the network namespace: pins stay visible to the
	# next command, as they would for a second shell on the same host
	if [ "$out" = - ]; then
		nsenter --net="/run/netns/$ns" "$WEFT" run dev "$dev" "$@" >"$WORK/weft.out" \
			2>"$WORK/weft.log" &
	else
		nsenter --net="/run/netns/$ns" "$WEFT" run dev "$dev" -o "$out" "$@" \
			>"$WORK/weft.log" 2>&1 &
	fi
	WEFT_PID=$! WEFT_DEV=$dev
	PIDS+=("$WEFT_PID")
	for _ in $(seq 50); do
		grep -q "weft: attached" "$WORK/weft.log" && return 0
		kill -0 "$WEFT_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$WORK/weft.log"
	return 1
}

stop_weft() {
	kill -INT "$WEFT_PID"
	for _ in $(seq 100); do kill -0 "$WEFT_PID" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$WEFT_PID" 2>/dev/null; then
		# a failure of its own, not a suite that hangs
		ko "weft (pid $WEFT_PID) did not stop on SIGINT within 10 s"
		kill -KILL "$WEFT_PID"
		rm -rf "/sys/fs/bpf/weft/$WEFT_DEV" # (its pins: the next case starts clean)
	fi
	wait "$WEFT_PID" 2>/dev/null
}
