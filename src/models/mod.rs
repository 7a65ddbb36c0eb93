//! Taggers. Each takes a text with its segmentation and returns entities (byte offsets).
//! Models load from bytes, never from paths, so the browser build loads them the same way;
//! training them lives apart, in [`crate::training`].
//!
//! One folder or file an architecture ([`bert`], [`bilstm_crf`], [`dictionary`]), their
//! [`ensemble`], and [`Model`], which is any of them as loaded from a file. What they share
//! sits beside them: [`tagger`] (the [`Tagger`] trait and its helpers), `neural` (the
//! [`NeuralTagger`] trait: the model file, emissions in batches, asynchronous read-back) and
//! [`precision`] (the model file's precisions and the 8-bit products).

pub mod bert;
pub mod bilstm_crf;
pub mod dictionary;
pub mod ensemble;
pub(crate) mod lstm;
mod model;
mod neural;
pub mod precision;
#[cfg(test)]
pub(crate) mod random;
pub mod tagger;

pub use bert::BertTagger;
pub use bilstm_crf::BiLstmCrfTagger;
pub use dictionary::DictionaryTagger;
pub use ensemble::Ensemble;
pub use model::{load, Model};
pub use neural::NeuralTagger;
pub use precision::{repack, stored_sizes, with_ensemble_weight, Precision, INT8_BLOCK};
pub use tagger::{sentence_words, Tagger};
