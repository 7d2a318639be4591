/* SPDX-License-Identifier: MIT */
/*
 * --pcap: every connection's frames in a capture of its own, named like its
 * streams. The frame's connection is looked up with the engine's own key
 * (so VLAN keying and the canonical order are the engine's): before the
 * feed, where the frame that ends a connection still finds it, and after,
 * where the SYN that starts one does. IP fragments wait for their first
 * fragment, which names the connection (below).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "weft/sink.h"
#include "engine_int.h"
#include "sink_int.h"
#include "grow.h"

static struct weft_conn *frame_conn(struct weft_engine *e, const struct weft_frame *f)
{
	struct ip_pkt ip;
	struct tcp_seg seg;
	if (weft_decode_frame(f->link, f->data, f->caplen, f->wirelen, &ip) != DEC_OK ||
	    ip.proto != 6 || ip.frag ||
	    weft_decode_tcp(ip.l4, ip.l4_caplen, ip.l4_wirelen, &seg) != DEC_OK)
		return NULL;
	struct flow_key k;
	uint8_t src;
	weft_flow_key_make(&k, &ip, seg.sport, seg.dport, e->cfg.vlan_in_key, &src);
	struct weft_conn *c = weft_flow_lookup(e, &k, weft_flow_key_hash(&k));
	return c && !c->ended ? c : NULL;
}

/* ---- IP fragments ----
 * A fragment names no ports but the first one's: its datagram is known by
 * (addresses, IP id), and the first fragment gives the ports, so the
 * connection. Fragments that come before it wait here as copies (bounded:
 * past FRAG_PEND_BYTES or FRAG_PEND_MAX datagrams the oldest are dropped,
 * their frames not written), and go to the connection's pcap once it is
 * known: reading that pcap back gives the same datagrams. A datagram's
 * entry goes once it is whole and written, or the oldest (by its last
 * fragment) when the table is full. */
#define FRAG_PEND_MAX 256
#define FRAG_PEND_BYTES (4u << 20)

struct frag_pend {
	struct ip_pkt ip;     /* the addresses, tags and IP id (the flow key) */
	uint64_t seen_ns;     /* its last fragment's time */
	bool ports;           /* the first fragment came: sport, dport */
	uint16_t sport, dport;
	uint64_t got, end;    /* payload bytes come; the datagram's length
			       * once its last fragment came (else 0) */
	struct weft_frame *v; /* data: copies */
	size_t n, cap;
	uint64_t bytes;
};

static void pend_clear(struct weft_sink *s, struct frag_pend *p)
{
	for (size_t i = 0; i < p->n; i++)
		free((void *)p->v[i].data);
	s->frag_bytes -= p->bytes;
	free(p->v);
	p->v = NULL;
	p->n = p->cap = 0;
	p->bytes = 0;
}

static void pend_drop(struct weft_sink *s, size_t i)
{
	pend_clear(s, &s->frags[i]);
	s->frags[i] = s->frags[--s->nfrags];
}

void weft_sink_frags_free(struct weft_sink *s)
{
	while (s->nfrags)
		pend_drop(s, 0);
	free(s->frags);
	s->frags = NULL;
}

static bool same_datagram(const struct frag_pend *p, const struct ip_pkt *ip)
{
	size_t n = ip->family == 4 ? 4 : 16;
	return p->ip.family == ip->family && p->ip.frag_id == ip->frag_id &&
	       !memcmp(p->ip.src, ip->src, n) && !memcmp(p->ip.dst, ip->dst, n) &&
	       p->ip.nvlan == ip->nvlan && p->ip.vlan[0] == ip->vlan[0] &&
	       p->ip.vlan[1] == ip->vlan[1];
}

/* The datagram whose last fragment is the oldest, but skip (and then
 * only one holding frames), or SIZE_MAX. */
static size_t oldest(const struct weft_sink *s, const struct frag_pend *skip)
{
	size_t o = SIZE_MAX;
	for (size_t i = 0; i < s->nfrags; i++) {
		const struct frag_pend *q = &s->frags[i];
		if (q == skip || (skip && !q->n))
			continue;
		if (o == SIZE_MAX || q->seen_ns < s->frags[o].seen_ns)
			o = i;
	}
	return o; /* SIZE_MAX: none */
}

/* f's datagram, if f is a TCP fragment: found or made, the frame kept
 * while its connection is not known yet, the ports taken from the first
 * fragment. NULL: not a fragment (or no room). */
