/* SPDX-License-Identifier: MIT */
/* flows.jsonl and the DFXML report.xml. */
#ifndef WEFT_REPORT_H
#define WEFT_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include "weft/weft.h"

struct report_gaps {
	uint64_t (*v)[2];
	size_t n, cap;
};

struct report_dir {
	const struct weft_dir_stats *st;
	const char *file;          /* NULL: no file */
	const struct report_gaps *gaps;
	char sha256[65];
	uint64_t late;             /* bytes that filled a declared gap */
	int err;                   /* errno that cut the file short, or 0 */
};

struct report;

struct report *weft_report_open(int dirfd, const char *dir, const char *cmdline, char *err,
			   size_t errlen);
/* One connection: a whole line in flows.jsonl and whole fileobjects in
 * report.xml, or nothing of it (a full disk never leaves half a record). */
void weft_report_conn(struct report *r, const struct weft_conn_info *ci, enum weft_end_reason why,
		 const struct report_dir d[2], const char *pcap, const char *pcap_err);
/* (pcap_err: why the pcap is not whole, or NULL) */
/* Returns the write errors; the first one's words in err (may be NULL). */
int weft_report_close(struct report *r, char *err, size_t errlen);
/* Community ID v1 of a connection (seed 0): "1:" and 28 base64 chars. */
void weft_report_community_id(const struct weft_conn_info *ci, uint16_t seed, char out[40]);

void weft_report_gap_add(struct report_gaps *g, uint64_t off, uint64_t len);
/* Late bytes filled [off, off + len): the gaps shrink, split or go. */
void weft_report_gap_sub(struct report_gaps *g, uint64_t off, uint64_t len);
/* The length of the UTF-8 character at s (its code point in *cp), or 0 at
 * the end or where the bytes are not UTF-8 (overlong, a surrogate, past
 * U+10FFFF, cut short). */
size_t weft_utf8_seq(const char *s, uint32_t *cp);
/* ISO 8601 UTC with microseconds: 2023-11-14T22:13:20.002334Z */
void weft_report_time(uint64_t ns, char *buf, size_t len);

#endif
