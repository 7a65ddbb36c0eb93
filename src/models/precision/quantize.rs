//! 4-bit weights ([`super::Precision::Int4`]): each block of 32 values of a row takes 15 levels
//! (−7…7) and an f16 scale. Rounding each weight to its nearest level costs the Spanish BERT
//! 3.3 points of dev F1; rounding that knows what the model computes costs far less. Given
//! calibration text, each linear map is rounded one input at a time, and the error made on
//! that input is passed on to the inputs not yet rounded, in proportion to how the inputs
//! vary together over the calibration text (Frantar et al. 2023, GPTQ: the inverse of the
//! inputs' second moments `XᵀX`), so that the map's outputs, rather than its weights, stay
//! close. Matrices without calibration (the embeddings, the head) are rounded to the nearest
//! of 63 levels (6 bits) in a calibrated file, of 15 otherwise.

use super::rounding::{int8_block, int8_scheme};
use crate::error::{Error, Result};
use burn::module::{ModuleMapper, Param};
use burn::tensor::quantization::{QuantScheme, QuantStore, QuantValue, QPARAM_ALIGN};
use burn::tensor::{Bytes, DType, Shape, Tensor, TensorData};
use std::collections::HashMap;

/// The largest level: symmetric 4-bit values, as burn's `Q4S`.
const LEVEL: f32 = 7.0;

/// The largest level of the matrices a calibrated file cannot calibrate (the embeddings, the
/// head): 6 bits. Rounded to 4 bits, the Spanish BERT's embeddings alone cost 0.5 point of
/// dev F1; with the linear maps calibrated at 4 bits, embeddings at 5 bits cost 0.1–0.3 more
/// than at 6 (PharmaCoNER dev, measured 2026-12-04).
const UNCALIBRATED_LEVEL: f32 = 31.0;

/// Second moments `XᵀX` (`inputs × inputs`, row-major) of each linear map's inputs over the
/// calibration text, by the path of the map's weight in the module's record
/// (`encoder.layers.3.intermediate.weight`).
#[derive(Default)]
pub(crate) struct Calibration {
    moments: HashMap<String, (usize, Vec<f64>)>,
}

impl Calibration {
    /// Adds the inputs `x` (`[batch, rows, inputs]`) of the maps whose weights are at
    /// `paths` (query, key and value read the same input), the rows where `real`
    /// (`[batch, rows, 1]`) is 0 left out (padding).
    pub fn add(
        &mut self,
        paths: impl IntoIterator<Item = String>,
        x: &Tensor<3>,
        real: &Tensor<3>,
    ) {
        let [batch, rows, inputs] = x.dims();
        let x = (x.clone() * real.clone()).reshape([batch * rows, inputs]);
        let moments = x.clone().transpose().matmul(x);
        let values = moments
            .into_data()
            .try_into_vec::<f32>()
            .expect("f32 moments");
        for path in paths {
            let (_, sum) = self
                .moments
                .entry(path)
                .or_insert_with(|| (inputs, vec![0.0; inputs * inputs]));
            for (s, v) in sum.iter_mut().zip(&values) {
                *s += f64::from(*v);
            }
        }
    }
}

/// Writes matrices at 4 bits, with [`Calibration`] where there is one, and the rest at f16.
pub(crate) struct ToInt4<'c> {
    path: Vec<String>,
    calibration: Option<&'c Calibration>,
}

impl<'c> ToInt4<'c> {
    pub fn new(calibration: Option<&'c Calibration>) -> Self {
        Self {
            path: Vec::new(),
            calibration,
        }
    }
}

impl ModuleMapper for ToInt4<'_> {
    fn enter_module(&mut self, name: &str, _: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _: &str, _: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let moments = self
            .calibration
            .and_then(|c| c.moments.get(&self.path.join(".")));
        param.map(|tensor| {
            let dims = tensor.dims();
            let Some(block) = int8_block(dims[D - 1]).filter(|_| D >= 2) else {
                return tensor.cast(DType::F16);
            };
            let device = tensor.device();
            let mut values = tensor
                .cast(DType::F32)
                .into_data()
                .try_into_vec::<f32>()
                .expect("f32 weights");
            let outputs = dims[D - 1];
            let (levels, scales) = match moments {
                Some((inputs, moments)) if D == 2 && *inputs == dims[0] => {
                    round_calibrated(&mut values, outputs, moments, block as usize)
                }
                _ => {
                    let top = match self.calibration {
                        Some(_) => UNCALIBRATED_LEVEL,
                        None => LEVEL,
                    };
                    round_to_nearest(&values, block as usize, top)
                }
            };
            let scheme = int8_scheme::<D>(block);
            Tensor::from_data(
                TensorData::quantized(levels, dims, scheme, &scales, None),
                &device,
            )
        })
    }
}

