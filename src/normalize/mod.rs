//! Concept indexing: from a mention to SNOMED CT concept ids.
//!
//! A [`ConceptIndex`] maps normalised terms to concepts (an fst map plus a concept table) and
//! ships as one checksummed, compressed file that loads from bytes, in the browser too. An
//! [`IndexBuilder`] fills it from annotated mentions (BRAT `AnnotatorNotes`), SNOMED CT RF2
//! release files ([`rf2`]) and an abbreviation table found in running text
//! ([`find_abbreviations`]). A [`Matcher`] looks a mention up in stages, in order: exact,
//! abbreviation expansion, Levenshtein automaton search over the fst, then a fuzzy fallback.

mod abbreviations;
mod crosslingual;
pub mod fhir;
mod import;
mod index;
mod matcher;
pub mod rf2;

pub use abbreviations::{find_abbreviations, find_brand_names};
pub use crosslingual::cross_lingual_form;
pub use import::TerminologyImport;
pub use index::{
    Concept, ConceptIndex, IndexBuilder, IndexSummary, Posting, TermSource, NO_CONCEPT,
};
pub use matcher::{Candidate, Matcher, MatcherConfig, Stage};

use crate::text::fold;

/// The key a term is indexed under: lower case, accents folded, and every run of characters
/// other than letters, digits, `+` and `%` (hyphens of any kind, slashes, dots, brackets,
/// spaces) made one space, so `Anti-TNF`, `anti TNF` and `anti–tnf` meet.
pub fn normalize_term(text: &str) -> String {
    let mut key = String::with_capacity(text.len());
    let mut gap = false;
    for c in fold(text).chars() {
        if c.is_alphanumeric() || c == '+' || c == '%' {
            if gap && !key.is_empty() {
                key.push(' ');
            }
            gap = false;
            key.push(c);
        } else {
            gap = true;
        }
    }
    key
}

/// The primary subtag of a language tag: `en` of `en-US`, `es` of `es_ES`.
pub(crate) fn primary_language(tag: &str) -> &str {
    tag.split(['-', '_']).next().unwrap_or(tag)
}

/// Which concepts and terms of an imported terminology (RF2, FHIR) go into an index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TermSelection {
    /// Term languages to keep, matched on the primary subtag (`en` keeps `en-US`); terms of
    /// no stated language are kept too. Empty keeps every language ([`TerminologyImport`]
    /// makes it the index's language and English).
    pub languages: Vec<String>,
    /// Semantic tags to keep (`substance`); empty keeps every concept, and concepts without
    /// a tag are kept only then.
    pub semantic_tags: Vec<String>,
}

impl TermSelection {
    /// Whether a term in `language` of a concept with `semantic_tag` is kept.
    pub fn keeps(&self, language: Option<&str>, semantic_tag: &str) -> bool {
        self.keeps_language(language)
            && (self.semantic_tags.is_empty()
                || self.semantic_tags.iter().any(|t| t == semantic_tag))
    }

    fn keeps_language(&self, language: Option<&str>) -> bool {
        let Some(language) = language else {
            return true;
        };
        let primary = primary_language(language);
        self.languages.is_empty()
            || self
                .languages
                .iter()
                .any(|l| l.eq_ignore_ascii_case(primary) || l.eq_ignore_ascii_case(language))
    }
}

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

#[cfg(test)]
mod tests {
    use super::normalize_term;

    #[test]
    fn unifies_case_accents_hyphens_and_punctuation() {
        assert_eq!(normalize_term("Ácido  Fólico"), "acido folico");
        assert_eq!(normalize_term("anti-TNF"), normalize_term("Anti – tnf"));
        assert_eq!(normalize_term("(vitamina B12)."), "vitamina b12");
        assert_eq!(normalize_term("Ca2+"), "ca2+");
        assert_eq!(normalize_term(" - "), "");
    }
}
