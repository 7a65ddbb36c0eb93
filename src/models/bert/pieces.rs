//! Words to pieces: the encoder's HuggingFace tokenizer cuts one word at a time, and a
//! sentence too long for the encoder is read in overlapping windows.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::ops::Range;
use std::str::FromStr;
use tokenizers::Tokenizer;

/// The tokenizer of an encoder, cutting one word at a time into piece ids.
#[derive(Clone)]
pub struct WordPieces {
    tokenizer: Tokenizer,
    pub(crate) cls: u32,
    pub(crate) sep: u32,
    pub(crate) unknown: u32,
}

impl WordPieces {
    /// From the text of a HuggingFace `tokenizer.json` with BERT's or XLM-RoBERTa's special
    /// tokens.
    pub fn from_json(json: &str) -> Result<Self> {
        let mut tokenizer =
            Tokenizer::from_str(json).map_err(|e| Error::Model(format!("bad tokenizer: {e}")))?;
        // Words are cut one at a time and windows are made here: a file's own padding (MiniLM's
        // pads to 128) or truncation would add pieces to every word or lose some.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| Error::Model(format!("bad tokenizer: {e}")))?;
        // BERT's names, then XLM-RoBERTa's (SentencePiece) for the same three roles.
        let id = |names: [&str; 2]| {
            names
                .iter()
                .find_map(|token| tokenizer.token_to_id(token))
                .ok_or_else(|| {
                    Error::Model(format!(
                        "the tokenizer has neither {} nor {}",
                        names[0], names[1]
                    ))
                })
        };
        Ok(Self {
            cls: id(["[CLS]", "<s>"])?,
            sep: id(["[SEP]", "</s>"])?,
            unknown: id(["[UNK]", "<unk>"])?,
            tokenizer,
        })
    }

    /// The piece ids of one word (the unknown token for a word the tokenizer drops whole,
    /// such as a lone control character, so that every word has a first piece).
    pub fn pieces(&self, word: &str) -> Vec<u32> {
        match self.tokenizer.encode(word, false) {
            Ok(encoding) if !encoding.get_ids().is_empty() => encoding.get_ids().to_vec(),
            _ => vec![self.unknown],
        }
    }

    /// The pieces of every word of `sentences`, tokenizing each distinct word once.
    pub fn sentences(&self, sentences: &[&[&str]]) -> Vec<Vec<Vec<u32>>> {
        let mut cache: HashMap<&str, Vec<u32>> = HashMap::new();
        sentences
            .iter()
            .map(|words| {
                words
                    .iter()
                    .map(|&word| {
                        cache
                            .entry(word)
                            .or_insert_with(|| self.pieces(word))
                            .clone()
                    })
                    .collect()
            })
            .collect()
    }

    pub fn vocabulary_size(&self) -> usize {
        self.tokenizer.get_vocab_size(true)
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }
}

/// A stretch of a sentence's words that fits the encoder, ready to batch.
#[derive(Clone, Debug)]
pub struct Window {
    pub sentence: usize,
    pub words: Range<usize>,
    /// `[CLS]`, the words' pieces, `[SEP]`.
    pub ids: Vec<u32>,
    /// Position in `ids` of each word's first piece.
    pub first_pieces: Vec<usize>,
    /// For each word, the pieces of context on its poorer side within this window.
    pub context: Vec<usize>,
}

