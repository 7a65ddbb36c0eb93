//! The dictionary baseline: the training set's mentions, matched longest-first over tokens.
//!
//! Keys are token sequences folded to lower case without accents. Each key keeps its most
//! frequent type and concept, and the share of its occurrences in the training text that
//! were annotated ("precision"); keys below a threshold (common words that are only
//! sometimes entities) are left out.

use super::tagger::Tagger;
use crate::document::{Document, Entity};
use crate::error::{Error, Result};
use crate::tagging::align_entities;
use crate::text::{fold, Segmentation, Token};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

const FORMAT: &str = "clinitag-dictionary";
const VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Entry {
    label: String,
    /// Annotated occurrences / all occurrences in the training text.
    precision: f32,
    /// The most frequent concept id of the mention, if the corpus gives any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    concept: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DictionaryTagger {
    format: String,
    version: u32,
    language: String,
    max_tokens: usize,
    entries: BTreeMap<String, Entry>,
}

/// Each token of a sentence folded once; keys are built from these.
fn folded(text: &str, tokens: &[Token]) -> Vec<String> {
    tokens.iter().map(|t| fold(t.text(text))).collect()
}

/// The keys of the token sequences that start at `start`, of 1 to `max_tokens` tokens,
/// shortest first; each extends the previous one, so no token is folded or copied twice.
fn keys_from(folded: &[String], start: usize, max_tokens: usize) -> Vec<String> {
    let end = (start + max_tokens).min(folded.len());
    let mut keys: Vec<String> = Vec::with_capacity(end - start);
    for token in &folded[start..end] {
        let key = match keys.last() {
            Some(previous) => format!("{previous} {token}"),
            None => token.clone(),
        };
        keys.push(key);
    }
    keys
}

#[derive(Default)]
struct Counts {
    labels: HashMap<String, usize>,
    concepts: HashMap<String, usize>,
    annotated: usize,
    occurrences: usize,
}

fn most_frequent(counts: &HashMap<String, usize>) -> Option<String> {
    counts
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(name, _)| name.clone())
}

impl DictionaryTagger {
    /// Builds the dictionary from annotated documents and their segmentations. Keys whose
    /// annotated share of occurrences is below `min_precision` are dropped.
    pub fn train(language: &str, corpus: &[(Document, Segmentation)], min_precision: f32) -> Self {
        let mut counts: HashMap<String, Counts> = HashMap::new();
        let mut max_tokens = 1;
        let mut folded_sentences = Vec::with_capacity(corpus.len());
        for (document, segmentation) in corpus {
            let (sentences, _) = align_entities(segmentation, &document.entities);
            let folded_document: Vec<Vec<String>> = sentences
                .iter()
                .map(|s| folded(&document.text, &segmentation.tokens[s.tokens.clone()]))
                .collect();
            for (sentence, folded) in sentences.iter().zip(&folded_document) {
                for span in &sentence.spans {
                    let entry = counts
                        .entry(folded[span.start..span.end].join(" "))
                        .or_default();
                    *entry.labels.entry(span.label.clone()).or_default() += 1;
                    entry.annotated += 1;
                    max_tokens = max_tokens.max(span.end - span.start);
                }
            }
            for entity in document.entities.iter().filter(|e| !e.concepts.is_empty()) {
                // The entity's tokens: those that lie inside its span.
                let tokens = &segmentation.tokens;
                let first = tokens.partition_point(|t| t.start < entity.start);
                let last = tokens.partition_point(|t| t.end <= entity.end);
                if first >= last {
                    continue;
                }
                let key = folded(&document.text, &tokens[first..last]).join(" ");
                if let Some(entry) = counts.get_mut(&key) {
                    for concept in &entity.concepts {
                        *entry.concepts.entry(concept.clone()).or_default() += 1;
                    }
                }
            }
            folded_sentences.push(folded_document);
        }
        // How often each key occurs at all, annotated or not.
        for folded in folded_sentences.iter().flatten() {
            for start in 0..folded.len() {
                for key in keys_from(folded, start, max_tokens) {
                    if let Some(entry) = counts.get_mut(&key) {
                        entry.occurrences += 1;
                    }
                }
            }
        }
        let entries = counts
            .into_iter()
            .filter_map(|(key, c)| {
                let precision = c.annotated as f32 / c.occurrences.max(c.annotated) as f32;
                (precision >= min_precision).then(|| {
                    let entry = Entry {
                        label: most_frequent(&c.labels)?,
                        precision,
                        concept: most_frequent(&c.concepts),
                    };
                    Some((key, entry))
                })?
            })
            .collect();
        Self {
            format: FORMAT.to_string(),
            version: VERSION,
            language: language.to_string(),
            max_tokens,
            entries,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a dictionary always serializes")
    }

    /// Loads a dictionary written by [`to_bytes`](Self::to_bytes), checking its header.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let model: Self = serde_json::from_slice(bytes)
            .map_err(|e| Error::Model(format!("not a dictionary model: {e}")))?;
        if model.format != FORMAT {
            return Err(Error::Model(format!(
                "expected format '{FORMAT}', found '{}'",
                model.format
            )));
        }
        if model.version != VERSION {
            return Err(Error::Model(format!(
                "dictionary version {} is not supported (this build reads version {VERSION})",
                model.version
            )));
        }
        if model.max_tokens == 0 {
            return Err(Error::Model("dictionary with max_tokens 0".into()));
        }
        Ok(model)
    }
}

