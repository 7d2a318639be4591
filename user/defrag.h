/* SPDX-License-Identifier: MIT */
/* IPv4 and IPv6 fragment reassembly with bounded memory and timeouts. */
#ifndef WEFT_DEFRAG_H
#define WEFT_DEFRAG_H

#include <stdint.h>
#include <stdbool.h>
#include "decode.h"

struct defrag;
struct weft_stats;

struct defrag *weft_defrag_new(uint32_t max_datagrams, uint64_t timeout_ns,
			  struct weft_stats *st);
void weft_defrag_set_limits(struct defrag *d, uint32_t max_datagrams, uint64_t timeout_ns);
/* Add a fragment. Returns 1 when it completed a datagram: *out then
 * describes the whole L4 payload, valid until the next call. 0: held. */
int weft_defrag_add(struct defrag *d, uint64_t ts_ns, const struct ip_pkt *frag,
	       struct ip_pkt *out);
void weft_defrag_free(struct defrag *d);
/* Drop datagrams older than the timeout at packet time now (counted in
 * frag_expired); the engine's sweep calls it, so fragments age out even
 * when no other fragment comes. */
void weft_defrag_expire(struct defrag *d, uint64_t now_ns);
/* Drop the oldest datagram in progress (counted in frag_evicted): memory
 * pressure takes fragments before any connection. False: none held. */
bool weft_defrag_evict_oldest(struct defrag *d);
/* Bytes held now, malloc overhead included. */
uint64_t weft_defrag_mem(const struct defrag *d);

#endif
