//! The precisions a model file stores its weights at, and the casts and rounding between them
//! and the f32 the networks compute in.

use burn::module::{ModuleMapper, Param};
use burn::tensor::quantization::{QuantScheme, QuantStore, QuantValue, QuantizedBytes};
use burn::tensor::{DType, Tensor, TensorData};

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

pub(super) fn int8_block(row: usize) -> Option<u8> {
    if row.is_multiple_of(INT8_BLOCK as usize) {
        return Some(INT8_BLOCK);
    }
    (16..=64u8)
        .rev()
        .find(|&size| row.is_multiple_of(size as usize))
}

/// Casts every float parameter to f32, the type the networks compute in (8-bit ones are
/// dequantized first), noting the lowest precision it met.
pub(super) struct ToFull {
    pub(super) stored: Precision,
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
pub(super) fn dequantize_runs<const D: usize>(tensor: Tensor<D>, scheme: QuantScheme) -> Tensor<D> {
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
pub(super) struct ToInt8;

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
pub(super) fn int8_scheme<const D: usize>(size: u8) -> QuantScheme {
    let mut block = [1u8; D];
    block[D - 1] = size;
    QuantScheme::default()
        .with_value(QuantValue::Q8S)
        .with_store(QuantStore::Native)
        .per_block(block, burn::tensor::quantization::ScaleDtype::F16)
}

/// Casts every float parameter to f16 for storage; loading casts back to the module's f32.
pub(super) struct ToHalf;

impl ModuleMapper for ToHalf {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        param.map(|tensor| tensor.cast(DType::F16))
    }
}
