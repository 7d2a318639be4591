/* SPDX-License-Identifier: MIT */
/*
 * weft policy show | set KEY VALUE ...: a running weft's live settings, in
 * its pinned policy map (reread by the daemon every second) and its port
 * and CIDR filter maps (read by the XDP program for every packet).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "cli.h"
#include "weft/abi.h"
#include "weft/weft.h"

enum kind { K_DURATION, K_SIZE, K_COUNT, K_CHOICE, K_ONOFF, K_PORT, K_NET };

struct key {
	const char *name;
	enum kind kind;
	size_t off;              /* in struct weft_policy (not for port/net) */
	const char *choices[2];  /* K_CHOICE: value 0, value 1 */
	const char *help;
};

#define OFF(f) offsetof(struct weft_policy, f)
static const struct key keys[] = {
	{ "idle-timeout", K_DURATION, OFF(idle_established_ns), { 0 }, "established connections idle this long end (idle)" },
	{ "closing-timeout", K_DURATION, OFF(idle_closing_ns), { 0 }, "after a FIN or RST" },
	{ "halfopen-timeout", K_DURATION, OFF(idle_halfopen_ns), { 0 }, "SYN seen, no answer yet" },
	{ "memcap", K_SIZE, OFF(memcap), { 0 }, "memory for all engine state (0: none)" },
	{ "max-flows", K_COUNT, OFF(max_flows), { 0 }, "open connections (0: no limit)" },
	{ "buffer", K_SIZE, OFF(buffer_cap), { 0 }, "out-of-order bytes held per direction" },
	{ "buffer-policy", K_CHOICE, OFF(buffer_policy), { "gap", "end" }, "at the buffer cap: give up the hole, or end" },
	{ "depth", K_SIZE, OFF(depth), { 0 }, "bytes kept per direction, the rest bypassed (0: all)" },
	{ "overlap", K_CHOICE, OFF(overlap), { "first", "last" }, "which copy of differing bytes wins" },
	{ "ack-offload", K_ONOFF, OFF(ack_offload), { 0 }, "pure ACKs stay in the kernel flow table" },
	{ "port", K_PORT, 0, { 0 }, "PORT ignore|follow: ignored ports are never copied" },
	{ "net", K_NET, 0, { 0 }, "CIDR ignore|follow: ignored networks are never copied" },
};
#define NKEYS ((int)(sizeof(keys) / sizeof(keys[0])))

static void policy_help(void)
{
	fprintf(stdout, "Usage: %s policy show [dev IFACE]\n"
		"       %s policy set [dev IFACE] KEY VALUE [KEY VALUE ...]\n\n"
		"Live settings of a running weft; 'set' takes effect within a second.\n"
		"KEY (any unique prefix):\n", prog_name, prog_name);
	for (int i = 0; i < NKEYS; i++)
		fprintf(stdout, "  %-17s %s\n", keys[i].name, keys[i].help);
	fprintf(stdout, "Values take units: 5s, 250ms, 2m; 64M, 512k, 1G.\n");
}

/* "10.0.0.0/8", "fd00::/16", a bare address (a host): the LPM key */
static int parse_cidr(const char *s, struct weft_cidr_key *k)
{
	char a[64];
	snprintf(a, sizeof(a), "%s", s);
	char *slash = strchr(a, '/');
	long plen = -1;
	if (slash) {
		*slash = 0;
		char *end;
		plen = strtol(slash + 1, &end, 10);
		if (*end || plen < 0)
			return -1;
	}
	memset(k, 0, sizeof(*k));
	uint8_t v4[4];
	if (inet_pton(AF_INET, a, v4) == 1) {
		if (plen > 32)
			return -1;
		k->addr[10] = k->addr[11] = 0xff;
		memcpy(k->addr + 12, v4, 4);
		k->prefixlen = 96 + (uint32_t)(plen < 0 ? 32 : plen);
	} else if (inet_pton(AF_INET6, a, k->addr) == 1) {
		if (plen > 128)
			return -1;
		k->prefixlen = (uint32_t)(plen < 0 ? 128 : plen);
	} else {
		return -1;
	}
	return 0;
}

static void cidr_str(const struct weft_cidr_key *k, char *buf, size_t len) /* len >= 64 */
{
	char a[48];
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (k->prefixlen >= 96 && !memcmp(k->addr, mapped, 12)) {
		inet_ntop(AF_INET, k->addr + 12, a, sizeof(a));
		snprintf(buf, len, "%s/%u", a, k->prefixlen - 96);
	} else {
		inet_ntop(AF_INET6, k->addr, a, sizeof(a));
		snprintf(buf, len, "%s/%u", a, k->prefixlen);
	}
}

