/* SPDX-License-Identifier: MIT */
/*
 * The live source's kernel side: the interface (routes, queues, MTU, bus,
 * drops), bpffs and the pins, loading the programs, and their links.
 *
 * What weft cannot run without is the classifier and its path's programs;
 * everything else is optional and falls back with a notice: the kernel
 * sweepers (iterators, refused where tracing programs are) give way to a
 * sweep from user space, tcx links to the legacy TC hook, a missing bpffs
 * is mounted. A program the kernel refuses is named with its errno, and
 * -d prints libbpf's and the verifier's log.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "live_int.h"
#include "weft.skel.h"
#include "sweep.skel.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif
/* tcx attach types (kernel 6.6), newer than these headers */
#define WEFT_TCX_INGRESS 46
#define WEFT_TCX_EGRESS 47
/* where weft's cls_bpf filters sit on the legacy hook */
#define LEGACY_TC_HANDLE 0x77ef
#define LEGACY_TC_PRIO 0x77ef

static const char *const pinned[] = { "counters", "cfg_map", "ports", "cidrs", "bypass",
				      "flows", "policy", "conns", "cmds", "epub" };

int64_t weft_live_clock_ns(int clock)
{
	struct timespec t;
	clock_gettime((clockid_t)clock, &t);
	return (int64_t)t.tv_sec * 1000000000ll + t.tv_nsec;
}

/* An optional piece the kernel refused and what weft does instead: kept
 * for weft run to print, each after the last. */
void weft_live_notice(struct weft_live *l, const char *fmt, ...)
{
	size_t n = strlen(l->st.notice);
	if (n && n + 2 < sizeof(l->st.notice)) {
		memcpy(l->st.notice + n, "; ", 3);
		n += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->st.notice + n, sizeof(l->st.notice) - n, fmt, ap);
	va_end(ap);
}

/* ---- the interface ---- */

bool weft_iface_has_default_route(const char *ifname)
{
	char line[512], dev[64];
	unsigned long dst, mask;
	bool found = false;
	FILE *f = fopen("/proc/net/route", "r");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%63s %lx %*x %*x %*d %*d %*d %lx", dev, &dst, &mask) == 3 &&
			    dst == 0 && mask == 0 && !strcmp(dev, ifname))
				found = true;
		fclose(f);
	}
	f = fopen("/proc/net/ipv6_route", "r");
	if (f) {
		char d[40];
		unsigned plen;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%32s %x %*s %*s %*s %*s %*s %*s %*s %63s", d, &plen, dev) == 3 &&
			    plen == 0 && !strcmp(d, "00000000000000000000000000000000") &&
			    !strcmp(dev, ifname))
				found = true;
		fclose(f);
	}
	return found;
}

bool weft_iface_is_hosts(const char *ifname)
{
	struct ifaddrs *ifa, *i;
	bool mine = false;
	if (getifaddrs(&ifa) == 0) {
		for (i = ifa; i; i = i->ifa_next) {
			if (!i->ifa_addr || !i->ifa_name || strcmp(i->ifa_name, ifname))
				continue;
			if (i->ifa_addr->sa_family == AF_INET)
				mine = true;
			else if (i->ifa_addr->sa_family == AF_INET6 &&
				 !IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr))
				mine = true;
		}
		freeifaddrs(ifa);
	}
	return mine || weft_iface_has_default_route(ifname);
}

/* An interface ioctl on a socket of the current network namespace (sysfs
 * may be another namespace's under nsenter); 0 on success. */
static int iface_ioctl(const char *ifname, unsigned long req, struct ifreq *ifr)
{
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", ifname);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int rc = ioctl(fd, req, ifr);
	close(fd);
	return rc;
}

/* A device with no bus behind it (veth, bridge, bond, tun, dummy) reports
 * an empty bus_info; a NIC, virtio's included, reports its PCI address. */
bool weft_iface_is_virtual(const char *ifname)
{
	struct ethtool_drvinfo di = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = { .ifr_data = (void *)&di };
	if (iface_ioctl(ifname, SIOCETHTOOL, &ifr) != 0)
		return true; /* no driver info at all: not a NIC's driver */
	return di.bus_info[0] == 0 || !strcmp(di.driver, "veth");
}

