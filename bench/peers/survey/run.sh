#!/usr/bin/env bash
# Benchmark W1 (DESIGN.md): NPS and CSAT per segment x month on 10,000,000
# generated responses; crmkit vs polars vs duckdb, plus the floor.
#
#   bash bench/peers/survey/run.sh [RUNS]
#
# Creates bench/peers/.venv-w1 (polars, duckdb, numpy, pyarrow) on first use, exports the
# responses once from crmkit's generator (fixed seed) into
# bench/peers/data/w1/, and times only the computation on in-memory data.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
runs="${1:-11}"
venv="$root/bench/peers/.venv-w1"
data="$root/bench/peers/data/w1"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --upgrade pip
  "$venv/bin/pip" install --quiet polars duckdb numpy pyarrow
fi

cd "$root"
cargo build --quiet --release --features synth --example w1_survey
bin="$root/target/release/examples/w1_survey"
if [ ! -f "$data/months.u32" ]; then
  "$bin" export "$data"
fi
"$bin" time "$runs" > "$data/crmkit.jsonl"
"$venv/bin/python" "$root/bench/peers/survey/peers.py" "$data" "$runs"
