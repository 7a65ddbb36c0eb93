//! [`AssertionRules`]: ConText over a segmented text, entity by entity.

use super::rules::{Direction, Rule, RuleFile};
use crate::document::{Assertion, Entity};
use crate::error::{Error, Result};
use crate::text::{fold, tokenize, Segmentation};
use std::collections::HashMap;
use std::ops::Range;

/// The rules clinitag ships: Spanish (NegEx-MES and clinitag's own) and English (medspaCy's
/// ConText rules). `scripts/assertion_rules.py` writes them.
const SPANISH: &str = include_str!("es.json");
const ENGLISH: &str = include_str!("en.json");

/// The trigger phrases of one language, ready to find in sentences.
#[derive(Clone, Debug)]
pub struct AssertionRules {
    language: String,
    rules: Vec<Rule>,
    /// Each rule's phrase as words, under its first word's folded form.
    phrases: HashMap<String, Vec<(Vec<Word>, usize)>>,
    max_scope: Option<usize>,
}

/// A trigger of a category found in a text, and what its scope covers.
#[derive(Clone, Debug, PartialEq)]
pub struct Scope {
    pub category: Assertion,
    /// The cue's byte range.
    pub cue: Range<usize>,
    /// The byte ranges its scope covers, from a token's start to a token's end: before the
    /// cue, after it, or both.
    pub spans: Vec<Range<usize>>,
}

/// A word of a phrase or a text: lowercased, and folded (without accents too).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Word {
    lower: String,
    folded: String,
}

impl Word {
    fn new(text: &str) -> Self {
        Word {
            lower: text.to_lowercase(),
            folded: fold(text),
        }
    }

    /// Whether this word of a text is `phrase`'s word: the same but for case, or written
    /// without accents where the phrase has some (notes often drop them: "descarto"). A word
    /// with an accent its phrase lacks is another word: "sí" is not "si".
    fn is(&self, phrase: &Word) -> bool {
        self.lower == phrase.lower || (self.lower == self.folded && self.folded == phrase.folded)
    }
}

/// The words of a text's tokens.
fn words(text: &str, tokens: &[crate::text::Token]) -> Vec<Word> {
    tokens
        .iter()
        .map(|t| Word::new(&text[t.start..t.end]))
        .collect()
}

/// A rule found in a sentence: its tokens (indices within the sentence).
#[derive(Clone, Debug)]
struct Trigger {
    tokens: Range<usize>,
    rule: usize,
}

impl AssertionRules {
    /// The bundled rules of `language` (`es`, `en`), if clinitag has some.
    pub fn bundled(language: &str) -> Option<Self> {
        let json = match language {
            "es" => SPANISH,
            "en" => ENGLISH,
            _ => return None,
        };
        Some(Self::from_json(json).expect("the bundled rules are valid"))
    }

    /// Rules from the JSON of a rule file: `{"language", "max_scope", "rules": [{"phrase",
    /// "category", "direction"}]}`.
    pub fn from_json(json: &str) -> Result<Self> {
        let file: RuleFile = serde_json::from_str(json)
            .map_err(|e| Error::Invalid(format!("bad assertion rules: {e}")))?;
        Self::new(file.language, file.rules, file.max_scope)
    }

    /// Rules of `language` from a list; a scope runs over at most `max_scope` tokens.
    pub fn new(language: String, rules: Vec<Rule>, max_scope: Option<usize>) -> Result<Self> {
        let mut phrases: HashMap<String, Vec<(Vec<Word>, usize)>> = HashMap::new();
        for (i, rule) in rules.iter().enumerate() {
            let words = words(&rule.phrase, &tokenize(&rule.phrase));
            let Some(first) = words.first() else {
                return Err(Error::Invalid(format!("assertion rule {i} has no words")));
            };
            let asserts = rule.direction.reach().is_some();
            if asserts && matches!(rule.category, None | Some(Assertion::Present)) {
                return Err(Error::Invalid(format!(
                    "assertion rule '{}' opens a scope but names no category",
                    rule.phrase
                )));
            }
            phrases
                .entry(first.folded.clone())
                .or_default()
                .push((words, i));
        }
        Ok(Self {
            language,
            rules,
            phrases,
            max_scope,
        })
    }

