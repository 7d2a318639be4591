/* SPDX-License-Identifier: MIT */
/* weft read: reassemble capture files (or pipes) offline. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"
#include "weft/weft.h"
#include "weft/sink.h"
#include "weft/source.h"

/* the signal that cut the read (SIGINT, SIGTERM, or SIGPIPE from -c's
 * reader going away), or 0 */
static volatile int stop_flag;

static void on_signal(int sig)
{
	stop_flag = sig;
}

static void read_help(void)
{
	printf("Usage: %s read FILE... [-o DIR] [OPTIONS] [filter EXPR...]\n"
	       "\n"
	       "Reassemble every TCP connection of pcap/pcapng files (read in order;\n"
	       "connections continue across files). FILE may be - (stdin), a pipe or a\n"
	       "FIFO (tcpdump -w - | weft read -). Writes one file per direction named\n"
	       "like tcpflow's, DIR/flows.jsonl (one object per connection, as each\n"
	       "ends) and DIR/report.xml (DFXML). Options may come anywhere after read.\n"
	       "\n"
	       "  %-24s tcpdump filter: the rest of the command line\n"
	       "  %-24s the same, as one argument\n", prog_name, "filter EXPR...", "-f EXPR");
	print_options(stdout);
	printf("  %-24s no summary on stderr\n"
	       "\n"
	       "Exit status: 0 all read and written; 1 an error (one line says which);\n"
	       "130/143 SIGINT/SIGTERM cut the read; 141 -c's reader went away. In each\n"
	       "case the report holds every connection read so far.\n", "-q");
}