static void value_str(const struct key *k, const struct weft_policy *p, char *buf, size_t len)
{
	const uint8_t *base = (const uint8_t *)p + k->off;
	uint64_t v64;
	uint32_t v32;
	switch (k->kind) {
	case K_DURATION:
		memcpy(&v64, base, 8);
		fmt_duration(v64, buf, len);
		break;
	case K_SIZE:
		memcpy(&v64, base, 8);
		fmt_size(v64, buf, len);
		break;
	case K_COUNT:
		memcpy(&v64, base, 8);
		snprintf(buf, len, "%llu", (unsigned long long)v64);
		break;
	case K_CHOICE:
		memcpy(&v32, base, 4);
		snprintf(buf, len, "%s", k->choices[v32 ? 1 : 0]);
		break;
	case K_ONOFF:
		memcpy(&v32, base, 4);
		snprintf(buf, len, "%s", v32 ? "on" : "off");
		break;
	default:
		buf[0] = 0;
	}
}

static int show(const struct instance *in)
{
	int pf = instance_map(in, "policy"), portf = instance_map(in, "ports"),
	    netf = instance_map(in, "cidrs");
	if (pf < 0 || portf < 0 || netf < 0)
		return 1;
	struct weft_policy p;
	uint32_t zero = 0;
	if (bpf_map_lookup_elem(pf, &zero, &p) != 0)
		return cli_error("cannot read the policy of %s", in->dev);
	struct jw w;
	char v[64];
	if (json_output) {
		jw_init(&w, stdout, pretty_output);
		jw_obj_start(&w, NULL);
		jw_str(&w, "dev", in->dev);
	} else {
		printf("dev %s\n", in->dev);
	}
	for (int i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		if (k->kind == K_PORT || k->kind == K_NET)
			continue;
		const uint8_t *base = (const uint8_t *)&p + k->off;
		if (json_output) {
			uint64_t v64 = 0;
			uint32_t v32 = 0;
			if (k->kind == K_CHOICE || k->kind == K_ONOFF) {
				memcpy(&v32, base, 4);
				if (k->kind == K_ONOFF)
					jw_bool(&w, k->name, v32 != 0);
				else
					jw_str(&w, k->name, k->choices[v32 ? 1 : 0]);
			} else {
				memcpy(&v64, base, 8);
				/* durations in ns, sizes in bytes: exact numbers */
				char kn[48];
				snprintf(kn, sizeof(kn), "%s%s", k->name, k->kind == K_DURATION ? "-ns" : "");
				jw_u64(&w, kn, v64);
			}
		} else {
			value_str(k, &p, v, sizeof(v));
			printf("  %-17s %s\n", k->name, v);
		}
	}
	/* the filters */
	uint16_t port, next;
	void *prev = NULL;
	if (json_output)
		jw_arr_start(&w, "ignore-ports");
	while (bpf_map_get_next_key(portf, prev, &next) == 0) {
		port = next;
		prev = &port;
		uint32_t val;
		if (bpf_map_lookup_elem(portf, &port, &val) != 0 || val != WEFT_POLICY_IGNORE)
			continue;
		if (json_output)
			jw_u64(&w, NULL, port);
		else
			printf("  %-17s %u ignore\n", "port", port);
	}
	if (json_output) {
		jw_arr_end(&w);
		jw_arr_start(&w, "ignore-nets");
	}
	struct weft_cidr_key ck, nk;
	void *cprev = NULL;
	while (bpf_map_get_next_key(netf, cprev, &nk) == 0) {
		ck = nk;
		cprev = &ck;
		cidr_str(&ck, v, sizeof(v));
		if (json_output)
			jw_str(&w, NULL, v);
		else
			printf("  %-17s %s ignore\n", "net", v);
	}
	if (json_output) {
		jw_arr_end(&w);
		jw_obj_end(&w);
		jw_end(&w);
	}
	close(pf);
	close(portf);
	close(netf);
	return 0;
}

struct filter_change {
	int kind; /* K_PORT or K_NET */
	bool ignore;
	uint16_t port;
	struct weft_cidr_key net;
};