static bool iface_is_veth(const char *ifname)
{
	struct ethtool_drvinfo di = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr = { .ifr_data = (void *)&di };
	return iface_ioctl(ifname, SIOCETHTOOL, &ifr) == 0 && !strcmp(di.driver, "veth");
}

uint32_t weft_live_rx_queues(const char *ifname)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr = { .ifr_data = (void *)&ch };
	uint32_t n = 0;
	if (iface_ioctl(ifname, SIOCETHTOOL, &ifr) == 0)
		n = ch.rx_count > ch.combined_count ? ch.rx_count : ch.combined_count;
	return n ? n : 1;
}

/* The UMEM frame for ifname's MTU: the small one when its largest frame,
 * with two VLAN tags, fits behind the kernel's headroom. A frame larger
 * than its UMEM frame is dropped by AF_XDP (and counted in the kernel
 * drops), so an unknown MTU gets the large one. */
uint32_t weft_live_frame_size(const char *ifname)
{
	struct ifreq ifr = { 0 };
	if (iface_ioctl(ifname, SIOCGIFMTU, &ifr) != 0 || ifr.ifr_mtu <= 0)
		return 4096;
	unsigned frame = (unsigned)ifr.ifr_mtu + 14 + 2 * 4; /* Ethernet, two tags */
	return frame <= 2048 - 256 /* XDP_PACKET_HEADROOM */ ? 2048 : 4096;
}

/* One link's 64-bit counters and its peer (IFLA_LINK, and the peer's
 * namespace as this one numbers it, -1: the same), asked of rtnetlink;
 * nsid >= 0 asks for a link of that namespace. 0 on success. */
static int link_stats(int ifindex, int nsid, struct rtnl_link_stats64 *st, int *peer,
		      int *peer_nsid)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -1;
	struct {
		struct nlmsghdr n;
		struct ifinfomsg i;
		char attrs[16];
	} req = { .n = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
			 .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST },
		  .i = { .ifi_family = AF_UNSPEC, .ifi_index = ifindex } };
	if (nsid >= 0) {
		struct rtattr *a = (struct rtattr *)((char *)&req + NLMSG_ALIGN(req.n.nlmsg_len));
		a->rta_type = IFLA_TARGET_NETNSID;
		a->rta_len = RTA_LENGTH(sizeof(int32_t));
		*(int32_t *)RTA_DATA(a) = nsid;
		req.n.nlmsg_len = NLMSG_ALIGN(req.n.nlmsg_len) + RTA_ALIGN(a->rta_len);
	}
	char buf[8192];
	int rc = -1;
	if (send(fd, &req, req.n.nlmsg_len, 0) < 0)
		goto out;
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_TRUNC);
	if (n > (ssize_t)sizeof(buf))
		goto out; /* a link message larger than we read: no counters */
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	if (n < (ssize_t)sizeof(*h) || !NLMSG_OK(h, (size_t)n) || h->nlmsg_type != RTM_NEWLINK)
		goto out;
	*peer = 0;
	*peer_nsid = -1;
	struct ifinfomsg *ii = NLMSG_DATA(h);
	int len = (int)IFLA_PAYLOAD(h);
	for (struct rtattr *a = IFLA_RTA(ii); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_STATS64 && RTA_PAYLOAD(a) >= sizeof(*st)) {
			memcpy(st, RTA_DATA(a), sizeof(*st));
			rc = 0;
		} else if (a->rta_type == IFLA_LINK && RTA_PAYLOAD(a) >= 4) {
			memcpy(peer, RTA_DATA(a), 4);
		} else if (a->rta_type == IFLA_LINK_NETNSID && RTA_PAYLOAD(a) >= 4) {
			memcpy(peer_nsid, RTA_DATA(a), 4);
		}
	}
out:
	close(fd);
	return rc;
}

/* Frames the interface lost before any program of ours ran: its missed
 * and FIFO-overrun frames (a NIC's full RX ring); on a veth, what its peer
 * could not hand over (the peer's transmit drops: the 256-slot XDP ring, or
 * the backlog, full), read from the peer's namespace through rtnetlink.
 * (Not rx_dropped: it also counts frames no protocol wanted, and a veth's
 * backlog drops again.) *own and *peer are left as they were where they
 * cannot be read (the peer's namespace needs CAP_NET_ADMIN there). */
