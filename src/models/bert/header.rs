//! The JSON header of a BERT model file: everything about a model but its weights.

use super::network::BertConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The architecture's name in a model file's header, as in `clinitag train --arch`.
pub(crate) const KIND: &str = "bert";

/// Everything about a model but its weights; the JSON header of its file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Header {
    pub kind: String,
    pub language: String,
    pub scheme: String,
    pub tags: Vec<String>,
    pub encoder: BertConfig,
    /// Whether a CRF learned transition scores (otherwise a softmax head, decoded under the
    /// scheme's constraints).
    pub crf: bool,
    /// Largest window, special tokens included.
    pub max_pieces: usize,
    /// The encoder's `tokenizer.json`.
    pub tokenizer: String,
    /// Provenance: the encoder, how the model was trained and what it scored on dev.
    #[serde(default)]
    pub training: serde_json::Value,
    /// Its weight in an ensemble when the caller gives none (see [`Model::ensemble`](crate::models::Model::ensemble)).
    #[serde(
        default = "crate::models::precision::unit_weight",
        skip_serializing_if = "crate::models::precision::is_unit_weight"
    )]
    pub ensemble_weight: f32,
    /// The entity types of each language a model trained on several reads (absent: every
    /// type is `language`'s). Tagging one language's text decodes its types alone, as if
    /// the others' tags were forbidden ([`BertTagger::set_language`](super::BertTagger::set_language)).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub languages: BTreeMap<String, Vec<String>>,
}
