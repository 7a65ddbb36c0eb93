//! Pretrained encoders in HuggingFace's layout (a folder with `config.json`,
//! `model.safetensors` and `tokenizer.json`), imported with burn's safetensors store.

use super::network::{BertConfig, Encoder};
use crate::error::{Error, Result};
use burn::store::{KeyRemapper, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use burn::tensor::Device;
use std::path::{Path, PathBuf};

/// A pretrained encoder and its tokenizer, as read from disk.
pub struct Pretrained {
    pub config: BertConfig,
    pub encoder: Encoder,
    /// The text of `tokenizer.json`.
    pub tokenizer: String,
    pub source: PathBuf,
}

/// HuggingFace `BertModel` parameter names to this crate's module paths, applied in order
/// (each to the result of the previous ones).
const RENAMES: [(&str, &str); 8] = [
    (r"^bert\.", ""),
    (r"^embeddings\.LayerNorm\.", "embeddings.layer_norm."),
    (r"^encoder\.layer\.", "layers."),
    (r"\.attention\.self\.(query|key|value)\.", ".attention.$1."),
    (r"\.attention\.output\.dense\.", ".attention.output."),
    (r"\.attention\.output\.LayerNorm\.", ".attention_norm."),
    (r"\.intermediate\.dense\.", ".intermediate."),
    (r"\.output\.LayerNorm\.", ".output_norm."),
];

/// The feed-forward output projection, renamed last: `layers.N.output.dense.` after the
/// attention's own `output` has been handled above.
const OUTPUT_DENSE: (&str, &str) = (r"^layers\.(\d+)\.output\.dense\.", "layers.$1.output.");

impl Pretrained {
    pub fn read(dir: &Path) -> Result<Self> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|e| Error::io(path, e))
        };
        let config: BertConfig = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| Error::Model(format!("{}: bad config.json: {e}", dir.display())))?;
        let tokenizer = String::from_utf8(read("tokenizer.json")?)
            .map_err(|_| Error::Model("tokenizer.json is not UTF-8".into()))?;
        let weights = dir.join("model.safetensors");
        if !weights.is_file() {
            return Err(Error::Model(format!(
                "{} has no model.safetensors (run ./build.sh encoder)",
                dir.display()
            )));
        }
        let device = Device::flex();
        let mut encoder = Encoder::new(&config, &device);
        let mut remapper = KeyRemapper::new();
        for (from, to) in RENAMES.into_iter().chain([OUTPUT_DENSE]) {
            remapper = remapper.add_pattern(from, to).expect("static pattern");
        }
        let mut store = SafetensorsStore::from_file(&weights)
            .with_from_adapter(PyTorchToBurnAdapter)
            .remap(remapper)
            // The pooler and the position-id buffer are not part of the encoder.
            .allow_partial(true);
        let result = encoder
            .load_from(&mut store)
            .map_err(|e| Error::Model(format!("{}: {e}", weights.display())))?;
        if !result.missing.is_empty() {
            return Err(Error::Model(format!(
                "{}: the encoder's {} is not in the file",
                weights.display(),
                result
                    .missing
                    .iter()
                    .map(|(path, _)| path.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(Self {
            config,
            encoder,
            tokenizer,
            source: dir.to_path_buf(),
        })
    }
}
