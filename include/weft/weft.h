/* SPDX-License-Identifier: MIT */
/*
 * libweft: rebuild TCP byte streams from packets.
 *
 * One engine serves every source (capture files, AF_XDP, ring buffer): a
 * source hands it frames with their packet time, the engine decodes them,
 * reassembles IP fragments, finds the connection and puts each direction
 * back in order, and reports through callbacks: connection start, data
 * (direction, stream offset, bytes), gap (direction, offset, length) and end
 * (with a reason).
 */
#ifndef WEFT_WEFT_H
#define WEFT_WEFT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Directions of a connection: the client is the SYN sender. */
enum weft_dir {
	WEFT_C2S = 0,
	WEFT_S2C = 1,
};

/* Why a connection ended. Keep in step with weft_end_reason_name(). */
enum weft_end_reason {
	WEFT_END_NONE = 0,
	WEFT_END_FIN,       /* both sides closed with FIN */
	WEFT_END_RST,       /* a side sent RST */
	WEFT_END_IDLE,      /* no packet within its idle timeout */
	WEFT_END_MEMCAP,    /* evicted to keep the global memory cap */
	WEFT_END_MAX_FLOWS, /* evicted to make room under max_flows */
	WEFT_END_DEPTH,     /* every side reached its depth or closed */
	WEFT_END_BUFFER,    /* a side's buffer cap was hit (buffer_policy end) */
	WEFT_END_MANUAL,    /* the caller ended it (weft_conn_end) */
	WEFT_END_SHUTDOWN,  /* the engine was closed while it was open (live) */
	WEFT_END_EOF,       /* input ended while it was open (files) */
	WEFT_END_REUSE,     /* a new SYN with another ISN replaced it */
	WEFT_END__COUNT
};

const char *weft_end_reason_name(enum weft_end_reason r);

/* What to do with overlapping bytes that differ. */
enum weft_overlap {
	WEFT_OVERLAP_FIRST = 0, /* the copy seen first wins (default) */
	WEFT_OVERLAP_LAST,      /* the copy seen last wins, while still buffered */
};

/* What to do when a side's out-of-order buffer reaches its cap. */
enum weft_buffer_policy {
	WEFT_BUFFER_GAP = 0, /* give up the oldest hole: report it as a gap */
	WEFT_BUFFER_END,     /* end the connection with reason buffer */
};

/* Link types the decoder understands (values are pcap LINKTYPE_*). */
enum weft_link {
	WEFT_LINK_NULL = 0,
	WEFT_LINK_ETHERNET = 1,
	WEFT_LINK_PPP = 9,
	WEFT_LINK_RAW = 101,
	WEFT_LINK_RAW_DLT12 = 12,
	WEFT_LINK_LOOP = 108,
	WEFT_LINK_SLL = 113,
	WEFT_LINK_IPV4 = 228,
	WEFT_LINK_IPV6 = 229,
	WEFT_LINK_SLL2 = 276,
};

/* The default memory cap: 1 GiB holds 64 directions stalled at their full
 * 16 MiB out-of-order buffer, or about a million idle connections, and a
 * capture built to hurt cannot take a default run past it. */
#define WEFT_DEFAULT_MEMCAP (1ull << 30)

struct weft_config {
	/* Idle timeouts in nanoseconds of packet time. */
	uint64_t idle_established_ns; /* default 300 s */
	uint64_t idle_closing_ns;     /* a FIN seen; default 30 s */
	/* After both FINs, how long (packet time) a connection waits before it
	 * ends, for bytes a capture reordered after the tap shows after them
	 * (RX queues drained in turn). 0 (the default): it ends at once;
	 * weft run sets 500 ms. A SYN or bytes beyond its FINs end it sooner. */
	uint64_t linger_ns;
	uint64_t idle_halfopen_ns;    /* SYN seen, no data; default 30 s */
	uint64_t memcap;              /* bytes for all engine state; 0: none;
				       * default WEFT_DEFAULT_MEMCAP */
	uint64_t max_flows;           /* open connections; 0: no limit */
	uint64_t buffer_cap;          /* out-of-order bytes per side; default 16 MiB */
	uint64_t depth;               /* bytes delivered per side; 0: all */
	enum weft_overlap overlap;
	enum weft_buffer_policy buffer_policy;
	bool vlan_in_key;             /* default true */
	/* Keep delivered bytes until the data callback says it consumed them
	 * (libtins' auto-cleanup off): on_data then sees every unconsumed byte
	 * and returns how many it consumed. */
	bool keep_unconsumed;
	/* IP fragment reassembly bounds. */
	uint32_t frag_max_datagrams; /* in flight at once; default 4096 */
	uint64_t frag_timeout_ns;    /* default 30 s */
	/* Bytes of caller state allocated with each connection (counted in the
	 * memory cap); weft_conn_user() returns it, zeroed at start. */
	size_t conn_user_size;
	/* The caller runs the idle sweeps (weft_engine_sweep_some, a live
	 * source between batches); feeding never sweeps. Default false: a
	 * file source's packets sweep as their time advances. */
	bool external_sweep;
};

