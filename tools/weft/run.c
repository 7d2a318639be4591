/* SPDX-License-Identifier: MIT */
/* weft run: the live daemon on an interface. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "weft/weft.h"
#include "weft/sink.h"
#include "weft/live.h"
#include "weft/abi.h"

static volatile int stop_flag;
static volatile pid_t worker;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* The root parent of a -U run passes a stop on to its unprivileged child. */
static void forward_signal(int sig)
{
	if (worker > 0)
		kill(worker, sig);
}

/* After the attach: become user, keeping no way back to root. */
static int drop_to(const struct passwd *pw)
{
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
		return -1;
	if (setuid(0) == 0)
		return -1; /* root came back: refuse to go on */
	return 0;
}

static int run_engine(struct weft_live *live, struct weft_sink_opts *so, struct weft_config *cfg,
		      const char *ifname, bool quiet);

static void run_help(void)
{
	fprintf(stdout,
		"Usage: %s run dev IFACE [-o DIR] [-c] [-T TEMPLATE] [mode host|tap] [queues N]\n"
		"               [force] [skb] [ring SIZE] [snaplen N] [ingress tc|xdp]\n"
		"               [path afxdp|ring] [sweeper kernel|user] [tc tcx|legacy] [-d]\n"
		"               [ENGINE OPTIONS of 'weft read']\n"
		"\n"
		"Attach weft's programs to IFACE and reassemble its TCP traffic live.\n"
		"Writes what 'weft read' writes: one file per direction, DIR/flows.jsonl\n"
		"as connections end, DIR/report.xml. SIGINT or SIGTERM detaches, ends\n"
		"every connection (reason shutdown) and writes everything. Maps are\n"
		"pinned under %s/IFACE/.\n"
		"\n"
		"mode host  TC programs on ingress and egress copy the TCP packets into a\n"
		"           ring buffer and let every packet pass: the host's traffic is\n"
		"           untouched. The default on an interface with the host's\n"
		"           addresses or default route. A full ring costs the payload, and\n"
		"           weft reports it as a gap, never as silent loss.\n"
		"mode tap   the TCP packets of IFACE are weft's, away from the host's stack:\n"
		"           right for a SPAN or mirror port (the default on an interface\n"
		"           with no address), wrong for an interface the host talks\n"
		"           through. weft refuses tap mode on an interface with the host's\n"
		"           default route unless 'force'.\n"
		"path P     tap: how packets reach weft. afxdp: XDP redirects them to an\n"
		"           AF_XDP socket per RX queue (the default on a NIC); ring: TC\n"
		"           ingress copies them, GSO packets whole, into a ring buffer and\n"
		"           drops them (the default on a veth or other virtual interface,\n"
		"           where XDP splits GSO packets into a 256-slot ring that\n"
		"           overflows in a burst)\n"
		"queues N   afxdp: sockets for RX queues 0..N-1 (default: all)\n"
		"sweeper S  who removes idle kernel flow and bypass entries: kernel (BPF\n"
		"           map iterators, the default where the kernel allows them) or\n"
		"           user (batched lookups and deletes; the fallback). Also\n"
		"           WEFT_SWEEPER=kernel|user in the environment\n"
		"tc legacy  TC through the clsact qdisc (cls_bpf) even where tcx links work\n"
		"           (used by itself on kernels before 6.6)\n"
		"-d         libbpf's and the verifier's log on stderr\n"
		"skb        generic XDP even where the driver does native\n"
		"ingress X  host: tc (the default) or xdp, native else generic: XDP may\n"
		"           cost less where a driver runs it before it builds an skb; on\n"
		"           a veth, native XDP turns off the peer's segmentation offloads\n"
		"ring SIZE  ring path: the ring buffer, a power of 2 (default 64M)\n"
		"snaplen N  ring path: bytes copied of each packet (default: all, GSO\n"
		"           packets to 64K); what is cut is reported as a gap\n"
		"-c         print every chunk on stdout (as tcpflow -c); without -o,\n"
		"           no file is written\n"
		"-T TEMPLATE, --max-open N, --no-hash   as in 'weft read'\n"
		"--force-output  write into a DIR that holds weft output (read's --force)\n"
		"-U USER    once attached, run as USER (as tcpflow -U): a root parent\n"
		"           only waits to remove the pins; DIR is made USER's\n",
		prog_name, WEFT_PIN_ROOT);
}

