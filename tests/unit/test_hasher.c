/* The worker stages (hasher.c) against a writer slower than the reader:
 * every batch in use, the reader waiting for one, a report call in the
 * batch it handed over that is older than the linger. Each call must run
 * exactly once and every batch come back (a batch taken again by its age
 * was run twice, and another lost: ASan's leak check sees that). Built
 * with slow_wait.h, which makes the waiting reader slow to wake.
 * Prints "hasher: N passed, N failed, 0 skipped". */
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include "hasher.h"

#define CALLS 24
#define WRITE_US 200000 /* each write: 0.2 s */

static int runs[CALLS];

static void call(void *a)
{
	__atomic_add_fetch(&runs[(intptr_t)a], 1, __ATOMIC_RELAXED);
}

static void slow_write(void *a, uint64_t off, const uint8_t *d, size_t n)
{
	(void)a; (void)off; (void)d; (void)n;
	usleep(WRITE_US);
}

int main(void)
{
	static uint8_t data[200 << 10]; /* one a batch */
	struct hasher *h = weft_hasher_new();
	if (!h) {
		printf("FAIL hasher: cannot start\nhasher: 0 passed, 1 failed, 0 skipped\n");
		return 1;
	}
	for (intptr_t i = 0; i < CALLS; i++) {
		weft_hasher_call(h, call, (void *)i);
		weft_hasher_data_call(h, slow_write, NULL, 0, data, sizeof(data), NULL);
	}
	weft_hasher_free(h);
	int bad = 0;
	for (int i = 0; i < CALLS; i++)
		bad += runs[i] != 1;
	if (bad)
		printf("FAIL hasher: %d of %d calls not run exactly once\n", bad, CALLS);
	else
		printf("ok   hasher: %d calls behind a slow writer, each run once\n", CALLS);
	printf("hasher: %d passed, %d failed, 0 skipped\n", !bad, !!bad);
	return bad != 0;
}
