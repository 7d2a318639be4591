/* SPDX-License-Identifier: MIT */
/* IPv4 and IPv6 fragment reassembly with bounded memory and timeouts. */
#ifndef WEFT_DEFRAG_H
#define WEFT_DEFRAG_H

#include <stdint.h>
#include "decode.h"

struct defrag;
struct weft_stats;

struct defrag *defrag_new(uint32_t max_datagrams, uint64_t timeout_ns,
			  struct weft_stats *st, uint64_t *mem);
void defrag_set_limits(struct defrag *d, uint32_t max_datagrams, uint64_t timeout_ns);
/* Add a fragment. Returns 1 when it completed a datagram: *out then
 * describes the whole L4 payload, valid until the next call. 0: held. */
int defrag_add(struct defrag *d, uint64_t ts_ns, const struct ip_pkt *frag,
	       struct ip_pkt *out);
void defrag_free(struct defrag *d);

#endif
