#!/usr/bin/env bash
# The runner against an emulator whose quota it does not know: N items, the emulator allowing
# RPM requests a minute with a BURST-second bucket and LATENCY ms per call. Prints the wall time
# against the ideal, (items - burst allowance) / rate + latency, and the throttles.
# Usage: Benchmarks/runner/run.sh [items] [rpm] [burst] [latency_ms] [concurrency]
set -euo pipefail
cd "$(dirname "$0")/../.."
items=${1:-2000}
rpm=${2:-1200}
burst=${3:-2}
latency=${4:-300}
concurrency=${5:-32}
swift build -c release --product conveyor >/dev/null
swift build -c release --product conveyor-emulator >/dev/null
bin=$(swift build -c release --show-bin-path)
work=$(mktemp -d)
trap 'kill $emu 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/in"
for i in $(seq -w 1 "$items"); do echo "ticket $i: the printer is on fire again" >"$work/in/t$i.txt"; done
cat >"$work/job.yaml" <<JOB
version: 1
name: bench-runner
model: {id: anthropic.claude-3-haiku-20240307-v1:0, maxTokens: 64}
prompt: "Summarise: {{input}}"
inputs: {s3: in/}
output: {s3: "out/{{item.name}}.json"}
report: out/report.json
limits: {concurrency: $concurrency, maxAttempts: 50}
JOB
"$bin/conveyor-emulator" --port 0 --rpm "$rpm" --burst "$burst" --latency-ms "$latency" --jitter 0.2 >"$work/emu.out" 2>&1 &
emu=$!
for _ in $(seq 1 100); do grep -q "listening on" "$work/emu.out" && break; sleep 0.05; done
addr=$(sed -n 's/^listening on //p' "$work/emu.out")
start=$(date +%s.%N)
AWS_ENDPOINT_URL_BEDROCK_RUNTIME="http://$addr" AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench \
  AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
  "$bin/conveyor" run "$work/job.yaml" --progress never --log-level warning >"$work/run.out" 2>&1 || { cat "$work/run.out"; exit 1; }
end=$(date +%s.%N)
stats=$(curl -s "http://$addr/__stats")
python3 - "$items" "$rpm" "$burst" "$latency" "$start" "$end" "$stats" "$work/out/report.json" <<'PY'
import json, sys
items, rpm, burst, latency = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
wall = float(sys.argv[6]) - float(sys.argv[5])
stats = json.loads(sys.argv[7]); report = json.load(open(sys.argv[8]))
rate = rpm / 60
allowance = max(1, rate * burst)
ideal = (items - allowance) / rate + latency / 1000
print(f"items {items}, quota {rpm:g} rpm burst {burst:g} s, latency {latency:g} ms")
print(f"wall {wall:.2f} s, ideal {ideal:.2f} s, ratio {wall / ideal:.3f}")
print(f"succeeded {report['counts']['succeeded']}, failed {report['counts']['failed']}, "
      f"throttles {stats['throttled']} ({stats['throttled'] / max(1, stats['calls']):.1%} of {stats['calls']} calls)")
PY
