# Conveyor's entry points. CI runs `make test` (see .ci/run).
#
#   make setup   install what is missing: Debian -dev packages, moto[server] and boto3 (scripts/setup.sh)
#   make build   setup + swift build
#   make test    setup + build the tests + start moto and the SigV4 proxy + proxy self-test
#                + swift test; the servers are always stopped again (scripts/test.sh)
#   make selftest  only the SigV4 proxy's self-test (it starts its own servers)
#   make demo    a real job end to end on local stand-ins: moto's S3 and conveyor-emulator (scripts/demo.sh)
#   make bench   the transport benchmark, release build
#   make clean   stop leftover test servers, remove build products and .testenv/
#
# Warnings are errors in both build and test; the flags are the same in both so that one build
# serves both instead of each recompiling the other's. Override with SWIFT_BUILD_FLAGS=.
# Pass arguments to swift test with SWIFT_TEST_FLAGS, e.g. make test SWIFT_TEST_FLAGS='--filter S3'.

SHELL := /bin/bash
SWIFT ?= swift
PYTHON ?= python3
SWIFT_BUILD_FLAGS ?= -Xswiftc -warnings-as-errors
SWIFT_TEST_FLAGS ?=
export SWIFT PYTHON SWIFT_BUILD_FLAGS SWIFT_TEST_FLAGS

.PHONY: setup build test selftest demo bench clean

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

bench: setup
	@if [ -d Benchmarks/transport-bench ]; then \
		$(SWIFT) build -c release --product transport-bench && .build/release/transport-bench; \
	else \
		echo "make bench: no benchmark yet (Benchmarks/transport-bench)"; \
	fi

clean:
	@scripts/test-env.sh stop
	$(SWIFT) package clean
	rm -rf .testenv
