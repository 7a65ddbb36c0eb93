//! What the network sees of a token: a word id, a shape class and its characters.

use crate::text::fold;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use crate::models::lstm::SequenceLengths;

/// Reserved ids in both vocabularies.
pub const PADDING: u32 = 0;
pub const UNKNOWN: u32 = 1;

/// Characters per token fed to the character LSTM; longer tokens keep their first and last
/// halves, where prefixes and suffixes (`-mab`, `-ina`, `anti-`) live.
const MAX_CHARS: usize = 24;

/// Number of shape classes (see [`shape`]), padding included.
pub const SHAPES: usize = 8;

/// Number of lexical feature ids (see [`Lexicon::feature`]), padding included.
pub const LEXICAL_FEATURES: usize = 9;

/// Outside knowledge about words: a gazetteer of names (the Spanish pharmaceutical
/// nomenclator) and drug-class affixes (`-mab`, `-olol`, `cef-`), as in the PharmaCoNER
/// extension of NeuroNER.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Lexicon {
    /// Folded single-word names.
    pub names: std::collections::BTreeSet<String>,
    /// Folded affixes and where they sit in a word.
    pub affixes: Vec<(Affix, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Affix {
    Prefix,
    Suffix,
    Root,
}

impl Lexicon {
    /// Adds the names of a gazetteer: one a line.
    pub fn add_names(&mut self, text: &str) {
        self.names.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(fold),
        );
    }

    /// Adds affixes from a table with the columns `Type` (prefix, suffix or root) and
    /// `Expression_EN`/`Expression_ES` (several affixes separated by commas), tab-separated
    /// with a header line, taking the column of `language`.
    pub fn add_affixes(&mut self, tsv: &str, language: &str) -> crate::error::Result<()> {
        let mut lines = tsv.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
        let wanted = format!("Expression_{}", language.to_uppercase());
        let column = |name: &str| header.iter().position(|h| h.trim() == name);
        let (Some(kind_column), Some(expression_column)) = (column("Type"), column(&wanted)) else {
            return Err(crate::error::Error::parse(
                "affix table",
                1,
                format!("expected the columns Type and {wanted}"),
            ));
        };
        for (number, line) in lines.enumerate() {
            let fields: Vec<&str> = line.split('\t').collect();
            let (Some(kind), Some(expressions)) =
                (fields.get(kind_column), fields.get(expression_column))
            else {
                continue;
            };
            let kind = match kind.trim() {
                "prefix" => Affix::Prefix,
                "suffix" => Affix::Suffix,
                "root" => Affix::Root,
                other => {
                    return Err(crate::error::Error::parse(
                        "affix table",
                        number + 2,
                        format!("unknown affix type '{other}'"),
                    ))
                }
            };
            for expression in expressions
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
            {
                let affix = (kind, fold(expression));
                if !self.affixes.contains(&affix) {
                    self.affixes.push(affix);
                }
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.affixes.is_empty()
    }

    /// A token's lexical feature: 1 + 4 × (in the gazetteer) + (0 no affix, 1 prefix,
    /// 2 suffix, 3 root). Affixes count only where they leave a stem of three letters or more.
    pub fn feature(&self, token: &str) -> u32 {
        let folded = fold(token);
        let known = self.names.contains(&folded) as u32;
        let letters = folded.chars().count();
        let affix = self
            .affixes
            .iter()
            .find(|(kind, affix)| {
                letters >= affix.chars().count() + 3
                    && match kind {
                        Affix::Prefix => folded.starts_with(affix.as_str()),
                        Affix::Suffix => folded.ends_with(affix.as_str()),
                        Affix::Root => folded.contains(affix.as_str()),
                    }
            })
            .map_or(0, |(kind, _)| match kind {
                Affix::Prefix => 1,
                Affix::Suffix => 2,
                Affix::Root => 3,
            });
        1 + 4 * known + affix
    }
}

/// Word and character vocabularies, and the lexicon behind the lexical features.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Vocabulary {
    /// Word keys ([`word_key`]); 0 is padding and 1 unknown.
    pub words: Vec<String>,
    /// Characters as they appear (case kept); 0 is padding and 1 unknown.
    pub chars: Vec<char>,
    #[serde(default)]
    pub lexicon: Lexicon,
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
            lexicon: Lexicon::default(),
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
    /// `[batch, time]` lexical features.
    pub lexical: Tensor<2, Int>,
    /// `[unique tokens, chars]` character ids of each distinct token of the batch.
    pub chars: Tensor<2, Int>,
    /// How many characters each distinct token has.
    pub char_lengths: SequenceLengths,
    /// Flattened `[unique × chars]` rows of each token's last and first character.
    pub char_last: Tensor<1, Int>,
    pub char_first: Tensor<1, Int>,
    /// For each `[batch × time]` position, its row among the distinct tokens.
    pub token_rows: Tensor<1, Int>,
    /// How many words each sentence has.
    pub word_lengths: SequenceLengths,
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
        let mut lexical = vec![PADDING as i64; batch * time];
        let mut token_rows = vec![0i64; batch * time];
        let mut unique: HashMap<&str, usize> = HashMap::new();
        let mut unique_tokens: Vec<&str> = Vec::new();
        for (b, sentence) in sentences.iter().enumerate() {
            for (t, token) in sentence.iter().enumerate() {
                words[b * time + t] = replace_word(vocabulary.word_id(token)) as i64;
                shapes[b * time + t] = shape(token) as i64;
                lexical[b * time + t] = vocabulary.lexicon.feature(token) as i64;
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
            lexical: int1(lexical).reshape([batch, time]),
            chars: int1(chars).reshape([n, width]),
            char_last: int1(
                char_lengths
                    .iter()
                    .enumerate()
                    .map(|(row, len)| (row * width + len - 1) as i64)
                    .collect(),
            ),
            char_first: int1((0..n).map(|row| (row * width) as i64).collect()),
            token_rows: int1(token_rows),
            char_lengths: SequenceLengths::new(char_lengths, width, device),
            word_lengths: SequenceLengths::new(lengths, time, device),
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
    fn reads_the_affix_table_for_a_language() {
        let tsv = "Type\tExpression_EN\tExpression_ES\n\
                   suffix\tcaine\tína\nprefix\tcef, ceph\tcef\nroot\tvir\tvir\n";
        let mut lexicon = Lexicon::default();
        lexicon.add_affixes(tsv, "en").unwrap();
        assert_eq!(lexicon.affixes.len(), 4);
        let mut spanish = Lexicon::default();
        spanish.add_affixes(tsv, "es").unwrap();
        assert_eq!(spanish.affixes[0], (Affix::Suffix, "ina".to_string()));
        assert!(spanish.add_affixes("Kind\tX\n", "es").is_err());
    }

    #[test]
    fn lexical_features_mark_known_names_and_drug_affixes() {
        let lexicon = Lexicon {
            names: ["paracetamol".to_string()].into_iter().collect(),
            affixes: vec![
                (Affix::Suffix, "olol".into()),
                (Affix::Prefix, "cef".into()),
            ],
        };
        assert_eq!(lexicon.feature("Paracetamol"), 5);
        assert_eq!(lexicon.feature("atenolol"), 3);
        assert_eq!(lexicon.feature("cefazolina"), 2);
        assert_eq!(
            lexicon.feature("olol"),
            1,
            "an affix alone is not a drug name"
        );
        assert_eq!(lexicon.feature("dolor"), 1);
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