/// A model's weights (a burnpack record) with every 8-bit matrix whose levels all lie in −7…7
/// (what [`ToInt4`] writes) stored two levels to a byte, as burn's packed 4-bit values (`Q4S`
/// in `u32` words) with the same scales. burn's CPU backend cannot compute on packed values,
/// but it unpacks them to one level a byte as the file loads, so a packed file loads into
/// exactly the weights the unpacked one did; only the file is smaller.
///
/// Matrices whose levels lie in −31…31 (a calibrated file's embeddings) are stored four levels
/// to three bytes, a packing burn does not know: as plain bytes, named in the record's
/// metadata ([`SIX_BIT_LEVELS`]) with the type and shape that [`unpack_six_bit_levels`]
/// restores before burn reads the record. Other tensors are kept as they are.
pub(crate) fn pack_levels(record: Bytes) -> Result<Bytes> {
    let failed = |e: burn_pack::Error| Error::Model(format!("cannot write weights: {e}"));
    let mut six_bit = serde_json::Map::new();
    let tensors = burn_pack::Reader::from_bytes(record)
        .and_then(burn_pack::Reader::into_tensors)
        .map_err(failed)?
        .into_iter()
        .map(|tensor| {
            let (name, dtype, shape, id, bytes) = tensor.into_parts()?;
            let DType::QFloat(scheme) = dtype else {
                return Ok(burn_pack::Tensor::new(name, dtype, shape, id, bytes));
            };
            if let Some((scheme, packed)) = packed(scheme, &shape, &bytes) {
                let dtype = DType::QFloat(scheme);
                return Ok(burn_pack::Tensor::new(name, dtype, shape, id, packed));
            }
            let Some(packed) = packed_six_bit(scheme, &shape, &bytes) else {
                return Ok(burn_pack::Tensor::new(name, dtype, shape, id, bytes));
            };
            six_bit.insert(
                name.clone(),
                serde_json::json!({ "dtype": dtype, "shape": shape.as_slice() }),
            );
            let length = Shape::new([packed.len()]);
            let packed = Bytes::from_bytes_vec(packed);
            Ok(burn_pack::Tensor::new(name, DType::U8, length, id, packed))
        })
        .collect::<std::result::Result<Vec<_>, burn_pack::Error>>()
        .map_err(failed)?;
    let mut writer = burn_pack::Writer::new(tensors);
    if !six_bit.is_empty() {
        let names = serde_json::Value::from(six_bit).to_string();
        writer = writer.with_metadata(SIX_BIT_LEVELS, &names);
    }
    writer.into_bytes().map_err(failed)
}

/// The record metadata that names the tensors stored at six bits a level, each with the type
/// and shape it loads as: `{"name": {"dtype": …, "shape": […]}}`.
const SIX_BIT_LEVELS: &str = "clinitag.six_bit_levels";

/// The largest level stored at six bits.
const SIX_BIT_TOP: i8 = UNCALIBRATED_LEVEL as i8;

/// `bytes` (8-bit levels, then padding and f16 block scales) with the levels packed four to
/// three bytes, if the scheme is the one [`ToInt4`] writes and every level lies in −31…31.
fn packed_six_bit(scheme: QuantScheme, shape: &Shape, bytes: &Bytes) -> Option<Vec<u8>> {
    let count = shape.num_elements();
    if !plain_eight_bit(scheme) || !count.is_multiple_of(4) || bytes.len() < count {
        return None;
    }
    let (levels, rest) = bytes.split_at(count);
    let mut packed = Vec::with_capacity(count / 4 * 3 + rest.len());
    for four in levels.chunks_exact(4) {
        let mut value = 0u32;
        for (i, &byte) in four.iter().enumerate() {
            let level = byte as i8;
            if !(-SIX_BIT_TOP..=SIX_BIT_TOP).contains(&level) {
                return None;
            }
            value |= u32::from(level as u8 & 0x3F) << (6 * i);
        }
        packed.extend_from_slice(&value.to_le_bytes()[..3]);
    }
    packed.extend_from_slice(rest);
    Some(packed)
}

