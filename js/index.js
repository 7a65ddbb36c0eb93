// clinitag for the browser: `createTagger` runs the tagger in a Web Worker of its own, so the
// page stays responsive while a model downloads, loads and tags. Clinical text never leaves
// the machine. The raw wasm-bindgen bindings, same-thread, are `clinitag/raw`.

// A model or index given as a URL (resolved against the page) or as bytes, as the worker
// takes it. Bytes are copied, so the caller's buffer stays usable.
function source(value, what) {
  if (typeof value === "string" || value instanceof URL) {
    return { url: new URL(value, globalThis.location?.href).href };
  }
  if (value instanceof ArrayBuffer) return { bytes: value.slice(0) };
  if (ArrayBuffer.isView(value)) {
    return { bytes: value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength) };
  }
  throw new TypeError(`${what} must be a URL or bytes (ArrayBuffer or Uint8Array)`);
}

// Requests to the worker and their replies, matched by id.
class Connection {
  constructor(worker) {
    this.worker = worker;
    this.pending = new Map();
    this.next = 0;
    this.failure = null;
    worker.onmessage = ({ data }) => {
      const request = this.pending.get(data.id);
      if (!request) return;
      if (data.type === "progress") {
        request.onProgress?.(data);
        return;
      }
      this.pending.delete(data.id);
      if (data.type === "done") {
        request.resolve(data.result);
      } else if (data.crashed) {
        // The wasm instance trapped (a panic, memory exhausted): this tagger is done for.
        const error = new Error(`clinitag stopped unexpectedly (${data.message}); create a new tagger`);
        this.fail(Object.assign(error, { crashed: true, reason: data.message }));
        request.reject(this.failure);
      } else {
        request.reject(new Error(data.message));
      }
    };
    // The worker script could not start (a missing file, a blocked module).
    worker.onerror = (event) => {
      event.preventDefault?.();
      const reason = event.message || "its worker could not start";
      this.fail(Object.assign(new Error(`clinitag stopped unexpectedly (${reason})`), { crashed: true, reason }));
    };
  }

  request(message, onProgress, transfer = []) {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onProgress });
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  // Ends every pending and later request with `error`.
  fail(error) {
    this.failure ??= error;
    for (const request of this.pending.values()) request.reject(this.failure);
    this.pending.clear();
  }
}

class WorkerTagger {
  #connection;

  constructor(connection, info) {
    this.#connection = connection;
    this.#describe(info);
  }

  #describe(info) {
    /** "webgpu" or "cpu". */
    this.backend = info.backend;
    /** Why "auto" kept to the CPU, in words for the person at the page (null otherwise). */
    this.fallbackReason = info.fallbackReason;
    /** The technical detail behind `fallbackReason`. */
    this.fallbackDetail = info.fallbackDetail;
    /** What "auto" chose by on a graphics adapter: milliseconds on each device (null where
     *  nothing was measured). */
    this.timings = info.timings;
    this.language = info.language;
    this.architecture = info.architecture;
    this.labels = info.labels;
    /** What the concept index in use holds (`IndexSummary`), or null without one. */
    this.index = info.index;
  }

  /** Loads another model (or models) and index, with `createTagger`'s settings, in the same
   *  worker: the WebAssembly module is not compiled again. Until it is ready the tagger in use
   *  goes on; if it fails, that one stays. */
  async load(settings = {}) {
    const info = await this.#connection.request(loadRequest(settings, "load"), downloadProgress(settings.onProgress));
    this.#describe(info);
    return this;
  }

  /** The entities of `text`, with UTF-16 offsets: `text.slice(e.start, e.end) === e.text`. */
  tag(text, { onProgress } = {}) {
    if (typeof text !== "string") return Promise.reject(new TypeError("tag() takes a string"));
    const progress = onProgress && ((p) => onProgress(p.done, p.total));
    return this.#connection.request({ type: "tag", text }, progress);
  }

  /** Tags with another concept index (bytes), or none (null); the model stays loaded. A
   *  damaged index is refused and the one in use stays. */
  async useIndex(index) {
    const bytes = index == null ? null : source(index, "index").bytes;
    if (index != null && !bytes) throw new TypeError("useIndex takes the index's bytes");
    const info = await this.#connection.request({ type: "use-index", index: bytes });
    this.index = info.index;
    return this.index;
  }

  /** A concept index built from terminology files (a SNOMED CT RF2 release zip or its .txt
   *  files, FHIR CodeSystem or ValueSet JSON), on top of `base` (bytes) where given: its
   *  bytes, to keep and pass to `useIndex`. `onProgress(done, total, message)` after each
   *  file. A file that cannot be read is refused with its name. */
  buildIndex(files, { base = null, options, onProgress } = {}) {
    const message = {
      type: "build-index",
      base: base == null ? null : source(base, "base").bytes,
      files: files.map((f) => ({ name: f.name, bytes: source(f.bytes, f.name).bytes })),
      options,
    };
    const progress = onProgress && ((p) => onProgress(p.done, p.total, p.message));
    const transfer = message.files.map((f) => f.bytes);
    return this.#connection.request(message, progress, transfer);
  }

  /** Stops the worker and frees its memory; later calls are refused. */
  close() {
    this.#connection.fail(new Error("this tagger is closed"));
    this.#connection.worker.terminate();
  }
}

/**
 * Starts a tagger in its own worker and loads a model, or several that tag as an ensemble
 * (and, optionally, a concept index).
 * Rejects with a message when a file cannot be downloaded, is damaged or is of another kind.
 */
export async function createTagger({ workerUrl, ...settings } = {}) {
  const message = loadRequest(settings, "createTagger");
  const worker = new Worker(workerUrl ?? new URL("./worker.js", import.meta.url), { type: "module" });
  const connection = new Connection(worker);
  try {
    return new WorkerTagger(connection, await connection.request(message, downloadProgress(settings.onProgress)));
  } catch (error) {
    worker.terminate();
    throw error;
  }
}

// The worker's "load" request for `createTagger`'s or `load`'s settings.
function loadRequest({ model, index = null, backend = "auto", maxLength, batchWindows, weights, allowSoftwareAdapter, propagate, language }, caller) {
  if (model == null) throw new TypeError(`${caller} needs a model: its URL or its bytes`);
  return {
    type: "load",
    // Several models tag as an ensemble.
    model: Array.isArray(model) ? model.map((m) => source(m, "model")) : source(model, "model"),
    index: index == null ? null : source(index, "index"),
    options: { backend, maxLength, batchWindows, weights, allowSoftwareAdapter, propagate, language },
  };
}

const downloadProgress = (onProgress) => onProgress && ((p) => onProgress(p.loaded, p.total));
