// The package's tagging worker (`createTagger` starts it): it gets the model and index bytes
// (downloading them when given URLs), hands them to the wasm tagger, and tags texts, so that
// the page that embeds clinitag never freezes while a model loads or runs.
//
// Requests in, each with an `id` that its replies repeat:
//   {id, type: "load", model: Source | Source[], index: Source | null, options: LoadOptions}
//   {id, type: "tag", text}
//   {id, type: "use-index", index: ArrayBuffer | null}     the same model, another index
//   {id, type: "build-index", base: ArrayBuffer | null, files: [{name, bytes}], options}
// where a Source is {url} or {bytes: ArrayBuffer}.
// Replies out:
//   {id, type: "progress", phase: "download", loaded, total}   while files download
//   {id, type: "progress", phase: "tag", done, total}          a long text, part by part
//   {id, type: "progress", phase: "index", done, total, message}  a terminology, file by file
//   {id, type: "done", result}
//   {id, type: "error", message, crashed}   crashed: the wasm instance trapped and is unusable

import { relaxedSimd } from "./relaxed-simd.js";

// Three builds of the module: the CPU's (1.7 MB gzip), the same for engines with relaxed SIMD
// (relaxed/: faster 8-bit products, the one Chromium loads), and one that can also use WebGPU
// (webgpu/, 4.9 MB gzip), fetched only when a tagger is to compute on a GPU: `backend:
// "webgpu"`, or "auto" where the browser has a hardware adapter.
const cpu = import(relaxedSimd ? "./relaxed/clinitag.js" : "./clinitag.js").then(async (module) => {
  await module.default();
  return module;
});
let withWebgpu = null;

// The `Tagger` class of the module that computes as `backend` says; `gpu`: whether "auto"
// has a graphics adapter to measure.
async function taggerFor(backend = "auto", gpu = false) {
  const { Tagger } = await cpu;
  if (backend === "cpu" || (backend === "auto" && !gpu)) return Tagger;
  withWebgpu ??= import("./webgpu/clinitag.js").then(async (module) => {
    await module.default();
    return module;
  });
  try {
    return (await withWebgpu).Tagger;
  } catch (error) {
    withWebgpu = null;
    // "auto" still works without it, on the CPU; WebGPU asked for by name does not.
    if (backend === "auto") return Tagger;
    throw new Error(`cannot load the WebGPU module: ${error?.message ?? error}`);
  }
}

// "auto" times a short text on the CPU and on a graphics adapter at the first load of a model
// there, and keeps the faster. The times are kept here, in IndexedDB, by model and adapter,
// so that the next load (another visit) chooses at once. Without IndexedDB (a private
// window may refuse it) each load measures again.
const TIMINGS = "backend-timings";

function timingsStore(mode, use) {
  return new Promise((resolve, reject) => {
    const opening = indexedDB.open("clinitag", 1);
    opening.onupgradeneeded = () => opening.result.createObjectStore(TIMINGS);
    opening.onerror = () => reject(opening.error);
    opening.onsuccess = () => {
      const db = opening.result;
      const transaction = db.transaction(TIMINGS, mode);
      const request = use(transaction.objectStore(TIMINGS));
      // Settled once the transaction has committed, not when its request succeeds: a tagger
      // closed right after its load ends this worker, which would abort a write not yet
      // committed, and the next load would measure again.
      transaction.oncomplete = () => {
        db.close();
        resolve(request.result);
      };
      transaction.onabort = () => {
        db.close();
        reject(transaction.error ?? request.error);
      };
    };
  });
}

// Which model (every file of an ensemble, with its weights) on which adapter.
async function timingsKey(modelBytes, weights, adapter) {
  const digests = await Promise.all(
    [modelBytes].flat().map(async (bytes) => {
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
      return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    }),
  );
  return JSON.stringify({ models: digests, weights: weights ?? null, adapter: adapter.description });
}

// The options to load with, remembered timings added, and where to keep new ones.
async function withRememberedTimings(modelBytes, options = {}) {
  if ((options.backend ?? "auto") !== "auto") return { options, gpu: false, key: null };
  const adapter = await (await cpu).graphicsAdapter();
  const gpu = adapter != null && (!adapter.software || options.allowSoftwareAdapter === true);
  if (!gpu || options.timings) return { options, gpu, key: null };
  try {
    const key = await timingsKey(modelBytes, options.weights, adapter);
    const timings = await timingsStore("readonly", (store) => store.get(key));
    return timings ? { options: { ...options, timings }, gpu, key: null } : { options, gpu, key };
  } catch {
    return { options, gpu, key: null };
  }
}

let tagger = null;
let crashed = false;
// What the tagger was loaded from, to load it again with another index.
let loaded = null;

