/* SPDX-License-Identifier: MIT */
/*
 * The daemon's side of the control plane: what a running weft reads from and
 * writes to its pinned maps. It names each connection the engine follows in
 * the conns map, writes bypass entries when the engine wants no more of a
 * flow, answers the engine's peer_ack from the kernel flow table, pops the
 * CLI's commands, rereads the policy, publishes its counters and runs the
 * kernel sweepers.
 */
#ifndef WEFT_CONTROL_H
#define WEFT_CONTROL_H

#include <stdint.h>
#include "weft/weft.h"
#include "weft/abi.h"

/* Descriptors of the maps and sweeper links (owned by the live source). */
struct control_fds {
	int policy, conns, cmds, epub, bypass, flows;
	int sweep_flows, sweep_bypass; /* iterator links */
};

struct control;

struct control *weft_control_new(const struct control_fds *fds, const struct weft_config *cfg,
			    uint32_t mode);
void weft_control_free(struct control *ctl);
/* Put ctl between the engine and the callbacks in cb (a sink's): cb is
 * rewritten to go through ctl, which passes every call on. */
void weft_control_bind(struct control *ctl, struct weft_callbacks *cb);
void weft_control_set_engine(struct control *ctl, struct weft_engine *e);
/* Commands now; policy, counters and sweeps when a second has passed.
 * Sets *stop on a detach command. mono_now: CLOCK_MONOTONIC ns. */
void weft_control_tick(struct control *ctl, int64_t mono_now, const struct weft_engine_pub *live,
		  volatile int *stop);

/* Shared with the CLI: a policy from a config and back. */
void weft_policy_from_config(struct weft_policy *p, const struct weft_config *c);
void weft_config_from_policy(struct weft_config *c, const struct weft_policy *p);
/* The kernel's key of a connection (canonical order, VLANs). */
void weft_conn_kernel_key(const struct weft_conn_info *ci, struct weft_flow_key *k, uint8_t *client_end);

#endif
