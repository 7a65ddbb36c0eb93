//! Documents and the entities found in them: [`Entity`] inside the library (byte offsets),
//! [`Mention`] as the pipeline gives it to every door (offsets in the caller's unit).

use crate::text::Segmentation;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

/// Mentions shorter than this many characters are never propagated: two letters (`Ca`,
/// `AE`, `IV`) are too often something else in clinical text.
const SHORTEST_PROPAGATED: usize = 3;

/// An entity mention: the byte range `start..end` of the document text, its type, a
/// confidence, its normalized concept ids (SNOMED CT, `<null>` where none applies) and what
/// the text says about it, with the byte range of the cue that says so.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub start: usize,
    pub end: usize,
    pub label: String,
    pub score: f32,
    pub concepts: Vec<String>,
    #[serde(default)]
    pub assertion: Assertion,
    #[serde(default)]
    pub cue: Option<Range<usize>>,
}

impl Entity {
    pub fn new(start: usize, end: usize, label: impl Into<String>) -> Self {
        Self {
            start,
            end,
            label: label.into(),
            score: 1.0,
            concepts: Vec::new(),
            assertion: Assertion::Present,
            cue: None,
        }
    }
}

/// What the text says about an entity: that it is there (`present`), or not, or maybe, or
/// only if something happens, or of someone else, or in the past.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Assertion {
    #[default]
    Present,
    /// "no toma", "niega", "se descarta", "sin".
    Negated,
    /// "posible", "probable", "sospecha de", "compatible con".
    Possible,
    /// "si empeora", "se valorará iniciar", "en caso de".
    Hypothetical,
    /// "su madre", "antecedentes familiares de".
    Family,
    /// "antecedentes de", "history of".
    Historical,
}

/// A SNOMED CT concept given to a mention, and how it was found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConceptMatch {
    pub id: String,
    /// The concept's preferred term, as the index gives it.
    pub preferred: String,
    /// In (0, 1]: how well the indexed term matches, times how often it names this concept.
    pub score: f32,
    /// The matcher's stage that found it ([`crate::normalize::Stage::name`]), or `model`
    /// where the model itself gave the concept (a dictionary's entries).
    pub stage: String,
    /// The indexed term that matched, normalised.
    pub term: String,
    /// Where that term came from: the index's sources that gave it for this concept.
    pub sources: Vec<String>,
}

/// An entity as every door gives it: `start..end` are the offsets of `text` in the input,
/// in the unit the caller asked for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Mention {
    pub start: usize,
    pub end: usize,
    /// The entity type (`NORMALIZABLES`, `Chemical`, …).
    #[serde(rename = "type")]
    pub label: String,
    pub text: String,
    /// The lowest marginal probability among its tokens' tags (1 for dictionary models).
    pub score: f32,
    pub concept: Option<ConceptMatch>,
    /// What the text says about it: present, negated, possible, hypothetical, family or
    /// historical.
    pub assertion: Assertion,
    /// The words that decided a non-present assertion.
    pub cue: Option<Cue>,
}

/// The cue of an assertion ("no", "su madre"): its offsets in the caller's unit and its text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cue {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// A text with an id (the BRAT file stem) and its entities.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Document {
    pub id: String,
    pub text: String,
    pub entities: Vec<Entity>,
}

