#!/usr/bin/env bash
# What `make fuzz` runs: builds the libFuzzer harnesses of Fuzz/ (declared in Package.swift only
# when CONVEYOR_FUZZ=1) with ASan and libFuzzer's coverage in .build/fuzz, then runs each for
# FUZZ_SECONDS, one after the other, starting from the committed seeds (Fuzz/corpus/<harness>).
# New inputs go to .build/fuzz/corpus/<harness>, crash/timeout/oom inputs to
# .build/fuzz/artifacts/<harness>/, logs to .build/fuzz/logs/; neither is committed.
# Prints one line per harness (seconds, executions, crashes, corpus size) and appends it to
# .build/fuzz/results.tsv. Exits 1 when a harness found a crash (or did not build), else 0.
#
# Environment: FUZZ_SECONDS (default 60), FUZZ_HARNESSES (default all: job template xml json
# config), FUZZ_JOBS (libFuzzer -jobs, default 1), SWIFT (default swift).
# Reproduce a crash: .build/fuzz/release/fuzz-NAME .build/fuzz/artifacts/NAME/crash-...
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
SWIFT=${SWIFT:-swift}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_HARNESSES=${FUZZ_HARNESSES:-job template xml json config}
SCRATCH=.build/fuzz

# Longest input per harness, in bytes: well above the seeds, small enough to stay fast.
max_len() {
    case $1 in
    job) echo 8192 ;;
    template) echo 1024 ;;
    xml | json) echo 4096 ;;
    config) echo 2048 ;;
    *) echo 4096 ;;
    esac
}

# ld.gold warns "Cannot export local symbol '__asan_...'" for every instrumented object: the
# symbols are ASan's module constructors, local by design, and the warning is harmless. Hide only
# those lines.
filter_link_noise() { grep -v "Cannot export local symbol '__asan" || true; }

# What `-sanitize=fuzzer` means to swiftc, without linking libFuzzer's `main`: SwiftPM links an
# executable with `--defsym main=<module>_main`, which collides with that `main`. So the code is
# compiled with ASan and libFuzzer's coverage (as -sanitize=fuzzer,address does), and linked
# with libclang_rt.fuzzer_no_main; each harness's @main starts libFuzzer (Fuzz/FuzzSupport).
fuzzer_no_main() {
    local swiftc
    swiftc=$(command -v swiftc) || return 1
    swiftc=$(readlink -f "$swiftc")
    compgen -G "$(dirname "$swiftc")/../lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a" | head -1
}

build() {
    local runtime
    runtime=$(fuzzer_no_main)
    [ -n "$runtime" ] || { echo "fuzz: libclang_rt.fuzzer_no_main not found beside swiftc" >&2; return 1; }
    # -enable-testing: the harnesses reach internal parsers through @testable import.
    for h in $FUZZ_HARNESSES; do
        CONVEYOR_FUZZ=1 $SWIFT build -c release --scratch-path "$SCRATCH" --product "fuzz-$h" \
            -Xswiftc -sanitize=address \
            -Xswiftc -sanitize-coverage=edge,indirect-calls,trace-cmp,inline-8bit-counters,pc-table \
            -Xswiftc -parse-as-library -Xswiftc -enable-testing \
            -Xlinker --whole-archive -Xlinker "$runtime" -Xlinker --no-whole-archive -Xlinker -lstdc++ \
            2>&1 | filter_link_noise
        [ "${PIPESTATUS[0]}" -eq 0 ] || { echo "fuzz: building fuzz-$h failed" >&2; return 1; }
    done
}

build || exit 1
mkdir -p "$SCRATCH/logs"
status=0
printf 'harness\tseconds\texecutions\tcrashes\tcorpus\tdate\n'
for h in $FUZZ_HARNESSES; do
    binary="$SCRATCH/release/fuzz-$h"
    corpus="$SCRATCH/corpus/$h"
    artifacts="$SCRATCH/artifacts/$h"
    log="$SCRATCH/logs/$h.log"
    mkdir -p "$corpus" "$artifacts"
    dict=()
    [ -f "Fuzz/dict/$h.dict" ] && dict=(-dict="Fuzz/dict/$h.dict")
    # -timeout: an input taking 10 s is a hang; -rss_limit_mb: 2 GiB is an out-of-memory bug.
    # Leaks are checked (libFuzzer's -detect_leaks); the suppressions are the ones of `make
    # sanitize` (one-time global initialisers, whose tagged pointers LeakSanitizer cannot follow).
    # SWIFT_BACKTRACE: Swift's crash backtracer reads the crashed stack from another thread,
    # which ASan reports as a second, spurious error after the real one.
    SWIFT_BACKTRACE=enable=no \
        LSAN_OPTIONS="suppressions=$PWD/scripts/lsan-suppressions.txt${LSAN_OPTIONS:+ $LSAN_OPTIONS}" "$binary" \
        -max_total_time="$FUZZ_SECONDS" -max_len="$(max_len "$h")" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" \
        "$corpus" "Fuzz/corpus/$h" >"$log" 2>&1
    rc=$?
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    crashes=$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
    size=$(find "$corpus" -type f | wc -l)
    line=$(printf '%s\t%s\t%s\t%s\t%s\t%s' "$h" "$FUZZ_SECONDS" "${executions:-?}" "$crashes" "$size" "$(date -u +%FT%TZ)")
    echo "$line"
    echo "$line" >>"$SCRATCH/results.tsv"
    if [ "$rc" -ne 0 ]; then
        echo "fuzz: fuzz-$h failed (exit $rc); see $log and $artifacts/" >&2
        grep -m1 -A12 -E '^==[0-9]+==ERROR|Fatal error|SUMMARY' "$log" >&2
        status=1
    fi
done
exit $status