/// A record as [`pack_levels`] wrote it, with its six-bit tensors back in the type and bytes
/// burn reads (a level a byte). A record without them is returned as it is.
pub(crate) fn unpack_six_bit_levels(record: Bytes) -> Result<Bytes> {
    #[derive(serde::Deserialize)]
    struct Stored {
        dtype: DType,
        shape: Vec<usize>,
    }
    let failed = |e: String| Error::Model(format!("bad weights: {e}"));
    let reader =
        burn_pack::Reader::from_bytes(record.clone()).map_err(|e| failed(e.to_string()))?;
    let mut six_bit = six_bit_tensors::<Stored>(&reader)?;
    if six_bit.is_empty() {
        return Ok(record);
    }
    let tensors = reader
        .into_tensors()
        .map_err(|e| failed(e.to_string()))?
        .into_iter()
        .map(|tensor| {
            let (name, dtype, shape, id, bytes) =
                tensor.into_parts().map_err(|e| failed(e.to_string()))?;
            let Some(stored) = six_bit.remove(&name) else {
                return Ok(burn_pack::Tensor::new(name, dtype, shape, id, bytes));
            };
            let count = stored
                .shape
                .iter()
                .try_fold(1usize, |n, &d| n.checked_mul(d))
                .filter(|c| c.is_multiple_of(4));
            let Some(count) = count else {
                return Err(failed(format!("{name}: shape {:?}", stored.shape)));
            };
            let packed_length = count / 4 * 3;
            if dtype != DType::U8 || bytes.len() < packed_length {
                return Err(failed(format!(
                    "{name}: {} bytes of {dtype:?} do not hold {count} six-bit levels",
                    bytes.len()
                )));
            }
            let (packed, rest) = bytes.split_at(packed_length);
            let mut unpacked = Vec::with_capacity(count + rest.len());
            for three in packed.chunks_exact(3) {
                let value = u32::from_le_bytes([three[0], three[1], three[2], 0]);
                // Each level's six bits moved to the top of a byte and shifted back down,
                // which carries its sign.
                unpacked
                    .extend((0..4).map(|i| ((((value >> (6 * i)) as u8) << 2) as i8 >> 2) as u8));
            }
            unpacked.extend_from_slice(rest);
            let shape = Shape::from(stored.shape);
            let bytes = Bytes::from_bytes_vec(unpacked);
            Ok(burn_pack::Tensor::new(name, stored.dtype, shape, id, bytes))
        })
        .collect::<Result<Vec<_>>>()?;
    if let Some(name) = six_bit.keys().next() {
        return Err(failed(format!(
            "{SIX_BIT_LEVELS} names {name}, which the record lacks"
        )));
    }
    burn_pack::Writer::new(tensors)
        .into_bytes()
        .map_err(|e| failed(e.to_string()))
}

/// The tensors a record stores at six bits a level ([`SIX_BIT_LEVELS`]), by name.
fn six_bit_tensors<T: serde::de::DeserializeOwned>(
    reader: &burn_pack::Reader,
) -> Result<HashMap<String, T>> {
    let Some(names) = reader.metadata().get(SIX_BIT_LEVELS) else {
        return Ok(HashMap::new());
    };
    serde_json::from_str(names)
        .map_err(|e| Error::Model(format!("bad weights: {SIX_BIT_LEVELS}: {e}")))
}

/// The names of the tensors a record stores at six bits a level.
pub(crate) fn six_bit_names(reader: &burn_pack::Reader) -> Result<Vec<String>> {
    let tensors = six_bit_tensors::<serde::de::IgnoredAny>(reader)?;
    Ok(tensors.into_keys().collect())
}

fn plain_eight_bit(scheme: QuantScheme) -> bool {
    scheme.value == QuantValue::Q8S
        && scheme.store == QuantStore::Native
        && scheme.tensor_scale().is_none()
}

