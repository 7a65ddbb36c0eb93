#!/usr/bin/env bash
# The user's terminology: building a 100,000-concept FHIR CodeSystem into the shipped Spanish
# index, natively (the CLI) and in the browser (wasm, as the page's worker does). Needs
# `cargo build --release` and `./build.sh web` first. Prints the timings; BENCHMARKS.md keeps them.
#
#   bench/terminology.sh [CONCEPTS]
set -euo pipefail
cd "$(dirname "$0")/.."
concepts=${1:-100000}
out=target/bench/terminology
mkdir -p "$out"
python3 bench/terminology.py ../shared/data/snomed-gps/ValueSet-snomed-intl-gps.json "$out/terminology.json" "$concepts"
start=$(date +%s%N)
target/release/clinitag index build --base models/snomed-es.idx --fhir "$out/terminology.json" -o "$out/terminology.idx"
echo "native index build: $((($(date +%s%N) - start) / 1000000)) ms"
[[ -d bench/browser/node_modules/playwright-core ]] || npm ci --prefix bench/browser --no-audit --no-fund --ignore-scripts
node bench/browser/terminology.mjs "$out/terminology.json"