void weft_live_iface_drops(const char *ifname, uint64_t *own, uint64_t *peer_drops)
{
	struct rtnl_link_stats64 st, pst;
	int ifindex = (int)if_nametoindex(ifname), peer = 0, pnsid = -1, x, y;
	if (!ifindex || link_stats(ifindex, -1, &st, &peer, &pnsid) != 0)
		return;
	*own = st.rx_missed_errors + st.rx_fifo_errors;
	if (peer && iface_is_veth(ifname) && link_stats(peer, pnsid, &pst, &x, &y) == 0)
		*peer_drops = pst.tx_dropped;
}

/* ---- privileges ---- */

/* What weft run needs, found by starting it with capsh under every subset
 * (tests/live/test_live.sh, "capabilities"): loading the classifier needs CAP_BPF, and
 * CAP_PERFMON because without it the verifier refuses packet pointer
 * arithmetic (its Spectre v1 hardening); attaching needs CAP_NET_ADMIN.
 * The AF_XDP path adds CAP_NET_RAW (the sockets) and, unless
 * RLIMIT_MEMLOCK holds the UMEM, CAP_IPC_LOCK. Mounting a missing bpffs
 * needs CAP_SYS_ADMIN (weft_live_ensure_bpffs says so when it fails). */
struct cap_need {
	int cap;
	const char *name;
};

static bool cap_has(const struct __user_cap_data_struct d[2], int cap)
{
	return (d[cap / 32].effective >> (cap % 32)) & 1;
}

int weft_live_check_caps(const struct weft_live *l, const struct weft_live_opts *o, char *err,
		    size_t errlen)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) != 0)
		return 0; /* cannot tell: the kernel will */
	const struct cap_need needs[] = { { CAP_BPF, "CAP_BPF" }, { CAP_NET_ADMIN, "CAP_NET_ADMIN" },
					  { CAP_PERFMON, "CAP_PERFMON" }, { CAP_NET_RAW, "CAP_NET_RAW" },
					  { CAP_IPC_LOCK, "CAP_IPC_LOCK" } };
	bool xsk = l->path == &weft_live_path_xsk;
	struct rlimit ml;
	uint64_t umem = (uint64_t)l->frames * l->frame_size *
			(o->queues ? o->queues : weft_live_rx_queues(l->ifname));
	/* CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON, as the kernel
	 * has it (and before 5.8 they did not exist) */
	bool admin = cap_has(d, CAP_SYS_ADMIN);
	bool memlock_ok = getrlimit(RLIMIT_MEMLOCK, &ml) == 0 &&
			  (ml.rlim_cur == RLIM_INFINITY || ml.rlim_cur >= umem + (1u << 20));
	char missing[128] = "";
	for (size_t i = 0; i < sizeof(needs) / sizeof(needs[0]); i++) {
		if (needs[i].cap == CAP_NET_RAW && !xsk)
			continue;
		if (needs[i].cap == CAP_IPC_LOCK && (!xsk || memlock_ok))
			continue;
		if ((needs[i].cap == CAP_BPF || needs[i].cap == CAP_PERFMON) && admin)
			continue;
		if (!cap_has(d, needs[i].cap))
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), "%s%s",
				 missing[0] ? ", " : "", needs[i].name);
	}
	if (!missing[0])
		return 0;
	snprintf(err, errlen, "weft run needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON%s (or root); "
		 "missing: %s", xsk ? ", and on the AF_XDP path CAP_NET_RAW and CAP_IPC_LOCK" : "",
		 missing);
	return -1;
}

/* ---- bpffs and the pins ---- */

/* bpffs where `ip netns exec` left none, as bpftool does */
static bool is_bpffs(const char *path)
{
	struct statfs s;
	return statfs(path, &s) == 0 && s.f_type == BPF_FS_MAGIC;
}

/* /sys/fs/bpf/weft where that is a bpffs (or none is mounted anywhere: weft
 * mounts it there); else a bpffs mounted elsewhere (a container's, a
 * system's that moved it), which needs no mount and no CAP_SYS_ADMIN. */
const char *weft_pin_root(void)
{
	static char root[256];
	if (root[0])
		return root;
	snprintf(root, sizeof(root), "/sys/fs/bpf/weft");
	if (is_bpffs("/sys/fs/bpf"))
		return root;
	FILE *f = fopen("/proc/self/mounts", "r");
	char line[1024], dev[256], dir[200], type[64];
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%255s %199s %63s", dev, dir, type) == 3 && !strcmp(type, "bpf") &&
		    is_bpffs(dir)) {
			snprintf(root, sizeof(root), "%s/weft", dir);
			break;
		}
	if (f)
		fclose(f);
	return root;
}

