//! File formats: BRAT standoff, PharmaCoNER subtrack 2 TSV, CoNLL and JSON.
//!
//! Parsers take text and a name for error messages and never touch the file system, so the
//! wasm build shares them; [`corpus`] (native only) reads and writes folders.

pub mod brat;
pub mod conll;
pub mod indexing;
pub mod json;

#[cfg(not(target_arch = "wasm32"))]
pub mod corpus;
