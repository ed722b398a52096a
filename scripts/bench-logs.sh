#!/usr/bin/env bash
# Log shipping benchmarks against syslog-ng (Debian: syslog-ng-core + syslog-ng-mod-http, a file
# source and an http() destination with a reliable disk-buffer), same machine, same run, same
# Logstash-http-input-shaped receiver: the receiver's ceiling, file → receiver throughput and
# peak RSS (median of 3), the kill -9 + outage scenario side by side, and outpost's disk writes
# per hour at 50 lines/s. Usage: scripts/bench-logs.sh [throughput|crash|disk|ceiling ...]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
echo "machine: $(machine), $(syslog-ng --version | head -1)"
cargo build --locked -q --release
cargo bench --locked -q --bench logs --no-run 2>/dev/null
bench=$(ls -t target/release/deps/logs-* | grep -v '\.d$' | head -1)
if [ $# -gt 0 ]; then exec "$bench" "$@"; fi
"$bench" ceiling
"$bench" throughput 1000000 3
"$bench" crash 60
"$bench" disk 120
