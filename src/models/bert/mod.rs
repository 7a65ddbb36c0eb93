//! The BERT token classifier: loading, saving and tagging around the network in [`network`],
//! a pure burn module on a runtime [`Device`].
//!
//! Words come from the crate's own segmentation (so that entities start and end on the same
//! token boundaries as the gold annotations and the other models); each word is cut into
//! WordPiece pieces by the HuggingFace tokenizer of the encoder, and the tag scores of a word
//! are those of its first piece. A sentence longer than a window is read in overlapping
//! windows, and each word takes its scores from the window where it has the most context on
//! both sides, so nothing is ever truncated.

#[cfg(not(target_arch = "wasm32"))]
pub mod e5;
mod network;
#[cfg(not(target_arch = "wasm32"))]
pub mod pretrained;
#[cfg(not(target_arch = "wasm32"))]
pub mod train;
#[cfg(not(target_arch = "wasm32"))]
pub mod vocabulary;

pub use network::{BertConfig, BertTokenClassifier, Encoder, PieceBatch};

use crate::container::{self, Kind};
use crate::decoding::SequenceDecoder;
use crate::document::Entity;
use crate::error::{Error, Result};
use crate::models::precision::quantize::{Calibration, ToInt4};
use crate::models::precision::{load_weights, write_model_file, write_stored, Precision};
use crate::models::tagger::{computes_on_host, labels_of, sentence_words, Tagger};
use crate::tagging::{Scheme, Tag};
use crate::text::Segmentation;
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::str::FromStr;
use tokenizers::Tokenizer;

pub(crate) const KIND: &str = "bert";

/// Pieces per forward pass when tagging (windows of similar lengths are batched up to this,
/// and up to [`BertTagger::set_batch_windows`] windows).
const BATCH_PIECES: usize = 8192;

/// Most padding a batch may carry, as a share of its real pieces. Windows are padded to the
/// batch's longest, and a document's sentences range from a few pieces to hundreds: batching
/// them all at once computed twice the pieces there are (PharmaCoNER dev, 32 windows a batch).
const BATCH_PADDING: f64 = 0.1;

/// Everything about a model but its weights; the JSON header of its file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Header {
    pub kind: String,
    pub language: String,
    pub scheme: String,
    pub tags: Vec<String>,
    pub encoder: BertConfig,
    /// Whether a CRF learned transition scores (otherwise a softmax head, decoded under the
    /// scheme's constraints).
    pub crf: bool,
    /// Largest window, special tokens included.
    pub max_pieces: usize,
    /// The encoder's `tokenizer.json`.
    pub tokenizer: String,
    /// Provenance: the encoder, how the model was trained and what it scored on dev.
    #[serde(default)]
    pub training: serde_json::Value,
    /// Its weight in an ensemble when the caller gives none (see [`super::Model::ensemble`]).
    #[serde(
        default = "crate::models::precision::unit_weight",
        skip_serializing_if = "crate::models::precision::is_unit_weight"
    )]
    pub ensemble_weight: f32,
    /// The entity types of each language a model trained on several reads (absent: every
    /// type is `language`'s). Tagging one language's text decodes its types alone, as if
    /// the others' tags were forbidden ([`BertTagger::set_language`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub languages: BTreeMap<String, Vec<String>>,
}

