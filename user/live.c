/* SPDX-License-Identifier: MIT */
/*
 * The live source: choose the capture path, attach weft's programs with
 * links, pin their maps for the control plane, and run the loop that
 * drains the path into the engine, sweeps the engine in slices and ticks
 * the control plane. The path's own work (AF_XDP sockets, or the ring
 * buffer) is behind struct live_path (live_int.h); the kernel side is in
 * live_attach.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "live_int.h"
#include "weft.skel.h"
#include "sweep.skel.h"

#define UMEM_BYTES (32u << 20)
#define RING_DEFAULT (64ull << 20)
#define SWEEP_SLICE 256 /* idle connections ended between two batches */

void weft_live_bind(struct weft_live *l, const struct weft_config *cfg, struct weft_callbacks *cb)
{
	weft_control_free(l->ctl);
	l->ctl = weft_control_new(&l->cfd, cfg, l->mode);
	if (l->ctl)
		weft_control_bind(l->ctl, cb);
}

void weft_live_on_tick(struct weft_live *l, void (*fn)(void *arg), void *arg)
{
	l->tick = fn;
	l->tick_arg = arg;
}

void weft_live_set_engine(struct weft_live *l, struct weft_engine *e)
{
	if (l->ctl)
		weft_control_set_engine(l->ctl, e);
}

void weft_live_drop_bpf(struct weft_live *l)
{
	weft_bpf__destroy(l->skel);
	l->skel = NULL;
}

void weft_live_keep_pins(struct weft_live *l)
{
	l->pindir[0] = 0;
	l->madedir[0] = 0;
	l->keep_legacy = true;
}

void weft_live_detach(struct weft_live *l)
{
	weft_live_detach_links(l);
	if (l->path)
		l->path->close(l);
	l->detached = true;
}

