//! The Bi-LSTM-CRF tagger (extended NeuroNER): [`BiLstmCrfTagger`] tags, loads and stores
//! around the network in [`network`], a pure burn module on a runtime `Device`.

pub(crate) mod features;
mod header;
pub(crate) mod network;
mod tagger;

pub use features::{word_key, Affix, Lexicon, Vocabulary};
pub use header::Header;
pub(crate) use header::KIND;
pub use network::NetworkConfig;
pub use tagger::BiLstmCrfTagger;
