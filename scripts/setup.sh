#!/usr/bin/env bash
# Installs what building and testing Conveyor needs and this machine lacks:
#   Debian packages  libcurl4-openssl-dev libssl-dev libyaml-dev pkg-config  (headers for CCurl, CCrypto, YAML)
#   Python packages  moto[server] and boto3                                    (the test servers and their self-test)
#                    prometheus-client                                         (an independent parser of the metrics files)
# As root it installs them (apt-get update once, then apt-get install -y; pip install); otherwise it
# stops and prints the command to run. Does nothing, quickly, when everything is there.
#
# Environment: PYTHON (default python3).
set -euo pipefail

PYTHON=${PYTHON:-python3}
APT_PACKAGES=(libcurl4-openssl-dev libssl-dev libyaml-dev pkg-config)
# The versions shared/reference/aws-protocols.md was checked against.
PIP_PACKAGES=("moto[server]==5.2.1" "boto3==1.43.11" "PyYAML" "prometheus-client==0.26.0")
PKG_CONFIG_MODULES=(libcurl libcrypto yaml-0.1)

is_root() { [ "$(id -u)" -eq 0 ]; }

missing=()
for package in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$package")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    if is_root; then
        echo "setup: installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q --no-install-recommends "${missing[@]}"
    else
        echo "setup: missing Debian packages: ${missing[*]}" >&2
        echo "setup: run: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi
if ! pkg-config --exists "${PKG_CONFIG_MODULES[@]}"; then
    echo "setup: pkg-config does not find all of: ${PKG_CONFIG_MODULES[*]}" >&2
    for module in "${PKG_CONFIG_MODULES[@]}"; do
        pkg-config --exists "$module" || echo "setup:   missing: $module" >&2
    done
    exit 1
fi

if ! "$PYTHON" -c 'import moto.server, boto3, yaml, prometheus_client' 2>/dev/null; then
    if is_root; then
        echo "setup: installing Python packages: ${PIP_PACKAGES[*]}"
        pip=("$PYTHON" -m pip install --quiet --disable-pip-version-check)
        # A Debian-managed Python refuses plain pip installs (PEP 668); it is a test tool, so allow it.
        "${pip[@]}" "${PIP_PACKAGES[@]}" || "${pip[@]}" --break-system-packages "${PIP_PACKAGES[@]}"
        "$PYTHON" -c 'import moto.server, boto3, yaml, prometheus_client'
    else
        echo "setup: $PYTHON cannot import moto.server, boto3, yaml and prometheus_client" >&2
        echo "setup: run: $PYTHON -m pip install $(printf "'%s' " "${PIP_PACKAGES[@]}")" >&2
        exit 1
    fi
fi
