#!/usr/bin/env bash
# The loopback servers the tests share: moto (S3, SSM) and the SigV4-checking proxy in front of it.
#
#   scripts/test-env.sh start   start both on free 127.0.0.1 ports, write .testenv/env
#   scripts/test-env.sh stop    stop both
#   scripts/test-env.sh env     print .testenv/env, for: eval "$(scripts/test-env.sh env)"
#
# .testenv/env exports CONVEYOR_TEST_MOTO_URL and CONVEYOR_TEST_SIGPROXY_URL (which the Swift tests
# read instead of starting their own servers), the test credentials the proxy knows
# (CONVEYOR_TEST_ACCESS_KEY / _SECRET_KEY, and a temporary key CONVEYOR_TEST_TOKEN_ACCESS_KEY /
# _TOKEN_SECRET_KEY / CONVEYOR_TEST_SESSION_TOKEN), and an AWS environment that leaves the
# machine's own out: dummy AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, empty AWS_CONFIG_FILE and
# AWS_SHARED_CREDENTIALS_FILE, AWS_EC2_METADATA_DISABLED=true, and no profile, region, endpoint
# or other credential variables. Logs: .testenv/moto.log, .testenv/sigproxy.log.
#
# Environment: PYTHON (default python3).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=$root/.testenv
PYTHON=${PYTHON:-python3}
STARTUP_SECONDS=60

# Test credentials: dummies, known only to the proxy.
ACCESS_KEY=AKIDCONVEYORTEST
SECRET_KEY=conveyor-test-secret
TOKEN_ACCESS_KEY=ASIACONVEYORTEST
TOKEN_SECRET_KEY=conveyor-test-token-secret
SESSION_TOKEN=conveyor-test-session-token

# Variables of the AWS SDKs that must not reach the tests from the machine.
UNSET_AWS=(AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION
    AWS_ROLE_ARN AWS_ROLE_SESSION_NAME AWS_WEB_IDENTITY_TOKEN_FILE
    AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_AUTHORIZATION_TOKEN
    AWS_EC2_METADATA_SERVICE_ENDPOINT AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_ENDPOINT_URL_SSM
    AWS_ENDPOINT_URL_BEDROCK_RUNTIME AWS_ENDPOINT_URL_BEDROCK AWS_ENDPOINT_URL_STS
    AWS_RETRY_MODE AWS_MAX_ATTEMPTS)

die() { echo "test-env: $*" >&2; exit 1; }

# Is the pid in NAME.pid alive and still running the script we started?
running() {
    local name=$1 pid
    [ -f "$dir/$name.pid" ] || return 1
    pid=$(cat "$dir/$name.pid")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "Tests/servers/"
}

stop_one() {
    local name=$1 pid
    if running "$name"; then
        pid=$(cat "$dir/$name.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/$name.pid" "$dir/$name.out"
}

# start_one NAME SCRIPT [ARGS...]: starts the server, waits for its `listening on HOST:PORT` line,
# and prints http://HOST:PORT.
start_one() {
    local name=$1 script=$2 pid line deadline
    shift 2
    "$PYTHON" -u "$root/Tests/servers/$script" --host 127.0.0.1 --port 0 "$@" \
        >"$dir/$name.out" 2>"$dir/$name.log" </dev/null &
    pid=$!
    echo "$pid" >"$dir/$name.pid"
    deadline=$((SECONDS + STARTUP_SECONDS))
    line=
    # The first line is the announcement; wait for it to be complete (newline-terminated).
    while :; do
        if [ -s "$dir/$name.out" ] && [ "$(head -c 4096 "$dir/$name.out" | wc -l)" -ge 1 ]; then
            line=$(head -n 1 "$dir/$name.out")
            break
        fi
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$dir/$name.log" >&2; die "$script exited before it was ready"; }
        [ "$SECONDS" -lt "$deadline" ] || { stop_one "$name"; die "$script did not announce itself in ${STARTUP_SECONDS}s"; }
        sleep 0.05
    done
    case $line in
        "listening on "*) echo "http://${line#listening on }" ;;
        *) stop_one "$name"; die "$script did not start: first line was '$line'" ;;
    esac
}

start() {
    mkdir -p "$dir"
    stop
    : >"$dir/aws-config"
    : >"$dir/aws-credentials"
    local moto proxy
    moto=$(start_one moto moto_server.py)
    proxy=$(start_one sigproxy sigv4_proxy.py --upstream "$moto" \
        --credentials "$ACCESS_KEY:$SECRET_KEY,$TOKEN_ACCESS_KEY:$TOKEN_SECRET_KEY:$SESSION_TOKEN") \
        || { stop; exit 1; }
    {
        echo "# Written by scripts/test-env.sh start; the servers' pids are in *.pid beside this file."
        echo "export CONVEYOR_TEST_MOTO_URL=$moto"
        echo "export CONVEYOR_TEST_SIGPROXY_URL=$proxy"
        echo "export CONVEYOR_TEST_ACCESS_KEY=$ACCESS_KEY"
        echo "export CONVEYOR_TEST_SECRET_KEY=$SECRET_KEY"
        echo "export CONVEYOR_TEST_TOKEN_ACCESS_KEY=$TOKEN_ACCESS_KEY"
        echo "export CONVEYOR_TEST_TOKEN_SECRET_KEY=$TOKEN_SECRET_KEY"
        echo "export CONVEYOR_TEST_SESSION_TOKEN=$SESSION_TOKEN"
        echo "export AWS_ACCESS_KEY_ID=$ACCESS_KEY"
        echo "export AWS_SECRET_ACCESS_KEY=$SECRET_KEY"
        echo "export AWS_CONFIG_FILE=$dir/aws-config"
        echo "export AWS_SHARED_CREDENTIALS_FILE=$dir/aws-credentials"
        echo "export AWS_EC2_METADATA_DISABLED=true"
        echo "unset ${UNSET_AWS[*]}"
    } >"$dir/env"
    echo "test-env: moto at $moto, SigV4 proxy at $proxy (logs in .testenv/)"
}

stop() {
    stop_one sigproxy
    stop_one moto
}

case ${1:-} in
    start) start ;;
    stop) [ -d "$dir" ] && stop; true ;;
    env) [ -f "$dir/env" ] || die "no test environment: run scripts/test-env.sh start"; cat "$dir/env" ;;
    *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
