// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The kernel sweepers: iterator programs that remove flow-table and bypass
 * entries idle past the policy's timeouts, so a sweep of 100k flows costs
 * one read() and no dump to user space. An object of their own because
 * they are optional: a kernel that refuses tracing programs (no
 * CAP_PERFMON, lockdown) refuses them, and weft then sweeps the same maps
 * from user space with the same rule (weft_flow_expired in abi.h). The
 * loader gives this object the classifier's maps (tables.h).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "weft/abi.h"
#include "tables.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("iter/bpf_map_elem")
int sweep_flows(struct bpf_iter__bpf_map_elem *ctx)
{
	struct weft_flow_key *kp = ctx->key;
	struct weft_flow *f = ctx->value;
	__u32 zero = 0;
	if (!kp || !f)
		return 0;
	struct weft_policy *pol = bpf_map_lookup_elem(&policy, &zero);
	if (pol && weft_flow_expired(f, pol, bpf_ktime_get_ns())) {
		struct weft_flow_key k = *kp;
		if (bpf_map_delete_elem(&flows, &k) == 0)
			count(WEFT_CNT_SWEPT);
	}
	return 0;
}

SEC("iter/bpf_map_elem")
int sweep_bypass(struct bpf_iter__bpf_map_elem *ctx)
{
	struct weft_flow_key *kp = ctx->key;
	struct weft_bypass *b = ctx->value;
	__u32 zero = 0;
	if (!kp || !b)
		return 0;
	struct weft_policy *pol = bpf_map_lookup_elem(&policy, &zero);
	if (pol && weft_bypass_expired(b, pol, bpf_ktime_get_ns())) {
		struct weft_flow_key k = *kp;
		if (bpf_map_delete_elem(&bypass, &k) == 0)
			count(WEFT_CNT_SWEPT);
	}
	return 0;
}
