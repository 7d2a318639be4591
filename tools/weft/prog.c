/* SPDX-License-Identifier: MIT */
/*
 * weft prog show | detach dev IFACE, and weft stats: what the running
 * instances' pinned maps say. No private socket to the daemon.
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cli.h"
#include "weft/abi.h"
#include "weft/weft.h"
#include "weft/live.h"

static const char *const counter_names[WEFT_CNT__MAX] = {
	[WEFT_CNT_PACKETS] = "packets",
	[WEFT_CNT_REDIRECT] = "to_user",
	[WEFT_CNT_REDIRECT_FAIL] = "no_socket",
	[WEFT_CNT_PASS_NOT_IP] = "pass_not_ip",
	[WEFT_CNT_PASS_NOT_TCP] = "pass_not_tcp",
	[WEFT_CNT_PASS_DISABLED] = "pass_disabled",
	[WEFT_CNT_FRAG] = "fragments",
	[WEFT_CNT_BYPASS] = "bypassed",
	[WEFT_CNT_FILTER_PORT] = "filtered_port",
	[WEFT_CNT_FILTER_CIDR] = "filtered_cidr",
	[WEFT_CNT_ERR_ETH] = "err_eth",
	[WEFT_CNT_ERR_VLAN] = "err_vlan",
	[WEFT_CNT_ERR_IPV4] = "err_ipv4",
	[WEFT_CNT_ERR_IPV6] = "err_ipv6",
	[WEFT_CNT_ERR_TCP] = "err_tcp",
	[WEFT_CNT_ERR_META] = "err_meta",
	[WEFT_CNT_ACK_KEPT] = "acks_kept",
	[WEFT_CNT_FLOW_NEW] = "kernel_flows_new",
	[WEFT_CNT_FLOW_FULL] = "kernel_flows_full",
	[WEFT_CNT_SWEPT] = "kernel_swept",
	[WEFT_CNT_RING_TRUNC] = "ring_full_headers_only",
	[WEFT_CNT_RING_LOST] = "ring_full_lost",
	[WEFT_CNT_PULL] = "headers_pulled",
	[WEFT_CNT_RING_WAKE] = "ring_wakeups",
	[WEFT_CNT_BELL] = "tap_doorbells",
};

struct snapshot {
	uint64_t cnt[WEFT_CNT__MAX];
	struct weft_engine_pub pub;
	bool has_pub;
};

static int read_snapshot(const struct instance *in, struct snapshot *s)
{
	memset(s, 0, sizeof(*s));
	int fd = instance_map(in, "counters");
	if (fd < 0)
		return -1;
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v = calloc((size_t)(ncpu > 0 ? ncpu : 1), sizeof(uint64_t));
	for (uint32_t i = 0; v && i < WEFT_CNT__MAX; i++) {
		if (bpf_map_lookup_elem(fd, &i, v) != 0)
			continue;
		for (int cpu = 0; cpu < ncpu; cpu++)
			s->cnt[i] += v[cpu];
	}
	free(v);
	close(fd);
	fd = instance_map(in, "epub");
	if (fd < 0)
		return -1;
	uint32_t zero = 0;
	s->has_pub = bpf_map_lookup_elem(fd, &zero, &s->pub) == 0 && s->pub.updated_ns;
	close(fd);
	return 0;
}

static const char *mode_name(const struct snapshot *s)
{
	if (!s->has_pub)
		return "starting";
	return s->pub.mode == WEFT_MODE_HOST ? "host" : "tap";
}

/* how the programs are attached: XDP native or generic (the AF_XDP
 * path); TC, or on ingress XDP native or generic and TC on egress (the
 * ring path) */
static const char *attach_name(const struct snapshot *s)
{
	if (s->pub.path == WEFT_PATH_RING && !s->pub.xdp_ingress)
		return "tc";
	if (s->pub.path == WEFT_PATH_RING)
		return s->pub.native ? "native+tc" : "generic+tc";
	return s->pub.native ? "native" : "generic";
}

/* how packets reach weft: AF_XDP sockets or the ring buffer */
static const char *path_name(const struct snapshot *s)
{
	if (!s->has_pub)
		return "-";
	return s->pub.path == WEFT_PATH_RING ? "ring" : "afxdp";
}

