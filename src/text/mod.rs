//! Text: tokens and sentences with exact spans, and offset conversion.
//!
//! Everything downstream (tagging schemes, models, formats) refers to text through the byte
//! spans produced here, so an entity always maps back to the exact characters it came from.

mod fold;
mod offsets;
mod sentences;
mod tokenize;

pub use fold::fold;
pub use offsets::{OffsetMap, OffsetUnit};
pub use sentences::split_sentences;
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
