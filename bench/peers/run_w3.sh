#!/usr/bin/env bash
# Benchmark W3 (predictive CLV): crmkit against lifetimes and btyd.
#
#   bash bench/peers/run_w3.sh [N=2357] [CRMKIT_RUNS=21] [PEER_RUNS=5] [PEERS=lifetimes,btyd]
#
# PEERS is a comma-separated subset of lifetimes,btyd: at 1,000,000 customers
# btyd's summary alone takes about 14 minutes, so pass `lifetimes` to skip it.
#
# Creates bench/peers/.venv-w3 (gitignored) on first use, generates the data
# with a fixed seed into bench/peers/data/ (gitignored) and prints one table.
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-2357}"
crmkit_runs="${2:-21}"
peer_runs="${3:-5}"
peers="${4:-lifetimes,btyd}"
venv=bench/peers/.venv-w3
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --upgrade pip
    # btyd 0.1a1 pins pymc 4 / aesara, which need NumPy 1; lifetimes 0.11.3
    # needs an autograd that runs on Python 3.11 (btyd's pin 1.4 does not).
    "$venv/bin/pip" install -q lifetimes btyd
    "$venv/bin/pip" install -q "autograd>=1.6" "numpy<2" "pandas<2.3" "scipy<1.14"
fi
# The machine may be shared: record the load with the figures.
echo "load before: $(uptime)"
cargo run --quiet --release --features synth --example btyd_peer -- "$n" "$crmkit_runs"
# aesara (imported by btyd) cannot find BLAS flags through NumPy 1.26; the
# fitters compared here do not use it.
AESARA_FLAGS="blas__ldflags=" "$venv/bin/python" bench/peers/w3.py "$n" "$peer_runs" "$peers" 2>&1 | grep -v "^WARNING (aesara"
echo "load after: $(uptime)"
