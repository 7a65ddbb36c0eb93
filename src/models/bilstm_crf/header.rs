//! The JSON header of a Bi-LSTM-CRF model file: everything about a model but its weights.

use super::features::Vocabulary;
use super::network::NetworkConfig;
use serde::{Deserialize, Serialize};

/// The architecture's name in a model file's header, as in `clinitag train --arch`.
pub(crate) const KIND: &str = "bilstm-crf";

/// Everything about a model but its weights; the JSON header of its file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Header {
    pub kind: String,
    pub language: String,
    pub scheme: String,
    pub tags: Vec<String>,
    pub network: NetworkConfig,
    pub vocabulary: Vocabulary,
    /// Provenance: how the model was trained and what it scored on dev.
    #[serde(default)]
    pub training: serde_json::Value,
    /// Its weight in an ensemble when the caller gives none (see [`Model::ensemble`](crate::models::Model::ensemble)).
    #[serde(
        default = "crate::models::precision::unit_weight",
        skip_serializing_if = "crate::models::precision::is_unit_weight"
    )]
    pub ensemble_weight: f32,
}
