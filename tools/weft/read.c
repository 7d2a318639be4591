/* SPDX-License-Identifier: MIT */
/* weft read: reassemble capture files offline. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"
#include "weft/weft.h"
#include "weft/sink.h"
#include "weft/source.h"

static volatile int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void read_help(void)
{
	fprintf(stderr,
		"Usage: %s read FILE... [-o DIR] [filter EXPR] [OPTIONS]\n"
		"\n"
		"Reassemble every TCP connection of pcap/pcapng files (read in order;\n"
		"connections continue across files). Writes one file per direction named\n"
		"like tcpflow's, DIR/flows.jsonl (one object per connection) and\n"
		"DIR/report.xml (DFXML).\n"
		"\n"
		"  -o DIR               output directory (default .)\n"
		"  filter EXPR          tcpdump filter expression (one argument)\n"
		"  -c                   print chunks to stdout instead of writing files\n"
		"  -T TEMPLATE          file names (default %s)\n"
		"  --memcap SIZE        memory for all engine state (e.g. 64M)\n"
		"  --max-flows N        open connections at most\n"
		"  --buffer SIZE        out-of-order bytes held per direction (16M)\n"
		"  --buffer-policy gap|end   what a full buffer does (gap)\n"
		"  --depth SIZE         bytes kept per direction (0: all)\n"
		"  --idle DURATION      idle timeout of established connections (300s)\n"
		"  --idle-closing D     after a FIN (30s)    --idle-halfopen D  SYN only (30s)\n"
		"  --overlap first|last which copy of differing overlapped bytes wins\n"
		"  --no-vlan-key        leave VLAN tags out of the flow key\n"
		"  --max-open N         files open at once (128)\n"
		"  --no-hash            no SHA-256 of the streams (sha256 null in flows.jsonl):\n"
		"                       the hash is most of what storing every byte costs\n"
		"  --force              write into a directory that has weft output\n"
		"  -q                   no summary on stderr\n"
		"  -j / -p              summary as JSON on stdout\n",
		prog_name, WEFT_DEFAULT_TEMPLATE);
}

static char *join_args(int argc, char **argv)
{
	size_t n = 16;
	for (int i = 0; i < argc; i++)
		n += strlen(argv[i]) + 1;
	char *s = calloc(1, n);
	if (!s)
		return NULL;
	strcpy(s, "weft read");
	for (int i = 0; i < argc; i++) {
		strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

int do_read(int argc, char **argv)
{
	struct weft_config cfg;
	weft_config_default(&cfg);
	struct weft_sink_opts so = { .files = true, .report = true };
	struct weft_read_opts ro = { .stop = &stop_flag };
	const char **files = calloc((size_t)argc + 1, sizeof(char *));
	int nfiles = 0;
	bool quiet = false;
	int rc;
	if (!files)
		return cli_error("out of memory");

#define NEED_ARG() do { if (i + 1 >= argc) { free(files); \
	return cli_error("%s needs a value", a); } } while (0)
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "help") || !strcmp(a, "-h") || !strcmp(a, "--help")) {
			read_help();
			free(files);
			return 0;
		} else if (!strcmp(a, "filter") || !strcmp(a, "-f")) {
			NEED_ARG(); ro.filter = argv[++i];
		} else if ((rc = engine_option(argc, argv, &i, &cfg)) != 0 ||
			   (rc = sink_option(argc, argv, &i, &so)) != 0) {
			if (rc < 0) {
				free(files);
				return 1;
			}
		} else if (!strcmp(a, "--force")) {
			so.force = true;
		} else if (!strcmp(a, "-q")) {
			quiet = true;
		} else if (a[0] == '-' && a[1]) {
			free(files);
			return cli_error("unknown option '%s' (try '%s read help')", a, prog_name);
		} else {
			files[nfiles++] = a;
		}
	}
	if (!nfiles) {
		free(files);
		return cli_error("no capture file given (try '%s read help')", prog_name);
	}
	sink_options_done(&so);
	/* Refuse before touching the output if an input cannot be read. */
	for (int i = 0; i < nfiles; i++) {
		struct stat sb;
		int bad = stat(files[i], &sb) != 0 ? errno : !S_ISREG(sb.st_mode) ? -1 : 0;
		if (!bad && access(files[i], R_OK) != 0)
			bad = errno;
		if (bad) {
			int erc = cli_error("%s: %s", files[i],
					   bad < 0 ? "not a regular file" : strerror(bad));
			free(files);
			return erc;
		}
	}
	char err[512];
	if (ro.filter && weft_filter_check(ro.filter, err, sizeof(err)) != 0) {
		free(files);
		return cli_error("%s", err);
	}
	char *cmd = join_args(argc, argv);
	so.command_line = cmd;
	struct weft_sink *sink = weft_sink_open(&so, err, sizeof(err));
	if (!sink) {
		free(cmd);
		free(files);
		return cli_error("%s", err);
	}
	struct weft_callbacks cb;
	weft_sink_bind(sink, &cfg, &cb);
	struct weft_engine *e = weft_engine_new(&cfg, &cb);
	if (!e) {
		weft_sink_close(sink);
		free(cmd);
		free(files);
		return cli_error("cannot create the engine");
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	ro.progress = isatty(2) && !quiet && !json_output;
	rc = 0;
	uint64_t packets = 0;
	for (int i = 0; i < nfiles && !stop_flag; i++) {
		err[0] = 0;
		enum weft_read_status st = weft_read_file(e, files[i], &ro, &packets, err, sizeof(err));
		if (st != WEFT_READ_OK) {
			/* one line, and keep going: what was read stays reassembled */
			fprintf(stderr, "%s: %s\n", st == WEFT_READ_ERROR ? "Error" : "Warning", err);
			rc = 1;
		}
	}
	weft_engine_flush(e, stop_flag ? WEFT_END_SHUTDOWN : WEFT_END_EOF);
	struct weft_stats s;
	weft_engine_stats(e, &s);
	weft_engine_free(e);
	int werr = weft_sink_close(sink);
	if (werr) {
		fprintf(stderr, "Error: %d write errors in %s\n", werr, so.dir);
		rc = 1;
	}
	print_summary(&s, packets, quiet);
	free(cmd);
	free(files);
	return rc;
}