/// `bytes` (8-bit levels, then their f16 block scales) as packed 4-bit levels and the same
/// scales, if the scheme is the one [`ToInt4`] writes, every level fits 4 bits and the rows
/// fill whole `u32` words (burn pads each row to a whole word otherwise).
fn packed(scheme: QuantScheme, shape: &Shape, bytes: &Bytes) -> Option<(QuantScheme, Bytes)> {
    const PER_WORD: usize = 8;
    let plain = plain_eight_bit(scheme);
    let count = shape.num_elements();
    let fills_words = shape
        .as_slice()
        .last()
        .is_some_and(|row| row.is_multiple_of(PER_WORD));
    if !plain || !fills_words || bytes.len() < count {
        return None;
    }
    let (levels, scales) = bytes.split_at(count);
    // Between the levels and the scales, padding to the scales' alignment.
    let scales = scales.get(count.next_multiple_of(QPARAM_ALIGN) - count..)?;
    let level = |byte: &u8| {
        let level = *byte as i8;
        (-(LEVEL as i8)..=LEVEL as i8)
            .contains(&level)
            .then_some(level as u8 & 0xF)
    };
    let mut packed = Vec::with_capacity(count / 2 + scales.len());
    for word in levels.chunks_exact(PER_WORD) {
        let mut value = 0u32;
        for (i, byte) in word.iter().enumerate() {
            value |= u32::from(level(byte)?) << (4 * i);
        }
        packed.extend_from_slice(&value.to_le_bytes());
    }
    // count / 2 is a whole number of words, so the scales need no padding.
    packed.extend_from_slice(scales);
    let scheme = scheme
        .with_value(QuantValue::Q4S)
        .with_store(QuantStore::PackedU32(0));
    Some((scheme, Bytes::from_bytes_vec(packed)))
}

/// `values` in blocks of `block`: each block's levels in −7…7 and its scale (representable in
/// f16, as the file stores it). The scale is the one of 24 candidates, from the block's largest
/// magnitude over 7 down to 0.54 of that, with the least squared error: clipping the rare
/// largest weight of a block buys finer steps for all the others.
pub(crate) fn round_to_nearest(values: &[f32], block: usize, top: f32) -> (Vec<i8>, Vec<f32>) {
    let mut levels = Vec::with_capacity(values.len());
    let mut scales = Vec::with_capacity(values.len().div_ceil(block));
    for run in values.chunks(block) {
        let scale = best_scale(run, top);
        scales.push(scale);
        levels.extend(run.iter().map(|&v| level(v, scale, top) as i8));
    }
    (levels, scales)
}

fn level(v: f32, scale: f32, top: f32) -> f32 {
    if scale > 0.0 {
        (v / scale).round().clamp(-top, top)
    } else {
        0.0
    }
}

fn best_scale(run: &[f32], top: f32) -> f32 {
    let largest = run.iter().fold(0f32, |m, v| m.max(v.abs()));
    let mut best = (f32::INFINITY, 0f32);
    for step in 0..24 {
        let scale =
            burn::tensor::f16::from_f32(largest / top * (1.0 - 0.02 * step as f32)).to_f32();
        if !(scale > 0.0 && scale.is_finite()) {
            continue;
        }
        let error: f32 = run
            .iter()
            .map(|&v| (v - level(v, scale, top) * scale).powi(2))
            .sum();
        if error < best.0 {
            best = (error, scale);
        }
    }
    best.1
}

/// GPTQ over a weight `[inputs, outputs]` (row `i` holds input `i`'s weights, in blocks of
/// `block` outputs): rows are rounded one at a time, each row's error spread over the rows
/// not yet rounded through the Cholesky factor of the inverse second moments. Rows go in order
/// of their input's second moment, largest first (GPTQ's "act order"): the inputs that matter
/// most are rounded while every other row can still absorb their error. Each row has its own
/// scales, so the order changes nothing in the file's layout. `values` is scratch.
fn round_calibrated(
    values: &mut [f32],
    outputs: usize,
    moments: &[f64],
    block: usize,
) -> (Vec<i8>, Vec<f32>) {
    let inputs = values.len() / outputs;
    let mut order: Vec<usize> = (0..inputs).collect();
    order.sort_by(|&a, &b| moments[b * inputs + b].total_cmp(&moments[a * inputs + a]));
    // Rows and moments in that order.
    let mut rows: Vec<f32> = order
        .iter()
        .flat_map(|&i| values[i * outputs..(i + 1) * outputs].iter().copied())
        .collect();
    let mut h: Vec<f64> = order
        .iter()
        .flat_map(|&i| order.iter().map(move |&j| moments[i * inputs + j]))
        .collect();
    // An input that never varied carries nothing: its weights round to zero.
    for i in 0..inputs {
        if h[i * inputs + i] <= 0.0 {
            h[i * inputs + i] = 1.0;
            rows[i * outputs..(i + 1) * outputs].fill(0.0);
        }
    }
    let Some(u) = inverse_cholesky(&h, inputs) else {
        return round_to_nearest(values, block, LEVEL);
    };
    let blocks = outputs / block;
    let mut levels = vec![0i8; values.len()];
    let mut scales = vec![0f32; inputs * blocks];
    let mut error = vec![0f32; outputs];
    for (i, &input) in order.iter().enumerate() {
        let row = &rows[i * outputs..(i + 1) * outputs];
        let (row_levels, row_scales) = round_to_nearest(row, block, LEVEL);
        let diagonal = u[i * inputs + i] as f32;
        for (o, e) in error.iter_mut().enumerate() {
            let rounded = f32::from(row_levels[o]) * row_scales[o / block];
            *e = (row[o] - rounded) / diagonal;
        }
        levels[input * outputs..(input + 1) * outputs].copy_from_slice(&row_levels);
        scales[input * blocks..(input + 1) * blocks].copy_from_slice(&row_scales);
        let later_rows = rows[(i + 1) * outputs..].chunks_exact_mut(outputs);
        for (j, later) in later_rows.enumerate() {
            let factor = u[i * inputs + i + 1 + j] as f32;
            if factor != 0.0 {
                for (w, e) in later.iter_mut().zip(&error) {
                    *w -= e * factor;
                }
            }
        }
    }
    (levels, scales)
}

