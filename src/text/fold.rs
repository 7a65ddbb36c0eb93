//! Case and accent folding for dictionary keys: `Ácido Fólico` and `acido folico` meet.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Lower-cases `text` and removes diacritics (NFD, combining marks dropped).
pub fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn folds_case_and_accents() {
        assert_eq!(super::fold("Ácido FÓLICO"), "acido folico");
        assert_eq!(super::fold("a\u{301}cido"), "acido");
        assert_eq!(super::fold("β-HCG"), "β-hcg");
    }
}
