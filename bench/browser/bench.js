// Runs one runtime over the PharmaCoNER dev documents that examples/bert_export.rs wrote to
// /inputs.json, with the same fine-tuned Spanish BERT: clinitag's own model file, or its ONNX
// export (bench/export_onnx.py) in Transformers.js. run.mjs calls these in a fresh browser
// each time and collects what they return.
//
// Each runs the weights at two precisions: `f32` (clinitag: the export's f32 file, with f32
// products; Transformers.js: onnx/model.onnx) and `int8` (clinitag: the shipped 8-bit file,
// with 8-bit products; Transformers.js: its own 8-bit file, `dtype: "q8"`, which
// bench/export_onnx.py writes as Transformers.js's converter does).
//
// Both read exactly the same piece-id windows, grouped into the same forward passes:
// clinitag makes them itself from the text (segmentation, WordPiece, windows, then the CRF's
// Viterbi and offsets after the encoder); Transformers.js gets them from inputs.json, after
// running its own tokenizer over the document (so that it pays for tokenizing too), and
// takes each word's best tag (no CRF). Before timing, each tags the first document once on the
// CPU (so that V8 has tiered the wasm code up from its baseline compiler) or a short text on
// WebGPU (so that the shaders are compiled).

import { relaxedSimd } from "/site/pkg/relaxed-simd.js";
import * as webgpuModule from "/site/pkg/webgpu/clinitag.js";

// The CPU module the package's worker loads here: the relaxed SIMD build where the browser has it.
const cpuModule = await import(relaxedSimd ? "/site/pkg/relaxed/clinitag.js" : "/site/pkg/clinitag.js");
import { env, AutoTokenizer, AutoModelForTokenClassification, Tensor } from "/tjs/transformers.js";

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = "/models/";
env.useBrowserCache = false;
env.backends.onnx.wasm.wasmPaths = "/ort/";
// One thread, as clinitag's wasm build (and onnxruntime-web's own default on a 2-core machine
// without cross-origin isolation).
env.backends.onnx.wasm.numThreads = 1;

const inputs = await (await fetch("/inputs.json")).json();
const SHORT = inputs.documents[0].text.slice(0, 200);

function summary(latencies, documents) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  const words = documents.reduce((sum, d) => sum + d.words, 0);
  const ms = latencies.reduce((a, b) => a + b, 0);
  return { documents: documents.length, words, ms, wordsPerSecond: (words * 1000) / ms, p50: at(0.5), p95: at(0.95),
    latencies: latencies.map(Math.round) };
}

async function timed(documents, tagOne) {
  const latencies = [];
  let found = 0;
  for (const document of documents) {
    const started = performance.now();
    found += await tagOne(document);
    latencies.push(performance.now() - started);
  }
  return { ...summary(latencies, documents), found };
}

const CLINITAG_FILES = { f32: "/models/bert-es/clinitag-f32.clinitag", int8: "/site/models/bert-es.clinitag" };
const TRANSFORMERS_DTYPES = { f32: "fp32", int8: "q8" };

async function clinitag({ backend, batch, precision = "int8", documents: count }) {
  // The module the package's worker would load: the one with WebGPU only for a GPU.
  const { default: initClinitag, Tagger } = backend === "cpu" ? cpuModule : webgpuModule;
  await initClinitag();
  const started = performance.now();
  const bytes = new Uint8Array(await (await fetch(CLINITAG_FILES[precision])).arrayBuffer());
  const tagger = await Tagger.load(bytes, null, { backend, batchWindows: Number(batch) });
  const loadMs = performance.now() - started;
  await tagger.tag(tagger.backend === "cpu" ? inputs.documents[0].text : SHORT);
  // run.mjs --profile defines this: V8's profiler runs from here to the end.
  if (window.startProfiler) await window.startProfiler();
  const result = await timed(inputs.documents.slice(0, count), async (d) => (await tagger.tag(d.text)).length);
  const simd = backend === "cpu" && relaxedSimd ? "relaxed" : "simd128";
  return { runtime: "clinitag", backend: tagger.backend, simd, batch, precision, loadMs, ...result, found: `${result.found} entities` };
}

async function transformers({ device, batch, precision = "int8", documents: count }) {
  const started = performance.now();
  const tokenizer = await AutoTokenizer.from_pretrained("bert-es");
  const model = await AutoModelForTokenClassification.from_pretrained("bert-es", { device, dtype: TRANSFORMERS_DTYPES[precision] });
  const loadMs = performance.now() - started;
  const forward = async (windows) => {
    const length = Math.max(...windows.map((w) => w.ids.length));
    const ids = new BigInt64Array(windows.length * length);
    const mask = new BigInt64Array(windows.length * length);
    windows.forEach((w, row) => w.ids.forEach((id, i) => {
      ids[row * length + i] = BigInt(id);
      mask[row * length + i] = 1n;
    }));
    const shape = [windows.length, length];
    const { logits } = await model({
      input_ids: new Tensor("int64", ids, shape),
      attention_mask: new Tensor("int64", mask, shape),
      token_type_ids: new Tensor("int64", new BigInt64Array(ids.length), shape),
    });
    const tags = logits.dims[2];
    const scores = logits.data;
    let tagged = 0;
    windows.forEach((w, row) => w.first_pieces.forEach((position) => {
      const at = (row * length + position) * tags;
      let best = 0;
      for (let k = 1; k < tags; k++) if (scores[at + k] > scores[at + best]) best = k;
      if (best !== 0) tagged++;
    }));
    return tagged;
  };
  const warmUp = inputs.documents[0].passes[batch];
  for (const windows of device === "wasm" ? warmUp : warmUp.slice(0, 1)) await forward(windows);
  const result = await timed(inputs.documents.slice(0, count), async (d) => {
    tokenizer(d.text);
    let tagged = 0;
    for (const windows of d.passes[batch]) tagged += await forward(windows);
    return tagged;
  });
  return { runtime: "transformers.js", backend: device, batch, precision, loadMs, ...result, found: `${result.found} words not O` };
}

window.bench = { clinitag, transformers };
document.body.dataset.ready = "yes";