/// The upper Cholesky factor `U` (`UᵀU = H⁻¹`) of the inverse of `h` (`n × n`, symmetric),
/// after adding 1 % of its mean diagonal to the diagonal (more if that is not enough to make
/// it positive definite); `None` if it never is.
fn inverse_cholesky(h: &[f64], n: usize) -> Option<Vec<f64>> {
    let mean = (0..n).map(|i| h[i * n + i]).sum::<f64>() / n as f64;
    let mut damping = 0.01 * mean;
    for _ in 0..6 {
        let mut damped = h.to_vec();
        for i in 0..n {
            damped[i * n + i] += damping;
        }
        if let Some(lower) = cholesky(&damped, n) {
            let inverse = inverse_from_cholesky(&lower, n);
            // Hinv = L2 L2ᵀ; U = L2ᵀ.
            let l2 = cholesky(&inverse, n)?;
            let mut u = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..=i {
                    u[j * n + i] = l2[i * n + j];
                }
            }
            return Some(u);
        }
        damping *= 10.0;
    }
    None
}

/// The lower Cholesky factor of a symmetric positive-definite `a` (`n × n`), or `None`.
fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|k| l[i * n + k] * l[j * n + k]).sum();
            if i == j {
                let d = a[i * n + i] - dot;
                if d <= 0.0 || !d.is_finite() {
                    return None;
                }
                l[i * n + i] = d.sqrt();
            } else {
                l[i * n + j] = (a[i * n + j] - dot) / l[j * n + j];
            }
        }
    }
    Some(l)
}