    pub fn language(&self) -> &str {
        &self.language
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Most tokens a scope runs over (none: to the sentence's end or start).
    pub fn max_scope(&self) -> Option<usize> {
        self.max_scope
    }

    /// Sets [`Self::max_scope`].
    pub fn set_max_scope(&mut self, tokens: Option<usize>) {
        self.max_scope = tokens;
    }

    /// Sets each entity's assertion and cue (the trigger's byte range), from the triggers
    /// whose scopes hold it within its sentence: someone else's (family) whatever else holds
    /// it; otherwise the nearest of negated, possible and hypothetical (of two equally near,
    /// in that order of precedence: hypothetical, negated, possible); otherwise historical;
    /// otherwise present. An entity that overlaps a trigger's words is not in its scope.
    pub fn assert(&self, text: &str, segmentation: &Segmentation, entities: &mut [Entity]) {
        let tokens = &segmentation.tokens;
        let sentences: Vec<Vec<Trigger>> = segmentation
            .sentences
            .iter()
            .map(|range| self.triggers(&words(text, &tokens[range.clone()])))
            .collect();
        for entity in entities {
            entity.assertion = Assertion::Present;
            entity.cue = None;
            // The entity's tokens: from the first that ends after its start to the last that
            // starts before its end.
            let first = tokens.partition_point(|t| t.end <= entity.start);
            let last = tokens.partition_point(|t| t.start < entity.end);
            if first >= last {
                continue;
            }
            let sentence = segmentation
                .sentences
                .partition_point(|range| range.end <= first);
            let Some(range) = segmentation.sentences.get(sentence) else {
                continue;
            };
            let span = first - range.start..(last - range.start).min(range.len());
            if let Some(trigger) = self.decide(&sentences[sentence], range.len(), &span) {
                let rule = &self.rules[trigger.rule];
                entity.assertion = rule.category.unwrap_or_default();
                let cue = range.start + trigger.tokens.start..range.start + trigger.tokens.end;
                entity.cue = Some(tokens[cue.start].start..tokens[cue.end - 1].end);
            }
        }
    }

    /// Every trigger of a category in the text, with the words its scope covers: what
    /// [`Self::assert`] reads entities against, for showing and for scoring cues and scopes.
    pub fn scopes(&self, text: &str, segmentation: &Segmentation) -> Vec<Scope> {
        let tokens = &segmentation.tokens;
        let mut scopes = Vec::new();
        for range in &segmentation.sentences {
            let sentence = &tokens[range.clone()];
            let triggers = self.triggers(&words(text, sentence));
            let bytes = |span: Range<usize>| {
                (!span.is_empty()).then(|| sentence[span.start].start..sentence[span.end - 1].end)
            };
            for (i, trigger) in triggers.iter().enumerate() {
                let rule = &self.rules[trigger.rule];
                let Some(category) = rule.category else {
                    continue;
                };
                let Some((forward, backward)) = rule.direction.reach() else {
                    continue;
                };
                let mut spans = Vec::new();
                if backward {
                    spans.extend(bytes(
                        self.backward_start(&triggers, i)..trigger.tokens.start,
                    ));
                }
                if forward {
                    let end = self.forward_end(&triggers, i, sentence.len());
                    spans.extend(bytes(trigger.tokens.end..end));
                }
                scopes.push(Scope {
                    category,
                    cue: bytes(trigger.tokens.clone()).expect("a trigger has words"),
                    spans,
                });
            }
        }
        scopes
    }

    /// The trigger that decides for an entity over `span` (tokens of a sentence of `length`
    /// tokens), if any scope holds it.
    fn decide<'t>(
        &self,
        triggers: &'t [Trigger],
        length: usize,
        span: &Range<usize>,
    ) -> Option<&'t Trigger> {
        // The best so far: (axis, nearness, precedence), compared in that order.
        let mut best: Option<((u8, usize, u8), &Trigger)> = None;
        for (i, trigger) in triggers.iter().enumerate() {
            let rule = &self.rules[trigger.rule];
            let Some(category) = rule.category else {
                continue;
            };
            let Some((forward, backward)) = rule.direction.reach() else {
                continue;
            };
            let mut distance = None;
            if forward
                && trigger.tokens.end <= span.start
                && span.start < self.forward_end(triggers, i, length)
            {
                distance = Some(span.start - trigger.tokens.end);
            }
            if backward
                && span.end <= trigger.tokens.start
                && span.end > self.backward_start(triggers, i)
            {
                let before = trigger.tokens.start - span.end;
                distance = Some(distance.map_or(before, |d: usize| d.min(before)));
            }
            let Some(distance) = distance else {
                continue;
            };
            let key = (axis(category), usize::MAX - distance, precedence(category));
            if best.is_none_or(|(best, _)| key > best) {
                best = Some((key, trigger));
            }
        }
        best.map(|(_, trigger)| trigger)
    }

