//! What the network sees of a token: a word id, a shape class and its characters.

use crate::text::fold;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use crate::models::lstm::reversal_index;

/// Reserved ids in both vocabularies.
pub const PADDING: u32 = 0;
pub const UNKNOWN: u32 = 1;

/// Characters per token fed to the character LSTM; longer tokens keep their first and last
/// halves, where prefixes and suffixes (`-mab`, `-ina`, `anti-`) live.
const MAX_CHARS: usize = 24;

/// Number of shape classes (see [`shape`]), padding included.
pub const SHAPES: usize = 8;

/// Word and character vocabularies.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Vocabulary {
    /// Word keys ([`word_key`]); 0 is padding and 1 unknown.
    pub words: Vec<String>,
    /// Characters as they appear (case kept); 0 is padding and 1 unknown.
    pub chars: Vec<char>,
    #[serde(skip)]
    word_ids: HashMap<String, u32>,
    #[serde(skip)]
    char_ids: HashMap<char, u32>,
}

impl Vocabulary {
    /// A vocabulary of the given word keys and characters, in order after the reserved ids.
    pub fn new(
        words: impl IntoIterator<Item = String>,
        chars: impl IntoIterator<Item = char>,
    ) -> Self {
        let mut vocabulary = Self {
            words: vec!["<pad>".into(), "<unk>".into()],
            chars: vec!['\0', '\u{FFFD}'],
            word_ids: HashMap::new(),
            char_ids: HashMap::new(),
        };
        vocabulary.words.extend(words);
        vocabulary.chars.extend(chars);
        vocabulary.index();
        vocabulary
    }

    /// Rebuilds the lookup tables (after deserialising).
    pub fn index(&mut self) {
        self.word_ids = (self.words.iter().cloned().zip(0..)).skip(2).collect();
        self.char_ids = (self.chars.iter().copied().zip(0..)).skip(2).collect();
    }

    pub fn word_id(&self, token: &str) -> u32 {
        self.word_ids
            .get(&word_key(token))
            .copied()
            .unwrap_or(UNKNOWN)
    }

    fn char_id(&self, c: char) -> u32 {
        self.char_ids.get(&c).copied().unwrap_or(UNKNOWN)
    }
}

/// The key a word is embedded under: folded case and accents, every digit `0`, so that
/// `Ácido`/`acido` and `15,6`/`12,3` share vectors.
pub fn word_key(token: &str) -> String {
    fold(token)
        .chars()
        .map(|c| if c.is_ascii_digit() { '0' } else { c })
        .collect()
}

/// A token's shape class: 1 lower, 2 Capitalised, 3 UPPER, 4 miXed, 5 number, 6 letters
/// and digits, 7 anything else (punctuation, symbols).
pub fn shape(token: &str) -> u32 {
    let letters = token.chars().filter(|c| c.is_alphabetic()).count();
    let digits = token.chars().filter(|c| c.is_numeric()).count();
    let uppers = token.chars().filter(|c| c.is_uppercase()).count();
    match (letters, digits) {
        (0, 0) => 7,
        (0, _) => 5,
        (_, d) if d > 0 => 6,
        _ if uppers == 0 => 1,
        _ if uppers == letters => 3,
        _ if uppers == 1 && token.chars().next().is_some_and(char::is_uppercase) => 2,
        _ => 4,
    }
}

/// One batch of sentences as tensors, padded on the right.
pub struct Batch {
    /// `[batch, time]` word ids.
    pub words: Tensor<2, Int>,
    /// `[batch, time]` shape classes.
    pub shapes: Tensor<2, Int>,
    /// `[unique tokens, chars]` character ids of each distinct token of the batch.
    pub chars: Tensor<2, Int>,
    /// Reverses each distinct token's characters (see [`reversal_index`]).
    pub char_reversal: Tensor<1, Int>,
    /// Flattened `[unique × chars]` rows of each token's last and first character.
    pub char_last: Tensor<1, Int>,
    pub char_first: Tensor<1, Int>,
    /// For each `[batch × time]` position, its row among the distinct tokens.
    pub token_rows: Tensor<1, Int>,
    /// Reverses each sentence within its length.
    pub word_reversal: Tensor<1, Int>,
}

