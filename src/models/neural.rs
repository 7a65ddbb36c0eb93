//! What the neural taggers share around their networks: the model file at each precision,
//! emission scores computed in batches and read back from the device (at once, or
//! asynchronously as a browser's GPU must be read), and decoding them into entities.

use super::precision::{write_model_file, Precision};
use super::tagger::sentence_words;
use crate::decoding::SequenceDecoder;
use crate::document::Entity;
use crate::error::{Error, Result};
use crate::text::Segmentation;
use burn::tensor::{Tensor, TensorData};

/// How a neural tagger lays out sentences for its network and gathers the scores that come
/// back. Public in name only: this module is private, so no other crate implements it (and
/// so [`NeuralTagger`]).
pub trait Batched {
    /// A call's sentences as the network reads them, and the scores gathered so far.
    type Reading<'s>;

    /// Lays out `sentences`, with the batches (indices of the reading's rows) that each
    /// forward pass computes.
    fn read<'s>(&self, sentences: &'s [&'s [&'s str]]) -> (Self::Reading<'s>, Vec<Vec<usize>>);

    /// A batch's scores, `[rows, positions, tags]`, still on the device.
    fn forward(&self, reading: &Self::Reading<'_>, batch: &[usize]) -> Tensor<3>;

    /// Takes in a batch's scores, read back to the host.
    fn gather(&self, reading: &mut Self::Reading<'_>, batch: &[usize], scores: TensorData);

    /// Each sentence's emission scores (`words × tags`, row-major).
    fn finish(&self, reading: Self::Reading<'_>) -> Vec<Vec<f32>>;
}

/// A tagger whose network scores each word's tags on a device, and whose tags a
/// [`SequenceDecoder`] decodes on the host: the Bi-LSTM-CRF and the BERT.
// The futures of the async methods need not be `Send`: they run on the browser's one thread.
#[allow(async_fn_in_trait)]
pub trait NeuralTagger: Batched {
    /// The JSON header of its model file.
    type Header: serde::Serialize;
    /// Its burn network.
    type Network: burn::module::Module;

    fn header(&self) -> &Self::Header;

    fn network(&self) -> &Self::Network;

    /// The tags and transition scores that decode its emissions.
    fn decoder(&self) -> &SequenceDecoder;

    /// The model file: header and weights, stored as 16-bit floats.
    fn to_bytes(&self) -> Result<Vec<u8>> {
        self.to_bytes_at(Precision::Half)
    }

    /// The model file with full-precision weights (training checkpoints).
    fn to_bytes_full(&self) -> Result<Vec<u8>> {
        self.to_bytes_at(Precision::Full)
    }

    /// The model file with its weights stored at `precision`.
    fn to_bytes_at(&self, precision: Precision) -> Result<Vec<u8>> {
        write_model_file(self.header(), self.network().clone(), precision)
    }

    /// Emission scores for each sentence (`words × tags`, row-major).
    fn emissions(&self, sentences: &[&[&str]]) -> Vec<Vec<f32>> {
        let (mut reading, batches) = self.read(sentences);
        for batch in batches {
            let scores = self.forward(&reading, &batch).into_data();
            self.gather(&mut reading, &batch, scores);
        }
        self.finish(reading)
    }

    /// [`Self::emissions`] for devices that can only be read asynchronously (WebGPU in the
    /// browser, where a blocking read would stall the page's event loop forever).
    async fn emissions_async(&self, sentences: &[&[&str]]) -> Result<Vec<Vec<f32>>> {
        let (mut reading, batches) = self.read(sentences);
        for batch in batches {
            let scores = self
                .forward(&reading, &batch)
                .into_data_async()
                .await
                .map_err(|e| Error::Model(format!("cannot read scores from the device: {e:?}")))?;
            self.gather(&mut reading, &batch, scores);
        }
        Ok(self.finish(reading))
    }

    /// [`Tagger::tag`](super::tagger::Tagger::tag) for devices read asynchronously.
    async fn tag_async(&self, text: &str, segmentation: &Segmentation) -> Result<Vec<Entity>> {
        let sentences = sentence_words(text, segmentation);
        let views: Vec<&[&str]> = sentences.iter().map(Vec::as_slice).collect();
        let emissions = self.emissions_async(&views).await?;
        Ok(self.decoder().entities(segmentation, &emissions))
    }
}

/// [`Tagger::tag`](super::tagger::Tagger::tag) of a neural tagger: its emissions, decoded.
pub(crate) fn tag(
    tagger: &impl NeuralTagger,
    text: &str,
    segmentation: &Segmentation,
) -> Vec<Entity> {
    let sentences = sentence_words(text, segmentation);
    let views: Vec<&[&str]> = sentences.iter().map(Vec::as_slice).collect();
    tagger
        .decoder()
        .entities(segmentation, &tagger.emissions(&views))
}
