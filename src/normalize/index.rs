//! The concept index: normalised terms to concepts, in one compressed, checksummed file.
//!
//! The container ([`crate::container`]) holds a JSON summary as its header and, as its body,
//! the deflate-compressed concatenation of a length-prefixed JSON table (concepts, the
//! postings of every term, the abbreviation table) and an fst map from each term to its
//! postings. The fst keeps the terms small and gives the Levenshtein automaton search.

use super::config::MatcherConfig;
use super::keys::{normalize_term, primary_language};
use crate::container::{self, Kind};
use crate::error::{Error, Result};
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use flate2::Compression;
use fst::{Automaton, IntoStreamer, Map, MapBuilder, Streamer};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};

/// Expansions kept per abbreviation, most frequent first.
const MAX_EXPANSIONS: usize = 3;

/// How many times its deflated size an index body may inflate to. The shipped index inflates
/// 3.1 times; deflate itself allows about 1,000, which would let a damaged or hostile file of
/// a few kilobytes ask for gigabytes. The limit keeps what a refused file costs in proportion
/// to its size.
const MAX_INFLATION: usize = 64;

/// The id PharmaCoNER's annotators give a mention that names no concept.
pub const NO_CONCEPT: &str = "<null>";

/// What the [`NO_CONCEPT`] concept is shown as.
const NO_CONCEPT_TERM: &str = "no SNOMED CT concept";

/// A concept: a SNOMED CT id (a few annotations use `CHEBI:` ids, and `<null>` marks mentions
/// the annotators found no concept for), the term to show for it, and its semantic tag.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Concept {
    pub id: String,
    /// The language reference set's preferred term, else the most frequent annotated mention.
    pub preferred: String,
    /// SNOMED CT's semantic tag from the fully specified name (`substance`, `product`), or
    /// empty where no RF2 release gave one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub semantic_tag: String,
}

/// A concept a term names, with how often the sources gave that pairing and which sources
/// did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "PostingFields", into = "PostingFields")]
pub struct Posting {
    /// Index into the concept table.
    pub concept: u32,
    pub count: u32,
    /// The sources that gave it, as a set of [`TermSource`] bits.
    pub sources: u64,
}

/// A posting in the index file: `[concept, count, sources]`. Files written before sources
/// were recorded have two fields; their postings come from no known source.
#[derive(Serialize, Deserialize)]
struct PostingFields(u32, u32, #[serde(default)] u64);

impl From<PostingFields> for Posting {
    fn from(PostingFields(concept, count, sources): PostingFields) -> Self {
        Posting {
            concept,
            count,
            sources,
        }
    }
}

impl From<Posting> for PostingFields {
    fn from(posting: Posting) -> Self {
        PostingFields(posting.concept, posting.count, posting.sources)
    }
}

/// One of the sources an index was built from (an annotated corpus, a terminology file), as
/// the bit it sets in a [`Posting`]'s sources. The 64th source and any after it share the
/// last bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TermSource(u32);

impl TermSource {
    const LAST: u32 = u64::BITS - 1;

    fn bit(self) -> u64 {
        1 << self.0.min(Self::LAST)
    }
}

/// What an index holds, readable without decompressing it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexSummary {
    pub language: String,
    pub terms: usize,
    pub concepts: usize,
    pub abbreviations: usize,
    /// The sources it was built from, in words, in the order of their [`TermSource`] bits.
    pub sources: Vec<String>,
    /// The matcher settings chosen for this index.
    #[serde(default)]
    pub matcher: MatcherConfig,
    /// The entity types whose mentions get concepts (all when empty).
    #[serde(default)]
    pub entity_types: Vec<String>,
    /// The entity types whose annotations leave some mentions without a concept
    /// ([`NO_CONCEPT`]): there, a symbol nothing matches (`CD209`, `GJB2`) gets none too
    /// ([`super::Stage::Symbol`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types_without_concept: Vec<String>,
}

/// The index file's header: the summary, and the length its body inflates to, so that the
/// reader allocates that once and refuses a body that inflates to anything else.
#[derive(Serialize, Deserialize)]
struct Header {
    #[serde(flatten)]
    summary: IndexSummary,
    /// Absent from files written before it was recorded; [`MAX_INFLATION`] bounds those.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    inflated_bytes: Option<usize>,
}