/// The tokenizer of an encoder, cutting one word at a time into piece ids.
#[derive(Clone)]
pub struct WordPieces {
    tokenizer: Tokenizer,
    cls: u32,
    sep: u32,
    unknown: u32,
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

#[derive(Clone)]
pub struct BertTagger {
    header: Header,
    wordpieces: WordPieces,
    network: BertTokenClassifier,
    /// Decodes the language being read: all the network's tags, or one language's.
    decoder: SequenceDecoder,
    /// The network's score columns that `decoder`'s tags are, when it reads one language of
    /// several.
    columns: Option<Vec<usize>>,
    language: String,
    device: Device,
    batch_windows: usize,
    /// Whether the file stored 8-bit weights, which the CPU computes with in integers.
    quantized: bool,
}

impl BertTagger {
    fn new(
        header: Header,
        network: BertTokenClassifier,
        device: &Device,
        quantized: bool,
    ) -> Result<Self> {
        let scheme: Scheme = header.scheme.parse().map_err(Error::Model)?;
        let tags = header
            .tags
            .iter()
            .map(|t| Tag::parse(t).map_err(|e| Error::Model(e.to_string())))
            .collect::<Result<Vec<_>>>()?;
        let mut decoder = SequenceDecoder::constrained(scheme, &labels_of(&header.tags));
        if decoder.tags != tags {
            return Err(Error::Model(
                "the header's tags are not the scheme's tag set".into(),
            ));
        }
        if let Some(crf) = &network.crf {
            decoder.scores = crf.scores();
        }
        let labels = labels_of(&header.tags);
        if let Some((language, unknown)) = header.languages.iter().find_map(|(language, types)| {
            Some((language, types.iter().find(|t| !labels.contains(t))?))
        }) {
            return Err(Error::Model(format!(
                "the header gives '{language}' the type '{unknown}', which the model does not tag"
            )));
        }
        let wordpieces = WordPieces::from_json(&header.tokenizer)?;
        if wordpieces.vocabulary_size() > header.encoder.vocab_size {
            return Err(Error::Model(format!(
                "the tokenizer has {} pieces but the encoder embeds {}",
                wordpieces.vocabulary_size(),
                header.encoder.vocab_size
            )));
        }
        Ok(Self {
            language: header.language.clone(),
            header,
            wordpieces,
            network,
            decoder,
            columns: None,
            device: device.clone(),
            batch_windows: 32,
            quantized,
        })
    }

    /// Reads `language`'s text from now on. A model trained on several languages decodes
    /// that language's entity types alone (the header's `languages`); a model of one
    /// language reads every text as before.
    pub fn set_language(&mut self, language: &str) -> Result<()> {
        if self.header.languages.is_empty() {
            return Ok(());
        }
        let Some(types) = self.header.languages.get(language) else {
            let known: Vec<&str> = self.header.languages.keys().map(String::as_str).collect();
            return Err(Error::Model(format!(
                "the model reads {}, not '{language}'",
                known.join(" and ")
            )));
        };
        let scheme: Scheme = self.header.scheme.parse().map_err(Error::Model)?;
        let mut whole = SequenceDecoder::constrained(scheme, &labels_of(&self.header.tags));
        if let Some(crf) = &self.network.crf {
            whole.scores = crf.scores();
        }
        let (decoder, columns) = whole.restricted(types);
        self.decoder = decoder;
        self.columns = Some(columns);
        self.language = language.to_string();
        Ok(())
    }

    /// Most windows per forward pass when tagging (32 unless set; 1 reads each alone).
    pub fn set_batch_windows(&mut self, windows: usize) {
        self.batch_windows = windows.max(1);
    }

    /// The network for a header, with fresh weights.
    fn network(header: &Header, device: &Device) -> Result<BertTokenClassifier> {
        let scheme: Scheme = header.scheme.parse().map_err(Error::Model)?;
        let decoder = SequenceDecoder::constrained(scheme, &labels_of(&header.tags));
        let encoder = Encoder::new(&header.encoder, device);
        Ok(BertTokenClassifier::new(
            encoder,
            &header.encoder,
            decoder.tags.len(),
            header.crf.then_some(decoder.scores),
            device,
        ))
    }

    /// Loads a model file's bytes onto `device`.
    pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<Self> {
        let container = container::read(Kind::Model, bytes)?;
        let header: Header = serde_json::from_slice(container.header)
            .map_err(|e| Error::Model(format!("bad model header: {e}")))?;
        if header.kind != KIND {
            return Err(Error::Model(format!(
                "a '{}' model, not a {KIND} model",
                header.kind
            )));
        }
        if header.max_pieces < 3 || header.max_pieces > header.encoder.max_position_embeddings {
            return Err(Error::Model(format!(
                "windows of {} pieces do not fit {} positions",
                header.max_pieces, header.encoder.max_position_embeddings
            )));
        }
        let (network, stored) = load_weights(
            Self::network(&header, &Device::flex())?,
            container.weights,
            device,
        )?;
        let mut tagger = Self::new(header, network, device, stored == Precision::Int8)?;
        tagger.set_integer_products(true);
        Ok(tagger)
    }

    /// The model file: header and weights, stored as 16-bit floats.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.to_bytes_at(Precision::Half)
    }

    /// The model file with full-precision weights (training checkpoints).
    pub fn to_bytes_full(&self) -> Result<Vec<u8>> {
        self.to_bytes_at(Precision::Full)
    }

    /// The model file with its weights stored at `precision`.
    pub fn to_bytes_at(&self, precision: Precision) -> Result<Vec<u8>> {
        write_model_file(&self.header, self.network.clone(), precision)
    }