impl Batch {
    /// `replace_word` may swap a word id for another (word dropout in training).
    pub fn new(
        sentences: &[&[&str]],
        vocabulary: &Vocabulary,
        device: &Device,
        mut replace_word: impl FnMut(u32) -> u32,
    ) -> Self {
        let lengths: Vec<usize> = sentences.iter().map(|s| s.len()).collect();
        let time = lengths.iter().copied().max().unwrap_or(0).max(1);
        let batch = sentences.len();
        let mut words = vec![PADDING as i64; batch * time];
        let mut shapes = vec![PADDING as i64; batch * time];
        let mut token_rows = vec![0i64; batch * time];
        let mut unique: HashMap<&str, usize> = HashMap::new();
        let mut unique_tokens: Vec<&str> = Vec::new();
        for (b, sentence) in sentences.iter().enumerate() {
            for (t, token) in sentence.iter().enumerate() {
                words[b * time + t] = replace_word(vocabulary.word_id(token)) as i64;
                shapes[b * time + t] = shape(token) as i64;
                let row = *unique.entry(token).or_insert_with(|| {
                    unique_tokens.push(token);
                    unique_tokens.len() - 1
                });
                token_rows[b * time + t] = row as i64;
            }
        }
        if unique_tokens.is_empty() {
            unique_tokens.push("");
        }
        let char_lists: Vec<Vec<u32>> = unique_tokens
            .iter()
            .map(|token| {
                let chars: Vec<char> = token.chars().collect();
                let kept: Vec<char> = if chars.len() > MAX_CHARS {
                    let half = MAX_CHARS / 2;
                    chars[..half]
                        .iter()
                        .chain(&chars[chars.len() - half..])
                        .copied()
                        .collect()
                } else {
                    chars
                };
                let mut ids: Vec<u32> = kept.into_iter().map(|c| vocabulary.char_id(c)).collect();
                if ids.is_empty() {
                    ids.push(UNKNOWN);
                }
                ids
            })
            .collect();
        let width = char_lists.iter().map(Vec::len).max().unwrap_or(1);
        let n = char_lists.len();
        let mut chars = vec![PADDING as i64; n * width];
        for (row, ids) in char_lists.iter().enumerate() {
            for (i, &id) in ids.iter().enumerate() {
                chars[row * width + i] = id as i64;
            }
        }
        let char_lengths: Vec<usize> = char_lists.iter().map(Vec::len).collect();
        let int1 = |values: Vec<i64>| {
            let len = values.len();
            Tensor::<1, Int>::from_data(TensorData::new(values, [len]), device)
        };
        Self {
            words: int1(words).reshape([batch, time]),
            shapes: int1(shapes).reshape([batch, time]),
            chars: int1(chars).reshape([n, width]),
            char_reversal: reversal_index(&char_lengths, width, device),
            char_last: int1(
                char_lengths
                    .iter()
                    .enumerate()
                    .map(|(row, len)| (row * width + len - 1) as i64)
                    .collect(),
            ),
            char_first: int1((0..n).map(|row| (row * width) as i64).collect()),
            token_rows: int1(token_rows),
            word_reversal: reversal_index(&lengths, time, device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_keys_fold_case_accents_and_digits() {
        assert_eq!(word_key("Ácido"), "acido");
        assert_eq!(word_key("15,6"), "00,0");
        assert_eq!(word_key("IL-2"), "il-0");
    }

    #[test]
    fn shapes_tell_casing_apart() {
        let shapes: Vec<u32> = ["dosis", "Dosis", "TAC", "mRNA", "15", "IL2", ",", "Ácido"]
            .iter()
            .map(|t| shape(t))
            .collect();
        assert_eq!(shapes, [1, 2, 3, 4, 5, 6, 7, 2]);
    }

    #[test]
    fn batch_rows_point_at_each_tokens_characters() {
        let device = Device::flex();
        let vocabulary = Vocabulary::new(["dosis".to_string()], "dosi".chars());
        let a: &[&str] = &["dosis", "de", "dosis"];
        let b: &[&str] = &["de"];
        let batch = Batch::new(&[a, b], &vocabulary, &device, |w| w);
        let rows: Vec<i64> = batch.token_rows.into_data().try_into_vec_as().unwrap();
        assert_eq!(rows, [0, 1, 0, 1, 0, 0]);
        let words: Vec<i64> = batch.words.into_data().try_into_vec_as().unwrap();
        assert_eq!(words, [2, 1, 2, 1, 0, 0]);
        assert_eq!(batch.chars.dims(), [2, 5]);
        let last: Vec<i64> = batch.char_last.into_data().try_into_vec_as().unwrap();
        assert_eq!(last, [4, 6]);
    }
}
