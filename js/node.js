// clinitag for Node.js 20+: the same `createTagger` as in the browser, on the CPU and in the
// calling thread (a server that must keep clinical text on its premises gets the same
// entities as the page). Models and indexes are bytes, file paths, or file: or http(s): URLs.

import { readFile } from "node:fs/promises";
import init, { IndexImport, Tagger, indexSummary } from "./clinitag.js";

let ready = null;

// The wasm module, instantiated once from the package's own file.
function start() {
  ready ??= readFile(new URL("./clinitag_bg.wasm", import.meta.url)).then((bytes) => init({ module_or_path: bytes }));
  return ready;
}

async function bytesOf(value, what) {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === "string" || value instanceof URL) {
    const url = URL.canParse?.(value) ? new URL(value) : null;
    if (url?.protocol === "http:" || url?.protocol === "https:") {
      const response = await fetch(url);
      if (!response.ok) throw new Error(`cannot download ${url}: HTTP ${response.status}`);
      return new Uint8Array(await response.arrayBuffer());
    }
    try {
      return await readFile(url?.protocol === "file:" ? url : value);
    } catch (error) {
      throw new Error(`cannot read the ${what} ${value}: ${error.message}`);
    }
  }
  throw new TypeError(`${what} must be bytes, a file path or a URL`);
}

class NodeTagger {
  #tagger;
  #from;

  constructor(tagger, from) {
    this.#adopt(tagger, from);
  }

  #adopt(tagger, from) {
    this.#tagger = tagger;
    this.#from = from;
    this.backend = tagger.backend;
    this.fallbackReason = tagger.fallbackReason ?? null;
    this.fallbackDetail = tagger.fallbackDetail ?? null;
    this.timings = tagger.timings ?? null;
    this.language = tagger.language;
    this.architecture = tagger.architecture;
    this.labels = tagger.labels;
    /** What the concept index in use holds (`IndexSummary`), or null without one. */
    this.index = from.indexBytes ? indexSummary(from.indexBytes) : null;
  }

  /** Loads another model (or models) and index with `createTagger`'s settings; the tagger in
   *  use stays if that fails. */
  async load(settings = {}) {
    if (!this.#tagger) throw new Error("this tagger is closed");
    const [tagger, from] = await loadTagger(settings, "load");
    this.#tagger.free();
    this.#adopt(tagger, from);
    return this;
  }

  /** The entities of `text`, with UTF-16 offsets: `text.slice(e.start, e.end) === e.text`. */
  async tag(text, { onProgress } = {}) {
    if (!this.#tagger) throw new Error("this tagger is closed");
    if (typeof text !== "string") throw new TypeError("tag() takes a string");
    return this.#tagger.tag(text, onProgress);
  }

  /** Tags with another concept index (bytes or a path), or none (null); a damaged index is
   *  refused and the one in use stays. */
  async useIndex(index) {
    if (!this.#tagger) throw new Error("this tagger is closed");
    const indexBytes = index == null ? undefined : await bytesOf(index, "index");
    const summary = indexBytes ? indexSummary(indexBytes) : null;
    const { modelBytes, options } = this.#from;
    const tagger = await Tagger.load(modelBytes, indexBytes, options);
    this.#tagger.free();
    this.#tagger = tagger;
    this.#from = { ...this.#from, indexBytes };
    this.index = summary;
    return summary;
  }

  /** A concept index built from terminology files ({name, bytes}: RF2, FHIR) on top of
   *  `base` where given: its bytes, for `useIndex`. */
  async buildIndex(files, { base = null, options, onProgress } = {}) {
    const baseBytes = base == null ? undefined : await bytesOf(base, "base index");
    const importer = new IndexImport(baseBytes, options);
    try {
      for (const [done, file] of files.entries()) {
        onProgress?.(done, files.length + 1, `Reading ${file.name}…`);
        importer.addFile(file.name, await bytesOf(file.bytes, file.name));
      }
      onProgress?.(files.length, files.length + 1, "Building the index…");
      return importer.finish();
    } finally {
      importer.free();
    }
  }

  /** Frees the model's memory; later calls are refused. */
  close() {
    this.#tagger?.free();
    this.#tagger = null;
  }
}

/**
 * Loads a model, or several that tag as an ensemble (and, optionally, a concept index), on
 * the CPU. Rejects with a message when a file cannot be read, is damaged or is of another
 * kind.
 */
export async function createTagger(settings = {}) {
  return new NodeTagger(...(await loadTagger(settings, "createTagger")));
}

// A wasm tagger for `createTagger`'s settings, and what it was made from.
async function loadTagger({ model, index = null, backend = "auto", maxLength, batchWindows, weights, propagate, language, onProgress }, caller) {
  if (model == null) throw new TypeError(`${caller} needs a model: its bytes, path or URL`);
  // Several models tag as an ensemble.
  const [modelBytes, indexBytes] = await Promise.all([
    Array.isArray(model) ? Promise.all(model.map((m) => bytesOf(m, "model"))) : bytesOf(model, "model"),
    index == null ? undefined : bytesOf(index, "index"),
  ]);
  const loaded = [modelBytes].flat().reduce((sum, m) => sum + m.length, 0) + (indexBytes?.length ?? 0);
  onProgress?.(loaded, loaded);
  await start();
  const options = { backend, maxLength, batchWindows, weights, propagate, language };
  return [await Tagger.load(modelBytes, indexBytes, options), { modelBytes, indexBytes, options }];
}