int weft_live_ensure_bpffs(char *err, size_t errlen)
{
	if (is_bpffs("/sys/fs/bpf") || strncmp(weft_pin_root(), "/sys/fs/bpf/", 12))
		return 0; /* there, or one elsewhere will do */
	mkdir("/sys/fs/bpf", 0700);
	if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") != 0) {
		snprintf(err, errlen, "/sys/fs/bpf is not a bpffs and mounting one there failed "
			 "(%s): mount it (mount -t bpf bpf /sys/fs/bpf) or give weft CAP_SYS_ADMIN",
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* Pins already there: a live weft, or a dead one's leftovers. */
int weft_live_check_pins(const char *dir, const char *ifname, char *err, size_t errlen)
{
	char p[300];
	snprintf(p, sizeof(p), "%s/cfg_map", dir);
	if (access(p, F_OK) != 0) {
		DIR *d = opendir(dir);
		struct dirent *e;
		bool empty = true;
		while (d && (e = readdir(d)))
			if (e->d_name[0] != '.')
				empty = false;
		if (d)
			closedir(d);
		if (empty)
			return 0;
	}
	uint32_t pid = 0;
	int fd = bpf_obj_get(p);
	if (fd >= 0) {
		struct weft_config_map c;
		uint32_t k = 0;
		if (bpf_map_lookup_elem(fd, &k, &c) == 0)
			pid = c.owner_pid;
		close(fd);
	}
	char comm[64] = "";
	snprintf(p, sizeof(p), "/proc/%u/comm", pid);
	FILE *f = pid ? fopen(p, "r") : NULL;
	if (f) {
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		fclose(f);
	}
	if (pid && !strncmp(comm, "weft", 4))
		snprintf(err, errlen, "another weft (pid %u) is running on %s", pid, ifname);
	else
		snprintf(err, errlen, "%s holds pinned maps of a weft that is gone; "
			 "remove them (rm -r %s) and start again", dir, dir);
	return -1;
}

void weft_live_unpin_dir(const char *dir)
{
	char p[300];
	for (size_t i = 0; i < sizeof(pinned) / sizeof(pinned[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, pinned[i]);
		unlink(p);
	}
	rmdir(dir);
	rmdir(WEFT_PIN_ROOT); /* only if no other interface is in use */
}

void weft_live_unpin(const char *ifname)
{
	char dir[256];
	snprintf(dir, sizeof(dir), "%s/%s", WEFT_PIN_ROOT, ifname);
	weft_live_unpin_dir(dir);
}

/* Pin every map under dir. On failure, only the pins this call made are
 * removed: another weft that started at the same moment keeps its own. */
int weft_live_pin_maps(struct weft_live *l, const char *dir, char *err, size_t errlen)
{
	char p[300];
	size_t i;
	for (i = 0; i < sizeof(pinned) / sizeof(pinned[0]); i++) {
		struct bpf_map *m = bpf_object__find_map_by_name(l->skel->obj, pinned[i]);
		snprintf(p, sizeof(p), "%s/%s", dir, pinned[i]);
		if (!m || bpf_map__pin(m, p) != 0) {
			int e = m ? errno : ENOENT;
			snprintf(err, errlen, "cannot pin %s: %s", p,
				 e == EEXIST ? "another weft pinned it first" : strerror(e));
			while (i--) {
				snprintf(p, sizeof(p), "%s/%s", dir, pinned[i]);
				unlink(p);
			}
			return -1;
		}
	}
	snprintf(l->pindir, sizeof(l->pindir), "%s", dir);
	return 0;
}

/* ---- loading ---- */

/* libbpf's messages: all of them on stderr with -d; without, only the name
 * of the last program it failed to load, to name it in the error. */
static bool debug_log;
static char failed_prog[64];

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[1024];
	va_list copy;
	va_copy(copy, ap);
	vsnprintf(line, sizeof(line), fmt, copy);
	va_end(copy);
	const char *p = strstr(line, "prog '");
	if (p && strstr(line, "failed to load")) {
		p += 6;
		size_t n = strcspn(p, "'");
		snprintf(failed_prog, sizeof(failed_prog), "%.*s", (int)(n < 63 ? n : 63), p);
	}
	(void)level;
	if (debug_log)
		vfprintf(stderr, fmt, ap); /* whole: a verifier log is one message */
	return 0;
}

/* Why the kernel refuses a program, in a user's words. */
static const char *load_hint(int e)
{
	switch (e) {
	case EPERM:
		return "weft needs CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON, or root; a kernel "
		       "locked down against this program type refuses it even to root";
	case EACCES:
		return "the verifier refused it; -d shows its log";
	case EINVAL:
		return "this kernel lacks something the program uses; -d shows the verifier's log";
	default:
		return "-d shows libbpf's and the verifier's log";
	}
}

static const char *prog_section(const struct bpf_object *obj, const char *name)
{
	struct bpf_program *p = bpf_object__find_program_by_name(obj, name);
	return p ? bpf_program__section_name(p) : "?";
}

/* The sweepers' object, on the classifier's maps. 0, or the errno of the
 * refusal with its program in failed_prog. */
static int load_sweepers(struct weft_live *l)
{
	struct weft_sweep_bpf *s = weft_sweep_bpf__open();
	if (!s)
		return errno ? errno : ENOMEM;
	failed_prog[0] = 0;
	if (bpf_map__reuse_fd(s->maps.flows, bpf_map__fd(l->skel->maps.flows)) ||
	    bpf_map__reuse_fd(s->maps.bypass, bpf_map__fd(l->skel->maps.bypass)) ||
	    bpf_map__reuse_fd(s->maps.policy, bpf_map__fd(l->skel->maps.policy)) ||
	    bpf_map__reuse_fd(s->maps.counters, bpf_map__fd(l->skel->maps.counters)) ||
	    weft_sweep_bpf__load(s)) {
		int e = errno ? errno : EINVAL;
		weft_sweep_bpf__destroy(s);
		return e;
	}
	l->sweep_skel = s;
	return 0;
}

/* Which sweeper was asked for: the option, else WEFT_SWEEPER in the
 * environment, else 0 (the iterator where it loads). */
static uint32_t sweeper_wanted(const struct weft_live_opts *o)
{
	if (o->sweeper)
		return o->sweeper;
	const char *e = getenv("WEFT_SWEEPER");
	if (e && !strcmp(e, "user"))
		return WEFT_SWEEPER_USER;
	if (e && (!strcmp(e, "iter") || !strcmp(e, "kernel")))
		return WEFT_SWEEPER_ITER;
	return 0;
}

int weft_live_load(struct weft_live *l, const struct weft_live_opts *o, char *err, size_t errlen)
{
	debug_log = o->debug;
	libbpf_set_print(libbpf_log);
	failed_prog[0] = 0;
	bool ring = l->path == &weft_live_path_ring;
	bool xdp_in = ring && l->mode == WEFT_MODE_HOST && o->host_xdp;
	l->skel = weft_bpf__open();
	if (!l->skel) {
		snprintf(err, errlen, "cannot open the BPF object: %s", strerror(errno));
		return -1;
	}
	/* only this path's programs go through the verifier: it is most of
	 * the start-up time. The AF_XDP path writes only doorbells to the
	 * ring: a page will do. */
	if (bpf_program__set_autoload(l->skel->progs.weft_xdp, !ring) ||
	    bpf_program__set_autoload(l->skel->progs.weft_tc_ingress, ring && !xdp_in) ||
	    bpf_program__set_autoload(l->skel->progs.weft_xdp_host, xdp_in) ||
	    bpf_program__set_autoload(l->skel->progs.weft_tc_egress,
				      ring && l->mode == WEFT_MODE_HOST) ||
	    bpf_map__set_max_entries(l->skel->maps.ring, ring ? (uint32_t)l->ring_bytes : 4096)) {
		snprintf(err, errlen, "cannot set up the BPF object: %s", strerror(errno));
		return -1;
	}
	if (weft_bpf__load(l->skel)) {
		int e = errno;
		if (failed_prog[0])
			snprintf(err, errlen, "the kernel refused BPF program %s (%s): %s (%s)",
				 failed_prog, prog_section(l->skel->obj, failed_prog), strerror(e),
				 load_hint(e));
		else
			snprintf(err, errlen, "cannot load the BPF programs: %s (%s)", strerror(e),
				 load_hint(e));
		return -1;
	}
	uint32_t want = sweeper_wanted(o);
	l->st.sweeper = WEFT_SWEEPER_USER;
	if (want != WEFT_SWEEPER_USER) {
		int e = load_sweepers(l);
		if (!e) {
			l->st.sweeper = WEFT_SWEEPER_ITER;
		} else if (want == WEFT_SWEEPER_ITER) {
			snprintf(err, errlen, "the kernel refused BPF program %s (iter/bpf_map_elem): %s",
				 failed_prog[0] ? failed_prog : "sweep_flows", strerror(e));
			return -1;
		} else {
			weft_live_notice(l, "the kernel refused BPF program %s (iter/bpf_map_elem): %s; "
				    "continuing with the user-space sweep",
				    failed_prog[0] ? failed_prog : "sweep_flows", strerror(e));
		}
	}
	return 0;
}

/* An iterator link over map m running prog: its descriptor, or -1. */
static int iter_link(struct bpf_program *prog, struct bpf_map *m)
{
	union bpf_iter_link_info li = { .map.map_fd = (uint32_t)bpf_map__fd(m) };
	LIBBPF_OPTS(bpf_iter_attach_opts, o, .link_info = &li, .link_info_len = sizeof(li));
	struct bpf_link *link = bpf_program__attach_iter(prog, &o);
	if (!link)
		return -1;
	int fd = fcntl(bpf_link__fd(link), F_DUPFD_CLOEXEC, 3);
	bpf_link__destroy(link); /* our copy keeps the link */
	return fd;
}

int weft_live_open_control(struct weft_live *l, const struct weft_live_opts *o, char *err,
		      size_t errlen)
{
	struct weft_bpf *k = l->skel;
	struct bpf_map *maps[] = { k->maps.policy, k->maps.conns, k->maps.cmds, k->maps.epub,
				   k->maps.bypass, k->maps.flows };
	int *fds[] = { &l->cfd.policy, &l->cfd.conns, &l->cfd.cmds, &l->cfd.epub, &l->cfd.bypass,
		       &l->cfd.flows };
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		if ((*fds[i] = fcntl(bpf_map__fd(maps[i]), F_DUPFD_CLOEXEC, 3)) < 0) {
			snprintf(err, errlen, "cannot set up the control maps: %s", strerror(errno));
			return -1;
		}
	if (l->sweep_skel) {
		l->cfd.sweep_flows = iter_link(l->sweep_skel->progs.sweep_flows, k->maps.flows);
		l->cfd.sweep_bypass = iter_link(l->sweep_skel->progs.sweep_bypass, k->maps.bypass);
		if (l->cfd.sweep_flows < 0 || l->cfd.sweep_bypass < 0) {
			/* loaded but not attachable: the user-space sweep does it,
			 * unless the kernel's was asked for */
			int e = errno;
			if (sweeper_wanted(o) == WEFT_SWEEPER_ITER) {
				snprintf(err, errlen, "the kernel refused an iterator link: %s",
					 strerror(e));
				return -1;
			}
			weft_live_notice(l, "the kernel refused an iterator link: %s; continuing with the "
				    "user-space sweep", strerror(e));
			if (l->cfd.sweep_flows >= 0)
				close(l->cfd.sweep_flows);
			if (l->cfd.sweep_bypass >= 0)
				close(l->cfd.sweep_bypass);
			l->cfd.sweep_flows = l->cfd.sweep_bypass = -1;
			l->st.sweeper = WEFT_SWEEPER_USER;
		}
	}
	weft_sweep_bpf__destroy(l->sweep_skel); /* the links keep the programs */
	l->sweep_skel = NULL;
	return 0;
}

/* ---- links ---- */

/* An XDP program on the interface with a bpf_link: native first, generic
 * (skb) mode where the driver cannot or skb_mode asks. */
int weft_live_attach_xdp(struct weft_live *l, int pfd, const struct weft_live_opts *o, char *err,
		    size_t errlen)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo);
	if (!o->skb_mode) {
		lo.flags = XDP_FLAGS_DRV_MODE;
		l->link_fd = bpf_link_create(pfd, l->ifindex, BPF_XDP, &lo);
		l->st.native = l->link_fd >= 0;
	}
	if (l->link_fd < 0) {
		lo.flags = XDP_FLAGS_SKB_MODE;
		l->link_fd = bpf_link_create(pfd, l->ifindex, BPF_XDP, &lo);
	}
	if (l->link_fd < 0) {
		snprintf(err, errlen, "cannot attach XDP to %s: %s", o->ifname, strerror(errno));
		return -1;
	}
	return 0;
}

