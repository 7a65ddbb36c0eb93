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

    /// The entity types it finds, in a stable order.
    fn labels(&self) -> Vec<String>;
}

/// A model of any architecture, as loaded from its file.
pub enum Model {
    BiLstmCrf(Box<BiLstmCrfTagger>),
    Dictionary(DictionaryTagger),
}

impl Model {
    /// Loads any clinitag model from the bytes of its file, recognised by its header, onto the
    /// CPU. Move it with [`Model::to_device`]: loading reads some weights back to the host,
    /// which a browser's GPU only allows asynchronously.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.is_empty() {
            return Err(Error::Model("the model file is empty".into()));
        }
        if bytes.starts_with(Kind::Model.magic()) {
            let device = burn::tensor::Device::flex();
            let model = BiLstmCrfTagger::from_bytes(bytes, &device)?;
            return Ok(Model::BiLstmCrf(Box::new(model)));
        }
        if bytes.first() == Some(&b'{') {
            return Ok(Model::Dictionary(DictionaryTagger::from_bytes(bytes)?));
        }
        Err(Error::Model(
            "unrecognised model format (not a clinitag model file)".into(),
        ))
    }

    /// The same model computing on `device` (models without tensors stay as they are).
    pub fn to_device(self, device: &burn::tensor::Device) -> Self {
        match self {
            Model::BiLstmCrf(model) => Model::BiLstmCrf(Box::new(model.to_device(device))),
            other => other,
        }
    }

    /// The architecture's name, as in `clinitag train --arch`.
    pub fn architecture(&self) -> &'static str {
        match self {
            Model::BiLstmCrf(_) => bilstm_crf::KIND,
            Model::Dictionary(_) => "dictionary",
        }
    }

    /// [`Tagger::tag`] that reads results back asynchronously, as the browser's GPU requires.
    pub async fn tag_async(&self, text: &str, segmentation: &Segmentation) -> Result<Vec<Entity>> {
        match self {
            Model::BiLstmCrf(model) => model.tag_async(text, segmentation).await,
            Model::Dictionary(model) => Ok(model.tag(text, segmentation)),
        }
    }

    fn as_tagger(&self) -> &(dyn Tagger + Send + Sync) {
        match self {
            Model::BiLstmCrf(model) => model.as_ref(),
            Model::Dictionary(model) => model,
        }
    }
}

impl Tagger for Model {
    fn tag(&self, text: &str, segmentation: &Segmentation) -> Vec<Entity> {
        self.as_tagger().tag(text, segmentation)
    }

    fn language(&self) -> &str {
        self.as_tagger().language()
    }

    fn labels(&self) -> Vec<String> {
        self.as_tagger().labels()
    }
}

/// Loads any clinitag model from the bytes of its file onto the CPU.
pub fn load(bytes: &[u8]) -> Result<Box<dyn Tagger + Send + Sync>> {
    Ok(Box::new(Model::from_bytes(bytes)?))
}