    /// The model file at 4 bits ([`Precision::Int4`]), its linear maps rounded for what they
    /// compute on `sentences` (words), the calibration text (see `models::precision::quantize`): a
    /// thousand sentences of the training text serve.
    pub fn to_bytes_int4(&self, sentences: &[&[&str]]) -> Result<Vec<u8>> {
        let mut calibration = Calibration::default();
        let mut windows = self.windows(sentences);
        // Windows of like length together: little padding to compute and leave out.
        windows.sort_by_key(|w| w.ids.len());
        for chunk in windows.chunks(32) {
            let ids: Vec<Vec<u32>> = chunk.iter().map(|w| w.ids.clone()).collect();
            let firsts: Vec<Vec<usize>> = chunk.iter().map(|w| w.first_pieces.clone()).collect();
            let batch = PieceBatch::new(&ids, &firsts, &self.device);
            let [size, pieces] = batch.ids.dims();
            let real: Vec<f32> = ids
                .iter()
                .flat_map(|w| (0..pieces).map(move |p| f32::from(u8::from(p < w.len()))))
                .collect();
            let real =
                Tensor::<3>::from_data(TensorData::new(real, [size, pieces, 1]), &self.device);
            self.network.encoder.see_linear_inputs(
                batch.ids,
                batch.attention_bias,
                &mut |layer, names, x| {
                    let paths = names
                        .iter()
                        .map(|name| format!("encoder.layers.{layer}.{name}.weight"));
                    calibration.add(paths, x, &real)
                },
            );
        }
        let stored = self
            .network
            .clone()
            .map(&mut ToInt4::new(Some(&calibration)));
        write_stored(&self.header, stored)
    }