static void close_cfd(struct control_fds *c)
{
	int *fds[] = { &c->policy, &c->conns, &c->cmds, &c->epub, &c->bypass, &c->flows,
		       &c->sweep_flows, &c->sweep_bypass };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

void weft_live_close(struct weft_live *l)
{
	if (!l)
		return;
	weft_live_detach(l);
	weft_control_free(l->ctl);
	close_cfd(&l->cfd);
	if (l->ring_fd >= 0)
		close(l->ring_fd);
	if (l->counters_fd >= 0)
		close(l->counters_fd);
	if (l->pindir[0]) {
		weft_live_unpin_dir(l->pindir);
	} else if (l->madedir[0]) {
		/* failed before it was ours to pin into: leave no empty dirs */
		rmdir(l->madedir);
		rmdir(WEFT_PIN_ROOT);
	}
	weft_sweep_bpf__destroy(l->sweep_skel);
	weft_bpf__destroy(l->skel);
	free(l);
}

/* Tap mode's path, by measurement (bench-live.sh, test_live.sh): on a
 * virtual interface native XDP gets each GSO packet split into MTU frames
 * through a 256-slot ring that a burst overflows before AF_XDP sees
 * anything (2.68 of 32.5 MB lost in three parallel downloads), and generic
 * XDP drops GSO packets whole; TC takes the GSO packet whole into the ring
 * buffer and lost nothing. A NIC's driver runs XDP on its own RX rings:
 * AF_XDP there. */
static const struct live_path *choose_path(struct weft_live *l, const struct weft_live_opts *o)
{
	if (l->mode == WEFT_MODE_HOST) {
		snprintf(l->st.path_why, sizeof(l->st.path_why), "host mode");
		return &weft_live_path_ring;
	}
	if (o->path == WEFT_PATH_AFXDP || o->path == WEFT_PATH_RING) {
		snprintf(l->st.path_why, sizeof(l->st.path_why), "asked for");
		return o->path == WEFT_PATH_RING ? &weft_live_path_ring : &weft_live_path_xsk;
	}
	if (weft_iface_is_virtual(o->ifname)) {
		snprintf(l->st.path_why, sizeof(l->st.path_why),
			 "a virtual interface: XDP would split its GSO packets");
		return &weft_live_path_ring;
	}
	snprintf(l->st.path_why, sizeof(l->st.path_why), "a NIC: XDP runs in its driver");
	return &weft_live_path_xsk;
}

struct weft_live *weft_live_open(const struct weft_live_opts *o, char *err, size_t errlen)
{
	struct weft_live *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->link_fd = l->tc_fd[0] = l->tc_fd[1] = l->ring_fd = l->counters_fd = -1;
	l->cfd = (struct control_fds){ -1, -1, -1, -1, -1, -1, -1, -1 };
	l->mode = o->mode == WEFT_MODE_HOST ? WEFT_MODE_HOST : WEFT_MODE_TAP;
	l->st.mode = l->mode;
	l->st.legacy_tc = o->legacy_tc;
	if (o->host_xdp && l->mode != WEFT_MODE_HOST) {
		snprintf(err, errlen, "ingress xdp is for host mode (tap mode takes its path's own program)");
		free(l);
		return NULL;
	}
	snprintf(l->ifname, sizeof(l->ifname), "%s", o->ifname);
	l->ifindex = (int)if_nametoindex(o->ifname);
	l->frame_size = weft_live_frame_size(o->ifname);
	l->frames = o->frames ? o->frames : UMEM_BYTES / l->frame_size;
	l->ring_bytes = o->ring_bytes ? o->ring_bytes : RING_DEFAULT;
	if (!l->ifindex) {
		snprintf(err, errlen, "interface %s not found", o->ifname);
		goto fail;
	}
	l->path = choose_path(l, o);
	l->st.path = l->path == &weft_live_path_ring ? WEFT_PATH_RING : WEFT_PATH_AFXDP;
	if (l->path == &weft_live_path_ring &&
	    (l->ring_bytes < 4096 || l->ring_bytes > (1ull << 31) ||
	     (l->ring_bytes & (l->ring_bytes - 1)))) {
		snprintf(err, errlen, "the ring buffer must be a power of 2 from 4K to 2G");
		goto fail;
	}
	if (weft_live_check_caps(l, o, err, errlen) || weft_live_ensure_bpffs(err, errlen))
		goto fail;
	char dir[256];
	snprintf(dir, sizeof(dir), "%s/%s", WEFT_PIN_ROOT, o->ifname);
	mkdir(WEFT_PIN_ROOT, 0700);
	if (mkdir(dir, 0700) == 0)
		snprintf(l->madedir, sizeof(l->madedir), "%s", dir);
	else if (errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	if (weft_live_check_pins(dir, o->ifname, err, errlen))
		goto fail; /* not ours: leave it as it is */
	/* (after the pins: another weft is named as such, not as a program).
	 * tcx links sit beside other programs; XDP has one slot. */
	__u32 other = 0;
	bool xdp = l->path == &weft_live_path_xsk || o->host_xdp;
	if (xdp && bpf_xdp_query_id(l->ifindex, 0, &other) == 0 && other) {
		snprintf(err, errlen, "another XDP program (id %u) is attached to %s", other,
			 o->ifname);
		goto fail;
	}
	if (weft_live_load(l, o, err, errlen))
		goto fail;
	/* bypassed flows: dropped on a mirror, always passed on the host's own;
	 * then the path's own settings */
	struct weft_config_map cfg = { .enabled = 1,
				       .bypass_action = l->mode == WEFT_MODE_HOST ? XDP_PASS : XDP_DROP,
				       .owner_pid = (uint32_t)getpid() };
	l->path->config(l, o, &cfg);
	uint32_t zero = 0;
	bpf_map_update_elem(bpf_map__fd(l->skel->maps.cfg_map), &zero, &cfg, 0);
	/* the ring (records, or the AF_XDP path's doorbells), and the ring
	 * path's loss counters (an AF_XDP worker does without: least
	 * privilege) */
	l->ring_fd = fcntl(bpf_map__fd(l->skel->maps.ring), F_DUPFD_CLOEXEC, 3);
	if (l->path == &weft_live_path_ring)
		l->counters_fd = fcntl(bpf_map__fd(l->skel->maps.counters), F_DUPFD_CLOEXEC, 3);
	if (l->ring_fd < 0 || (l->path == &weft_live_path_ring && l->counters_fd < 0)) {
		snprintf(err, errlen, "cannot keep the maps: %s", strerror(errno));
		goto fail;
	}
	if (weft_live_pin_maps(l, dir, err, errlen) || weft_live_open_control(l, o, err, errlen))
		goto fail;
	if (l->path->open(l, o, err, errlen))
		goto fail;
	weft_live_iface_drops(o->ifname, &l->drops[0], &l->drops[1]);
	l->drops0[0] = l->drops[0];
	l->drops0[1] = l->drops[1];
	l->mono_to_real = weft_live_clock_ns(CLOCK_REALTIME) - weft_live_clock_ns(CLOCK_MONOTONIC);
	return l;
fail:
	weft_live_close(l);
	return NULL;
}

/* The path's loss counters; the interface's once a second (an rtnetlink
 * request takes the rtnl lock: not on every tick of the reader) */
static void source_stats(struct weft_live *l)
{
	if (l->detached)
		return;
	l->path->stats(l);
	int64_t now = weft_live_clock_ns(CLOCK_MONOTONIC);
	if (now - l->drops_at < 1000000000ll)
		return;
	l->drops_at = now;
	weft_live_iface_drops(l->ifname, &l->drops[0], &l->drops[1]);
	l->st.iface_drops = 0;
	for (int i = 0; i < 2; i++)
		if (l->drops[i] >= l->drops0[i])
			l->st.iface_drops += l->drops[i] - l->drops0[i];
}

void weft_live_stats(struct weft_live *l, struct weft_live_stats *s)
{
	source_stats(l);
	*s = l->st;
}

static void live_pub(struct weft_live *l, struct weft_engine_pub *p)
{
	source_stats(l);
	p->frames = l->st.frames;
	p->xsk_dropped = l->st.xsk_rx_dropped;
	p->xsk_ring_full = l->st.xsk_rx_ring_full;
	p->xsk_fill_empty = l->st.xsk_fill_empty;
	p->xsk_invalid = l->st.xsk_rx_invalid;
	p->queues = l->st.queues;
	p->native = l->st.native;
	p->xdp_ingress = l->st.xdp;
	p->engine_sweep_ns_max = l->st.sweep_ns_max;
	p->engine_sweep_ns_last = l->st.sweep_ns_last;
	p->path = l->st.path;
	p->iface_drops = l->st.iface_drops;
}

/* A frame as the program described it: time, flow hash, the peer's kept
 * ACK and FIN. */
void weft_live_frame_from_meta(const struct weft_live *l, const struct weft_meta *m,
			  struct weft_frame *f)
{
	f->ts_ns = (uint64_t)((int64_t)m->ts_ns + l->mono_to_real);
	/* fragments carry an address-pair hash: let the engine hash the
	 * reassembled datagram itself */
	f->hash = (m->flags & WEFT_META_FRAG) ? 0 : m->hash;
	f->peer_ack_valid = (m->flags & WEFT_META_PEER_ACK) != 0;
	f->peer_ack = m->peer_ack;
	f->peer_fin_valid = (m->flags & WEFT_META_PEER_FIN) != 0;
	f->peer_fin = m->peer_fin;
}

int weft_live_run(struct weft_live *l, struct weft_engine *e, volatile int *stop, char *err,
		  size_t errlen)
{
	struct pollfd pfd[MAX_QUEUES + 1];
	uint32_t npfd = l->path->pollfds(l, pfd);
	bool took = false;
	int64_t next_sweep = weft_live_clock_ns(CLOCK_MONOTONIC) + 1000000000ll;
	int64_t next_ctl = 0, sweep_at = 0, sweep_cost = 0;
	bool sweeping = false;
	while (!*stop) {
		uint64_t got = l->path->drain(l, e);
		took = took || got;
		if (!got && !sweeping) {
			l->st.wakeups++;
			if (l->path->wait(l, took, pfd, npfd) != 0) {
				snprintf(err, errlen, "poll: %s", strerror(errno));
				return -1;
			}
			took = false;
		}
		int64_t now = weft_live_clock_ns(CLOCK_MONOTONIC);
		if (!sweeping && now >= next_sweep) {
			/* idle time passes on a quiet link too: packet time is
			 * the wall clock's here, from the same clock the program
			 * stamps with */
			sweeping = true;
			sweep_at = now + l->mono_to_real;
			sweep_cost = 0;
			next_sweep = now + 1000000000ll;
		}
		if (sweeping) {
			/* a slice between batches: the rings never wait long */
			size_t n = weft_engine_sweep_some(e, (uint64_t)sweep_at, SWEEP_SLICE);
			int64_t t = weft_live_clock_ns(CLOCK_MONOTONIC) - now;
			sweep_cost += t;
			if ((uint64_t)t > l->st.sweep_ns_max)
				l->st.sweep_ns_max = (uint64_t)t;
			if (n < SWEEP_SLICE) {
				sweeping = false;
				if ((uint64_t)sweep_cost > l->st.sweep_ns_last)
					l->st.sweep_ns_last = (uint64_t)sweep_cost;
				if (l->tick)
					l->tick(l->tick_arg);
			}
			now = weft_live_clock_ns(CLOCK_MONOTONIC);
		}
		if (l->ctl && now >= next_ctl) {
			/* commands within 100 ms; policy and sweeps each second */
			struct weft_engine_pub p = { 0 };
			live_pub(l, &p);
			weft_control_tick(l->ctl, now, &p, stop);
			next_ctl = now + 100000000ll;
		}
	}
	/* Stopped: detach, then take what the rings still hold, so a stop
	 * loses nothing the kernel already handed over. The loss counters are
	 * read first: the sockets go with the detach. */
	l->drops_at = 0;
	source_stats(l);
	weft_live_detach_links(l);
	while (l->path->drain(l, e))
		;
	return 0;
}
