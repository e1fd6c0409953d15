#!/usr/bin/env bash
# make bench, first half: Conveyor against the boto3 peer (Benchmarks/baseline/) on local stand-ins
# (moto's S3, a fresh conveyor-emulator per run), scenarios A (request quota), A2 (token quota)
# and B (overhead). Prints the table and writes Benchmarks/results/DATE.md and DATE.json.
# Usage: Benchmarks/bench.sh [A,A2,B]   (or BENCH_SCENARIOS=A,A2); BENCH_REPEAT=N interleaved runs each (3)
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT=${SWIFT:-swift}
PYTHON=${PYTHON:-python3}
scenarios=${1:-${BENCH_SCENARIOS:-A,A2,B}}
repeat=${BENCH_REPEAT:-3}
echo "== building conveyor and conveyor-emulator (release)"
$SWIFT build -c release --product conveyor >/dev/null
$SWIFT build -c release --product conveyor-emulator >/dev/null
bin=$($SWIFT build -c release --show-bin-path)
export AWS_EC2_METADATA_DISABLED=true
exec $PYTHON -u Benchmarks/baseline/compare.py --bin "$bin" --scenarios "$scenarios" --repeat "$repeat" \
    --command "${BENCH_COMMAND:-BENCH_REPEAT=$repeat Benchmarks/bench.sh $scenarios}"
