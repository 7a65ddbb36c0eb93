//! Taggers. Each takes a text with its segmentation and returns entities (byte offsets).
//! Models load from bytes, never from paths, so the browser build loads them the same way.

pub mod bert;
pub mod bilstm_crf;
pub mod dictionary;
pub mod embeddings;
pub mod ensemble;
pub(crate) mod int8;
pub mod lstm;
pub(crate) mod quantize;
#[cfg(not(target_arch = "wasm32"))]
pub mod training;

use crate::container::{self, Kind};
use crate::decoding::SequenceDecoder;
use crate::document::Entity;
use crate::error::{Error, Result};
use crate::tagging::Tag;
use crate::text::Segmentation;
use burn::module::{ModuleMapper, Param};
use burn::tensor::quantization::{QuantScheme, QuantStore, QuantValue, QuantizedBytes};
use burn::tensor::{DType, Tensor, TensorData};

pub use bert::BertTagger;
pub use bilstm_crf::BiLstmCrfTagger;
pub use dictionary::DictionaryTagger;
pub use ensemble::Ensemble;

/// Anything that finds entities in segmented text.
pub trait Tagger {
    /// Entities in `text`, which `segmentation` splits into tokens and sentences. Entities
    /// never cross a sentence and always start and end on token boundaries.
    fn tag(&self, text: &str, segmentation: &Segmentation) -> Vec<Entity>;

    /// The language the model was trained for (`es`, `en`).
    fn language(&self) -> &str;

    /// The entity types it finds, in a stable order.
    fn labels(&self) -> Vec<String>;
}

/// A model of any architecture, as loaded from its file, or several read as one.
pub enum Model {
    BiLstmCrf(Box<BiLstmCrfTagger>),
    Bert(Box<BertTagger>),
    Dictionary(DictionaryTagger),
    Ensemble(Box<Ensemble>),
}

