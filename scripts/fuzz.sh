#!/usr/bin/env bash
# Fuzzes one target of fuzz/fuzz_targets/ (exposition: the exposition parser; catalog: the
# signature catalog loader; canon: the canonicalizers) with cargo fuzz on the nightly toolchain
# for SECONDS (default 30), starting from fuzz/seeds/TARGET. New inputs go to
# target/fuzz-corpus (not committed); a crash leaves its input under fuzz/artifacts/ and fails.
# Needs `rustup toolchain install nightly` and `cargo install cargo-fuzz` (install-deps.sh).
# Usage: scripts/fuzz.sh [SECONDS] [TARGET]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
target="${2:-exposition}"
mkdir -p "target/fuzz-corpus/$target"
log="target/fuzz-$target.log"
status=0
cargo +nightly fuzz run "$target" "target/fuzz-corpus/$target" "fuzz/seeds/$target" \
  -- -max_total_time="$seconds" -max_len=65536 >"$log" 2>&1 || status=$?
# The progress lines stay in the log; the summary (and any crash report) is shown.
grep -E "^(Done|INFO: Seed|==[0-9]+==|SUMMARY)|panicked|Failing input|artifact" "$log" || true
if [ "$status" != 0 ]; then
  tail -40 "$log"
  echo "fuzz: cargo fuzz failed with status $status (full log: $log)" >&2
fi
exit "$status"