static int set(const struct instance *in, int argc, char **argv)
{
	if (argc < 2)
		return cli_error("policy set needs KEY VALUE pairs (try '%s policy help')", prog_name);
	int pf = instance_map(in, "policy");
	if (pf < 0)
		return 1;
	struct weft_policy p;
	uint32_t zero = 0;
	if (bpf_map_lookup_elem(pf, &zero, &p) != 0)
		return cli_error("cannot read the policy of %s", in->dev);
	struct filter_change fc[32];
	int nfc = 0;
	const char *names[NKEYS];
	for (int i = 0; i < NKEYS; i++)
		names[i] = keys[i].name;
	/* everything is checked before anything is written */
	for (int i = 0; i < argc; i += 2) {
		int ki = match_keyword(argv[i], names, NKEYS);
		if (ki == -2)
			return cli_error("'%s' is ambiguous (try '%s policy help')", argv[i], prog_name);
		if (ki < 0)
			return cli_error("unknown policy key '%s' (try '%s policy help')", argv[i], prog_name);
		const struct key *k = &keys[ki];
		if (i + 1 >= argc)
			return cli_error("%s needs a value (try '%s policy help')", k->name, prog_name);
		const char *v = argv[i + 1];
		uint8_t *base = (uint8_t *)&p + k->off;
		uint64_t v64;
		uint32_t v32;
		switch (k->kind) {
		case K_DURATION:
			if (parse_duration(v, &v64) || !v64)
				return cli_error("%s needs a duration above 0 (5s, 250ms, 2m), not '%s'", k->name, v);
			memcpy(base, &v64, 8);
			break;
		case K_SIZE:
		case K_COUNT:
			if (parse_size(v, &v64))
				return cli_error("%s needs a number%s, not '%s'", k->name,
						 k->kind == K_SIZE ? " of bytes (64M, 512k)" : "", v);
			memcpy(base, &v64, 8);
			break;
		case K_CHOICE:
			if (is_prefix(v, k->choices[0]))
				v32 = 0;
			else if (is_prefix(v, k->choices[1]))
				v32 = 1;
			else
				return cli_error("%s is %s or %s, not '%s'", k->name, k->choices[0],
						 k->choices[1], v);
			memcpy(base, &v32, 4);
			break;
		case K_ONOFF:
			if (!strcmp(v, "on") || !strcmp(v, "1"))
				v32 = 1;
			else if (!strcmp(v, "off") || !strcmp(v, "0"))
				v32 = 0;
			else
				return cli_error("%s is on or off, not '%s'", k->name, v);
			memcpy(base, &v32, 4);
			break;
		case K_PORT:
		case K_NET: {
			if (i + 2 >= argc)
				return cli_error("%s %s needs ignore or follow after it", k->name, v);
			const char *act = argv[i + 2];
			if (nfc == 32)
				return cli_error("too many filter changes at once");
			struct filter_change *f = &fc[nfc++];
			f->kind = k->kind;
			if (is_prefix(act, "ignore"))
				f->ignore = true;
			else if (is_prefix(act, "follow"))
				f->ignore = false;
			else
				return cli_error("%s %s: ignore or follow, not '%s'", k->name, v, act);
			if (k->kind == K_PORT) {
				char *end;
				long n = strtol(v, &end, 10);
				if (*end || n < 1 || n > 65535)
					return cli_error("port needs a number from 1 to 65535, not '%s'", v);
				f->port = (uint16_t)n;
			} else if (parse_cidr(v, &f->net)) {
				return cli_error("net needs an address or CIDR (10.0.0.0/8, fd00::/16), not '%s'", v);
			}
			i++; /* three words */
			break;
		}
		}
	}
	p.gen++;
	if (bpf_map_update_elem(pf, &zero, &p, 0) != 0)
		return cli_error("cannot write the policy of %s", in->dev);
	close(pf);
	if (nfc) {
		int portf = instance_map(in, "ports"), netf = instance_map(in, "cidrs");
		if (portf < 0 || netf < 0)
			return 1;
		uint32_t ign = WEFT_POLICY_IGNORE;
		for (int i = 0; i < nfc; i++) {
			struct filter_change *f = &fc[i];
			int fd = f->kind == K_PORT ? portf : netf;
			void *key = f->kind == K_PORT ? (void *)&f->port : (void *)&f->net;
			int rc = f->ignore ? bpf_map_update_elem(fd, key, &ign, 0) : bpf_map_delete_elem(fd, key);
			if (rc && f->ignore)
				return cli_error("cannot add the filter (the map is full?)");
		}
		close(portf);
		close(netf);
	}
	if (json_output) {
		struct jw w;
		jw_init(&w, stdout, pretty_output);
		jw_obj_start(&w, NULL);
		jw_str(&w, "dev", in->dev);
		jw_u64(&w, "generation", p.gen);
		jw_obj_end(&w);
		jw_end(&w);
	}
	return 0;
}

int do_policy(int argc, char **argv)
{
	if (argc < 1 || is_prefix(argv[0], "help")) {
		policy_help();
		return argc < 1 ? 1 : 0;
	}
	static const char *const cmds[] = { "show", "set", "list" };
	int c = match_keyword(argv[0], cmds, 3);
	if (c < 0)
		return cli_error("unknown command '%s' (try '%s policy help')", argv[0], prog_name);
	if (asks_help(argc, argv)) {
		policy_help();
		return 0;
	}
	const char *dev = NULL;
	int i = 1;
	if (i < argc && dev_option(argc, argv, &i, &dev) < 0)
		return 1;
	if (dev)
		i++;
	struct instance in;
	if (instance_find(dev, &in, c == 1))
		return 1;
	if (c == 1)
		return set(&in, argc - i, argv + i);
	if (i < argc)
		return cli_error("unknown argument '%s' (try '%s policy help')", argv[i], prog_name);
	return show(&in);
}
