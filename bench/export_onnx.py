"""One-off export of a clinitag BERT model to ONNX, for Transformers.js (bench/peers.sh).

    python bench/export_onnx.py target/bench/bert-es

The folder is what `examples/bert_export.rs` wrote: the model in HuggingFace's layout and
inputs.json. This script loads the weights into transformers' BertForTokenClassification,
checks that PyTorch reproduces clinitag's tag scores on the check windows, exports the
network (ids, attention mask, token types -> logits) to onnx/model.onnx with dynamic batch
and length, and checks the ONNX file under onnxruntime against PyTorch. Then it writes the
8-bit file Transformers.js loads for `dtype: "q8"` (onnx/model_quantized.onnx) as
Transformers.js's own conversion script makes it: onnxruntime's dynamic quantization, signed
8-bit weights with a scale per output channel, activations quantized at run time.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from transformers import BertForTokenClassification

TOLERANCE = 2e-3  # clinitag computes in f32 on flex; sums run in another order


def load(folder: Path) -> BertForTokenClassification:
    model = BertForTokenClassification.from_pretrained(folder, attn_implementation="eager")
    return model.eval()


def padded(windows):
    length = max(len(w["ids"]) for w in windows)
    ids = np.zeros((len(windows), length), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, window in enumerate(windows):
        ids[row, : len(window["ids"])] = window["ids"]
        mask[row, : len(window["ids"])] = 1
    return ids, mask, np.zeros_like(ids)


def check_pytorch(model, inputs) -> float:
    worst = 0.0
    with torch.inference_mode():
        for window in inputs["check"]:
            ids, mask, types = (torch.from_numpy(a) for a in padded([window]))
            logits = model(input_ids=ids, attention_mask=mask, token_type_ids=types).logits[0]
            ours = np.asarray(window["scores"], dtype=np.float32).reshape(len(window["first_pieces"]), -1)
            theirs = logits[window["first_pieces"]].numpy()
            worst = max(worst, float(np.abs(ours - theirs).max()))
    return worst


def export(model, folder: Path) -> Path:
    target = folder / "onnx" / "model.onnx"
    target.parent.mkdir(exist_ok=True)
    ids = torch.ones((2, 16), dtype=torch.int64)
    with torch.inference_mode():
        torch.onnx.export(
            model,
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(target),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["logits"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "pieces"},
                "attention_mask": {0: "batch", 1: "pieces"},
                "token_type_ids": {0: "batch", 1: "pieces"},
                "logits": {0: "batch", 1: "pieces"},
            },
            opset_version=17,
            dynamo=False,
        )
    return target


def check_onnx(model, path: Path, inputs) -> float:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    windows = inputs["documents"][0]["passes"]["32"][0]
    ids, mask, types = padded(windows)
    (onnx_logits,) = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
    with torch.inference_mode():
        torch_logits = model(
            input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask), token_type_ids=torch.from_numpy(types)
        ).logits.numpy()
    real = mask.astype(bool)
    return float(np.abs(onnx_logits[real] - torch_logits[real]).max())


def quantize(path: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # Transformers.js's scripts/quantize.py for q8: QInt8 weights (QUInt8 only for models with
    # convolutions, which BERT has none of), per channel, reduced range.
    target = path.with_name("model_quantized.onnx")
    quantize_dynamic(path, target, weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
    return target


def check_quantized(path: Path, inputs) -> tuple[int, int]:
    """How many of the first document's first pieces get the same best tag from the 8-bit
    file as from clinitag's f32 scores (out of how many), over the check windows."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    same = total = 0
    for window in inputs["check"]:
        ids, mask, types = padded([window])
        (logits,) = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
        ours = np.asarray(window["scores"], dtype=np.float32).reshape(len(window["first_pieces"]), -1)
        theirs = logits[0][window["first_pieces"]]
        same += int((ours.argmax(-1) == theirs.argmax(-1)).sum())
        total += len(window["first_pieces"])
    return same, total


def main():
    folder = Path(sys.argv[1])
    inputs = json.loads((folder / "inputs.json").read_text())
    model = load(folder)
    worst = check_pytorch(model, inputs)
    print(f"PyTorch vs clinitag tag scores, {len(inputs['check'])} windows: max |diff| {worst:.2e}")
    if worst > TOLERANCE:
        sys.exit(f"the exported weights do not reproduce clinitag's scores (limit {TOLERANCE})")
    path = export(model, folder)
    worst = check_onnx(model, path, inputs)
    print(f"ONNX vs PyTorch logits, one padded batch: max |diff| {worst:.2e}; wrote {path}")
    if worst > TOLERANCE:
        sys.exit("the ONNX file does not reproduce PyTorch")
    quantized = quantize(path)
    same, total = check_quantized(quantized, inputs)
    print(f"8-bit ONNX: same best tag as clinitag's f32 scores for {same} of {total} words; wrote {quantized}")


if __name__ == "__main__":
    main()
