//! [`BiLstmCrfTagger`]: the Bi-LSTM-CRF's tagging, loading and storing around its network.

use super::features::Batch;
use super::header::{Header, KIND};
use super::network::BiLstmCrf;
use crate::container::{self, Container, Kind};
use crate::decoding::{CrfScores, SequenceDecoder};
use crate::document::Entity;
use crate::error::{Error, Result};
use crate::models::neural::{self, Batched, NeuralTagger};
use crate::models::precision::load_weights;
use crate::models::tagger::{labels_of, Tagger};
use crate::tagging::{Scheme, Tag, TokenSpan};
use crate::text::Segmentation;
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

/// Sentences per forward pass when tagging.
const BATCH_SENTENCES: usize = 32;

pub struct BiLstmCrfTagger {
    // The header and network are the crate's own for training (crate::training).
    pub(crate) header: Header,
    pub(crate) network: BiLstmCrf,
    /// The tags and the CRF's scores on the host, read once: Viterbi runs on the CPU
    /// whatever the device.
    decoder: SequenceDecoder,
    device: Device,
}

impl BiLstmCrfTagger {
    pub(crate) fn new(header: Header, network: BiLstmCrf, device: &Device) -> Result<Self> {
        let scheme: Scheme = header.scheme.parse().map_err(Error::Model)?;
        let tags = header
            .tags
            .iter()
            .map(|t| Tag::parse(t).map_err(|e| Error::Model(e.to_string())))
            .collect::<Result<Vec<_>>>()?;
        let scores = network.crf.scores();
        Ok(Self {
            header,
            network,
            decoder: SequenceDecoder {
                scheme,
                tags,
                scores,
            },
            device: device.clone(),
        })
    }

    /// The tag set and CRF constraints of `scheme` over `labels`.
    pub(crate) fn tag_set(scheme: Scheme, labels: &[String]) -> (Vec<Tag>, CrfScores) {
        let decoder = SequenceDecoder::constrained(scheme, labels);
        (decoder.tags, decoder.scores)
    }

    /// Loads a model file's bytes onto `device`.
    pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<Self> {
        Self::from_container(container::read(Kind::Model, bytes)?, device)
    }

    /// Loads a model file, its container already read and checked, onto `device`.
    pub(crate) fn from_container(container: Container, device: &Device) -> Result<Self> {
        let mut header: Header = serde_json::from_slice(container.header)
            .map_err(|e| Error::Model(format!("bad model header: {e}")))?;
        if header.kind != KIND {
            return Err(Error::Model(format!(
                "a '{}' model, not a {KIND} model",
                header.kind
            )));
        }
        header.vocabulary.index();
        let scheme: Scheme = header.scheme.parse().map_err(Error::Model)?;
        let labels = labels_of(&header.tags);
        let (tags, constraints) = Self::tag_set(scheme, &labels);
        if tags.len() != header.network.tags
            || header.vocabulary.words.len() != header.network.words
            || header.vocabulary.chars.len() != header.network.chars
        {
            return Err(Error::Model(
                "the header's vocabularies do not match its network sizes".into(),
            ));
        }
        let (network, _) = load_weights(
            BiLstmCrf::new(&header.network, constraints, &Device::flex()),
            container.weights,
            device,
        )?;
        Self::new(header, network, device)
    }

    /// The same model on another device.
    pub fn to_device(self, device: &Device) -> Self {
        Self {
            network: self.network.to_device(device),
            device: device.clone(),
            ..self
        }
    }

    /// The best tag sequence's entities with their confidences (see [`SequenceDecoder`]).
    pub fn decode(&self, emissions: &[f32], len: usize) -> Vec<(TokenSpan, f32)> {
        self.decoder.decode(emissions, len)
    }

    /// Decoded tag indices and their names, for writing CoNLL.
    pub fn tag_names(&self) -> Vec<String> {
        self.decoder.tag_names()
    }
}

/// A call's sentences and the emission rows gathered so far.
pub struct Reading<'s> {
    sentences: &'s [&'s [&'s str]],
    rows: Vec<Vec<f32>>,
}

impl Batched for BiLstmCrfTagger {
    type Reading<'s> = Reading<'s>;

    /// The sentences, grouped by length into batches.
    fn read<'s>(&self, sentences: &'s [&'s [&'s str]]) -> (Reading<'s>, Vec<Vec<usize>>) {
        let mut order: Vec<usize> = (0..sentences.len()).collect();
        order.sort_by_key(|&i| sentences[i].len());
        let batches = order.chunks(BATCH_SENTENCES).map(<[_]>::to_vec).collect();
        let rows = vec![Vec::new(); sentences.len()];
        (Reading { sentences, rows }, batches)
    }

    fn forward(&self, reading: &Reading, batch: &[usize]) -> Tensor<3> {
        let sentences: Vec<&[&str]> = batch.iter().map(|&i| reading.sentences[i]).collect();
        let batch = Batch::new(&sentences, &self.header.vocabulary, &self.device, |w| w);
        self.network.emissions(&batch)
    }

    /// Copies a batch's scores `[batch, time, tags]` into each of its sentences' rows.
    fn gather(&self, reading: &mut Reading, batch: &[usize], scores: TensorData) {
        let time = scores.shape().as_slice()[1];
        let values: Vec<f32> = scores.try_into_vec_as::<f32>().expect("float emissions");
        let k = self.decoder.tags.len();
        for (row, &i) in batch.iter().enumerate() {
            let len = reading.sentences[i].len();
            reading.rows[i] = values[row * time * k..(row * time + len) * k].to_vec();
        }
    }

    fn finish(&self, reading: Reading) -> Vec<Vec<f32>> {
        reading.rows
    }
}

impl NeuralTagger for BiLstmCrfTagger {
    type Header = Header;
    type Network = BiLstmCrf;

    fn header(&self) -> &Header {
        &self.header
    }

    fn network(&self) -> &BiLstmCrf {
        &self.network
    }

    /// The tags and CRF scores that decode this model's emissions.
    fn decoder(&self) -> &SequenceDecoder {
        &self.decoder
    }
}

impl Tagger for BiLstmCrfTagger {
    fn tag(&self, text: &str, segmentation: &Segmentation) -> Vec<Entity> {
        neural::tag(self, text, segmentation)
    }

    fn language(&self) -> &str {
        &self.header.language
    }

    fn labels(&self) -> Vec<String> {
        labels_of(&self.header.tags)
    }
}
