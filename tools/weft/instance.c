/* SPDX-License-Identifier: MIT */
/*
 * Running weft instances, as the CLI finds them: by their pins under
 * /sys/fs/bpf/weft/IFACE/ (the daemon's pid is in cfg_map). No socket to
 * the daemon: everything goes through the pinned maps.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include "cli.h"
#include "weft/abi.h"
#include "weft/live.h"

int dev_option(int argc, char **argv, int *i, const char **dev)
{
	if (strcmp(argv[*i], "dev") != 0)
		return 0;
	if (*i + 1 >= argc) {
		cli_error("dev needs an interface name");
		return -1;
	}
	*dev = argv[++*i];
	return 1;
}

static int read_one(const char *dev, struct instance *in)
{
	char p[300];
	memset(in, 0, sizeof(*in));
	snprintf(in->dev, sizeof(in->dev), "%s", dev);
	snprintf(p, sizeof(p), "%s/%s/cfg_map", WEFT_PIN_ROOT, dev);
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
	return 0;
}

int instance_each(void (*fn)(const struct instance *in, void *arg), void *arg)
{
	DIR *d = opendir(WEFT_PIN_ROOT);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d))) {
		struct instance in;
		if (e->d_name[0] == '.' || read_one(e->d_name, &in) != 0)
			continue;
		n++;
		if (fn)
			fn(&in, arg);
	}
	if (d)
		closedir(d);
	return n;
}

struct pick {
	struct instance first;
	int n;
	char names[256];
};

static void pick_one(const struct instance *in, void *arg)
{
	struct pick *p = arg;
	if (!p->n++)
		p->first = *in;
	size_t l = strlen(p->names);
	snprintf(p->names + l, sizeof(p->names) - l, "%s%s", l ? ", " : "", in->dev);
}

int instance_find(const char *dev, struct instance *in, bool must_run)
{
	if (geteuid() != 0 && access(WEFT_PIN_ROOT, R_OK) != 0)
		return cli_error("cannot read %s: %s (root needed)", WEFT_PIN_ROOT, strerror(errno));
	if (dev) {
		if (read_one(dev, in) != 0)
			return cli_error("no weft instance is attached to %s", dev);
	} else {
		struct pick p = { 0 };
		instance_each(pick_one, &p);
		if (!p.n)
			return cli_error("no weft instance is running");
		if (p.n > 1)
			return cli_error("several weft instances (%s): name one with dev IFACE", p.names);
		*in = p.first;
	}
	if (must_run && !in->alive)
		return cli_error("the weft on %s (pid %u) is gone; its pins remain in %s/%s", in->dev,
				 in->pid, WEFT_PIN_ROOT, in->dev);
	return 0;
}

int instance_map(const struct instance *in, const char *name)
{
	char p[300];
	snprintf(p, sizeof(p), "%s/%s/%s", WEFT_PIN_ROOT, in->dev, name);
	int fd = bpf_obj_get(p);
	if (fd < 0)
		cli_error("cannot open %s: %s (an older weft?)", p, strerror(errno));
	return fd;
}

uint64_t mono_now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

int64_t mono_to_real_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000ll + t.tv_nsec - (int64_t)mono_now_ns();
}

void iso_time(uint64_t real_ns, char *buf, size_t len)
{
	time_t s = (time_t)(real_ns / 1000000000ull);
	struct tm tm;
	gmtime_r(&s, &tm);
	char d[32];
	strftime(d, sizeof(d), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06lluZ", d, (unsigned long long)(real_ns % 1000000000ull / 1000));
}

void fmt_duration(uint64_t ns, char *buf, size_t len)
{
	if (ns && ns % 3600000000000ull == 0)
		snprintf(buf, len, "%lluh", (unsigned long long)(ns / 3600000000000ull));
	else if (ns && ns % 60000000000ull == 0)
		snprintf(buf, len, "%llum", (unsigned long long)(ns / 60000000000ull));
	else if (ns % 1000000000ull == 0)
		snprintf(buf, len, "%llus", (unsigned long long)(ns / 1000000000ull));
	else if (ns % 1000000ull == 0)
		snprintf(buf, len, "%llums", (unsigned long long)(ns / 1000000ull));
	else
		snprintf(buf, len, "%lluns", (unsigned long long)ns);
}

void fmt_size(uint64_t b, char *buf, size_t len)
{
	static const char u[] = "KMGT";
	int i = -1;
	while (b && b % 1024 == 0 && i < 3) {
		b /= 1024;
		i++;
	}
	if (i < 0)
		snprintf(buf, len, "%llu", (unsigned long long)b);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)b, u[i]);
}
