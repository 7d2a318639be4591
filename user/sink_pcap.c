/* SPDX-License-Identifier: MIT */
/*
 * --pcap: every connection's frames in a capture of its own, named like its
 * streams. The frame's connection is looked up with the engine's own key
 * (so VLAN keying and the canonical order are the engine's): before the
 * feed, where the frame that ends a connection still finds it, and after,
 * where the SYN that starts one does. IP fragments are not followed here.
 */
#include "weft/sink.h"
#include "engine_int.h"
#include "sink_int.h"

static struct weft_conn *frame_conn(struct weft_engine *e, const struct weft_frame *f)
{
	struct ip_pkt ip;
	struct tcp_seg seg;
	if (weft_decode_frame(f->link, f->data, f->caplen, f->wirelen, &ip) != DEC_OK ||
	    ip.proto != 6 || ip.frag ||
	    weft_decode_tcp(ip.l4, ip.l4_caplen, ip.l4_wirelen, &seg) != DEC_OK)
		return NULL;
	struct flow_key k;
	uint8_t src;
	weft_flow_key_make(&k, &ip, seg.sport, seg.dport, e->cfg.vlan_in_key, &src);
	struct weft_conn *c = weft_flow_lookup(e, &k, weft_flow_key_hash(&k));
	return c && !c->ended ? c : NULL;
}

int weft_sink_feed(void *arg, struct weft_engine *e, const struct weft_frame *f)
{
	struct weft_sink *s = arg;
	if (!s->o.pcap || s->dirfd < 0)
		return weft_engine_feed(e, f);
	struct weft_conn *c = frame_conn(e, f);
	if (c)
		weft_sink_pcap_frame(s, c, f);
	int rc = weft_engine_feed(e, f);
	if (!c && (c = frame_conn(e, f)))
		weft_sink_pcap_frame(s, c, f);
	return rc;
}
