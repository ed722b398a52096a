#!/usr/bin/env bash
# Alert storm: 10,000 error lines per second of 1,000 distinct errors (one signature, an
# immediate category, so every group wants to fire at once) for SECONDS seconds (default 60),
# appended to a file the agent tails. Sinks: Debian's prometheus-alertmanager (whose own
# webhook notifications, with its default grouping, are counted too), a Slack-like receiver
# and an exec command. Reports the engine's decisions against its budget, the agent's peak
# RSS against its idle RSS in the same run, and the messages each sink got.
# Usage: scripts/bench-alerts.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
secs=${1:-60}
echo "machine: $(machine)"
cargo build --release --locked -q
bin=target/release/outpost
work=$(mktemp -d /tmp/outpost-bench-alerts.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

am_port=$(free_port); hook_port=$(free_port); slack_port=$(free_port); port=$(free_port)

# A receiver counting requests (Slack's webhook and Alertmanager's own webhook).
cat > "$work/recv.py" <<'EOF'
import http.server, sys, threading
count = {"n": 0}
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        count["n"] += 1
        with open(sys.argv[2], "w") as f:
            f.write(str(count["n"]))
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
python3 "$work/recv.py" "$hook_port" "$work/am-notifications" & pids+=($!)
python3 "$work/recv.py" "$slack_port" "$work/slack-messages" & pids+=($!)

# Alertmanager with its defaults (group_wait 30s, group_interval 5m, repeat_interval 4h),
# grouped by alertname as its example configuration does.
mkdir -p "$work/am"
cat > "$work/am/am.yml" <<EOF
route:
  receiver: hook
  group_by: ['alertname']
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:$hook_port/
        send_resolved: true
EOF
prometheus-alertmanager --config.file="$work/am/am.yml" --storage.path="$work/am" \
  --web.listen-address=127.0.0.1:$am_port --cluster.listen-address= >"$work/am/log" 2>&1 & pids+=($!)

cat > "$work/catalog.yml" <<'EOF'
categories:
  device:
    default_policy: notify
    signatures:
      - id: UNIT_FAULT
        pattern: "failed: sensor timeout"
        severity: high
        summary: "A unit's sensor timed out"
EOF
printf 'window_minutes: 5\nmin_count_default: 3\ncooldown_minutes: 10\nimmediate_categories: ["device"]\n' > "$work/alerts.yml"
echo "http://127.0.0.1:$slack_port/services/T/B/C" > "$work/slack-hook"
: > "$work/app.log"
cat > "$work/outpost.toml" <<EOF
[agent]
id = "storm"
data_dir = "$work/data"
[metrics]
listen = "127.0.0.1:$port"
[[logs.source]]
name = "app"
type = "file"
paths = ["$work/app.log"]
[signatures]
catalog_file = "$work/catalog.yml"
grouping_file = "$work/alerts.yml"
[alerts.alertmanager]
urls = ["http://127.0.0.1:$am_port"]
[alerts.slack]
webhook_url_file = "$work/slack-hook"
[alerts.exec]
command = ["/bin/true"]
EOF
"$bin" run --config "$work/outpost.toml" 2>"$work/outpost.log" & agent=$!; pids+=($agent)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/metrics" >/dev/null && break; sleep 0.1; done
sleep 2
idle=$(awk '/VmRSS/ {print $2}' /proc/$agent/status)

# The storm: 1,000 units (capitalised pseudo-words, so neither masks nor learning merge
# them), 10,000 lines per second in 100 writes of 100 lines.
python3 - "$work/app.log" "$secs" <<'EOF'
import sys, time, random, string
path, secs = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
units = ["".join(rnd.choice(string.ascii_lowercase) for _ in range(6)).capitalize() for _ in range(1000)]
start = time.time()
with open(path, "a") as f:
    for tick in range(secs * 100):
        lines = []
        for j in range(100):
            u = units[(tick * 100 + j) % 1000]
            lines.append(f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())}Z ERROR Unit {u} failed: sensor timeout after 3000 ms\n")
        f.writelines(lines); f.flush()
        wait = start + (tick + 1) / 100 - time.time()
        if wait > 0:
            time.sleep(wait)
print(f"wrote {secs * 10000} lines in {time.time() - start:.1f} s")
EOF
sleep 40   # the tail: Alertmanager's group_wait, the last deferred decisions
m=$(curl -s "http://127.0.0.1:$port/metrics")
peak=$(awk '/VmHWM/ {print $2}' /proc/$agent/status)
val() { echo "$m" | awk -v s="$1" '$1 == s {print $2; f=1} END {if (!f) print 0}'; }
echo "engine: $(val 'outpost_engine_decisions_total{kind="firing"}') firing decisions (budget 60/min: $(( secs / 60 + 1 )) min × 60 + the initial 60), $(val 'outpost_engine_decisions_deferred_total') deferrals (a deferred decision counts at each tick it waits), $(val 'outpost_engine_fingerprints') fingerprints"
echo "rss: idle $idle KiB, peak $peak KiB (+$(( peak - idle )) KiB)"
echo "alertmanager sink: $(val 'outpost_alertmanager_1_requests_total{code="200"}') requests (incl. re-sends: $(echo "$m" | awk -F' ' '/outpost_alerts_sent_total\{sink="alertmanager_1",kind="resend",result="delivered"\}/ {print $2}') alerts re-sent)"
echo "alertmanager's own notifications (default grouping by alertname): $(cat "$work/am-notifications" 2>/dev/null || echo 0)"
echo "slack: $(cat "$work/slack-messages" 2>/dev/null || echo 0) messages for $(val 'outpost_alerts_sent_total{sink="slack",kind="firing",result="delivered"}') alerts"
echo "exec: $(val 'outpost_exec_requests_total{code="0"}') runs"