/// `A⁻¹ = L⁻ᵀ L⁻¹` from the lower Cholesky factor `L` of `A`.
fn inverse_from_cholesky(l: &[f64], n: usize) -> Vec<f64> {
    // L⁻¹, lower triangular, by forward substitution column by column.
    let mut inv = vec![0.0; n * n];
    for c in 0..n {
        inv[c * n + c] = 1.0 / l[c * n + c];
        for r in c + 1..n {
            let s: f64 = (c..r).map(|k| l[r * n + k] * inv[k * n + c]).sum();
            inv[r * n + c] = -s / l[r * n + r];
        }
    }
    // (L⁻¹)ᵀ L⁻¹.
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let s: f64 = (i..n).map(|k| inv[k * n + i] * inv[k * n + j]).sum();
            out[i * n + j] = s;
            out[j * n + i] = s;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_keep_their_levels_and_least_error() {
        // Mostly small weights and a few large ones, as in trained matrices.
        let mut rng = fastrand::Rng::with_seed(7);
        let mut values: Vec<f32> = (0..64 * 32)
            .map(|_| (0..4).map(|_| rng.f32() - 0.5).sum::<f32>() * 0.1)
            .collect();
        values[5] = 0.9;
        values[70] = -1.3;
        values[96..128].fill(0.0);
        let (levels, scales) = round_to_nearest(&values, 32, LEVEL);
        assert_eq!(levels.len(), values.len());
        assert_eq!(scales.len(), 64);
        assert!(levels.iter().all(|l| (-7..=7).contains(l)));
        assert_eq!(scales[3], 0.0);
        assert!(levels[96..128].iter().all(|&l| l == 0));
        let mut clipped = 0;
        for (block, (run, &scale)) in values.chunks(32).zip(&scales).enumerate() {
            assert_eq!(
                burn::tensor::f16::from_f32(scale).to_f32(),
                scale,
                "f16 scale"
            );
            let largest = run.iter().fold(0f32, |m, v| m.max(v.abs()));
            let error = |scale: f32, levels: &mut dyn Iterator<Item = f32>| -> f32 {
                run.iter()
                    .zip(levels)
                    .map(|(v, l)| (v - l * scale).powi(2))
                    .sum()
            };
            let ours = error(
                scale,
                &mut levels[block * 32..][..32].iter().map(|&l| f32::from(l)),
            );
            // The plain choice, largest magnitude over 7 (as f16), never does better.
            let plain = burn::tensor::f16::from_f32(largest / 7.0).to_f32();
            let plain_levels = &mut run.iter().map(|v| (v / plain).round().clamp(-7.0, 7.0));
            if largest > 0.0 {
                assert!(ours <= error(plain, plain_levels) * 1.0001, "block {block}");
            }
            clipped += usize::from(scale * 7.0 < largest * 0.999);
        }
        // The blocks with one outlier clip it.
        assert!(clipped >= 2, "{clipped}");
    }

    #[test]
    fn cholesky_inverts() {
        let n = 5;
        let mut rng = fastrand::Rng::with_seed(3);
        let b: Vec<f64> = (0..n * n).map(|_| rng.f64() - 0.5).collect();
        // A = BᵀB + I, symmetric positive definite.
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| b[k * n + i] * b[k * n + j]).sum::<f64>()
                    + f64::from(u8::from(i == j));
            }
        }
        let inverse = inverse_from_cholesky(&cholesky(&a, n).unwrap(), n);
        for i in 0..n {
            for j in 0..n {
                let product: f64 = (0..n).map(|k| a[i * n + k] * inverse[k * n + j]).sum();
                assert!((product - f64::from(u8::from(i == j))).abs() < 1e-9);
            }
        }
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none(), "indefinite");
    }

    /// Inputs whose features vary together (a few shared factors), as a layer's hidden states
    /// do, and weights of a trained scale.
    fn correlated(rows: usize, inputs: usize, rng: &mut fastrand::Rng) -> Vec<f32> {
        let factors: Vec<f32> = (0..4 * inputs).map(|_| rng.f32() - 0.5).collect();
        (0..rows)
            .flat_map(|_| {
                let z: Vec<f32> = (0..4).map(|_| rng.f32() * 4.0 - 2.0).collect();
                let noise: Vec<f32> = (0..inputs).map(|_| (rng.f32() - 0.5) * 0.3).collect();
                (0..inputs)
                    .map(|i| (0..4).map(|f| z[f] * factors[f * inputs + i]).sum::<f32>() + noise[i])
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn calibrated_rounding_keeps_the_outputs_closer_than_nearest_rounding() {
        let (rows, inputs, outputs) = (512, 64, 96);
        let mut rng = fastrand::Rng::with_seed(11);
        let x = correlated(rows, inputs, &mut rng);
        let w: Vec<f32> = (0..inputs * outputs)
            .map(|_| (rng.f32() - 0.5) * 0.2)
            .collect();
        let device = burn::tensor::Device::flex();
        let tensor = Tensor::<3>::from_data(TensorData::new(x.clone(), [1, rows, inputs]), &device);
        let mut calibration = Calibration::default();
        let real = Tensor::<3>::ones([1, rows, 1], &device);
        calibration.add(["map".to_string()], &tensor, &real);
        let (_, moments) = &calibration.moments["map"];
        let output_error = |levels: &[i8], scales: &[f32]| -> f64 {
            let rounded: Vec<f32> = levels
                .iter()
                .enumerate()
                .map(|(k, &l)| f32::from(l) * scales[k / 32])
                .collect();
            let mut total = 0.0;
            for r in 0..rows {
                for o in 0..outputs {
                    let diff: f32 = (0..inputs)
                        .map(|i| {
                            x[r * inputs + i] * (w[i * outputs + o] - rounded[i * outputs + o])
                        })
                        .sum();
                    total += f64::from(diff * diff);
                }
            }
            total
        };
        let (near_levels, near_scales) = round_to_nearest(&w, 32, LEVEL);
        let (ours_levels, ours_scales) = round_calibrated(&mut w.clone(), outputs, moments, 32);
        assert!(ours_levels.iter().all(|l| (-7..=7).contains(l)));
        let (near, ours) = (
            output_error(&near_levels, &near_scales),
            output_error(&ours_levels, &ours_scales),
        );
        assert!(ours < near * 0.8, "calibrated {ours}, nearest {near}");
    }
}