static int legacy_tc(struct weft_live *l, int which, int prog_fd, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = l->ifindex,
		    .attach_point = which ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	int rc = bpf_tc_hook_create(&h);
	if (rc && rc != -EEXIST) {
		snprintf(err, errlen, "cannot add a clsact qdisc to %s: %s", l->ifname, strerror(-rc));
		return -1;
	}
	LIBBPF_OPTS(bpf_tc_opts, to, .prog_fd = prog_fd, .handle = LEGACY_TC_HANDLE,
		    .priority = LEGACY_TC_PRIO);
	rc = bpf_tc_attach(&h, &to);
	if (rc) {
		snprintf(err, errlen, "cannot attach TC %s to %s: %s%s", which ? "egress" : "ingress",
			 l->ifname, strerror(-rc),
			 rc == -EEXIST ? " (a weft that was killed left its filter: tc filter del "
					 "dev IFACE ingress prio 30703, and egress)" : "");
		return -1;
	}
	l->tc_legacy[which] = true;
	l->st.legacy_tc = true;
	return 0;
}

/* TC on ingress (which 0) or egress (1): a tcx link, beside any other
 * program and gone with us; where the kernel has no tcx (before 6.6), or
 * legacy_tc asks, a cls_bpf filter on the clsact qdisc, which weft removes
 * when it stops (a killed weft leaves it: `tc filter del dev IFACE
 * ingress prio 30703`). */
