#!/usr/bin/env bash
# What `make sanitize` runs: the whole test suite once under each sanitizer of SANITIZERS
# (default "address thread"), each built in its own scratch path (.build/asan, .build/tsan) so
# that it never disturbs the normal .build/debug. Tests launch their own servers as in `swift test`.
# Logs: .build/<asan|tsan>/test.log. Prints, per sanitizer, swift test's exit status and how many
# sanitizer reports the log holds; exits 1 when a build or a test run failed or a report appeared.
#
# Leak checking: ASan's LeakSanitizer is on (the default on Linux x86_64); the leaks it reports
# that are not ours, each with its reason, are in scripts/lsan-suppressions.txt, passed in
# LSAN_OPTIONS. TSan: scripts/tsan-suppressions.txt, when present, is passed in TSAN_OPTIONS
# the same way.
#
# Environment: SANITIZERS, SWIFT (default swift), SWIFT_BUILD_FLAGS (default -Xswiftc
# -warnings-as-errors), SWIFT_TEST_FLAGS (e.g. --filter X).
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
SWIFT=${SWIFT:-swift}
SANITIZERS=${SANITIZERS:-address thread}
SWIFT_BUILD_FLAGS=${SWIFT_BUILD_FLAGS--Xswiftc -warnings-as-errors}
SWIFT_TEST_FLAGS=${SWIFT_TEST_FLAGS-}
export AWS_EC2_METADATA_DISABLED=true

status=0
for sanitizer in $SANITIZERS; do
    case $sanitizer in
    address) scratch=.build/asan pattern='ERROR: AddressSanitizer|ERROR: LeakSanitizer' ;;
    thread) scratch=.build/tsan pattern='WARNING: ThreadSanitizer' ;;
    *) echo "sanitize: unknown sanitizer '$sanitizer' (address or thread)" >&2; exit 2 ;;
    esac
    mkdir -p "$scratch"
    # shellcheck disable=SC2086 # the flag variables are word lists
    if ! $SWIFT build --build-tests --scratch-path "$scratch" -Xswiftc -sanitize="$sanitizer" $SWIFT_BUILD_FLAGS \
        >"$scratch/build.log" 2>&1; then
        tail -20 "$scratch/build.log" >&2
        echo "sanitize: the $sanitizer build failed; see $scratch/build.log" >&2
        status=1
        continue
    fi
    lsan_options="suppressions=$PWD/scripts/lsan-suppressions.txt${LSAN_OPTIONS:+ $LSAN_OPTIONS}"
    tsan_options=${TSAN_OPTIONS-}
    if [ "$sanitizer" = thread ] && [ -f scripts/tsan-suppressions.txt ]; then
        tsan_options="suppressions=$PWD/scripts/tsan-suppressions.txt${tsan_options:+ $tsan_options}"
    fi
    # shellcheck disable=SC2086
    LSAN_OPTIONS=$lsan_options TSAN_OPTIONS=$tsan_options $SWIFT test --skip-build --scratch-path "$scratch" $SWIFT_TEST_FLAGS \
        >"$scratch/test.log" 2>&1
    rc=$?
    reports=$(grep -cE "$pattern" "$scratch/test.log")
    summary=$(grep -E 'Test run with [0-9]+ tests' "$scratch/test.log" | tail -1)
    echo "sanitize: $sanitizer: swift test exit $rc, $reports sanitizer report(s); $summary"
    if [ "$rc" -ne 0 ] || [ "$reports" -ne 0 ]; then
        grep -m3 -A20 -E "$pattern" "$scratch/test.log" >&2
        status=1
    fi
done
exit $status
