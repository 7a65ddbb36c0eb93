//! Fitting an encoder's vocabulary to a domain: extending a WordPiece vocabulary with the
//! words it shatters, or pruning a vocabulary (WordPiece or SentencePiece's Unigram) to the
//! pieces the domain uses.
//!
//! Extending:
//! An English vocabulary cuts Spanish clinical words into many short pieces ("acetilsalicilico"
//! into seven), so the first piece that carries a word's tag scores says little about it. The
//! frequent words of an unlabelled domain corpus that need three or more pieces become pieces
//! of their own; WordPiece's longest-match-first then reads each of them whole, and as the
//! stem of longer words. A new piece's embedding starts as the mean of the pieces it
//! replaces, so that the encoder reads it as it read the word before; fine-tuning moves it.

use super::pretrained::Pretrained;
use crate::error::{Error, Result};
use crate::models::bert::{BertConfig, BertTagger, WordPieces};
use crate::text::Segmentation;
use burn::module::Param;
use burn::tensor::{Tensor, TensorData};
use std::collections::{BTreeSet, HashMap};

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

/// What [`prune`] kept.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Pruning {
    pub pieces_before: usize,
    pub pieces_kept: usize,
    /// Distinct words read, and how many of them still need the unknown piece (a character
    /// that no piece of the full vocabulary holds).
    pub words: usize,
    pub words_with_unknown: usize,
}

/// Keeps only the pieces of a vocabulary that `words` are cut into, one word at a time as the
/// tagger cuts them, with the special tokens and the single-character pieces of every
/// character they use (word-initial and continuing: `▁` or `##`), so that any new word
/// written in those characters still has pieces. Removing pieces that no word's cut uses
/// leaves every such word's cut as it was (Unigram's best cut, and WordPiece's longest match
/// first, which only ever takes a piece it would take with the whole vocabulary); other words
/// may be cut differently, never into unknowns. multilingual-e5-small's 250,002 pieces take
/// 96 M of its 117 M parameters, MiniLM's 30,522 more than half of its; a domain uses a small
/// share of them.
pub fn prune<'w>(
    pretrained: &mut Pretrained,
    words: impl IntoIterator<Item = &'w str>,
) -> Result<Pruning> {
    prune_parts(
        &mut pretrained.tokenizer,
        &mut pretrained.config,
        &mut pretrained.encoder.embeddings.word_embeddings.weight,
        words,
    )
}

/// [`prune`] for a trained tagger: each of `words` is cut and tagged as before, and its file
/// is smaller by the embeddings of the pieces left out. The header's training notes record
/// what was kept (`vocabulary_pruned`).
pub fn prune_tagger<'w>(
    tagger: &mut BertTagger,
    words: impl IntoIterator<Item = &'w str>,
) -> Result<Pruning> {
    let pruning = prune_parts(
        &mut tagger.header.tokenizer,
        &mut tagger.header.encoder,
        &mut tagger.network.encoder.embeddings.word_embeddings.weight,
        words,
    )?;
    tagger.wordpieces = WordPieces::from_json(&tagger.header.tokenizer)?;
    tagger.note(
        "vocabulary_pruned",
        serde_json::to_value(&pruning).expect("JSON values serialize"),
    );
    Ok(pruning)
}