static char *join_args(const char *head, int argc, char **argv)
{
	size_t n = strlen(head) + 1;
	for (int i = 0; i < argc; i++)
		n += strlen(argv[i]) + 1;
	char *s = calloc(1, n);
	if (!s)
		return NULL;
	strcpy(s, head);
	for (int i = 0; i < argc; i++) {
		if (*s)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

/* Refuse an input before anything is written: missing, unreadable, a
 * directory, or a regular file that is no capture. Pipes are taken on
 * trust (their first bytes can be read only once). */
static int check_input(const char *path)
{
	if (!strcmp(path, "-"))
		return 0;
	struct stat sb;
	if (stat(path, &sb) != 0)
		return cli_error("%s: %s", path, strerror(errno));
	if (S_ISDIR(sb.st_mode))
		return cli_error("%s: is a directory", path);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return cli_error("%s: %s", path, strerror(errno));
	int rc = 0;
	if (S_ISREG(sb.st_mode)) {
		uint32_t m = 0;
		if (read(fd, &m, 4) != 4 ||
		    (m != 0xa1b2c3d4 && m != 0xd4c3b2a1 && m != 0xa1b23c4d && m != 0x4d3cb2a1 &&
		     m != 0x0a0d0d0a))
			rc = cli_error("%s: not a pcap or pcapng capture file", path);
	}
	close(fd);
	return rc;
}

static const char *cut_words(int sig)
{
	return sig == SIGINT ? "interrupted (SIGINT)" : sig == SIGTERM ? "terminated (SIGTERM)" :
	       "stopped: -c's reader closed its end (EPIPE)";
}

int do_read(int argc, char **argv)
{
	struct weft_config cfg;
	weft_config_default(&cfg);
	struct weft_sink_opts so = { .files = true, .report = true, .stop = &stop_flag };
	struct weft_read_opts ro = { .stop = &stop_flag };
	const char **files = calloc((size_t)argc + 1, sizeof(char *));
	char *filter = NULL;
	int nfiles = 0, nstdin = 0;
	bool quiet = false;
	int rc = 0;
	if (!files)
		return cli_error("out of memory");

	for (int i = 0; i < argc && !rc; i++) {
		const char *a = argv[i];
		int r;
		if (!strcmp(a, "help") || !strcmp(a, "-h") || !strcmp(a, "--help")) {
			read_help();
			free(files);
			free(filter);
			return 0;
		} else if (!strcmp(a, "filter")) {
			/* tcpdump's manner: the expression is the rest of the line */
			if (i + 1 >= argc)
				rc = cli_error("filter needs an expression");
			else if (filter)
				rc = cli_error("two filters (-f and filter): give one expression");
			else
				filter = join_args("", argc - i - 1, argv + i + 1);
			break;
		} else if (!strcmp(a, "-f")) {
			if (i + 1 >= argc || looks_like_option(argv[i + 1]))
				rc = cli_error("-f needs an expression");
			else if (filter)
				rc = cli_error("-f given twice: give one expression");
			else
				filter = join_args("", 1, argv + ++i);
		} else if ((r = cli_option(argc, argv, &i, &cfg, &so)) != 0) {
			rc = r < 0;
		} else if (!strcmp(a, "-q")) {
			quiet = true;
		} else if (looks_like_option(a)) {
			rc = cli_error("unknown option '%s' (try '%s read help')", a, prog_name);
		} else {
			nstdin += !strcmp(a, "-");
			files[nfiles++] = a;
		}
	}
	if (!rc && !nfiles)
		rc = cli_error("no capture file given (try '%s read help')", prog_name);
	if (!rc && so.pcap && so.chunks && !so.dir)
		rc = cli_error("--pcap writes its captures into DIR, and -c without -o writes "
			       "nothing there: give -o DIR");
	if (!rc && nstdin > 1)
		rc = cli_error("stdin (-) can be read once");
	for (int i = 0; i < nfiles && !rc; i++)
		rc = check_input(files[i]);
	char err[4096];
	ro.filter = filter;
	if (!rc && filter && weft_filter_check(filter, err, sizeof(err)) != 0)
		rc = cli_error("%s", err);
	if (rc) {
		free(files);
		free(filter);
		return rc;
	}
	sink_options_done(&so);
	summary_to_stderr = so.chunks != NULL;
	char *cmd = join_args("weft read", argc, argv);
	so.command_line = cmd;
	struct weft_sink *sink = weft_sink_open(&so, err, sizeof(err));
	if (!sink) {
		free(cmd);
		free(files);
		free(filter);
		return cli_error("%s", err);
	}
	struct weft_callbacks cb;
	weft_sink_bind(sink, &cfg, &cb);
	struct weft_engine *e = weft_engine_new(&cfg, &cb);
	if (!e) {
		weft_sink_close_err(sink, true, err, sizeof(err));
		free(cmd);
		free(files);
		free(filter);
		return cli_error("cannot create the engine");
	}
	ro.feed = weft_sink_feed;
	ro.feed_arg = sink;
	/* no SA_RESTART: a read blocked on a quiet pipe returns to see it */
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	ro.progress = isatty(2) && !quiet && !json_output;
	uint64_t packets = 0;
	int i = 0;
	for (; i < nfiles && !stop_flag; i++) {
		err[0] = 0;
		enum weft_read_status st = weft_read_file(e, files[i], &ro, &packets, err, sizeof(err));
		if (st != WEFT_READ_OK) {
			/* one line, and keep going: what was read stays reassembled */
			fprintf(stderr, "%s: %s\n", st == WEFT_READ_ERROR ? "Error" : "Warning", err);
			rc = 1;
		}
	}
	int sig = stop_flag;
	weft_engine_flush(e, sig ? WEFT_END_SHUTDOWN : WEFT_END_EOF);
	struct weft_stats s;
	weft_engine_stats(e, &s);
	weft_engine_free(e);
	/* a run that failed or was cut having reported nothing leaves
	 * nothing behind */
	if (weft_sink_close_err(sink, rc || sig, err, sizeof(err))) {
		fprintf(stderr, "Error: %s\n", err);
		rc = 1;
	}
	if (sig) {
		fprintf(stderr, "weft: %s after %llu packets%s%s: the read was cut; the %llu "
			"connections read so far are written out%s\n", cut_words(sig),
			(unsigned long long)packets, i <= nfiles && nfiles > 1 ? " in " : "",
			i <= nfiles && nfiles > 1 ? files[i - 1] : "",
			(unsigned long long)s.conns, so.report ? " and in the report" : "");
		rc = 128 + sig;
	}
	print_summary(&s, packets, quiet);
	free(cmd);
	free(files);
	free(filter);
	return rc;
}
