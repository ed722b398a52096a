#!/usr/bin/env bash
# The signature engine's benchmarks (benches/engine.rs): classification of the LogHub corpus
# (>= 1,000,000 lines) with the 50-signature example catalog against ripgrep (Debian
# `ripgrep`) on the same file in the same run, end to end (classify + canonicalize +
# fingerprint + window), and peak RSS with 100,000 distinct fingerprints offered.
# Usage: scripts/bench-engine.sh [classify|ripgrep|e2e|rss ...]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
echo "machine: $(machine), $(rg --version | head -1)"
cargo bench --locked -q --bench engine --no-run 2>/dev/null
bench=$(ls -t target/release/deps/engine-* | grep -v '\.d$' | head -1)
exec "$bench" "$@"