int weft_live_attach_tc(struct weft_live *l, int which, int prog_fd, char *err, size_t errlen)
{
	if (!l->st.legacy_tc) {
		l->tc_fd[which] = bpf_link_create(prog_fd, l->ifindex,
						  which ? WEFT_TCX_EGRESS : WEFT_TCX_INGRESS, NULL);
		if (l->tc_fd[which] >= 0)
			return 0;
		if (errno != EINVAL && errno != EOPNOTSUPP) {
			snprintf(err, errlen, "cannot attach TC %s to %s: %s",
				 which ? "egress" : "ingress", l->ifname, strerror(errno));
			return -1;
		}
		weft_live_notice(l, "no tcx links on this kernel (%s): using the legacy TC hook",
			    strerror(errno));
	}
	return legacy_tc(l, which, prog_fd, err, errlen);
}

static void legacy_detach(int ifindex, int which)
{
	LIBBPF_OPTS(bpf_tc_hook, h, .ifindex = ifindex,
		    .attach_point = which ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, to, .handle = LEGACY_TC_HANDLE, .priority = LEGACY_TC_PRIO);
	bpf_tc_detach(&h, &to);
}

/* Close the attach links: nothing new comes in. The links were never
 * pinned, so closing detaches; legacy filters are removed by hand. */
void weft_live_detach_links(struct weft_live *l)
{
	int *fds[] = { &l->link_fd, &l->tc_fd[0], &l->tc_fd[1] };
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
	for (int w = 0; w < 2; w++) {
		if (l->tc_legacy[w] && !l->keep_legacy)
			legacy_detach(l->ifindex, w);
		l->tc_legacy[w] = false;
	}
}

/* Legacy TC filters outlive their process: the root process of a -U run,
 * which keeps the right to, removes them when its worker is done. */
void weft_live_remove_legacy_tc(const char *ifname)
{
	int ifindex = (int)if_nametoindex(ifname);
	if (ifindex)
		for (int w = 0; w < 2; w++)
			legacy_detach(ifindex, w);
}

/* A kernel counter summed over CPUs. */
uint64_t weft_live_kernel_counter(const struct weft_live *l, uint32_t c)
{
	int n = libbpf_num_possible_cpus();
	uint64_t v[n > 0 ? n : 1], sum = 0;
	if (n <= 0 || l->counters_fd < 0 || bpf_map_lookup_elem(l->counters_fd, &c, v))
		return 0;
	for (int i = 0; i < n; i++)
		sum += v[i];
	return sum;
}
