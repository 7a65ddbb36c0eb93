//! The browser API (wasm-bindgen). A thin edge: it turns JavaScript values into the crate's
//! types and back, picks the device, and turns every failure into a JavaScript `Error` with a
//! message. Nothing here panics on bad input; the panic hook only makes a bug readable.
//!
//! ```js
//! const tagger = await Tagger.load(modelBytes, indexBytes, { backend: "auto" });
//! tagger.backend;                        // "webgpu" or "cpu"
//! const entities = await tagger.tag(text);
//! text.slice(entities[0].start, entities[0].end) === entities[0].text;   // UTF-16 offsets
//! await tagger.tag(longText, (done, total) => bar.value = done / total);  // in parts
//! ```

use crate::models::{Model, Tagger};
use crate::normalize::{ConceptIndex, IndexBuilder, TermSelection, TerminologyImport};
use crate::pipeline::{Pipeline, PipelineOptions};
use crate::text::OffsetUnit;
use serde::{Deserialize, Serialize};
use std::fmt::Display;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

mod adapter;
mod backend;
use adapter::NoGpu;
use backend::{AutoRules, BackendChoice, Timings};

/// The most text one pass of the model reads by default, in UTF-16 code units: about 3,000
/// words, longer than most clinical notes. A longer text is tagged in parts of at most this
/// length, so that a megabyte reports its progress about fifty times and each pass's memory
/// stays bounded.
const DEFAULT_MAX_LENGTH: usize = 20_000;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** Options of `Tagger.load`. */
export interface LoadOptions {
  /** "auto" (on a hardware graphics adapter, whichever of WebGPU and the CPU tags a short
   *  text faster, see `timings`; the CPU where there is none or only a software one, such as
   *  SwiftShader; see `fallbackReason`), "webgpu" or "cpu". */
  backend?: "auto" | "webgpu" | "cpu";
  /** The most text one pass of the model reads, in UTF-16 code units (default 20,000). A
   *  longer text is tagged in parts of at most this length, cut at sentence ends, with the
   *  same entities and offsets as in one pass (only a sentence longer than a part is cut
   *  between words). */
  maxLength?: number;
  /** BERT models: most windows (a sentence, or part of a long one) per forward pass
   *  (default 32). */
  batchWindows?: number;
  /** With several models: their weights in the ensemble, in order (default: each model's
   *  own, which its file gives: 1 unless chosen otherwise on dev). */
  weights?: number[];
  /** "auto": also measure a software graphics adapter (SwiftShader, llvmpipe, WARP) against
   *  the CPU instead of refusing it (default false: such adapters are nearly always slower). */
  allowSoftwareAdapter?: boolean;
  /** "auto": the `timings` of an earlier load of the same model on the same adapter, to
   *  choose by instead of measuring again. */
  timings?: BackendTimings;
  /** Tag every other occurrence, in the same text, of a text found as an entity (default
   *  true): a model reads each sentence alone and may miss in one place the drug it found in
   *  another. Texts of fewer than three characters are never propagated. */
  propagate?: boolean;
  /** The language of the texts ("es", "en"): a model trained on several languages tags
   *  that language's entity types alone (default: every type it knows). A model of one
   *  language reads any text as its own. */
  language?: string;
}
/** Milliseconds a short text took to tag on each device, as "auto" measured them. */
export interface BackendTimings {
  cpu: number;
  webgpu: number;
}
/** A WebGPU adapter, as `graphicsAdapter()` describes it. */
export interface GraphicsAdapter {
  /** Its `GPUAdapterInfo`: vendor, architecture, device, description. */
  description: string;
  /** A software renderer, which "auto" refuses unless `allowSoftwareAdapter`. */
  software: boolean;
}
/** A SNOMED CT concept proposed for a mention. */
export interface ConceptMatch {
  id: string;
  preferred: string;
  /** In (0, 1]: how well the indexed term matches, times how often it names this concept. */
  score: number;
  /** "exact", "abbreviation", "crosslingual", "levenshtein", "fuzzy", "document" (a
   *  brand or abbreviation that the text itself pairs with a matched mention), "symbol"
   *  (a gene or protein symbol nothing matched, given `<null>`: no SNOMED CT concept) or
   *  "model" (the model's own concept: a dictionary's entries). */
  stage: string;
  /** The indexed term that matched, normalised. */
  term: string;
  /** Where that term came from: the index's sources that gave it for this concept. */
  sources: string[];
}
/** Options of `new IndexImport`. */
export interface ImportOptions {
  /** The index's language when there is no base index (default "es"). */
  language?: string;
  /** Term languages kept (default: the index's language and "en"). */
  languages?: string[];
  /** SNOMED CT semantic tags kept, e.g. ["substance"] (default: all). */
  semanticTags?: string[];
}
/** What an index holds (`indexSummary`). */
export interface IndexSummary {
  language: string;
  terms: number;
  concepts: number;
  abbreviations: number;
  /** The sources it was built from, in words. */
  sources: string[];
}
/** Called by `tag` after each part of the text: `done` of `total` UTF-16 code units. */
export type TagProgress = (done: number, total: number) => void;
/** A mention: `text.slice(start, end) === entity.text` (UTF-16 code units). The command
 *  line's JSON gives the same fields (`clinitag tag --offsets utf16`). */
