/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The maps both BPF objects use: the classifier (weft.bpf.c) and the
 * optional kernel sweepers (sweep.bpf.c). Each object declares them; the
 * loader hands the sweepers the classifier's maps (bpf_map__reuse_fd), so
 * they are one set of maps in the kernel.
 */
#ifndef WEFT_BPF_TABLES_H
#define WEFT_BPF_TABLES_H

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WEFT_CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct weft_flow_key);
	__type(value, struct weft_bypass);
} bypass SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct weft_flow_key);
	__type(value, struct weft_flow);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct weft_policy);
} policy SEC(".maps");

/* Count one on this CPU; the count so far (0 if the map failed). */
static __always_inline __u64 count(__u32 c)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &c);
	return v ? ++*v : 0;
}

#endif
