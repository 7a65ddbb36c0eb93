//! clinitag: biomedical named-entity recognition and SNOMED CT normalization for Spanish
//! clinical and English biomedical text, built to run inside the browser.
//!
//! A [`Pipeline`] holds a [`Model`] (one, or an ensemble), an optional [`ConceptIndex`] and
//! its [`PipelineOptions`], and turns a text into [`Mention`]s: each entity's offsets in the
//! caller's unit, its type, score and SNOMED CT concept. The command line, the browser module
//! and the npm package are thin doors over it.
//!
//! ```
//! use clinitag::{ConceptIndex, Model, Pipeline, PipelineOptions};
//!
//! let model = Model::from_bytes(&std::fs::read("models/bilstm-crf-es.clinitag")?)?;
//! let index = ConceptIndex::from_bytes(&std::fs::read("models/snomed-es.idx")?)?;
//! let pipeline = Pipeline::new(model, Some(index), PipelineOptions::default());
//!
//! let text = "Se pautó paracetamol 1 g cada 8 horas.";
//! let mentions = pipeline.tag(text)?;
//! let paracetamol = &mentions[0];
//! assert_eq!((paracetamol.text.as_str(), paracetamol.label.as_str()), ("paracetamol", "NORMALIZABLES"));
//! // Offsets count characters by default (`PipelineOptions::offsets`).
//! let chars: Vec<char> = text.chars().collect();
//! assert_eq!(chars[paracetamol.start..paracetamol.end].iter().collect::<String>(), "paracetamol");
//! println!("{:?}", paracetamol.concept.as_ref().map(|c| (&c.id, &c.preferred)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Beyond the pipeline: [`formats`] reads and writes BRAT, CoNLL, JSON and PharmaCoNER TSV
//! files; [`eval`] is the official PharmaCoNER scorer and conlleval; [`normalize`] builds
//! concept indexes from SNOMED CT releases and FHIR files; [`models`] loads the taggers and
//! [`training`] trains them.

pub mod assertion;
mod container;
pub mod decoding;
pub mod document;
pub mod error;
pub mod eval;
pub mod formats;
pub mod models;
pub mod normalize;
mod pipeline;
pub mod tagging;
pub mod text;
#[cfg(not(target_arch = "wasm32"))]
pub mod training;
#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use document::{Assertion, ConceptMatch, Cue, Document, Entity, Mention};
pub use error::{Error, Result};
pub use models::Model;
pub use normalize::ConceptIndex;
pub use pipeline::{Pipeline, PipelineOptions};
pub use text::OffsetUnit;
