/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Header parsing for the XDP program: bounded loops, every access checked
 * against data_end before it is made (the verifier insists, and so do
 * frames that lie about their lengths).
 */
#ifndef WEFT_BPF_PARSE_H
#define WEFT_BPF_PARSE_H

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define ETH_P_QINQ1 0x9100
#define IPPROTO_TCP_ 6
#define MAX_VLAN 2
#define MAX_EXT 6

/* Results: OK, two "not ours" verdicts, or the error counter to bump. */
#define PARSE_OK 0
#define PARSE_NOT_IP 100
#define PARSE_NOT_TCP 101

struct pkt {
	__u32 addr[2][4];  /* [0] source, [1] destination; IPv4 in word 0 */
	__u16 port[2];     /* host order; 0 for fragments */
	__u16 vlan[2];
	__u16 l3_off, l4_off;
	__u8 family, nvlan, flags;
	__u8 tcpflags;     /* the TCP header's flag byte */
	__u32 ack;         /* host order */
	__u32 seq;
	__s32 payload;     /* TCP payload bytes by the IP length; -1: unknown */
	__u32 hdr_len;     /* frame bytes up to the TCP payload (0: a fragment) */
};

#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_ACK 0x10

struct vlan_hdr_ {
	__be16 tci;
	__be16 proto;
};

/* The frame in [data, end) into *p. From TC, a tag the device took out of
 * the frame is in p->vlan[0] with p->nvlan 1 before the call. */
static __always_inline int parse_frame(void *data, void *end, struct pkt *p)
{
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return WEFT_CNT_ERR_ETH;
	__u16 proto = bpf_ntohs(eth->h_proto);
	__u32 off = sizeof(*eth);

#pragma unroll
	for (int i = 0; i < MAX_VLAN; i++) {
		if (i < p->nvlan)
			continue; /* a tag the device took out of the frame (skb->vlan_tci) */
		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD && proto != ETH_P_QINQ1)
			break;
		struct vlan_hdr_ *v = data + off;
		if ((void *)(v + 1) > end)
			return WEFT_CNT_ERR_VLAN;
		p->vlan[i] = bpf_ntohs(v->tci) & 0x0fff;
		p->nvlan = i + 1;
		proto = bpf_ntohs(v->proto);
		off += sizeof(*v);
	}
	p->l3_off = off;
	p->payload = -1;
	__u32 iplen = 0;
	__u8 l4proto;
	if (proto == ETH_P_IP) {
		struct iphdr *ip = data + off;
		if ((void *)(ip + 1) > end)
			return WEFT_CNT_ERR_IPV4;
		__u32 ihl = ip->ihl * 4;
		if (ihl < sizeof(*ip) || data + off + ihl > end)
			return WEFT_CNT_ERR_IPV4;
		p->family = 4;
		iplen = bpf_ntohs(ip->tot_len);
		p->addr[0][0] = ip->saddr;
		p->addr[1][0] = ip->daddr;
		l4proto = ip->protocol;
		__u16 fo = bpf_ntohs(ip->frag_off);
		if (fo & 0x3fff) {
			p->flags |= WEFT_META_FRAG;
			if (fo & 0x1fff)
				off = 0; /* not the first fragment: no L4 header here */
			else
				off += ihl;
		} else {
			off += ihl;
		}
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6 = data + off;
		if ((void *)(ip6 + 1) > end)
			return WEFT_CNT_ERR_IPV6;
		p->family = 6;
		p->flags |= WEFT_META_IPV6;
		/* 0 is a jumbogram (BIG TCP): its length is elsewhere */
		iplen = ip6->payload_len ? bpf_ntohs(ip6->payload_len) + sizeof(*ip6) : 0;
		__builtin_memcpy(p->addr[0], &ip6->saddr, 16);
		__builtin_memcpy(p->addr[1], &ip6->daddr, 16);
		l4proto = ip6->nexthdr;
		off += sizeof(*ip6);
#pragma unroll
		for (int i = 0; i < MAX_EXT; i++) {
			if (l4proto != 0 && l4proto != 43 && l4proto != 60 && l4proto != 44 &&
			    l4proto != 51)
				break;
			__u8 *h = data + off;
			if ((void *)(h + 8) > end)
				return WEFT_CNT_ERR_IPV6;
			if (l4proto == 44) {
				__u16 fo = ((__u16)h[2] << 8 | h[3]);
				if (fo & 0xfff9) {
					p->flags |= WEFT_META_FRAG;
					if (fo & 0xfff8) {
						l4proto = h[0];
						off = 0;
						break;
					}
				}
				l4proto = h[0];
				off += 8;
				continue;
			}
			__u32 len = l4proto == 51 ? ((__u32)h[1] + 2) * 4 : ((__u32)h[1] + 1) * 8;
			l4proto = h[0];
			off += len;
		}
		if (l4proto == 0 || l4proto == 43 || l4proto == 60 || l4proto == 44 || l4proto == 51)
			return WEFT_CNT_ERR_IPV6; /* chain too long to follow */
	} else {
		return PARSE_NOT_IP;
	}
	if (l4proto != IPPROTO_TCP_)
		return PARSE_NOT_TCP;
	p->l4_off = off;
	if (p->flags & WEFT_META_FRAG) {
		/* ports are in the first fragment only: hash the address pair */
		if (off) {
			struct tcphdr *t = data + (off & 0xffff);
			if ((void *)(t + 1) <= end && (t->syn || t->fin || t->rst))
				p->flags |= (t->syn ? WEFT_META_SYN : 0) | (t->fin ? WEFT_META_FIN : 0) |
					    (t->rst ? WEFT_META_RST : 0);
		}
		return PARSE_OK;
	}
	struct tcphdr *t = data + (off & 0xffff);
	if ((void *)(t + 1) > end)
		return WEFT_CNT_ERR_TCP;
	if (t->doff < 5 || data + (off & 0xffff) + t->doff * 4 > end)
		return WEFT_CNT_ERR_TCP;
	p->port[0] = bpf_ntohs(t->source);
	p->port[1] = bpf_ntohs(t->dest);
	p->tcpflags = ((__u8 *)t)[13];
	p->ack = bpf_ntohl(t->ack_seq);
	p->seq = bpf_ntohl(t->seq);
	__u32 hdrs = (off & 0xffff) - p->l3_off + t->doff * 4;
	p->hdr_len = (off & 0xffff) + t->doff * 4;
	if (iplen && iplen >= hdrs)
		p->payload = (__s32)(iplen - hdrs);
	p->flags |= (t->syn ? WEFT_META_SYN : 0) | (t->fin ? WEFT_META_FIN : 0) |
		    (t->rst ? WEFT_META_RST : 0);
	return PARSE_OK;
}

#endif