impl Tagger for DictionaryTagger {
    fn tag(&self, text: &str, segmentation: &Segmentation) -> Vec<Entity> {
        let mut entities = Vec::new();
        for range in &segmentation.sentences {
            let tokens = &segmentation.tokens[range.clone()];
            let folded = folded(text, tokens);
            let mut start = 0;
            while start < tokens.len() {
                let keys = keys_from(&folded, start, self.max_tokens);
                let longest = keys
                    .iter()
                    .enumerate()
                    .rev()
                    .find_map(|(i, key)| self.entries.get(key).map(|e| (i + 1, e)));
                match longest {
                    Some((len, entry)) => {
                        let mut entity = Entity::new(
                            tokens[start].start,
                            tokens[start + len - 1].end,
                            entry.label.clone(),
                        );
                        entity.score = entry.precision;
                        entity.concepts.extend(entry.concept.clone());
                        entities.push(entity);
                        start += len;
                    }
                    None => start += 1,
                }
            }
        }
        entities
    }

    fn language(&self) -> &str {
        &self.language
    }

    fn labels(&self) -> Vec<String> {
        let labels: std::collections::BTreeSet<&String> =
            self.entries.values().map(|e| &e.label).collect();
        labels.into_iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus() -> Vec<(Document, Segmentation)> {
        let mut document = Document::new(
            "d",
            "Se pautó ácido fólico. El ácido úrico subió. Hierro oral y hierro.",
        );
        let find = |s: &str| document.text.find(s).unwrap();
        let mut folic = Entity::new(find("ácido fólico"), find(". El"), "NORMALIZABLES");
        folic.concepts.push("63718003".into());
        let iron = Entity::new(find("Hierro"), find(" oral"), "NORMALIZABLES");
        document.entities = vec![folic, iron];
        let segmentation = Segmentation::of(&document.text);
        vec![(document, segmentation)]
    }

    #[test]
    fn matches_longest_folded_mentions_and_skips_unreliable_ones() {
        let corpus = corpus();
        // "hierro" is annotated once out of two occurrences: precision 0.5.
        let strict = DictionaryTagger::train("es", &corpus, 0.6);
        let lenient = DictionaryTagger::train("es", &corpus, 0.5);
        assert_eq!((strict.len(), lenient.len()), (1, 2));
        let text = "Tomaba ACIDO FOLICO y hierro.";
        let entities = lenient.tag(text, &Segmentation::of(text));
        let found: Vec<(&str, &str, &[String])> = entities
            .iter()
            .map(|e| {
                (
                    &text[e.start..e.end],
                    e.label.as_str(),
                    e.concepts.as_slice(),
                )
            })
            .collect();
        assert_eq!(
            found[0],
            (
                "ACIDO FOLICO",
                "NORMALIZABLES",
                &["63718003".to_string()][..]
            )
        );
        assert_eq!(found[1].0, "hierro");
        assert_eq!(entities[1].score, 0.5);
    }

    #[test]
    fn saves_loads_and_rejects_foreign_bytes() {
        let model = DictionaryTagger::train("es", &corpus(), 0.5);
        let Ok(loaded) = DictionaryTagger::from_bytes(&model.to_bytes()) else {
            panic!("model did not load")
        };
        let text = "ácido fólico";
        assert_eq!(
            loaded.tag(text, &Segmentation::of(text)),
            model.tag(text, &Segmentation::of(text))
        );
        assert_eq!(loaded.language(), "es");
        for bad in [
            &b""[..],
            b"\x00\x01garbage",
            b"{\"format\":\"other\"}",
            &model.to_bytes()[..40],
        ] {
            assert!(DictionaryTagger::from_bytes(bad).is_err());
        }
        let foreign = String::from_utf8(model.to_bytes())
            .unwrap()
            .replace(FORMAT, "something-else");
        assert!(DictionaryTagger::from_bytes(foreign.as_bytes())
            .err()
            .unwrap()
            .to_string()
            .contains("expected format"));
    }
}