/* who sweeps the kernel's tables: its iterators, or weft from user space
 * where the kernel refuses them */
static const char *sweeper_name(const struct snapshot *s)
{
	if (!s->has_pub)
		return "-";
	return s->pub.sweeper == WEFT_SWEEPER_ITER ? "kernel" :
	       s->pub.sweeper == WEFT_SWEEPER_USER ? "user" : "-";
}

static void json_counters(struct jw *w, const struct snapshot *s)
{
	jw_obj_start(w, "xdp");
	for (int i = 0; i < WEFT_CNT__MAX; i++)
		jw_u64(w, counter_names[i], s->cnt[i]);
	jw_obj_end(w);
	const struct weft_engine_pub *p = &s->pub;
	jw_obj_start(w, "capture");
	jw_str(w, "path", path_name(s));
	jw_str(w, "attach", attach_name(s));
	jw_u64(w, "interface_drops", p->iface_drops);
	jw_u64(w, "ring_full_headers_only", s->cnt[WEFT_CNT_RING_TRUNC]);
	jw_u64(w, "ring_full_lost", s->cnt[WEFT_CNT_RING_LOST]);
	jw_obj_end(w);
	jw_obj_start(w, "af_xdp");
	jw_u64(w, "frames", p->frames);
	jw_u64(w, "queues", p->queues);
	jw_u64(w, "kernel_drops", p->xsk_dropped);
	jw_u64(w, "ring_full", p->xsk_ring_full);
	jw_u64(w, "fill_ring_empty", p->xsk_fill_empty);
	jw_u64(w, "invalid_descs", p->xsk_invalid);
	jw_obj_end(w);
	jw_obj_start(w, "engine");
	jw_u64(w, "connections", p->conns);
	jw_u64(w, "open", p->conns_open);
	jw_u64(w, "bytes", p->delivered_bytes);
	jw_u64(w, "gaps", p->gaps);
	jw_u64(w, "gap_bytes", p->gap_bytes);
	jw_u64(w, "mem_used", p->mem_used);
	jw_u64(w, "mem_peak", p->mem_peak);
	jw_u64(w, "malformed", p->malformed);
	jw_u64(w, "late_packets", p->late_packets);
	jw_obj_start(w, "ends");
	for (int r = 1; r < WEFT_END__COUNT && r < WEFT_PUB_ENDS; r++)
		jw_u64(w, weft_end_reason_name((enum weft_end_reason)r), p->ends[r]);
	jw_obj_end(w);
	jw_u64(w, "bypass_written", p->bypass_written);
	jw_str(w, "sweeper", sweeper_name(s));
	jw_u64(w, "kernel_sweep_ns", p->sweep_ns_last);
	jw_u64(w, "kernel_sweep_ns_max", p->sweep_pass_ns_max);
	jw_u64(w, "user_sweep_removed", p->swept_user);
	jw_u64(w, "user_sweep_slice_ns_max", p->sweep_ns_max);
	jw_u64(w, "idle_sweep_ns", p->engine_sweep_ns_last);
	jw_u64(w, "idle_sweep_slice_ns_max", p->engine_sweep_ns_max);
	jw_obj_end(w);
}

struct show_ctx {
	struct jw w;
};

