//! Looking a mention up in a [`ConceptIndex`], in stages that stop at the first that finds
//! anything: exact, abbreviation expansion, cross-lingual spelling rules, Levenshtein
//! automaton search, fuzzy similarity.

use super::config::MatcherConfig;
use super::crosslingual::{cross_lingual_form, is_radionuclide};
use super::index::{Concept, ConceptIndex, Posting, NO_CONCEPT};
use super::keys::{is_identifier, normalize_term};
use crate::document::Document;
use levenshtein_automata::LevenshteinAutomatonBuilder;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The stage that found a candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The mention's normalised form is an indexed term, or is one once spaces are removed.
    Exact,
    /// The mention is a known abbreviation of an indexed term, or the long form of one.
    Abbreviation,
    /// An indexed term in another language that the same spelling rules turn into the same
    /// form: drug names that are international nonproprietary names (`metilfenidato`,
    /// `methylphenidate`; `cloruro sódico`, `sodium chloride`).
    CrossLingual,
    /// An indexed term within one or two edits (by length), found by a Levenshtein automaton
    /// over the fst, that differs only in word endings (`corticoides`, `corticoide`).
    Levenshtein,
    /// The most similar indexed term, words in any order, above a threshold.
    Fuzzy,
    /// Nothing matched the mention itself, but the document pairs it by a parenthesis with
    /// one that did, and it takes that one's concept: the brand names and abbreviations a
    /// case report defines (`tacrolimus (Prograf®)`, `hormona paratiroidea intacta (iPTH)`).
    Document,
    /// Nothing matched a gene or protein symbol (`CD209`, `GJB2`, `GLUT-1`) of an entity type
    /// whose annotations leave some mentions without a concept: the index does not name it,
    /// and neither would the annotators, who give such symbols [`NO_CONCEPT`] more often
    /// than not (PharmaCoNER dev: 11 document concepts found, 2 wrong).
    Symbol,
}

impl Stage {
    pub const ALL: [Stage; 7] = [
        Stage::Exact,
        Stage::Abbreviation,
        Stage::CrossLingual,
        Stage::Levenshtein,
        Stage::Fuzzy,
        Stage::Document,
        Stage::Symbol,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Exact => "exact",
            Stage::Abbreviation => "abbreviation",
            Stage::CrossLingual => "crosslingual",
            Stage::Levenshtein => "levenshtein",
            Stage::Fuzzy => "fuzzy",
            Stage::Document => "document",
            Stage::Symbol => "symbol",
        }
    }
}

/// A concept proposed for a mention.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate<'a> {
    pub concept: &'a Concept,
    /// In (0, 1]: the similarity of the matched term to the mention times the share of that
    /// term's sightings that name this concept.
    pub score: f32,
    pub stage: Stage,
    /// The indexed term that matched (normalised).
    pub term: String,
    /// The sources of that term's pairing with the concept
    /// ([`ConceptIndex::source_names`]).
    pub sources: u64,
}

/// Terms the fuzzy stage compares in full, after the trigram filter.
const FUZZY_SHORTLIST: usize = 32;

type Trigram = [char; 3];

/// A concept index ready for lookups, with the trigram table of its fuzzy stage.
pub struct Matcher {
    index: ConceptIndex,
    config: MatcherConfig,
    /// Builders of Levenshtein automata at distance 1 and 2, with transpositions: made once,
    /// they turn out the automaton for each key in microseconds.
    automata: [LevenshteinAutomatonBuilder; 2],
    /// Every term and its token-sorted form, for the fuzzy stage.
    terms: Vec<(String, String)>,
    /// Term without spaces → the terms that give it (`cd15` for `cd 15`, `igg` for `ig g`).
    compact: HashMap<String, Vec<u32>>,
    /// [`cross_lingual_form`] of a term → the terms that give it.
    cross_lingual: HashMap<String, Vec<u32>>,
    /// Trigram of a token-sorted term → the terms that contain it.
    trigrams: HashMap<Trigram, Vec<u32>>,
    /// Where the index's concept table has [`NO_CONCEPT`], if it does.
    no_concept: Option<usize>,
}

/// Whether two keys have the same identifier words, in any order.
fn same_identifiers(a: &str, b: &str) -> bool {
    fn identifiers(key: &str) -> Vec<&str> {
        let mut words: Vec<&str> = key.split(' ').filter(|w| is_identifier(w)).collect();
        words.sort_unstable();
        words
    }
    identifiers(a) == identifiers(b)
}

