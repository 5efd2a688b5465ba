# goheap — see README.md.  `make demo` and `make test` install what is
# missing (Debian packages, as root), build, and run.

CC      ?= gcc
PY      := /usr/bin/python3.11
BUILD   := build
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
CFLAGS  ?= -O2 -g -flto=auto
CFLAGS  += -std=gnu11 $(WARN) -fPIC -D_GNU_SOURCE -pthread
LIBS    := -ldw -lelf -lbfd-multiarch -pthread

# Debian packages goheap needs to build, test and demo.
DEB_PKGS := gcc make gdb gdb-multiarch python3.11-dev libdw-dev libelf-dev binutils-multiarch-dev \
            libcapstone-dev qemu-user zlib1g-dev libzstd-dev zstd python3-pytest python3-pytest-xdist

CORE_SRCS := $(wildcard ext/util/*.c ext/target/*.c ext/binary/*.c ext/runtime/*.c ext/heap/*.c ext/gostructs/*.c ext/graph/*.c \
                        ext/output/*.c ext/commands/*.c)
HDRS      := $(wildcard ext/*/*.h ext/*/*.def)

.PHONY: all deps build demo test test-unit test-asan test-tsan clean corpus bench bench-deps

all: build

deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root to install:" $$missing >&2; exit 1; fi; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

build: $(BUILD)/goheap $(BUILD)/_goheap.so $(BUILD)/goheap.py $(BUILD)/goheap_printers.py

$(BUILD)/%.o: ext/%.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/asan/%.o: ext/%.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC      $< (ASan+UBSan)"
	@$(CC) $(CFLAGS) $(ASAN) -c $< -o $@

$(BUILD)/tsan/%.o: ext/%.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC      $< (TSan)"
	@$(CC) $(CFLAGS) $(TSAN) -c $< -o $@

CORE_OBJS := $(CORE_SRCS:ext/%.c=$(BUILD)/%.o)

$(BUILD)/goheap: $(CORE_OBJS) $(BUILD)/frontend/cli.o
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -o $@ $^ $(LIBS)

PY_INC := $(shell $(PY)-config --includes 2>/dev/null)
PY_EXT := $(shell $(PY)-config --extension-suffix 2>/dev/null)

$(BUILD)/frontend/gdbmod.o: ext/frontend/gdbmod.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC      $< (Python $(PY))"
	@$(CC) $(CFLAGS) $(PY_INC) -c $< -o $@

$(BUILD)/_goheap.so: $(CORE_OBJS) $(BUILD)/frontend/gdbmod.o
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -shared -o $@ $^ $(LIBS)

$(BUILD)/%.py: ext/frontend/%.py
	cp $< $@

# ASan+UBSan build of the CLI, used by test-asan.  Locals left uninitialized
# read as a fixed pattern there, not as whatever the stack held: a field a
# code path forgets to set then changes the answer in every run, where the
# tests see it.
ASAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -ftrivial-auto-var-init=pattern
ASAN_OBJS := $(CORE_SRCS:ext/%.c=$(BUILD)/asan/%.o)
$(BUILD)/asan/goheap: $(ASAN_OBJS) $(BUILD)/asan/frontend/cli.o
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) $(ASAN) -o $@ $^ $(LIBS)

# ThreadSanitizer build of the CLI, used by test-tsan.
TSAN := -fsanitize=thread -fno-omit-frame-pointer
TSAN_OBJS := $(CORE_SRCS:ext/%.c=$(BUILD)/tsan/%.o)
$(BUILD)/tsan/goheap: $(TSAN_OBJS) $(BUILD)/tsan/frontend/cli.o
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) $(TSAN) -o $@ $^ $(LIBS)

demo: deps build
	@scripts/demo

# The fixture cores, decompressed once before the tests run (in parallel, on every core).
corpus: deps
	@$(PY) -c 'import sys; sys.path.insert(0, "tests"); import corpus; [corpus.materialize(c) for c in corpus.cases()]'

JOBS ?= $(shell nproc)

test-unit: deps build corpus
	$(PY) -m pytest -q -n $(JOBS) tests

test-asan: deps build $(BUILD)/asan/goheap corpus
	GOHEAP=$(BUILD)/asan/goheap GOHEAP_SKIP_GDB=1 ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		$(PY) -m pytest -q -n $(JOBS) tests

# The threaded passes (heap enumeration, typing's applier, graph, the reversed edges' gathering and
# layout, typing beside the dominators, the search's edges fed to another thread) under ThreadSanitizer,
# one thread against two on every fixture, and util/rows' check: a data race fails the run.
test-tsan: deps build $(BUILD)/tsan/goheap corpus
	GOHEAP=$(BUILD)/tsan/goheap GOHEAP_SKIP_GDB=1 TSAN_OPTIONS=halt_on_error=1 \
		$(PY) -m pytest -q -n $(JOBS) tests/test_util.py tests/test_heap.py -k 'threads_change_nothing or rows_match'

test: test-unit test-asan test-tsan

clean:
	rm -rf $(BUILD)

# Benchmark (docs/performance.md): times goheap on the core of a ≈1 GiB, ≈10 M-object Go heap
# against a sequential read of the same core, then on the core of its -heap shapes (heap shapes
# that were once slow out of proportion). Not part of `make test`; takes about two minutes and up to
# 3.3 GB of disk under build/bench/.
bench-deps: deps
	@scripts/bench/apt-go
	@$(MAKE) --no-print-directory deps DEB_PKGS=time

bench: deps build bench-deps
	$(PY) scripts/bench/run
	$(PY) scripts/bench/run --program shapes