    /// Where the forward scope of `triggers[i]` ends (a token index, exclusive).
    fn forward_end(&self, triggers: &[Trigger], i: usize, length: usize) -> usize {
        let trigger = &triggers[i];
        let mut end = length;
        if let Some(max) = self.max_scope {
            end = end.min(trigger.tokens.end + max);
        }
        let category = self.rules[trigger.rule].category;
        triggers[i + 1..]
            .iter()
            .find(|other| self.ends_scope(other, category))
            .map_or(end, |other| end.min(other.tokens.start))
    }

    /// Where the backward scope of `triggers[i]` starts (a token index, inclusive).
    fn backward_start(&self, triggers: &[Trigger], i: usize) -> usize {
        let trigger = &triggers[i];
        let mut start = 0;
        if let Some(max) = self.max_scope {
            start = trigger.tokens.start.saturating_sub(max);
        }
        let category = self.rules[trigger.rule].category;
        triggers[..i]
            .iter()
            .rev()
            .find(|other| self.ends_scope(other, category))
            .map_or(start, |other| start.max(other.tokens.end))
    }

    /// Whether `other` ends a scope of `category`: a terminating phrase of that category or
    /// of all. Triggers of other categories do not (a note's "su madre no toma digoxina" is
    /// both the mother's and negated).
    fn ends_scope(&self, other: &Trigger, category: Option<Assertion>) -> bool {
        let rule = &self.rules[other.rule];
        rule.direction == Direction::Terminate
            && (rule.category.is_none() || rule.category == category)
    }

    /// The rules found in a sentence's words: at each word the longest phrase that starts
    /// there (the first listed of equal ones), left to right, none overlapping.
    fn triggers(&self, words: &[Word]) -> Vec<Trigger> {
        let mut found = Vec::new();
        let mut at = 0;
        while at < words.len() {
            let matches = |phrase: &[Word]| {
                phrase.len() <= words.len() - at
                    && words[at..].iter().zip(phrase).all(|(word, p)| word.is(p))
            };
            let longest = self.phrases.get(&words[at].folded).and_then(|candidates| {
                candidates
                    .iter()
                    .filter(|(phrase, _)| matches(phrase))
                    .fold(
                        None,
                        |best: Option<&(Vec<Word>, usize)>, candidate| match best {
                            Some(best) if best.0.len() >= candidate.0.len() => Some(best),
                            _ => Some(candidate),
                        },
                    )
            });
            match longest {
                Some((phrase, rule)) => {
                    found.push(Trigger {
                        tokens: at..at + phrase.len(),
                        rule: *rule,
                    });
                    at += phrase.len();
                }
                None => at += 1,
            }
        }
        found
    }
}

/// ConText's axes, in the order they decide: whose it is (family) before whether it is
/// (negated, possible, hypothetical) before when (historical).
fn axis(assertion: Assertion) -> u8 {
    match assertion {
        Assertion::Family => 3,
        Assertion::Negated | Assertion::Possible | Assertion::Hypothetical => 2,
        Assertion::Historical => 1,
        Assertion::Present => 0,
    }
}

