//! Native tagging throughput of a BERT model on burn's flex CPU device, at batch 1 and 32:
//! words per second over a folder of .txt files (the first LIMIT of them, sorted by name) or
//! one file, model loading excluded.
//!
//!     cargo run --release --example bert_throughput -- models/bert-es.clinitag \
//!         ../shared/data/pharmaconer/dev/subtrack1 [LIMIT]
//!
//! bench/throughput.sh runs it; the figures go into BENCHMARKS.md.

use burn::tensor::Device;
use clinitag::models::{BertTagger, Tagger};
use clinitag::text::Segmentation;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (model, input, limit) = match args.as_slice() {
        [model, input] => (model, input, usize::MAX),
        [model, input, limit] => (model, input, limit.parse()?),
        _ => return Err("usage: bert_throughput MODEL TEXT_FILE_OR_FOLDER [LIMIT]".into()),
    };
    let mut tagger = BertTagger::from_bytes(&std::fs::read(model)?, &Device::flex())?;
    let path = std::path::Path::new(input);
    let mut texts = Vec::new();
    if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        files.retain(|p| p.extension().is_some_and(|e| e == "txt"));
        files.sort();
        for file in files.into_iter().take(limit) {
            texts.push(std::fs::read_to_string(file)?);
        }
    } else {
        texts.push(std::fs::read_to_string(path)?);
    }
    let segmentations: Vec<Segmentation> = texts.iter().map(|t| Segmentation::of(t)).collect();
    let words: usize = segmentations.iter().map(|s| s.tokens.len()).sum();
    for batch in [1, 32] {
        tagger.set_batch_windows(batch);
        let started = Instant::now();
        let mut found = 0;
        for (text, segmentation) in texts.iter().zip(&segmentations) {
            found += tagger.tag(text, segmentation).len();
        }
        let seconds = started.elapsed().as_secs_f64();
        println!(
            "batch {batch:>2}: {words} words in {seconds:.2} s = {:.0} words/s ({found} entities)",
            words as f64 / seconds
        );
    }
    Ok(())
}
