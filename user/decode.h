/* SPDX-License-Identifier: MIT */
/* Frame decoding: link layer (Ethernet, 802.3 LLC/SNAP, PPP, Linux cooked),
 * VLAN/QinQ, PPPoE, MPLS, IPv4/IPv6 (and IP in IP) down to L4. */
#ifndef WEFT_DECODE_H
#define WEFT_DECODE_H

#include <stdint.h>
#include <stdbool.h>

enum decode_status {
	DEC_OK = 0,
	DEC_NOT_IP,       /* ARP, LLDP, ... */
	DEC_NOT_TCP,      /* IP but another protocol */
	DEC_MALFORMED,    /* a header that does not parse */
	DEC_UNKNOWN_LINK,
};

/* An IP packet (or a fragment of one) as the decoder found it. */
struct ip_pkt {
	uint8_t family;   /* 4 or 6 */
	uint8_t proto;    /* L4 protocol (after IPv6 extension headers) */
	uint8_t nvlan;
	uint16_t vlan[2]; /* outer first */
	uint8_t src[16], dst[16];
	const uint8_t *l4;
	uint32_t l4_caplen;  /* L4 bytes present in the frame */
	uint32_t l4_wirelen; /* L4 bytes the IP header claims */
	/* Fragments: l4 is the fragment's payload at byte frag_off. */
	bool frag;
	bool frag_more;
	uint32_t frag_id;
	uint32_t frag_off;
	/* Some layer claimed more bytes than an outer one (or the record)
	 * holds: the shortest claim was believed. */
	bool len_mismatch;
};

struct tcp_seg {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	const uint8_t *data;
	uint32_t caplen;  /* payload bytes present */
	uint32_t wirelen; /* payload bytes sent */
	bool peer_ack_valid; /* from the source (weft_frame), not the header */
	uint32_t peer_ack;
	bool peer_fin_valid;
	uint32_t peer_fin;
};

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

enum decode_status weft_decode_frame(uint32_t link, const uint8_t *p, uint32_t caplen,
				uint32_t wirelen, struct ip_pkt *out);
/* A datagram defrag just completed: its payload is the fragmentable part,
 * which for IPv6 may start with extension headers (destination options,
 * routing) in front of the upper layer, and may be a tunnelled IP packet
 * (proto 4, 41); walk them, the flow is the inner one. */
enum decode_status weft_decode_reassembled(struct ip_pkt *o);
/* Parse a TCP header out of an unfragmented (or reassembled) L4 payload. */
enum decode_status weft_decode_tcp(const uint8_t *l4, uint32_t caplen, uint32_t wirelen,
			      struct tcp_seg *out);

#endif
