//! Extending an encoder's WordPiece vocabulary with the words of a domain that it shatters.
//!
//! An English vocabulary cuts Spanish clinical words into many short pieces ("acetilsalicilico"
//! into seven), so the first piece that carries a word's tag scores says little about it. The
//! frequent words of an unlabelled domain corpus that need three or more pieces become pieces
//! of their own; WordPiece's longest-match-first then reads each of them whole, and as the
//! stem of longer words. A new piece's embedding starts as the mean of the pieces it
//! replaces, so that the encoder reads it as it read the word before; fine-tuning moves it.

use super::network::BertConfig;
use super::pretrained::Pretrained;
use super::WordPieces;
use crate::error::{Error, Result};
use crate::text::Segmentation;
use burn::module::Param;
use burn::tensor::{Tensor, TensorData};
use std::collections::HashMap;

/// Which words become pieces.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ExtensionConfig {
    /// Most pieces added.
    pub max_new: usize,
    /// Least occurrences in the corpus.
    pub min_count: usize,
    /// Least pieces the current vocabulary needs for the word.
    pub min_pieces: usize,
}

impl Default for ExtensionConfig {
    fn default() -> Self {
        Self {
            max_new: 8000,
            min_count: 5,
            min_pieces: 3,
        }
    }
}

/// The words chosen, most pieces saved first, each with the pieces it needed before.
pub fn candidates(
    texts: &[String],
    wordpieces: &WordPieces,
    config: &ExtensionConfig,
) -> Vec<(String, Vec<u32>)> {
    let normalizer = wordpieces.tokenizer().get_normalizer();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for text in texts {
        let segmentation = Segmentation::of(text);
        for token in &segmentation.tokens {
            let word = &text[token.start..token.end];
            // Letters only: numbers, codes and punctuation are better read piece by piece.
            if word.chars().count() >= 4 && word.chars().all(char::is_alphabetic) {
                *counts.entry(word.to_string()).or_default() += 1;
            }
        }
    }
    // Counted under the tokenizer's normalization (lowercase, no accents), as WordPiece sees them.
    let mut normalized: HashMap<String, usize> = HashMap::new();
    for (word, count) in counts {
        let key = match normalizer {
            Some(normalizer) => {
                let mut n = tokenizers::NormalizedString::from(word.as_str());
                if tokenizers::Normalizer::normalize(normalizer, &mut n).is_err() {
                    continue;
                }
                n.get().to_string()
            }
            None => word,
        };
        *normalized.entry(key).or_default() += count;
    }
    let mut chosen: Vec<(String, Vec<u32>, usize)> = normalized
        .into_iter()
        .filter(|(_, count)| *count >= config.min_count)
        .filter_map(|(word, count)| {
            let pieces = wordpieces.pieces(&word);
            (pieces.len() >= config.min_pieces).then(|| {
                let saved = count * (pieces.len() - 1);
                (word, pieces, saved)
            })
        })
        .collect();
    chosen.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
    chosen.truncate(config.max_new);
    chosen
        .into_iter()
        .map(|(word, pieces, _)| (word, pieces))
        .collect()
}

/// Adds `words` to the encoder's vocabulary and embeddings (see the module's documentation).
pub fn extend(pretrained: &mut Pretrained, words: &[(String, Vec<u32>)]) -> Result<()> {
    let mut json: serde_json::Value = serde_json::from_str(&pretrained.tokenizer)
        .map_err(|e| Error::Model(format!("bad tokenizer.json: {e}")))?;
    let model = &mut json["model"];
    if model["type"] != "WordPiece" {
        return Err(Error::Model(format!(
            "only WordPiece vocabularies can be extended, not {}",
            model["type"]
        )));
    }
    let vocab = model["vocab"]
        .as_object_mut()
        .ok_or_else(|| Error::Model("tokenizer.json has no vocab".into()))?;
    let old_size = pretrained.config.vocab_size;
    if vocab.len() != old_size {
        return Err(Error::Model(format!(
            "the vocabulary has {} pieces but the encoder embeds {old_size}",
            vocab.len()
        )));
    }
    let words: Vec<&(String, Vec<u32>)> = words
        .iter()
        .filter(|(word, _)| !vocab.contains_key(word))
        .collect();
    for (i, (word, _)) in words.iter().enumerate() {
        vocab.insert(word.clone(), (old_size + i).into());
    }

    let embeddings = &mut pretrained.encoder.embeddings.word_embeddings;
    let old = embeddings.weight.val();
    let [_, dim] = old.dims();
    let values: Vec<f32> = old
        .clone()
        .into_data()
        .try_into_vec_as::<f32>()
        .expect("float embeddings");
    let mut rows = Vec::with_capacity(words.len() * dim);
    for (_, pieces) in &words {
        let mut mean = vec![0f32; dim];
        for &piece in pieces {
            let row = &values[piece as usize * dim..(piece as usize + 1) * dim];
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v / pieces.len() as f32;
            }
        }
        rows.extend(mean);
    }
    let added = Tensor::<2>::from_data(TensorData::new(rows, [words.len(), dim]), &old.device());
    embeddings.weight = Param::from_tensor(Tensor::cat(vec![old, added], 0));
    pretrained.config = BertConfig {
        vocab_size: old_size + words.len(),
        ..pretrained.config.clone()
    };
    pretrained.tokenizer = serde_json::to_string(&json).expect("JSON serialises");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::tests::tiny_pretrained;
    use super::*;

    #[test]
    fn frequent_shattered_words_become_pieces_embedded_as_their_mean() {
        let _random = crate::models::exclusive_random();
        let mut pretrained = tiny_pretrained();
        let wordpieces = WordPieces::from_json(&pretrained.tokenizer).unwrap();
        let before = wordpieces.pieces("Ibuprofeno");
        assert!(before.len() >= 3);
        let texts = vec!["Ibuprofeno e ibuprofeno; IBUPROFENO con fiebre.".to_string(); 2];
        let config = ExtensionConfig {
            max_new: 10,
            min_count: 3,
            min_pieces: 3,
        };
        let chosen = candidates(&texts, &wordpieces, &config);
        // Counted case-folded; 'fiebre' (twice) is too rare, 'con' is one piece already.
        let words: Vec<&str> = chosen.iter().map(|(w, _)| w.as_str()).collect();
        assert_eq!(words, ["ibuprofeno"]);
        let old = pretrained.config.vocab_size;
        let table = |p: &Pretrained| {
            p.encoder
                .embeddings
                .word_embeddings
                .weight
                .val()
                .into_data()
                .try_into_vec_as::<f32>()
                .unwrap()
        };
        let old_table = table(&pretrained);
        extend(&mut pretrained, &chosen).unwrap();
        assert_eq!(pretrained.config.vocab_size, old + 1);
        let extended = WordPieces::from_json(&pretrained.tokenizer).unwrap();
        assert_eq!(extended.pieces("Ibuprofeno"), [old as u32]);
        // Longest match first: the new piece is also the stem of longer words.
        assert_eq!(extended.pieces("ibuprofenos")[0], old as u32);
        let dim = pretrained.config.hidden_size;
        let new_table = table(&pretrained);
        for h in 0..dim {
            let mean = before
                .iter()
                .map(|&p| old_table[p as usize * dim + h])
                .sum::<f32>()
                / before.len() as f32;
            assert!((new_table[old * dim + h] - mean).abs() < 1e-6);
        }
    }
}