impl Model {
    /// Loads any clinitag model from the bytes of its file, recognised by its header, onto the
    /// CPU. Move it with [`Model::to_device`]: loading reads some weights back to the host,
    /// which a browser's GPU only allows asynchronously.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.is_empty() {
            return Err(Error::Model("the model file is empty".into()));
        }
        if bytes.starts_with(Kind::Model.magic()) {
            let device = burn::tensor::Device::flex();
            #[derive(serde::Deserialize)]
            struct Architecture {
                kind: String,
            }
            let header = container::read(Kind::Model, bytes)?.header;
            let architecture: Architecture = serde_json::from_slice(header)
                .map_err(|e| Error::Model(format!("bad model header: {e}")))?;
            return match architecture.kind.as_str() {
                bert::KIND => Ok(Model::Bert(Box::new(BertTagger::from_bytes(
                    bytes, &device,
                )?))),
                bilstm_crf::KIND => Ok(Model::BiLstmCrf(Box::new(BiLstmCrfTagger::from_bytes(
                    bytes, &device,
                )?))),
                other => Err(Error::Model(format!(
                    "a '{other}' model, which this build does not know"
                ))),
            };
        }
        if bytes.first() == Some(&b'{') {
            return Ok(Model::Dictionary(DictionaryTagger::from_bytes(bytes)?));
        }
        Err(Error::Model(
            "unrecognised model format (not a clinitag model file)".into(),
        ))
    }

    /// Several models read as one (see [`Ensemble`]), weighted by `weights`, one for each
    /// model, or else each by its own [`Model::ensemble_weight`]; a single model is returned
    /// as it is.
    pub fn ensemble(models: Vec<Model>, weights: Option<&[f32]>) -> Result<Self> {
        if let Some(weights) = weights.filter(|weights| weights.len() != models.len()) {
            return Err(Error::Model(format!(
                "{} weights for {} models",
                weights.len(),
                models.len()
            )));
        }
        let mut members: Vec<(Model, f32)> = models
            .into_iter()
            .enumerate()
            .map(|(i, model)| {
                let weight = weights.map_or_else(|| model.ensemble_weight(), |w| w[i]);
                (model, weight)
            })
            .collect();
        if members.len() == 1 {
            return Ok(members.remove(0).0);
        }
        Ok(Model::Ensemble(Box::new(Ensemble::new(members)?)))
    }

    /// The weight the model takes in an ensemble when the caller gives none: what its file
    /// says (chosen on dev with the language's other shipped model; see
    /// [`with_ensemble_weight`]), else 1.
    pub fn ensemble_weight(&self) -> f32 {
        match self {
            Model::BiLstmCrf(model) => model.header().ensemble_weight,
            Model::Bert(model) => model.header().ensemble_weight,
            Model::Dictionary(_) | Model::Ensemble(_) => 1.0,
        }
    }

    /// Reads `language`'s text from now on: a model trained on several languages tags that
    /// language's entity types alone (see [`BertTagger::set_language`]); a model of one
    /// language is left as it is. Set it before building an ensemble, whose members must
    /// then agree.
    pub fn set_language(&mut self, language: &str) -> Result<()> {
        match self {
            Model::Bert(model) => model.set_language(language),
            Model::BiLstmCrf(_) | Model::Dictionary(_) | Model::Ensemble(_) => Ok(()),
        }
    }

    /// The same model computing on `device` (models without tensors stay as they are).
    pub fn to_device(self, device: &burn::tensor::Device) -> Self {
        match self {
            Model::BiLstmCrf(model) => Model::BiLstmCrf(Box::new(model.to_device(device))),
            Model::Bert(model) => Model::Bert(Box::new(model.to_device(device))),
            Model::Ensemble(model) => Model::Ensemble(Box::new(model.to_device(device))),
            other => other,
        }
    }

    /// Whether the model computes with tensors, and so can move to a GPU.
    pub fn computes_on_devices(&self) -> bool {
        match self {
            Model::BiLstmCrf(_) | Model::Bert(_) | Model::Ensemble(_) => true,
            Model::Dictionary(_) => false,
        }
    }

    /// The architecture's name, as in `clinitag train --arch`, or `ensemble`.
    pub fn architecture(&self) -> &'static str {
        match self {
            Model::BiLstmCrf(_) => bilstm_crf::KIND,
            Model::Bert(_) => bert::KIND,
            Model::Dictionary(_) => "dictionary",
            Model::Ensemble(_) => "ensemble",
        }
    }

    /// [`Tagger::tag`] that reads results back asynchronously, as the browser's GPU requires.
    pub async fn tag_async(&self, text: &str, segmentation: &Segmentation) -> Result<Vec<Entity>> {
        match self {
            Model::BiLstmCrf(model) => model.tag_async(text, segmentation).await,
            Model::Bert(model) => model.tag_async(text, segmentation).await,
            Model::Dictionary(model) => Ok(model.tag(text, segmentation)),
            Model::Ensemble(model) => model.tag_async(text, segmentation).await,
        }
    }

    /// Emission scores for each sentence (`words × tags`, row-major), for neural models.
    pub fn emissions(&self, sentences: &[&[&str]]) -> Option<Vec<Vec<f32>>> {
        match self {
            Model::BiLstmCrf(model) => Some(model.emissions(sentences)),
            Model::Bert(model) => Some(model.emissions(sentences)),
            Model::Dictionary(_) | Model::Ensemble(_) => None,
        }
    }

    /// [`Self::emissions`] read back asynchronously; an error for a dictionary.
    pub async fn emissions_async(&self, sentences: &[&[&str]]) -> Result<Vec<Vec<f32>>> {
        match self {
            Model::BiLstmCrf(model) => model.emissions_async(sentences).await,
            Model::Bert(model) => model.emissions_async(sentences).await,
            Model::Dictionary(_) | Model::Ensemble(_) => Err(Error::Model(format!(
                "a {} has no emission scores of its own",
                self.architecture()
            ))),
        }
    }

    /// The tags and transition scores that decode a neural model's emissions.
    pub fn decoder(&self) -> Option<&SequenceDecoder> {
        match self {
            Model::BiLstmCrf(model) => Some(model.decoder()),
            Model::Bert(model) => Some(model.decoder()),
            Model::Dictionary(_) | Model::Ensemble(_) => None,
        }
    }

    fn as_tagger(&self) -> &(dyn Tagger + Send + Sync) {
        match self {
            Model::BiLstmCrf(model) => model.as_ref(),
            Model::Bert(model) => model.as_ref(),
            Model::Dictionary(model) => model,
            Model::Ensemble(model) => model.as_ref(),
        }
    }
}

impl Tagger for Model {
    fn tag(&self, text: &str, segmentation: &Segmentation) -> Vec<Entity> {
        self.as_tagger().tag(text, segmentation)
    }

    fn language(&self) -> &str {
        self.as_tagger().language()
    }

    fn labels(&self) -> Vec<String> {
        self.as_tagger().labels()
    }
}

/// Loads any clinitag model from the bytes of its file onto the CPU.
pub fn load(bytes: &[u8]) -> Result<Box<dyn Tagger + Send + Sync>> {
    Ok(Box::new(Model::from_bytes(bytes)?))
}

