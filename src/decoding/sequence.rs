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

    /// Tag names in score order, for writing CoNLL.
    pub fn tag_names(&self) -> Vec<String> {
        self.tags.iter().map(|t| self.scheme.format(t)).collect()
    }
}
