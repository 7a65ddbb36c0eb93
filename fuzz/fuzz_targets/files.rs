//! Any bytes as every kind of file clinitag reads: a model container, a concept index, BRAT,
//! CoNLL, PharmaCoNER TSV, RF2, FHIR JSON and a terminology import (zip or text). Each answers
//! with a value or an error; a panic, an out-of-bounds read or an allocation beyond
//! libFuzzer's limit is a finding.
#![no_main]

use clinitag::formats::{brat, conll, indexing};
use clinitag::models::Model;
use clinitag::normalize::{
    fhir, rf2, ConceptIndex, IndexBuilder, TermSelection, TerminologyImport,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let _ = Model::from_bytes(bytes);
    if let Ok(index) = ConceptIndex::from_bytes(bytes) {
        for (term, _) in index.terms().into_iter().take(50) {
            let _ = index.lookup(&term);
        }
    }
    let text = String::from_utf8_lossy(bytes);
    let _ = brat::parse_ann(&text, "f.ann");
    let _ = conll::parse_conll(&text, "f.conll");
    let _ = indexing::parse_tsv(&text, "f.tsv");
    let _ = rf2::read_descriptions(&text, "d.txt");
    let _ = rf2::read_preferred(&text, "l.txt");
    let _ = fhir::read_terminology(&text, "f.json");
    let mut import = TerminologyImport::new(IndexBuilder::new("es"), TermSelection::default());
    for name in ["f.zip", "f.txt", "f.json"] {
        let _ = import.add_file(name, bytes);
    }
    if let Ok(builder) = import.finish() {
        let _ = builder.build();
    }
});
