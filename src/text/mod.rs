//! Text: tokens and sentences with exact spans, and offset conversion.
//!
//! Everything downstream (tagging schemes, models, formats) refers to text through the byte
//! spans produced here, so an entity always maps back to the exact characters it came from.

mod fold;
mod offsets;
mod parts;
mod sentences;
mod tokenize;

pub use fold::fold;
pub use offsets::{OffsetMap, OffsetUnit};
pub(crate) use sentences::split_sentences;
pub use tokenize::{tokenize, Token};

use std::ops::Range;

/// A text split into tokens and sentences.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Segmentation {
    pub tokens: Vec<Token>,
    /// Each sentence is a range of indices into `tokens`; together they cover all tokens in order.
    pub sentences: Vec<Range<usize>>,
}

impl Segmentation {
    /// Tokenizes `text` and splits it into sentences with clinitag's own rules.
    pub fn of(text: &str) -> Self {
        let tokens = tokenize(text);
        let sentences = split_sentences(text, &tokens);
        Self { tokens, sentences }
    }

    /// The tokens of sentence `index`.
    pub fn sentence(&self, index: usize) -> &[Token] {
        &self.tokens[self.sentences[index].clone()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_huge_and_odd_text_into_ordered_tokens_on_char_boundaries() {
        let odd = "Ácido\u{301} fólico 5 mg/día.\r\nE. coli 🧪🧬 א\u{5b8}ב\u{200f} \u{feff}Hb\r12,5 g/dl\u{2028}S-100\u{0}\u{7f}.";
        let text = odd.repeat(20_000); // about 1.3 MB
        assert!(text.len() > 1_000_000);
        let segmentation = Segmentation::of(&text);
        let tokens = &segmentation.tokens;
        assert!(tokens.windows(2).all(|w| w[0].end <= w[1].start));
        for token in tokens {
            assert!(text.is_char_boundary(token.start) && text.is_char_boundary(token.end));
            assert!(token.start < token.end && !token.text(&text).trim().is_empty());
        }
        let sentences = &segmentation.sentences;
        assert_eq!(
            (sentences[0].start, sentences.last().unwrap().end),
            (0, tokens.len())
        );
        assert!(sentences
            .windows(2)
            .all(|w| w[0].end == w[1].start && w[0].start < w[0].end));
        assert_eq!(Segmentation::of(""), Segmentation::default());
        assert_eq!(Segmentation::of(" \n\t\u{a0}"), Segmentation::default());
    }
}
