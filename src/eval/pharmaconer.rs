//! The PharmaCoNER 2019 official (CodaLab) scorer's rules.
//!
//! * Subtask 1 (NER): per document, the *set* of (type, start, end) in char offsets; UNCLEAR
//!   annotations are dropped on both sides (the official reader skips them for gold and, by
//!   its default argument, for submissions too); micro P/R/F1 over all documents.
//! * Subtask 2 (concept indexing): per document, the set of unique codes; `<null>` is a code
//!   like any other; gold codes whose notes are attached only to UNCLEAR entities leave the
//!   gold side (never the prediction); micro P/R/F1.
//! * Documents: only documents present on both sides are compared; a gold document with no
//!   prediction file makes the official scorer refuse the run ("You did not annotate all
//!   data"), so it is an error here too unless the caller asks to score it as empty.

use super::Report;
use crate::error::{Error, Result};
use crate::formats::brat::BratEntity;
use std::collections::{BTreeMap, BTreeSet};

const UNCLEAR: &str = "UNCLEAR";

/// What to do with a gold document that has no prediction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingDocuments {
    /// Refuse, as the official scorer does.
    Error,
    /// Score it as a document with no predictions.
    Empty,
}

fn documents_to_score<'a, T>(
    gold: &'a BTreeMap<String, T>,
    predicted: &'a BTreeMap<String, T>,
    missing: MissingDocuments,
    empty: &'a T,
) -> Result<Vec<(&'a T, &'a T)>> {
    let absent: Vec<&String> = gold
        .keys()
        .filter(|id| !predicted.contains_key(*id))
        .collect();
    if !absent.is_empty() && missing == MissingDocuments::Error {
        return Err(Error::Invalid(format!(
            "{} gold document(s) have no prediction, e.g. '{}' (the official scorer refuses such a run; score them as empty with --missing-as-empty)",
            absent.len(),
            absent[0]
        )));
    }
    Ok(gold
        .iter()
        .map(|(id, gold)| (gold, predicted.get(id).unwrap_or(empty)))
        .collect())
}

/// Subtask 1: exact (type, start, end) matches.
pub fn score_ner(
    gold: &BTreeMap<String, Vec<BratEntity>>,
    predicted: &BTreeMap<String, Vec<BratEntity>>,
    missing: MissingDocuments,
) -> Result<Report> {
    let tuples = |entities: &[BratEntity]| -> BTreeSet<(String, usize, usize)> {
        entities
            .iter()
            .filter(|e| e.label != UNCLEAR)
            .map(|e| (e.label.clone(), e.start, e.end))
            .collect()
    };
    let mut report = Report::new("PharmaCoNER subtask 1 (NER), official rules");
    let empty = Vec::new();
    for (gold, predicted) in documents_to_score(gold, predicted, missing, &empty)? {
        report.add(&tuples(gold), &tuples(predicted), |t| t.0.clone());
        report.documents += 1;
    }
    Ok(report)
}

/// The gold codes of one document as the official scorer keeps them: the TSV codes minus
/// those attached only to UNCLEAR entities in the document's `.ann`.
pub fn gold_codes(tsv_codes: &[String], annotations: &[BratEntity]) -> BTreeSet<String> {
    let mut unclear = BTreeSet::new();
    let mut clear = BTreeSet::new();
    for entity in annotations {
        let side = if entity.label == UNCLEAR {
            &mut unclear
        } else {
            &mut clear
        };
        side.extend(entity.notes.iter().cloned());
    }
    tsv_codes
        .iter()
        .filter(|code| !unclear.contains(*code) || clear.contains(*code))
        .cloned()
        .collect()
}

/// Subtask 2: per-document sets of codes. `gold_annotations` (the gold `.ann` files) decide
/// which gold codes belong to UNCLEAR entities only.
pub fn score_indexing(
    gold_tsv: &BTreeMap<String, Vec<String>>,
    gold_annotations: &BTreeMap<String, Vec<BratEntity>>,
    predicted: &BTreeMap<String, Vec<String>>,
    missing: MissingDocuments,
) -> Result<Report> {
    let mut report = Report::new("PharmaCoNER subtask 2 (concept indexing), official rules");
    let empty = Vec::new();
    let pairs = documents_to_score(gold_tsv, predicted, missing, &empty)?;
    for ((id, _), (gold, predicted)) in gold_tsv.iter().zip(pairs) {
        let annotations = gold_annotations.get(id).map(Vec::as_slice).unwrap_or(&[]);
        let gold = gold_codes(gold, annotations);
        let predicted: BTreeSet<String> = predicted.iter().cloned().collect();
        report.add(&gold, &predicted, |_| "codes".to_string());
        report.documents += 1;
    }
    Ok(report)
}

