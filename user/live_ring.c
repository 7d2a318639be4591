/* SPDX-License-Identifier: MIT */
/*
 * The ring-buffer path: TC programs (or XDP on ingress) copy each followed
 * packet, a GSO packet whole, into one BPF ring buffer. Host mode: TC on
 * ingress and egress, every packet passes. Tap mode on a virtual
 * interface: TC on ingress, and what weft takes is dropped after the copy
 * (a mirror's packets are weft's). A full ring costs the payload (headers
 * only, so the engine reports a gap) or the record, each counted.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "live_int.h"
#include "weft.skel.h"

#define RING_WAKE_MAX (1u << 20)
#define TAIL_MS 100 /* a quiet link's last records wait at most this */

/* The ring's wakeup mark (see ring_copy in weft.bpf.c): a sixteenth of the
 * ring, so a woken reader finds the ring far from full, and at most 1 MB,
 * about a thousand wakeups a second at 10 Gbit/s. */
static uint32_t ring_wake_bytes(uint64_t ring)
{
	uint64_t w = ring / 16;
	return w > RING_WAKE_MAX ? RING_WAKE_MAX : (uint32_t)w;
}

/* One ring buffer record: the frame follows its header. */
static int ring_record(void *ctx, void *data, size_t size)
{
	struct weft_live *l = ctx;
	const struct weft_ring_rec *r = data;
	if (size < sizeof(*r) || r->caplen > size - sizeof(*r) || r->meta.magic != WEFT_META_MAGIC ||
	    r->meta.version != WEFT_META_VERSION) {
		l->st.no_meta++;
		return 0;
	}
	struct weft_frame f = { .data = (const uint8_t *)(r + 1), .caplen = r->caplen,
				.wirelen = r->wirelen < r->caplen ? r->caplen : r->wirelen,
				.link = WEFT_LINK_ETHERNET };
	if (r->hw_vlan_proto && r->caplen >= 12 && r->caplen <= WEFT_SNAP_MAX) {
		/* the tag the device kept outside the frame, back where the
		 * wire had it: after the MAC addresses */
		static uint8_t tagged[WEFT_SNAP_MAX + 4]; /* one reader: off the stack */
		memcpy(tagged, f.data, 12);
		tagged[12] = (uint8_t)(r->hw_vlan_proto >> 8);
		tagged[13] = (uint8_t)r->hw_vlan_proto;
		tagged[14] = (uint8_t)(r->hw_vlan_tci >> 8);
		tagged[15] = (uint8_t)r->hw_vlan_tci;
		memcpy(tagged + 16, f.data + 12, r->caplen - 12);
		f.data = tagged;
		f.caplen += 4;
		f.wirelen += 4;
	}
	weft_live_frame_from_meta(l, &r->meta, &f);
	weft_engine_feed(l->feed, &f);
	l->st.frames++;
	return 0;
}

/* The ring path's settings: the wakeup mark, the snap length, and whether
 * TC counts the tag a device keeps outside the frame. */
static void ring_config(const struct weft_live *l, const struct weft_live_opts *o,
			struct weft_config_map *cfg)
{
	cfg->wake_bytes = ring_wake_bytes(l->ring_bytes);
	cfg->snaplen = o->snaplen;
	cfg->hw_vlan = !(l->mode == WEFT_MODE_HOST && o->host_xdp);
}

/* The ring's reader, then the programs: host mode TC on egress and on
 * ingress (or XDP there with host_xdp); tap mode TC on ingress alone. */
static int ring_open(struct weft_live *l, const struct weft_live_opts *o, char *err, size_t errlen)
{
	l->rb = ring_buffer__new(l->ring_fd, ring_record, l, NULL);
	if (!l->rb) {
		snprintf(err, errlen, "cannot map the ring buffer: %s", strerror(errno));
		return -1;
	}
	bool host = l->mode == WEFT_MODE_HOST;
	if (host && o->host_xdp) {
		if (weft_live_attach_xdp(l, bpf_program__fd(l->skel->progs.weft_xdp_host), o, err, errlen))
			return -1;
		l->st.xdp = true;
	} else if (weft_live_attach_tc(l, 0, bpf_program__fd(l->skel->progs.weft_tc_ingress), err,
				  errlen)) {
		return -1;
	}
	if (host && weft_live_attach_tc(l, 1, bpf_program__fd(l->skel->progs.weft_tc_egress), err, errlen))
		return -1;
	l->st.queues = 1;
	return 0;
}

static void ring_close(struct weft_live *l)
{
	ring_buffer__free(l->rb);
	l->rb = NULL;
}

static uint64_t ring_drain(struct weft_live *l, struct weft_engine *e)
{
	if (!l->rb)
		return 0;
	l->feed = e;
	int n = ring_buffer__consume(l->rb);
	return n > 0 ? (uint64_t)n : 0;
}

static uint32_t ring_pollfds(struct weft_live *l, struct pollfd *pfd)
{
	pfd[0] = (struct pollfd){ .fd = ring_buffer__epoll_fd(l->rb), .events = POLLIN };
	return 1;
}

/* On the ring, which the program wakes once per wake mark (and at once
 * when it is full), with a timeout for a quiet link's tail. */
static int ring_wait(struct weft_live *l, bool took, struct pollfd *pfd, uint32_t npfd)
{
	(void)l;
	(void)took;
	int r = poll(pfd, npfd, TAIL_MS);
	return r < 0 && errno != EINTR ? -1 : 0;
}

static void ring_stats(struct weft_live *l)
{
	l->st.ring_trunc = weft_live_kernel_counter(l, WEFT_CNT_RING_TRUNC);
	l->st.ring_lost = weft_live_kernel_counter(l, WEFT_CNT_RING_LOST);
}

const struct live_path weft_live_path_ring = {
	.name = "ring",
	.config = ring_config,
	.open = ring_open,
	.drain = ring_drain,
	.pollfds = ring_pollfds,
	.wait = ring_wait,
	.stats = ring_stats,
	.close = ring_close,
};