/// The words of each sentence, as the taggers read them.
pub fn sentence_words<'t>(text: &'t str, segmentation: &Segmentation) -> Vec<Vec<&'t str>> {
    segmentation
        .sentences
        .iter()
        .map(|range| {
            segmentation.tokens[range.clone()]
                .iter()
                .map(|t| &text[t.start..t.end])
                .collect()
        })
        .collect()
}

/// Entity types in order of first appearance in a tag list.
pub(crate) fn labels_of(tags: &[String]) -> Vec<String> {
    let mut labels: Vec<String> = Vec::new();
    for tag in tags {
        if let Ok(Tag {
            label: Some(label), ..
        }) = Tag::parse(tag)
        {
            if !labels.contains(&label) {
                labels.push(label);
            }
        }
    }
    labels
}

/// How a model file stores its float weights. Loading computes in f32, except that an 8-bit
/// BERT computes its linear maps in 8-bit integers on the CPU (see [`int8`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// f32: training checkpoints.
    Full,
    /// f16: the shipped models.
    Half,
    /// Matrices (embedding tables and linear weights) as symmetric 8-bit integers with an f16
    /// scale per block of (usually) [`INT8_BLOCK`] values of a row, through burn's own quantization;
    /// vectors (biases, LayerNorm, CRF transitions) as f16.
    Int8,
    /// As [`Precision::Int8`], but each block's values take only the 15 levels −7…7 (4 bits;
    /// see [`quantize`]), stored packed, two to a byte (burn's `Q4S`). burn's CPU backend
    /// unpacks them to bytes as the file loads, so it loads and computes exactly as an 8-bit
    /// file does. Matrices rounded to more levels (a calibrated file's embeddings) stay in 8-bit
    /// fields.
    Int4,
}

/// Values that share one scale in [`Precision::Int8`]: small enough that one large weight
/// costs little precision to its neighbours, large enough that the scales add at most 1/16 to
/// the size. A row of another length takes the largest block between 16 and 64 that divides
/// it (the Bi-LSTM-CRF's rows of 100 take 50); a row with none stays f16.
pub const INT8_BLOCK: u8 = 32;

fn int8_block(row: usize) -> Option<u8> {
    if row.is_multiple_of(INT8_BLOCK as usize) {
        return Some(INT8_BLOCK);
    }
    (16..=64u8)
        .rev()
        .find(|&size| row.is_multiple_of(size as usize))
}

/// Whether `device` is the CPU at inference (flex, no autodiff): there the networks compute
/// some steps on the host, with kernels burn lacks or runs slowly (the LSTM's time steps,
/// GELU, the 8-bit products), on the values flex holds in memory.
pub(crate) fn computes_on_host(device: &burn::tensor::Device) -> bool {
    !device.is_autodiff() && *device == burn::tensor::Device::flex()
}

/// A model file: the JSON header and the network's weights, stored at `precision`.
pub(crate) fn write_model_file<M: burn::module::Module>(
    header: &impl serde::Serialize,
    network: M,
    precision: Precision,
) -> Result<Vec<u8>> {
    let network = match precision {
        Precision::Full => network,
        Precision::Half => network.map(&mut ToHalf),
        Precision::Int8 => network.map(&mut ToInt8),
        Precision::Int4 => network.map(&mut quantize::ToInt4::new(None)),
    };
    write_stored(header, network)
}

/// A model file of `network` as it is (its weights already cast or quantized for storage).
pub(crate) fn write_stored<M: burn::module::Module>(
    header: &impl serde::Serialize,
    network: M,
) -> Result<Vec<u8>> {
    let header = serde_json::to_vec(header).expect("a header always serialises");
    let weights = network
        .into_record()
        .into_bytes()
        .map_err(|e| Error::Model(format!("cannot write weights: {e}")))?;
    let weights = quantize::pack_levels(weights)?;
    Ok(container::write(Kind::Model, &header, &weights))
}

/// A model file with its weights stored as this build stores them (4-bit levels two to a
/// byte, 6-bit levels four to three bytes): the same header and the same values, without
/// rounding anything again, so the model tags exactly as before.
pub fn repack(file: &[u8]) -> Result<Vec<u8>> {
    let stored = container::read(Kind::Model, file)?;
    let weights = burn::tensor::Bytes::from_bytes_vec(stored.weights.to_vec());
    let weights = quantize::pack_levels(quantize::unpack_six_bit_levels(weights)?)?;
    Ok(container::write(Kind::Model, stored.header, &weights))
}

