// The tagging worker: it fetches the model and index (from Cache Storage when it can, so a
// second visit works offline), hands their bytes to the Rust tagger, and tags texts, so that
// the page never freezes while a model loads or runs.
//
// Messages in:  {type: "load", model: FileEntry, index: FileEntry|null, backend}
//               {type: "tag", id, text}
//               {type: "import", files: [{name, bytes: ArrayBuffer}]}
//               {type: "remove-terminology"}
// Messages out: {type: "progress", loaded, total}
//               {type: "import-progress", done, total, message}
//               {type: "ready", backend, fallbackReason, fallbackDetail, labels, architecture,
//                language, ms,
//                terminology: {user, stale, concepts, terms, sources} | null}
//               {type: "tag-progress", id, done, total}: a long text is tagged in parts
//               {type: "tagged", id, entities, ms}
//               {type: "error", id?, message}
//               {type: "crashed", id?, message}: the wasm instance trapped; start a new worker
// A FileEntry is what manifest.json lists: {file, bytes, sha256}.
//
// The user's own terminology (an RF2 release or FHIR files, chosen on the page) is built into
// a concept index here, on top of the bundled index, and kept in Cache Storage under the
// language, with the hash of the bundled index it was built on. Nothing is ever uploaded.

import init, { IndexImport, Tagger, indexSummary } from "./pkg/clinitag.js";

const CACHE = "clinitag-models-v1";
const TERMINOLOGY = "clinitag-terminology-v1";
const ready = init();
let tagger = null;
// What the tagger was loaded from, to reload it with another index.
let current = null;

// The SHA-256 of some bytes, in lower-case hex as manifest.json writes it. WebCrypto exists
// only in secure contexts (HTTPS, localhost), which the service worker needs as well.
async function sha256(bytes) {
  if (!crypto?.subtle) throw new Error("this page must be served over HTTPS (or from localhost) to check its files");
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

// The bytes of a listed file, checked against the SHA-256 that manifest.json gives it: from
// the cache when a copy there matches (one that does not is dropped), else downloaded (with
// progress reports), checked, and cached under its hash, so a new model version replaces the
// old. A download that does not match is refused and not kept: a CRC inside the file guards
// against damage, the hash against a swapped or altered file.
async function fetchBytes(entry, progress) {
  const key = `${entry.file}?sha256=${entry.sha256}`;
  const cache = await caches.open(CACHE);
  const cached = await cache.match(key);
  if (cached) {
    const bytes = new Uint8Array(await cached.arrayBuffer());
    if ((await sha256(bytes)) === entry.sha256) {
      progress(bytes.length);
      return bytes;
    }
    await cache.delete(key);
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
  if ((await sha256(bytes)) !== entry.sha256) {
    throw new Error(
      `${entry.file} is not the file this page lists (its SHA-256 differs), so it was not used. ` +
        "Something between this computer and the server changed it: reload to try again, or tell whoever runs this page.",
    );
  }
  await cache.put(key, new Response(bytes, { headers: { "content-type": "application/octet-stream" } }));
  // Older versions of the same file are dead weight.
  for (const request of await cache.keys()) {
    const url = new URL(request.url);
    if (url.pathname.endsWith(`/${entry.file}`) && !request.url.endsWith(key)) await cache.delete(request);
  }
  return bytes;
}

const userIndexKey = (language) => `user-terminology-${language}.idx`;

// The user's index for a language: its bytes, or {stale: true} when it was built on another
// version of the bundled index (the user must import again), or null when there is none.
async function userIndex(language, base) {
  const cache = await caches.open(TERMINOLOGY);
  const hit = await cache.match(userIndexKey(language));
  if (!hit) return null;
  if (hit.headers.get("x-base-sha256") !== (base?.sha256 ?? "")) return { stale: true };
  return { bytes: new Uint8Array(await hit.arrayBuffer()) };
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
  current = { modelBytes, indexBytes, index, backend, language: model.language };
  await start(started);
}

// (Re)starts the tagger from `current`, with the user's index for its language if there is one.
async function start(started) {
  if (tagger) tagger.free();
  tagger = null;
  let indexBytes = current.indexBytes;
  let terminology = null;
  if (indexBytes) {
    const mine = await userIndex(current.language, current.index);
    if (mine?.bytes) indexBytes = mine.bytes;
    const summary = indexSummary(indexBytes);
    terminology = { user: Boolean(mine?.bytes), stale: Boolean(mine?.stale), ...summary };
  }
  tagger = await Tagger.load(current.modelBytes, indexBytes, { backend: current.backend });
  postMessage({
    type: "ready",
    backend: tagger.backend,
    fallbackReason: tagger.fallbackReason ?? null,
    fallbackDetail: tagger.fallbackDetail ?? null,
    labels: tagger.labels,
    architecture: tagger.architecture,
    language: tagger.language,
    terminology,
    ms: performance.now() - started,
  });
}

// Builds the user's files into an index on top of the bundled one, keeps it, and restarts
// the tagger with it. A file that cannot be read stops the import with its name; the index in
// use stays as it was.
async function importTerminology({ files }) {
  if (!current?.indexBytes) throw new Error("this model has no concept index to add a terminology to");
  const started = performance.now();
  const importer = new IndexImport(current.indexBytes, undefined);
  let bytes;
  try {
    for (const [done, file] of files.entries()) {
      postMessage({ type: "import-progress", done, total: files.length + 1, message: `Reading ${file.name}…` });
      importer.addFile(file.name, new Uint8Array(file.bytes));
    }
    postMessage({ type: "import-progress", done: files.length, total: files.length + 1, message: "Building the index…" });
    bytes = importer.finish();
  } finally {
    importer.free();
  }
  const cache = await caches.open(TERMINOLOGY);
  await cache.put(userIndexKey(current.language), new Response(bytes, {
    headers: { "content-type": "application/octet-stream", "x-base-sha256": current.index?.sha256 ?? "" },
  }));
  await start(started);
}

async function removeTerminology() {
  if (!current) return;
  const cache = await caches.open(TERMINOLOGY);
  await cache.delete(userIndexKey(current.language));
  await start(performance.now());
}

onmessage = async ({ data }) => {
  try {
    // The page test's build defines this to make the wasm instance trap; no other does.
    await globalThis.clinitagTestHook?.(data);
    if (data.type === "load") {
      await load(data);
    } else if (data.type === "import") {
      await importTerminology(data);
    } else if (data.type === "remove-terminology") {
      await removeTerminology();
    } else if (data.type === "tag") {
      if (!tagger) throw new Error("no model is loaded yet");
      const started = performance.now();
      const progress = (done, total) => postMessage({ type: "tag-progress", id: data.id, done, total });
      const entities = await tagger.tag(data.text, progress);
      postMessage({ type: "tagged", id: data.id, entities, ms: performance.now() - started });
    }
  } catch (error) {
    // A trap (a panic, memory exhausted) leaves the wasm instance unusable: the page starts a
    // new worker. Any other error is the input's or a file's, and is only reported.
    const type = error instanceof WebAssembly.RuntimeError ? "crashed" : "error";
    postMessage({ type, id: data.id, message: String(error?.message ?? error) });
  }
};
