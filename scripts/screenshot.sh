#!/usr/bin/env bash
# Renders the report example's HTML page headless and saves docs/report.png
# for the README. Not run by CI.
#
#   bash scripts/screenshot.sh
#
# Installs Debian's chromium if it is missing (needs root and apt), runs the
# example (which writes report.html), and screenshots the page.
set -euo pipefail
cd "$(dirname "$0")/.."

browser=""
for b in chromium chromium-browser google-chrome; do
    if command -v "$b" >/dev/null 2>&1; then browser="$b"; break; fi
done
if [ -z "$browser" ]; then
    echo "installing Debian's chromium ..." >&2
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
    browser=chromium
fi

cargo run --release --all-features --example report -- --html report.html >/dev/null

mkdir -p docs
# --no-sandbox: chromium refuses to run as root otherwise (containers, CI).
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size=1280,2400 --screenshot=docs/report.png "file://$PWD/report.html"
echo "wrote docs/report.png" >&2