static void show_one(const struct instance *in, void *arg)
{
	struct show_ctx *c = arg;
	struct snapshot s;
	if (read_snapshot(in, &s) != 0)
		return;
	if (json_output) {
		jw_obj_start(&c->w, NULL);
		jw_str(&c->w, "dev", in->dev);
		jw_u64(&c->w, "pid", in->pid);
		jw_bool(&c->w, "running", in->alive);
		jw_str(&c->w, "mode", mode_name(&s));
		jw_str(&c->w, "attach", attach_name(&s));
		jw_str(&c->w, "path", path_name(&s));
		jw_str(&c->w, "sweeper", sweeper_name(&s));
		jw_u64(&c->w, "queues", s.pub.queues);
		jw_u64(&c->w, "packets", s.cnt[WEFT_CNT_PACKETS]);
		jw_u64(&c->w, "to_user", s.cnt[WEFT_CNT_REDIRECT]);
		jw_u64(&c->w, "bypassed", s.cnt[WEFT_CNT_BYPASS]);
		jw_u64(&c->w, "acks_kept", s.cnt[WEFT_CNT_ACK_KEPT]);
		jw_u64(&c->w, "open", s.pub.conns_open);
		jw_obj_end(&c->w);
	} else {
		printf("%-16s pid %-7u %-7s mode %-5s %-7s path %-5s sweeper %-6s queues %-2u "
		       "packets %-10llu to user %-10llu bypassed %-10llu acks kept %-10llu open %llu\n",
		       in->dev, in->pid, in->alive ? "running" : "GONE", mode_name(&s),
		       attach_name(&s), path_name(&s), sweeper_name(&s), s.pub.queues,
		       (unsigned long long)s.cnt[WEFT_CNT_PACKETS],
		       (unsigned long long)s.cnt[WEFT_CNT_REDIRECT], (unsigned long long)s.cnt[WEFT_CNT_BYPASS],
		       (unsigned long long)s.cnt[WEFT_CNT_ACK_KEPT], (unsigned long long)s.pub.conns_open);
	}
}

/* Detach: ask the daemon (it ends everything with reason shutdown and
 * removes its pins); a dead one's leftovers are removed here. */
static int detach(const struct instance *in)
{
	if (in->alive) {
		int q = instance_map(in, "cmds");
		if (q < 0)
			return 1;
		struct weft_cmd c = { .op = WEFT_CMD_DETACH };
		if (bpf_map_update_elem(q, NULL, &c, 0) != 0)
			return cli_error("the command queue of %s is full; try again", in->dev);
		close(q);
		char p[300];
		snprintf(p, sizeof(p), "%s/%s/cfg_map", WEFT_PIN_ROOT, in->dev);
		int i;
		for (i = 0; i < 300 && access(p, F_OK) == 0; i++)
			usleep(100000);
		if (i == 300)
			return cli_error("weft (pid %u) on %s did not detach within 30 s", in->pid, in->dev);
	} else {
		weft_live_unpin(in->dev); /* the program went with the dead weft's link */
	}
	if (json_output) {
		struct jw w;
		jw_init(&w, stdout, pretty_output);
		jw_obj_start(&w, NULL);
		jw_str(&w, "dev", in->dev);
		jw_bool(&w, "detached", true);
		jw_obj_end(&w);
		jw_end(&w);
	} else {
		printf("detached from %s\n", in->dev);
	}
	return 0;
}

static void prog_help(void)
{
	fprintf(stdout, "Usage: %s prog show\n"
		"       %s prog detach dev IFACE\n\n"
		"show    the interfaces a weft is attached to (from %s), its mode and counters\n"
		"detach  stop the weft on IFACE: everything it holds is written (end reason\n"
		"        shutdown), the program detached, the pins removed\n",
		prog_name, prog_name, WEFT_PIN_ROOT);
}

int do_prog(int argc, char **argv)
{
	if (argc < 1 || is_prefix(argv[0], "help")) {
		prog_help();
		return argc < 1 ? 1 : 0;
	}
	static const char *const cmds[] = { "show", "list", "detach" };
	int c = match_keyword(argv[0], cmds, 3);
	if (c < 0)
		return cli_error("unknown command '%s' (try '%s prog help')", argv[0], prog_name);
	if (asks_help(argc, argv)) {
		prog_help();
		return 0;
	}
	if (c == 2) {
		const char *dev = NULL;
		for (int i = 1; i < argc; i++) {
			int rc = dev_option(argc, argv, &i, &dev);
			if (rc < 0)
				return 1;
			if (!rc)
				return cli_error("unknown argument '%s' (try '%s prog help')", argv[i], prog_name);
		}
		if (!dev)
			return cli_error("which interface? (%s prog detach dev IFACE)", prog_name);
		struct instance in;
		if (instance_find(dev, &in, false))
			return 1;
		return detach(&in);
	}
	if (argc > 1)
		return cli_error("unknown argument '%s' (try '%s prog help')", argv[1], prog_name);
	struct show_ctx ctx;
	if (json_output) {
		jw_init(&ctx.w, stdout, pretty_output);
		jw_arr_start(&ctx.w, NULL);
	}
	instance_each(show_one, &ctx);
	if (json_output) {
		jw_arr_end(&ctx.w);
		jw_end(&ctx.w);
	}
	return 0;
}