// The bytes of a Source; a URL is fetched with progress reports (`total` is 0 where the
// server gives no length).
async function bytesOf(source, report) {
  if (source.bytes) {
    const bytes = new Uint8Array(source.bytes);
    report(bytes.length, bytes.length);
    return bytes;
  }
  const response = await fetch(source.url);
  if (!response.ok) throw new Error(`cannot download ${source.url}: HTTP ${response.status}`);
  const total = Number(response.headers.get("content-length") ?? 0);
  const chunks = [];
  let loaded = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    report(loaded, total);
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.length;
  }
  return bytes;
}

async function load({ id, model, index, options }) {
  // Several models tag as an ensemble.
  const models = Array.isArray(model) ? model : [model];
  const sources = [...models, index].filter(Boolean);
  const progress = sources.map(() => ({ loaded: 0, total: 0 }));
  const report = (i) => (loaded, total) => {
    progress[i] = { loaded, total };
    postMessage({
      id,
      type: "progress",
      phase: "download",
      loaded: progress.reduce((sum, p) => sum + p.loaded, 0),
      total: progress.reduce((sum, p) => sum + p.total, 0),
    });
  };
  const files = await Promise.all(sources.map((source, i) => bytesOf(source, report(i))));
  const modelFiles = files.slice(0, models.length);
  await cpu;
  return start({
    modelBytes: Array.isArray(model) ? modelFiles : modelFiles[0],
    indexBytes: index ? files[models.length] : undefined,
    options,
  });
}

// (Re)starts the tagger from a model, an index and options; what it is, for the page. The
// tagger in use is let go only once the new one has loaded: a failure leaves it working.
async function start(from) {
  const { options, gpu, key } = await withRememberedTimings(from.modelBytes, from.options);
  // Remembered times that favour the CPU: the module with WebGPU is not even fetched.
  const cpuWins = options.timings && !(options.timings.webgpu < options.timings.cpu);
  const Chosen = await taggerFor(options.backend, gpu && !cpuWins);
  const next = await Chosen.load(from.modelBytes, from.indexBytes, options);
  // Measured at this load: kept for the next (a failure only means measuring again).
  const timings = next.timings;
  if (key && timings) await timingsStore("readwrite", (store) => store.put(timings, key)).catch(() => {});
  tagger?.free();
  tagger = next;
  loaded = from;
  return {
    backend: tagger.backend,
    fallbackReason: tagger.fallbackReason ?? null,
    fallbackDetail: tagger.fallbackDetail ?? null,
    timings: tagger.timings ?? null,
    language: tagger.language,
    architecture: tagger.architecture,
    labels: tagger.labels,
    index: from.indexBytes ? (await cpu).indexSummary(from.indexBytes) : null,
  };
}

async function useIndex({ index }) {
  if (!loaded) throw new Error("no model is loaded");
  const indexBytes = index ? new Uint8Array(index) : undefined;
  // Checked before the tagger in use is let go: a damaged index leaves it as it was.
  if (indexBytes) (await cpu).indexSummary(indexBytes);
  return start({ ...loaded, indexBytes });
}

// An index from terminology files (RF2, FHIR) on top of `base`; its bytes, transferred.
async function buildIndex({ id, base, files, options }) {
  const { IndexImport } = await cpu;
  const importer = new IndexImport(base ? new Uint8Array(base) : undefined, options);
  try {
    for (const [done, file] of files.entries()) {
      postMessage({ id, type: "progress", phase: "index", done, total: files.length + 1, message: `Reading ${file.name}…` });
      importer.addFile(file.name, new Uint8Array(file.bytes));
    }
    postMessage({ id, type: "progress", phase: "index", done: files.length, total: files.length + 1, message: "Building the index…" });
    return importer.finish();
  } finally {
    importer.free();
  }
}

async function tag({ id, text }) {
  if (!tagger) throw new Error("no model is loaded");
  const progress = (done, total) => postMessage({ id, type: "progress", phase: "tag", done, total });
  return tagger.tag(text, progress);
}

const HANDLERS = { load, tag, "use-index": useIndex, "build-index": buildIndex };

onmessage = async ({ data }) => {
  try {
    if (crashed) throw new Error("this tagger crashed earlier; create a new one");
    // A test build defines this hook to make the wasm instance trap; no other does.
    await globalThis.clinitagTestHook?.(data);
    const handler = HANDLERS[data.type];
    if (!handler) throw new Error(`unknown request: ${data.type}`);
    const result = await handler(data);
    postMessage({ id: data.id, type: "done", result }, result instanceof Uint8Array ? [result.buffer] : []);
  } catch (error) {
    // A trap (a panic, memory exhausted) leaves the wasm instance unusable; any other error
    // is the input's or a file's, and the tagger goes on.
    crashed ||= error instanceof WebAssembly.RuntimeError;
    postMessage({ id: data.id, type: "error", message: String(error?.message ?? error), crashed });
  }
};
