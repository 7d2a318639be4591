/* SPDX-License-Identifier: MIT */
/* The file sink's state, shared by sink.c, sink_name.c and sink_pcap.c. */
#ifndef WEFT_SINK_INT_H
#define WEFT_SINK_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include "weft/sink.h"
#include "sha256.h"
#include "report.h"

/* An output file: a descriptor while open, a buffer of bytes at boff. */
struct weft_sink;
struct sink_file {
	struct weft_sink *s;
	char *name;           /* relative to the output directory */
	int fd;               /* -1: closed */
	uint8_t *buf;         /* bcap bytes while open */
	size_t blen, bcap;
	uint64_t boff;        /* the buffer's offset in the file */
	uint64_t hi;          /* worker: the end of the bytes written */
	uint64_t pos;         /* --pcap: where the next record goes (reader) */
	uint64_t last_ns;     /* --pcap: its last frame's time (the mtime) */
	uint32_t link;        /* --pcap: its link type (reader) */
	uint64_t other_link;  /* --pcap: frames of another left out (reader) */
	bool created;         /* worker: made on disk */
	struct sink_file *oprev, *onext; /* open-file LRU */
	bool failed;          /* worker: writing it failed */
	int err;              /* errno of the first failure */
	/* the reader's: named (once), no name could be made, and what the
	 * name costs in the account (the worker may rename it: NAMEc1) */
	bool named, unnamed;
	uint32_t name_cost;
};

struct sink_dir {
	struct sha256 sha;
	struct sink_file f;
	uint64_t len;         /* stream length so far */
	uint64_t late;        /* bytes that filled a declared gap */
	char *tag;            /* -c's SRC-DST, made at the first chunk */
	bool hash;            /* a digest is made of it */
	bool rehash;          /* late bytes came: the digest is made from the file */
	struct report_gaps gaps;
};

struct sink_conn {
	struct sink_dir *d[2];
	struct sink_file *pcap;
	uint32_t count;       /* the %c of its files */
	bool counted;         /* count chosen (the per-name counter) */
};

/* A name's next free count, keyed by a 64-bit hash of the name with its
 * count left out: O_EXCL still guards the rare hash collision. */
struct name_count {
	uint64_t h;
	uint32_t next;
};

struct weft_sink {
	struct weft_sink_opts o;
	int dirfd;
	int journal;          /* the files made, listed (sink.c: JOURNAL), or -1 */
	bool journal_lost;    /* a line of it could not be written */
#define MADE_MAX 32
	char *made[MADE_MAX]; /* DIR and parents the sink made, in order (a
			       * failed run removes them) */
	int nmade;
	struct report *rep;   /* written by the worker only */
	struct hasher *hs;    /* the worker: NULL when nothing goes to DIR */
	/* the worker's: open files, errors */
	struct sink_file *ohead, *otail;
	int nopen;
	int errors;
	size_t buf_total;     /* worker: bytes of the files' write buffers */
	size_t buf_budget;    /* what they may take (out of the memory cap) */
	size_t dirs_live;     /* directions begun and not ended (the reader
			       * counts, the worker reads: atomic) */
	uint64_t queued;      /* bytes of end jobs queued (atomic: the worker
			       * releases them) */
	int first_errno;
	char first_name[PATH_MAX];
	uint64_t reported;    /* connections handed to the report */
	struct name_count *names;
	size_t nnames, names_cap;
	struct frag_pend *frags; /* --pcap: datagrams whose connection is not
				  * known yet (sink_pcap.c) */
	size_t nfrags, frags_cap;
	uint64_t frag_bytes;
	char *cbuf;           /* -c: chunks waiting to go out, or NULL */
	size_t clen;
	bool chunks_gone;     /* -c's reader went away */
};

/* --pcap: one frame to connection c's capture file. */
struct weft_conn;
void weft_sink_pcap_frame(struct weft_sink *s, struct weft_conn *c, const struct weft_frame *f);
void weft_sink_frags_free(struct weft_sink *s);

#endif
