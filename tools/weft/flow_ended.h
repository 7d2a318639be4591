/* SPDX-License-Identifier: MIT */
/* Ended connections of a running weft, from its flows.jsonl. */
#ifndef WEFT_FLOW_ENDED_H
#define WEFT_FLOW_ENDED_H

#include <stdint.h>
#include "cli.h"
#include "weft/abi.h"

struct ended_conn {
	struct weft_flow_key key;  /* as the kernel flow table keys it */
	uint64_t id;
	char src[64], dst[64];
	uint16_t sport, dport;
	char end[16];              /* its end reason */
};

/* fn for every connection the instance's flows.jsonl lists, in order;
 * -1 when it has none (no -o, or not found). */
int ended_each(const struct instance *in, void (*fn)(const struct ended_conn *e, void *arg),
	       void *arg);

#endif