/// Whether `term` differs from `key` only in word endings: the same number of words, each
/// identifier word equal, and each other pair of words sharing all but its last three
/// characters (`sueros`/`suero`, not `nucleósidos`/`nucleótidos` or `prednisolona`/`prednisona`).
fn inflection_of(key: &str, term: &str) -> bool {
    let (key_words, term_words): (Vec<&str>, Vec<&str>) =
        (key.split(' ').collect(), term.split(' ').collect());
    key_words.len() == term_words.len()
        && key_words.iter().zip(&term_words).all(|(a, b)| {
            if a == b {
                return true;
            }
            if is_identifier(a) || is_identifier(b) {
                return false;
            }
            let shared = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
            let longer = a.chars().count().max(b.chars().count());
            shared + 3 >= longer
        })
}

/// Whether two keys with the same letters part them into words the same way, but for spaces
/// that may go: all but one before a lone letter that names a member of a series, which
/// joined would read as another word (`proteína S` is not `proteínas`, nor `vitamina K`
/// `vitaminak`). Prefixes may join (`c-ANCA`, `cANCA`), as may compounds (`acetil
/// salicílico`, `acetilsalicílico`) and numbers (`CD 15`, `CD15`).
fn same_but_for_spaces(key: &str, term: &str) -> bool {
    // Where each key's spaces fall among its letters, and whether that space may go.
    fn gaps(key: &str) -> Vec<(usize, bool)> {
        let words: Vec<&str> = key.split(' ').collect();
        let mut at = 0;
        words
            .windows(2)
            .map(|pair| {
                at += pair[0].chars().count();
                let lone_letter =
                    pair[1].chars().count() == 1 && pair[1].starts_with(char::is_alphabetic);
                (at, !(lone_letter && pair[0].chars().count() > 3))
            })
            .collect()
    }
    let (a, b) = (gaps(key), gaps(term));
    let only_in = |these: &[(usize, bool)], those: &[(usize, bool)]| {
        these
            .iter()
            .filter(|(at, _)| !those.iter().any(|(other, _)| other == at))
            .all(|&(_, may_go)| may_go)
    };
    only_in(&a, &b) && only_in(&b, &a)
}

/// Other ways of writing the same name, looked up exactly when the key itself is not a term,
/// as Spanish clinical text abbreviates: an HLA antigen without the system's name (`HLA-B27`,
/// `B27`); an ion without its charge (`Na+`, `Ca2+`, `Ca++`: `na`, `ca`); a leading Greek
/// letter by its initial (`a-fetoproteína`, `b-HCG`); a free hormone with `libre` as `L`
/// (`T4 libre`, `T4L`); a vitamin by its letter alone (`B12`, `vitamina B12`).
fn written_variants(key: &str) -> Vec<String> {
    let mut variants = Vec::new();
    if let Some(antigen) = key.strip_prefix("hla ") {
        variants.push(antigen.to_string());
    }
    for (initial, letter) in [("a ", "alfa "), ("b ", "beta ")] {
        if let Some(rest) = key.strip_prefix(initial) {
            variants.push(format!("{letter}{rest}"));
        }
    }
    if let Some(hormone) = key.strip_suffix(" libre") {
        if is_identifier(hormone) && !hormone.contains(' ') {
            variants.push(format!("{hormone}l"));
        }
    }
    let mut chars = key.chars();
    if chars.next().is_some_and(|c| matches!(c, 'a'..='e' | 'k'))
        && key.len() <= 3
        && chars.all(|c| c.is_ascii_digit())
    {
        variants.push(format!("vitamina {key}"));
    }
    let uncharged: Vec<&str> = key
        .split(' ')
        .map(|word| match word.strip_suffix('+') {
            Some(ion) if ion.starts_with(char::is_alphabetic) => {
                ion.trim_end_matches(|c: char| c == '+' || c.is_ascii_digit())
            }
            _ => word,
        })
        .collect();
    let uncharged = uncharged.join(" ");
    if uncharged != key {
        variants.push(uncharged);
    }
    variants
}

/// Whether a mention is written as a gene or protein symbol: one word of ASCII letters and
/// digits, hyphens allowed, with a capital and a digit (`CD209`, `GLUT-1`, `Her2-neu`).
fn is_symbol(mention: &str) -> bool {
    mention
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-')
        && mention.chars().any(|c| c.is_ascii_uppercase())
        && mention.chars().any(|c| c.is_ascii_digit())
}