#[derive(Serialize, Deserialize)]
struct Tables {
    concepts: Vec<Concept>,
    /// The postings of the term the fst maps to `i`, most frequent first.
    postings: Vec<Vec<Posting>>,
    /// Short form → long forms, both normalised, most frequent first.
    abbreviations: BTreeMap<String, Vec<String>>,
}

/// Normalised terms to concepts. Look terms up with [`normalize_term`]'d keys, or through a
/// [`super::Matcher`].
pub struct ConceptIndex {
    summary: IndexSummary,
    terms: Map<Vec<u8>>,
    tables: Tables,
    /// Long form → short forms: the abbreviation table read backwards.
    short_forms: HashMap<String, Vec<String>>,
}

fn corrupt(message: impl std::fmt::Display) -> Error {
    Error::Index(format!("{message}: the index file is damaged"))
}

/// The inflated body, which must be `expected` bytes long where the header says, and at most
/// [`MAX_INFLATION`] times the deflated size in any case.
fn inflate(deflated: &[u8], expected: Option<usize>) -> Result<Vec<u8>> {
    let limit = deflated.len().saturating_mul(MAX_INFLATION);
    if let Some(expected) = expected.filter(|&expected| expected > limit) {
        return Err(corrupt(format!(
            "the header gives a body of {expected} bytes, more than {MAX_INFLATION} times its \
             {} compressed bytes",
            deflated.len()
        )));
    }
    // One byte past the limit tells a body that is too long from one that just fits.
    let mut body = Vec::with_capacity(expected.map_or(0, |expected| expected + 1));
    DeflateDecoder::new(deflated)
        .take(limit as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|e| corrupt(format!("cannot decompress ({e})")))?;
    if body.len() > limit {
        return Err(corrupt(format!(
            "the body inflates to more than {MAX_INFLATION} times its {} compressed bytes",
            deflated.len()
        )));
    }
    match expected {
        Some(expected) if body.len() != expected => Err(corrupt(format!(
            "the body inflates to {} bytes where the header gives {expected}",
            body.len()
        ))),
        _ => Ok(body),
    }
}

impl ConceptIndex {
    /// Reads an index from the bytes of its file, checking format, checksum and every cross
    /// reference, so that a damaged file fails here and never later during a lookup.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let container = container::read(Kind::ConceptIndex, bytes)?;
        let Header {
            summary,
            inflated_bytes,
        } = serde_json::from_slice(container.header)
            .map_err(|e| corrupt(format!("unreadable summary ({e})")))?;
        let body = inflate(container.weights, inflated_bytes)?;
        let tables_len = body
            .get(..8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
            .filter(|&len| len <= body.len() - 8)
            .ok_or_else(|| corrupt("truncated body"))?;
        let tables: Tables = serde_json::from_slice(&body[8..8 + tables_len])
            .map_err(|e| corrupt(format!("unreadable tables ({e})")))?;
        let terms = Map::new(body[8 + tables_len..].to_vec())
            .map_err(|e| corrupt(format!("unreadable term map ({e})")))?;
        // The term map's own checksum: fst trusts its nodes, so damaged ones would panic during
        // the walk below (or a lookup) instead of failing here.
        terms
            .as_fst()
            .verify()
            .map_err(|e| corrupt(format!("term map ({e})")))?;

        let concepts = tables.concepts.len() as u32;
        if tables
            .postings
            .iter()
            .flatten()
            .any(|p| p.concept >= concepts)
        {
            return Err(corrupt(
                "a posting names a concept that is not in the table",
            ));
        }
        let mut stream = terms.stream();
        while let Some((_, value)) = stream.next() {
            if value as usize >= tables.postings.len() {
                return Err(corrupt("a term has no postings"));
            }
        }
        let mut short_forms: HashMap<String, Vec<String>> = HashMap::new();
        for (short, longs) in &tables.abbreviations {
            for long in longs {
                short_forms
                    .entry(long.clone())
                    .or_default()
                    .push(short.clone());
            }
        }
        Ok(ConceptIndex {
            summary,
            terms,
            tables,
            short_forms,
        })
    }

