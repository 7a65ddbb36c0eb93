"""PyTorch's throughput on clinitag's own BERT inputs (bench/peers.sh runs it on the CPU,
bench/gpu.sh on CUDA):

    python bench/pytorch_throughput.py target/bench/bert-es THREADS [cpu|cuda]

Reads the model and inputs.json that examples/bert_export.rs wrote, sets torch's intra-op
threads, and runs every document's forward passes exactly as clinitag groups them (batch 1
and batch 32): pad, forward, then the best tag of each word's first piece. Tokenization is
not timed (the piece ids come from clinitag), nor is a CRF (the best tag per word stands in
for Viterbi). One document first as a warm-up.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from transformers import BertForTokenClassification


def tag(model, passes, device):
    labels = 0
    for windows in passes:
        length = max(len(w["ids"]) for w in windows)
        ids = torch.zeros((len(windows), length), dtype=torch.int64)
        mask = torch.zeros_like(ids)
        for row, window in enumerate(windows):
            ids[row, : len(window["ids"])] = torch.tensor(window["ids"])
            mask[row, : len(window["ids"])] = 1
        ids, mask = ids.to(device), mask.to(device)
        logits = model(input_ids=ids, attention_mask=mask, token_type_ids=torch.zeros_like(ids)).logits
        # Reading the tags back waits for the GPU, as clinitag's read-back does.
        best = logits.argmax(-1).cpu().numpy()
        for row, window in enumerate(windows):
            labels += int(np.count_nonzero(best[row, window["first_pieces"]]))
    return labels


def main():
    folder, threads = Path(sys.argv[1]), int(sys.argv[2])
    device = sys.argv[3] if len(sys.argv) > 3 else "cpu"
    torch.set_num_threads(threads)
    model = BertForTokenClassification.from_pretrained(folder, attn_implementation="eager")
    model = model.eval().to(device)
    documents = json.loads((folder / "inputs.json").read_text())["documents"]
    words = sum(d["words"] for d in documents)
    with torch.inference_mode():
        for batch in ("1", "32"):
            tag(model, documents[0]["passes"][batch], device)
        for batch in ("1", "32"):
            started = time.perf_counter()
            tagged = sum(tag(model, d["passes"][batch], device) for d in documents)
            seconds = time.perf_counter() - started
            print(
                f"pytorch {torch.__version__} {device} threads {threads} batch {batch:>2}: {words} words in "
                f"{seconds:.2f} s = {words / seconds:.0f} words/s ({tagged} words not O)"
            )


if __name__ == "__main__":
    main()
