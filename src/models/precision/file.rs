//! The model file: a JSON header and the network's weights at their precision, written and
//! read back, and what can be rewritten in place (the ensemble weight, the packing).

use super::quantize;
use super::rounding::{Precision, ToFull, ToHalf, ToInt8};
use crate::container::{self, Kind};
use crate::error::{Error, Result};
use burn::tensor::quantization::{QuantStore, QuantValue};
use burn::tensor::DType;

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

#[cfg(test)]
mod tests {
    use super::super::rounding::{dequantize_runs, int8_block, int8_scheme};
    use super::*;
    use crate::models::random::exclusive_random;
    use burn::module::Module;
    use burn::tensor::Device;
    use burn::tensor::{Tensor, TensorData};

    /// A shipped file given another ensemble weight: its header says so, its weights are
    /// untouched, and it reads back to no weight of its own at 1.
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn an_ensemble_weight_is_written_into_the_header_alone() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/models/bilstm-crf-es.clinitag");
        let file = std::fs::read(path).unwrap();
        let weighted = with_ensemble_weight(&file, 2.5).unwrap();
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
