#!/usr/bin/env bash
# What `make test` runs after setup:
#   1. builds the package and its tests, with warnings as errors (SWIFT_BUILD_FLAGS);
#   2. starts the shared test servers (scripts/test-env.sh start) and loads .testenv/env;
#   3. runs the SigV4 proxy's self-test and the check of examples/deploy/ (Tests/deploy), then
#      `swift test` (extra arguments: SWIFT_TEST_FLAGS);
#   4. always stops the servers, also on failure or interruption.
# Exits with swift test's status when it failed, else 1 if the self-test failed, else 0.
#
# Environment: SWIFT (default swift), PYTHON (default python3), SWIFT_BUILD_FLAGS, SWIFT_TEST_FLAGS.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
SWIFT=${SWIFT:-swift}
PYTHON=${PYTHON:-python3}
SWIFT_BUILD_FLAGS=${SWIFT_BUILD_FLAGS--Xswiftc -warnings-as-errors}
SWIFT_TEST_FLAGS=${SWIFT_TEST_FLAGS-}

# shellcheck disable=SC2086 # the flag variables are word lists
$SWIFT build --build-tests $SWIFT_BUILD_FLAGS || { echo "test: the build failed" >&2; exit 1; }

trap 'scripts/test-env.sh stop' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
scripts/test-env.sh start || exit 1
# shellcheck disable=SC1091
source .testenv/env

"$PYTHON" Tests/servers/test_sigv4_proxy.py
selftest=$?
"$PYTHON" Tests/deploy/test_deploy_examples.py || selftest=1

# shellcheck disable=SC2086
$SWIFT test --skip-build $SWIFT_TEST_FLAGS
swifttest=$?

if [ "$selftest" -ne 0 ]; then
    echo "test: the SigV4 proxy self-test or the examples/deploy check failed" >&2
fi
if [ "$swifttest" -ne 0 ]; then
    echo "test: swift test failed (exit $swifttest)" >&2
    exit "$swifttest"
fi
exit $((selftest != 0))