static struct frag_pend *frag_note(struct weft_sink *s, struct weft_engine *e,
				   const struct weft_frame *f)
{
	struct ip_pkt ip;
	if (weft_decode_frame(f->link, f->data, f->caplen, f->wirelen, &ip) != DEC_OK ||
	    !ip.frag || ip.proto != 6)
		return NULL;
	uint64_t timeout = e->cfg.frag_timeout_ns ? e->cfg.frag_timeout_ns : 30000000000ull;
	struct frag_pend *p = NULL;
	for (size_t i = 0; i < s->nfrags; i++) {
		if (f->ts_ns > s->frags[i].seen_ns + timeout) { /* its datagram is over */
			pend_drop(s, i--);
			continue;
		}
		if (!p && same_datagram(&s->frags[i], &ip))
			p = &s->frags[i];
	}
	if (!p) {
		if (s->nfrags == FRAG_PEND_MAX)
			pend_drop(s, oldest(s, NULL)); /* (the table is full: there is one) */
		if (!weft_grow(&s->frags, &s->frags_cap, s->nfrags, sizeof(*s->frags), 16))
			return NULL;
		p = &s->frags[s->nfrags++];
		memset(p, 0, sizeof(*p));
		p->ip = ip;
	}
	p->seen_ns = f->ts_ns;
	if (ip.frag_off == 0 && ip.l4_caplen >= 4) {
		p->sport = (uint16_t)(ip.l4[0] << 8 | ip.l4[1]);
		p->dport = (uint16_t)(ip.l4[2] << 8 | ip.l4[3]);
		p->ports = true;
	}
	p->got += ip.l4_wirelen;
	if (!ip.frag_more)
		p->end = (uint64_t)ip.frag_off + ip.l4_wirelen;
	/* kept until the connection is known; past the bound, the oldest
	 * datagrams' frames go (they will not be written) */
	for (size_t o; s->frag_bytes + f->caplen > FRAG_PEND_BYTES &&
		       (o = oldest(s, p)) != SIZE_MAX; )
		pend_clear(s, &s->frags[o]);
	if (s->frag_bytes + f->caplen > FRAG_PEND_BYTES)
		return p;
	if (!weft_grow(&p->v, &p->cap, p->n, sizeof(*p->v), 4))
		return p;
	uint8_t *copy = malloc(f->caplen ? f->caplen : 1);
	if (!copy)
		return p;
	memcpy(copy, f->data, f->caplen);
	p->v[p->n] = *f;
	p->v[p->n].data = copy;
	p->n++;
	p->bytes += f->caplen;
	s->frag_bytes += f->caplen;
	return p;
}

/* The live connection p's datagram belongs to, once its ports are known. */
static struct weft_conn *frag_conn(struct weft_engine *e, const struct frag_pend *p)
{
	if (!p->ports)
		return NULL;
	struct flow_key k;
	uint8_t src;
	weft_flow_key_make(&k, &p->ip, p->sport, p->dport, e->cfg.vlan_in_key, &src);
	struct weft_conn *c = weft_flow_lookup(e, &k, weft_flow_key_hash(&k));
	return c && !c->ended ? c : NULL;
}

/* p's frames so far (this one among them) to c's pcap, in their order. */
static void frag_flush(struct weft_sink *s, struct weft_conn *c, struct frag_pend *p)
{
	for (size_t i = 0; i < p->n; i++)
		weft_sink_pcap_frame(s, c, &p->v[i]);
	pend_clear(s, p);
}

/* Its datagram whole and its frames gone to their pcap: the entry goes,
 * so the next datagram with the same IP id starts afresh (an old entry's
 * ports would send its fragments to the earlier connection). */
static void frag_done(struct weft_sink *s, size_t at)
{
	struct frag_pend *p = &s->frags[at];
	if (p->ports && !p->n && p->end && p->got >= p->end)
		pend_drop(s, at);
}

int weft_sink_feed(void *arg, struct weft_engine *e, const struct weft_frame *f)
{
	struct weft_sink *s = arg;
	if (!s->o.pcap || s->dirfd < 0)
		return weft_engine_feed(e, f);
	struct weft_conn *c = frame_conn(e, f);
	struct frag_pend *p = c ? NULL : frag_note(s, e, f);
	size_t at = p ? (size_t)(p - s->frags) : 0;
	if (p && (c = frag_conn(e, p)))
		frag_flush(s, c, p);
	else if (c)
		weft_sink_pcap_frame(s, c, f);
	int rc = weft_engine_feed(e, f);
	if (p) {
		/* (the table did not move: only frag_note changes it) */
		if (!c && (c = frag_conn(e, &s->frags[at])))
			frag_flush(s, c, &s->frags[at]);
		frag_done(s, at);
	} else if (!c && (c = frame_conn(e, f))) {
		weft_sink_pcap_frame(s, c, f);
	}
	return rc;
}
