//! Long texts in parts: a segmentation cut at sentence boundaries into pieces of bounded
//! length, so that a caller can tag a long text part by part, report progress between parts
//! and keep each pass's memory bounded.
//!
//! Parts keep the text's own tokens and byte offsets, so an entity a model finds in a part
//! is already where it is in the whole text. Models never let an entity cross a sentence,
//! which makes tagging part by part give what tagging the whole would, except inside a
//! sentence too long for one part.

use super::{OffsetUnit, Segmentation, Token};
use std::ops::Range;

impl Segmentation {
    /// Cuts this segmentation of `text` into parts, each spanning at most `max_len` units
    /// from its first token's start to its last token's end, in order and covering every
    /// token once. Parts end at sentence ends; a sentence longer than `max_len` is cut between
    /// tokens into sentences of its own, and a single token longer than `max_len` is a part
    /// alone. An empty segmentation has no parts.
    pub fn parts(&self, text: &str, max_len: usize, unit: OffsetUnit) -> Vec<Segmentation> {
        let mut parts = Vec::new();
        let mut part = Segmentation::default();
        // The length of `part` so far, in `unit`, and the byte where it ends.
        let (mut len, mut end) = (0, 0);
        for piece in self.pieces(text, max_len, unit) {
            let tokens = &self.tokens[piece];
            let (first, last) = (tokens[0], tokens[tokens.len() - 1]);
            let grown = len + measure(&text[end..last.end], unit);
            if !part.tokens.is_empty() && grown > max_len {
                parts.push(std::mem::take(&mut part));
            }
            len = if part.tokens.is_empty() {
                measure(&text[first.start..last.end], unit)
            } else {
                grown
            };
            end = last.end;
            let at = part.tokens.len();
            part.tokens.extend_from_slice(tokens);
            part.sentences.push(at..part.tokens.len());
        }
        if !part.tokens.is_empty() {
            parts.push(part);
        }
        parts
    }

    /// The sentences as token ranges, with any sentence longer than `max_len` cut greedily
    /// between tokens into runs that fit (a token longer than that alone).
    fn pieces(&self, text: &str, max_len: usize, unit: OffsetUnit) -> Vec<Range<usize>> {
        let mut pieces = Vec::with_capacity(self.sentences.len());
        for sentence in &self.sentences {
            let tokens = &self.tokens[sentence.clone()];
            if span_len(text, tokens, unit) <= max_len {
                pieces.push(sentence.clone());
                continue;
            }
            let mut start = sentence.start;
            let mut len = 0;
            for i in sentence.clone() {
                let token = self.tokens[i];
                let from = if i == start {
                    token.start
                } else {
                    self.tokens[i - 1].end
                };
                let added = measure(&text[from..token.end], unit);
                if i > start && len + added > max_len {
                    pieces.push(start..i);
                    start = i;
                    len = measure(token.text(text), unit);
                } else {
                    len += added;
                }
            }
            pieces.push(start..sentence.end);
        }
        pieces
    }
}

fn span_len(text: &str, tokens: &[Token], unit: OffsetUnit) -> usize {
    match (tokens.first(), tokens.last()) {
        (Some(first), Some(last)) => measure(&text[first.start..last.end], unit),
        _ => 0,
    }
}

fn measure(text: &str, unit: OffsetUnit) -> usize {
    match unit {
        OffsetUnit::Byte => text.len(),
        OffsetUnit::Char => text.chars().count(),
        OffsetUnit::Utf16 => text.encode_utf16().count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, max_len: usize, unit: OffsetUnit) -> Vec<Segmentation> {
        let whole = Segmentation::of(text);
        let parts = whole.parts(text, max_len, unit);
        let tokens: Vec<Token> = parts.iter().flat_map(|p| p.tokens.clone()).collect();
        assert_eq!(
            tokens, whole.tokens,
            "parts cover every token once, in order"
        );
        for part in &parts {
            assert!(!part.tokens.is_empty());
            let span = span_len(text, &part.tokens, unit);
            assert!(
                span <= max_len || part.tokens.len() == 1,
                "{span} > {max_len}"
            );
            let covered: Vec<usize> = part.sentences.iter().flat_map(|s| s.clone()).collect();
            assert_eq!(covered, (0..part.tokens.len()).collect::<Vec<_>>());
        }
        parts
    }

    #[test]
    fn parts_end_at_sentence_ends_and_fit_their_length() {
        let sentence = "Se inició tratamiento con prednisona 30 mg/día. ";
        let text = sentence.repeat(50);
        let whole = Segmentation::of(&text);
        assert_eq!(whole.sentences.len(), 50);
        let width = sentence.encode_utf16().count();
        let parts = check(&text, 3 * width, OffsetUnit::Utf16);
        // Three sentences (and the spaces between them) fit, a fourth does not.
        assert_eq!(parts.len(), 17);
        assert!(parts[..16].iter().all(|p| p.sentences.len() == 3));
        for part in &parts {
            for s in 0..part.sentences.len() {
                let first = part.sentence(s)[0];
                assert_eq!(&text[first.start..first.end], "Se");
            }
        }
        // One part when everything fits, none for blank text.
        assert_eq!(check(&text, text.len(), OffsetUnit::Byte).len(), 1);
        assert!(check(" \n ", 10, OffsetUnit::Utf16).is_empty());
    }

    #[test]
    fn long_sentences_and_tokens_are_cut_between_tokens() {
        // No sentence end at all, astral characters (two UTF-16 units, one char), and one
        // token longer than a part.
        let text = format!("{} {} fin", "𝛂𝛃 dosis ".repeat(300), "x".repeat(80));
        let parts = check(&text, 50, OffsetUnit::Utf16);
        assert!(parts.len() > 20);
        assert!(parts
            .iter()
            .any(|p| p.tokens.len() == 1 && p.tokens[0].text(&text).len() == 80));
        let by_char = check(&text, 50, OffsetUnit::Char);
        assert!(
            by_char.len() < parts.len(),
            "astral characters count once as chars"
        );
    }
}