    /// Keeps only the pieces of its vocabulary that `words` are cut into, and what any word
    /// in their characters needs (see [`vocabulary::prune`]): each of those words is cut and
    /// tagged as before, and the file is smaller by the embeddings of the pieces left out.
    /// The header's training notes record what was kept (`vocabulary_pruned`).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn prune_vocabulary<'w>(
        &mut self,
        words: impl IntoIterator<Item = &'w str>,
    ) -> Result<vocabulary::Pruning> {
        let pruning = vocabulary::prune_parts(
            &mut self.header.tokenizer,
            &mut self.header.encoder,
            &mut self.network.encoder.embeddings.word_embeddings.weight,
            words,
        )?;
        self.wordpieces = WordPieces::from_json(&self.header.tokenizer)?;
        self.note(
            "vocabulary_pruned",
            serde_json::to_value(&pruning).expect("JSON values serialize"),
        );
        Ok(pruning)
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Records a fact about how the model was made in its header's training notes.
    pub fn note(&mut self, key: &str, value: serde_json::Value) {
        self.header.training[key] = value;
    }

    /// Whether an 8-bit model's linear maps compute in 8-bit integers, as it does by default
    /// on the CPU, or in f32 from its dequantized weights, as on a GPU: other runtimes, and
    /// the GPU, are compared with the f32 products. No effect on other models or devices.
    ///
    /// An 8-bit model's weights are rounded again for the integer products, with one scale per
    /// output (the file's scales are per block of an input's outputs); models/README.md scores
    /// it so.
    pub fn set_integer_products(&mut self, on: bool) {
        self.network
            .encoder
            .compute_in_int8(on && self.quantized && computes_on_host(&self.device));
    }

    /// The same model on another device. An 8-bit model computes in integers on the CPU
    /// (back there too) and in f32 elsewhere.
    pub fn to_device(self, device: &Device) -> Self {
        let mut network = self.network;
        network.encoder.compute_in_int8(false);
        let mut moved = Self {
            network: network.to_device(device),
            device: device.clone(),
            ..self
        };
        moved.set_integer_products(true);
        moved
    }

    /// The windows of `sentences`.
    fn windows(&self, sentences: &[&[&str]]) -> Vec<Window> {
        self.wordpieces
            .sentences(sentences)
            .iter()
            .enumerate()
            .flat_map(|(i, pieces)| windows(i, pieces, self.header.max_pieces, &self.wordpieces))
            .collect()
    }

    /// The windows of a text, grouped as tagging feeds them to the encoder: one inner list
    /// per forward pass. The benchmarks give other runtimes exactly these inputs.
    pub fn forward_passes(&self, text: &str, segmentation: &Segmentation) -> Vec<Vec<Window>> {
        let sentences = sentence_words(text, segmentation);
        let views: Vec<&[&str]> = sentences.iter().map(Vec::as_slice).collect();
        let windows = self.windows(&views);
        self.chunks(&windows)
            .into_iter()
            .map(|chunk| chunk.into_iter().map(|i| windows[i].clone()).collect())
            .collect()
    }

    /// Indexes of `windows` grouped by length into batches of at most `batch_windows`
    /// windows and [`BATCH_PIECES`] pieces, with at most [`BATCH_PADDING`] of padding.
    fn chunks(&self, windows: &[Window]) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..windows.len()).collect();
        order.sort_by_key(|&i| windows[i].ids.len());
        let mut chunks: Vec<(Vec<usize>, usize)> = Vec::new();
        for i in order {
            let length = windows[i].ids.len();
            let fits = chunks.last().is_some_and(|(chunk, real)| {
                // Sorted by length: the window being added is the chunk's longest, and every
                // window of the chunk is padded to its length.
                let padded = (chunk.len() + 1) * length;
                chunk.len() < self.batch_windows
                    && padded <= BATCH_PIECES
                    && padded as f64 <= (1.0 + BATCH_PADDING) * (real + length) as f64
            });
            match chunks.last_mut() {
                Some((chunk, real)) if fits => {
                    chunk.push(i);
                    *real += length;
                }
                _ => chunks.push((vec![i], length)),
            }
        }
        chunks.into_iter().map(|(chunk, _)| chunk).collect()
    }

    /// Windows grouped by length into batches, each with its tag scores (not yet read back
    /// from the device).
    fn emission_batches<'s>(
        &'s self,
        windows: &'s [Window],
    ) -> impl Iterator<Item = (Vec<usize>, Tensor<3>)> + 's {
        self.chunks(windows).into_iter().map(move |chunk| {
            let ids: Vec<Vec<u32>> = chunk.iter().map(|&i| windows[i].ids.clone()).collect();
            let firsts: Vec<Vec<usize>> = chunk
                .iter()
                .map(|&i| windows[i].first_pieces.clone())
                .collect();
            let batch = PieceBatch::new(&ids, &firsts, &self.device);
            (chunk, self.network.emissions(&batch))
        })
    }

    /// Copies a batch's scores `[windows, words, tags]` to each word of its sentences that
    /// has more context in this window than in any window seen before.
    fn scatter(
        &self,
        windows: &[Window],
        chunk: &[usize],
        words: usize,
        values: TensorData,
        best: &mut [Vec<(usize, Vec<f32>)>],
    ) {
        let values: Vec<f32> = values.try_into_vec_as::<f32>().expect("float emissions");
        let k = self.header.tags.len();
        for (row, &i) in chunk.iter().enumerate() {
            let window = &windows[i];
            for (w, word) in window.words.clone().enumerate() {
                let context = window.context[w];
                let slot = &mut best[window.sentence][word];
                if slot.1.is_empty() || context > slot.0 {
                    let at = (row * words + w) * k;
                    *slot = (context, values[at..at + k].to_vec());
                }
            }
        }
    }

    /// Per-sentence emission scores (`words × tags`, row-major) from the best windows, of
    /// the decoder's tags; for a softmax head, log-probabilities, so that Viterbi adds
    /// comparable numbers.
    fn collect(&self, best: Vec<Vec<(usize, Vec<f32>)>>) -> Vec<Vec<f32>> {
        best.into_iter()
            .map(|words| {
                words
                    .into_iter()
                    .flat_map(|(_, scores)| {
                        let scores = match &self.columns {
                            // A word no window reached keeps its empty row.
                            Some(columns) => columns
                                .iter()
                                .filter_map(|&c| scores.get(c).copied())
                                .collect(),
                            None => scores,
                        };
                        if self.header.crf {
                            scores
                        } else {
                            log_softmax(&scores)
                        }
                    })
                    .collect()
            })
            .collect()
    }

    fn empty_scores(sentences: &[&[&str]]) -> Vec<Vec<(usize, Vec<f32>)>> {
        sentences
            .iter()
            .map(|s| vec![(0, Vec::new()); s.len()])
            .collect()
    }

    /// The tags and CRF scores that decode this model's emissions.
    pub fn decoder(&self) -> &SequenceDecoder {
        &self.decoder
    }

    /// Emission scores for each sentence (`words × tags`, row-major).
    pub fn emissions(&self, sentences: &[&[&str]]) -> Vec<Vec<f32>> {
        let windows = self.windows(sentences);
        let mut best = Self::empty_scores(sentences);
        for (chunk, scores) in self.emission_batches(&windows) {
            let words = scores.dims()[1];
            self.scatter(&windows, &chunk, words, scores.into_data(), &mut best);
        }
        self.collect(best)
    }

    /// [`Self::emissions`] for devices that can only be read asynchronously (WebGPU).
    pub async fn emissions_async(&self, sentences: &[&[&str]]) -> Result<Vec<Vec<f32>>> {
        let windows = self.windows(sentences);
        let mut best = Self::empty_scores(sentences);
        for (chunk, scores) in self.emission_batches(&windows) {
            let words = scores.dims()[1];
            let values = scores
                .into_data_async()
                .await
                .map_err(|e| Error::Model(format!("cannot read scores from the device: {e:?}")))?;
            self.scatter(&windows, &chunk, words, values, &mut best);
        }
        Ok(self.collect(best))
    }

    /// [`Tagger::tag`] for devices read asynchronously.
    pub async fn tag_async(&self, text: &str, segmentation: &Segmentation) -> Result<Vec<Entity>> {
        let sentences = sentence_words(text, segmentation);
        let views: Vec<&[&str]> = sentences.iter().map(Vec::as_slice).collect();
        let emissions = self.emissions_async(&views).await?;
        Ok(self.decoder.entities(segmentation, &emissions))
    }
}