/// The model file with `weight` as its weight in an ensemble when the caller gives none
/// ([`Model::ensemble_weight`]): the header rewritten, the weights as they were.
pub fn with_ensemble_weight(file: &[u8], weight: f32) -> Result<Vec<u8>> {
    if !(weight.is_finite() && weight > 0.0) {
        return Err(Error::Model(format!(
            "an ensemble weight must be positive, not {weight}"
        )));
    }
    let stored = container::read(Kind::Model, file)?;
    let bad = |e: String| Error::Model(format!("bad model header: {e}"));
    let mut header: serde_json::Value =
        serde_json::from_slice(stored.header).map_err(|e| bad(e.to_string()))?;
    let fields = header
        .as_object_mut()
        .ok_or_else(|| bad("not a JSON object".into()))?;
    // Absent means 1, so that files written before the field existed read as they did.
    if is_unit_weight(&weight) {
        fields.remove("ensemble_weight");
    } else {
        fields.insert("ensemble_weight".into(), weight.into());
    }
    let header = serde_json::to_vec(&header).expect("a header always serialises");
    Ok(container::write(Kind::Model, &header, stored.weights))
}

pub(crate) fn unit_weight() -> f32 {
    1.0
}

pub(crate) fn is_unit_weight(weight: &f32) -> bool {
    *weight == 1.0
}

/// Where a model file's bytes go: its header (labels, settings and, for a BERT, the
/// tokenizer) and then each stored tensor by its path in the network, with its type as
/// stored and its bytes. For measuring what a smaller file would have to give up
/// (`examples/store_quantized.rs sizes`).
pub fn stored_sizes(file: &[u8]) -> Result<Vec<(String, String, usize)>> {
    let stored = container::read(Kind::Model, file)?;
    let weights = burn::tensor::Bytes::from_bytes_vec(stored.weights.to_vec());
    let failed = |e: burn_pack::Error| Error::Model(format!("bad weights: {e}"));
    let reader = burn_pack::Reader::from_bytes(weights).map_err(failed)?;
    let six_bit = quantize::six_bit_names(&reader)?;
    let tensors = reader.into_tensors().map_err(failed)?;
    let mut sizes = vec![(
        "header".to_string(),
        "JSON".to_string(),
        stored.header.len(),
    )];
    for tensor in tensors {
        let (name, dtype, _, _, bytes) = tensor.into_parts().map_err(failed)?;
        let dtype = match dtype {
            _ if six_bit.contains(&name) => "6-bit levels".to_string(),
            DType::QFloat(scheme) => format!("{:?}", scheme.value),
            dtype => format!("{dtype:?}"),
        };
        sizes.push((name, dtype, bytes.len()));
    }
    Ok(sizes)
}

/// `network`, built on the CPU (`Device::flex()`), with the weights of a model file's body,
/// moved to `device`; and the precision the file stores them at (the lowest of its weights).
///
/// The weights load in the file's own precision and are cast to 32-bit floats on the CPU
/// before the move. burn's cast-on-load would first materialize every lazily
/// initialized parameter just to read its type, drawing all the random initial values (and
/// launching a kernel for each on a GPU) only to overwrite them: loading the BERT model took
/// 3× longer. Casting on the host also keeps 16-bit tensors off GPUs that lack them.
pub(crate) fn load_weights<M: burn::module::Module>(
    network: M,
    weights: &[u8],
    device: &burn::tensor::Device,
) -> Result<(M, Precision)> {
    // Shared, so that checking takes views of the bytes rather than a copy.
    let weights = burn::tensor::Bytes::from_bytes_vec(weights.to_vec()).shared();
    let weights = quantize::unpack_six_bit_levels(weights)?.shared();
    check_record(weights.clone()).map_err(|e| Error::Model(format!("bad weights: {e}")))?;
    let record = burn::store::ModuleRecord::from_bytes(weights)
        .map_err(|e| Error::Model(format!("bad weights: {e}")))?;
    let network = network
        .try_load_record(record)
        .map_err(|e| Error::Model(format!("weights do not fit the network: {e}")))?;
    let mut to_full = ToFull {
        stored: Precision::Full,
    };
    let network = network.map(&mut to_full).to_device(device);
    // Moving onto an autodiff device (resuming training) does not turn gradients on.
    let network = if device.is_autodiff() {
        network.train()
    } else {
        network
    };
    Ok((network, to_full.stored))
}