int do_stats(int argc, char **argv)
{
	const char *dev = NULL;
	for (int i = 0; i < argc; i++) {
		if (is_prefix(argv[i], "help")) {
			fprintf(stdout, "Usage: %s stats [dev IFACE]\n"
				"       the XDP program's counters summed over CPUs, the AF_XDP rings'\n"
				"       drops and the engine's counters (published every second)\n",
				prog_name);
			return 0;
		}
		int rc = dev_option(argc, argv, &i, &dev);
		if (rc < 0)
			return 1;
		if (!rc)
			return cli_error("unknown argument '%s' (try '%s stats help')", argv[i], prog_name);
	}
	struct instance in;
	if (instance_find(dev, &in, false))
		return 1;
	struct snapshot s;
	if (read_snapshot(&in, &s) != 0)
		return 1;
	if (json_output) {
		struct jw w;
		jw_init(&w, stdout, pretty_output);
		jw_obj_start(&w, NULL);
		jw_str(&w, "dev", in.dev);
		jw_u64(&w, "pid", in.pid);
		jw_bool(&w, "running", in.alive);
		jw_str(&w, "mode", mode_name(&s));
		json_counters(&w, &s);
		jw_obj_end(&w);
		jw_end(&w);
		return 0;
	}
	const struct weft_engine_pub *p = &s.pub;
	printf("dev %s  pid %u (%s)  mode %s\n", in.dev, in.pid, in.alive ? "running" : "gone",
	       mode_name(&s));
	printf("xdp:\n");
	for (int i = 0; i < WEFT_CNT__MAX; i++)
		printf("  %-18s %llu\n", counter_names[i], (unsigned long long)s.cnt[i]);
	printf("capture: path %s, attach %s, sweeper %s\n", path_name(&s), attach_name(&s),
	       sweeper_name(&s));
	printf("  %-18s %llu\n", "interface_drops", (unsigned long long)p->iface_drops);
	printf("af_xdp: %u queue(s)\n", p->queues);
	printf("  %-18s %llu\n  %-18s %llu\n  %-18s %llu\n  %-18s %llu\n", "frames",
	       (unsigned long long)p->frames, "kernel_drops", (unsigned long long)p->xsk_dropped,
	       "ring_full", (unsigned long long)p->xsk_ring_full, "fill_ring_empty",
	       (unsigned long long)p->xsk_fill_empty);
	printf("engine:\n");
	printf("  %-18s %llu (%llu open)\n", "connections", (unsigned long long)p->conns,
	       (unsigned long long)p->conns_open);
	printf("  %-18s %llu\n", "bytes", (unsigned long long)p->delivered_bytes);
	printf("  %-18s %llu (%llu bytes)\n", "gaps", (unsigned long long)p->gaps,
	       (unsigned long long)p->gap_bytes);
	printf("  %-18s %llu (peak %llu)\n", "memory", (unsigned long long)p->mem_used,
	       (unsigned long long)p->mem_peak);
	printf("  %-18s", "ends");
	for (int r = 1; r < WEFT_END__COUNT && r < WEFT_PUB_ENDS; r++)
		printf(" %s %llu", weft_end_reason_name((enum weft_end_reason)r),
		       (unsigned long long)p->ends[r]);
	printf("\n  %-18s %llu\n  %-18s %.3f ms\n  %-18s %.3f ms (longest %.3f ms)\n", "bypass_written",
	       (unsigned long long)p->bypass_written, "kernel_sweep", (double)p->sweep_ns_last / 1e6,
	       "idle_sweep", (double)p->engine_sweep_ns_last / 1e6, (double)p->engine_sweep_ns_max / 1e6);
	/* (longest: the longest slice, the most the rings ever waited) */
	printf("  %-18s %s, %llu removed from user space (longest slice %.3f ms)\n", "sweeper",
	       sweeper_name(&s), (unsigned long long)p->swept_user, (double)p->sweep_ns_max / 1e6);
	return 0;
}
