//! The forms terms are indexed and compared under: normalised keys and the words in them.

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
pub(super) fn primary_language(tag: &str) -> &str {
    tag.split(['-', '_']).next().unwrap_or(tag)
}

/// Words that name rather than describe: with a digit, or of three characters or fewer
/// (`B12`, `VIII`, `CD`, `Ig`, `G`). One of them changed is another concept.
pub(super) fn is_identifier(word: &str) -> bool {
    word.chars().count() <= 3 || word.chars().any(|c| c.is_ascii_digit())
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