/// Whether a mention is written as a name: with a capital or a digit (`Tobrex`, `anti-CCP`).
fn names(mention: &str) -> bool {
    mention
        .chars()
        .any(|c| c.is_uppercase() || c.is_ascii_digit())
}

/// Whether the text between two mentions makes the second a parenthesis after the first:
/// one `(`, otherwise only spaces and `®`.
fn parenthesis_pairs(between: &str) -> bool {
    between.matches('(').count() == 1
        && between
            .chars()
            .all(|c| c == '(' || c == '®' || c.is_whitespace())
}

/// The words of a key in sorted order, so `acido folico` and `folico acido` meet.
fn token_sorted(key: &str) -> String {
    let mut words: Vec<&str> = key.split(' ').collect();
    words.sort_unstable();
    words.join(" ")
}

fn trigrams(text: &str) -> Vec<Trigram> {
    let padded: Vec<char> = std::iter::once(' ')
        .chain(text.chars())
        .chain(std::iter::once(' '))
        .collect();
    let mut grams: Vec<Trigram> = padded.windows(3).map(|w| [w[0], w[1], w[2]]).collect();
    grams.sort_unstable();
    grams.dedup();
    grams
}

impl Matcher {
    /// A matcher with the settings stored in the index.
    pub fn new(index: ConceptIndex) -> Self {
        let config = index.summary().matcher;
        Self::with_config(index, config)
    }

