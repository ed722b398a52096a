#!/usr/bin/env bash
# The crash tests of tests/store_crash.rs with many more kill -9 cycles than the test suite
# runs (30 while appending, 25 while draining). Prints each test's seed and counts.
# Usage: scripts/crash-soak.sh [CYCLES]   (default 300 per test)
set -euo pipefail
cd "$(dirname "$0")/.."
OUTPOST_CRASH_CYCLES=${1:-300} cargo test --locked --test store_crash -- --nocapture --test-threads 1 2>&1 \
  | grep -E 'seed|kill|test result|panicked|FAILED'
