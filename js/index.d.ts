// Types of clinitag's API, `createTagger`, in the browser (a Web Worker) and in Node.js (the
// calling thread). The raw wasm-bindgen bindings it is built on are `clinitag/raw`
// (clinitag.d.ts, written by wasm-bindgen from the Rust crate).

import type { BackendTimings, Entity, ImportOptions, IndexSummary, LoadOptions } from "./clinitag.js";

export type { BackendTimings, ConceptMatch, Entity, GraphicsAdapter, ImportOptions, IndexSummary, LoadOptions, TagProgress } from "./clinitag.js";

/** A model or index file: its URL (browser: resolved against the page; Node.js: a file path,
 *  or a file:, http: or https: URL) or its bytes. */
export type FileSource = string | URL | ArrayBuffer | ArrayBufferView;

export interface CreateTaggerOptions {
  /** A model file: `.clinitag`, or a dictionary `.json`. Several neural models (same
   *  language and entity types) tag as an ensemble: their tag probabilities averaged. */
  model: FileSource | FileSource[];
  /** A SNOMED CT concept index (`.idx`): entities then carry a `concept`. */
  index?: FileSource | null;
  /** "auto" (default: on a hardware graphics adapter, whichever of WebGPU and the CPU tagged
   *  a short text faster at the first load of this model there, remembered in the browser's
   *  IndexedDB; else the CPU; see `fallbackReason` and `timings`), "webgpu" or "cpu".
   *  Node.js always computes on the CPU. */
  backend?: LoadOptions["backend"];
  /** "auto": also measure a software graphics adapter (SwiftShader, llvmpipe, WARP) against
   *  the CPU instead of refusing it (default false). */
  allowSoftwareAdapter?: boolean;
  /** The most text one pass reads, in UTF-16 code units (default 20,000); longer texts are
   *  tagged in parts with the same entities. */
  maxLength?: number;
  /** BERT models: most windows per forward pass (default 32). */
  batchWindows?: number;
  /** With several models: their weights in the ensemble, in order (default: each model's
   *  own, which its file gives: 1 unless chosen otherwise on dev). */
  weights?: number[];
  /** Tag every other occurrence, in the same text, of a text found as an entity (default
   *  true). */
  propagate?: LoadOptions["propagate"];
  /** The language of the texts: a model trained on several languages tags that language's
   *  entity types alone (default: every type it knows). */
  language?: LoadOptions["language"];
  /** Bytes of the model and index received so far, of `total` (0 when a server gives no
   *  length). */
  onProgress?: (loaded: number, total: number) => void;
  /** Browser only: where the package's worker.js is served, where a bundler moved it. */
  workerUrl?: string | URL;
}

export interface TagOptions {
  /** Called after each part of a long text: `done` of `total` UTF-16 code units. */
  onProgress?: (done: number, total: number) => void;
}

export interface ClinitagTagger {
  /** Where the model computes. */
  readonly backend: "webgpu" | "cpu";
  /** Why "auto" kept to the CPU, in words for the person at the page; null otherwise. */
  readonly fallbackReason: string | null;
  /** The technical detail behind `fallbackReason`. */
  readonly fallbackDetail: string | null;
  /** What "auto" chose by on a graphics adapter: milliseconds a short text took on each
   *  device, measured at the first load of this model on this adapter; null otherwise. */
  readonly timings: BackendTimings | null;
  /** The model's language: "es" or "en". */
  readonly language: string;
  /** "bilstm-crf", "bert", "dictionary", or "ensemble" (several models given). */
  readonly architecture: string;
  /** The entity types the model finds. */
  readonly labels: string[];
  /** What the concept index in use holds, or null without one. */
  readonly index: IndexSummary | null;
  /** The entities of `text`: `text.slice(e.start, e.end) === e.text` (UTF-16 code units). */
  tag(text: string, options?: TagOptions): Promise<Entity[]>;
  /** Loads another model (or models) and index with `createTagger`'s settings, in place: in
   *  the browser, the same worker, without compiling the WebAssembly module again. The
   *  tagger in use goes on until the new one is ready, and stays if loading fails. */
  load(settings: CreateTaggerOptions): Promise<this>;
  /** Tags with another concept index, or none (null); the model stays loaded. A damaged
   *  index is refused and the one in use stays. */
  useIndex(index: ArrayBuffer | ArrayBufferView | null): Promise<IndexSummary | null>;
  /** A concept index built from terminology files (a SNOMED CT RF2 release zip or its .txt
   *  files; FHIR CodeSystem or ValueSet JSON) on top of `base` where given: its bytes, to
   *  keep and pass to `useIndex`. A file that cannot be read is refused with its name. */
  buildIndex(
    files: { name: string; bytes: ArrayBuffer | ArrayBufferView }[],
    options?: { base?: ArrayBuffer | ArrayBufferView | null; options?: ImportOptions; onProgress?: (done: number, total: number, message: string) => void },
  ): Promise<Uint8Array>;
  /** Stops the tagger and frees its memory; later calls are refused. */
  close(): void;
}

/** Starts a tagger (in the browser, in a Web Worker of its own) with a model and, optionally,
 *  a concept index. Rejects with a message when a file cannot be fetched, is damaged or is of
 *  another kind. */
export function createTagger(options: CreateTaggerOptions): Promise<ClinitagTagger>;
