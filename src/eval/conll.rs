//! conlleval: entity-level precision, recall and F1 over CoNLL tag sequences.
//!
//! Chunks are read with conlleval's rules (see [`crate::tagging::Scheme::Bio`]'s decoder);
//! a chunk is correct when gold and prediction have the same start, end and type in the
//! same sentence. Token accuracy counts tags equal as strings.

use super::Report;
use crate::error::{Error, Result};
use crate::formats::conll::ConllSentence;
use crate::tagging::{Scheme, Tag};
use std::collections::BTreeSet;

/// The result of [`score`]: entity-level counts and token accuracy.
#[derive(Clone, Debug, PartialEq)]
pub struct ConllReport {
    pub entities: Report,
    pub tokens: usize,
    pub correct_tags: usize,
}

impl ConllReport {
    pub fn accuracy(&self) -> f64 {
        if self.tokens == 0 {
            0.0
        } else {
            self.correct_tags as f64 / self.tokens as f64
        }
    }
}

fn chunks(tags: &[String]) -> BTreeSet<(usize, usize, String)> {
    let tags: Vec<Tag> = tags
        .iter()
        .map(|t| Tag::parse(t).unwrap_or_else(|_| Tag::outside()))
        .collect();
    Scheme::Bio
        .decode(&tags)
        .into_iter()
        .map(|s| (s.start, s.end, s.label))
        .collect()
}

/// Scores predicted sentences against gold ones; both must hold the same tokens in the
/// same sentences.
/// The prediction with every tag of an entity type that the gold standard never uses turned
/// into `O`: how a model that tags more types than a corpus annotates (one English model for
/// chemicals, diseases and genes) is scored on that corpus's own types.
pub fn only_gold_types(gold: &[ConllSentence], predicted: &[ConllSentence]) -> Vec<ConllSentence> {
    let type_of = |tag: &str| Tag::parse(tag).ok().and_then(|t| t.label);
    let gold_types: std::collections::HashSet<String> = gold
        .iter()
        .flat_map(|s| &s.tags)
        .filter_map(|t| type_of(t))
        .collect();
    predicted
        .iter()
        .map(|sentence| ConllSentence {
            tokens: sentence.tokens.clone(),
            tags: sentence
                .tags
                .iter()
                .map(|tag| match type_of(tag) {
                    Some(label) if !gold_types.contains(&label) => "O".to_string(),
                    _ => tag.clone(),
                })
                .collect(),
        })
        .collect()
}

pub fn score(gold: &[ConllSentence], predicted: &[ConllSentence]) -> Result<ConllReport> {
    if gold.len() != predicted.len() {
        return Err(Error::Invalid(format!(
            "gold has {} sentences but the prediction has {}",
            gold.len(),
            predicted.len()
        )));
    }
    let mut report = ConllReport {
        entities: Report::new("CoNLL entities (conlleval rules)"),
        tokens: 0,
        correct_tags: 0,
    };
    for (index, (g, p)) in gold.iter().zip(predicted).enumerate() {
        if g.tokens != p.tokens || g.tags.len() != g.tokens.len() || p.tags.len() != p.tokens.len()
        {
            return Err(Error::Invalid(format!(
                "sentence {} differs between gold and prediction (tokens or tag count); first token '{}'",
                index + 1,
                g.tokens.first().map(String::as_str).unwrap_or("")
            )));
        }
        report
            .entities
            .add(&chunks(&g.tags), &chunks(&p.tags), |c| c.2.clone());
        report.tokens += g.tokens.len();
        report.correct_tags += g.tags.iter().zip(&p.tags).filter(|(a, b)| a == b).count();
    }
    report.entities.documents = 1;
    Ok(report)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_gold_types_drops_the_other_types() {
        let sentence = |tags: &[&str]| super::ConllSentence {
            tokens: tags.iter().map(|_| "w".to_string()).collect(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        };
        let gold = [sentence(&["B-Chemical", "O", "O"])];
        let predicted = [sentence(&["B-Chemical", "B-GENE", "I-GENE"])];
        let kept = super::only_gold_types(&gold, &predicted);
        assert_eq!(kept[0].tags, ["B-Chemical", "O", "O"]);
    }

    use super::*;
    use crate::formats::conll::parse_conll;

    #[test]
    fn counts_like_conlleval() {
        let gold = parse_conll("a\tB-X\nb\tI-X\nc\tO\nd\tB-Y\n\ne\tB-X\n", "g").unwrap();
        // Second chunk has the wrong type, third is right; an I after O opens a chunk.
        let predicted = parse_conll("a\tB-X\nb\tI-X\nc\tI-Y\nd\tI-Y\n\ne\tB-X\n", "p").unwrap();
        let report = score(&gold, &predicted).unwrap();
        let overall = report.entities.overall;
        assert_eq!((overall.tp, overall.fp, overall.fn_), (2, 1, 1));
        assert_eq!((report.tokens, report.correct_tags), (5, 3));
        assert!((overall.f1() - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn refuses_misaligned_files() {
        let gold = parse_conll("a\tO\n", "g").unwrap();
        let predicted = parse_conll("b\tO\n", "p").unwrap();
        assert!(score(&gold, &predicted).is_err());
        assert!(score(&gold, &[]).is_err());
    }
}
