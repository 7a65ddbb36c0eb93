//! Concept indexing: from a mention to SNOMED CT concept ids.
//!
//! A [`ConceptIndex`] maps normalised terms to concepts (an fst map plus a concept table) and
//! ships as one checksummed, compressed file that loads from bytes, in the browser too. An
//! [`IndexBuilder`] fills it from annotated mentions (BRAT `AnnotatorNotes`), SNOMED CT RF2
//! release files ([`rf2`]) and an abbreviation table found in running text
//! ([`find_abbreviations`]). A [`Matcher`] looks a mention up in stages, in order: exact,
//! abbreviation expansion, Levenshtein automaton search over the fst, then a fuzzy fallback.

mod abbreviations;
mod index;
mod matcher;
pub mod rf2;

pub use abbreviations::find_abbreviations;
pub use index::{Concept, ConceptIndex, IndexBuilder, IndexSummary, Posting};
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