int do_run(int argc, char **argv)
{
	struct weft_config cfg;
	weft_config_default(&cfg);
	struct weft_live_opts lo = { 0 };
	struct weft_sink_opts so = { .files = true, .report = true };
	bool quiet = false;
	const char *user = NULL;
	int rc;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "help") || !strcmp(a, "-h")) {
			run_help();
			return 0;
		} else if (is_prefix(a, "dev") && !strcmp(a, "dev")) {
			if (!v)
				return cli_error("dev needs an interface name");
			lo.ifname = argv[++i];
		} else if (is_prefix(a, "mode")) {
			if (!v || (!is_prefix(v, "tap") && !is_prefix(v, "host")))
				return cli_error("mode needs host or tap");
			lo.mode = is_prefix(v, "tap") ? WEFT_MODE_TAP : WEFT_MODE_HOST;
			i++;
		} else if (is_prefix(a, "ring")) {
			uint64_t n;
			if (!v || parse_size(v, &n))
				return cli_error("ring needs a size (64M)");
			lo.ring_bytes = n;
			i++;
		} else if (is_prefix(a, "snaplen")) {
			uint64_t n;
			if (!v || parse_size(v, &n) || n < 64 || n > 1u << 20)
				return cli_error("snaplen needs a number of bytes from 64");
			lo.snaplen = (uint32_t)n;
			i++;
		} else if (is_prefix(a, "queues")) {
			uint64_t n;
			if (!v || parse_size(v, &n) || !n || n > 64)
				return cli_error("queues needs a number from 1 to 64");
			lo.queues = (uint32_t)n;
			i++;
		} else if (is_prefix(a, "path")) {
			if (!v || (strcmp(v, "afxdp") && strcmp(v, "ring")))
				return cli_error("path needs afxdp or ring");
			lo.path = !strcmp(v, "ring") ? WEFT_PATH_RING : WEFT_PATH_AFXDP;
			i++;
		} else if (is_prefix(a, "sweeper")) {
			if (!v || (strcmp(v, "kernel") && strcmp(v, "user")))
				return cli_error("sweeper needs kernel or user");
			lo.sweeper = !strcmp(v, "user") ? WEFT_SWEEPER_USER : WEFT_SWEEPER_ITER;
			i++;
		} else if (!strcmp(a, "tc")) {
			if (!v || (strcmp(v, "tcx") && strcmp(v, "legacy")))
				return cli_error("tc needs tcx or legacy");
			lo.legacy_tc = !strcmp(v, "legacy");
			i++;
		} else if (!strcmp(a, "-d") || !strcmp(a, "--debug")) {
			lo.debug = true;
		} else if (is_prefix(a, "force")) {
			lo.force = true;
		} else if (!strcmp(a, "skb")) {
			lo.skb_mode = true;
		} else if (is_prefix(a, "ingress")) {
			if (!v || (!is_prefix(v, "tc") && !is_prefix(v, "xdp")))
				return cli_error("ingress needs tc or xdp");
			lo.host_xdp = is_prefix(v, "xdp");
			i++;
		} else if (!strcmp(a, "--force-output")) {
			so.force = true;
		} else if (!strcmp(a, "-q")) {
			quiet = true;
		} else if (!strcmp(a, "-U")) {
			if (!v)
				return cli_error("-U needs a user name");
			user = argv[++i];
		} else if ((rc = engine_option(argc, argv, &i, &cfg)) != 0 ||
			   (rc = sink_option(argc, argv, &i, &so)) != 0) {
			if (rc < 0)
				return 1;
		} else {
			return cli_error("unknown argument '%s' (try '%s run help')", a, prog_name);
		}
	}
	if (!lo.ifname)
		return cli_error("no interface (weft run dev IFACE; try '%s run help')", prog_name);
	sink_options_done(&so);
	summary_to_stderr = so.chunks != NULL; /* never into -c's data */
	if (!lo.mode)
		lo.mode = weft_iface_is_hosts(lo.ifname) ? WEFT_MODE_HOST : WEFT_MODE_TAP;
	lo.debug = lo.debug || debug_output;
	if (lo.mode == WEFT_MODE_HOST && lo.path == WEFT_PATH_AFXDP)
		return cli_error("host mode takes the ring path (AF_XDP would take the host's packets)");
	if (lo.mode == WEFT_MODE_TAP && !lo.force && weft_iface_has_default_route(lo.ifname))
		return cli_error("%s carries this host's default route: tap mode would take its "
				 "TCP traffic from the host; add 'force' if that is what you want",
				 lo.ifname);
	struct passwd *pw = NULL;
	if (user && !(pw = getpwnam(user)))
		return cli_error("no user '%s'", user);
	/* a stop that comes while the programs load (a second or so) is kept
	 * for the run loop, which then ends at once and cleans up: not lost
	 * (a shell's background job starts with SIGINT ignored) and not a
	 * death that leaves the pins and links behind */
	struct sigaction early = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	sigaction(SIGINT, &early, NULL);
	sigaction(SIGTERM, &early, NULL);
	char err[512];
	struct weft_live *live = weft_live_open(&lo, err, sizeof(err));
	if (!live)
		return cli_error("%s", err);
	so.command_line = "weft run";
	if (!pw)
		return run_engine(live, &so, &cfg, lo.ifname, quiet);

	/* -U: DIR becomes the user's; the child drops to the user and does the
	 * work with the sockets it inherited; this root parent keeps nothing
	 * but the pins' name, and removes them when the child is done. */
	if ((so.files || so.report) &&
	    ((mkdir(so.dir, 0750) != 0 && errno != EEXIST) ||
	     chown(so.dir, pw->pw_uid, pw->pw_gid) != 0)) {
		rc = cli_error("%s: %s", so.dir, strerror(errno));
		weft_live_close(live);
		return rc;
	}
	struct weft_live_stats lst;
	weft_live_stats(live, &lst);
	bool ls_legacy = lst.legacy_tc;
	/* a stop between the fork and the forwarding handler would reach
	 * neither: held back until the handler is in place */
	sigset_t stops, was;
	sigemptyset(&stops);
	sigaddset(&stops, SIGINT);
	sigaddset(&stops, SIGTERM);
	sigprocmask(SIG_BLOCK, &stops, &was);
	pid_t pid = fork();
	if (pid < 0) {
		sigprocmask(SIG_SETMASK, &was, NULL);
		rc = cli_error("fork: %s", strerror(errno));
		weft_live_close(live);
		return rc;
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &was, NULL); /* (a stop held is on_signal's) */
		weft_live_drop_bpf(live);
		weft_live_keep_pins(live);
		if (drop_to(pw) != 0) {
			fprintf(stderr, "Error: cannot become %s\n", user);
			weft_live_close(live);
			_exit(1);
		}
		_exit(run_engine(live, &so, &cfg, lo.ifname, quiet));
	}
	worker = pid;
	struct sigaction fw = { .sa_handler = forward_signal };
	sigaction(SIGTERM, &fw, NULL);
	sigaction(SIGINT, &fw, NULL);
	if (stop_flag) /* came while the programs loaded */
		kill(pid, SIGINT);
	sigprocmask(SIG_SETMASK, &was, NULL);
	weft_live_keep_pins(live);
	weft_live_close(live); /* the child holds the link and the sockets */
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	weft_live_unpin(lo.ifname);
	if (lo.legacy_tc || ls_legacy)
		weft_live_remove_legacy_tc(lo.ifname);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static int run_engine(struct weft_live *live, struct weft_sink_opts *so, struct weft_config *cfg,
		      const char *ifname, bool quiet)
{
	char err[512];
	int rc;
	struct weft_sink *sink = weft_sink_open(so, err, sizeof(err));
	if (!sink) {
		weft_live_close(live);
		return cli_error("%s", err);
	}
	struct weft_callbacks cb;
	cfg->external_sweep = true; /* in slices between batches (live.c) */
	/* the rings of several queues, or a retransmission hashed to another,
	 * can hand over a connection's last bytes after its FINs */
	cfg->linger_ns = 500ull * 1000000;
	weft_sink_bind(sink, cfg, &cb);
	weft_live_bind(live, cfg, &cb);
	struct weft_engine *e = weft_engine_new(cfg, &cb);
	if (!e) {
		weft_sink_close(sink);
		weft_live_close(live);
		return cli_error("cannot create the engine");
	}
	weft_live_set_engine(live, e);
	weft_live_on_tick(live, (void (*)(void *))weft_sink_flush, sink);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	struct weft_live_stats ls;
	weft_live_stats(live, &ls);
	bool files = so->files || so->report;
	const char *out = files ? "writing" : "printing the streams to";
	const char *where = files ? so->dir : "stdout";
	if (ls.notice[0])
		fprintf(stderr, "weft: notice: %s\n", ls.notice);
	if (!quiet && !json_output && ls.mode == WEFT_MODE_HOST)
		fprintf(stderr, "weft: attached to %s in host mode (%s ingress, TC egress, ring "
			"buffer, %s sweeper), %s %s as uid %u\n", ifname,
			!ls.xdp ? "TC" : ls.native ? "native XDP" : "generic XDP",
			ls.sweeper == WEFT_SWEEPER_ITER ? "kernel" : "user-space", out, where,
			(unsigned)getuid());
	else if (!quiet && !json_output && ls.path == WEFT_PATH_RING)
		fprintf(stderr, "weft: attached to %s in tap mode (TC ingress into a ring buffer, "
			"packets dropped after the copy: %s; %s sweeper), %s %s as uid %u\n",
			ifname, ls.path_why, ls.sweeper == WEFT_SWEEPER_ITER ? "kernel" : "user-space",
			out, where, (unsigned)getuid());
	else if (!quiet && !json_output)
		fprintf(stderr, "weft: attached to %s in tap mode (%s XDP, AF_XDP: %s; %s sweeper), "
			"%u queue(s) of %u frames of %u bytes, %s %s as uid %u\n", ifname,
			ls.native ? "native" : "generic", ls.path_why,
			ls.sweeper == WEFT_SWEEPER_ITER ? "kernel" : "user-space", ls.queues,
			ls.ring_frames, ls.frame_size, out, where, (unsigned)getuid());
	rc = weft_live_run(live, e, &stop_flag, err, sizeof(err));
	if (rc)
		fprintf(stderr, "Error: %s\n", err);
	/* detach first: nothing new comes in while the rest is written */
	weft_live_stats(live, &ls);
	weft_live_detach(live);
	weft_engine_flush(e, WEFT_END_SHUTDOWN);
	weft_live_close(live);
	struct weft_stats s;
	weft_engine_stats(e, &s);
	weft_engine_free(e);
	if (weft_sink_close(sink))
		rc = 1;
	/* every loss the kernel knows of, which the streams show as gaps */
	if (!quiet && !json_output && ls.path == WEFT_PATH_RING)
		fprintf(stderr, "weft: ring buffer: %llu records; ring full: %llu with headers "
			"only (reported as gaps), %llu lost; interface drops %llu\n",
			(unsigned long long)ls.frames, (unsigned long long)ls.ring_trunc,
			(unsigned long long)ls.ring_lost, (unsigned long long)ls.iface_drops);
	else if (!quiet && !json_output)
		fprintf(stderr, "weft: AF_XDP: %llu frames in %llu wakeups, kernel drops %llu "
			"(ring full %llu, fill ring empty %llu), interface drops %llu\n",
			(unsigned long long)ls.frames, (unsigned long long)ls.wakeups,
			(unsigned long long)ls.xsk_rx_dropped, (unsigned long long)ls.xsk_rx_ring_full,
			(unsigned long long)ls.xsk_fill_empty, (unsigned long long)ls.iface_drops);
	print_summary(&s, ls.frames, quiet);
	return rc ? 1 : 0;
}
