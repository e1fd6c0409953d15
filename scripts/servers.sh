# Sourced by scripts/demo.sh and scripts/test-release.sh: a work folder and background servers that
# are always cleaned up. After sourcing: start a server in the background, `pids+=($!)`, and read
# its address with `wait_for FILE` (its "listening on HOST:PORT" line). Paths added to
# `remove_on_exit` are removed too.
work=$(mktemp -d)
pids=()
remove_on_exit=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work" "${remove_on_exit[@]}"
}
trap cleanup EXIT

wait_for() {  # file → the address from its "listening on HOST:PORT" line, waiting up to 60 s
    for _ in $(seq 1 600); do
        if grep -q "^listening on " "$1" 2>/dev/null; then sed -n 's/^listening on //p' "$1" | head -1; return 0; fi
        sleep 0.1
    done
    echo "a server did not start; its output:" >&2; cat "$1" >&2; return 1
}
