// The tagging worker: it fetches the model and index (from Cache Storage when it can, so a
// second visit works offline), hands their bytes to the Rust tagger, and tags texts, so that
// the page never freezes while a model loads or runs.
//
// Messages in:  {type: "load", model: FileEntry, index: FileEntry|null, backend}
//               {type: "tag", id, text}
// Messages out: {type: "progress", loaded, total}
//               {type: "ready", backend, fallbackReason, labels, architecture, language, ms}
//               {type: "tagged", id, entities, ms}
//               {type: "error", id?, message}
// A FileEntry is what manifest.json lists: {file, bytes, sha256}.

import init, { Tagger } from "./pkg/clinitag.js";

const CACHE = "clinitag-models-v1";
const ready = init();
let tagger = null;

// The bytes of a listed file: from the cache when its hash is there, else downloaded (with
// progress reports) and cached under its hash, so a new model version replaces the old.
async function fetchBytes(entry, progress) {
  const key = `${entry.file}?sha256=${entry.sha256}`;
  const cache = await caches.open(CACHE);
  const cached = await cache.match(key);
  if (cached) {
    const bytes = new Uint8Array(await cached.arrayBuffer());
    progress(bytes.length);
    return bytes;
  }
  const response = await fetch(key);
  if (!response.ok) throw new Error(`cannot download ${entry.file}: HTTP ${response.status}`);
  const reader = response.body.getReader();
  const bytes = new Uint8Array(entry.bytes);
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (received + value.length > bytes.length) throw new Error(`${entry.file} is larger than its manifest says`);
    bytes.set(value, received);
    received += value.length;
    progress(value.length);
  }
  if (received !== bytes.length) throw new Error(`${entry.file} is truncated (${received} of ${bytes.length} bytes)`);
  await cache.put(key, new Response(bytes, { headers: { "content-type": "application/octet-stream" } }));
  // Older versions of the same file are dead weight.
  for (const request of await cache.keys()) {
    const url = new URL(request.url);
    if (url.pathname.endsWith(`/${entry.file}`) && !request.url.endsWith(key)) await cache.delete(request);
  }
  return bytes;
}

async function load({ model, index, backend }) {
  const started = performance.now();
  const files = [model, index].filter(Boolean);
  const total = files.reduce((sum, f) => sum + f.bytes, 0);
  let loaded = 0;
  const progress = (n) => {
    loaded += n;
    postMessage({ type: "progress", loaded, total });
  };
  const [modelBytes, indexBytes] = await Promise.all([
    fetchBytes(model, progress),
    index ? fetchBytes(index, progress) : Promise.resolve(undefined),
  ]);
  await ready;
  if (tagger) tagger.free();
  tagger = null;
  tagger = await Tagger.load(modelBytes, indexBytes, { backend });
  postMessage({
    type: "ready",
    backend: tagger.backend,
    fallbackReason: tagger.fallbackReason ?? null,
    labels: tagger.labels,
    architecture: tagger.architecture,
    language: tagger.language,
    ms: performance.now() - started,
  });
}

onmessage = async ({ data }) => {
  try {
    if (data.type === "load") {
      await load(data);
    } else if (data.type === "tag") {
      if (!tagger) throw new Error("no model is loaded yet");
      const started = performance.now();
      const entities = await tagger.tag(data.text);
      postMessage({ type: "tagged", id: data.id, entities, ms: performance.now() - started });
    }
  } catch (error) {
    postMessage({ type: "error", id: data.id, message: String(error?.message ?? error) });
  }
};
