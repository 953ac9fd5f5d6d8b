#!/usr/bin/env bash
# Benchmark W2 (value): crmkit against polars and duckdb on the same ledger.
#
#   bash bench/peers/relationship/run_w2.sh [RUNS=5]
#
# Creates bench/peers/.venv-w2 (gitignored) on first use, exports the generated
# ledger (fixed seed) to bench/peers/data/ (gitignored), times crmkit, then
# the peers, and prints one table. W2_CUSTOMERS=100000 for a smaller run.
set -euo pipefail
cd "$(dirname "$0")/../../.."
runs="${1:-5}"
venv=bench/peers/.venv-w2
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q polars duckdb
fi
cargo build --quiet --release --features synth --example w2
target/release/examples/w2 export bench/peers/data
crmkit=$(target/release/examples/w2 time "$runs")
"$venv/bin/python" bench/peers/relationship/w2.py "$runs" "$crmkit"
