//! Rewrites a Bi-LSTM-CRF or BERT model file with 8-bit or 4-bit weights (`Precision::Int8`,
//! `Precision::Int4`), for measuring what fewer bits cost a model that exists already
//! (BENCHMARKS.md, "Model files at 8 bits" and "at 4 bits"):
//!
//!     cargo run --release --example store_quantized -- int4 models/bert-es.clinitag \
//!         /tmp/bert-es-int4.clinitag ../shared/data/pharmaconer/train/subtrack1
//!
//! With a folder of .txt files, a BERT's linear maps are rounded to 4 bits for what they
//! compute on its first 1,000 sentences (files sorted by name; `models::quantize`); without
//! one, every weight to its nearest level.

use clinitag::formats::corpus::files_with_extension;
use clinitag::models::{sentence_words, Model, Precision};
use clinitag::text::Segmentation;
use std::path::Path;

/// Sentences of calibration text: enough for the second moments of 1,536 inputs.
const CALIBRATION_SENTENCES: usize = 1000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (precision, input, output, calibration) = match args.as_slice() {
        [_, precision, input, output] => (precision, input, output, None),
        [_, precision, input, output, folder] => (precision, input, output, Some(folder)),
        _ => return Err("usage: store_quantized int8|int4 MODEL OUTPUT [TEXT_FOLDER]".into()),
    };
    let precision = match precision.as_str() {
        "int8" => Precision::Int8,
        "int4" => Precision::Int4,
        other => return Err(format!("precision {other}: int8 or int4").into()),
    };
    let bytes = std::fs::read(input)?;
    let stored = match (Model::from_bytes(&bytes)?, calibration) {
        (Model::Bert(model), Some(folder)) if precision == Precision::Int4 => {
            let texts = texts(folder)?;
            let mut sentences: Vec<Vec<&str>> = Vec::new();
            for text in &texts {
                sentences.extend(sentence_words(text, &Segmentation::of(text)));
            }
            sentences.truncate(CALIBRATION_SENTENCES);
            let views: Vec<&[&str]> = sentences.iter().map(Vec::as_slice).collect();
            model.to_bytes_int4(&views)?
        }
        (_, Some(_)) => return Err("calibration text is for a BERT model at int4".into()),
        (Model::BiLstmCrf(model), None) => model.to_bytes_at(precision)?,
        (Model::Bert(model), None) => model.to_bytes_at(precision)?,
        _ => return Err("only neural models have weights to quantize".into()),
    };
    std::fs::write(output, &stored)?;
    println!(
        "{input}: {} bytes; {output}: {} bytes",
        bytes.len(),
        stored.len()
    );
    Ok(())
}

/// The .txt files of `folder`, sorted by name.
fn texts(folder: &str) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let files = files_with_extension(Path::new(folder), "txt")?;
    Ok(files
        .iter()
        .map(std::fs::read_to_string)
        .collect::<Result<_, _>>()?)
}
