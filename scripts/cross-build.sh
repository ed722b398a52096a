#!/usr/bin/env bash
# Builds release binaries for the gateway targets and smoke-runs each one under
# qemu-user-static: --version, check-config (embedded default, the example and a bad config),
# a short `run` that must serve node_* families on /metrics and stop on SIGTERM, and a stdin
# log source run that must store the parsed, redacted lines and exit 0 at end of input, and the
# signature engine's replay of the spec's example (same fingerprints on every target).
#
# Usage: scripts/cross-build.sh [TRIPLE...]   (default: all four below)
# Binaries land in target/<triple>/release/outpost; sizes are printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(aarch64-unknown-linux-gnu aarch64-unknown-linux-musl armv7-unknown-linux-gnueabihf riscv64gc-unknown-linux-gnu)
fi

qemu_for() {
  case "$1" in
    aarch64-*-gnu) echo "qemu-aarch64-static -L /usr/aarch64-linux-gnu" ;;
    aarch64-*-musl) echo "qemu-aarch64-static" ;;
    armv7-*) echo "qemu-arm-static -L /usr/arm-linux-gnueabihf" ;;
    riscv64gc-*) echo "qemu-riscv64-static -L /usr/riscv64-linux-gnu" ;;
    *) echo "no qemu for $1" >&2; return 1 ;;
  esac
}


fail() { echo "cross-build: $*" >&2; exit 1; }

smoke() {
  local triple=$1 bin=$2 qemu
  qemu=$(qemu_for "$triple")
  local work; work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN

  local v; v=$($qemu "$bin" --version) || fail "$triple: --version failed"
  [[ "$v" == *"$triple"* ]] || fail "$triple: --version says '$v'"
  $qemu "$bin" check-config >/dev/null || fail "$triple: check-config (embedded default) failed"
  $qemu "$bin" check-config --config examples/outpost.toml >/dev/null || fail "$triple: example config rejected"
  printf '[sample]\ninterval = "soon"\n' > "$work/bad.toml"
  set +e; $qemu "$bin" check-config --config "$work/bad.toml" 2>/dev/null; local rc=$?; set -e
  [ "$rc" = 2 ] || fail "$triple: bad config exited $rc, want 2"

  local port; port=$(free_port)
  printf '[agent]\ndata_dir = "%s/data"\n[sample]\ninterval = "1s"\n[metrics]\nlisten = "127.0.0.1:%s"\n' \
    "$work" "$port" > "$work/run.toml"
  $qemu "$bin" run --config "$work/run.toml" 2>"$work/log" &
  local pid=$!
  local body="" i
  for i in $(seq 1 100); do
    body=$(curl -sf "http://127.0.0.1:$port/metrics" || true)
    [ -n "$body" ] && break
    sleep 0.2
  done
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || { cat "$work/log" >&2; fail "$triple: run exited non-zero after SIGTERM"; }
  for fam in node_cpu_seconds_total node_memory_MemTotal_bytes node_filesystem_avail_bytes \
             node_network_receive_bytes_total node_load1 node_uname_info outpost_build_info; do
    grep -q "^$fam" <<<"$body" || { cat "$work/log" >&2; fail "$triple: /metrics lacks $fam"; }
  done
  # The log pipeline: stdin source, parse, redact, store, exit 0 at end of input.
  printf '[agent]\ndata_dir = "%s/data2"\n[metrics]\nenabled = false\n[[logs.source]]\nname = "pipe"\ntype = "stdin"\n' \
    "$work" > "$work/pipe.toml"
  printf 'line one\nERROR line two password=hunter2\n' | $qemu "$bin" run --config "$work/pipe.toml" 2>"$work/pipe.log" \
    || { cat "$work/pipe.log" >&2; fail "$triple: stdin run did not exit 0"; }
  local export; export=$($qemu "$bin" store export --config "$work/pipe.toml" 2>/dev/null)
  grep -q '"message":"line one"' <<<"$export" || fail "$triple: stdin line not stored"
  grep -q '"message":"ERROR line two password=\[REDACTED\]","level":"error"' <<<"$export" \
    || fail "$triple: stored event not parsed/redacted: $export"
  # The signature engine: the spec's example through `signatures replay` (YAML catalog,
  # RegexSet, the look-around slow path, fingerprints) must decide the same on every target.
  local decisions
  decisions=$(printf '%s\n' \
    '{"ts":"2026-12-01T10:00:00Z","level":"error","message":"socket hang up"}' \
    '{"ts":"2026-12-01T10:01:00Z","level":"error","message":"socket hang up"}' \
    '{"ts":"2026-12-01T10:02:00Z","level":"error","message":"socket hang up"}' \
    '{"ts":"2026-12-01T10:03:00Z","level":"error","message":"Exited with code 137"}' \
    | $qemu "$bin" signatures replay --signatures examples/signatures/error_signatures.yml \
        --grouping examples/signatures/alerts.yml --emit events 2>/dev/null) \
    || fail "$triple: signatures replay failed"
  [[ "$decisions" == *'"fingerprint":"2e73008da8f5"'*'"signature":"EXIT_NONZERO"'* ]] \
    || fail "$triple: signatures replay gave: $decisions"
  echo "cross-build: $triple: smoke ok ($v)"
}

for t in "${TARGETS[@]}"; do
  echo "cross-build: building $t"
  cargo build --release --locked --target "$t"
done
for t in "${TARGETS[@]}"; do
  smoke "$t" "target/$t/release/outpost"
done
echo
echo "stripped release binaries:"
for t in "${TARGETS[@]}"; do
  printf '  %-34s %9d bytes\n' "$t" "$(stat -c %s "target/$t/release/outpost")"
done