    /// The bytes of the index file.
    pub fn to_bytes(&self) -> Vec<u8> {
        let tables = serde_json::to_vec(&self.tables).expect("tables serialise");
        let term_map = self.terms.as_fst().as_bytes();
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::best());
        let written = encoder
            .write_all(&(tables.len() as u64).to_le_bytes())
            .and_then(|()| encoder.write_all(&tables))
            .and_then(|()| encoder.write_all(term_map));
        written.expect("writing to memory");
        let body = encoder.finish().expect("writing to memory");
        let header = Header {
            summary: self.summary.clone(),
            inflated_bytes: Some(8 + tables.len() + term_map.len()),
        };
        let header = serde_json::to_vec(&header).expect("summary serialises");
        container::write(Kind::ConceptIndex, &header, &body)
    }

    pub fn summary(&self) -> &IndexSummary {
        &self.summary
    }

    /// The concept table, in posting order.
    pub fn concepts(&self) -> &[Concept] {
        &self.tables.concepts
    }

    pub fn concept(&self, posting: Posting) -> &Concept {
        &self.tables.concepts[posting.concept as usize]
    }

    /// The postings of a normalised term, most frequent first.
    pub fn lookup(&self, key: &str) -> Option<&[Posting]> {
        self.terms
            .get(key)
            .map(|i| self.tables.postings[i as usize].as_slice())
    }

    /// Every term an automaton accepts (a Levenshtein automaton, say), run over the fst.
    pub fn search(&self, automaton: impl Automaton) -> Vec<(String, &[Posting])> {
        let mut found = Vec::new();
        let mut stream = self.terms.search(automaton).into_stream();
        while let Some((term, i)) = stream.next() {
            let term = String::from_utf8_lossy(term).into_owned();
            found.push((term, self.tables.postings[i as usize].as_slice()));
        }
        found
    }

    /// Every term with its postings, in byte order.
    pub fn terms(&self) -> Vec<(String, &[Posting])> {
        let mut all = Vec::with_capacity(self.terms.len());
        let mut stream = self.terms.stream();
        while let Some((term, i)) = stream.next() {
            let term = String::from_utf8_lossy(term).into_owned();
            all.push((term, self.tables.postings[i as usize].as_slice()));
        }
        all
    }

    /// Long forms of a normalised short form, most frequent first.
    pub fn expansions(&self, short: &str) -> &[String] {
        self.tables
            .abbreviations
            .get(short)
            .map_or(&[], Vec::as_slice)
    }

    /// Short forms of a normalised long form.
    pub fn short_forms(&self, long: &str) -> &[String] {
        self.short_forms.get(long).map_or(&[], Vec::as_slice)
    }

    /// The descriptions of the sources in a posting's set, in the order they were added.
    pub fn source_names(&self, sources: u64) -> Vec<&str> {
        self.summary
            .sources
            .iter()
            .enumerate()
            .filter(|&(i, _)| sources & TermSource(i as u32).bit() != 0)
            .map(|(_, name)| name.as_str())
            .collect()
    }
}

/// Collects terms, concepts and abbreviations from any number of sources.
pub struct IndexBuilder {
    language: String,
    sources: Vec<String>,
    concepts: Vec<Concept>,
    concept_ids: HashMap<String, u32>,
    /// Per concept: each mention it was annotated with, and how often (for the preferred
    /// term of concepts no terminology describes in the index's language).
    surfaces: Vec<HashMap<String, u32>>,
    /// Per concept: whether its preferred term is in the index's language.
    preferred_in_language: Vec<bool>,
    /// Term → concept → (sightings, sources).
    terms: BTreeMap<String, HashMap<u32, (u32, u64)>>,
    abbreviations: HashMap<String, HashMap<String, u32>>,
    matcher: MatcherConfig,
    entity_types: Vec<String>,
    types_without_concept: Vec<String>,
}

impl IndexBuilder {
    pub fn new(language: &str) -> Self {
        IndexBuilder {
            language: language.to_string(),
            sources: Vec::new(),
            concepts: Vec::new(),
            concept_ids: HashMap::new(),
            surfaces: Vec::new(),
            preferred_in_language: Vec::new(),
            terms: BTreeMap::new(),
            abbreviations: HashMap::new(),
            matcher: MatcherConfig::default(),
            entity_types: Vec::new(),
            types_without_concept: Vec::new(),
        }
    }

