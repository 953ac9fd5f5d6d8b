#!/usr/bin/env bash
# Service metrics peers: business duration between instant pairs.
# Usage (from the repository root): bash bench/peers/service/run.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
peers="$root/bench/peers"
venv="$peers/.venv-service"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q businesstimedelta business-duration pandas
mkdir -p "$peers/data"
sample="$peers/data/service_pairs.csv"
# The 10,000-pair sample, drawn from the crmkit benchmark's pair sequence (fixed seed).
(cd "$root" && CRMKIT_SERVICE_SAMPLE="$sample" cargo bench --bench service)
# crmkit's per-pair cost: the 10,000,000-pair pass of the criterion bench.
crmkit_ns="${CRMKIT_NS_PER_PAIR:-}"
if [ -z "$crmkit_ns" ]; then
  line="$(cd "$root" && CRMKIT_SERVICE_ONLY=pairs cargo bench --bench service -- --warm-up-time 1 --measurement-time 5 2>/dev/null | grep 'over 10,000,000 pairs')"
  echo "$line"
  crmkit_ns="$(echo "$line" | sed -E 's/.* ([0-9.]+) ns per pair.*/\1/')"
fi
"$venv/bin/python" "$peers/service/peers.py" "$sample" "$crmkit_ns"
