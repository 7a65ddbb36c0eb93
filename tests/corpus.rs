//! Measurements on the real PharmaCoNER train + dev sets (from `../shared/data`, or
//! `$CLINITAG_DATA`): tokenization must keep entity boundaries reachable and BMEWO-V must
//! give the gold entities back.
#![cfg(not(target_arch = "wasm32"))]

use clinitag::eval::encoding::{boundary_coverage, round_trip};
use clinitag::formats::corpus::{read_brat_dir, Annotations};
use clinitag::tagging::Scheme;
use clinitag::Document;
use std::path::PathBuf;

fn data_dir() -> PathBuf {
    std::env::var_os("CLINITAG_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
}

fn pharmaconer_train_and_dev() -> Vec<Document> {
    let mut documents = Vec::new();
    for split in ["train", "dev"] {
        let dir = data_dir().join("pharmaconer").join(split).join("subtrack1");
        let (mut docs, _) = read_brat_dir(&dir, Annotations::Read)
            .unwrap_or_else(|e| panic!("PharmaCoNER data is needed for this test: {e}"));
        documents.append(&mut docs);
    }
    documents
}

#[test]
fn gold_entity_boundaries_fall_on_token_boundaries() {
    let documents = pharmaconer_train_and_dev();
    assert_eq!(documents.len(), 750);
    let coverage = boundary_coverage(&documents);
    eprintln!(
        "boundary coverage {:.3}% ({} of {})",
        100.0 * coverage.share(),
        coverage.on_token_boundaries,
        coverage.boundaries
    );
    for lost in &coverage.lost {
        eprintln!("  {} {} {}", lost.document, lost.label, lost.text);
    }
    assert!(
        coverage.share() >= 0.995,
        "boundary coverage {:.4}",
        coverage.share()
    );
}

#[test]
fn bmewov_round_trip_recovers_gold_entities() {
    let documents = pharmaconer_train_and_dev();
    let bmewov = round_trip(&documents, Scheme::Bmewov);
    for scheme in [Scheme::Bio, Scheme::Bioes] {
        eprint!("{}", round_trip(&documents, scheme));
    }
    eprint!("{bmewov}");
    for lost in &bmewov.lost {
        eprintln!(
            "  {} {} {} ({})",
            lost.document, lost.label, lost.text, lost.reason
        );
    }
    assert!(bmewov.share() >= 0.99, "round trip {:.4}", bmewov.share());
    // Every loss must be explained by segmentation (annotation defects, glued words),
    // never by the scheme itself.
    assert!(bmewov
        .lost
        .iter()
        .all(|l| l.reason.contains("token") || l.reason.contains("sentence")));
}
