/* SPDX-License-Identifier: MIT */
/*
 * The standard output of weft: one file per direction (tcpflow's naming),
 * DIR/flows.jsonl (one object per connection, written as it ends), a DFXML
 * report.xml, and optionally every chunk printed to a stream (-c).
 */
#ifndef WEFT_SINK_H
#define WEFT_SINK_H

#include <stdbool.h>
#include <stdio.h>
#include "weft/weft.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_DEFAULT_TEMPLATE "%A.%a-%B.%b%V%v%C%c"

struct weft_sink_opts {
	const char *dir;           /* output directory (created if missing) */
	const char *name_template; /* NULL: WEFT_DEFAULT_TEMPLATE */
	bool files;                /* write per-direction files */
	bool report;               /* flows.jsonl and report.xml */
	bool force;                /* write into a directory with weft output */
	bool no_hash;              /* no SHA-256 of the streams: sha256 null in
				    * flows.jsonl, no hashdigest in report.xml
				    * (the hash is most of what storing costs) */
	FILE *chunks;              /* print every chunk here (NULL: no) */
	int max_open;              /* open files at most (0: what RLIMIT_NOFILE
				    * allows, the soft limit raised to the hard) */
	const char *command_line;  /* recorded in report.xml */
	bool pcap;                 /* also one pcap per connection (the frames
				    * come through weft_sink_frame) */
	volatile int *stop;        /* set to SIGPIPE when -c's reader goes away,
				    * so the source stops (NULL: keep going) */
};

struct weft_sink;

struct weft_sink *weft_sink_open(const struct weft_sink_opts *o, char *err, size_t errlen);
/* Point the engine's callbacks at the sink and reserve its per-connection
 * state. Callers that want callbacks of their own call the sink's from them. */
void weft_sink_bind(struct weft_sink *s, struct weft_config *cfg, struct weft_callbacks *cb);
/* Finish report.xml and close everything. Returns the number of write
 * errors seen (0: all written), after one "Error: ..." line on stderr
 * naming the first failed file and its errno. */
int weft_sink_close(struct weft_sink *s);
/* The same, the line in err instead. discard: when no connection was
 * reported, remove the report files (and DIR if the sink made it): a
 * failed run that wrote nothing leaves nothing. */
int weft_sink_close_err(struct weft_sink *s, bool discard, char *err, size_t errlen);
/* Is a template usable? 0, or -1 with one line in err: unknown escapes,
 * empty, absolute or ".." paths, both directions named alike. */
int weft_template_check(const char *tmpl, char *err, size_t errlen);
/* Feed a frame to the engine; with --pcap, also write it to the pcap of
 * the connection it belongs to (a source's feed hook). */
int weft_sink_feed(void *sink, struct weft_engine *e, const struct weft_frame *f);
/* Write out what waits (report lines of ended connections); live sources
 * call it every second. */
void weft_sink_flush(struct weft_sink *s);

/* The name a direction's file gets from a template (no directory). */
void weft_format_name(const char *tmpl, const struct weft_conn_info *ci, enum weft_dir d,
		      uint32_t count, char *out, size_t len);

#ifdef __cplusplus
}
#endif
#endif
