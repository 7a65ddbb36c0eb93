//! One model, every device: the shipped Bi-LSTM-CRF models and the Spanish BERT give the same
//! emission scores (within 1e-3, relative for BERT) and the same entities on burn's flex CPU
//! device and on wgpu. Needs the `wgpu` feature and a wgpu adapter (Mesa's lavapipe here, a
//! real GPU elsewhere): `cargo test --release --features wgpu --test device_parity`.
#![cfg(all(feature = "wgpu", not(target_arch = "wasm32")))]

use burn::tensor::{Device, DeviceKind};
use clinitag::models::{self, BertTagger, BiLstmCrfTagger, NeuralTagger, Tagger};
use clinitag::text::Segmentation;
use std::path::{Path, PathBuf};

fn data() -> PathBuf {
    std::env::var_os("CLINITAG_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
}

/// Plain text of the first dev documents (PharmaCoNER) or the first dev sentences (BC5CDR).
fn fixture(language: &str) -> Vec<String> {
    if language == "es" {
        let dir = data().join("pharmaconer/dev/subtrack1");
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
        files.sort();
        files
            .iter()
            .take(3)
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    } else {
        let conll = std::fs::read_to_string(data().join("bc5cdr/devel.tsv")).unwrap();
        conll
            .split("\n\n")
            .take(40)
            .map(|s| {
                s.lines()
                    .map(|l| l.split('\t').next().unwrap())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }
}

/// `text`'s segmentation and the words of each sentence, as the taggers read them.
fn sentence_words(text: &str) -> (Segmentation, Vec<Vec<&str>>) {
    let segmentation = Segmentation::of(text);
    let sentences = models::sentence_words(text, &segmentation);
    (segmentation, sentences)
}

fn spans(entities: &[clinitag::Entity]) -> Vec<(usize, usize, String)> {
    entities
        .iter()
        .map(|e| (e.start, e.end, e.label.clone()))
        .collect()
}

#[test]
fn bert_on_wgpu_computes_as_on_the_cpu_in_f32() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/bert-es.clinitag");
    let bytes = std::fs::read(&path).unwrap();
    // The shipped model is stored in 8 bits: the CPU compares in f32, as the GPU computes.
    let mut cpu = BertTagger::from_bytes(&bytes, &Device::flex()).unwrap();
    cpu.set_integer_products(false);
    let gpu = BertTagger::from_bytes(&bytes, &Device::wgpu(DeviceKind::DefaultDevice)).unwrap();
    let (mut largest, mut entities) = (0f32, 0);
    for text in fixture("es") {
        let (segmentation, sentences) = sentence_words(&text);
        let views: Vec<&[&str]> = sentences.iter().map(Vec::as_slice).collect();
        let (a, b) = (cpu.emissions(&views), gpu.emissions(&views));
        for (x, y) in a.iter().flatten().zip(b.iter().flatten()) {
            largest = largest.max((x - y).abs() / x.abs().max(1.0));
        }
        let on_cpu = cpu.tag(&text, &segmentation);
        assert_eq!(spans(&on_cpu), spans(&gpu.tag(&text, &segmentation)));
        entities += on_cpu.len();
    }
    println!("bert-es: max relative emission difference {largest:e} over {entities} entities");
    assert!(largest < 1e-3, "{largest}");
    assert!(entities > 0, "the fixture should contain entities");
}

#[test]
fn flex_and_wgpu_agree_on_emissions_and_entities() {
    for language in ["es", "en"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("models/bilstm-crf-{language}.clinitag"));
        let bytes = std::fs::read(&path).unwrap();
        let cpu = BiLstmCrfTagger::from_bytes(&bytes, &Device::flex()).unwrap();
        let gpu =
            BiLstmCrfTagger::from_bytes(&bytes, &Device::wgpu(DeviceKind::DefaultDevice)).unwrap();
        let mut largest = 0f32;
        let mut entities = 0;
        for text in fixture(language) {
            let (segmentation, sentences) = sentence_words(&text);
            let views: Vec<&[&str]> = sentences.iter().map(Vec::as_slice).collect();
            let (a, b) = (cpu.emissions(&views), gpu.emissions(&views));
            for (x, y) in a.iter().flatten().zip(b.iter().flatten()) {
                largest = largest.max((x - y).abs());
            }
            let on_cpu = cpu.tag(&text, &segmentation);
            let on_gpu = gpu.tag(&text, &segmentation);
            assert_eq!(spans(&on_cpu), spans(&on_gpu), "{language}");
            entities += on_cpu.len();
        }
        println!("{language}: max |emission difference| {largest:e} over {entities} entities");
        assert!(largest < 1e-3, "{language}: {largest}");
        assert!(
            entities > 0,
            "{language}: the fixture should contain entities"
        );
    }
}
