#!/usr/bin/env bash
# Scrape benchmarks: parse throughput of a 10,000-series exposition (against remote_write
# encoding of the same samples, measured in the same run), then CPU per full scrape of a real
# node_exporter (Debian's, default collectors) against the agent's own host sampling cycle.
# Usage: scripts/bench-scrape.sh [SCRAPES]   (default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
echo "machine: $(machine), $(prometheus-node-exporter --version 2>&1 | head -1)"
cargo bench --locked -q --bench scrape --no-run 2>/dev/null
bench=$(ls -t target/release/deps/scrape-* | grep -v '\.d$' | head -1)
"$bench" parse
PORT=$(free_port)
prometheus-node-exporter --web.listen-address="127.0.0.1:$PORT" 2>/dev/null & NE=$!
trap 'kill $NE 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "127.0.0.1:$PORT/metrics" >/dev/null && break; sleep 0.2; done
"$bench" node "http://127.0.0.1:$PORT/metrics" "${1:-200}"