    /// The language of the index's mentions (`es`).
    pub fn language(&self) -> &str {
        &self.language
    }

    /// The entity types whose mentions the index is for (all when none are given).
    pub fn entity_types(&mut self, types: &[String]) {
        self.entity_types = types.to_vec();
    }

    /// Records that annotations of `entity_type` left a mention without a concept
    /// ([`NO_CONCEPT`]); see [`IndexSummary::types_without_concept`].
    pub fn type_without_concept(&mut self, entity_type: &str) {
        if !self.types_without_concept.iter().any(|t| t == entity_type) {
            self.types_without_concept.push(entity_type.to_string());
        }
    }

    /// The matcher settings stored with the index (the defaults unless set).
    pub fn matcher_config(&mut self, config: MatcherConfig) {
        self.matcher = config;
    }

    /// Records a source in the index's summary; its terms are added under the returned
    /// [`TermSource`].
    pub fn add_source(&mut self, description: impl Into<String>) -> TermSource {
        self.sources.push(description.into());
        TermSource(self.sources.len() as u32 - 1)
    }

    /// Changes the description of a source once its terms are counted.
    pub fn describe_source(&mut self, source: TermSource, description: impl Into<String>) {
        self.sources[source.0 as usize] = description.into();
    }

    fn concept_index(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.concept_ids.get(id) {
            return i;
        }
        let i = self.concepts.len() as u32;
        self.concepts.push(Concept {
            id: id.to_string(),
            preferred: String::new(),
            semantic_tag: String::new(),
        });
        self.surfaces.push(HashMap::new());
        self.preferred_in_language.push(false);
        self.concept_ids.insert(id.to_string(), i);
        i
    }

    /// Describes a concept: its preferred term in `language` (where known) and its semantic
    /// tag, from a terminology release. A preferred term in the index's language replaces
    /// one in another; otherwise the first one given stays.
    pub fn describe_concept(
        &mut self,
        id: &str,
        preferred: &str,
        language: Option<&str>,
        semantic_tag: &str,
    ) {
        let i = self.concept_index(id) as usize;
        let in_language =
            language.is_some_and(|l| primary_language(l).eq_ignore_ascii_case(&self.language));
        let empty = self.concepts[i].preferred.is_empty();
        if !preferred.is_empty() && (empty || (in_language && !self.preferred_in_language[i])) {
            self.concepts[i].preferred = preferred.to_string();
            self.preferred_in_language[i] = in_language;
        }
        if !semantic_tag.is_empty() {
            self.concepts[i].semantic_tag = semantic_tag.to_string();
        }
    }

    /// Adds `count` sightings of `term` naming `concept_id`, from `source` (a terminology).
    /// Terms that normalise to nothing (only punctuation) are skipped.
    pub fn add_term(&mut self, term: &str, concept_id: &str, count: u32, source: TermSource) {
        self.add(term, concept_id, count, source, false);
    }

    /// Adds `count` annotated mentions `mention` of `concept_id`, from `source` (a corpus in
    /// the index's language): a term, and a candidate for the concept's preferred term where
    /// no terminology gives one in the index's language.
    pub fn add_mention(&mut self, mention: &str, concept_id: &str, count: u32, source: TermSource) {
        self.add(mention, concept_id, count, source, true);
    }

    fn add(&mut self, term: &str, concept_id: &str, count: u32, source: TermSource, mention: bool) {
        let key = normalize_term(term);
        if key.is_empty() || concept_id.is_empty() || count == 0 {
            return;
        }
        let concept = self.concept_index(concept_id);
        if mention {
            *self.surfaces[concept as usize]
                .entry(term.trim().to_string())
                .or_default() += count;
        }
        let posting = self
            .terms
            .entry(key)
            .or_default()
            .entry(concept)
            .or_default();
        posting.0 += count;
        posting.1 |= source.bit();
    }

