# weft: one entry point. make | make test | make bench | make fuzz | make clean
CC       ?= gcc
CLANG    ?= clang
O        ?= build
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers
ALL_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) -Iinclude -Iuser -I$(O) -D_GNU_SOURCE
LDLIBS   := -lpcap -lcrypto -lpthread -lxdp -lbpf -lelf -lz
BPF_LIBS := -lbpf -lelf -lz
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -I$(O) -Iinclude -Ibpf -Wall -Werror

LIB_SRC  := $(wildcard user/*.c)
CLI_SRC  := $(wildcard tools/weft/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(O)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(O)/%.o)
HDRS     := $(wildcard include/weft/*.h user/*.h tools/weft/*.h)

# Debian packages the build and the tests need (installed by `make deps`)
DEPS_PKGS := build-essential clang llvm libpcap-dev libssl-dev libbpf-dev libxdp-dev \
	libelf-dev zlib1g-dev bpftool iproute2 curl iperf3 libcmocka-dev tcpflow tshark \
	libnids-dev python3 python3-scapy pkg-config tcpreplay time ethtool tcpdump util-linux procps strace \
	libclang-rt-14-dev libcap2-bin

.PHONY: all clean test deps bench demo demo-read
all: $(O)/weft $(O)/weft-gen $(O)/test_engine $(O)/test_gapset $(O)/test_seglist $(O)/test_stream $(O)/test_hasher $(O)/http-requests $(O)/test_xdp

# the live source includes the generated skeleton
$(patsubst %.c,$(O)/%.o,$(wildcard user/live*.c)): $(O)/weft.skel.h $(O)/sweep.skel.h

$(O)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(O)/libweft.a: $(LIB_OBJ)
	ar rcs $@ $^

$(O)/weft: $(CLI_OBJ) $(O)/libweft.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(O)/libweft.a $(LDLIBS)

$(O)/weft-gen: tools/gen/weft-gen.c user/sha256.c
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) -o $@ $^ -lcrypto

$(O)/test_gapset: tests/unit/test_gapset.c $(O)/libweft.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(O)/libweft.a -lcmocka

$(O)/test_engine: tests/unit/test_engine.c $(O)/libweft.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(O)/libweft.a $(LDLIBS) -lcmocka

# the stream layer's segment list on its own
$(O)/test_seglist: tests/unit/test_seglist.c $(O)/libweft.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(O)/libweft.a -lcmocka

# the stream layer on its own: results, no engine, no connection
$(O)/test_stream: tests/unit/test_stream.c $(O)/libweft.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(O)/libweft.a -lcmocka

# the worker stages alone, with a caller slow to wake (tests/unit/slow_wait.h)
$(O)/test_hasher: tests/unit/test_hasher.c user/hasher.c user/sha256.c tests/unit/slow_wait.h
	@mkdir -p $(O)
	$(CC) $(ALL_CFLAGS) -include tests/unit/slow_wait.h -o $@ $< user/hasher.c user/sha256.c \
		-lcrypto -lpthread

# BPF: vmlinux.h from the running kernel's BTF, the object, its skeleton
$(O)/vmlinux.h:
	@mkdir -p $(O)
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > $@

# two objects: the classifier, and the optional kernel sweepers (iterators,
# which some kernels refuse; weft sweeps from user space then)
$(O)/%.bpf.o: bpf/%.bpf.c bpf/parse.h bpf/tables.h include/weft/abi.h include/weft/flowhash.h $(O)/vmlinux.h
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(O)/weft.skel.h: $(O)/weft.bpf.o
	bpftool gen skeleton $< name weft_bpf > $@

$(O)/sweep.skel.h: $(O)/sweep.bpf.o
	bpftool gen skeleton $< name weft_sweep_bpf > $@

# BPF unit tests: BPF_PROG_TEST_RUN on crafted frames (needs root to run)
$(O)/test_xdp: tests/bpf/test_xdp.c $(O)/weft.skel.h $(O)/sweep.skel.h include/weft/abi.h
	$(CC) $(ALL_CFLAGS) -I$(O) -o $@ $< $(BPF_LIBS) -lcmocka

# The README's library example, built so it cannot rot
$(O)/http-requests: tools/examples/http-requests.c $(O)/libweft.a
	$(CC) $(ALL_CFLAGS) -o $@ $< $(O)/libweft.a $(LDLIBS)

# The fuzz target: decode + defrag + engine + file sink behind libFuzzer.
$(O)/fuzz_engine: tests/fuzz/fuzz_engine.c $(LIB_SRC) $(HDRS)
	@mkdir -p $(O)
	$(CLANG) -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined -Iinclude -Iuser -D_GNU_SOURCE \
		-o $@ tests/fuzz/fuzz_engine.c $(filter-out user/live%.c,$(LIB_SRC)) $(LDLIBS)

deps:
	@tools/install-deps.sh $(DEPS_PKGS)

# Every test: unit, generator truth, corpus against ground truth and peers,
# the same under ASan/UBSan, and a bounded fuzz run.
test: deps
	@tests/run-all.sh

# weft's main job: a live mirror port in namespaces of its own (root)
demo: deps all
	@tools/demo.sh

# the offline counterpart: a real capture with real capture loss
DEMO_PCAP ?= ../shared/corpus/pcapplusplus/examples/http-packets.pcap
demo-read: deps all
	@rm -rf out/demo-read
	$(O)/weft read $(DEMO_PCAP) -o out/demo-read
	@head -3 out/demo-read/flows.jsonl | cut -c1-400
	@$(O)/http-requests $(DEMO_PCAP) | head -5

bench: deps all
	@tests/bench/bench-read.sh
	@if [ "$$(id -u)" = 0 ]; then tests/bench/bench-live.sh && \
	  HOG=-15 MONS="none tcpdump weft-c" tests/bench/bench-live.sh && \
	  tests/bench/bench-host.sh && tests/bench/bench-scale.sh; \
	 else echo "bench-live, bench-host, bench-scale: skipped, not root"; fi

clean:
	rm -rf $(O) build-asan build-tsan
