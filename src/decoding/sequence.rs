//! From a sentence's emission scores to entities: constrained Viterbi over a scheme's tags,
//! with each entity's confidence from the marginal probabilities. Shared by every neural
//! architecture, so they decode identically.

use super::{marginals, viterbi, CrfScores, FORBIDDEN};
use crate::document::Entity;
use crate::tagging::{Scheme, Tag, TokenSpan};
use crate::text::Segmentation;

#[derive(Clone, Debug)]
pub struct SequenceDecoder {
    pub scheme: Scheme,
    pub tags: Vec<Tag>,
    /// Transition scores: learned by a CRF plus the scheme's constraints, or the constraints
    /// alone for a softmax model.
    pub scores: CrfScores,
}

impl SequenceDecoder {
    /// The tag set of `scheme` over `labels` and its constraints alone (no learned scores).
    pub fn constrained(scheme: Scheme, labels: &[String]) -> Self {
        let tags = scheme.tag_set(labels);
        let (start, end, transitions) = scheme.transition_mask(&tags, FORBIDDEN);
        Self {
            scheme,
            tags,
            scores: CrfScores {
                start,
                end,
                transitions,
            },
        }
    }

    /// The best tag sequence's entities, each with its confidence: the lowest marginal
    /// probability among its tokens' tags.
    pub fn decode(&self, emissions: &[f32], len: usize) -> Vec<(TokenSpan, f32)> {
        let (path, _) = viterbi(emissions, len, &self.scores);
        let tags: Vec<Tag> = path.iter().map(|&i| self.tags[i].clone()).collect();
        let probabilities = marginals(emissions, len, &self.scores);
        let k = self.tags.len();
        self.scheme
            .decode(&tags)
            .into_iter()
            .map(|span| {
                let confidence = (span.start..span.end)
                    .map(|t| probabilities[t * k + path[t]])
                    .fold(1.0f32, f32::min);
                (span, confidence)
            })
            .collect()
    }

    /// Entities of a segmented text (byte offsets) from its sentences' emission scores
    /// (`tokens × tags`, row-major, one list per sentence).
    pub fn entities(&self, segmentation: &Segmentation, emissions: &[Vec<f32>]) -> Vec<Entity> {
        let mut entities = Vec::new();
        for (range, scores) in segmentation.sentences.iter().zip(emissions) {
            let sentence_tokens = &segmentation.tokens[range.clone()];
            for (span, confidence) in self.decode(scores, sentence_tokens.len()) {
                let mut entity = Entity::new(
                    sentence_tokens[span.start].start,
                    sentence_tokens[span.end - 1].end,
                    span.label,
                );
                entity.score = confidence;
                entities.push(entity);
            }
        }
        entities
    }

    /// The decoder over the outside tag and the tags of `labels` alone, with the columns of
    /// this decoder's scores that its own are: decoding emissions cut to those columns is
    /// decoding the whole rows with every other tag forbidden.
    pub fn restricted(&self, labels: &[String]) -> (Self, Vec<usize>) {
        let kept: Vec<usize> = (0..self.tags.len())
            .filter(|&i| {
                self.tags[i]
                    .label
                    .as_ref()
                    .is_none_or(|label| labels.contains(label))
            })
            .collect();
        let k = self.tags.len();
        let scores = &self.scores;
        let decoder = Self {
            scheme: self.scheme,
            tags: kept.iter().map(|&i| self.tags[i].clone()).collect(),
            scores: CrfScores {
                start: kept.iter().map(|&i| scores.start[i]).collect(),
                end: kept.iter().map(|&i| scores.end[i]).collect(),
                transitions: kept
                    .iter()
                    .flat_map(|&from| {
                        kept.iter()
                            .map(move |&to| scores.transitions[from * k + to])
                    })
                    .collect(),
            },
        };
        (decoder, kept)
    }

    /// Tag names in score order, for writing CoNLL.
    pub fn tag_names(&self) -> Vec<String> {
        self.tags.iter().map(|t| self.scheme.format(t)).collect()
    }
}