void weft_config_default(struct weft_config *cfg);

struct weft_engine;
struct weft_conn;

/* Addresses are 16 bytes; IPv4 sits in the first 4. */
struct weft_endpoint {
	uint8_t addr[16];
	uint16_t port;
};

struct weft_conn_info {
	uint64_t id;           /* 1, 2, ... in order of start */
	uint8_t family;        /* 4 or 6 */
	struct weft_endpoint client, server;
	uint16_t vlan[2];
	uint8_t nvlan;
	uint32_t reuse;        /* earlier connections on the same tuple */
	bool midstream;        /* no SYN seen: client guessed */
	uint64_t first_ns, last_ns;
	enum weft_end_reason end;
};

struct weft_dir_stats {
	uint64_t bytes;      /* stream length so far, gaps included */
	uint64_t packets;    /* TCP packets sent in this direction */
	uint64_t gap_bytes;  /* bytes reported as gaps */
	uint32_t gaps;       /* gap count */
	uint64_t conflicts;  /* overlapping bytes that differed */
	uint64_t retrans;    /* bytes seen again (trimmed) */
	uint64_t skipped;    /* bytes dropped by the resync hook after a gap */
	uint64_t late;       /* bytes that came after their range was declared a gap
			      * (handed to on_late; gap_bytes is less by them) */
	bool fin, rst, depth_reached, ignored;
	uint64_t last_ns;    /* packet time of its last packet (never back) */
};

struct weft_callbacks {
	void *ctx;
	void (*on_start)(void *ctx, struct weft_conn *c);
	/* Ordered bytes of one side at stream offset off. Return how many bytes
	 * were consumed; the value matters only with keep_unconsumed. */
	size_t (*on_data)(void *ctx, struct weft_conn *c, enum weft_dir d,
			  uint64_t off, const uint8_t *data, size_t len);
	/* [off, off+len) of one side will never come. */
	void (*on_gap)(void *ctx, struct weft_conn *c, enum weft_dir d,
		       uint64_t off, uint64_t len);
	/* Late bytes: the capture held bytes of a range on_gap already declared
	 * (packets reordered after the tap, so the ACK that made the hole a gap
	 * came before them). off is their stream offset, inside that gap and
	 * below what on_data has delivered; the gap is that much smaller.
	 * Optional: without it they are counted (weft_dir_stats.late) and
	 * dropped. The file sink writes them in place. */
	void (*on_late)(void *ctx, struct weft_conn *c, enum weft_dir d, uint64_t off,
			const uint8_t *data, size_t len);
	/* The message-boundary hook: after a gap, called with the bytes that
	 * follow it until it returns an index >= 0, the first message start in
	 * data; the bytes before it are skipped (counted, not delivered).
	 * Return -1 to skip all of data and be asked again with the next. */
	ssize_t (*on_resync)(void *ctx, struct weft_conn *c, enum weft_dir d,
			     const uint8_t *data, size_t len);
	void (*on_end)(void *ctx, struct weft_conn *c, enum weft_end_reason r);
	/* Optional, for sources that filter upstream (the XDP bypass): the
	 * engine wants no more packets of direction d of c (it reached its
	 * depth, or was ignored). */
	void (*on_unwanted)(void *ctx, struct weft_conn *c, enum weft_dir d);
	/* Optional, for sources that keep pure ACKs out of the packet stream
	 * (the kernel flow table): the highest ACK number the receiver of
	 * direction d has sent, in *ack; false if unknown. Asked when c ends,
	 * for the final gaps (during the connection, weft_frame.peer_ack
	 * carries it in packet order). */
	bool (*peer_ack)(void *ctx, struct weft_conn *c, enum weft_dir d, uint32_t *ack);
	/* Optional, with the same sources: the sequence number of the FIN
	 * the sender of direction d sent, in *seq, if the source saw one pass
	 * (its packet may not have reached the engine); false if none. Asked
	 * when c ends, so the final gaps stop at the FIN, not a byte past it
	 * (during the connection, weft_frame.peer_fin carries it). */
	bool (*sent_fin)(void *ctx, struct weft_conn *c, enum weft_dir d, uint32_t *seq);
	/* Optional, with the same sources: the packet time the connection was
	 * last seen, in *ts_ns, counting packets the engine was not given
	 * (kept or bypassed in the kernel). Asked before an idle eviction, so
	 * a flow alive in the kernel is not taken for an idle one. */
	bool (*last_seen)(void *ctx, struct weft_conn *c, uint64_t *ts_ns);
};

