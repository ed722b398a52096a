#!/usr/bin/env bash
# Installs what building, testing and cross-building outpost needs on Debian 12 (bookworm):
# Debian packages (servers the integration tests start, cross compilers, qemu-user-static) and
# rustup targets/components. Idempotent: quick when everything is already there.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

PACKAGES=(
  # integration tests: real servers on loopback
  prometheus-node-exporter
  mosquitto
  mosquitto-clients
  # certificates for the mqtts:// test; gzip reads compressed payloads in tests
  openssl
  gzip
  prometheus
  prometheus-pushgateway
  prometheus-alertmanager
  # the journald source's test writes journal files with systemd-journal-remote
  systemd-journal-remote
  # unshare + mount for the full and read-only disk tests
  util-linux
  # systemd-analyze for the unit check
  systemd
  curl
  # cross builds and running them
  gcc-aarch64-linux-gnu
  gcc-arm-linux-gnueabihf
  gcc-riscv64-linux-gnu
  libc6-dev-arm64-cross
  libc6-dev-armhf-cross
  libc6-dev-riscv64-cross
  qemu-user-static
  # benchmarks
  valgrind
  hyperfine
  # log shipping peer (file source, http() destination, disk-buffer) and raw regex speed
  syslog-ng-core
  syslog-ng-mod-http
  ripgrep
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  # Debian starts the servers as services where it can; the tests start their own copies on
  # free ports, so the packaged services are stopped again if they came up.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for svc in prometheus prometheus-node-exporter prometheus-pushgateway prometheus-alertmanager mosquitto syslog-ng systemd-journal-remote; do
  if command -v systemctl >/dev/null && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $SUDO systemctl stop "$svc" || true
  fi
done

TARGETS=(aarch64-unknown-linux-gnu aarch64-unknown-linux-musl armv7-unknown-linux-gnueabihf riscv64gc-unknown-linux-gnu)
installed=$(rustup target list --installed)
for t in "${TARGETS[@]}"; do
  grep -qx "$t" <<<"$installed" || rustup target add "$t"
done
components=$(rustup component list --installed)
for c in rustfmt clippy; do
  grep -q "^$c" <<<"$components" || rustup component add "$c"
done
# The exposition parser's fuzz target (scripts/fuzz.sh): cargo fuzz on the nightly toolchain.
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
echo "install-deps: ok"
