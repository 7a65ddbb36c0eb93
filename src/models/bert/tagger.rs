//! [`BertTagger`]: a BERT token classifier's tagging, loading and storing around the
//! network, which reads windows of word pieces ([`super::pieces`]) in batches of like length.

use super::header::{Header, KIND};
use super::network::{BertTokenClassifier, Encoder, PieceBatch};
use super::pieces::{windows, Window, WordPieces};
use crate::container::{self, Container, Kind};
use crate::decoding::SequenceDecoder;
use crate::document::Entity;
use crate::error::{Error, Result};
use crate::models::neural::{self, Batched, NeuralTagger};
use crate::models::precision::quantize::{Calibration, ToInt4};
use crate::models::precision::{load_weights, write_stored, Precision};
use crate::models::tagger::{computes_on_host, labels_of, sentence_words, Tagger};
use crate::tagging::{Scheme, Tag};
use crate::text::Segmentation;
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

/// Pieces per forward pass when tagging (windows of similar lengths are batched up to this,
/// and up to [`BertTagger::set_batch_windows`] windows).
const BATCH_PIECES: usize = 8192;

/// Most padding a batch may carry, as a share of its real pieces. Windows are padded to the
/// batch's longest, and a document's sentences range from a few pieces to hundreds: batching
/// them all at once computed twice the pieces there are (PharmaCoNER dev, 32 windows a batch).
const BATCH_PADDING: f64 = 0.1;

#[derive(Clone)]
pub struct BertTagger {
    // The header and network are the crate's own for training and pruning (crate::training).
    pub(crate) header: Header,
    pub(crate) wordpieces: WordPieces,
    pub(crate) network: BertTokenClassifier,
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
    pub(crate) fn new(
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
        Self::from_container(container::read(Kind::Model, bytes)?, device)
    }

    /// Loads a model file, its container already read and checked, onto `device`.
    pub(crate) fn from_container(container: Container, device: &Device) -> Result<Self> {
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
}

/// A call's windows, and for each word of its sentences the scores of the window where it
/// has the most context so far.
pub struct Reading {
    windows: Vec<Window>,
    best: Vec<Vec<(usize, Vec<f32>)>>,
}

impl Batched for BertTagger {
    type Reading<'s> = Reading;

    /// The sentences' windows, grouped by length into batches.
    fn read<'s>(&self, sentences: &'s [&'s [&'s str]]) -> (Reading, Vec<Vec<usize>>) {
        let windows = self.windows(sentences);
        let batches = self.chunks(&windows);
        let best = sentences
            .iter()
            .map(|s| vec![(0, Vec::new()); s.len()])
            .collect();
        (Reading { windows, best }, batches)
    }

    fn forward(&self, reading: &Reading, batch: &[usize]) -> Tensor<3> {
        let windows = &reading.windows;
        let ids: Vec<Vec<u32>> = batch.iter().map(|&i| windows[i].ids.clone()).collect();
        let firsts: Vec<Vec<usize>> = batch
            .iter()
            .map(|&i| windows[i].first_pieces.clone())
            .collect();
        self.network
            .emissions(&PieceBatch::new(&ids, &firsts, &self.device))
    }

    /// Copies a batch's scores `[windows, words, tags]` to each word of its sentences that
    /// has more context in this window than in any window seen before.
    fn gather(&self, reading: &mut Reading, batch: &[usize], scores: TensorData) {
        let words = scores.shape().as_slice()[1];
        let values: Vec<f32> = scores.try_into_vec_as::<f32>().expect("float emissions");
        let k = self.header.tags.len();
        for (row, &i) in batch.iter().enumerate() {
            let window = &reading.windows[i];
            for (w, word) in window.words.clone().enumerate() {
                let context = window.context[w];
                let slot = &mut reading.best[window.sentence][word];
                if slot.1.is_empty() || context > slot.0 {
                    let at = (row * words + w) * k;
                    *slot = (context, values[at..at + k].to_vec());
                }
            }
        }
    }

    /// Per-sentence emission scores from the best windows, of the decoder's tags; for a
    /// softmax head, log-probabilities, so that Viterbi adds comparable numbers.
    fn finish(&self, reading: Reading) -> Vec<Vec<f32>> {
        reading
            .best
            .into_iter()
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
}

impl NeuralTagger for BertTagger {
    type Header = Header;
    type Network = BertTokenClassifier;

    fn header(&self) -> &Header {
        &self.header
    }

    fn network(&self) -> &BertTokenClassifier {
        &self.network
    }

    /// The tags and CRF scores that decode the language being read.
    fn decoder(&self) -> &SequenceDecoder {
        &self.decoder
    }
}

impl Tagger for BertTagger {
    fn tag(&self, text: &str, segmentation: &Segmentation) -> Vec<Entity> {
        neural::tag(self, text, segmentation)
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
