# Conveyor's entry points. CI runs `make test` (see .ci/run).
#
#   make setup   install what is missing: Debian -dev packages, moto[server] and boto3 (scripts/setup.sh)
#   make build   setup + swift build
#   make test    setup + build the tests + start moto and the SigV4 proxy + proxy self-test
#                + swift test; the servers are always stopped again (scripts/test.sh)
#   make selftest  only the SigV4 proxy's self-test (it starts its own servers)
#   make demo    a real job end to end on local stand-ins: moto's S3 and conveyor-emulator (scripts/demo.sh)
#   make bench   Conveyor vs the boto3 peer on moto + conveyor-emulator (Benchmarks/bench.sh, scenarios
#                BENCH_SCENARIOS=A,Anp,A2,A2np,B,C,D, BENCH_REPEAT=3 runs each; writes Benchmarks/results/DATE.md/.json), then the transport
#                benchmark, release build; BENCH_TRANSPORT=0 skips the transport benchmark
#   make fuzz    the libFuzzer harnesses of Fuzz/ (job, template, xml, json, config), each for FUZZ_SECONDS
#                (default 60) one after the other; fails on a crash (scripts/fuzz.sh, docs/fuzzing.md)
#   make sanitize  the whole test suite under the address and the thread sanitizer (SANITIZERS=address
#                or thread for one), in .build/asan and .build/tsan (scripts/sanitize.sh, docs/fuzzing.md)
#   make clean   stop leftover test servers, remove build products and .testenv/
#   make release conveyor and conveyor-emulator, optimised, with the Swift runtime and the C++ runtime
#                linked in: they need only the host's libc (with libgcc_s), libcurl and libcrypto.
#                release-build is the same without setup (the Dockerfile uses it)
#   make install PREFIX=/usr/local DESTDIR=  the release binaries (stripped), the job schema and shell
#                completions: bin/, share/conveyor/, share/{bash-completion,zsh,fish}/...
#   make release-test  the release binary in a Debian 12 chroot without Swift, against moto and the
#                emulator on loopback (scripts/test-release.sh; root; the chroot is cached in /var/tmp)
#
# Warnings are errors in both build and test; the flags are the same in both so that one build
# serves both instead of each recompiling the other's. Override with SWIFT_BUILD_FLAGS=.
# Pass arguments to swift test with SWIFT_TEST_FLAGS, e.g. make test SWIFT_TEST_FLAGS='--filter S3'.

SHELL := /bin/bash
SWIFT ?= swift
PYTHON ?= python3
BENCH_SCENARIOS ?= A,Anp,A2,A2np,B,C,D
BENCH_TRANSPORT ?= 1
BENCH_REPEAT ?= 3
FUZZ_SECONDS ?= 60
SWIFT_BUILD_FLAGS ?= -Xswiftc -warnings-as-errors
SWIFT_TEST_FLAGS ?=
export SWIFT PYTHON SWIFT_BUILD_FLAGS SWIFT_TEST_FLAGS
PREFIX ?= /usr/local
DESTDIR ?=
CLANG ?= clang
# Swift's runtime and Foundation's ICU are C++: the toolchain's static link arguments name -lstdc++,
# which would be the host's libstdc++.so. A linker script called libstdc++.so that names the static
# archive, in a folder searched first, links the C++ runtime in as well.
STATIC_CXX_DIR = $(CURDIR)/.build/static-cxx
# The release link uses the toolchain's lld instead of gold, to start with less memory mapped in:
# packed relative relocations (RELR, -z pack-relative-relocs) instead of 2 MB of RELA entries that
# the loader reads at every start, and the binary's own ~9,700 symbols not exported (nothing looks
# them up; the loader probes their hash table on every symbol it binds). RELR needs glibc 2.36, as the
# gold-linked binary did (it referenced arc4random).
RELEASE_LINK_FLAGS ?= -Xswiftc -use-ld=lld -Xlinker -z -Xlinker pack-relative-relocs -Xlinker --no-export-dynamic
RELEASE_FLAGS ?= -c release --static-swift-stdlib -Xswiftc -L$(STATIC_CXX_DIR) $(RELEASE_LINK_FLAGS) $(SWIFT_BUILD_FLAGS)
RELEASE_PRODUCTS ?= conveyor conveyor-emulator
RELEASE_BIN = .build/release

.PHONY: setup build test selftest demo bench fuzz sanitize clean release release-build install release-test

setup:
	@scripts/setup.sh

build: setup
	$(SWIFT) build $(SWIFT_BUILD_FLAGS)

test: setup
	@scripts/test.sh

selftest: setup
	$(PYTHON) Tests/servers/test_sigv4_proxy.py

demo: setup
	@scripts/demo.sh

# The benchmark measures the binaries make release ships (and builds with the same flags, so that
# the two share one release build instead of each rebuilding the other's).
bench: setup $(STATIC_CXX_DIR)/libstdc++.so
	BENCH_BUILD_FLAGS='$(RELEASE_FLAGS)' BENCH_REPEAT=$(BENCH_REPEAT) BENCH_COMMAND='make bench BENCH_SCENARIOS=$(BENCH_SCENARIOS) BENCH_REPEAT=$(BENCH_REPEAT) BENCH_TRANSPORT=$(BENCH_TRANSPORT)' Benchmarks/bench.sh $(BENCH_SCENARIOS)
	@if [ "$(BENCH_TRANSPORT)" = 0 ]; then \
		echo "make bench: transport benchmark skipped (BENCH_TRANSPORT=0)"; \
	elif [ -d Benchmarks/transport-bench ]; then \
		$(SWIFT) build $(RELEASE_FLAGS) --product transport-bench && .build/release/transport-bench; \
	else \
		echo "make bench: no benchmark yet (Benchmarks/transport-bench)"; \
	fi

fuzz: setup
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

sanitize: setup
	@scripts/sanitize.sh

clean:
	@scripts/test-env.sh stop
	$(SWIFT) package clean
	rm -rf .testenv

release: setup release-build

release-build: $(STATIC_CXX_DIR)/libstdc++.so
	for product in $(RELEASE_PRODUCTS); do $(SWIFT) build $(RELEASE_FLAGS) --product $$product || exit 1; done

$(STATIC_CXX_DIR)/libstdc++.so:
	@archive=$$($(CLANG) -print-file-name=libstdc++.a); \
	if [ ! -f "$$archive" ]; then echo "release: $(CLANG) finds no libstdc++.a (Debian: libstdc++-12-dev)" >&2; exit 1; fi; \
	mkdir -p $(STATIC_CXX_DIR) && echo "INPUT($$archive)" >$@

install: release
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/conveyor \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 0755 -s $(RELEASE_BIN)/conveyor $(RELEASE_BIN)/conveyor-emulator $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 schema/conveyor-job.schema.json $(DESTDIR)$(PREFIX)/share/conveyor/
	$(RELEASE_BIN)/conveyor --generate-completion-script bash >$(DESTDIR)$(PREFIX)/share/bash-completion/completions/conveyor
	$(RELEASE_BIN)/conveyor --generate-completion-script zsh >$(DESTDIR)$(PREFIX)/share/zsh/site-functions/_conveyor
	$(RELEASE_BIN)/conveyor --generate-completion-script fish >$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/conveyor.fish

release-test: release
	@scripts/test-release.sh
