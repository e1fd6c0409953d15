#!/usr/bin/env bash
# make bench, first half: Conveyor against the boto3 peer (Benchmarks/baseline/) on local stand-ins
# (moto's S3, a fresh conveyor-emulator per run), scenarios A (request quota), A2 (token quota),
# B (overhead), C (breadth), and D (scale, Conveyor alone). Prints the table and writes Benchmarks/results/DATE.md and DATE.json.
# Usage: Benchmarks/bench.sh [A,Anp,A2,A2np,B,C,D]   (or BENCH_SCENARIOS=A,A2); BENCH_REPEAT=N interleaved runs each (3);
# BENCH_BUILD_FLAGS: swift build flags (default -c release; make bench passes make release's)
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
PYTHON=${PYTHON:-python3}
scenarios=${1:-${BENCH_SCENARIOS:-A,Anp,A2,A2np,B,C,D}}
repeat=${BENCH_REPEAT:-3}
# make bench passes make release's flags (static Swift runtime): the binaries measured are the ones shipped
read -r -a flags <<<"${BENCH_BUILD_FLAGS:--c release}"
echo "== building conveyor and conveyor-emulator (${flags[*]})"
$SWIFT build "${flags[@]}" --product conveyor >/dev/null
$SWIFT build "${flags[@]}" --product conveyor-emulator >/dev/null
bin=$($SWIFT build "${flags[@]}" --show-bin-path)
export AWS_EC2_METADATA_DISABLED=true
exec $PYTHON -u Benchmarks/baseline/compare.py --bin "$bin" --scenarios "$scenarios" --repeat "$repeat" \
    --command "${BENCH_COMMAND:-BENCH_REPEAT=$repeat Benchmarks/bench.sh $scenarios}"
