#!/usr/bin/env bash
# Footprint of outpost next to prometheus-node-exporter, measured in the same run:
#  1. RSS after 60 s of the default run (outpost samples every 10 s; node_exporter is scraped
#     every 10 s, since it samples on scrape);
#  2. CPU per host sampling cycle: outpost sampling every 100 ms for DURATION seconds vs.
#     node_exporter scraped every 100 ms (both with their default collector sets), process CPU from /proc/PID/task/*/schedstat;
#  3. outpost's in-process cycle cost (benches/sample_cycle.rs) and its instruction count
#     under callgrind.
# Usage: scripts/bench-footprint.sh [DURATION_SECONDS]   (default 30; RSS phase is fixed 60 s)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
DURATION=${1:-30}
cargo build --release --locked -q
BIN=target/release/outpost
NE=$(command -v prometheus-node-exporter || command -v node_exporter) || { echo "install prometheus-node-exporter" >&2; exit 1; }
work=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
# CPU time in ns summed over the process's threads (schedstat is exact; /proc/PID/stat is
# tick-sampled, which is too coarse for sub-millisecond cycles).
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{s += $1} END {printf "%d", s}'; }
# node_exporter's default collector set (what outpost runs by default too), with the upstream
# filter defaults where Debian's package patches them (as the parity test does).
NE_ARGS=(
  "--collector.filesystem.mount-points-exclude=^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)(\$|/)"
  "--collector.filesystem.fs-types-exclude=^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)\$"
  "--collector.netdev.device-exclude=" "--collector.textfile.directory=")

start_pair() { # interval
  OP=$(free_port); NP=$(free_port)
  printf '[agent]\ndata_dir = "%s/data-%s"\n[sample]\ninterval = "%s"\n[metrics]\nlisten = "127.0.0.1:%s"\n' \
    "$work" "$OP" "$1" "$OP" > "$work/o.toml"
  "$BIN" run --config "$work/o.toml" 2>/dev/null & OPID=$!; pids+=("$OPID")
  "$NE" --web.listen-address="127.0.0.1:$NP" "${NE_ARGS[@]}" 2>/dev/null & NPID=$!; pids+=("$NPID")
  for _ in $(seq 50); do curl -sf "127.0.0.1:$OP/metrics" >/dev/null && curl -sf "127.0.0.1:$NP/metrics" >/dev/null && return; sleep 0.1; done
  echo "servers did not come up" >&2; exit 1
}

echo "machine: $(machine)"
echo "node_exporter: $("$NE" --version 2>&1 | head -1)"

# 1. RSS after 60 s of the default cadence.
start_pair 10s
for _ in 1 2 3 4 5 6; do sleep 10; curl -sf "127.0.0.1:$NP/metrics" >/dev/null; done
echo "RSS after 60 s: outpost $(rss_kib "$OPID") KiB, node_exporter $(rss_kib "$NPID") KiB"
kill "$OPID" "$NPID"; wait "$OPID" "$NPID" 2>/dev/null || true

# 2. CPU per cycle at 100 ms.
start_pair 100ms
sleep 1
series() { curl -sf "$1/metrics" | grep -c '^node_'; }
echo "node_* series per cycle: outpost $(series "127.0.0.1:$OP"), node_exporter $(series "127.0.0.1:$NP")"
o0=$(cpu_ns "$OPID"); n0=$(cpu_ns "$NPID")
c0=$(curl -sf "127.0.0.1:$OP/metrics" | awk '/^outpost_sample_cycles_total/ {print $2}')
scrapes=0; end=$((SECONDS + DURATION))
while [ $SECONDS -lt $end ]; do curl -sf "127.0.0.1:$NP/metrics" >/dev/null; scrapes=$((scrapes + 1)); sleep 0.1; done
c1=$(curl -sf "127.0.0.1:$OP/metrics" | awk '/^outpost_sample_cycles_total/ {print $2}')
o1=$(cpu_ns "$OPID"); n1=$(cpu_ns "$NPID")
cycles=$((c1 - c0))
awk -v o=$((o1 - o0)) -v n=$((n1 - n0)) -v c="$cycles" -v s="$scrapes" 'BEGIN {
  ou = o / c / 1e3; nu = n / s / 1e3;
  printf "CPU per cycle: outpost %.0f us (%d cycles), node_exporter %.0f us per scrape (%d scrapes), ratio %.2f\n", ou, c, nu, s, nu / ou }'

# 3. In-process cycle cost and instructions.
cargo bench --locked -q --bench sample_cycle 2>/dev/null | grep '^sample_cycle'
if command -v valgrind >/dev/null; then
  B=$(ls -t target/release/deps/sample_cycle-* | grep -v '\.d$' | head -1)
  i1=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$B" 20 2>&1 | awk '/Collected/ {print $4}')
  i2=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$B" 220 2>&1 | awk '/Collected/ {print $4}')
  echo "instructions per cycle (callgrind, user space): $(( (i2 - i1) / 200 ))"
fi
