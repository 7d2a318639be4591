/* SPDX-License-Identifier: MIT */
/*
 * Fragment reassembly. A datagram in progress keeps its payload in one buffer
 * and the byte ranges it has as a short sorted list; overlapping fragments
 * keep the bytes that came first (and are counted). Datagrams in progress
 * are bounded in number and age, oldest dropped first, so a flood of
 * never-completed fragments costs a fixed amount of memory.
 */
#include <stdlib.h>
#include <string.h>
#include "defrag.h"
#include "weft/weft.h"

#define MAX_RANGES 64
#define MAX_DATAGRAM 65535u   /* IPv4 limit; IPv6 non-jumbo too */
#define NBUCKETS 1024

struct range { uint32_t start, end; };

struct dgram {
	struct dgram *hnext;           /* hash chain */
	struct dgram *prev, *next;     /* age list, oldest first */
	uint8_t family, proto, nvlan;
	uint16_t vlan[2];
	uint8_t src[16], dst[16];
	uint32_t id;
	uint64_t first_ns;
	uint32_t total;                /* UINT32_MAX until the last fragment */
	uint32_t nranges;
	struct range r[MAX_RANGES];
	uint32_t bufcap;
	uint8_t *buf;
};

/* malloc's own cost per block, as the engine counts it */
#define OVERHEAD 16

struct defrag {
	struct dgram *bucket[NBUCKETS];
	struct dgram *oldest, *newest;
	uint32_t count, max;
	uint64_t timeout;
	struct weft_stats *st;
	/* Bytes held, read by the engine into its one memory account after
	 * every call (weft_defrag_mem), so the cap and mem_peak see fragments. */
	uint64_t mem;
	uint8_t *done;                 /* last completed datagram */
	uint32_t done_len;
};

static uint32_t dg_hash(const struct ip_pkt *p)
{
	uint32_t h = 2166136261u ^ p->frag_id;
	for (int i = 0; i < 16; i++)
		h = (h ^ p->src[i] ^ (uint32_t)p->dst[i] << 8) * 16777619u;
	return (h ^ p->proto) % NBUCKETS;
}

static bool dg_match(const struct dgram *g, const struct ip_pkt *p)
{
	return g->id == p->frag_id && g->family == p->family && g->proto == p->proto &&
	       g->nvlan == p->nvlan && g->vlan[0] == p->vlan[0] && g->vlan[1] == p->vlan[1] &&
	       !memcmp(g->src, p->src, 16) && !memcmp(g->dst, p->dst, 16);
}

struct defrag *weft_defrag_new(uint32_t max, uint64_t timeout_ns, struct weft_stats *st)
{
	struct defrag *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->max = max ? max : 1;
	d->timeout = timeout_ns;
	d->st = st;
	return d;
}

void weft_defrag_set_limits(struct defrag *d, uint32_t max, uint64_t timeout_ns)
{
	d->max = max ? max : 1;
	d->timeout = timeout_ns;
}

static void dg_unlink(struct defrag *d, struct dgram *g, uint32_t b)
{
	struct dgram **pp = &d->bucket[b];
	while (*pp != g)
		pp = &(*pp)->hnext;
	*pp = g->hnext;
	if (g->prev) g->prev->next = g->next; else d->oldest = g->next;
	if (g->next) g->next->prev = g->prev; else d->newest = g->prev;
	d->count--;
	d->mem -= sizeof(*g) + OVERHEAD + (g->buf ? g->bufcap + OVERHEAD : 0);
}

static void dg_drop(struct defrag *d, struct dgram *g)
{
	struct ip_pkt k = { .family = g->family, .proto = g->proto, .frag_id = g->id };
	memcpy(k.src, g->src, 16);
	memcpy(k.dst, g->dst, 16);
	dg_unlink(d, g, dg_hash(&k));
	free(g->buf);
	free(g);
	d->st->frag_dropped++;
}

/* Record [s,e) as present; copy only the bytes no earlier fragment gave. */
static void dg_fill(struct defrag *d, struct dgram *g, uint32_t s, uint32_t e,
		    const uint8_t *data)
{
	uint32_t cur = s;
	uint32_t i = 0;
	while (cur < e) {
		while (i < g->nranges && g->r[i].end <= cur)
			i++;
		uint32_t upto = e;
		if (i < g->nranges && g->r[i].start <= cur) {
			/* covered already: first copy wins */
			uint32_t ce = g->r[i].end < e ? g->r[i].end : e;
			d->st->frag_overlaps++;
			cur = ce;
			continue;
		}
		if (i < g->nranges && g->r[i].start < upto)
			upto = g->r[i].start;
		memcpy(g->buf + cur, data + (cur - s), upto - cur);
		cur = upto;
	}
	/* merge [s,e) into the range list */
	struct range nr[MAX_RANGES + 1];
	uint32_t n = 0;
	bool placed = false;
	for (uint32_t j = 0; j < g->nranges; j++) {
		struct range r = g->r[j];
		if (r.end < s) { nr[n++] = r; continue; }
		if (r.start > e) {
			if (!placed) { nr[n++] = (struct range){ s, e }; placed = true; }
			nr[n++] = r;
			continue;
		}
		if (r.start < s) s = r.start;
		if (r.end > e) e = r.end;
	}
	if (!placed)
		nr[n++] = (struct range){ s, e };
	if (n > MAX_RANGES)
		n = MAX_RANGES + 1; /* signalled to the caller below */
	g->nranges = n;
	memcpy(g->r, nr, (n > MAX_RANGES ? MAX_RANGES : n) * sizeof(struct range));
}

