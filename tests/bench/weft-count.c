/* weft's engine on a capture file with no output: count delivered bytes
 * (the counterpart of nids-count.c). */
#include <stdio.h>
#include "weft/weft.h"
#include "weft/source.h"

static unsigned long long bytes;

static size_t on_data(void *ctx, struct weft_conn *c, enum weft_dir d, uint64_t off,
		      const uint8_t *data, size_t len)
{
	(void)ctx; (void)c; (void)d; (void)off; (void)data;
	bytes += len;
	return len;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	struct weft_callbacks cb = { .on_data = on_data };
	struct weft_engine *e = weft_engine_new(NULL, &cb);
	char err[256];
	if (weft_read_file(e, argv[1], NULL, NULL, err, sizeof(err)) != WEFT_READ_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	weft_engine_flush(e, WEFT_END_EOF);
	struct weft_stats s;
	weft_engine_stats(e, &s);
	printf("weft: %llu streams, %llu bytes\n", (unsigned long long)s.conns, bytes);
	weft_engine_free(e);
	return 0;
}