impl Document {
    pub fn new(id: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            text: text.into(),
            entities: Vec::new(),
        }
    }

    /// The exact text of an entity.
    pub fn mention(&self, entity: &Entity) -> &str {
        &self.text[entity.start..entity.end]
    }

    /// Tags every other occurrence of an entity's exact text in this document, as whole
    /// tokens of one sentence of `segmentation`, where it overlaps no entity; returns how many
    /// entities that added. A model reads each sentence alone and may miss in one place the
    /// drug or protein it found in another: a case report names the same things again.
    ///
    /// A text found with several types takes the one it was found with most often (the
    /// first in the text on a tie); a new entity takes the best score its text had. Longer
    /// texts are placed first, so `ácido fólico` wins over `fólico`. Mentions shorter than
    /// three characters, and those that do not start and end on tokens, are not propagated.
    pub fn propagate_mentions(&mut self, segmentation: &Segmentation) -> usize {
        let text = self.text.as_str();
        let tokens = &segmentation.tokens;
        // Each distinct mention: its types with their counts, its best score, its tokens.
        struct Mention<'t> {
            labels: Vec<(&'t str, usize)>,
            score: f32,
            first: &'t str,
            tokens: usize,
        }
        let mut mentions: HashMap<&str, Mention> = HashMap::new();
        let mut found: Vec<&Entity> = self.entities.iter().collect();
        found.sort_by_key(|e| (e.start, e.end));
        for entity in &found {
            let mention = &text[entity.start..entity.end];
            let first = tokens.binary_search_by_key(&entity.start, |t| t.start);
            let last = tokens.binary_search_by_key(&entity.end, |t| t.end);
            let (Ok(first), Ok(last)) = (first, last) else {
                continue;
            };
            if mention.chars().count() < SHORTEST_PROPAGATED || last < first {
                continue;
            }
            let entry = mentions.entry(mention).or_insert(Mention {
                labels: Vec::new(),
                score: entity.score,
                first: tokens[first].text(text),
                tokens: last + 1 - first,
            });
            entry.score = entry.score.max(entity.score);
            match entry.labels.iter_mut().find(|(l, _)| *l == entity.label) {
                Some((_, count)) => *count += 1,
                None => entry.labels.push((&entity.label, 1)),
            }
        }
        // Where each mention could start: indexed by its first token's text.
        let mut by_first_token: HashMap<&str, Vec<(&str, usize)>> = HashMap::new();
        for (&mention, entry) in &mentions {
            let starting = by_first_token.entry(entry.first).or_default();
            starting.push((mention, entry.tokens));
        }
        let mut candidates = Vec::new();
        for sentence in &segmentation.sentences {
            for i in sentence.clone() {
                let Some(starting) = by_first_token.get(tokens[i].text(text)) else {
                    continue;
                };
                for &(mention, count) in starting {
                    let last = i + count - 1;
                    if last < sentence.end && text[tokens[i].start..tokens[last].end] == *mention {
                        candidates.push((tokens[i].start, tokens[last].end, mention));
                    }
                }
            }
        }
        candidates.sort_by_key(|&(start, end, _)| (std::cmp::Reverse(end - start), start));
        // The text already taken, as disjoint byte ranges (start → end).
        let mut taken: BTreeMap<usize, usize> = BTreeMap::new();
        for entity in &found {
            let before = taken.range(..entity.end).next_back().map(|(&s, &e)| (s, e));
            match before {
                Some((start, end)) if end > entity.start => {
                    taken.insert(start, end.max(entity.end));
                }
                _ => {
                    taken.insert(entity.start, entity.end);
                }
            }
        }
        let mut added = Vec::new();
        for (start, end, mention) in candidates {
            let before = taken.range(..end).next_back();
            if before.is_some_and(|(_, &taken_end)| taken_end > start) {
                continue;
            }
            taken.insert(start, end);
            let entry = &mentions[mention];
            // The most frequent type; `max_by_key` keeps the last of equals, so look from the end.
            let (label, _) = entry.labels.iter().rev().max_by_key(|(_, n)| *n).unwrap();
            added.push(Entity {
                score: entry.score,
                ..Entity::new(start, end, *label)
            });
        }
        let count = added.len();
        self.entities.extend(added);
        self.entities.sort_by_key(|e| (e.start, e.end));
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(document: &Document) -> Vec<(&str, &str, f32)> {
        let entities = document.entities.iter();
        entities
            .map(|e| (document.mention(e), e.label.as_str(), e.score))
            .collect()
    }

    fn at(text: &str, mention: &str, nth: usize, label: &str, score: f32) -> Entity {
        let start = text.match_indices(mention).nth(nth).unwrap().0;
        Entity {
            score,
            ..Entity::new(start, start + mention.len(), label)
        }
    }

    #[test]
    fn a_found_mention_is_tagged_where_it_recurs_as_whole_tokens_and_nowhere_it_overlaps() {
        let text = "Tratada con ácido fólico y Fe oral. EMA positiva, EMA y CK 7 negativas. \
                    Se suspendió el ácido fólico; las sales de ácido fólico y el Fe siguieron. \
                    Ácido fólico, fólico y EMAs: la EMA y la CK 7 se repitieron.";
        let mut document = Document::new("case", text);
        document.entities = vec![
            at(text, "ácido fólico", 0, "NORMALIZABLES", 0.9),
            at(text, "Fe", 0, "NORMALIZABLES", 0.8),
            at(text, "EMA", 0, "PROTEINAS", 0.6),
            at(text, "EMA", 1, "NORMALIZABLES", 0.7),
            at(text, "CK 7", 0, "PROTEINAS", 0.5),
            at(text, "fólico", 4, "NORMALIZABLES", 0.4),
            at(text, "sales de ácido fólico", 0, "NORMALIZABLES", 0.3),
        ];
        let segmentation = Segmentation::of(text);
        assert_eq!(document.propagate_mentions(&segmentation), 4);
        assert_eq!(
            found(&document),
            [
                ("ácido fólico", "NORMALIZABLES", 0.9),
                ("Fe", "NORMALIZABLES", 0.8),
                ("EMA", "PROTEINAS", 0.6),
                ("EMA", "NORMALIZABLES", 0.7),
                ("CK 7", "PROTEINAS", 0.5),
                // Added: the drug again, with its best score.
                ("ácido fólico", "NORMALIZABLES", 0.9),
                // Not added inside it: it is found already.
                ("sales de ácido fólico", "NORMALIZABLES", 0.3),
                // `Ácido fólico` differs in case, but the `fólico` in it was found alone.
                ("fólico", "NORMALIZABLES", 0.4),
                ("fólico", "NORMALIZABLES", 0.4),
                // `Fe` is too short, and `EMAs` is another token.
                // Found once of each type: the first type wins the tie, at the best score.
                ("EMA", "PROTEINAS", 0.7),
                ("CK 7", "PROTEINAS", 0.5),
            ]
        );
        for entity in &document.entities {
            assert_eq!(document.mention(entity), &text[entity.start..entity.end]);
        }
        // Propagating again finds nothing new.
        assert_eq!(document.propagate_mentions(&segmentation), 0);
    }

    #[test]
    fn longer_mentions_are_placed_first_and_mentions_off_token_edges_are_not_propagated() {
        let text = "Recibió ácido fólico. Después, fólico y ácido fólico; calcio y calcio.";
        let mut document = Document::new("case", text);
        document.entities = vec![
            at(text, "ácido fólico", 0, "NORMALIZABLES", 1.0),
            at(text, "fólico", 1, "PROTEINAS", 1.0),
            // Not on a token's edges: `alcio` starts inside `calcio`.
            at(text, "alcio", 0, "NORMALIZABLES", 1.0),
        ];
        assert_eq!(document.propagate_mentions(&Segmentation::of(text)), 1);
        let found = found(&document);
        assert_eq!(found[2], ("ácido fólico", "NORMALIZABLES", 1.0));
        assert_eq!(found.len(), 4);

        let mut empty = Document::new("empty", "");
        assert_eq!(empty.propagate_mentions(&Segmentation::of("")), 0);
    }
}
