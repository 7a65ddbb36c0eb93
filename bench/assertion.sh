#!/usr/bin/env bash
# Assertion on NUBes's dev sample (SAMPLE-010, kept out of every choice of rules and
# settings made on 002-009): negation and uncertainty cue and scope F1, and the assertion of the
# entities the Spanish Bi-LSTM-CRF finds. The figures go to BENCHMARKS.md.
#   bench/assertion.sh [SAMPLE]
set -euo pipefail
cd "$(dirname "$0")/.."
D=${CLINITAG_DATA:-../shared/data}
sample=${1:-SAMPLE-010}
cargo run --profile ci -q --example assertion_nubes -- "$D/negation/nubes/NUBes/$sample"
