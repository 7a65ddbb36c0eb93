//! Concept indexing: from a mention to SNOMED CT concept ids.
//!
//! A [`ConceptIndex`] maps normalised terms to concepts (an fst map plus a concept table) and
//! ships as one checksummed, compressed file that loads from bytes, in the browser too. An
//! [`IndexBuilder`] fills it from annotated mentions (BRAT `AnnotatorNotes`), SNOMED CT RF2
//! release files ([`rf2`]) and an abbreviation table found in running text
//! ([`find_abbreviations`]). A [`Matcher`] looks a mention up in stages, in order: exact,
//! abbreviation expansion, Levenshtein automaton search over the fst, then a fuzzy fallback.

mod abbreviations;
mod config;
mod crosslingual;
pub mod fhir;
mod import;
mod index;
mod keys;
mod matcher;
pub mod rf2;
mod selection;

pub use abbreviations::{find_abbreviations, find_brand_names};
pub use config::MatcherConfig;
pub use import::TerminologyImport;
pub use index::{
    Concept, ConceptIndex, IndexBuilder, IndexSummary, Posting, TermSource, NO_CONCEPT,
};
pub(crate) use keys::normalize_term;
pub use matcher::{Candidate, Matcher, Stage};
pub use selection::TermSelection;

/// The hand-made terminology files of `tests/fixtures` (see their READMEs), for this module's
/// tests.
#[cfg(test)]
mod fixtures {
    pub const RF2_DESCRIPTIONS: &str =
        include_str!("../../tests/fixtures/rf2/sct2_Description_Snapshot-es_TEST.txt");
    pub const RF2_LANGUAGE: &str =
        include_str!("../../tests/fixtures/rf2/der2_cRefset_LanguageSnapshot-es_TEST.txt");
    pub const FHIR_CODE_SYSTEM: &str =
        include_str!("../../tests/fixtures/fhir/CodeSystem-es-test.json");
    pub const FHIR_VALUE_SET: &str =
        include_str!("../../tests/fixtures/fhir/ValueSet-expansion-test.json");
}
