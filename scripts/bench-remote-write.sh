#!/usr/bin/env bash
# remote_write benchmarks: encoding throughput (samples/s, bytes per sample, against MQTT JSON
# as the reference in the same run), then a backlog of 24 h of default host metrics drained by
# the release agent into a real Prometheus 2.42 (remote-write receiver, out-of-order window
# 2 d): time from agent start to an empty remote_write backlog, the agent's peak RSS during it
# (VmRSS every 100 ms), and the samples Prometheus holds afterwards.
# Usage: scripts/bench-remote-write.sh   (BENCH_DIR default ./target/bench-remote-write)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
BASE=$(realpath -m "${BENCH_DIR:-target/bench-remote-write}")
rm -rf "$BASE"; mkdir -p "$BASE"
echo "machine: $(machine), $(prometheus --version 2>&1 | head -1)"

cargo build --locked -q --release
cargo bench --locked -q --bench remote_write --no-run 2>/dev/null
bench=$(ls -t target/release/deps/remote_write-* | grep -v '\.d$' | head -1)
"$bench" encode
"$bench" fill24h "$BASE/data"

PROM=$(free_port); METRICS=$(free_port)
printf 'storage:\n  tsdb:\n    out_of_order_time_window: 2d\n' > "$BASE/prometheus.yml"
prometheus --config.file="$BASE/prometheus.yml" --storage.tsdb.path="$BASE/prom" \
  --web.listen-address="127.0.0.1:$PROM" --web.enable-remote-write-receiver > "$BASE/prometheus.log" 2>&1 & PROMPID=$!
cleanup() { kill "$PROMPID" "${AGENT:-}" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 100); do curl -sf "127.0.0.1:$PROM/-/ready" >/dev/null && break; sleep 0.2; done
cat > "$BASE/outpost.toml" <<EOF
[agent]
id = "bench"
data_dir = "$BASE/data"
[metrics]
listen = "127.0.0.1:$METRICS"
[remote_write]
url = "http://127.0.0.1:$PROM/api/v1/write"
backfill_rate = "0"
EOF
start=$(date +%s.%N)
target/release/outpost run --config "$BASE/outpost.toml" 2> "$BASE/outpost.log" & AGENT=$!
peak=0
while :; do
  rss=$(awk '/VmRSS/ {print $2}' /proc/$AGENT/status 2>/dev/null || echo 0)
  [ "${rss:-0}" -gt "$peak" ] && peak=$rss
  if grep -q "backlog drained" "$BASE/outpost.log"; then break; fi
  if ! kill -0 $AGENT 2>/dev/null; then echo "agent died"; cat "$BASE/outpost.log"; exit 1; fi
  sleep 0.1
done
end=$(date +%s.%N)
grep "backlog drained" "$BASE/outpost.log"
held=$(curl -s "127.0.0.1:$PROM/api/v1/query" --data-urlencode 'query=count_over_time(node_boot_time_seconds{instance="bench"}[25h])' \
  | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')
rejected=$(curl -s "127.0.0.1:$METRICS/metrics" | awk '/^outpost_remote_write_rejected_samples_total/ {s+=$2} END {print s+0}')
python3 - "$start" "$end" "$peak" "$held" "$rejected" <<'EOF'
import sys
start, end, peak, held, rejected = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
print(f"drain of 24 h (8640 snapshots): {end-start:.1f} s from agent start to 'backlog drained'; peak RSS {peak} KiB ({peak/1024:.1f} MiB)")
print(f"Prometheus holds {held} samples of node_boot_time_seconds over the last 25 h (8640 stored + live); rejected samples: {rejected}")
EOF
