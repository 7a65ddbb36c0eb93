//! How well text segmentation and tagging schemes preserve gold entities: the share of
//! entity boundaries that fall on token boundaries, and the share of entities that survive
//! spans → tags → spans.

use crate::document::Document;
use crate::tagging::{align_entities, Scheme};
use crate::text::Segmentation;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// An entity that did not survive, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostEntity {
    pub document: String,
    pub label: String,
    pub text: String,
    pub reason: String,
}

/// Boundary coverage: starts on a token start and ends on a token end.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BoundaryCoverage {
    pub boundaries: usize,
    pub on_token_boundaries: usize,
    pub lost: Vec<LostEntity>,
}

impl BoundaryCoverage {
    pub fn share(&self) -> f64 {
        self.on_token_boundaries as f64 / self.boundaries.max(1) as f64
    }
}

/// Measures boundary coverage of `documents`' entities under clinitag's tokenizer.
pub fn boundary_coverage(documents: &[Document]) -> BoundaryCoverage {
    let mut coverage = BoundaryCoverage::default();
    for document in documents {
        let segmentation = Segmentation::of(&document.text);
        let starts: BTreeSet<usize> = segmentation.tokens.iter().map(|t| t.start).collect();
        let ends: BTreeSet<usize> = segmentation.tokens.iter().map(|t| t.end).collect();
        for entity in &document.entities {
            let hits = usize::from(starts.contains(&entity.start))
                + usize::from(ends.contains(&entity.end));
            coverage.boundaries += 2;
            coverage.on_token_boundaries += hits;
            if hits < 2 {
                coverage
                    .lost
                    .push(lost(document, entity, "boundary inside a token".into()));
            }
        }
    }
    coverage
}

fn lost(document: &Document, entity: &crate::document::Entity, reason: String) -> LostEntity {
    LostEntity {
        document: document.id.clone(),
        label: entity.label.clone(),
        text: context(document, entity.start, entity.end),
        reason,
    }
}

/// The mention in brackets with a little context either side, on one line.
fn context(document: &Document, start: usize, end: usize) -> String {
    let text = &document.text;
    let before: String = text[..start]
        .chars()
        .rev()
        .take(15)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let after: String = text[end..].chars().take(15).collect();
    format!("{before}[{}]{after}", &text[start..end]).replace(['\n', '\r', '\t'], " ")
}

/// The result of a round trip through one scheme.
#[derive(Clone, Debug, PartialEq)]
pub struct RoundTrip {
    pub scheme: Scheme,
    pub entities: usize,
    pub recovered: usize,
    pub lost: Vec<LostEntity>,
}

impl RoundTrip {
    pub fn share(&self) -> f64 {
        self.recovered as f64 / self.entities.max(1) as f64
    }

    /// Lost entities counted by reason.
    pub fn reasons(&self) -> BTreeMap<&str, usize> {
        let mut counts = BTreeMap::new();
        for lost in &self.lost {
            *counts.entry(lost.reason.as_str()).or_default() += 1;
        }
        counts
    }
}

/// Segments each document, encodes its entities per sentence with `scheme`, decodes the
/// tags and counts the (start, end, type) entities that come back exactly.
pub fn round_trip(documents: &[Document], scheme: Scheme) -> RoundTrip {
    let mut result = RoundTrip {
        scheme,
        entities: 0,
        recovered: 0,
        lost: Vec::new(),
    };
    for document in documents {
        let segmentation = Segmentation::of(&document.text);
        // Identical annotations are one entity.
        let mut unique = document.entities.clone();
        unique.sort_by(|a, b| (a.start, a.end, &a.label).cmp(&(b.start, b.end, &b.label)));
        unique.dedup_by(|a, b| (a.start, a.end, &a.label) == (b.start, b.end, &b.label));
        let (sentences, unaligned) = align_entities(&segmentation, &unique);
        let mut reasons: BTreeMap<usize, String> = unaligned
            .into_iter()
            .map(|(i, r)| (i, r.to_string()))
            .collect();
        let mut decoded = BTreeSet::new();
        for sentence in &sentences {
            let encoding = scheme.encode(sentence.tokens.len(), &sentence.spans);
            for span in scheme.decode(&encoding.tags) {
                let range = sentence.byte_range(&segmentation.tokens, &span);
                decoded.insert((range.start, range.end, span.label));
            }
            for (span, reason) in encoding.dropped {
                let range = sentence.byte_range(&segmentation.tokens, &span);
                if let Some(index) = unique.iter().position(|e| {
                    (e.start, e.end, &e.label) == (range.start, range.end, &span.label)
                }) {
                    reasons.entry(index).or_insert_with(|| reason.to_string());
                }
            }
        }
        for (index, entity) in unique.iter().enumerate() {
            result.entities += 1;
            if decoded.contains(&(entity.start, entity.end, entity.label.clone())) {
                result.recovered += 1;
            } else {
                let reason = reasons
                    .remove(&index)
                    .unwrap_or_else(|| "decoded differently".to_string());
                result.lost.push(lost(document, entity, reason));
            }
        }
    }
    result
}

impl fmt::Display for RoundTrip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<7} {}/{} entities recovered exactly ({:.2}%)",
            self.scheme.name(),
            self.recovered,
            self.entities,
            100.0 * self.share()
        )?;
        for (reason, count) in self.reasons() {
            writeln!(f, "        lost {count:>4}: {reason}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Entity;

    #[test]
    fn nested_entities_survive_bmewov_but_not_flat_schemes() {
        let mut document = Document::new("d", "Receptores de estrógenos positivos. Dosis de AAS.");
        let at = |s: &str| document.text.find(s).unwrap();
        let outer = Entity::new(0, at(" positivos"), "PROTEINAS");
        let inner = Entity::new(at("estrógenos"), at(" positivos"), "NORMALIZABLES");
        let split = Entity::new(at("AS."), at("AS.") + 2, "NORMALIZABLES");
        document.entities = vec![outer, inner, split];
        let documents = [document];
        let bmewov = round_trip(&documents, Scheme::Bmewov);
        assert_eq!((bmewov.entities, bmewov.recovered), (3, 2));
        assert_eq!(bmewov.lost[0].reason, "boundary inside a token");
        assert_eq!(bmewov.lost[0].text, "vos. Dosis de A[AS].");
        let bio = round_trip(&documents, Scheme::Bio);
        assert_eq!(bio.recovered, 1);
        assert_eq!(boundary_coverage(&documents).on_token_boundaries, 5);
    }
}
