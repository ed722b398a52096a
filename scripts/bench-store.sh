#!/usr/bin/env bash
# Store benchmarks (benches/store.rs), each phase in its own process, for redb and — with
# the store-sled feature — sled, side by side. Needs ~2.5 GB free under BENCH_DIR (default
# ./target/bench-store, on the disk the store would use).
# Usage: scripts/bench-store.sh [redb|sled|both]   (default both)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
WHICH=${1:-both}
BASE=${BENCH_DIR:-target/bench-store}
echo "machine: $(machine), $(df -h "$(dirname "$BASE")" | awk 'NR==2 {print $1, $2}')"
run() { # backend
  local b=$1 feat=()
  [ "$b" = sled ] && feat=(--features store-sled)
  cargo bench --locked -q "${feat[@]}" --bench store --no-run 2>/dev/null
  local bin; bin=$(ls -t target/release/deps/store-* | grep -v '\.d$' | head -1)
  local d="$BASE/$b"
  for phase in append200 append2k fill1m drain fill1g hold snapshot; do
    case $phase in append200|append2k|fill1m|fill1g|snapshot) rm -rf "$d/$phase" ;; esac
    local dir="$d/$phase"
    [ "$phase" = drain ] && dir="$d/fill1m"
    [ "$phase" = hold ] && dir="$d/fill1g"
    sync
    OUTPOST_BENCH_BACKEND=$b "$bin" "$phase" "$dir"
  done
  rm -rf "$d"
}
case $WHICH in
  redb) run redb ;;
  sled) run sled ;;
  both) run redb; run sled ;;
esac
