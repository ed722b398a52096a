#!/usr/bin/env bash
# The project's test command: installs what the tests need (Debian packages, rustup targets),
# then checks formatting and lints, runs every test (integration tests start real servers from
# Debian packages on free loopback ports), and cross-builds + smoke-runs the gateway targets
# under qemu-user-static.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
echo "== fmt"
cargo fmt --all -- --check
echo "== clippy"
cargo clippy --locked --all-targets -- -D warnings
cargo clippy --locked --all-targets --features store-sled -- -D warnings
echo "== tests"
cargo test --locked
echo "== store test suite against the sled backend"
cargo test --locked --features store-sled --lib store::
echo "== fuzzing the exposition parser (30 s), the catalog loader and the canonicalizers (20 s each)"
scripts/fuzz.sh 30 exposition
scripts/fuzz.sh 20 catalog
scripts/fuzz.sh 20 canon
echo "== cross builds under qemu"
cmp -s Cross.toml cross.toml || { echo "cross.toml must point at Cross.toml" >&2; exit 1; }
scripts/cross-build.sh
echo "== all checks passed"
