//! Taggers. Each takes a text with its segmentation and returns entities (byte offsets).
//! Models load from bytes, never from paths, so the browser build loads them the same way.
//!
//! One folder or file an architecture ([`bert`], [`bilstm_crf`], [`dictionary`]), their
//! [`ensemble`], and [`Model`], which is any of them as loaded from a file. What they share
//! sits beside them: [`tagger`] (the [`Tagger`] trait and its helpers) and [`precision`]
//! (the model file, its precisions and the 8-bit products).

pub mod bert;
pub mod bilstm_crf;
pub mod dictionary;
pub mod embeddings;
pub mod ensemble;
pub mod lstm;
mod model;
pub mod precision;
#[cfg(test)]
pub(crate) mod random;
pub mod tagger;
#[cfg(not(target_arch = "wasm32"))]
pub mod training;

pub use bert::BertTagger;
pub use bilstm_crf::BiLstmCrfTagger;
pub use dictionary::DictionaryTagger;
pub use ensemble::Ensemble;
pub use model::{load, Model};
pub use precision::{repack, stored_sizes, with_ensemble_weight, Precision, INT8_BLOCK};
pub use tagger::{sentence_words, Tagger};
