//! Entities over characters to spans over the tokens of each sentence, and back.

use super::TokenSpan;
use crate::document::Entity;
use crate::text::{Segmentation, Token};
use std::fmt;
use std::ops::Range;

/// One sentence of a segmented document with the entities that fall inside it, as spans
/// over the sentence's own tokens (index 0 is the sentence's first token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlignedSentence {
    /// Indices into [`Segmentation::tokens`].
    pub tokens: Range<usize>,
    pub spans: Vec<TokenSpan>,
}

impl AlignedSentence {
    /// The byte range in the document text of a span over this sentence's tokens.
    pub fn byte_range(&self, all_tokens: &[Token], span: &TokenSpan) -> Range<usize> {
        let tokens = &all_tokens[self.tokens.clone()];
        tokens[span.start].start..tokens[span.end - 1].end
    }
}

/// Why an entity has no token span.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AlignLoss {
    /// Its start or end falls inside a token (or on whitespace).
    Boundary,
    /// Its first and last tokens are in different sentences.
    CrossesSentence,
}

impl fmt::Display for AlignLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AlignLoss::Boundary => "boundary inside a token",
            AlignLoss::CrossesSentence => "crosses a sentence boundary",
        })
    }
}

/// Places each entity on the tokens of its sentence. Returns one [`AlignedSentence`] per
/// sentence of `segmentation`, and the index of every entity that could not be placed.
pub fn align_entities(
    segmentation: &Segmentation,
    entities: &[Entity],
) -> (Vec<AlignedSentence>, Vec<(usize, AlignLoss)>) {
    let tokens = &segmentation.tokens;
    let mut sentences: Vec<AlignedSentence> = segmentation
        .sentences
        .iter()
        .map(|range| AlignedSentence {
            tokens: range.clone(),
            spans: Vec::new(),
        })
        .collect();
    let mut lost = Vec::new();
    for (index, entity) in entities.iter().enumerate() {
        let first = tokens.binary_search_by_key(&entity.start, |t| t.start);
        let last = tokens.binary_search_by_key(&entity.end, |t| t.end);
        let (Ok(first), Ok(last)) = (first, last) else {
            lost.push((index, AlignLoss::Boundary));
            continue;
        };
        if last < first {
            lost.push((index, AlignLoss::Boundary));
            continue;
        }
        let sentence = segmentation.sentences.partition_point(|s| s.end <= first);
        if sentence >= sentences.len() || last >= segmentation.sentences[sentence].end {
            lost.push((index, AlignLoss::CrossesSentence));
            continue;
        }
        let offset = segmentation.sentences[sentence].start;
        sentences[sentence].spans.push(TokenSpan::new(
            first - offset,
            last + 1 - offset,
            entity.label.clone(),
        ));
    }
    (sentences, lost)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_entities_on_sentence_tokens_and_reports_the_rest() {
        let text = "Tomaba AAS 100 mg. Luego anti-HBs positivo.";
        let segmentation = Segmentation::of(text);
        let at = |needle: &str| text.find(needle).unwrap();
        let entities = vec![
            Entity::new(at("AAS"), at("AAS") + 3, "NORMALIZABLES"),
            Entity::new(at("HBs"), at("HBs") + 3, "PROTEINAS"),
            Entity::new(at("mg. L"), at("Luego") + 5, "X"),
            Entity::new(at("AS"), at("AS") + 2, "Y"),
        ];
        let (sentences, lost) = align_entities(&segmentation, &entities);
        assert_eq!(sentences.len(), 2);
        assert_eq!(sentences[0].spans, [TokenSpan::new(1, 2, "NORMALIZABLES")]);
        assert_eq!(sentences[1].spans, [TokenSpan::new(3, 4, "PROTEINAS")]);
        assert_eq!(
            lost,
            [(2, AlignLoss::CrossesSentence), (3, AlignLoss::Boundary)]
        );
        let span = &sentences[1].spans[0];
        assert_eq!(
            &text[sentences[1].byte_range(&segmentation.tokens, span)],
            "HBs"
        );
    }
}
