/* libnids on a capture file: count the bytes of every TCP stream it
 * reassembles (the peer harness for bench-read.sh). */
#include <stdio.h>
#include <nids.h>

static unsigned long long bytes, streams;

static void tcp_cb(struct tcp_stream *s, void **unused)
{
	(void)unused;
	if (s->nids_state == NIDS_JUST_EST) {
		s->client.collect++;
		s->server.collect++;
		streams++;
	} else if (s->nids_state == NIDS_DATA) {
		struct half_stream *h = s->client.count_new ? &s->client : &s->server;
		bytes += (unsigned long long)h->count_new;
	}
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	static struct nids_chksum_ctl ctl = { 0, 0, NIDS_DONT_CHKSUM, 0 };
	nids_params.filename = argv[1];
	nids_params.device = NULL;
	nids_params.scan_num_hosts = 0;
	nids_params.n_tcp_streams = 1 << 16;
	nids_params.n_hosts = 1 << 12;
	if (!nids_init()) {
		fprintf(stderr, "nids_init: %s\n", nids_errbuf);
		return 1;
	}
	nids_register_chksum_ctl(&ctl, 1);
	nids_register_tcp(tcp_cb);
	nids_run();
	printf("libnids: %llu streams, %llu bytes\n", streams, bytes);
	return 0;
}
