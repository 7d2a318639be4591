/* The least work any tool does to turn a capture into stream files with
 * their SHA-256: read the capture (a private map, every byte touched by
 * the digest), hash BYTES of it and write them into NFILES files beneath
 * DIR in 64 KB writes, each file its own digest. No parsing, no
 * reassembly, no reordering: what remains is what the machine charges for
 * the bytes themselves. bench-read.sh takes its CPU time (user + system)
 * over the CPUs there are as the floor of a files run's wall time.
 * usage: files-floor CAPTURE DIR BYTES NFILES */
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define PIECE (64u << 10)

int main(int argc, char **argv)
{
	if (argc != 5)
		return 2;
	/* thousands of files open at once, as weft (and tcpflow) allow */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	long long want = atoll(argv[3]);
	int nf = atoi(argv[4]);
	int fd = open(argv[1], O_RDONLY);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) || nf < 1 || want < 0)
		return 1;
	if (want > sb.st_size)
		want = sb.st_size;
	const unsigned char *p = mmap(0, sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return 1;
	madvise((void *)p, sb.st_size, MADV_SEQUENTIAL);
	int dfd = open(argv[2], O_RDONLY | O_DIRECTORY);
	if (dfd < 0)
		return 1;
	int *fds = calloc(nf, sizeof(*fds));
	EVP_MD_CTX **h = calloc(nf, sizeof(*h));
	long long *at = calloc(nf, sizeof(*at));
	if (!fds || !h || !at)
		return 1;
	for (int i = 0; i < nf; i++) {
		char name[32];
		snprintf(name, sizeof(name), "f%d", i);
		fds[i] = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0640);
		h[i] = EVP_MD_CTX_new();
		if (fds[i] < 0 || !h[i] || !EVP_DigestInit_ex(h[i], EVP_sha256(), NULL)) {
			fprintf(stderr, "files-floor: %s/%s: %s\n", argv[2], name, strerror(errno));
			return 1;
		}
	}
	/* the bytes in pieces, the files in turn: each file gets every nf-th */
	long long off = 0;
	for (int i = 0; off < want; i = (i + 1) % nf) {
		size_t n = want - off < PIECE ? (size_t)(want - off) : PIECE;
		EVP_DigestUpdate(h[i], p + off, n);
		if (pwrite(fds[i], p + off, n, at[i]) != (ssize_t)n) {
			fprintf(stderr, "files-floor: write: %s\n", strerror(errno));
			return 1;
		}
		at[i] += n;
		off += n;
	}
	unsigned char dg[32];
	unsigned int dl;
	unsigned x = 0;
	for (int i = 0; i < nf; i++) {
		EVP_DigestFinal_ex(h[i], dg, &dl);
		x ^= dg[0];
		close(fds[i]);
	}
	printf("%u\n", x);
	return 0;
}