/* A frame from a source. hash is optional (0: the engine computes it); a
 * source that has one (the XDP metadata) saves the engine the work. */
struct weft_frame {
	uint64_t ts_ns;
	const uint8_t *data;
	uint32_t caplen;  /* bytes present */
	uint32_t wirelen; /* bytes on the wire */
	uint32_t link;    /* enum weft_link */
	uint32_t hash;
	/* Optional: the highest ACK number the receiver of this packet's
	 * direction had sent before it (a source that keeps pure ACKs out of
	 * the stream hands their word over this way, in packet order). */
	bool peer_ack_valid;
	uint32_t peer_ack;
	/* optional: the receiver's FIN's sequence number, known to the source
	 * even if the FIN's packet was lost (the kernel saw it pass) */
	bool peer_fin_valid;
	uint32_t peer_fin;
};

/* Engine counters. */
struct weft_stats {
	uint64_t frames, bytes;
	uint64_t tcp_packets;
	uint64_t non_tcp;
	uint64_t malformed;       /* headers that do not parse */
	uint64_t truncated;       /* snaplen cut into TCP payload */
	uint64_t unknown_link;
	uint64_t frags, frag_datagrams, frag_dropped, frag_overlaps;
	uint64_t frag_expired;    /* datagrams in progress past frag_timeout_ns */
	uint64_t frag_evicted;    /* ... dropped, oldest first, for the memory cap */
	uint64_t conns, conns_open, conns_max_open;
	uint64_t late_packets;    /* packets of an ended connection that bring nothing new */
	uint64_t implausible;     /* data too far ahead of its stream to be real */
	uint64_t time_jumps;      /* packets stamped far ahead, not believed */
	uint64_t rst_ignored;     /* RSTs outside the receiver's window (not an end) */
	uint64_t delivered_bytes, gap_bytes, gaps, conflicts;
	uint64_t late_bytes;      /* bytes that filled a declared gap (gap_bytes is net of them) */
	uint64_t ends[WEFT_END__COUNT];
	uint64_t mem_used, mem_peak;
	/* frames whose layers disagreed on their length (an IP length longer
	 * than PPPoE's or 802.3's, than the frame, a record length no link
	 * sends): only what every layer agrees on counted as data */
	uint64_t len_mismatch;
	/* allocations that failed: the bytes they were for show as gaps, a
	 * connection that could not be made is not followed */
	uint64_t alloc_failures;
};

struct weft_engine *weft_engine_new(const struct weft_config *cfg,
				    const struct weft_callbacks *cb);
/* Feed one frame. Returns 0, or -1 when it was not a usable TCP packet
 * (counted in the stats; never fatal). */
int weft_engine_feed(struct weft_engine *e, const struct weft_frame *f);
/* Run the idle sweep for packet time now_ns (live sources call this on a
 * timer; file sources need not: feeding sweeps as time advances). */
void weft_engine_sweep(struct weft_engine *e, uint64_t now_ns);
/* The same, a slice at a time: handles at most max idle connections and
 * returns how many it handled; max means more may wait. A live source
 * interleaves slices with its packets so a sweep of 100k flows never
 * stalls the rings. */
size_t weft_engine_sweep_some(struct weft_engine *e, uint64_t now_ns, size_t max);
/* End every open connection with reason r (EOF or SHUTDOWN). */
void weft_engine_flush(struct weft_engine *e, enum weft_end_reason r);
void weft_engine_stats(const struct weft_engine *e, struct weft_stats *s);
/* Change settings while running (timeouts, caps, depth, overlap). */
void weft_engine_set_config(struct weft_engine *e, const struct weft_config *cfg);
/* Flushes nothing: call weft_engine_flush first to get end callbacks. */
void weft_engine_free(struct weft_engine *e);

/* Connections. Pointers are valid until on_end returns. */
const struct weft_conn_info *weft_conn_info(const struct weft_conn *c);
const struct weft_dir_stats *weft_conn_dir(const struct weft_conn *c, enum weft_dir d);
void *weft_conn_user(struct weft_conn *c);
/* Count n bytes (negative: release) of the caller's own state for c in
 * the engine's one memory account, so the memory cap bounds it too (the
 * file sink's per-direction digests, names and gap lists). What is still
 * counted when c is freed is released with it. */
void weft_conn_mem(struct weft_conn *c, int64_t n);
/* Stop buffering and delivering one side (counted, never stored). */
void weft_conn_ignore(struct weft_conn *c, enum weft_dir d);
/* End a connection now with the given reason (e.g. WEFT_END_MANUAL). */
void weft_conn_end(struct weft_engine *e, struct weft_conn *c, enum weft_end_reason r);
/* Find a live connection by id (NULL if none). */
struct weft_conn *weft_engine_find(struct weft_engine *e, uint64_t id);

/* Text helpers. */
void weft_addr_str(uint8_t family, const uint8_t addr[16], char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