    /// Adds everything an index holds, its sources, concepts, terms and abbreviations, as if
    /// built here: a user's terminology merges with a shipped index this way.
    pub fn add_index(&mut self, index: &ConceptIndex) {
        for entity_type in &index.summary.types_without_concept {
            self.type_without_concept(entity_type);
        }
        let sources: Vec<TermSource> = index
            .summary
            .sources
            .iter()
            .map(|description| self.add_source(description.clone()))
            .collect();
        let concepts: Vec<u32> = index
            .tables
            .concepts
            .iter()
            .map(|concept| {
                self.describe_concept(&concept.id, &concept.preferred, None, &concept.semantic_tag);
                self.concept_index(&concept.id)
            })
            .collect();
        for (term, postings) in index.terms() {
            for posting in postings {
                let sources = sources
                    .iter()
                    .enumerate()
                    .filter(|&(i, _)| posting.sources & TermSource(i as u32).bit() != 0)
                    .fold(0, |mask, (_, source)| mask | source.bit());
                let counts = self
                    .terms
                    .entry(term.clone())
                    .or_default()
                    .entry(concepts[posting.concept as usize])
                    .or_default();
                counts.0 += posting.count;
                counts.1 |= sources;
            }
        }
        for (short, longs) in &index.tables.abbreviations {
            // The file keeps the expansions' order, not their counts.
            for (rank, long) in longs.iter().enumerate() {
                self.add_abbreviation(short, long, (longs.len() - rank) as u32);
            }
        }
    }

    /// Whether `term` is already a term of some concept (normalised before looking).
    pub fn has_term(&self, term: &str) -> bool {
        self.terms.contains_key(&normalize_term(term))
    }

    /// Adds `count` sightings of `short` as an abbreviation of `long`.
    pub fn add_abbreviation(&mut self, short: &str, long: &str, count: u32) {
        let (short, long) = (normalize_term(short), normalize_term(long));
        if short.is_empty() || long.is_empty() || short == long {
            return;
        }
        *self
            .abbreviations
            .entry(short)
            .or_default()
            .entry(long)
            .or_default() += count;
    }

