/* SPDX-License-Identifier: MIT */
/*
 * The flow table: connections by full key (addresses, ports, VLAN tags),
 * chained hash buckets that double as the table grows, and one LRU list per
 * idle-timeout class so each sweep only looks at list heads.
 */
#include <stdlib.h>
#include <string.h>
#include "engine_int.h"
#include "weft/flowhash.h"

int weft_flow_table_init(struct weft_engine *e)
{
	e->nbuckets = 1024;
	e->bucket = calloc(e->nbuckets, sizeof(*e->bucket));
	if (!e->bucket)
		return -1;
	weft_mem_add(e, (int64_t)(e->nbuckets * sizeof(*e->bucket)));
	return 0;
}

void weft_flow_table_free(struct weft_engine *e)
{
	free(e->bucket);
	e->bucket = NULL;
}

/* Canonical key: endpoint 0 is the one that sorts first. *src_index tells
 * which of them sent this packet. */
void weft_flow_key_make(struct flow_key *k, const struct ip_pkt *ip, uint16_t sport,
		   uint16_t dport, bool vlan_in_key, uint8_t *src_index)
{
	uint32_t s[4], d[4];
	memcpy(s, ip->src, 16);
	memcpy(d, ip->dst, 16);
	bool swap = weft_endpoint_after(s, sport, d, dport);
	memset(k, 0, sizeof(*k));
	k->family = ip->family;
	if (vlan_in_key) {
		k->nvlan = ip->nvlan;
		k->vlan[0] = ip->vlan[0];
		k->vlan[1] = ip->vlan[1];
	}
	memcpy(k->addr[swap], ip->src, 16);
	memcpy(k->addr[!swap], ip->dst, 16);
	k->port[swap] = sport;
	k->port[!swap] = dport;
	*src_index = swap;
}

uint32_t weft_flow_key_hash(const struct flow_key *k)
{
	uint32_t a[4], b[4];
	memcpy(a, k->addr[0], 16);
	memcpy(b, k->addr[1], 16);
	return weft_flow_hash(a, k->port[0], b, k->port[1], k->vlan[0], k->vlan[1], k->family);
}

static bool key_eq(const struct flow_key *a, const struct flow_key *b)
{
	return a->port[0] == b->port[0] && a->port[1] == b->port[1] &&
	       a->family == b->family && a->nvlan == b->nvlan &&
	       a->vlan[0] == b->vlan[0] && a->vlan[1] == b->vlan[1] &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

struct weft_conn *weft_flow_lookup(struct weft_engine *e, const struct flow_key *k, uint32_t hash)
{
	for (struct weft_conn *c = e->bucket[hash & (e->nbuckets - 1)]; c; c = c->hnext)
		if (c->hash == hash && key_eq(&c->key, k))
			return c;
	return NULL;
}

static void grow(struct weft_engine *e)
{
	uint32_t n = e->nbuckets * 2;
	struct weft_conn **nb = calloc(n, sizeof(*nb));
	if (!nb)
		return; /* keep the longer chains; still correct */
	for (uint32_t i = 0; i < e->nbuckets; i++) {
		struct weft_conn *c = e->bucket[i];
		while (c) {
			struct weft_conn *next = c->hnext;
			c->hnext = nb[c->hash & (n - 1)];
			nb[c->hash & (n - 1)] = c;
			c = next;
		}
	}
	free(e->bucket);
	weft_mem_add(e, (int64_t)((n - e->nbuckets) * sizeof(*nb)));
	e->bucket = nb;
	e->nbuckets = n;
}

void weft_flow_insert(struct weft_engine *e, struct weft_conn *c)
{
	if (e->nconns >= e->nbuckets)
		grow(e);
	struct weft_conn **b = &e->bucket[c->hash & (e->nbuckets - 1)];
	c->hnext = *b;
	*b = c;
	e->nconns++;
}

void weft_flow_remove(struct weft_engine *e, struct weft_conn *c)
{
	struct weft_conn **pp = &e->bucket[c->hash & (e->nbuckets - 1)];
	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	e->nconns--;
}

void weft_lru_remove(struct weft_engine *e, struct weft_conn *c)
{
	if (c->lru == LRU__COUNT)
		return; /* in no list */
	struct lru_list *l = &e->lru[c->lru];
	if (c->lprev) c->lprev->lnext = c->lnext; else l->head = c->lnext;
	if (c->lnext) c->lnext->lprev = c->lprev; else l->tail = c->lprev;
	c->lprev = c->lnext = NULL;
	c->lru = LRU__COUNT;
}

/* Move c to the tail (most recent) of its class's list. */
void weft_lru_touch(struct weft_engine *e, struct weft_conn *c, enum lru_class cls)
{
	if (c->lru == cls && e->lru[cls].tail == c)
		return;
	weft_lru_remove(e, c);
	struct lru_list *l = &e->lru[cls];
	c->lru = (uint8_t)cls;
	c->lprev = l->tail;
	c->lnext = NULL;
	if (l->tail) l->tail->lnext = c; else l->head = c;
	l->tail = c;
}
