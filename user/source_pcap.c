/* SPDX-License-Identifier: MIT */
/*
 * Capture files through libpcap: pcap (micro- and nanosecond) and pcapng,
 * any link type the decoder knows, an optional tcpdump filter. A cut last
 * record is reported, not fatal: what came before it is kept.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <pcap/pcap.h>
#include "weft/source.h"

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void progress(pcap_t *p, const char *path, off_t size, uint64_t pkts)
{
	FILE *f = pcap_file(p);
	long pos = f ? ftell(f) : -1;
	if (pos >= 0 && size > 0)
		fprintf(stderr, "\r%s: %.0f%% (%ld of %lld MB), %llu packets   ", path,
			100.0 * (double)pos / (double)size, pos >> 20, (long long)size >> 20,
			(unsigned long long)pkts);
	else
		fprintf(stderr, "\r%s: %llu packets   ", path, (unsigned long long)pkts);
}

enum weft_read_status weft_read_file(struct weft_engine *e, const char *path,
				     const struct weft_read_opts *o, uint64_t *packets,
				     char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE] = "";
	struct stat sb;
	if (stat(path, &sb) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return WEFT_READ_ERROR;
	}
	if (S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "%s: is a directory", path);
		return WEFT_READ_ERROR;
	}
	pcap_t *p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, perr);
	if (!p) {
		/* libpcap's wording for a file that is no capture is cryptic */
		if (strstr(perr, "unknown file format") || strstr(perr, "truncated dump file"))
			snprintf(err, errlen, "%s: not a pcap or pcapng capture file", path);
		else
			snprintf(err, errlen, "%s: %s", path, perr);
		return WEFT_READ_ERROR;
	}
	if (o && o->filter && *o->filter) {
		struct bpf_program prog;
		if (pcap_compile(p, &prog, o->filter, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
		    pcap_setfilter(p, &prog) != 0) {
			snprintf(err, errlen, "filter '%s': %s", o->filter, pcap_geterr(p));
			pcap_close(p);
			return WEFT_READ_ERROR;
		}
		pcap_freecode(&prog);
	}
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc;
	uint64_t n = 0;
	double next_progress = o && o->progress ? mono_now() + 0.5 : 0;
	struct weft_frame f = { 0 };
	while ((rc = pcap_next_ex(p, &h, &data)) >= 0) {
		if (rc == 0)
			continue;
		/* pcapng files can mix link types: ask per packet */
		f.link = (uint32_t)pcap_datalink(p);
		f.ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ull + (uint64_t)h->ts.tv_usec;
		f.data = data;
		f.caplen = h->caplen;
		f.wirelen = h->len;
		weft_engine_feed(e, &f);
		n++;
		if (next_progress && (n & 0xfff) == 0 && mono_now() >= next_progress) {
			progress(p, path, sb.st_size, n);
			next_progress = mono_now() + 0.5;
		}
		if (o && o->stop && *o->stop)
			break;
	}
	if (next_progress)
		fprintf(stderr, "\r%s: %llu packets%30s\n", path, (unsigned long long)n, "");
	if (packets)
		*packets += n;
	enum weft_read_status st = WEFT_READ_OK;
	if (rc == PCAP_ERROR) {
		const char *why = pcap_geterr(p);
		if (strstr(why, "truncated"))
			snprintf(err, errlen, "%s: last record cut short after %llu packets; "
				 "everything before it was read", path, (unsigned long long)n);
		else
			snprintf(err, errlen, "%s: read error after %llu packets: %s", path,
				 (unsigned long long)n, why);
		st = WEFT_READ_TRUNCATED;
	}
	pcap_close(p);
	return st;
}
