#!/usr/bin/env bash
# clinitag against its peers, in one run on one machine (BENCHMARKS.md holds the figures):
#   bench/peers.sh
# 1. Natively: clinitag (burn's flex CPU device) against PyTorch on the CPU, the Spanish BERT,
#    the first 20 PharmaCoNER dev documents, 1 and 2 threads, batch 1 and 32.
# 2. In headless Chromium: clinitag (wasm CPU, WebGPU) against Transformers.js (onnxruntime-web
#    WASM, WebGPU) on the same weights exported to ONNX, in f32 and at 8 bits (each runtime's
#    own 8-bit file: the shipped model, Transformers.js's q8), the same windows and batches; a
#    profile of clinitag's CPU time; the demo page's time to first tag, bytes and memory.
# 3. Every shipped model's dev scores and concept indexing (bench/accuracy.sh).
# Then bench/report.py prints the tables with the ratios clinitag / peer.
#
# Needs what ./build.sh tools installs, and Python 3: PyTorch, transformers, onnx and
# onnxruntime go into target/bench/venv from PyPI (several GB: torch pulls CUDA wheels), unless
# PYTHON names an interpreter that has them. DOCUMENTS and GPU_DOCUMENTS set how many dev
# documents each browser run tags (20 and 1: WebGPU here is SwiftShader, a software GPU).
set -euo pipefail
cd "$(dirname "$0")/.."
D=${CLINITAG_DATA:-../shared/data}
DOCUMENTS=${DOCUMENTS:-20}
GPU_DOCUMENTS=${GPU_DOCUMENTS:-1}
OUT=target/bench
mkdir -p "$OUT"

if [[ -z ${PYTHON:-} ]]; then
    if [[ ! -x $OUT/venv/bin/python ]]; then
        python3 -m venv "$OUT/venv"
        "$OUT/venv/bin/pip" install --quiet torch==2.15.0 transformers==5.24.0 safetensors numpy \
            onnx==1.23.2 onnxscript==0.7.2 onnxruntime==1.32.0
    fi
    PYTHON=$OUT/venv/bin/python
fi

./build.sh tools
./build.sh web > "$OUT/web-build.txt"
# The tests' profile (release without link-time optimization): the binaries the tests build.
cargo build --profile ci -q --bin clinitag --example bert_export --example bert_throughput
export CLINITAG=target/ci/clinitag
[[ -d bench/browser/node_modules/@huggingface/transformers ]] ||
    npm ci --prefix bench/browser --no-audit --no-fund --ignore-scripts

# The model in HuggingFace's layout, clinitag's exact inputs, and the ONNX export (checked
# against clinitag's own scores).
target/ci/examples/bert_export models/bert-es.clinitag "$OUT/bert-es" "$D/pharmaconer/dev/subtrack1" 20
"$PYTHON" bench/export_onnx.py "$OUT/bert-es" 2>&1 | grep -E "max \|diff\||wrote|Error|error" | tee "$OUT/export.txt"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)" | tee "$OUT/machine.txt"
# Natively both compute in f32 from the same weights (clinitag's 8-bit products: the browser's
# int8 rows and BENCHMARKS.md "8-bit matrix products on the CPU").
RAYON_NUM_THREADS=1 taskset -c 0 target/ci/examples/bert_throughput "$OUT/bert-es/clinitag-f32.clinitag" \
    "$D/pharmaconer/dev/subtrack1" 20 | tee "$OUT/native-clinitag-1.txt"
RAYON_NUM_THREADS=2 target/ci/examples/bert_throughput "$OUT/bert-es/clinitag-f32.clinitag" \
    "$D/pharmaconer/dev/subtrack1" 20 | tee "$OUT/native-clinitag-2.txt"
taskset -c 0 "$PYTHON" bench/pytorch_throughput.py "$OUT/bert-es" 1 2> /dev/null | tee "$OUT/native-pytorch-1.txt"
"$PYTHON" bench/pytorch_throughput.py "$OUT/bert-es" 2 2> /dev/null | tee "$OUT/native-pytorch-2.txt"

node bench/browser/run.mjs --documents "$DOCUMENTS" --gpu-documents "$GPU_DOCUMENTS" --repeat 3 --profile

bench/accuracy.sh
python3 bench/report.py "$OUT" | tee "$OUT/report.md"