impl Tagger for BertTagger {
    fn tag(&self, text: &str, segmentation: &Segmentation) -> Vec<Entity> {
        let sentences = sentence_words(text, segmentation);
        let views: Vec<&[&str]> = sentences.iter().map(Vec::as_slice).collect();
        let emissions = self.emissions(&views);
        self.decoder.entities(segmentation, &emissions)
    }

    fn language(&self) -> &str {
        &self.language
    }

    fn labels(&self) -> Vec<String> {
        labels_of(&self.decoder.tag_names())
    }
}

fn log_softmax(scores: &[f32]) -> Vec<f32> {
    let peak = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let total = scores.iter().map(|s| (s - peak).exp()).sum::<f32>().ln() + peak;
    scores.iter().map(|s| s - total).collect()
}

#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) mod tests {
    use super::pretrained::Pretrained;
    use super::train::{scheduled_rate, train, TrainingConfig};
    use super::*;
    use crate::models::training::LabelledSentence;
    use crate::models::Model;
    use crate::tagging::TokenSpan;

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

    pub(crate) fn tiny_pretrained() -> Pretrained {
        let tokenizer = tiny_tokenizer();
        let vocab_size = WordPieces::from_json(&tokenizer).unwrap().vocabulary_size();
        let config = BertConfig {
            vocab_size,
            hidden_size: 16,
            num_hidden_layers: 2,
            num_attention_heads: 2,
            intermediate_size: 32,
            max_position_embeddings: 64,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            hidden_dropout_prob: 0.0,
        };
        let device = Device::flex();
        device.seed(7);
        Pretrained {
            encoder: Encoder::new(&config, &device),
            config,
            tokenizer,
            source: "tiny".into(),
        }
    }

    fn sentence(text: &str, spans: &[(usize, usize, &str)]) -> LabelledSentence {
        LabelledSentence {
            tokens: text.split(' ').map(str::to_string).collect(),
            spans: spans
                .iter()
                .map(|&(s, e, l)| TokenSpan::new(s, e, l))
                .collect(),
            unannotated: Vec::new(),
        }
    }

    /// The first row of the word embeddings, to see that fine-tuning reaches the encoder.
    fn first_embedding(encoder: &Encoder) -> Vec<f32> {
        let weight = encoder.embeddings.word_embeddings.weight.val();
        let dim = weight.dims()[1];
        weight.into_data().try_into_vec_as::<f32>().unwrap()[5 * dim..6 * dim].to_vec()
    }

    fn tiny_model(crf: bool, epochs: usize) -> (BertTagger, Vec<f64>) {
        let data = vec![
            sentence(
                "con acido folico y hierro",
                &[(1, 3, "DRUG"), (4, 5, "DRUG")],
            ),
            sentence("Niveles de PCR elevados", &[(2, 3, "PROT")]),
            sentence("hierro y acido folico", &[(0, 1, "DRUG"), (2, 4, "DRUG")]),
            sentence("sin fiebre", &[]),
        ];
        let mut config = TrainingConfig::new("es", vec!["DRUG".into(), "PROT".into()]);
        config.crf = crf;
        config.max_epochs = epochs;
        config.patience = epochs;
        config.batch_size = 2;
        config.learning_rate = 1e-2;
        config.crf_learning_rate = 1e-2;
        config.warmup = 0.0;
        config.max_pieces = 16;
        config.max_pieces_tagging = 16;
        let mut losses = Vec::new();
        let mut epochs_seen = 0.0;
        let pretrained = tiny_pretrained();
        let before = first_embedding(&pretrained.encoder);
        let model = train(
            &data,
            &config,
            pretrained,
            None,
            // Every epoch "improves", so the last one is kept.
            &mut |_| {
                epochs_seen += 1.0;
                epochs_seen
            },
            &mut |progress| {
                if let crate::models::training::Progress::Epoch(report) = progress {
                    losses.push(report.loss)
                }
            },
        )
        .unwrap();
        assert_ne!(
            before,
            first_embedding(&model.network.encoder),
            "the encoder was fine-tuned, not frozen"
        );
        (model, losses)
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

    #[test]
    fn a_model_of_two_languages_tags_each_with_its_own_types() {
        let _random = crate::models::random::exclusive_random();
        let text = "con acido folico y hierro. Niveles de PCR elevados";
        let segmentation = Segmentation::of(text);
        let types = |entities: &[Entity]| {
            let mut types: Vec<String> = entities.iter().map(|e| e.label.clone()).collect();
            types.dedup();
            types.sort();
            types.dedup();
            types
        };
        for crf in [true, false] {
            let (mut model, _) = tiny_model(crf, 30);
            // A model of one language reads any text as before.
            let before = model.tag(text, &segmentation);
            assert_eq!(types(&before), ["DRUG", "PROT"], "crf {crf}");
            model.set_language("en").unwrap();
            assert_eq!(model.tag(text, &segmentation), before);

            model.header.languages = BTreeMap::from([
                ("es".to_string(), vec!["DRUG".to_string()]),
                ("en".to_string(), vec!["PROT".to_string()]),
            ]);
            let bytes = model.to_bytes_full().unwrap();
            let mut both = Model::from_bytes(&bytes).unwrap();
            // Until a language is set, every type.
            assert_eq!(both.tag(text, &segmentation), before, "crf {crf}");
            let words = sentence_words(text, &segmentation);
            let views: Vec<&[&str]> = words.iter().map(Vec::as_slice).collect();
            let whole = both.emissions(&views).unwrap();
            for (language, kept) in [("es", "DRUG"), ("en", "PROT")] {
                both.set_language(language).unwrap();
                assert_eq!(both.language(), language);
                assert_eq!(both.labels(), [kept]);
                let entities = both.tag(text, &segmentation);
                assert_eq!(types(&entities), [kept], "crf {crf}, {language}");
                // A CRF's view scores its tags as the whole model does.
                let decoder = both.decoder().unwrap();
                let k = model.header.tags.len();
                if crf {
                    let names = model.decoder.tag_names();
                    let columns: Vec<usize> = decoder
                        .tag_names()
                        .iter()
                        .map(|t| names.iter().position(|n| n == t).unwrap())
                        .collect();
                    let cut: Vec<Vec<f32>> = whole
                        .iter()
                        .map(|row| {
                            row.chunks(k)
                                .flat_map(|word| columns.iter().map(|&c| word[c]))
                                .collect()
                        })
                        .collect();
                    assert_eq!(both.emissions(&views).unwrap(), cut);
                }
            }
            let error = both.set_language("fr").unwrap_err().to_string();
            assert!(
                error.contains("en and es") && error.contains("'fr'"),
                "{error}"
            );

            // A header naming a type the model does not tag is refused.
            model.header.languages =
                BTreeMap::from([("es".to_string(), vec!["Chemical".to_string()])]);
            let error = Model::from_bytes(&model.to_bytes_full().unwrap())
                .err()
                .unwrap()
                .to_string();
            assert!(error.contains("'Chemical'"), "{error}");
        }
    }

    #[test]
    fn learning_rate_warms_up_then_decays_to_zero() {
        let rates: Vec<f64> = (0..100).map(|s| scheduled_rate(1.0, s, 100, 10)).collect();
        assert!((rates[0] - 0.1).abs() < 1e-9);
        assert!((rates[9] - 1.0).abs() < 1e-9);
        assert!(rates[10..].windows(2).all(|w| w[1] < w[0]));
        assert!(rates[99] < 0.02);
    }

    #[test]
    fn fine_tuning_learns_and_files_round_trip() {
        let _random = crate::models::random::exclusive_random();
        for crf in [true, false] {
            let (model, losses) = tiny_model(crf, 30);
            assert!(
                losses.last().unwrap() < &(losses[0] * 0.5),
                "crf {crf}: {losses:?}"
            );
            let text = "con acido folico y hierro";
            let entities = model.tag(text, &Segmentation::of(text));
            let found: Vec<&str> = entities.iter().map(|e| &text[e.start..e.end]).collect();
            assert_eq!(found, ["acido folico", "hierro"], "crf {crf}");

            let sentences: [&[&str]; 2] = [&["con", "ácido", "fólico"], &["PCR"]];
            let before = model.emissions(&sentences);
            let full =
                BertTagger::from_bytes(&model.to_bytes_full().unwrap(), &Device::flex()).unwrap();
            assert_eq!(before, full.emissions(&sentences));
            let half_bytes = model.to_bytes().unwrap();
            let int8_bytes = model.to_bytes_at(Precision::Int8).unwrap();
            // The header (the tokenizer) is most of a tiny model; the weights shrink by more.
            assert!(int8_bytes.len() < half_bytes.len(), "{}", int8_bytes.len());
            let int4_bytes = model.to_bytes_int4(&sentences).unwrap();
            // The linear maps' levels packed two to a byte (the embeddings keep 6 bits).
            assert!(
                int4_bytes.len() < int8_bytes.len(),
                "{} {}",
                int4_bytes.len(),
                int8_bytes.len()
            );
            for (precision, bytes, tolerance) in [
                ("f16", &half_bytes, 0.1),
                ("int8", &int8_bytes, 0.25),
                ("int4", &int4_bytes, 1.0),
            ] {
                let stored = BertTagger::from_bytes(bytes, &Device::flex()).unwrap();
                let emissions = stored.emissions(&sentences);
                let largest = before
                    .iter()
                    .flatten()
                    .zip(emissions.iter().flatten())
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                assert!(largest < tolerance, "{precision}: {largest}");
                assert!(largest > 0.0, "{precision}: stored exactly");
                let spans = |entities: &[Entity]| -> Vec<(usize, usize, String)> {
                    entities
                        .iter()
                        .map(|e| (e.start, e.end, e.label.clone()))
                        .collect()
                };
                let again = stored.tag(text, &Segmentation::of(text));
                assert_eq!(spans(&again), spans(&entities), "{precision}");
                if precision == "int8" {
                    // The 8-bit file computes its linear maps in integers on the CPU: the same
                    // file dequantized to f32 scores differently, and so does the model moved
                    // to an autodiff device, which computes in f32.
                    let mut dequantized = BertTagger::from_bytes(bytes, &Device::flex()).unwrap();
                    dequantized.set_integer_products(false);
                    let in_f32 = dequantized.emissions(&sentences);
                    assert_ne!(in_f32, emissions);
                    let moved = BertTagger::from_bytes(bytes, &Device::flex())
                        .unwrap()
                        .to_device(&Device::flex().autodiff());
                    let on_autodiff = moved.emissions(&sentences);
                    let close = in_f32
                        .iter()
                        .flatten()
                        .zip(on_autodiff.iter().flatten())
                        .all(|(a, b)| (a - b).abs() < 1e-4);
                    assert!(close, "{in_f32:?} against {on_autodiff:?}");
                    // Back on the CPU, it computes in integers again.
                    let back = moved.to_device(&Device::flex());
                    assert_eq!(back.emissions(&sentences), emissions);
                }
            }
            assert_eq!(
                crate::models::Model::from_bytes(&model.to_bytes().unwrap())
                    .unwrap()
                    .architecture(),
                KIND
            );
        }
    }

    #[test]
    fn sentences_longer_than_a_window_are_tagged_whole() {
        let _random = crate::models::random::exclusive_random();
        let (model, _) = tiny_model(true, 30);
        // 40 words, 4 pieces each at least: several windows of 16 pieces.
        let text = ["con acido folico y hierro"; 8].join(" ");
        let sentences = sentence_words(&text, &Segmentation::of(&text));
        let views: Vec<&[&str]> = sentences.iter().map(Vec::as_slice).collect();
        let emissions = model.emissions(&views);
        let k = model.decoder.tags.len();
        for (words, scores) in views.iter().zip(&emissions) {
            assert_eq!(scores.len(), words.len() * k);
        }
        let entities = model.tag(&text, &Segmentation::of(&text));
        assert_eq!(entities.len(), 16, "every repetition's two drugs");
        assert!(model.tag("", &Segmentation::of("")).is_empty());
    }

    #[test]
    fn batches_group_windows_of_similar_length() {
        let _random = crate::models::random::exclusive_random();
        let (mut model, _) = tiny_model(true, 1);
        // Sentences of 1 to 12 words, then one of 40 (several windows of 16 pieces).
        let mut text: String = (1..=12)
            .map(|n| format!("{} hierro. ", vec!["acido"; n].join(" ")))
            .collect();
        text.push_str(&["con acido folico y hierro"; 8].join(" "));
        let segmentation = Segmentation::of(&text);
        model.set_batch_windows(1);
        let single = model.forward_passes(&text, &segmentation);
        assert!(single.iter().all(|pass| pass.len() == 1));
        model.set_batch_windows(32);
        let batched = model.forward_passes(&text, &segmentation);
        assert!(batched.len() < single.len(), "{} passes", batched.len());
        assert_eq!(batched.iter().map(Vec::len).sum::<usize>(), single.len());
        for pass in &batched {
            let real: usize = pass.iter().map(|w| w.ids.len()).sum();
            let padded = pass.len() * pass.iter().map(|w| w.ids.len()).max().unwrap();
            assert!(padded as f64 <= 1.1 * real as f64, "{padded} for {real}");
        }
        // Padding changes nothing but the order of some sums.
        let spans = |model: &BertTagger| -> Vec<(usize, usize, String)> {
            model
                .tag(&text, &segmentation)
                .into_iter()
                .map(|e| (e.start, e.end, e.label))
                .collect()
        };
        let batched_spans = spans(&model);
        model.set_batch_windows(1);
        assert_eq!(batched_spans, spans(&model));
    }

    #[test]
    fn exports_to_huggingface_layout_and_reads_back() {
        let _random = crate::models::random::exclusive_random();
        let (model, _) = tiny_model(true, 1);
        let dir = std::env::temp_dir().join(format!("clinitag-export-{}", std::process::id()));
        model.export_huggingface(&dir).unwrap();
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        assert_eq!(config["id2label"]["0"], "O");
        assert_eq!(
            config["label2id"].as_object().unwrap().len(),
            model.header.tags.len()
        );
        // The encoder comes back through the importer of pretrained encoders unchanged.
        let read = Pretrained::read(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let batch = PieceBatch::new(&[vec![2, 40, 41, 3]], &[vec![1, 2]], &Device::flex());
        let hidden = |encoder: &Encoder| {
            encoder
                .forward(batch.ids.clone(), batch.attention_bias.clone())
                .into_data()
                .try_into_vec::<f32>()
                .unwrap()
        };
        assert_eq!(hidden(&model.network.encoder), hidden(&read.encoder));
    }

    #[test]
    fn damaged_files_are_refused() {
        let _random = crate::models::random::exclusive_random();
        let (model, _) = tiny_model(false, 1);
        let bytes = model.to_bytes().unwrap();
        let error = |b: &[u8]| {
            BertTagger::from_bytes(b, &Device::flex())
                .err()
                .expect("refused")
                .to_string()
        };
        assert!(error(&bytes[..bytes.len() - 3]).contains("truncated"));
        let mut flipped = bytes.clone();
        flipped[bytes.len() / 2] ^= 4;
        assert!(error(&flipped).contains("damaged"));
    }

    #[test]
    fn loading_draws_no_random_numbers() {
        let _random = crate::models::random::exclusive_random();
        let (model, _) = tiny_model(true, 1);
        let device = Device::flex();
        let draw = || {
            burn::tensor::Tensor::<1>::random([8], burn::tensor::Distribution::Default, &device)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()
        };
        device.seed(11);
        let untouched = draw();
        device.seed(11);
        // Both precisions: the 16-bit file is cast after loading, the full one as it is.
        for bytes in [model.to_bytes().unwrap(), model.to_bytes_full().unwrap()] {
            BertTagger::from_bytes(&bytes, &device).unwrap();
        }
        assert_eq!(
            draw(),
            untouched,
            "loading drew initial weights only to overwrite them"
        );
    }
}
