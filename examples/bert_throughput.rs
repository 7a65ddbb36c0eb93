//! Native tagging throughput of a BERT model at batch 1 and 32: words per second over a folder
//! of .txt files (the first LIMIT of them, sorted by name) or one file, model loading timed apart.
//!
//!     cargo run --release --example bert_throughput -- [--wgpu] models/bert-es.clinitag \
//!         ../shared/data/pharmaconer/dev/subtrack1 [LIMIT]
//!
//! It runs on burn's flex CPU device, or with `--wgpu` (built with `--features wgpu`) on the
//! GPU through wgpu: the same WGSL kernels the browser's WebGPU runs, on Vulkan or Metal.
//! There every document is tagged once first, untimed, so that compiling each shape's shaders
//! (and, built with `--features autotune`, timing its candidate kernels) is not counted.
//! bench/throughput.sh, bench/peers.sh and bench/gpu.sh run it; the figures go into
//! BENCHMARKS.md.

use burn::tensor::Device;
use clinitag::formats::corpus::files_with_extension;
use clinitag::models::{BertTagger, Tagger};
use clinitag::text::Segmentation;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let on_gpu = args.first().is_some_and(|a| a == "--wgpu");
    if on_gpu {
        args.remove(0);
    }
    let (model, input, limit) = match args.as_slice() {
        [model, input] => (model, input, usize::MAX),
        [model, input, limit] => (model, input, limit.parse()?),
        _ => {
            return Err("usage: bert_throughput [--wgpu] MODEL TEXT_FILE_OR_FOLDER [LIMIT]".into())
        }
    };
    let device = if on_gpu { gpu()? } else { Device::flex() };
    let bytes = std::fs::read(model)?;
    let loading = Instant::now();
    let mut tagger = BertTagger::from_bytes(&bytes, &device)?;
    println!("loaded in {:.0} ms", loading.elapsed().as_secs_f64() * 1e3);
    let path = std::path::Path::new(input);
    let mut texts = Vec::new();
    if path.is_dir() {
        for file in files_with_extension(path, "txt")?.into_iter().take(limit) {
            texts.push(std::fs::read_to_string(file)?);
        }
    } else {
        texts.push(std::fs::read_to_string(path)?);
    }
    let segmentations: Vec<Segmentation> = texts.iter().map(|t| Segmentation::of(t)).collect();
    let words: usize = segmentations.iter().map(|s| s.tokens.len()).sum();
    for batch in [1, 32] {
        tagger.set_batch_windows(batch);
        if on_gpu {
            for (text, segmentation) in texts.iter().zip(&segmentations) {
                tagger.tag(text, segmentation);
            }
        }
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

#[cfg(feature = "wgpu")]
fn gpu() -> Result<Device, Box<dyn std::error::Error>> {
    Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice))
}

#[cfg(not(feature = "wgpu"))]
fn gpu() -> Result<Device, Box<dyn std::error::Error>> {
    Err("--wgpu needs a build with `--features wgpu`".into())
}