static void done_free(struct defrag *d)
{
	if (d->done)
		d->mem -= d->done_len + OVERHEAD;
	free(d->done);
	d->done = NULL;
}

void weft_defrag_expire(struct defrag *d, uint64_t now)
{
	done_free(d);
	while (d->oldest && d->oldest->first_ns + d->timeout < now) {
		dg_drop(d, d->oldest);
		d->st->frag_expired++;
	}
}

bool weft_defrag_evict_oldest(struct defrag *d)
{
	done_free(d);
	if (!d->oldest)
		return false;
	dg_drop(d, d->oldest);
	d->st->frag_evicted++;
	return true;
}

uint64_t weft_defrag_mem(const struct defrag *d)
{
	return d->mem;
}

int weft_defrag_add(struct defrag *d, uint64_t ts, const struct ip_pkt *p, struct ip_pkt *out)
{
	d->st->frags++;
	weft_defrag_expire(d, ts);

	/* A cut fragment cannot be completed truthfully: drop it and let the
	 * TCP layer report the hole. */
	uint32_t flen = p->l4_wirelen;
	if (p->l4_caplen < flen || (uint64_t)p->frag_off + flen > MAX_DATAGRAM ||
	    (p->frag_more && (flen == 0 || (p->family == 4 && flen % 8)))) {
		d->st->frag_dropped++;
		return 0;
	}
	uint32_t b = dg_hash(p);
	struct dgram *g = d->bucket[b];
	while (g && !dg_match(g, p))
		g = g->hnext;
	if (!g) {
		while (d->count >= d->max)
			dg_drop(d, d->oldest);
		g = calloc(1, sizeof(*g));
		if (!g)
			return 0;
		g->family = p->family;
		g->proto = p->proto;
		g->nvlan = p->nvlan;
		g->vlan[0] = p->vlan[0];
		g->vlan[1] = p->vlan[1];
		memcpy(g->src, p->src, 16);
		memcpy(g->dst, p->dst, 16);
		g->id = p->frag_id;
		g->first_ns = ts;
		g->total = UINT32_MAX;
		g->hnext = d->bucket[b];
		d->bucket[b] = g;
		g->prev = d->newest;
		if (d->newest) d->newest->next = g; else d->oldest = g;
		d->newest = g;
		d->count++;
		d->mem += sizeof(*g) + OVERHEAD;
	}
	uint32_t end = p->frag_off + flen;
	if (!p->frag_more) {
		if (g->total != UINT32_MAX && g->total != end) {
			dg_drop(d, g); /* two different ends: not one datagram */
			return 0;
		}
		g->total = end;
	}
	if (end > g->bufcap) {
		uint32_t nc = g->bufcap ? g->bufcap : 2048;
		while (nc < end)
			nc *= 2;
		if (nc > MAX_DATAGRAM)
			nc = MAX_DATAGRAM;
		uint8_t *nb = realloc(g->buf, nc);
		if (!nb) {
			dg_drop(d, g);
			return 0;
		}
		d->mem += nc - g->bufcap + (g->buf ? 0 : OVERHEAD);
		g->buf = nb;
		g->bufcap = nc;
	}
	if (flen)
		dg_fill(d, g, p->frag_off, end, p->l4);
	if (g->nranges > MAX_RANGES) {
		dg_drop(d, g); /* too fragmented to track: an attack, not traffic */
		return 0;
	}
	if (g->total == UINT32_MAX || g->nranges != 1 || g->r[0].start != 0 ||
	    g->r[0].end != g->total)
		return 0;

	*out = *p;
	out->frag = false;
	out->frag_more = false;
	out->frag_off = 0;
	out->l4 = g->buf;
	out->l4_caplen = out->l4_wirelen = g->total;
	/* the buffer now belongs to d->done and lives until the next call */
	dg_unlink(d, g, b);
	d->done = g->buf;
	d->done_len = g->bufcap;
	d->mem += g->bufcap + OVERHEAD;
	g->buf = NULL;
	free(g);
	d->st->frag_datagrams++;
	if (weft_decode_reassembled(out) != DEC_OK) {
		d->st->malformed++;
		return 0;
	}
	return 1;
}

void weft_defrag_free(struct defrag *d)
{
	if (!d)
		return;
	while (d->oldest) {
		struct dgram *g = d->oldest;
		d->oldest = g->next;
		free(g->buf);
		free(g);
	}
	free(d->done);
	free(d);
}