/// Cuts a sentence (each word's pieces) into windows of at most `max_pieces` ids. A sentence
/// that fits is one window; a longer one gets windows that advance by half a window, so
/// that every word is read with context on both sides in one of them. A word with more
/// pieces than a window keeps only its first ones (its scores come from the first piece).
pub fn windows(
    sentence: usize,
    pieces: &[Vec<u32>],
    max_pieces: usize,
    wordpieces: &WordPieces,
) -> Vec<Window> {
    let budget = max_pieces.saturating_sub(2).max(1);
    let lengths: Vec<usize> = pieces.iter().map(|p| p.len().min(budget)).collect();
    let mut offsets = vec![0usize; pieces.len() + 1];
    for (i, len) in lengths.iter().enumerate() {
        offsets[i + 1] = offsets[i] + len;
    }
    let mut out = Vec::new();
    let mut start = 0;
    while start < pieces.len() {
        let mut end = start;
        while end < pieces.len() && offsets[end + 1] - offsets[start] <= budget {
            end += 1;
        }
        let mut ids = Vec::with_capacity(offsets[end] - offsets[start] + 2);
        ids.push(wordpieces.cls);
        let mut first_pieces = Vec::with_capacity(end - start);
        let mut context = Vec::with_capacity(end - start);
        for word in start..end {
            first_pieces.push(ids.len());
            ids.extend_from_slice(&pieces[word][..lengths[word]]);
            let before = offsets[word] - offsets[start];
            let after = offsets[end] - offsets[word + 1];
            // A sentence's real edges are not window edges: no context is missing there.
            let before = if start == 0 { usize::MAX } else { before };
            let after = if end == pieces.len() {
                usize::MAX
            } else {
                after
            };
            context.push(before.min(after));
        }
        ids.push(wordpieces.sep);
        out.push(Window {
            sentence,
            words: start..end,
            ids,
            first_pieces,
            context,
        });
        if end == pieces.len() {
            break;
        }
        let stride = budget / 2;
        let next = (start + 1..end)
            .find(|&j| offsets[j] - offsets[start] >= stride)
            .unwrap_or(end);
        start = next.max(start + 1);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A WordPiece tokenizer.json in the layout of BERT's, over a handful of pieces.
    pub(crate) fn tiny_tokenizer() -> String {
        let mut vocab: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "."]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for c in 'a'..='z' {
            vocab.push(c.to_string());
            vocab.push(format!("##{c}"));
        }
        for word in ["con", "acido", "##olico", "fol", "pcr", "hierro", "##ina"] {
            vocab.push(word.to_string());
        }
        let vocab: serde_json::Map<String, serde_json::Value> = vocab
            .into_iter()
            .enumerate()
            .map(|(i, p)| (p, i.into()))
            .collect();
        serde_json::json!({
            "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
            "normalizer": {"type": "BertNormalizer", "clean_text": true,
                "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
            "pre_tokenizer": {"type": "BertPreTokenizer"},
            "post_processor": {"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                           {"Sequence": {"id": "A", "type_id": 0}},
                           {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                "pair": [{"Sequence": {"id": "A", "type_id": 0}}],
                "special_tokens": {
                    "[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                    "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
            "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
            "model": {"type": "WordPiece", "unk_token": "[UNK]",
                "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
                "vocab": vocab}
        })
        .to_string()
    }

    #[test]
    fn windows_cover_long_sentences_with_context() {
        let wordpieces = WordPieces::from_json(&tiny_tokenizer()).unwrap();
        // 30 words of one to three pieces: 60 pieces, read in windows of 22.
        let pieces: Vec<Vec<u32>> = (0..30).map(|i| vec![5; 1 + i % 3]).collect();
        let cut = windows(0, &pieces, 22, &wordpieces);
        assert!(cut.len() >= 4, "{}", cut.len());
        assert_eq!(cut[0].words.start, 0);
        assert_eq!(cut.last().unwrap().words.end, 30);
        for pair in cut.windows(2) {
            assert!(pair[1].words.start > pair[0].words.start);
            assert!(pair[1].words.start < pair[0].words.end, "windows overlap");
        }
        for window in &cut {
            assert!(window.ids.len() <= 22);
            assert_eq!(window.ids[0], wordpieces.cls);
            assert_eq!(*window.ids.last().unwrap(), wordpieces.sep);
            assert_eq!(window.first_pieces.len(), window.words.len());
        }
        // Inside the sentence, every word is read with context on both sides somewhere.
        for word in 3..27 {
            let best = cut
                .iter()
                .filter(|w| w.words.contains(&word))
                .map(|w| w.context[word - w.words.start])
                .max()
                .unwrap();
            assert!(best >= 3, "word {word}: {best}");
        }
        // A short sentence is one window; a word longer than a window keeps its first pieces.
        assert_eq!(windows(0, &pieces[..3], 12, &wordpieces).len(), 1);
        let giant = windows(0, &[vec![7; 40]], 12, &wordpieces);
        assert_eq!(giant.len(), 1);
        assert_eq!(giant[0].ids.len(), 12);
        assert!(windows(0, &[], 12, &wordpieces).is_empty());
    }
}
