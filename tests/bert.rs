//! The BERT port against PyTorch: all-MiniLM-L6-v2 imported from its safetensors gives the
//! hidden states that the package's own PyTorch model gives (tests/fixtures/bert/, made by
//! reference.py there), and its tokenizer cuts the texts into the same pieces.
#![cfg(not(target_arch = "wasm32"))]

use burn::tensor::Device;
use clinitag::models::bert::pretrained::Pretrained;
use clinitag::models::bert::{PieceBatch, WordPieces};
use std::path::PathBuf;

/// Where `./build.sh encoder` unpacks the encoder (CLINITAG_ENCODER overrides).
fn encoder_dir() -> PathBuf {
    std::env::var_os("CLINITAG_ENCODER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/encoders/all-minilm-l6-v2")
        })
}

#[derive(serde::Deserialize)]
struct Reference {
    texts: Vec<String>,
    ids: Vec<Vec<u32>>,
    hidden: Vec<Vec<Vec<f32>>>,
}

fn reference() -> Reference {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/bert/minilm-hidden.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn pretrained() -> Pretrained {
    let dir = encoder_dir();
    Pretrained::read(&dir).unwrap_or_else(|e| {
        panic!(
            "{e}: fetch the encoder with ./build.sh encoder (looked in {})",
            dir.display()
        )
    })
}

#[test]
fn hidden_states_match_pytorch() {
    let reference = reference();
    let pretrained = pretrained();
    let device = Device::flex();
    // One padded batch, as the reference ran it: padding must not change the real positions.
    let firsts: Vec<Vec<usize>> = reference.ids.iter().map(|_| vec![0]).collect();
    let batch = PieceBatch::new(&reference.ids, &firsts, &device);
    let hidden = pretrained
        .encoder
        .forward(batch.ids.clone(), batch.attention_bias.clone());
    let [_, width, size] = hidden.dims();
    let values: Vec<f32> = hidden.into_data().try_into_vec_as::<f32>().unwrap();
    let mut largest = 0f32;
    let mut compared = 0;
    for (b, rows) in reference.hidden.iter().enumerate() {
        for (t, row) in rows.iter().enumerate() {
            assert_eq!(row.len(), size);
            for (h, &expected) in row.iter().enumerate() {
                let got = values[(b * width + t) * size + h];
                largest = largest.max((got - expected).abs());
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 46 * 384, "the fixture's shape changed");
    assert!(
        largest < 1e-4,
        "largest difference from PyTorch: {largest:e}"
    );
    eprintln!("{compared} hidden values, largest difference from PyTorch {largest:e}");
}

#[test]
fn tokenizer_matches_huggingface() {
    let reference = reference();
    let pretrained = pretrained();
    let wordpieces = WordPieces::from_json(&pretrained.tokenizer).unwrap();
    for (text, ids) in reference.texts.iter().zip(&reference.ids) {
        let encoding = wordpieces.tokenizer().encode(text.as_str(), true).unwrap();
        assert_eq!(encoding.get_ids(), ids.as_slice(), "{text}");
    }
    // Word by word, as the tagger cuts: no padding sneaks in, and accents are folded as the
    // uncased vocabulary expects.
    assert_eq!(wordpieces.pieces("PCR"), &reference.ids[2][1..3]);
    assert_eq!(wordpieces.pieces("ácido"), wordpieces.pieces("acido"));
    assert_eq!(
        wordpieces.pieces("\u{0007}").len(),
        1,
        "a dropped word still has a piece"
    );
}
