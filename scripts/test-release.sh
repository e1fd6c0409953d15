#!/usr/bin/env bash
# make release-test: proves that the release binary runs on a Debian 12 machine without the Swift
# toolchain. Needs root (debootstrap, chroot).
#
#   1. installs the release build (make install DESTDIR=...) into a staging folder;
#   2. checks the binary's direct dependencies (readelf NEEDED): libc (libc, libm, the loader, and
#      libgcc_s, which libc6 depends on), libcurl and libcrypto, nothing else (no libstdc++);
#   3. makes (once; cached) a Debian 12 chroot with only the runtime libraries: debootstrap
#      minbase + libcurl4, libssl3, ca-certificates; checks that no Swift runtime is in it;
#   4. copies the staged conveyor and the example data in and, inside the chroot: ldd (every
#      library found), `conveyor --version`, `conveyor validate`, and a real `conveyor run` of
#      examples/demo.yaml against moto (S3) and conveyor-emulator started outside the chroot on
#      127.0.0.1 (the chroot shares the network namespace), with --metrics-file;
#   5. checks the run's exit code, its report (6 succeeded), the emulator's call count and the
#      metrics file.
# Fails (non-zero) when any step fails. The servers are always stopped.
#
# Environment: CONVEYOR_CHROOT_CACHE (default /var/tmp/conveyor-release-test), DEBIAN_MIRROR
# (default http://deb.debian.org/debian), PYTHON (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

PYTHON=${PYTHON:-python3}
cache=${CONVEYOR_CHROOT_CACHE:-/var/tmp/conveyor-release-test}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=libcurl4,libssl3,ca-certificates
# libm is part of libc; libgcc_s (the unwinder the C++ runtime's exceptions use) is a dependency of
# Debian's libc6 itself (glibc loads it to cancel threads), so it is wherever libc is.
allowed_needed='^(libc\.so\.6|libm\.so\.6|libgcc_s\.so\.1|libcurl\.so\.4|libcrypto\.so\.3|ld-linux-x86-64\.so\.2)$'

fail() { echo "release-test: FAILED: $*" >&2; exit 1; }
step() { echo; echo "== $*"; }

[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap and chroot); run: sudo make release-test"

# shellcheck source=scripts/servers.sh
. scripts/servers.sh

step "staging make install"
make --no-print-directory install DESTDIR="$work/stage" PREFIX=/usr/local >/dev/null
binary=$work/stage/usr/local/bin/conveyor
[ -x "$binary" ] || fail "make install did not install $binary"
for f in usr/local/bin/conveyor-emulator usr/local/share/conveyor/conveyor-job.schema.json \
    usr/local/share/bash-completion/completions/conveyor usr/local/share/zsh/site-functions/_conveyor \
    usr/local/share/fish/vendor_completions.d/conveyor.fish; do
    [ -s "$work/stage/$f" ] || fail "make install did not install /$f"
done
echo "installed: bin/conveyor, bin/conveyor-emulator, the schema and bash, zsh and fish completions"

step "direct dependencies of conveyor (readelf -d NEEDED)"
needed=$(readelf -d "$binary" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
echo "$needed"
unexpected=$(echo "$needed" | grep -Ev "$allowed_needed" || true)
[ -z "$unexpected" ] || fail "conveyor needs libraries beyond libc, libcurl and libcrypto: $unexpected"

step "a Debian 12 chroot with only libcurl4, libssl3 and ca-certificates"
chroot_dir=$cache/bookworm
stamp=$chroot_dir/.conveyor-chroot
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$packages" ]; then
    if ! command -v debootstrap >/dev/null; then
        echo "installing debootstrap"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null \
            || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null; } \
            || fail "cannot install debootstrap"
    fi
    rm -rf "$chroot_dir" "$chroot_dir.partial"
    mkdir -p "$cache"
    echo "debootstrap bookworm into $chroot_dir (cached for the next run)"
    debootstrap --variant=minbase --include="$packages" bookworm "$chroot_dir.partial" "$mirror" \
        >"$cache/debootstrap.log" 2>&1 || { tail -n 20 "$cache/debootstrap.log" >&2; fail "debootstrap failed"; }
    mv "$chroot_dir.partial" "$chroot_dir"
    echo "$packages" >"$stamp"
else
    echo "cached: $chroot_dir"
fi
swift_files=$(find "$chroot_dir" \( -name 'libswift*' -o -name 'swift*' -o -name 'libFoundation*' \) -not -path "$chroot_dir/proc/*" | head -5)
[ -z "$swift_files" ] || fail "the chroot has Swift files: $swift_files"
echo "no Swift runtime or toolchain in the chroot"