    /// The finished index. Abbreviations are kept only where one side is an indexed term,
    /// since only those can lead a lookup anywhere.
    pub fn build(self) -> Result<ConceptIndex> {
        let IndexBuilder {
            language,
            sources,
            mut concepts,
            surfaces,
            preferred_in_language,
            terms,
            abbreviations,
            matcher,
            entity_types,
            types_without_concept,
            ..
        } = self;
        // A terminology's preferred term in another language (GPS's English) gives way to the
        // corpus's most frequent mention.
        for ((concept, surfaces), in_language) in concepts
            .iter_mut()
            .zip(&surfaces)
            .zip(preferred_in_language)
        {
            // The mentions annotated with no concept name many things (`drogas`, `COL1A1`):
            // none of them is this concept's name.
            if concept.id == NO_CONCEPT {
                concept.preferred = NO_CONCEPT_TERM.to_string();
            } else if !in_language {
                if let Some((surface, _)) = surfaces
                    .iter()
                    .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                {
                    concept.preferred = surface.clone();
                }
            }
        }
        let mut builder = MapBuilder::memory();
        let mut postings = Vec::with_capacity(terms.len());
        for (i, (term, concepts)) in terms.iter().enumerate() {
            let mut list: Vec<Posting> = concepts
                .iter()
                .map(|(&concept, &(count, sources))| Posting {
                    concept,
                    count,
                    sources,
                })
                .collect();
            list.sort_by(|a, b| b.count.cmp(&a.count).then(a.concept.cmp(&b.concept)));
            postings.push(list);
            builder
                .insert(term, i as u64)
                .map_err(|e| Error::Index(format!("building the term map: {e}")))?;
        }
        let fst_bytes = builder
            .into_inner()
            .map_err(|e| Error::Index(format!("building the term map: {e}")))?;
        let terms_map =
            Map::new(fst_bytes).map_err(|e| Error::Index(format!("building the term map: {e}")))?;

        let mut table = BTreeMap::new();
        for (short, longs) in abbreviations {
            let mut longs: Vec<(String, u32)> = longs
                .into_iter()
                .filter(|(long, _)| terms.contains_key(long) || terms.contains_key(&short))
                .collect();
            longs.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            longs.truncate(MAX_EXPANSIONS);
            if !longs.is_empty() {
                table.insert(short, longs.into_iter().map(|(long, _)| long).collect());
            }
        }
        let summary = IndexSummary {
            language,
            terms: terms_map.len(),
            concepts: concepts.len(),
            abbreviations: table.len(),
            sources,
            matcher,
            entity_types,
            types_without_concept,
        };
        let bytes = ConceptIndex {
            summary,
            terms: terms_map,
            tables: Tables {
                concepts,
                postings,
                abbreviations: table,
            },
            short_forms: HashMap::new(),
        }
        .to_bytes();
        // Through the file format, so that what is built is exactly what loads.
        ConceptIndex::from_bytes(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_index() -> ConceptIndex {
        let mut builder = IndexBuilder::new("es");
        let corpus = builder.add_source("test corpus");
        let terminology = builder.add_source("test terminology");
        builder.add_mention("Ácido fólico", "63718003", 3, corpus);
        builder.add_term("acido folico", "63718003", 1, terminology);
        builder.add_term("folato", "63718003", 1, terminology);
        builder.add_mention("hemoglobina", "38082009", 5, corpus);
        builder.add_mention("hemoglobina", "<null>", 1, corpus);
        builder.add_term("Iron", "3829006", 1, terminology);
        builder.describe_concept("3829006", "Iron", Some("en"), "substance");
        builder.add_mention("hierro", "3829006", 2, corpus);
        builder.add_abbreviation("Hb", "hemoglobina", 4);
        builder.add_abbreviation("XYZ", "nothing indexed", 4);
        builder.describe_concept("38082009", "hemoglobin", Some("en"), "substance");
        builder.describe_concept("38082009", "hemoglobina", Some("es"), "");
        builder.describe_concept("38082009", "haemoglobin", Some("en-GB"), "");
        builder.build().unwrap()
    }

    #[test]
    fn builds_looks_up_and_round_trips() {
        let index = small_index();
        assert_eq!(index.summary().terms, 5);
        // An English preferred term gives way to the corpus's Spanish mention.
        let iron = index.lookup("iron").unwrap()[0];
        assert_eq!(index.concept(iron).preferred, "hierro");
        assert_eq!(index.summary().abbreviations, 1);
        let postings = index.lookup("acido folico").unwrap();
        assert_eq!(postings.len(), 1);
        assert_eq!(postings[0].count, 4);
        let concept = index.concept(postings[0]);
        assert_eq!(concept.id, "63718003");
        assert_eq!(concept.preferred, "Ácido fólico");
        assert_eq!(
            index.source_names(postings[0].sources),
            ["test corpus", "test terminology"]
        );
        let hemoglobin = index.lookup("hemoglobina").unwrap();
        assert_eq!(index.concept(hemoglobin[0]).id, "38082009");
        assert_eq!(index.source_names(hemoglobin[0].sources), ["test corpus"]);
        // The Spanish preferred term wins over English ones, given before or after it.
        assert_eq!(index.concept(hemoglobin[0]).preferred, "hemoglobina");
        assert_eq!(index.concept(hemoglobin[0]).semantic_tag, "substance");
        assert_eq!(index.expansions("hb"), ["hemoglobina"]);
        assert_eq!(index.short_forms("hemoglobina"), ["hb"]);
        let automaton = fst::automaton::Str::new("folato");
        let found: Vec<String> = index
            .search(automaton)
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        assert_eq!(found, ["folato"]);

        let again = ConceptIndex::from_bytes(&index.to_bytes()).unwrap();
        assert_eq!(again.summary(), index.summary());
        assert_eq!(again.terms().len(), 5);
    }

    #[test]
    fn an_index_merges_into_a_new_one() {
        let shipped = small_index();
        let mut builder = IndexBuilder::new("es");
        builder.add_index(&shipped);
        let mine = builder.add_source("my terminology");
        builder.add_term("hemoglobina", "38082009", 2, mine);
        builder.add_term("ferritina", "7180009", 1, mine);
        let merged = builder.build().unwrap();
        assert_eq!(merged.summary().terms, 6);
        assert_eq!(merged.summary().abbreviations, 1);
        let hemoglobin = merged.lookup("hemoglobina").unwrap();
        assert_eq!((hemoglobin[0].count, hemoglobin[1].count), (7, 1));
        assert_eq!(
            merged.source_names(hemoglobin[0].sources),
            ["test corpus", "my terminology"]
        );
        assert_eq!(merged.concept(hemoglobin[0]).preferred, "hemoglobina");
        assert_eq!(merged.concept(hemoglobin[0]).semantic_tag, "substance");
        let folate = merged.lookup("acido folico").unwrap();
        assert_eq!(
            merged.source_names(folate[0].sources),
            ["test corpus", "test terminology"]
        );
        assert_eq!(merged.expansions("hb"), ["hemoglobina"]);
    }

    #[test]
    fn postings_of_files_without_sources_still_read() {
        let old: Vec<Posting> = serde_json::from_str("[[3, 7], [1, 2, 5]]").unwrap();
        assert_eq!(
            old[0],
            Posting {
                concept: 3,
                count: 7,
                sources: 0
            }
        );
        assert_eq!(old[1].sources, 5);
        assert_eq!(serde_json::to_string(&old[1]).unwrap(), "[1,2,5]");
    }

    #[test]
    fn sources_past_the_64th_share_the_last_bit() {
        let mut builder = IndexBuilder::new("es");
        let sources: Vec<TermSource> = (0..70)
            .map(|i| builder.add_source(format!("source {i}")))
            .collect();
        builder.add_term("uno", "1", 1, sources[2]);
        builder.add_term("dos", "2", 1, sources[69]);
        let index = builder.build().unwrap();
        assert_eq!(
            index.source_names(index.lookup("uno").unwrap()[0].sources),
            ["source 2"]
        );
        let last = index.source_names(index.lookup("dos").unwrap()[0].sources);
        assert_eq!(last.len(), 1 + 69 - 63);
        assert_eq!(last[0], "source 63");
    }

    /// An index file with `header` and `body` deflated as its body.
    fn index_file(header: &serde_json::Value, body: &[u8]) -> Vec<u8> {
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(body).unwrap();
        let deflated = encoder.finish().unwrap();
        let header = serde_json::to_vec(header).unwrap();
        container::write(Kind::ConceptIndex, &header, &deflated)
    }

    /// The header and inflated body of an index file.
    fn parts(bytes: &[u8]) -> (serde_json::Value, Vec<u8>) {
        let container = container::read(Kind::ConceptIndex, bytes).unwrap();
        let mut body = Vec::new();
        DeflateDecoder::new(container.weights)
            .read_to_end(&mut body)
            .unwrap();
        (serde_json::from_slice(container.header).unwrap(), body)
    }

    #[test]
    fn files_without_their_inflated_length_still_read() {
        let index = small_index();
        let (mut header, body) = parts(&index.to_bytes());
        assert_eq!(header["inflated_bytes"], body.len());
        header.as_object_mut().unwrap().remove("inflated_bytes");
        let old = ConceptIndex::from_bytes(&index_file(&header, &body)).unwrap();
        assert_eq!(old.summary(), index.summary());
        assert_eq!(old.terms().len(), 5);
    }

    #[test]
    fn a_body_that_inflates_past_its_limits_is_refused() {
        let (mut header, body) = parts(&small_index().to_bytes());
        let error = |header: &serde_json::Value, body: &[u8]| {
            ConceptIndex::from_bytes(&index_file(header, body))
                .err()
                .unwrap()
                .to_string()
        };
        let mut longer = body.clone();
        longer.extend_from_slice(b"more");
        assert!(error(&header, &longer).contains("where the header gives"));
        header["inflated_bytes"] = (body.len() * 1000).into();
        assert!(error(&header, &body).contains("more than 64 times"));

        // Ten megabytes of zeros deflate to about ten kilobytes: without a header's length,
        // the inflation limit refuses them.
        header.as_object_mut().unwrap().remove("inflated_bytes");
        let mut bomb = body.clone();
        bomb.resize(10 << 20, 0);
        assert!(error(&header, &bomb).contains("inflates to more than 64 times"));
    }

    #[test]
    fn damaged_and_foreign_files_give_clear_errors() {
        let bytes = small_index().to_bytes();
        let error = |bytes: &[u8]| ConceptIndex::from_bytes(bytes).err().unwrap().to_string();
        assert!(error(&bytes[..bytes.len() - 3]).contains("truncated"));
        let mut flipped = bytes.clone();
        flipped[bytes.len() / 2] ^= 0x40;
        assert!(error(&flipped).contains("checksum"));
        assert!(error(b"").contains("not a clinitag concept index"));
        assert!(error(b"CLINITAG and then some model bytes here").contains("not a clinitag"));
    }
}