/// Which of two triggers of one axis at the same distance decides: what would only happen
/// beats a negation, which beats a doubt.
fn precedence(assertion: Assertion) -> u8 {
    match assertion {
        Assertion::Hypothetical => 3,
        Assertion::Negated => 2,
        Assertion::Possible => 1,
        Assertion::Family | Assertion::Historical | Assertion::Present => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts each mention of `expected` (its first occurrence in `text`, as an entity) with
    /// the bundled rules of `language`, and checks its assertion and its cue's text.
    fn check(language: &str, text: &str, expected: &[(&str, Assertion, Option<&str>)]) {
        let rules = AssertionRules::bundled(language).unwrap();
        let mut entities: Vec<Entity> = expected
            .iter()
            .map(|(mention, ..)| {
                let start = text.find(mention).expect(mention);
                Entity::new(start, start + mention.len(), "X")
            })
            .collect();
        rules.assert(text, &Segmentation::of(text), &mut entities);
        let found: Vec<(&str, Assertion, Option<&str>)> = entities
            .iter()
            .map(|e| {
                let cue = e.cue.clone().map(|cue| &text[cue]);
                (&text[e.start..e.end], e.assertion, cue)
            })
            .collect();
        assert_eq!(found, expected);
    }

    /// The note of the issue that asked for assertions: one current medication of six.
    #[test]
    fn a_medication_list_keeps_only_what_the_patient_takes() {
        let note = "Paciente de 70 años que niega alergias medicamentosas. No toma \
                    anticoagulantes ni aspirina. Se descarta tratamiento con warfarina por riesgo \
                    hemorrágico; se valorará iniciar apixabán si empeora. Su madre tomaba \
                    digoxina. Posible reacción a amoxicilina en la infancia. En tratamiento con \
                    enalapril 10 mg.";
        use Assertion::*;
        check(
            "es",
            note,
            &[
                ("alergias", Negated, Some("niega")),
                ("anticoagulantes", Negated, Some("No toma")),
                ("aspirina", Negated, Some("ni")),
                ("warfarina", Negated, Some("Se descarta")),
                ("apixabán", Hypothetical, Some("se valorará")),
                ("digoxina", Family, Some("madre")),
                ("amoxicilina", Possible, Some("Posible")),
                ("enalapril", Present, None),
            ],
        );
    }

    #[test]
    fn english_reads_each_category_with_medspacys_rules() {
        let note = "No fever. She denies chest pain. Possible pneumonia. Her mother has \
                    diabetes. History of asthma. Return if hematuria. Taking metformin.";
        use Assertion::*;
        check(
            "en",
            note,
            &[
                ("fever", Negated, Some("No")),
                ("chest pain", Negated, Some("denies")),
                ("pneumonia", Possible, Some("Possible")),
                ("diabetes", Family, Some("mother")),
                ("asthma", Historical, Some("History")),
                ("hematuria", Hypothetical, Some("if")),
                ("metformin", Present, None),
            ],
        );
    }

    #[test]
    fn scopes_end_at_terminators_pseudo_triggers_and_the_sentence() {
        use Assertion::*;
        // "pero" ends the negation; "sí" (yes) is not "si" (if); a pseudo-trigger ("sin
        // cambios") negates nothing; a backward trigger reads what comes before it; the next
        // sentence is out of reach.
        let text = "No fiebre pero sí tos. Radiografía sin cambios respecto a la previa. \
                    Neumonía descartada. Disnea.";
        check(
            "es",
            text,
            &[
                ("fiebre", Negated, Some("No")),
                ("tos", Present, None),
                ("previa", Present, None),
                ("Neumonía", Negated, Some("descartada")),
                ("Disnea", Present, None),
            ],
        );
    }

    #[test]
    fn the_nearest_trigger_decides_and_a_relatives_wins() {
        use Assertion::*;
        // In two scopes: the nearer trigger wins ("ni" over "No"); a cue with no entity
        // after it changes nothing; a family member's negated drug is the family's, and the
        // patient's own ends the family's scope.
        let text = "No toma ibuprofeno ni paracetamol. Sin alergias conocidas. \
                    Su madre no toma digoxina. Su padre tomaba insulina y la paciente toma \
                    enalapril.";
        check(
            "es",
            text,
            &[
                ("ibuprofeno", Negated, Some("No toma")),
                ("paracetamol", Negated, Some("ni")),
                ("digoxina", Family, Some("madre")),
                ("insulina", Family, Some("padre")),
                ("enalapril", Present, None),
            ],
        );
        // Beyond a scope's reach, present.
        let mut rules = AssertionRules::bundled("es").unwrap();
        rules.set_max_scope(Some(1));
        let text = "No toma hoy aspirina.";
        let mut entities = vec![Entity::new(12, 20, "X")];
        rules.assert(text, &Segmentation::of(text), &mut entities);
        assert_eq!(entities[0].assertion, Present);
    }

    #[test]
    fn bad_rules_are_refused_with_a_reason() {
        for (json, reason) in [
            ("{", "bad assertion rules"),
            (
                r#"{"language": "es", "rules": [{"phrase": " ", "category": "negated", "direction": "forward"}]}"#,
                "no words",
            ),
            (
                r#"{"language": "es", "rules": [{"phrase": "no", "direction": "forward"}]}"#,
                "names no category",
            ),
            (
                r#"{"language": "es", "rules": [{"phrase": "no", "category": "sideways", "direction": "forward"}]}"#,
                "bad assertion rules",
            ),
        ] {
            let error = AssertionRules::from_json(json).unwrap_err().to_string();
            assert!(error.contains(reason), "{error}");
        }
        assert!(AssertionRules::bundled("fr").is_none());
    }
}