# Each run gets its own folder in the chroot, removed at the end.
inside=/conveyor-test-$$
mkdir -p "$chroot_dir$inside/examples"
remove_on_exit+=("$chroot_dir$inside")
cp "$binary" "$chroot_dir$inside/conveyor"
cp examples/demo.yaml "$chroot_dir$inside/examples/"
mkdir -p "$chroot_dir$inside/schema"
cp schema/conveyor-job.schema.json "$chroot_dir$inside/schema/"

# Runs a command in the chroot, in a private mount namespace with its own /proc, and a clean
# environment: explicit dummy credentials, no instance metadata, endpoints on loopback.
in_chroot() {
    unshare --mount --propagation private -- sh -c '
        root=$1; shift
        mount -t proc proc "$root/proc"
        exec chroot "$root" "$@"' sh "$chroot_dir" \
        env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 \
        AWS_ACCESS_KEY_ID=release-test AWS_SECRET_ACCESS_KEY=release-test AWS_REGION=us-east-1 \
        AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null \
        AWS_ENDPOINT_URL_S3="http://$moto" AWS_ENDPOINT_URL_BEDROCK_RUNTIME="http://$emulator" "$@"
}

step "ldd in the chroot"
moto=unset emulator=unset
ldd_out=$(in_chroot ldd "$inside/conveyor") || fail "ldd failed in the chroot"
echo "$ldd_out"
! echo "$ldd_out" | grep -q "not found" || fail "a library conveyor needs is missing in the chroot"

step "starting moto (S3) and conveyor-emulator outside the chroot, on 127.0.0.1"
AWS_EC2_METADATA_DISABLED=true "$PYTHON" -u Tests/servers/moto_server.py --host 127.0.0.1 --port 0 --parent-pid $$ \
    >"$work/moto.out" 2>"$work/moto.err" &
pids+=($!)
"$work/stage/usr/local/bin/conveyor-emulator" --host 127.0.0.1 --port 0 >"$work/emulator.out" 2>&1 &
pids+=($!)
moto=$(wait_for "$work/moto.out") || fail "moto did not start"
emulator=$(wait_for "$work/emulator.out") || fail "conveyor-emulator did not start"
case "$moto $emulator" in 127.0.0.1:*" "127.0.0.1:*) ;; *) fail "a server is not on 127.0.0.1: $moto $emulator" ;; esac
echo "moto at http://$moto, emulator at http://$emulator"
"$PYTHON" scripts/demo_seed.py --endpoint "http://$moto"

step "conveyor --version"
in_chroot "$inside/conveyor" --version || fail "conveyor --version failed in the chroot"

step "conveyor validate examples/demo.yaml"
in_chroot "$inside/conveyor" validate "$inside/examples/demo.yaml" || fail "conveyor validate failed in the chroot"

step "conveyor run examples/demo.yaml"
status=0
in_chroot "$inside/conveyor" run "$inside/examples/demo.yaml" --progress never \
    --metrics-file "$inside/metrics/demo.prom" || status=$?
[ "$status" -eq 0 ] || fail "conveyor run exited $status in the chroot"

step "checking the run"
report=$("$PYTHON" scripts/demo_seed.py --endpoint "http://$moto" --latest-report) || fail "no report was written"
summary=$(in_chroot "$inside/conveyor" report "$report") || fail "conveyor report $report failed"
echo "$summary"
echo "$summary" | grep -q "6 succeeded" || fail "the report does not say 6 succeeded"
calls=$(curl -sf "http://$emulator/__stats" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["calls"])') \
    || fail "cannot read the emulator's stats"
[ "$calls" -eq 6 ] || fail "the emulator answered $calls calls, not 6"
metrics=$chroot_dir$inside/metrics/demo.prom
[ -s "$metrics" ] || fail "no metrics file"
grep -qx 'conveyor_run_items{conveyor_job="demo-ticket-summaries",status="succeeded"} 6' "$metrics" \
    || fail "the metrics file does not count 6 succeeded items: $(cat "$metrics")"
grep -qx 'conveyor_run_exit_code{conveyor_job="demo-ticket-summaries"} 0' "$metrics" || fail "the metrics file has no exit code 0"
echo "report: 6 succeeded; emulator: 6 calls; metrics file: 6 succeeded, exit code 0"

echo
echo "release-test: passed: conveyor runs on a Debian 12 base system plus libcurl4 and libssl3, without Swift"
