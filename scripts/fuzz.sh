#!/usr/bin/env bash
# Fuzzes the exposition parser (fuzz/fuzz_targets/exposition.rs) with cargo fuzz on the nightly
# toolchain for SECONDS (default 30), starting from fuzz/seeds/exposition. New inputs go to
# target/fuzz-corpus (not committed); a crash leaves its input under fuzz/artifacts/ and fails.
# Needs `rustup toolchain install nightly` and `cargo install cargo-fuzz` (install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
mkdir -p target/fuzz-corpus/exposition
log=target/fuzz-exposition.log
status=0
cargo +nightly fuzz run exposition target/fuzz-corpus/exposition fuzz/seeds/exposition \
  -- -max_total_time="$seconds" -max_len=65536 >"$log" 2>&1 || status=$?
# The progress lines stay in the log; the summary (and any crash report) is shown.
grep -E "^(Done|INFO: Seed|==[0-9]+==|SUMMARY)|panicked|Failing input|artifact" "$log" || true
if [ "$status" != 0 ]; then
  tail -40 "$log"
  echo "fuzz: cargo fuzz failed with status $status (full log: $log)" >&2
fi
exit "$status"
