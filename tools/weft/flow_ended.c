/* SPDX-License-Identifier: MIT */
/*
 * Connections a running weft has ended: their names leave the conns map,
 * but their kernel flow entries live on until swept, and their ids are in
 * the instance's DIR/flows.jsonl. The directory is the daemon's own -o,
 * read from /proc/PID (its argv and working directory), so nothing new has
 * to be pinned for it.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "flow_ended.h"
#include "weft/flowhash.h"

/* The instance's flows.jsonl, or NULL (-c without -o writes none). */
static FILE *open_jsonl(const struct instance *in)
{
	char p[64], args[16384], cwd[PATH_MAX], path[2 * PATH_MAX];
	snprintf(p, sizeof(p), "/proc/%u/cmdline", in->pid);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	ssize_t n = read(fd, args, sizeof(args) - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	args[n] = 0;
	const char *dir = NULL;
	bool chunks = false;
	for (const char *a = args; a < args + n; a += strlen(a) + 1) {
		const char *next = a + strlen(a) + 1;
		if (!strcmp(a, "-o") && next < args + n)
			dir = next;
		else if (!strcmp(a, "-c"))
			chunks = true;
	}
	if (!dir && chunks)
		return NULL;
	if (!dir)
		dir = ".";
	if (dir[0] == '/') {
		snprintf(path, sizeof(path), "%s/flows.jsonl", dir);
	} else {
		snprintf(p, sizeof(p), "/proc/%u/cwd", in->pid);
		ssize_t m = readlink(p, cwd, sizeof(cwd) - 1);
		if (m <= 0)
			return NULL;
		cwd[m] = 0;
		snprintf(path, sizeof(path), "%s/%s/flows.jsonl", cwd, dir);
	}
	return fopen(path, "re");
}

static const char *field(const char *line, const char *key)
{
	const char *p = strstr(line, key);
	return p ? p + strlen(key) : NULL;
}

static bool str_field(const char *line, const char *key, char *out, size_t len)
{
	const char *p = field(line, key);
	if (!p)
		return false;
	size_t n = 0;
	while (p[n] && p[n] != '"' && n + 1 < len) {
		out[n] = p[n];
		n++;
	}
	out[n] = 0;
	return true;
}

/* One line of flows.jsonl (weft's own, so a fixed layout) into e. */
static bool parse_line(const char *line, struct ended_conn *e)
{
	char src[64], dst[64];
	const char *id = field(line, "\"id\": "), *sp = field(line, "\"sport\": ");
	const char *dp = field(line, "\"dport\": "), *vl = field(line, "\"vlan\": [");
	if (!id || !sp || !dp || !vl || !str_field(line, "\"src\": \"", src, sizeof(src)) ||
	    !str_field(line, "\"dst\": \"", dst, sizeof(dst)))
		return false;
	memset(e, 0, sizeof(*e));
	e->id = strtoull(id, NULL, 10);
	e->sport = (uint16_t)strtoul(sp, NULL, 10);
	e->dport = (uint16_t)strtoul(dp, NULL, 10);
	snprintf(e->src, sizeof(e->src), "%s", src);
	snprintf(e->dst, sizeof(e->dst), "%s", dst);
	str_field(line, "\"end\": \"", e->end, sizeof(e->end));
	uint32_t a[4] = { 0 }, b[4] = { 0 };
	int fam = strchr(src, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(fam, src, a) != 1 || inet_pton(fam, dst, b) != 1)
		return false;
	char *q = (char *)vl;
	for (int i = 0; i < 2 && *q != ']'; i++) {
		e->key.vlan[i] = (uint16_t)strtoul(q, &q, 10);
		while (*q == ',' || *q == ' ')
			q++;
	}
	/* the kernel's order: the endpoint that sorts first is endpoint 0 */
	int swap = weft_endpoint_after(a, e->sport, b, e->dport);
	memcpy(e->key.addr[swap], a, 16);
	memcpy(e->key.addr[!swap], b, 16);
	e->key.port[swap] = e->sport;
	e->key.port[!swap] = e->dport;
	e->key.family = fam == AF_INET6 ? 6 : 4;
	return true;
}

int ended_each(const struct instance *in, void (*fn)(const struct ended_conn *e, void *arg),
	       void *arg)
{
	FILE *f = open_jsonl(in);
	if (!f)
		return -1;
	char *line = NULL;
	size_t cap = 0;
	struct ended_conn e;
	while (getline(&line, &cap, f) > 0)
		if (parse_line(line, &e))
			fn(&e, arg);
	free(line);
	fclose(f);
	return 0;
}
