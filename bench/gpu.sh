#!/usr/bin/env bash
# clinitag's BERT on a real GPU: natively through wgpu, which runs the same WGSL kernels as the
# browser's WebGPU (here on Vulkan), against PyTorch on CUDA with the same weights, the same
# piece-id windows and the same forward passes; then where clinitag's GPU time goes, kernel by
# kernel, from cubecl's profiler. Run from the repository root on a machine with a GPU:
#
#   bench/gpu.sh BIN_DIR TEXT_FOLDER OUT_DIR
#
# BIN_DIR holds bert_export and bert_throughput, built where Rust is with
#   cargo build --release --features wgpu --example bert_export --example bert_throughput
# and optionally bert_throughput_autotune, the same example built with --features wgpu,autotune
# (the GPU machine needs no Rust, only a Vulkan loader); TEXT_FOLDER holds PharmaCoNER dev texts
# (the first 20 by name are used, as in bench/peers.sh); python3 needs torch with CUDA and
# transformers. The figures go into BENCHMARKS.md ("On a real GPU").
set -euo pipefail
bin=$1 texts=$2 out=$3
mkdir -p "$out"

{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    echo "$(nproc) CPU cores, $(date -u +%F)"
    python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'
} >"$out/machine.txt" 2>&1 || true
cat "$out/machine.txt"

# The model in HuggingFace's layout and clinitag's own windows and passes, for PyTorch.
"$bin/bert_export" models/bert-es.clinitag "$out/bert-es" "$texts" 20 >"$out/export.txt"

python3 bench/pytorch_throughput.py "$out/bert-es" 1 cuda | tee "$out/pytorch-cuda.txt"
for build in bert_throughput bert_throughput_autotune; do
    [[ -x "$bin/$build" ]] || continue
    echo "$build:"
    "$bin/$build" --wgpu models/bert-es.clinitag "$texts" 20 | tee "$out/clinitag-wgpu-$build.txt"
done

# Every kernel launch of the default build timed on the GPU, over the first 5 documents at
# batch 1 and 32 (the untimed first pass included; autotuning's trials would blur it).
CUBECL_DEBUG_LOG="$out/profile.log" CUBECL_DEBUG_OPTION=profile \
    "$bin/bert_throughput" --wgpu models/bert-es.clinitag "$texts" 5 >/dev/null
python3 bench/gpu_profile.py "$out/profile.log" | tee "$out/profile.md"
