#!/usr/bin/env bash
# Install what building, testing and the demo need, from Debian's archive.
# Idempotent; needs root (or sudo). Debian bookworm is the reference system.
set -euo pipefail
pkgs=(
  build-essential pkg-config meson ninja-build clang clang-format git
  librdkafka-dev libpq-dev libavro-dev libjansson-dev libxxhash-dev
  libmicrohttpd-dev libcurl4-openssl-dev
  postgresql postgresql-contrib
  kcat postgresql-comparator prometheus prometheus-alertmanager prometheus-node-exporter systemd curl time
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # --no-install-recommends keeps CI lean; policy-rc.d stops the packaged
  # PostgreSQL/Prometheus services from starting (tests start their own).
  if [ ! -e /usr/sbin/policy-rc.d ] && [ "$(id -u)" -eq 0 ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
