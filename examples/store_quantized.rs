//! Rewrites a Bi-LSTM-CRF or BERT model file with 8-bit or 4-bit weights (`Precision::Int8`,
//! `Precision::Int4`), for measuring what fewer bits cost a model that exists already
//! (BENCHMARKS.md, "Model files at 8 bits" and "at 4 bits"):
//!
//!     cargo run --release --example store_quantized -- int4 models/bert-es.clinitag \
//!         /tmp/bert-es-int4.clinitag ../shared/data/pharmaconer/train/subtrack1
//!
//! With a corpus (a folder of .txt files, sorted by name, or a CoNLL .tsv file), a BERT's
//! linear maps are rounded to 4 bits for what they compute on its first 1,000 sentences
//! (`models::quantize`); without one, every weight to its nearest level.
//!
//! `--prune-vocabulary CORPUS...` (after the other arguments) first keeps only the pieces of a
//! BERT's vocabulary that the words of those corpora are cut into (`training::vocabulary::
//! prune_tagger`): each of those words is cut and tagged as before.
//!
//! `repack MODEL OUTPUT` rewrites a file's weights as this build stores them, rounding
//! nothing again (`models::repack`).
//!
//! `sizes MODEL` prints where a file's bytes go: the header, then the stored tensors grouped
//! by their path with the layer numbers left out (`encoder.layers.*.intermediate.weight`).

use clinitag::formats::conll::parse_conll;
use clinitag::formats::corpus::files_with_extension;
use clinitag::models::{sentence_words, Model, NeuralTagger, Precision};
use clinitag::text::Segmentation;
use clinitag::training::vocabulary;
use std::path::Path;

/// Sentences of calibration text: enough for the second moments of 1,536 inputs.
const CALIBRATION_SENTENCES: usize = 1000;

type Failure = Box<dyn std::error::Error>;

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (args, prune_to) = match args.iter().position(|a| a == "--prune-vocabulary") {
        Some(at) => (&args[..at], Some(&args[at + 1..])),
        None => (&args[..], None),
    };
    let usage = "usage: store_quantized int8|int4 MODEL OUTPUT [CORPUS] [--prune-vocabulary CORPUS...]\n       store_quantized repack MODEL OUTPUT\n       store_quantized sizes MODEL";
    if let [mode, input] = args {
        if mode == "sizes" && prune_to.is_none() {
            return print_sizes(&std::fs::read(input)?);
        }
    }
    let (mode, input, output, calibration) = match args {
        [mode, input, output] => (mode, input, output, None),
        [mode, input, output, corpus] => (mode, input, output, Some(corpus)),
        _ => return Err(usage.into()),
    };
    if !["repack", "int8", "int4"].contains(&mode.as_str()) {
        return Err(usage.into());
    }
    let bytes = std::fs::read(input)?;
    let stored = match (mode.as_str(), calibration, prune_to) {
        ("repack", None, None) => clinitag::models::repack(&bytes)?,
        ("int8", ..) => requantize(&bytes, Precision::Int8, calibration, prune_to)?,
        ("int4", ..) => requantize(&bytes, Precision::Int4, calibration, prune_to)?,
        _ => return Err(usage.into()),
    };
    std::fs::write(output, &stored)?;
    println!(
        "{input}: {} bytes; {output}: {} bytes",
        bytes.len(),
        stored.len()
    );
    Ok(())
}

/// The bytes of the model file `bytes` by part, largest first, with their share of the file.
fn print_sizes(bytes: &[u8]) -> Result<(), Failure> {
    let mut parts: Vec<(String, String, usize, usize)> = Vec::new();
    for (name, dtype, size) in clinitag::models::stored_sizes(bytes)? {
        let group: Vec<&str> = name
            .split('.')
            .map(|part| match part.parse::<usize>() {
                Ok(_) => "*",
                Err(_) => part,
            })
            .collect();
        let group = group.join(".");
        match parts.iter_mut().find(|p| p.0 == group && p.1 == dtype) {
            Some(part) => (part.2, part.3) = (part.2 + size, part.3 + 1),
            None => parts.push((group, dtype, size, 1)),
        }
    }
    parts.sort_by_key(|part| std::cmp::Reverse(part.2));
    println!("| part | stored as | tensors | bytes | share of the file |");
    println!("| --- | --- | --- | --- | --- |");
    for (group, dtype, size, count) in parts {
        let share = 100.0 * size as f64 / bytes.len() as f64;
        println!("| {group} | {dtype} | {count} | {size} | {share:.1} % |");
    }
    println!("| the file | | | {} | |", bytes.len());
    Ok(())
}

/// The model file `bytes` at `precision`, its vocabulary first pruned to the words of the
/// corpora `prune_to`, its 4-bit rounding calibrated on the first sentences of `calibration`.
fn requantize(
    bytes: &[u8],
    precision: Precision,
    calibration: Option<&String>,
    prune_to: Option<&[String]>,
) -> Result<Vec<u8>, Failure> {
    let mut model = Model::from_bytes(bytes)?;
    if let Some(corpora) = prune_to {
        let Model::Bert(tagger) = &mut model else {
            return Err("only a BERT model has a vocabulary of pieces to prune".into());
        };
        if corpora.is_empty() {
            return Err("--prune-vocabulary needs at least one corpus".into());
        }
        let mut sentences = Vec::new();
        for corpus in corpora {
            sentences.extend(corpus_sentences(corpus)?);
        }
        let pruning =
            vocabulary::prune_tagger(tagger, sentences.iter().flatten().map(String::as_str))?;
        println!("{}", serde_json::to_string(&pruning)?);
    }
    Ok(match (model, calibration) {
        (Model::Bert(model), Some(corpus)) if precision == Precision::Int4 => {
            let mut sentences = corpus_sentences(corpus)?;
            sentences.truncate(CALIBRATION_SENTENCES);
            let words: Vec<Vec<&str>> = sentences
                .iter()
                .map(|s| s.iter().map(String::as_str).collect())
                .collect();
            let views: Vec<&[&str]> = words.iter().map(Vec::as_slice).collect();
            model.to_bytes_int4(&views)?
        }
        (_, Some(_)) => return Err("calibration text is for a BERT model at int4".into()),
        (Model::BiLstmCrf(model), None) => model.to_bytes_at(precision)?,
        (Model::Bert(model), None) => model.to_bytes_at(precision)?,
        _ => return Err("only neural models have weights to quantize".into()),
    })
}

/// The sentences (words) of a CoNLL `.tsv` file, or of the `.txt` files of a folder (sorted by
/// name) as the tagger segments them.
fn corpus_sentences(path: &str) -> Result<Vec<Vec<String>>, Failure> {
    if path.ends_with(".tsv") {
        let conll = parse_conll(&std::fs::read_to_string(path)?, path)?;
        return Ok(conll.into_iter().map(|s| s.tokens).collect());
    }
    let mut sentences = Vec::new();
    for file in files_with_extension(Path::new(path), "txt")? {
        let text = std::fs::read_to_string(file)?;
        for words in sentence_words(&text, &Segmentation::of(&text)) {
            sentences.push(words.into_iter().map(str::to_string).collect());
        }
    }
    Ok(sentences)
}