/// Refuses a record whose tensors' bytes do not fit their type and shape, or that are quantized
/// in a way this crate never writes. burn would panic on either (which in the browser kills
/// the module); the container's checksum catches a damaged download, not a file written wrong.
fn check_record(record: burn::tensor::Bytes) -> std::result::Result<(), String> {
    let tensors = burn_pack::Reader::from_bytes(record)
        .and_then(burn_pack::Reader::into_tensors)
        .map_err(|e| e.to_string())?;
    for tensor in tensors {
        let (name, dtype, shape) = (&tensor.name, tensor.dtype, &tensor.shape);
        let expected = match dtype {
            DType::QFloat(scheme) => {
                let written = matches!(
                    (scheme.value, scheme.store),
                    (QuantValue::Q8S, QuantStore::Native)
                        | (QuantValue::Q4S, QuantStore::PackedU32(0))
                );
                if !written {
                    return Err(format!("{name} is quantized as {scheme:?}"));
                }
                Some(burn::tensor::quantization::quantized_data_len(
                    &scheme, shape,
                ))
            }
            _ => shape
                .as_slice()
                .iter()
                .try_fold(dtype.size(), |n, &d| n.checked_mul(d)),
        };
        if expected != Some(tensor.byte_len()) {
            return Err(format!(
                "{name} holds {} bytes, not what a {dtype:?} tensor of shape {:?} takes",
                tensor.byte_len(),
                shape.as_slice()
            ));
        }
    }
    Ok(())
}

/// Casts every float parameter to f32, the type the networks compute in (8-bit ones are
/// dequantized first), noting the lowest precision it met.
struct ToFull {
    stored: Precision,
}

impl ModuleMapper for ToFull {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|tensor| match tensor.dtype() {
            DType::QFloat(scheme) => {
                self.stored = Precision::Int8;
                dequantize_runs(tensor, scheme)
            }
            dtype => {
                if dtype == DType::F16 && self.stored == Precision::Full {
                    self.stored = Precision::Half;
                }
                tensor.cast(DType::F32)
            }
        })
    }
}

/// An 8-bit (or unpacked 4-bit) tensor in f32. The blocks [`ToInt8`] writes are runs along
/// the last dimension, so each run of values shares the next scale; burn's CPU dequantization
/// finds every value's block by a general N-dimensional division instead, over half of loading
/// the 8-bit BERT in the browser. Other schemes take burn's way.
fn dequantize_runs<const D: usize>(tensor: Tensor<D>, scheme: QuantScheme) -> Tensor<D> {
    let dims = tensor.dims();
    let run = scheme.block_size().and_then(|block| {
        let block = block.to_dim_vec(D);
        let (&size, outer) = block.split_last()?;
        let fits = outer.iter().all(|&b| b == 1) && dims[D - 1].is_multiple_of(size as usize);
        // A packed 4-bit file's levels arrive unpacked, one a byte (flex unpacks on load).
        let plain = matches!(scheme.value, QuantValue::Q8S | QuantValue::Q4S)
            && scheme.store == QuantStore::Native
            && scheme.tensor_scale().is_none();
        (fits && plain && tensor.device() == burn::tensor::Device::flex()).then_some(size as usize)
    });
    let Some(run) = run else {
        return tensor.dequantize().cast(DType::F32);
    };
    let device = tensor.device();
    let data = tensor.into_data();
    let shape = data.shape().clone();
    let quantized = QuantizedBytes {
        bytes: data.into_bytes(),
        scheme,
        shape,
    };
    let (levels, scales) = quantized.into_vec_i8();
    // Filled run by run into its final size: collecting a flat map would grow the vector by
    // doubling, copying it each time.
    let mut values = Vec::with_capacity(levels.len());
    for (run, &scale) in levels.chunks_exact(run).zip(&scales.block) {
        values.extend(run.iter().map(|&q| f32::from(q) * scale));
    }
    Tensor::from_data(TensorData::new(values, dims), &device)
}

/// Quantizes matrices to 8 bits and casts the rest to f16 (see [`Precision::Int8`]).
struct ToInt8;

impl ModuleMapper for ToInt8 {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|tensor| {
            let row = tensor.dims()[D - 1];
            let Some(size) = int8_block(row).filter(|_| D >= 2) else {
                return tensor.cast(DType::F16);
            };
            tensor
                .cast(DType::F32)
                .quantize_dynamic(&int8_scheme::<D>(size))
        })
    }
}

/// Symmetric 8-bit values with an f16 scale per run of `size` along the last dimension.
fn int8_scheme<const D: usize>(size: u8) -> QuantScheme {
    let mut block = [1u8; D];
    block[D - 1] = size;
    QuantScheme::default()
        .with_value(QuantValue::Q8S)
        .with_store(QuantStore::Native)
        .per_block(block, burn::tensor::quantization::ScaleDtype::F16)
}

