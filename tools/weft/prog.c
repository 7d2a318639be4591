/* SPDX-License-Identifier: MIT */
/*
 * weft prog show / weft stats: what the running instances' pinned maps say.
 * Reads /sys/fs/bpf/weft/IFACE/ only; no private socket to the daemon.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cli.h"
#include "weft/abi.h"
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
};

struct instance {
	uint32_t pid;
	bool alive;
	uint64_t cnt[WEFT_CNT__MAX];
};

/* 0, or -1 when no weft instance has pins for ifname */
static int read_instance(const char *ifname, struct instance *in)
{
	char p[300];
	memset(in, 0, sizeof(*in));
	snprintf(p, sizeof(p), "%s/%s/cfg_map", WEFT_PIN_ROOT, ifname);
	int fd = bpf_obj_get(p);
	if (fd < 0)
		return -1;
	struct weft_config_map c;
	uint32_t k = 0;
	if (bpf_map_lookup_elem(fd, &k, &c) == 0)
		in->pid = c.owner_pid;
	close(fd);
	snprintf(p, sizeof(p), "/proc/%u/comm", in->pid);
	in->alive = in->pid && access(p, F_OK) == 0;
	snprintf(p, sizeof(p), "%s/%s/counters", WEFT_PIN_ROOT, ifname);
	fd = bpf_obj_get(p);
	if (fd < 0)
		return -1;
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v = calloc((size_t)(ncpu > 0 ? ncpu : 1), sizeof(uint64_t));
	for (uint32_t i = 0; v && i < WEFT_CNT__MAX; i++) {
		if (bpf_map_lookup_elem(fd, &i, v) != 0)
			continue;
		for (int cpu = 0; cpu < ncpu; cpu++)
			in->cnt[i] += v[cpu];
	}
	free(v);
	close(fd);
	return 0;
}

static void json_counters(struct jw *w, const struct instance *in)
{
	jw_obj_start(w, "counters");
	for (int i = 0; i < WEFT_CNT__MAX; i++)
		jw_u64(w, counter_names[i], in->cnt[i]);
	jw_obj_end(w);
}

int do_prog(int argc, char **argv)
{
	if (argc < 1 || is_prefix(argv[0], "help")) {
		fprintf(stderr, "Usage: %s prog show\n"
			"       list the interfaces a weft is attached to (from %s)\n",
			prog_name, WEFT_PIN_ROOT);
		return argc < 1 ? 1 : 0;
	}
	if (!is_prefix(argv[0], "show") && !is_prefix(argv[0], "list"))
		return cli_error("unknown command '%s' (try '%s prog help')", argv[0], prog_name);
	DIR *d = opendir(WEFT_PIN_ROOT);
	struct jw w;
	if (json_output) {
		jw_init(&w, stdout, pretty_output);
		jw_arr_start(&w, NULL);
	}
	struct dirent *e;
	while (d && (e = readdir(d))) {
		struct instance in;
		if (e->d_name[0] == '.' || read_instance(e->d_name, &in) != 0)
			continue;
		if (json_output) {
			jw_obj_start(&w, NULL);
			jw_str(&w, "dev", e->d_name);
			jw_u64(&w, "pid", in.pid);
			jw_bool(&w, "running", in.alive);
			jw_str(&w, "mode", "tap");
			json_counters(&w, &in);
			jw_obj_end(&w);
		} else {
			printf("%-16s pid %-7u %-7s mode tap  packets %llu  to user %llu  bypassed %llu\n",
			       e->d_name, in.pid, in.alive ? "running" : "GONE",
			       (unsigned long long)in.cnt[WEFT_CNT_PACKETS],
			       (unsigned long long)in.cnt[WEFT_CNT_REDIRECT],
			       (unsigned long long)in.cnt[WEFT_CNT_BYPASS]);
		}
	}
	if (d)
		closedir(d);
	if (json_output) {
		jw_arr_end(&w);
		jw_end(&w);
	}
	return 0;
}

int do_stats(int argc, char **argv)
{
	const char *dev = NULL;
	for (int i = 0; i < argc; i++) {
		if (is_prefix(argv[i], "help")) {
			fprintf(stderr, "Usage: %s stats dev IFACE\n"
				"       the XDP program's counters, summed over CPUs\n", prog_name);
			return 0;
		}
		if (!strcmp(argv[i], "dev") && i + 1 < argc)
			dev = argv[++i];
		else
			return cli_error("unknown argument '%s' (try '%s stats help')", argv[i], prog_name);
	}
	if (!dev)
		return cli_error("which interface? (%s stats dev IFACE)", prog_name);
	struct instance in;
	if (read_instance(dev, &in) != 0)
		return cli_error("no weft instance is attached to %s", dev);
	if (json_output) {
		struct jw w;
		jw_init(&w, stdout, pretty_output);
		jw_obj_start(&w, NULL);
		jw_str(&w, "dev", dev);
		jw_u64(&w, "pid", in.pid);
		jw_bool(&w, "running", in.alive);
		json_counters(&w, &in);
		jw_obj_end(&w);
		jw_end(&w);
		return 0;
	}
	printf("dev %s  pid %u (%s)\n", dev, in.pid, in.alive ? "running" : "gone");
	for (int i = 0; i < WEFT_CNT__MAX; i++)
		printf("  %-16s %llu\n", counter_names[i], (unsigned long long)in.cnt[i]);
	return 0;
}
