//! Taggers. Each takes a text with its segmentation and returns entities (byte offsets).
//! Models load from bytes, never from paths, so the browser build loads them the same way.

pub mod bilstm_crf;
pub mod dictionary;
pub mod embeddings;
pub mod lstm;

use crate::container::Kind;
use crate::document::Entity;
use crate::error::{Error, Result};
use crate::text::Segmentation;

pub use bilstm_crf::BiLstmCrfTagger;
pub use dictionary::DictionaryTagger;

/// Anything that finds entities in segmented text.
pub trait Tagger {
    /// Entities in `text`, which `segmentation` splits into tokens and sentences. Entities
    /// never cross a sentence and always start and end on token boundaries.
    fn tag(&self, text: &str, segmentation: &Segmentation) -> Vec<Entity>;

    /// The language the model was trained for (`es`, `en`).
    fn language(&self) -> &str;
}

/// Loads any clinitag model from the bytes of its file, recognised by its header.
pub fn load(bytes: &[u8]) -> Result<Box<dyn Tagger + Send + Sync>> {
    if bytes.is_empty() {
        return Err(Error::Model("the model file is empty".into()));
    }
    if bytes.starts_with(Kind::Model.magic()) {
        let device = burn::tensor::Device::flex();
        return Ok(Box::new(BiLstmCrfTagger::from_bytes(bytes, &device)?));
    }
    if bytes.first() == Some(&b'{') {
        return Ok(Box::new(DictionaryTagger::from_bytes(bytes)?));
    }
    Err(Error::Model(
        "unrecognised model format (not a clinitag model file)".into(),
    ))
}
