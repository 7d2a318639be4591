/* Print the request line of every HTTP request in a capture, with libweft.
 * Build: cc http-requests.c -Iinclude build/libweft.a -lpcap -lcrypto */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <weft/weft.h>
#include <weft/source.h>

/* Content-Length of a request's headers (0 when absent). */
static size_t content_length(const char *h, size_t n)
{
	static const char key[] = "\ncontent-length:";
	for (size_t i = 0; i + sizeof(key) - 1 < n; i++)
		if (!strncasecmp(h + i, key, sizeof(key) - 1))
			return (size_t)strtoul(h + i + sizeof(key) - 1, NULL, 10);
	return 0;
}

/* Called with every byte of a side not yet consumed: print the request line
 * of each complete request (headers and body) and consume it; keep a partial
 * one for the next call. */
static size_t on_data(void *ctx, struct weft_conn *c, enum weft_dir d, uint64_t off,
		      const uint8_t *data, size_t len)
{
	(void)ctx; (void)off;
	if (d != WEFT_C2S)
		return len;
	size_t used = 0;
	for (;;) {
		const char *req = (const char *)data + used;
		const char *end = memmem(req, len - used, "\r\n\r\n", 4);
		if (!end)
			return used;
		size_t head = (size_t)(end + 4 - req);
		size_t body = content_length(req, head);
		if (body > len - used - head)
			return used; /* the body is still coming */
		printf("%llu %.*s\n", (unsigned long long)weft_conn_info(c)->id,
		       (int)strcspn(req, "\r\n"), req);
		used += head + body;
	}
}

/* After a gap, skip to the next line that starts a request. */
static ssize_t on_resync(void *ctx, struct weft_conn *c, enum weft_dir d,
			 const uint8_t *data, size_t len)
{
	(void)ctx; (void)c; (void)d;
	for (size_t i = 0; i + 4 <= len; i++)
		if ((i == 0 || data[i - 1] == '\n') &&
		    (!memcmp(data + i, "GET ", 4) || !memcmp(data + i, "POST", 4)))
			return (ssize_t)i;
	return -1;
}

int main(int argc, char **argv)
{
	struct weft_config cfg;
	weft_config_default(&cfg);
	cfg.keep_unconsumed = true;     /* hand back what on_data did not consume */
	struct weft_callbacks cb = { .on_data = on_data, .on_resync = on_resync };
	struct weft_engine *e = weft_engine_new(&cfg, &cb);
	char err[256];
	for (int i = 1; i < argc; i++)
		if (weft_read_file(e, argv[i], NULL, NULL, err, sizeof(err)) != WEFT_READ_OK)
			fprintf(stderr, "%s\n", err);
	weft_engine_flush(e, WEFT_END_EOF);
	weft_engine_free(e);
	return 0;
}
