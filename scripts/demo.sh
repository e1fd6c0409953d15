#!/usr/bin/env bash
# make demo: a real job end to end on local stand-ins. Starts moto's S3 server and
# conveyor-emulator on free loopback ports, seeds examples/tickets into the local S3, runs
# examples/demo.yaml with the progress line, prints the report, runs it again (everything is
# skipped: resume), and stops the servers whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

SWIFT=${SWIFT:-swift}
PYTHON=${PYTHON:-python3}
# shellcheck source=scripts/servers.sh
. scripts/servers.sh

echo "== building conveyor and conveyor-emulator"
$SWIFT build --product conveyor >/dev/null
$SWIFT build --product conveyor-emulator >/dev/null
bin=$($SWIFT build --show-bin-path)

echo "== starting moto (S3) and the Converse emulator on loopback"
$PYTHON -u Tests/servers/moto_server.py --host 127.0.0.1 --port 0 --parent-pid $$ >"$work/moto.out" 2>"$work/moto.err" &
pids+=($!)
"$bin/conveyor-emulator" --port 0 --latency-ms 400 --rpm 300 --burst 1 >"$work/emulator.out" 2>&1 &
pids+=($!)
moto=$(wait_for "$work/moto.out")
emulator=$(wait_for "$work/emulator.out")
echo "   moto at http://$moto, emulator at http://$emulator"

$PYTHON scripts/demo_seed.py --endpoint "http://$moto"

export AWS_ENDPOINT_URL_S3="http://$moto"
export AWS_ENDPOINT_URL_BEDROCK_RUNTIME="http://$emulator"
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN

echo
echo "== conveyor validate examples/demo.yaml"
"$bin/conveyor" validate examples/demo.yaml
echo
echo "== conveyor plan examples/demo.yaml --show 1"
"$bin/conveyor" plan examples/demo.yaml --show 1
echo
echo "== conveyor run examples/demo.yaml"
"$bin/conveyor" run examples/demo.yaml --progress always
echo
report=$($PYTHON scripts/demo_seed.py --endpoint "http://$moto" --latest-report)
echo "== conveyor report $report"
"$bin/conveyor" report "$report"
echo
echo "== conveyor run examples/demo.yaml again: every output exists, so every item is skipped"
"$bin/conveyor" run examples/demo.yaml --progress never
echo
echo "emulator: $(curl -s "http://$emulator/__stats")"
echo "demo finished"