/// [`prune`] on the parts a vocabulary lives in: the text of `tokenizer.json`, the encoder's
/// configuration and its table of piece embeddings.
fn prune_parts<'w>(
    tokenizer_json: &mut String,
    config: &mut BertConfig,
    table: &mut Param<Tensor<2>>,
    words: impl IntoIterator<Item = &'w str>,
) -> Result<Pruning> {
    let mut json: serde_json::Value = serde_json::from_str(tokenizer_json)
        .map_err(|e| Error::Model(format!("bad tokenizer.json: {e}")))?;
    let mut vocabulary = Vocabulary::take(&mut json)?;
    let wordpieces = WordPieces::from_json(tokenizer_json)?;
    let tokenizer = wordpieces.tokenizer();
    let unknown = wordpieces.unknown;
    let mut keep: BTreeSet<u32> = json["added_tokens"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|token| token["id"].as_u64().map(|id| id as u32))
        .chain([unknown, wordpieces.cls, wordpieces.sep])
        .collect();
    let distinct: BTreeSet<&str> = words.into_iter().collect();
    let mut characters = BTreeSet::new();
    let mut words_with_unknown = 0;
    for word in &distinct {
        let encoding = tokenizer
            .encode(*word, false)
            .map_err(|e| Error::Model(format!("tokenizing {word:?}: {e}")))?;
        words_with_unknown += encoding.get_ids().contains(&unknown) as usize;
        keep.extend(encoding.get_ids());
        for token in encoding.get_tokens() {
            let bare = match &vocabulary {
                Vocabulary::WordPiece { prefix, .. } => token.strip_prefix(prefix.as_str()),
                Vocabulary::Unigram(_) => None,
            };
            characters.extend(bare.unwrap_or(token).chars());
        }
    }
    keep.extend(vocabulary.single_characters(&characters));

    // Old id → new id, in the old order.
    let kept: Vec<u32> = keep.into_iter().collect();
    let new_id: HashMap<u32, u32> = kept
        .iter()
        .enumerate()
        .map(|(new, &old)| (old, new as u32))
        .collect();
    let pieces_before = vocabulary.len();
    vocabulary.keep(&kept);
    vocabulary.put(&mut json, new_id[&unknown]);
    for token in json["added_tokens"].as_array_mut().into_iter().flatten() {
        if let Some(id) = token["id"].as_u64() {
            token["id"] = new_id[&(id as u32)].into();
        }
    }
    // RobertaProcessing names its two specials with their ids; BERT's TemplateProcessing
    // lists each special's ids.
    for role in ["cls", "sep"] {
        if let Some(id) = json["post_processor"][role][1].as_u64() {
            json["post_processor"][role][1] = new_id[&(id as u32)].into();
        }
    }
    if let Some(specials) = json["post_processor"]["special_tokens"].as_object_mut() {
        for special in specials.values_mut() {
            for id in special["ids"].as_array_mut().into_iter().flatten() {
                if let Some(old) = id.as_u64() {
                    *id = new_id[&(old as u32)].into();
                }
            }
        }
    }
    if let Some(old) = json["padding"]["pad_id"].as_u64() {
        json["padding"]["pad_id"] = new_id.get(&(old as u32)).copied().unwrap_or(0).into();
    }

    let old = table.val();
    let rows = Tensor::<1, burn::tensor::Int>::from_data(
        TensorData::new(
            kept.iter().map(|&id| id as i64).collect::<Vec<_>>(),
            [kept.len()],
        ),
        &old.device(),
    );
    // The same parameter id, so that a pruned model's file is the same bytes each time.
    *table = Param::initialized(table.id, old.select(0, rows));
    *config = BertConfig {
        vocab_size: kept.len(),
        ..config.clone()
    };
    *tokenizer_json = serde_json::to_string(&json).expect("JSON serialises");
    Ok(Pruning {
        pieces_before,
        pieces_kept: kept.len(),
        words: distinct.len(),
        words_with_unknown,
    })
}

/// The pieces of a `tokenizer.json` model, in id order.
enum Vocabulary {
    /// SentencePiece: each piece with its score.
    Unigram(Vec<(String, f64)>),
    /// Each piece; `prefix` marks the pieces that continue a word (`##`).
    WordPiece { pieces: Vec<String>, prefix: String },
}

impl Vocabulary {
    /// Takes the pieces out of the model of `json`.
    fn take(json: &mut serde_json::Value) -> Result<Self> {
        let model = &mut json["model"];
        match model["type"].as_str() {
            Some("Unigram") => serde_json::from_value(model["vocab"].take())
                .map(Self::Unigram)
                .map_err(|e| Error::Model(format!("bad Unigram vocabulary: {e}"))),
            Some("WordPiece") => {
                let ids: HashMap<String, u32> = serde_json::from_value(model["vocab"].take())
                    .map_err(|e| Error::Model(format!("bad WordPiece vocabulary: {e}")))?;
                let mut pieces = vec![String::new(); ids.len()];
                for (piece, id) in ids {
                    match pieces.get_mut(id as usize) {
                        Some(slot) if slot.is_empty() => *slot = piece,
                        _ => {
                            return Err(Error::Model(format!(
                                "the WordPiece vocabulary's ids are not 0…{}",
                                pieces.len() - 1
                            )))
                        }
                    }
                }
                let prefix = model["continuing_subword_prefix"]
                    .as_str()
                    .unwrap_or("##")
                    .to_string();
                Ok(Self::WordPiece { pieces, prefix })
            }
            other => Err(Error::Model(format!(
                "only Unigram and WordPiece vocabularies can be pruned, not {other:?}"
            ))),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Unigram(pieces) => pieces.len(),
            Self::WordPiece { pieces, .. } => pieces.len(),
        }
    }

    fn piece(&self, id: usize) -> &str {
        match self {
            Self::Unigram(pieces) => &pieces[id].0,
            Self::WordPiece { pieces, .. } => &pieces[id],
        }
    }

