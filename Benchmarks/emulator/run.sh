#!/usr/bin/env bash
# The emulator's throughput with no latency, measured by an independent load generator (wrk):
# the emulator must never be the bottleneck of a test or benchmark (target: 5,000 calls/s).
# Usage: Benchmarks/emulator/run.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-10}
connections=${2:-64}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
swift build -c release --product conveyor-emulator >/dev/null
out=$(mktemp)
.build/release/conveyor-emulator --port 0 >"$out" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -f "$out"' EXIT
for _ in $(seq 100); do grep -q "listening on" "$out" && break; sleep 0.05; done
addr=$(sed -n 's/^listening on //p' "$out")
echo "emulator at $addr; wrk -t2 -c$connections -d${seconds}s"
wrk -t2 -c"$connections" -d"${seconds}s" --latency -s Benchmarks/emulator/converse.lua "http://$addr"
echo "emulator stats: $(curl -s "http://$addr/__stats")"