export interface Entity {
  start: number;
  end: number;
  type: string;
  text: string;
  /** The lowest marginal probability among its tokens' tags (1 for dictionary models). */
  score: number;
  concept: ConceptMatch | null;
  /** What the text says about it: "no toma aspirina" makes aspirina `negated`. */
  assertion: "present" | "negated" | "possible" | "hypothetical" | "family" | "historical";
  /** The words that decided a non-present assertion (UTF-16 code units), or null. */
  cue: { start: number; end: number; text: string } | null;
}
"#;

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
    run_constructors_once();
}

/// Runs the module's static constructors (the `inventory` registrations of pliron, which
/// cubecl's WebGPU compiler reads) exactly once. A module that never calls
/// `__wasm_call_ctors` itself is linked by wasm-ld as a "command", which runs every
/// constructor again at the start of each exported function: each call from JavaScript into
/// the module: 342 of the Bi-LSTM-CRF's 410 ms on the page's case in Node.js, and
/// nearly all of the dictionary's. Called from `start` and from
/// [`BrowserTagger::load`] (test harnesses need not run `start`).
fn run_constructors_once() {
    use std::sync::atomic::{AtomicBool, Ordering};
    static DONE: AtomicBool = AtomicBool::new(false);
    unsafe extern "C" {
        fn __wasm_call_ctors();
    }
    if !DONE.swap(true, Ordering::Relaxed) {
        // SAFETY: wasm-ld synthesizes this function; the flag keeps it to one call per
        // instance, which is what the constructors expect.
        unsafe { __wasm_call_ctors() }
    }
}

fn js_error(error: impl Display) -> JsError {
    JsError::new(&error.to_string())
}