    /// A matcher with other settings (for choosing them on a development set).
    pub fn with_config(index: ConceptIndex, config: MatcherConfig) -> Self {
        let terms: Vec<(String, String)> = index
            .terms()
            .into_iter()
            .map(|(term, _)| {
                let sorted = token_sorted(&term);
                (term, sorted)
            })
            .collect();
        let mut table: HashMap<Trigram, Vec<u32>> = HashMap::new();
        let mut compact: HashMap<String, Vec<u32>> = HashMap::new();
        let mut cross_lingual: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, (term, sorted)) in terms.iter().enumerate() {
            compact
                .entry(term.replace(' ', ""))
                .or_default()
                .push(i as u32);
            cross_lingual
                .entry(cross_lingual_form(term))
                .or_default()
                .push(i as u32);
            for gram in trigrams(sorted) {
                table.entry(gram).or_default().push(i as u32);
            }
        }
        let no_concept = index.concepts().iter().position(|c| c.id == NO_CONCEPT);
        Matcher {
            index,
            config,
            automata: [
                LevenshteinAutomatonBuilder::new(1, true),
                LevenshteinAutomatonBuilder::new(2, true),
            ],
            terms,
            compact,
            cross_lingual,
            trigrams: table,
            no_concept,
        }
    }

    pub fn index(&self) -> &ConceptIndex {
        &self.index
    }

    pub fn config(&self) -> &MatcherConfig {
        &self.config
    }

    /// Ranked candidates for a mention, best first, all from the first stage that finds any;
    /// empty when no stage does.
    pub fn candidates(&self, mention: &str) -> Vec<Candidate<'_>> {
        let key = normalize_term(mention);
        if key.is_empty() {
            return Vec::new();
        }
        // The variants are only written out when the key itself is not a term.
        let exact = std::iter::once(key.clone())
            .chain(std::iter::once_with(|| written_variants(&key)).flatten())
            .map(|key| self.exact(&key))
            .find(|found| !found.is_empty());
        if let Some(found) = exact {
            return found;
        }

        let related = self.index.expansions(&key).iter();
        let related = related.chain(self.index.short_forms(&key));
        let expanded: Vec<_> = related
            .filter_map(|term| Some((term.clone(), self.index.lookup(term)?, 1.0)))
            .collect();
        if !expanded.is_empty() {
            return self.ranked(expanded, Stage::Abbreviation);
        }

        if key.chars().count() >= self.config.cross_lingual_from || is_radionuclide(&key) {
            if let Some(terms) = self.cross_lingual.get(&cross_lingual_form(&key)) {
                return self.ranked(self.matches(terms, 1.0), Stage::CrossLingual);
            }
        }

        let length = key.chars().count();
        let distance = if length >= self.config.distance_two_from {
            2
        } else if length >= self.config.distance_one_from {
            1
        } else {
            0
        };
        if distance > 0 {
            let automaton = self.automata[distance - 1].build_dfa(&key);
            let near: Vec<_> = self
                .index
                .search(&automaton)
                .into_iter()
                .filter(|(term, _)| inflection_of(&key, term))
                .map(|(term, postings)| {
                    let similarity = strsim::normalized_levenshtein(&key, &term) as f32;
                    (term, postings, similarity)
                })
                .collect();
            if !near.is_empty() {
                return self.ranked(near, Stage::Levenshtein);
            }
        }

        self.fuzzy(&key)
    }

    /// [`Stage::Exact`]: the key is a term, or is one but for spaces, which punctuation
    /// leaves behind (`CD-15` meets `CD15`, `Ig G` meets `IgG`). Spaces are only ignored
    /// where they part a number or short words, so `proteína S` does not meet `proteínas`.
    fn exact(&self, key: &str) -> Vec<Candidate<'_>> {
        if let Some(postings) = self.index.lookup(key) {
            return self.ranked(vec![(key.to_string(), postings, 1.0)], Stage::Exact);
        }
        let Some(terms) = self.compact.get(&key.replace(' ', "")) else {
            return Vec::new();
        };
        let terms: Vec<u32> = terms
            .iter()
            .copied()
            .filter(|&t| same_but_for_spaces(key, &self.terms[t as usize].0))
            .collect();
        self.ranked(self.matches(&terms, 1.0), Stage::Exact)
    }

    /// The id of the best candidate's concept for a mention, if any stage found one.
    pub fn concept_ids(&self, mention: &str) -> Vec<String> {
        self.candidates(mention)
            .first()
            .map(|best| vec![best.concept.id.clone()])
            .unwrap_or_default()
    }

    /// Whether mentions of this entity type get concepts from this index.
    pub fn applies_to(&self, label: &str) -> bool {
        let types = &self.index.summary().entity_types;
        types.is_empty() || types.iter().any(|t| t == label)
    }

    /// Gives each entity of the index's entity types the concept of its mention, read in
    /// its document (replacing whatever concepts it had); entities of other types keep theirs.
    /// Returns the candidate given to each entity, in its order ([`Self::document_candidates`]).
    pub fn annotate(&self, document: &mut Document) -> Vec<Option<Candidate<'_>>> {
        let best = self.document_candidates(document);
        for (entity, best) in document.entities.iter_mut().zip(&best) {
            if self.applies_to(&entity.label) {
                entity.concepts = best.iter().map(|c| c.concept.id.clone()).collect();
            }
        }
        best
    }

    /// The best candidate for each entity of `document`, in its order: `None` for entities
    /// of types the index is not for, and where nothing matched. Each mention is looked up
    /// on its own; then one that found nothing takes the concept of a mention the text
    /// pairs it with by a parenthesis, `A (B` or `A® (B`, in either direction (inside the
    /// parenthesis only a name, see [`names`]) ([`Stage::Document`]), and so do the other
    /// mentions of the document with its text.
    pub fn document_candidates(&self, document: &Document) -> Vec<Option<Candidate<'_>>> {
        let entities = &document.entities;
        let mut best: Vec<Option<Candidate<'_>>> = entities
            .iter()
            .map(|e| {
                self.applies_to(&e.label)
                    .then(|| self.candidates(document.mention(e)).into_iter().next())
                    .flatten()
            })
            .collect();
        let mut order: Vec<usize> = (0..entities.len())
            .filter(|&i| self.applies_to(&entities[i].label))
            .collect();
        order.sort_by_key(|&i| (entities[i].start, entities[i].end));
        let mut learnt: HashMap<String, Candidate<'_>> = HashMap::new();
        for pair in order.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let between = document.text.get(entities[a].end..entities[b].start);
            if !between.is_some_and(parenthesis_pairs) {
                continue;
            }
            let (known, unknown) = match (&best[a], &best[b]) {
                // Inside the parenthesis, a name (`Prograf`, `RBP`), not a lower-case word: in
                // `corticoides (budesonida)` the parenthesis gives an instance of the class.
                (Some(_), None) if names(document.mention(&entities[b])) => (a, b),
                (None, Some(_)) => (b, a),
                _ => continue,
            };
            let mut taken = best[known].clone().expect("matched");
            taken.stage = Stage::Document;
            learnt.insert(
                normalize_term(document.mention(&entities[unknown])),
                taken.clone(),
            );
            best[unknown] = Some(taken);
        }
        if !learnt.is_empty() {
            for &i in &order {
                if best[i].is_none() {
                    best[i] = learnt
                        .get(&normalize_term(document.mention(&entities[i])))
                        .cloned();
                }
            }
        }
        for &i in &order {
            if best[i].is_none() {
                best[i] = self.unnamed_symbol(&entities[i].label, document.mention(&entities[i]));
            }
        }
        best
    }

    /// [`Stage::Symbol`]: the [`NO_CONCEPT`] candidate for an unmatched `mention` of
    /// `label`, where the mention is a symbol and the index's annotations leave mentions of
    /// that type without a concept.
    fn unnamed_symbol(&self, label: &str, mention: &str) -> Option<Candidate<'_>> {
        let concept = &self.index.concepts()[self.no_concept?];
        let types = &self.index.summary().types_without_concept;
        (types.iter().any(|t| t == label) && is_symbol(mention)).then(|| Candidate {
            concept,
            score: 1.0,
            stage: Stage::Symbol,
            term: normalize_term(mention),
            sources: 0,
        })
    }

    fn fuzzy(&self, key: &str) -> Vec<Candidate<'_>> {
        if self.config.fuzzy_threshold > 1.0 {
            return Vec::new();
        }
        let sorted = token_sorted(key);
        let mut shared: HashMap<u32, u32> = HashMap::new();
        for gram in trigrams(&sorted) {
            for &term in self.trigrams.get(&gram).map_or(&[][..], Vec::as_slice) {
                *shared.entry(term).or_default() += 1;
            }
        }
        let mut shortlist: Vec<(u32, u32)> = shared.into_iter().collect();
        shortlist.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        shortlist.truncate(FUZZY_SHORTLIST);
        let best = shortlist
            .into_iter()
            .map(|(i, _)| &self.terms[i as usize])
            .filter(|(_, term_sorted)| same_identifiers(&sorted, term_sorted))
            .map(|(term, term_sorted)| {
                let similarity = strsim::normalized_damerau_levenshtein(&sorted, term_sorted);
                (term, similarity)
            })
            .filter(|(_, similarity)| *similarity >= self.config.fuzzy_threshold)
            .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(a.0)));
        match best {
            Some((term, similarity)) => {
                let postings = self.index.lookup(term).expect("an indexed term");
                self.ranked(
                    vec![(term.clone(), postings, similarity as f32)],
                    Stage::Fuzzy,
                )
            }
            None => Vec::new(),
        }
    }

    /// The given terms with their postings, each matched with `similarity`.
    fn matches(&self, terms: &[u32], similarity: f32) -> Vec<(String, &[Posting], f32)> {
        terms
            .iter()
            .map(|&i| {
                let term = &self.terms[i as usize].0;
                let postings = self.index.lookup(term).expect("an indexed term");
                (term.clone(), postings, similarity)
            })
            .collect()
    }

    /// Candidates from matched terms, each concept once at its best score.
    fn ranked(&self, matches: Vec<(String, &[Posting], f32)>, stage: Stage) -> Vec<Candidate<'_>> {
        let mut candidates: Vec<Candidate<'_>> = Vec::new();
        for (term, postings, similarity) in matches {
            let total: u32 = postings.iter().map(|p| p.count).sum();
            for &posting in postings {
                let score = similarity * posting.count as f32 / total.max(1) as f32;
                let concept = self.index.concept(posting);
                match candidates.iter_mut().find(|c| c.concept.id == concept.id) {
                    Some(known) if known.score >= score => {}
                    Some(known) => {
                        known.score = score;
                        known.term = term.clone();
                        known.sources = posting.sources;
                    }
                    None => candidates.push(Candidate {
                        concept,
                        score,
                        stage,
                        term: term.clone(),
                        sources: posting.sources,
                    }),
                }
            }
        }
        candidates.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then_with(|| a.concept.id.cmp(&b.concept.id))
        });
        candidates.truncate(self.config.max_candidates);
        candidates
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Entity;
    use crate::normalize::IndexBuilder;

    fn matcher() -> Matcher {
        let mut builder = IndexBuilder::new("es");
        let source = builder.add_source("test");
        builder.add_mention("ácido fólico", "63718003", 4, source);
        builder.add_mention("hemoglobina", "38082009", 5, source);
        builder.add_mention("hemoglobina", "<null>", 1, source);
        builder.add_mention("heparina de bajo peso molecular", "373294004", 2, source);
        builder.add_mention("corticoide", "79440004", 3, source);
        builder.add_mention("sulfato ferroso", "387402000", 1, source);
        builder.add_abbreviation("Hb", "hemoglobina", 3);
        builder.add_abbreviation("HBPM", "heparina de bajo peso molecular", 2);
        Matcher::new(builder.build().unwrap())
    }

    fn best(matcher: &Matcher, mention: &str) -> Option<(String, Stage, f32)> {
        let candidates = matcher.candidates(mention);
        candidates
            .first()
            .map(|c| (c.concept.id.clone(), c.stage, c.score))
    }

    #[test]
    fn a_document_defines_its_brands_and_abbreviations() {
        let mut builder = IndexBuilder::new("es");
        let source = builder.add_source("test");
        builder.add_mention("tacrolimus", "386975001", 2, source);
        builder.add_mention("corticoides", "79440004", 2, source);
        builder.add_mention("gammaglutamiltranspeptidasa", "60153001", 1, source);
        let matcher = Matcher::new(builder.build().unwrap());
        let text = "Con tacrolimus (Prograf®) y corticoides (budesonida); GGT (gammaglutamiltranspeptidasa) \
                    normal. Se retiró Prograf.";
        let mut document = Document::new("d", text);
        for mention in ["tacrolimus", "Prograf", "corticoides", "budesonida", "GGT"] {
            let start = text.find(mention).unwrap();
            document
                .entities
                .push(Entity::new(start, start + mention.len(), "NORMALIZABLES"));
        }
        let start = text.find("gammaglutamil").unwrap();
        document
            .entities
            .push(Entity::new(start, start + 27, "PROTEINAS"));
        let start = text.rfind("Prograf").unwrap();
        document
            .entities
            .push(Entity::new(start, start + 7, "NORMALIZABLES"));
        let found: Vec<Option<(&str, Stage)>> = matcher
            .document_candidates(&document)
            .iter()
            .map(|c| c.as_ref().map(|c| (c.concept.id.as_str(), c.stage)))
            .collect();
        assert_eq!(
            found,
            [
                Some(("386975001", Stage::Exact)),
                Some(("386975001", Stage::Document)),
                Some(("79440004", Stage::Exact)),
                // An instance of a class, not a name for it.
                None,
                // The abbreviation before the long form it stands for.
                Some(("60153001", Stage::Document)),
                Some(("60153001", Stage::Exact)),
                // Elsewhere in the document, the same brand.
                Some(("386975001", Stage::Document)),
            ]
        );
        let given = matcher.annotate(&mut document);
        assert_eq!(given.len(), document.entities.len());
        assert_eq!(document.entities[1].concepts, ["386975001"]);
        assert_eq!(given[1].as_ref().map(|c| c.stage), Some(Stage::Document));
        assert!(document.entities[3].concepts.is_empty());
    }

    #[test]
    fn each_stage_in_order() {
        let matcher = matcher();
        let (id, stage, score) = best(&matcher, "Ácido Fólico").unwrap();
        assert_eq!((id.as_str(), stage, score), ("63718003", Stage::Exact, 1.0));
        let (id, stage, _) = best(&matcher, "ácidofólico").unwrap();
        assert_eq!((id.as_str(), stage), ("63718003", Stage::Exact));

        // Two concepts for one term, ranked by how often each was given.
        let candidates = matcher.candidates("hemoglobina");
        let ids: Vec<&str> = candidates.iter().map(|c| c.concept.id.as_str()).collect();
        assert_eq!(ids, ["38082009", "<null>"]);
        assert!((candidates[0].score - 5.0 / 6.0).abs() < 1e-6);

        assert_eq!(best(&matcher, "Hb").unwrap().1, Stage::Abbreviation);
        assert_eq!(best(&matcher, "HBPM").unwrap().0, "373294004");

        // Plural, word order, English: the same cross-lingual form.
        for mention in [
            "corticoides",
            "ferroso sulfato",
            "Ferrous sulfate",
            "folic acid",
        ] {
            assert_eq!(
                best(&matcher, mention).unwrap().1,
                Stage::CrossLingual,
                "{mention}"
            );
        }
        let (id, stage, _) = best(&matcher, "corticoidea").unwrap();
        assert_eq!((id.as_str(), stage), ("79440004", Stage::Levenshtein));
        // Keys under five characters get no edits: `hbp` is not a misspelt `hb`.
        assert!(best(&matcher, "hbp").is_none());

        // Too far for the automaton, similar enough after token sorting.
        let (id, stage, score) = best(&matcher, "ferrico sulfato").unwrap();
        assert_eq!((id.as_str(), stage), ("387402000", Stage::Fuzzy));
        assert!((0.8..1.0).contains(&score), "{score}");
        let strict = MatcherConfig {
            fuzzy_threshold: 1.01,
            ..MatcherConfig::default()
        };
        let index = ConceptIndex::from_bytes(&matcher.index().to_bytes()).unwrap();
        assert!(Matcher::with_config(index, strict)
            .candidates("ferrico sulfato")
            .is_empty());
        assert!(matcher.candidates("paracetamol").is_empty());
        assert!(matcher.candidates(" ¿? ").is_empty());
    }

    #[test]
    fn the_ways_clinicians_write_a_name_meet_its_term() {
        let mut builder = IndexBuilder::new("es");
        let source = builder.add_source("test");
        for (term, id) in [
            ("B27", "B27-antigen"),
            ("Na", "sodium"),
            ("Ca", "calcium"),
            ("alfa-fetoproteína", "AFP"),
            ("T4L", "free-T4"),
            ("vitamina B12", "cobalamin"),
            ("proteínas", "protein"),
            ("c-ANCA", "c-ANCA"),
            ("CD15", "CD15"),
            ("ácido acetilsalicílico", "aspirin"),
        ] {
            builder.add_mention(term, id, 1, source);
        }
        let matcher = Matcher::new(builder.build().unwrap());
        for (mention, id) in [
            ("HLA-B27", "B27-antigen"),
            ("Na+", "sodium"),
            ("Ca2+", "calcium"),
            ("Ca++", "calcium"),
            ("a-fetoproteína", "AFP"),
            ("T4 libre", "free-T4"),
            ("B12", "cobalamin"),
            ("cANCA", "c-ANCA"),
            ("CD-15", "CD15"),
            ("ácido acetil salicílico", "aspirin"),
        ] {
            assert_eq!(
                best(&matcher, mention).map(|(id, stage, _)| (id, stage)),
                Some((id.to_string(), Stage::Exact)),
                "{mention}"
            );
        }
        // A lone letter after a word names a member of a series, not a plural.
        assert!(best(&matcher, "proteína S").is_none_or(|(id, _, _)| id != "protein"));
        assert!(best(&matcher, "vitamina B").is_none());
        // Only where the rest is a term: `T4 total`, `B35` (an HLA antigen) stay unmatched.
        assert!(best(&matcher, "T4 total").is_none());
        assert!(best(&matcher, "B35").is_none());
    }

    #[test]
    fn an_unknown_symbol_has_no_concept_where_annotators_leave_such_mentions_without() {
        let build = |without_concept: bool| {
            let mut builder = IndexBuilder::new("es");
            let source = builder.add_source("test");
            builder.add_mention("CD20", "82753007", 1, source);
            builder.add_mention("COL1A1", NO_CONCEPT, 1, source);
            if without_concept {
                builder.type_without_concept("PROTEINAS");
            }
            let index = builder.build().unwrap();
            Matcher::new(ConceptIndex::from_bytes(&index.to_bytes()).unwrap())
        };
        let text = "CD20 y CD209 positivos; GJB2; gen receptor; la vitamina B6.";
        let mut document = Document::new("d", text);
        for (mention, label) in [
            ("CD20", "PROTEINAS"),
            ("CD209", "PROTEINAS"),
            ("GJB2", "PROTEINAS"),
            ("receptor", "PROTEINAS"),
            ("B6", "NORMALIZABLES"),
        ] {
            let start = text.find(mention).unwrap();
            document
                .entities
                .push(Entity::new(start, start + mention.len(), label));
        }
        let found = |matcher: &Matcher| -> Vec<Option<(String, Stage)>> {
            matcher
                .document_candidates(&document)
                .into_iter()
                .map(|c| c.map(|c| (c.concept.id.clone(), c.stage)))
                .collect()
        };
        let null = Some((NO_CONCEPT.to_string(), Stage::Symbol));
        assert_eq!(
            found(&build(true)),
            [
                Some(("82753007".to_string(), Stage::Exact)),
                null.clone(),
                null,
                // Words are not symbols; a type never annotated `<null>` gets nothing.
                None,
                None,
            ]
        );
        assert_eq!(found(&build(false))[1], None);
    }
}
