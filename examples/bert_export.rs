//! Exports a BERT model and its benchmark inputs for the runtimes clinitag is measured
//! against (bench/peers.sh runs it):
//!
//!     cargo run --release --example bert_export -- models/bert-es.clinitag OUT_DIR \
//!         ../shared/data/pharmaconer/dev/subtrack1 [LIMIT]
//!
//! OUT_DIR gets the model in HuggingFace's layout (for PyTorch, and for bench/export_onnx.py,
//! which makes the ONNX files Transformers.js runs), the same weights as a clinitag file in
//! f32 (`clinitag-f32.clinitag`: an 8-bit model's dequantized weights, so that clinitag too
//! can run them in f32, with f32 products) and `inputs.json`: for each of the first
//! LIMIT documents (sorted by name), its text, its word count, and the exact piece-id windows
//! clinitag's encoder reads, grouped into forward passes at batch 1 and 32; plus `check`, the
//! tag scores clinitag computes for the first document's sentences, which the other runtimes
//! must reproduce from the same weights.

use burn::tensor::Device;
use clinitag::formats::corpus::files_with_extension;
use clinitag::models::{sentence_words, BertTagger, NeuralTagger};
use clinitag::text::Segmentation;
use serde_json::json;
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (model, out, input, limit) = match args.as_slice() {
        [model, out, input] => (model, out, input, usize::MAX),
        [model, out, input, limit] => (model, out, input, limit.parse()?),
        _ => return Err("usage: bert_export MODEL OUT_DIR TEXT_FOLDER [LIMIT]".into()),
    };
    let out = Path::new(out);
    let mut tagger = BertTagger::from_bytes(&std::fs::read(model)?, &Device::flex())?;
    // The other runtimes compute in f32 from the same (dequantized) weights: so do the check
    // scores, not with the 8-bit products an 8-bit model uses on the CPU.
    tagger.set_integer_products(false);
    clinitag::training::pretrained::export_huggingface(&tagger, out)?;
    std::fs::write(out.join("clinitag-f32.clinitag"), tagger.to_bytes_full()?)?;

    let mut files = files_with_extension(Path::new(input), "txt")?;
    files.truncate(limit);
    let mut documents = Vec::new();
    let mut check = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)?;
        let segmentation = Segmentation::of(&text);
        let mut passes = serde_json::Map::new();
        for batch in [1, 32] {
            tagger.set_batch_windows(batch);
            let windows: Vec<_> = tagger
                .forward_passes(&text, &segmentation)
                .into_iter()
                .map(|pass| {
                    pass.into_iter()
                        .map(|w| json!({"ids": w.ids, "first_pieces": w.first_pieces}))
                        .collect::<Vec<_>>()
                })
                .collect();
            passes.insert(batch.to_string(), windows.into());
        }
        if check.is_empty() {
            // Sentences read in one window: their scores are that window's, word by word.
            tagger.set_batch_windows(1);
            let sentences = sentence_words(&text, &segmentation);
            for pass in tagger.forward_passes(&text, &segmentation) {
                let window = &pass[0];
                let sentence = &sentences[window.sentence];
                if window.words != (0..sentence.len()) {
                    continue;
                }
                let scores = tagger.emissions(&[sentence.as_slice()]).remove(0);
                check.push(json!({
                    "ids": window.ids, "first_pieces": window.first_pieces, "scores": scores,
                }));
            }
        }
        documents.push(json!({
            "name": file.file_name().map(|n| n.to_string_lossy().into_owned()),
            "text": text,
            "words": segmentation.tokens.len(),
            "passes": passes,
        }));
    }
    let inputs = json!({
        "model": model,
        "tags": tagger.header().tags,
        "documents": documents,
        "check": check,
    });
    std::fs::write(out.join("inputs.json"), serde_json::to_vec(&inputs)?)?;
    println!(
        "{}: HuggingFace layout and inputs.json ({} documents, {} check windows)",
        out.display(),
        files.len(),
        check.len()
    );
    Ok(())
}