    /// The ids of the pieces that spell one of `characters` alone, at the start of a word
    /// and within one: SentencePiece marks a word's start (`▁c`, and `▁` alone), WordPiece
    /// the pieces within a word (`##c`).
    fn single_characters(&self, characters: &BTreeSet<char>) -> Vec<u32> {
        let (marker, marker_alone) = match self {
            Self::Unigram(_) => ("\u{2581}", true),
            Self::WordPiece { prefix, .. } => (prefix.as_str(), false),
        };
        let wanted: BTreeSet<String> = characters
            .iter()
            .flat_map(|c| [c.to_string(), format!("{marker}{c}")])
            .chain(marker_alone.then(|| marker.to_string()))
            .collect();
        (0..self.len())
            .filter(|&id| wanted.contains(self.piece(id)))
            .map(|id| id as u32)
            .collect()
    }

    /// Keeps the pieces at `ids` (ascending), in their order.
    fn keep(&mut self, ids: &[u32]) {
        match self {
            Self::Unigram(pieces) => {
                *pieces = ids.iter().map(|&id| pieces[id as usize].clone()).collect()
            }
            Self::WordPiece { pieces, .. } => {
                *pieces = ids.iter().map(|&id| pieces[id as usize].clone()).collect()
            }
        }
    }

    /// Puts the pieces back into the model of `json`, with the unknown piece's id.
    fn put(self, json: &mut serde_json::Value, unknown: u32) {
        let model = &mut json["model"];
        match self {
            Self::Unigram(pieces) => {
                model["vocab"] = serde_json::to_value(pieces).expect("JSON values serialize");
                model["unk_id"] = unknown.into();
            }
            Self::WordPiece { pieces, .. } => {
                model["vocab"] = pieces
                    .into_iter()
                    .enumerate()
                    .map(|(id, piece)| (piece, serde_json::Value::from(id)))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::pretrained::tests::tiny_pretrained;
    use super::*;

    #[test]
    fn a_pruned_wordpiece_vocabulary_cuts_its_words_as_before() {
        let _random = crate::models::random::exclusive_random();
        let mut pretrained = tiny_pretrained();
        let full = WordPieces::from_json(&pretrained.tokenizer).unwrap();
        let table = |p: &Pretrained| -> Vec<f32> {
            let weight = p.encoder.embeddings.word_embeddings.weight.val();
            weight.into_data().try_into_vec_as::<f32>().unwrap()
        };
        let full_table = table(&pretrained);
        let words = ["Ácido", "fólico", "con", "hierro", "PCR"];
        let pruning = prune(&mut pretrained, words).unwrap();
        let pruned = WordPieces::from_json(&pretrained.tokenizer).unwrap();
        assert_eq!(pruning.pieces_before, full.vocabulary_size());
        assert_eq!(pruning.pieces_kept, pruned.vocabulary_size());
        assert_eq!(pretrained.config.vocab_size, pruning.pieces_kept);
        // Of 26 letters, those the words use, alone and continuing a word, are kept.
        assert!(pruning.pieces_kept < 40, "{pruning:?}");
        let tokens = |wordpieces: &WordPieces, word: &str| -> Vec<String> {
            let encoding = wordpieces.tokenizer().encode(word, false).unwrap();
            encoding.get_tokens().to_vec()
        };
        let dim = pretrained.config.hidden_size;
        let pruned_table = table(&pretrained);
        for word in words {
            assert_eq!(tokens(&full, word), tokens(&pruned, word), "{word}");
            for (old, new) in full.pieces(word).into_iter().zip(pruned.pieces(word)) {
                let (old, new) = (old as usize * dim, new as usize * dim);
                assert_eq!(full_table[old..old + dim], pruned_table[new..new + dim]);
            }
        }
        // A new word in those letters is cut into them; one in another letter is unknown.
        assert_eq!(tokens(&pruned, "cloro"), ["c", "##l", "##o", "##r", "##o"]);
        assert_eq!(tokens(&pruned, "zinc"), ["[UNK]"]);
        let encoding = pruned.tokenizer().encode("hierro", true).unwrap();
        assert_eq!(encoding.get_tokens(), ["[CLS]", "hierro", "[SEP]"]);
        assert_eq!(
            encoding.get_ids()[0],
            pruned.tokenizer().token_to_id("[CLS]").unwrap()
        );
    }

    #[test]
    fn frequent_shattered_words_become_pieces_embedded_as_their_mean() {
        let _random = crate::models::random::exclusive_random();
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