/// A document's codes as its `.ann` notes give them (for predictions written as BRAT only).
pub fn codes_from_notes(annotations: &[BratEntity]) -> Vec<String> {
    annotations
        .iter()
        .flat_map(|e| e.notes.iter().cloned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::brat::parse_ann;

    fn docs(files: &[(&str, &str)]) -> BTreeMap<String, Vec<BratEntity>> {
        files
            .iter()
            .map(|(id, ann)| (id.to_string(), parse_ann(ann, id).unwrap()))
            .collect()
    }

    const GOLD_A: &str = "T1\tNORMALIZABLES 0 8\taspirina\n#1\tAnnotatorNotes T1\t387458008\nT2\tPROTEINAS 10 13\tPSA\n#2\tAnnotatorNotes T2\t102687007\nT3\tUNCLEAR 20 31\tcigarrillos\n#3\tAnnotatorNotes T3\t722496004\n";
    const GOLD_B: &str = "T1\tNORMALIZABLES 5 9\tAINE\n#1\tAnnotatorNotes T1\t<null>\n";

    fn scores(report: &Report) -> (usize, usize, usize) {
        (report.overall.tp, report.overall.fp, report.overall.fn_)
    }

    #[test]
    fn perfect_and_empty_predictions() {
        let gold = docs(&[("a", GOLD_A), ("b", GOLD_B)]);
        let report = score_ner(&gold, &gold, MissingDocuments::Error).unwrap();
        // UNCLEAR is dropped on both sides: 3 scorable entities.
        assert_eq!(scores(&report), (3, 0, 0));
        assert_eq!(report.overall.f1(), 1.0);
        let empty = docs(&[("a", ""), ("b", "")]);
        let report = score_ner(&gold, &empty, MissingDocuments::Error).unwrap();
        assert_eq!(scores(&report), (0, 0, 3));
        assert_eq!(
            (report.overall.precision(), report.overall.f1()),
            (0.0, 0.0)
        );
    }

    #[test]
    fn offsets_types_duplicates_and_unclear_predictions() {
        let gold = docs(&[("a", GOLD_A), ("b", GOLD_B)]);
        let predicted = docs(&[
            // off by one at the end; wrong type; exact duplicate lines count once; an UNCLEAR
            // prediction is ignored like the gold one.
            ("a", "T1\tNORMALIZABLES 0 9\taspirina \nT2\tNORMALIZABLES 10 13\tPSA\nT3\tUNCLEAR 40 45\tx\n"),
            ("b", "T1\tNORMALIZABLES 5 9\tAINE\nT2\tNORMALIZABLES 5 9\tAINE\n"),
        ]);
        let report = score_ner(&gold, &predicted, MissingDocuments::Error).unwrap();
        assert_eq!(scores(&report), (1, 2, 2));
        assert!((report.overall.precision() - 1.0 / 3.0).abs() < 1e-12);
        assert!((report.overall.recall() - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(report.per_type["PROTEINAS"].fn_, 1);
        assert_eq!(report.per_type["NORMALIZABLES"].fp, 2);
    }

    #[test]
    fn a_document_missing_on_either_side() {
        let gold = docs(&[("a", GOLD_A), ("b", GOLD_B)]);
        let only_a = docs(&[("a", GOLD_A), ("extra", "T1\tNORMALIZABLES 0 1\tx\n")]);
        let error = score_ner(&gold, &only_a, MissingDocuments::Error).unwrap_err();
        assert!(error.to_string().contains("'b'"), "{error}");
        // Scored as empty on request; a predicted document without gold is ignored.
        let report = score_ner(&gold, &only_a, MissingDocuments::Empty).unwrap();
        assert_eq!(scores(&report), (2, 0, 1));
        assert_eq!(report.documents, 2);
    }

    #[test]
    fn indexing_drops_codes_of_unclear_gold_entities_and_keeps_null() {
        let annotations = docs(&[("a", GOLD_A), ("b", GOLD_B)]);
        let gold_tsv: BTreeMap<String, Vec<String>> = [
            (
                "a".to_string(),
                vec!["387458008".into(), "102687007".into(), "722496004".into()],
            ),
            ("b".to_string(), vec!["<null>".into()]),
        ]
        .into();
        assert_eq!(gold_codes(&gold_tsv["a"], &annotations["a"]).len(), 2);
        let predicted: BTreeMap<String, Vec<String>> = [
            // the UNCLEAR entity's code predicted: a false positive, never removed.
            (
                "a".to_string(),
                vec!["387458008".into(), "722496004".into(), "387458008".into()],
            ),
            ("b".to_string(), vec!["<null>".into()]),
        ]
        .into();
        let report =
            score_indexing(&gold_tsv, &annotations, &predicted, MissingDocuments::Error).unwrap();
        assert_eq!(scores(&report), (2, 1, 1));
        // A code attached to both an UNCLEAR and a clear entity stays in the gold.
        let shared = docs(&[("c", "T1\tUNCLEAR 0 1\tx\n#1\tAnnotatorNotes T1\t1\nT2\tPROTEINAS 2 3\ty\n#2\tAnnotatorNotes T2\t1\n")]);
        assert_eq!(gold_codes(&["1".to_string()], &shared["c"]).len(), 1);
    }
}
