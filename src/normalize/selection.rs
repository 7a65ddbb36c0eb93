//! Which concepts and terms of an imported terminology go into an index.

use super::keys::primary_language;

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
