#!/usr/bin/env bash
# MQTT backlog drain: 1,000,000 stored log records (real LogHub lines) drained by the release
# agent into a local mosquitto while it keeps sampling host metrics every second.
# Reports records/s, the agent's peak RSS during the drain (VmRSS every 100 ms), and the
# latency of live metrics during the drain (arrival at a subscriber minus sample time).
# Usage: scripts/bench-mqtt.sh   (BENCH_DIR default ./target/bench-mqtt)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
BASE=$(realpath -m "${BENCH_DIR:-target/bench-mqtt}")
rm -rf "$BASE"; mkdir -p "$BASE"
echo "machine: $(machine), $(mosquitto -h 2>/dev/null | head -1)"

cargo build --locked -q --release
cargo bench --locked -q --bench store --no-run 2>/dev/null
bench=$(ls -t target/release/deps/store-* | grep -v '\.d$' | head -1)
"$bench" filllogs "$BASE/data"

BROKER=$(free_port); METRICS=$(free_port)
printf 'user %s\nlistener %s 127.0.0.1\nallow_anonymous true\n' "$(id -un)" "$BROKER" > "$BASE/mosquitto.conf"
mosquitto -c "$BASE/mosquitto.conf" >/dev/null 2>&1 & MOSQ=$!
cleanup() { kill "$MOSQ" "${SUB:-}" "${AGENT:-}" 2>/dev/null || true; }
trap cleanup EXIT
sleep 0.5
# Live metrics only (the backlog is on .../logs); %U = arrival time with nanoseconds.
stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$BROKER" -t 'outpost/+/metrics' -q 1 -F '%U %p' > "$BASE/live.txt" & SUB=$!
sleep 0.3
cat > "$BASE/outpost.toml" <<EOF
[agent]
id = "bench"
data_dir = "$BASE/data"
[metrics]
listen = "127.0.0.1:$METRICS"
[sample]
interval = "1s"
[mqtt]
url = "mqtt://127.0.0.1:$BROKER"
backfill_rate = "0"
reconnect_min = "100ms"
EOF
start=$(date +%s.%N)
target/release/outpost run --config "$BASE/outpost.toml" 2> "$BASE/outpost.log" & AGENT=$!
peak=0; backlog=""
while :; do
  rss=$(awk '/VmRSS/ {print $2}' /proc/$AGENT/status 2>/dev/null || echo 0)
  [ "${rss:-0}" -gt "$peak" ] && peak=$rss
  backlog=$(curl -s "127.0.0.1:$METRICS/metrics" | awk '$1 == "outpost_store_sink_backlog_records{sink=\"mqtt\"}" {print $2}')
  # Done when the backlog is down to what live sampling keeps in flight.
  if [ -n "$backlog" ] && [ "${backlog%.*}" -le 5 ] && grep -q "backlog of" "$BASE/outpost.log"; then break; fi
  if ! kill -0 $AGENT 2>/dev/null; then echo "agent died"; cat "$BASE/outpost.log"; exit 1; fi
  sleep 0.1
done
end=$(date +%s.%N)
grep "backlog of" "$BASE/outpost.log" | tail -1
python3 - "$start" "$end" "$peak" "$BASE/live.txt" <<'EOF'
import json, sys, statistics
start, end, peak, live = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
secs = end - start
print(f"drain: 1000000 records in {secs:.1f} s (agent start to empty backlog) = {1e6/secs:,.0f} records/s; peak RSS {peak} KiB ({peak/1024:.1f} MiB)")
lat = []
for line in open(live, errors="replace"):
    at, _, payload = line.partition(" ")
    try:
        batch = json.loads(payload)
    except ValueError:
        continue
    for r in batch["records"]:
        if start * 1000 <= r["ts_ms"] <= end * 1000:
            lat.append(float(at) - r["ts_ms"] / 1000)
if lat:
    print(f"live metrics during the drain: {len(lat)} samples, latency median {statistics.median(lat):.2f} s, max {max(lat):.2f} s (sampling interval 1 s)")
else:
    print("live metrics during the drain: none arrived")
EOF
