//! clinitag: biomedical named-entity recognition and SNOMED CT normalization for Spanish
//! clinical and English biomedical text, built to run inside the browser.
//!
//! The crate is organised by concern: [`text`] (tokens, sentences, offsets), [`tagging`]
//! (BIO, BIOES and BMEWO-V schemes), [`models`] (taggers), [`normalize`] (SNOMED CT concept
//! index and matcher), [`formats`] (BRAT, CoNLL, JSON,
//! PharmaCoNER TSV), and [`eval`] (the official PharmaCoNER scorer and conlleval). The
//! command line in `src/main.rs` and the browser API in `wasm` (wasm32 builds only) only
//! translate to and from these.

mod container;
pub mod decoding;
pub mod document;
pub mod error;
pub mod eval;
pub mod formats;
pub mod models;
pub mod normalize;
pub mod tagging;
pub mod text;
#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use document::{Document, Entity};
pub use error::{Error, Result};
