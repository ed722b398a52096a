#!/usr/bin/env bash
# Sensor drivers' CPU per read and the sampler's overhead per sensor, against one host
# sampling cycle in the same run (benches/sensors.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
echo "machine: $(machine)"
cargo bench --locked -q --bench sensors
