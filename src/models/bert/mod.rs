//! The BERT token classifier: [`BertTagger`] tags, loads and stores around the network in
//! [`network`], a pure burn module on a runtime `Device`.
//!
//! Words come from the crate's own segmentation (so that entities start and end on the same
//! token boundaries as the gold annotations and the other models); each word is cut into
//! WordPiece pieces by the HuggingFace tokenizer of the encoder ([`pieces`]), and the tag
//! scores of a word are those of its first piece. A sentence longer than a window is read in
//! overlapping windows, and each word takes its scores from the window where it has the most
//! context on both sides, so nothing is ever truncated.

mod header;
pub(crate) mod network;
pub(crate) mod pieces;
mod tagger;

pub use header::Header;
pub(crate) use header::KIND;
pub use network::{BertConfig, BertTokenClassifier, Encoder, PieceBatch};
pub use pieces::{Window, WordPieces};
pub use tagger::BertTagger;