/// Casts every float parameter to f16 for storage; loading casts back to the module's f32.
pub(crate) struct ToHalf;

impl ModuleMapper for ToHalf {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|tensor| tensor.cast(DType::F16))
    }
}

/// burn's CPU backend draws every random number (initial weights, dropout masks, random
/// tensors) from one generator for the whole process, while the test harness runs tests on
/// parallel threads. A test that seeds and trains, or that draws at all, holds this for its
/// whole run: otherwise another test's draws land between its own, and a tiny model trained
/// for a few epochs comes out differently from run to run.
#[cfg(test)]
pub(crate) fn exclusive_random() -> std::sync::MutexGuard<'static, ()> {
    static RANDOM: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A failed test poisons the lock; the generator it guards is reseeded by the next holder.
    RANDOM
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::tensor::Device;

    /// A shipped file given another ensemble weight: its header says so, its weights are
    /// untouched, and it reads back to no weight of its own at 1.
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn an_ensemble_weight_is_written_into_the_header_alone() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/models/bilstm-crf-es.clinitag");
        let file = std::fs::read(path).unwrap();
        assert_eq!(Model::from_bytes(&file).unwrap().ensemble_weight(), 1.0);
        let weighted = with_ensemble_weight(&file, 2.5).unwrap();
        assert_eq!(Model::from_bytes(&weighted).unwrap().ensemble_weight(), 2.5);
        let stored = |file: &[u8]| {
            let stored = container::read(Kind::Model, file).unwrap();
            let header: serde_json::Value = serde_json::from_slice(stored.header).unwrap();
            (header, stored.weights.to_vec())
        };
        let ((before, weights), (after, weights_after)) = (stored(&file), stored(&weighted));
        assert_eq!(weights, weights_after);
        assert_eq!(after["ensemble_weight"], 2.5);
        assert_eq!(after["training"], before["training"]);
        let unweighted = with_ensemble_weight(&weighted, 1.0).unwrap();
        assert_eq!(stored(&unweighted), (before, weights));
        for weight in [0.0, -1.0, f32::NAN, f32::INFINITY] {
            let error = with_ensemble_weight(&file, weight).unwrap_err();
            assert!(error.to_string().contains("positive"), "{error}");
        }
        let mut damaged = file.clone();
        damaged[file.len() / 2] ^= 1;
        assert!(with_ensemble_weight(&damaged, 2.0).is_err());
    }

    #[test]
    fn runs_dequantize_as_burn_does() {
        let device = Device::flex();
        // Rows of 64 (runs of 32) and of 100 (runs of 50, as the Bi-LSTM-CRF's), values
        // spread over several magnitudes so that the runs' scales differ.
        let values = |n: usize| -> Vec<f32> {
            (0..n)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) * (1 + i % 7) as f32 / 13.0)
                .collect()
        };
        for [rows, columns] in [[6, 64], [3, 100]] {
            let size = int8_block(columns).unwrap();
            let tensor = Tensor::<2>::from_data(
                TensorData::new(values(rows * columns), [rows, columns]),
                &device,
            )
            .quantize_dynamic(&int8_scheme::<2>(size));
            let DType::QFloat(scheme) = tensor.dtype() else {
                panic!("quantized")
            };
            let burns = tensor.clone().dequantize().cast(DType::F32);
            let ours = dequantize_runs(tensor, scheme);
            let read = |t: Tensor<2>| t.into_data().try_into_vec::<f32>().unwrap();
            assert_eq!(read(ours), read(burns), "{rows}×{columns}");
        }
    }

    #[test]
    fn records_that_do_not_fit_their_types_are_refused_not_panicked_on() {
        let device = Device::flex();
        let _random = exclusive_random();
        let linear = burn::nn::LinearConfig::new(64, 64).init(&device);
        let file = write_model_file(&serde_json::json!({}), linear, Precision::Int4).unwrap();
        let body = crate::container::read(crate::container::Kind::Model, &file)
            .unwrap()
            .weights
            .to_vec();
        let fresh = || burn::nn::LinearConfig::new(64, 64).init(&device);
        assert!(load_weights(fresh(), &body, &device).is_ok());
        // Rewritten by a broken writer: the checksum is right, the contents are not.
        let rewrite = |change: &dyn Fn(DType, Vec<u8>) -> (DType, Vec<u8>)| {
            let tensors =
                burn_pack::Reader::from_bytes(burn::tensor::Bytes::from_bytes_vec(body.clone()))
                    .unwrap()
                    .into_tensors()
                    .unwrap()
                    .into_iter()
                    .map(|t| {
                        let (name, dtype, shape, id, bytes) = t.into_parts().unwrap();
                        let (dtype, bytes) = change(dtype, bytes.to_vec());
                        let bytes = burn::tensor::Bytes::from_bytes_vec(bytes);
                        burn_pack::Tensor::new(name, dtype, shape, id, bytes)
                    })
                    .collect();
            burn_pack::Writer::new(tensors)
                .into_bytes()
                .unwrap()
                .to_vec()
        };
        // burnpack's writer checks other tensors' lengths, not quantized ones'.
        let short_levels = rewrite(&|dtype, mut bytes| {
            if matches!(dtype, DType::QFloat(_)) {
                bytes.truncate(bytes.len() - 8);
            }
            (dtype, bytes)
        });
        let packed_across_rows = rewrite(&|dtype, bytes| match dtype {
            DType::QFloat(scheme) => (
                DType::QFloat(scheme.with_store(QuantStore::PackedU32(1))),
                bytes,
            ),
            _ => (dtype, bytes),
        });
        for (what, weights) in [("short", short_levels), ("scheme", packed_across_rows)] {
            let Err(Error::Model(message)) = load_weights(fresh(), &weights, &device) else {
                panic!("{what}: loaded");
            };
            assert!(message.starts_with("bad weights: "), "{what}: {message}");
        }
    }

    #[test]
    fn four_bit_files_pack_two_levels_a_byte_and_load_the_weights_they_rounded_to() {
        let device = Device::flex();
        let _random = exclusive_random();
        let linear = burn::nn::LinearConfig::new(384, 384).init(&device);
        let header = serde_json::json!({});
        let int8 = write_model_file(&header, linear.clone(), Precision::Int8).unwrap();
        let int4 = write_model_file(&header, linear.clone(), Precision::Int4).unwrap();
        // 4 bits and an f16 scale per 32 values against 8 bits and the same scales: 4.5 / 8.5.
        let ratio = int4.len() as f64 / int8.len() as f64;
        assert!((0.5..0.56).contains(&ratio), "{ratio}");
        let body = |bytes: &[u8]| {
            crate::container::read(crate::container::Kind::Model, bytes)
                .unwrap()
                .weights
                .to_vec()
        };
        let fresh = || burn::nn::LinearConfig::new(384, 384).init(&device);
        let (loaded, stored) = load_weights(fresh(), &body(&int4), &device).unwrap();
        assert_eq!(stored, Precision::Int8);
        // Exactly the weights the rounding chose, as the unpacked levels give them.
        let rounded = linear
            .clone()
            .map(&mut quantize::ToInt4::new(None))
            .map(&mut ToFull {
                stored: Precision::Full,
            });
        let read = |t: Tensor<2>| t.into_data().try_into_vec::<f32>().unwrap();
        let after = read(loaded.weight.val());
        assert_eq!(after, read(rounded.weight.val()));
        // Each block's squared error is at most that of the plain scale (largest magnitude
        // over 7), whose every value is within half a step.
        let before = read(linear.weight.val());
        let largest = before.iter().fold(0f32, |m, v| m.max(v.abs()));
        let squares: f32 = before
            .iter()
            .zip(&after)
            .map(|(a, b)| (a - b).powi(2))
            .sum();
        let rms = (squares / before.len() as f32).sqrt();
        assert!(
            rms > 0.0 && rms <= largest / 14.0 * 1.01,
            "{rms} of {largest}"
        );
        // A matrix with levels past 4 bits (an 8-bit file's) stays as it was.
        let (eight, _) = load_weights(fresh(), &body(&int8), &device).unwrap();
        let eight = read(eight.weight.val());
        let eight_rms = (before
            .iter()
            .zip(&eight)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f32>()
            / before.len() as f32)
            .sqrt();
        assert!(eight_rms < rms / 8.0, "{eight_rms} {rms}");
    }

    #[test]
    fn six_bit_levels_pack_four_to_three_bytes_and_load_as_they_were() {
        let device = Device::flex();
        let _random = exclusive_random();
        let embedding = || burn::nn::EmbeddingConfig::new(200, 384).init(&device);
        let table = embedding();
        // A calibrated file's uncalibrated matrices (embeddings): 63 levels and f16 scales.
        let calibration = quantize::Calibration::default();
        let rounded = table
            .clone()
            .map(&mut quantize::ToInt4::new(Some(&calibration)));
        let header = serde_json::json!({});
        let six = write_stored(&header, rounded.clone()).unwrap();
        let eight = write_model_file(&header, table, Precision::Int8).unwrap();
        // 6 bits and an f16 scale per 32 values against 8 bits and the same scales: 6.5 / 8.5.
        let ratio = six.len() as f64 / eight.len() as f64;
        assert!((0.75..0.78).contains(&ratio), "{ratio}");
        let body = crate::container::read(crate::container::Kind::Model, &six)
            .unwrap()
            .weights
            .to_vec();
        let (loaded, stored) = load_weights(embedding(), &body, &device).unwrap();
        assert_eq!(stored, Precision::Int8);
        let read = |t: Tensor<2>| t.into_data().try_into_vec::<f32>().unwrap();
        let expected = read(
            rounded
                .map(&mut ToFull {
                    stored: Precision::Full,
                })
                .weight
                .val(),
        );
        assert_eq!(read(loaded.weight.val()), expected);
        // Levels past 4 bits on both sides, so that signs and all six bits were carried.
        let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs())) / 31.0;
        assert!(expected.iter().any(|&v| v > 20.0 * scale * 0.9));
        assert!(expected.iter().any(|&v| v < -20.0 * scale * 0.9));
        // A file written before six-bit packing (a level a byte) is repacked into this one.
        let unpacked =
            quantize::unpack_six_bit_levels(burn::tensor::Bytes::from_bytes_vec(body.clone()))
                .unwrap();
        let header = container::read(Kind::Model, &six).unwrap().header.to_vec();
        let before_packing = container::write(Kind::Model, &header, &unpacked);
        assert!(before_packing.len() > six.len() + 200 * 384 / 5);
        assert_eq!(repack(&before_packing).unwrap(), six);
        assert_eq!(repack(&six).unwrap(), six);
        // Where the bytes go: the table as six-bit levels, 3 bytes for 4 values and the scales.
        let sizes = stored_sizes(&six).unwrap();
        let weight = sizes.iter().find(|s| s.0 == "weight").unwrap();
        assert_eq!(weight.1, "6-bit levels");
        assert_eq!(weight.2, 200 * 384 / 4 * 3 + 200 * 384 / 32 * 2);
        assert!(sizes.iter().map(|s| s.2).sum::<usize>() < six.len());
        let before = stored_sizes(&before_packing).unwrap();
        assert_eq!(before.iter().find(|s| s.0 == "weight").unwrap().1, "Q8S");

        // A record whose six-bit tensor lost bytes, or whose metadata names a tensor it
        // lacks: refused with the reason, never a panic.
        let record =
            burn_pack::Reader::from_bytes(burn::tensor::Bytes::from_bytes_vec(body)).unwrap();
        let metadata = record.metadata().clone();
        let tensors: Vec<_> = record
            .into_tensors()
            .unwrap()
            .into_iter()
            .map(|t| t.into_parts().unwrap())
            .collect();
        let rewrite = |cut: usize, extra: Option<&str>| {
            let tensors = tensors
                .iter()
                .map(|(name, dtype, shape, id, bytes)| {
                    let mut bytes = bytes.to_vec();
                    let mut shape = shape.clone();
                    if *dtype == DType::U8 {
                        bytes.truncate(bytes.len() - cut);
                        shape = burn::tensor::Shape::new([bytes.len()]);
                    }
                    let bytes = burn::tensor::Bytes::from_bytes_vec(bytes);
                    burn_pack::Tensor::new(name.clone(), *dtype, shape, *id, bytes)
                })
                .collect();
            let mut writer = burn_pack::Writer::new(tensors);
            for (key, value) in &metadata {
                let value = match extra {
                    Some(name) => value.replacen(
                        '{',
                        &format!("{{\"{name}\":{{\"dtype\":\"U8\",\"shape\":[4]}},"),
                        1,
                    ),
                    None => value.clone(),
                };
                writer = writer.with_metadata(key, &value);
            }
            writer.into_bytes().unwrap().to_vec()
        };
        assert!(load_weights(embedding(), &rewrite(0, None), &device).is_ok());
        for (what, weights) in [
            ("short", rewrite(20_000, None)),
            ("missing", rewrite(0, Some("encoder.gone"))),
        ] {
            let Err(Error::Model(message)) = load_weights(embedding(), &weights, &device) else {
                panic!("{what}: loaded");
            };
            assert!(message.starts_with("bad weights: "), "{what}: {message}");
            eprintln!("{what}: {message}");
        }
    }
}