/// The bytes of one model file, or of each in an array of them.
fn model_files(value: &JsValue) -> Result<Vec<Vec<u8>>, JsError> {
    let bytes = |value: &JsValue| {
        value
            .dyn_ref::<js_sys::Uint8Array>()
            .map(js_sys::Uint8Array::to_vec)
            .ok_or_else(|| {
                js_error("the model must be a file's bytes (a Uint8Array) or an array of them")
            })
    };
    if js_sys::Array::is_array(value) {
        let files = js_sys::Array::from(value)
            .iter()
            .map(|v| bytes(&v))
            .collect::<Result<Vec<_>, _>>()?;
        if files.is_empty() {
            return Err(js_error("an empty list of models"));
        }
        Ok(files)
    } else {
        Ok(vec![bytes(value)?])
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LoadOptions {
    #[serde(default)]
    backend: BackendChoice,
    max_length: Option<usize>,
    batch_windows: Option<usize>,
    weights: Option<Vec<f32>>,
    allow_software_adapter: Option<bool>,
    timings: Option<Timings>,
    propagate: Option<bool>,
    language: Option<String>,
}

impl LoadOptions {
    const NAMES: [&str; 8] = [
        "backend",
        "maxLength",
        "batchWindows",
        "weights",
        "allowSoftwareAdapter",
        "timings",
        "propagate",
        "language",
    ];

    /// Reads the options object, refusing names it does not know: a misspelt option would
    /// otherwise be ignored without a word (serde-wasm-bindgen reads only the known ones).
    fn from_js(value: JsValue) -> Result<Self, JsError> {
        if value.is_undefined() || value.is_null() {
            return Ok(Self::default());
        }
        if let Some(object) = value.dyn_ref::<js_sys::Object>() {
            for key in js_sys::Object::keys(object).iter() {
                let key = key.as_string().unwrap_or_default();
                if !Self::NAMES.contains(&key.as_str()) {
                    return Err(js_error(format!(
                        "bad options: unknown option `{key}`, expected one of {}",
                        Self::NAMES.join(", ")
                    )));
                }
            }
        }
        serde_wasm_bindgen::from_value(value).map_err(bad_options)
    }
}

/// An options object that does not deserialise, said as "bad options: …".
fn bad_options(error: serde_wasm_bindgen::Error) -> JsError {
    // Its errors are JavaScript errors, whose text starts with "Error: ".
    let message = error.to_string();
    js_error(format!(
        "bad options: {}",
        message.trim_start_matches("Error: ")
    ))
}

/// Whether the browser offers a hardware WebGPU adapter (not a software one such as
/// SwiftShader): where it does, `backend: "auto"` computes on it, so the package's worker
/// loads the module that can. Never rejects; false outside a browser.
#[wasm_bindgen(js_name = hasHardwareAdapter)]
pub async fn has_hardware_adapter() -> bool {
    adapter::hardware_adapter().await.is_ok()
}

/// The browser's default WebGPU adapter (`{description, software}`), or null where there is
/// none: which adapter `backend: "auto"` would measure, to remember its choice by. Never
/// rejects.
#[wasm_bindgen(js_name = graphicsAdapter, unchecked_return_type = "GraphicsAdapter | null")]
pub async fn graphics_adapter() -> JsValue {
    adapter::graphics_adapter()
        .await
        .ok()
        .and_then(|adapter| serde_wasm_bindgen::to_value(&adapter).ok())
        .unwrap_or(JsValue::NULL)
}

struct State {
    pipeline: Pipeline,
    backend: &'static str,
    fallback: Option<NoGpu>,
    timings: Option<Timings>,
}

/// A tagger with its model on a device and, optionally, a concept index: JavaScript's
/// `Tagger`, a door over [`Pipeline`].
#[wasm_bindgen(js_name = Tagger)]
pub struct BrowserTagger {
    state: Rc<State>,
}

#[wasm_bindgen(js_class = Tagger)]
impl BrowserTagger {
    /// Loads a model (the bytes of a `.clinitag` or dictionary `.json` file, or an array of
    /// several neural models' bytes, which then tag as an ensemble) and, optionally, a concept
    /// index (`.idx`). Rejects with a message when a file is damaged or of another kind, when
    /// models cannot be combined, or when `backend: "webgpu"` is asked for and the browser
    /// cannot provide it.
    pub async fn load(
        #[wasm_bindgen(unchecked_param_type = "Uint8Array | Uint8Array[]")] model: JsValue,
        index: Option<Vec<u8>>,
        #[wasm_bindgen(unchecked_param_type = "LoadOptions | undefined")] options: JsValue,
    ) -> Result<BrowserTagger, JsError> {
        run_constructors_once();
        let options = LoadOptions::from_js(options)?;
        let files = model_files(&model)?;
        if let Some(weights) = options.weights.as_ref().filter(|w| w.len() != files.len()) {
            return Err(js_error(format!(
                "bad options: {} weights for {} models",
                weights.len(),
                files.len()
            )));
        }
        let index = match index {
            Some(bytes) => Some(ConceptIndex::from_bytes(&bytes).map_err(js_error)?),
            None => None,
        };
        // Parsed and validated on the CPU first: a damaged file fails before any GPU work,
        // and the CRF's scores are read back synchronously there.
        let read = || {
            let mut members = Vec::with_capacity(files.len());
            for bytes in &files {
                let mut model = Model::from_bytes(bytes)?;
                if let (Model::Bert(bert), Some(windows)) = (&mut model, options.batch_windows) {
                    bert.set_batch_windows(windows);
                }
                if let Some(language) = &options.language {
                    model.set_language(language)?;
                }
                members.push(model);
            }
            Model::ensemble(members, options.weights.as_deref())
        };
        let rules = AutoRules {
            allow_software_adapter: options.allow_software_adapter.unwrap_or(false),
            known: options.timings,
        };
        let placed = backend::place(read, options.backend, rules)
            .await
            .map_err(js_error)?;
        let pipeline_options = PipelineOptions {
            propagate: options.propagate.unwrap_or(true),
            max_part_length: Some(options.max_length.unwrap_or(DEFAULT_MAX_LENGTH)),
            // wasm-bindgen replaced any lone surrogate with U+FFFD, which is also one UTF-16
            // code unit long, so offsets still count in the caller's string.
            offsets: OffsetUnit::Utf16,
        };
        Ok(BrowserTagger {
            state: Rc::new(State {
                pipeline: Pipeline::new(placed.model, index, pipeline_options),
                backend: placed.backend,
                fallback: placed.fallback,
                timings: placed.timings,
            }),
        })
    }

    /// Where the model computes: `"webgpu"` or `"cpu"`.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.state.backend.to_string()
    }

    /// Why `backend: "auto"` kept to the CPU, if it did, in words for the person at the page:
    /// no WebGPU, no adapter, only a software one (which is slower than the CPU), or the CPU
    /// measured faster than the graphics adapter.
    #[wasm_bindgen(getter, js_name = fallbackReason)]
    pub fn fallback_reason(&self) -> Option<String> {
        self.state.fallback.as_ref().map(|why| why.reason.clone())
    }

    /// The technical detail behind `fallbackReason`: the adapter's `GPUAdapterInfo`, or
    /// wgpu's error.
    #[wasm_bindgen(getter, js_name = fallbackDetail)]
    pub fn fallback_detail(&self) -> Option<String> {
        self.state.fallback.as_ref().map(|why| why.detail.clone())
    }

    /// What `backend: "auto"` chose by on a graphics adapter: the milliseconds a short text
    /// took on each device (`{cpu, webgpu}`), measured at this load or given in
    /// `LoadOptions.timings`; undefined where nothing was measured.
    #[wasm_bindgen(getter, unchecked_return_type = "BackendTimings | undefined")]
    pub fn timings(&self) -> JsValue {
        self.state
            .timings
            .and_then(|timings| serde_wasm_bindgen::to_value(&timings).ok())
            .unwrap_or(JsValue::UNDEFINED)
    }

    /// The language the model was trained for (`"es"`, `"en"`).
    #[wasm_bindgen(getter)]
    pub fn language(&self) -> String {
        self.state.pipeline.model().language().to_string()
    }

    /// The model's architecture: `"bilstm-crf"`, `"bert"`, `"dictionary"` or `"ensemble"`.
    #[wasm_bindgen(getter)]
    pub fn architecture(&self) -> String {
        self.state.pipeline.model().architecture().to_string()
    }

    /// The entity types the model finds.
    #[wasm_bindgen(getter)]
    pub fn labels(&self) -> Vec<String> {
        self.state.pipeline.model().labels()
    }

    /// The entities of `text`, in text order, with UTF-16 offsets. Empty or blank text has
    /// none. A text longer than `maxLength` is tagged in parts cut at sentence ends;
    /// `onProgress(done, total)`, if given, is called after each part (and once for a text
    /// of one part). An error it throws stops the tagging and rejects with it.
    #[wasm_bindgen(unchecked_return_type = "Promise<Entity[]>")]
    pub fn tag(
        &self,
        text: String,
        #[wasm_bindgen(js_name = onProgress, unchecked_param_type = "TagProgress | undefined")]
        on_progress: Option<js_sys::Function>,
    ) -> js_sys::Promise {
        let state = Rc::clone(&self.state);
        wasm_bindgen_futures::future_to_promise(async move { state.tag(text, on_progress).await })
    }
}

impl State {
    async fn tag(
        &self,
        text: String,
        on_progress: Option<js_sys::Function>,
    ) -> Result<JsValue, JsValue> {
        let progress = |done: usize, total: usize| match &on_progress {
            Some(on_progress) => on_progress
                .call2(&JsValue::NULL, &done.into(), &total.into())
                .map(drop)
                .map_err(Thrown),
            None => Ok(()),
        };
        let mentions = self
            .pipeline
            .tag_async(&text, progress)
            .await
            .map_err(|Thrown(error)| error)?;
        let serializer = serde_wasm_bindgen::Serializer::new().serialize_missing_as_null(true);
        Ok(mentions.serialize(&serializer).map_err(js_error)?)
    }
}

/// What stopped a tagging: an error that `onProgress` threw, passed on as it is, or the
/// pipeline's own, as a JavaScript `Error`.
struct Thrown(JsValue);

impl From<crate::error::Error> for Thrown {
    fn from(error: crate::error::Error) -> Self {
        Thrown(js_error(error).into())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WebImportOptions {
    language: Option<String>,
    #[serde(default)]
    languages: Vec<String>,
    #[serde(default)]
    semantic_tags: Vec<String>,
}

/// The user's own terminology made into a concept index, on their machine: the files (an
/// RF2 release zip or its files, FHIR CodeSystems or ValueSets) are added one at a time, so
/// that the page can report progress between them, onto the shipped index if one is given.
///
/// ```js
/// const importer = new IndexImport(shippedIndexBytes, { semanticTags: ["substance"] });
/// importer.addFile(file.name, new Uint8Array(await file.arrayBuffer()));
/// const indexBytes = importer.finish();   // for Tagger.load
/// ```
#[wasm_bindgen]
pub struct IndexImport {
    import: Option<TerminologyImport>,
}

#[wasm_bindgen]
impl IndexImport {
    #[wasm_bindgen(constructor)]
    pub fn new(
        base: Option<Vec<u8>>,
        #[wasm_bindgen(unchecked_param_type = "ImportOptions | undefined")] options: JsValue,
    ) -> Result<IndexImport, JsError> {
        let options: WebImportOptions = if options.is_undefined() || options.is_null() {
            WebImportOptions::default()
        } else {
            serde_wasm_bindgen::from_value(options).map_err(bad_options)?
        };
        let base = match base {
            Some(bytes) => Some(ConceptIndex::from_bytes(&bytes).map_err(js_error)?),
            None => None,
        };
        let language = match (&base, options.language) {
            (Some(base), Some(language)) if base.summary().language != language => {
                return Err(js_error(format!(
                    "bad options: the base index is for '{}', not '{language}'",
                    base.summary().language
                )))
            }
            (Some(base), _) => base.summary().language.clone(),
            (None, language) => language.unwrap_or_else(|| "es".to_string()),
        };
        let mut builder = IndexBuilder::new(&language);
        if let Some(base) = &base {
            builder.matcher_config(base.summary().matcher);
            builder.entity_types(&base.summary().entity_types);
            builder.add_index(base);
        }
        let selection = TermSelection {
            languages: options.languages,
            semantic_tags: options.semantic_tags,
        };
        Ok(IndexImport {
            import: Some(TerminologyImport::new(builder, selection)),
        })
    }

    /// Adds one file; returns what it added, in words. A file that is neither RF2 nor FHIR,
    /// or is damaged, is refused with its name, and the files added before it stay.
    #[wasm_bindgen(js_name = addFile)]
    pub fn add_file(&mut self, name: &str, bytes: &[u8]) -> Result<String, JsError> {
        let import = self.import.as_mut().ok_or_else(finished)?;
        import.add_file(name, bytes).map_err(js_error)
    }

    /// The index file's bytes, with every file added; the import is done after it.
    pub fn finish(&mut self) -> Result<Vec<u8>, JsError> {
        let import = self.import.take().ok_or_else(finished)?;
        let index = import
            .finish()
            .map_err(js_error)?
            .build()
            .map_err(js_error)?;
        Ok(index.to_bytes())
    }
}

fn finished() -> JsError {
    js_error("this import is finished: start a new IndexImport")
}

/// What an index file holds: its language, size and sources. Rejects a damaged file.
#[wasm_bindgen(js_name = indexSummary, unchecked_return_type = "IndexSummary")]
pub fn index_summary(bytes: &[u8]) -> Result<JsValue, JsError> {
    let index = ConceptIndex::from_bytes(bytes).map_err(js_error)?;
    let summary = index.summary();
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    serde_json::json!({
        "language": summary.language,
        "terms": summary.terms,
        "concepts": summary.concepts,
        "abbreviations": summary.abbreviations,
        "sources": summary.sources,
    })
    .serialize(&serializer)
    .map_err(js_error)
}
