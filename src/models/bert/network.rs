//! BERT (Devlin et al. 2019) as a pure burn module: token, position and segment embeddings,
//! then layers of multi-head self-attention and a GELU feed-forward block, each followed by a
//! residual connection and LayerNorm (post-norm, as the original and MiniLM). On top, a linear
//! head gives tag scores for the first piece of each word, and an optional CRF.

use crate::decoding::{Crf, CrfScores};
use crate::models::precision::int8::Int8Linear;
use crate::models::tagger::computes_on_host;
use burn::module::Module;
use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear,
    LinearConfig,
};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The encoder's sizes, as HuggingFace's `config.json` names them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
}

fn default_dropout() -> f64 {
    0.1
}

/// Piece ids of a batch of windows, padded on the right.
pub struct PieceBatch {
    /// `[batch, pieces]`.
    pub ids: Tensor<2, Int>,
    /// `[batch, 1, 1, pieces]`: 0 over real pieces, a large negative number over padding,
    /// added to the attention scores so that nothing attends to padding.
    pub attention_bias: Tensor<4>,
    /// Row in the flattened `[batch × pieces]` output of each word's first piece, `[batch ×
    /// words]` (padding words point at row 0, and their scores are ignored).
    pub word_rows: Tensor<1, Int>,
    pub words: usize,
}

impl PieceBatch {
    /// `windows[b]` holds the piece ids of window `b` (special tokens included) and
    /// `first_pieces[b]` the position of each of its words' first piece.
    pub fn new(windows: &[Vec<u32>], first_pieces: &[Vec<usize>], device: &Device) -> Self {
        let batch = windows.len();
        let pieces = windows.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let words = first_pieces.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let mut ids = vec![0i64; batch * pieces];
        let mut bias = vec![-1e4f32; batch * pieces];
        let mut rows = vec![0i64; batch * words];
        for (b, window) in windows.iter().enumerate() {
            for (i, &id) in window.iter().enumerate() {
                ids[b * pieces + i] = id as i64;
                bias[b * pieces + i] = 0.0;
            }
            for (w, &position) in first_pieces[b].iter().enumerate() {
                rows[b * words + w] = (b * pieces + position) as i64;
            }
        }
        Self {
            ids: Tensor::<1, Int>::from_data(TensorData::new(ids, [batch * pieces]), device)
                .reshape([batch, pieces]),
            attention_bias: Tensor::<1>::from_data(TensorData::new(bias, [batch * pieces]), device)
                .reshape([batch, 1, 1, pieces]),
            word_rows: Tensor::<1, Int>::from_data(TensorData::new(rows, [batch * words]), device),
            words,
        }
    }
}

#[derive(Module, Debug)]
pub struct Embeddings {
    pub word_embeddings: Embedding,
    pub position_embeddings: Embedding,
    pub token_type_embeddings: Embedding,
    pub layer_norm: LayerNorm,
    dropout: Dropout,
}

#[derive(Module, Debug)]
pub struct SelfAttention {
    query: Linear,
    key: Linear,
    value: Linear,
    output: Linear,
    heads: usize,
    dropout: Dropout,
}

#[derive(Module, Debug)]
pub struct Layer {
    attention: SelfAttention,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
    dropout: Dropout,
    /// The same linear maps in 8-bit integers, once [`Encoder::compute_in_int8`] has made
    /// them: used where the input is on the CPU without autodiff.
    #[module(skip)]
    int8: Option<Arc<Int8Layer>>,
}

/// A layer's six linear maps quantized to 8 bits (see [`crate::models::precision::int8`]).
#[derive(Debug)]
struct Int8Layer {
    query: Int8Linear,
    key: Int8Linear,
    value: Int8Linear,
    attention_output: Int8Linear,
    intermediate: Int8Linear,
    output: Int8Linear,
}

impl Int8Layer {
    fn of(layer: &Layer) -> Self {
        let quantize = |linear: &Linear| {
            let weight = host_values(linear.weight.val());
            let bias = linear.bias.as_ref().map(|b| host_values(b.val()));
            Int8Linear::new(&weight, bias.as_deref(), linear.weight.dims()[0])
        };
        let attention = &layer.attention;
        Self {
            query: quantize(&attention.query),
            key: quantize(&attention.key),
            value: quantize(&attention.value),
            attention_output: quantize(&attention.output),
            intermediate: quantize(&layer.intermediate),
            output: quantize(&layer.output),
        }
    }
}

/// The encoder: embeddings and layers, with HuggingFace's parameter layout (see
/// `pretrained.rs` for the name mapping).
#[derive(Module, Debug)]
pub struct Encoder {
    pub embeddings: Embeddings,
    pub layers: Vec<Layer>,
}

impl Encoder {
    pub fn new(config: &BertConfig, device: &Device) -> Self {
        let hidden = config.hidden_size;
        let norm = || {
            LayerNormConfig::new(hidden)
                .with_epsilon(config.layer_norm_eps)
                .init(device)
        };
        let dropout = || DropoutConfig::new(config.hidden_dropout_prob).init();
        let linear = |d_in, d_out| LinearConfig::new(d_in, d_out).init(device);
        Self {
            embeddings: Embeddings {
                word_embeddings: EmbeddingConfig::new(config.vocab_size, hidden).init(device),
                position_embeddings: EmbeddingConfig::new(config.max_position_embeddings, hidden)
                    .init(device),
                token_type_embeddings: EmbeddingConfig::new(config.type_vocab_size, hidden)
                    .init(device),
                layer_norm: norm(),
                dropout: dropout(),
            },
            layers: (0..config.num_hidden_layers)
                .map(|_| Layer {
                    attention: SelfAttention {
                        query: linear(hidden, hidden),
                        key: linear(hidden, hidden),
                        value: linear(hidden, hidden),
                        output: linear(hidden, hidden),
                        heads: config.num_attention_heads,
                        dropout: dropout(),
                    },
                    attention_norm: norm(),
                    intermediate: linear(hidden, config.intermediate_size),
                    output: linear(config.intermediate_size, hidden),
                    output_norm: norm(),
                    dropout: dropout(),
                    int8: None,
                })
                .collect(),
        }
    }

    /// From now on, at inference on the CPU, computes every layer's linear maps in 8-bit
    /// integers from its current weights (see [`crate::models::precision::int8`]); for models stored in
    /// 8 bits, whose weights were rounded to 8 bits already. `false` drops them again.
    pub fn compute_in_int8(&mut self, int8: bool) {
        for layer in &mut self.layers {
            layer.int8 = int8.then(|| Arc::new(Int8Layer::of(layer)));
        }
    }

    /// The last layer's hidden states, `[batch, pieces, hidden]`. Every window is one
    /// segment (type 0) and starts at position 0.
    pub fn forward(&self, ids: Tensor<2, Int>, attention_bias: Tensor<4>) -> Tensor<3> {
        let (hidden, last) = self.up_to_last(ids, attention_bias.clone());
        last.forward(hidden.clone(), hidden, attention_bias)
    }

    /// The last layer's hidden states of some pieces only, `[batch, rows, hidden]`: `rows`
    /// holds `[batch × rows]` indexes into the flattened `[batch × pieces]` pieces, `rows` of
    /// them per window. The last layer reads every piece but computes only these: about a
    /// third less of its work when only each word's first piece is scored.
    pub fn forward_rows(
        &self,
        ids: Tensor<2, Int>,
        attention_bias: Tensor<4>,
        rows: Tensor<1, Int>,
    ) -> Tensor<3> {
        let (hidden, last) = self.up_to_last(ids, attention_bias.clone());
        let [batch, pieces, size] = hidden.dims();
        let per_window = rows.dims()[0] / batch;
        let selected = hidden
            .clone()
            .reshape([batch * pieces, size])
            .select(0, rows)
            .reshape([batch, per_window, size]);
        last.forward(selected, hidden, attention_bias)
    }

    /// Runs one batch of windows through every layer in f32, showing `see` the input of each
    /// linear map (`[batch, pieces, inputs]`) with its layer and name: the calibration of
    /// 4-bit rounding (`models::precision::quantize`). Padding pieces are shown too: the caller leaves
    /// their rows out.
    pub fn see_linear_inputs(
        &self,
        ids: Tensor<2, Int>,
        attention_bias: Tensor<4>,
        see: &mut dyn FnMut(usize, &[&'static str], &Tensor<3>),
    ) {
        let mut hidden = self.embed(ids);
        for (i, layer) in self.layers.iter().enumerate() {
            let plain = Layer {
                int8: None,
                ..layer.clone()
            };
            hidden = plain.forward_seen(
                hidden.clone(),
                hidden,
                attention_bias.clone(),
                &mut |names, x| see(i, names, x),
            );
        }
    }

    /// The hidden states entering the last layer (embeddings, then every other layer), and
    /// that last layer.
    fn up_to_last(&self, ids: Tensor<2, Int>, attention_bias: Tensor<4>) -> (Tensor<3>, &Layer) {
        let (last, below) = self.layers.split_last().expect("an encoder has layers");
        let mut hidden = self.embed(ids);
        for layer in below {
            hidden = layer.forward(hidden.clone(), hidden, attention_bias.clone());
        }
        (hidden, last)
    }

    /// The embeddings of `ids` (`[batch, pieces, hidden]`), layer-normed.
    fn embed(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        let [batch, pieces] = ids.dims();
        let device = ids.device();
        let positions = Tensor::<1, Int>::arange(0..pieces as i64, &device)
            .reshape([1, pieces])
            .expand([batch, pieces]);
        let types = Tensor::<2, Int>::zeros([batch, pieces], &device);
        let embeddings = &self.embeddings;
        let hidden = embeddings.word_embeddings.forward(ids)
            + embeddings.position_embeddings.forward(positions)
            + embeddings.token_type_embeddings.forward(types);
        embeddings
            .dropout
            .forward(embeddings.layer_norm.forward(hidden))
    }
}

impl Layer {
    /// The new states of `queries` (`[batch, rows, hidden]`: all of `context`'s pieces, or
    /// some of them) attending over `context` (`[batch, pieces, hidden]`).
    fn forward(
        &self,
        queries: Tensor<3>,
        context: Tensor<3>,
        attention_bias: Tensor<4>,
    ) -> Tensor<3> {
        self.forward_seen(queries, context, attention_bias, &mut |_, _| {})
    }

    /// [`Self::forward`], showing `see` the input of each linear map, by the map's name under
    /// the layer (as in the module's record: `attention.query`, `intermediate`, …).
    fn forward_seen(
        &self,
        queries: Tensor<3>,
        context: Tensor<3>,
        attention_bias: Tensor<4>,
        see: &mut dyn FnMut(&[&'static str], &Tensor<3>),
    ) -> Tensor<3> {
        let int8 = self
            .int8
            .as_deref()
            .filter(|_| computes_on_host(&queries.device()));
        let attended =
            self.attention
                .forward(queries.clone(), context, attention_bias, int8, &mut *see);
        let hidden = self
            .attention_norm
            .forward(self.dropout.forward(attended) + queries);
        see(&["intermediate"], &hidden);
        let output = match int8 {
            // The feed-forward block stays on the host between its two products.
            Some(int8) => host_map(hidden.clone(), int8.output.outputs(), |values| {
                let mut expanded = int8.intermediate.forward(values);
                host_gelu(&mut expanded);
                int8.output.forward(&expanded)
            }),
            None => {
                let expanded = gelu(self.intermediate.forward(hidden.clone()));
                see(&["output"], &expanded);
                self.output.forward(expanded)
            }
        };
        self.output_norm
            .forward(self.dropout.forward(output) + hidden)
    }
}

impl SelfAttention {
    fn forward(
        &self,
        queries: Tensor<3>,
        context: Tensor<3>,
        attention_bias: Tensor<4>,
        int8: Option<&Int8Layer>,
        see: &mut dyn FnMut(&[&'static str], &Tensor<3>),
    ) -> Tensor<3> {
        see(&["attention.query"], &queries);
        see(&["attention.key", "attention.value"], &context);
        let [batch, rows, hidden] = queries.dims();
        let pieces = context.dims()[1];
        let head_dim = hidden / self.heads;
        let split = |t: Tensor<3>, length: usize| {
            t.reshape([batch, length, self.heads, head_dim])
                .swap_dims(1, 2)
        };
        let query = split(project(&self.query, int8.map(|l| &l.query), queries), rows);
        let key = split(
            project(&self.key, int8.map(|l| &l.key), context.clone()),
            pieces,
        );
        let value = split(
            project(&self.value, int8.map(|l| &l.value), context),
            pieces,
        );
        let scores = query.matmul(key.swap_dims(2, 3)) / (head_dim as f64).sqrt() + attention_bias;
        let weights = self.dropout.forward(softmax(scores, 3));
        let context = weights
            .matmul(value)
            .swap_dims(1, 2)
            .reshape([batch, rows, hidden]);
        see(&["attention.output"], &context);
        project(&self.output, int8.map(|l| &l.attention_output), context)
    }
}

/// `linear` applied to `x`, by its 8-bit form where there is one.
fn project(linear: &Linear, int8: Option<&Int8Linear>, x: Tensor<3>) -> Tensor<3> {
    match int8 {
        Some(int8) => host_map(x, int8.outputs(), |values| int8.forward(values)),
        None => linear.forward(x),
    }
}

/// `[batch, rows, n]` → `[batch, rows, outputs]` by `map` over the rows' values on the host.
fn host_map(x: Tensor<3>, outputs: usize, map: impl FnOnce(&[f32]) -> Vec<f32>) -> Tensor<3> {
    let [batch, rows, _] = x.dims();
    let device = x.device();
    let values = host_values(x);
    Tensor::from_data(
        TensorData::new(map(&values), [batch, rows, outputs]),
        &device,
    )
}

/// A tensor's values, row-major, from the CPU device (which computes in f32).
fn host_values<const D: usize>(x: Tensor<D>) -> Vec<f32> {
    x.into_data()
        .try_into_vec::<f32>()
        .expect("the CPU computes in f32")
}

/// GELU with the exact error function, as BERT was trained. burn's own on every device but
/// the CPU at inference: there flex calls a scalar libm `erf` per value, 12 % of BERT's time in
/// the browser (`bench/browser/run.mjs --profile`), so the same function is computed on the host
/// with a polynomial `erf` that the compiler vectorises.
fn gelu(x: Tensor<3>) -> Tensor<3> {
    let device = x.device();
    if !computes_on_host(&device) {
        return burn::tensor::activation::gelu(x);
    }
    let dims = x.dims();
    let Ok(mut values) = x.clone().into_data().try_into_vec::<f32>() else {
        return burn::tensor::activation::gelu(x);
    };
    host_gelu(&mut values);
    Tensor::from_data(TensorData::new(values, dims), &device)
}

fn host_gelu(values: &mut [f32]) {
    for value in values {
        *value *= 0.5 * (1.0 + erf(*value * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// The error function, by Abramowitz & Stegun's 7.1.28 (absolute error at most 3e-7), without
/// branches or `exp` so that it vectorises.
fn erf(x: f32) -> f32 {
    const A: [f32; 6] = [
        0.070_523_08,
        0.042_282_01,
        0.009_270_527,
        0.000_152_014_3,
        0.000_276_567_2,
        0.000_043_063_8,
    ];
    let a = x.abs();
    let p = 1.0 + a * (A[0] + a * (A[1] + a * (A[2] + a * (A[3] + a * (A[4] + a * A[5])))));
    let p2 = p * p;
    let p4 = p2 * p2;
    let p8 = p4 * p4;
    (1.0 - 1.0 / (p8 * p8)).copysign(x)
}

/// The encoder with a token-classification head: tag scores for each word's first piece.
#[derive(Module, Debug)]
pub struct BertTokenClassifier {
    pub encoder: Encoder,
    dropout: Dropout,
    head: Linear,
    pub(crate) crf: Option<Crf>,
}

impl BertTokenClassifier {
    /// A classifier for `tags` around `encoder`; `crf` holds the scheme's constraints when the
    /// model learns transition scores, `None` for a softmax head.
    pub fn new(
        encoder: Encoder,
        config: &BertConfig,
        tags: usize,
        crf: Option<CrfScores>,
        device: &Device,
    ) -> Self {
        Self {
            encoder,
            dropout: DropoutConfig::new(config.hidden_dropout_prob).init(),
            head: LinearConfig::new(config.hidden_size, tags).init(device),
            crf: crf.map(|constraints| Crf::new(constraints, device)),
        }
    }

    /// Tag scores `[batch, words, tags]` of each window's words.
    pub fn emissions(&self, batch: &PieceBatch) -> Tensor<3> {
        let hidden = self.encoder.forward_rows(
            batch.ids.clone(),
            batch.attention_bias.clone(),
            batch.word_rows.clone(),
        );
        let [windows, words, size] = hidden.dims();
        let words = hidden.reshape([windows * words, size]);
        let scores = self.head.forward(self.dropout.forward(words));
        let tags = scores.dims()[1];
        scores.reshape([windows, batch.words, tags])
    }

    /// Training loss: the CRF's negative log-likelihood, or for a softmax head the mean
    /// negative log-probability of the tags each word may have (its gold tag; for an outside
    /// word also the tags of entity types its corpus does not annotate, listed in `open`).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn loss(&self, batch: &PieceBatch, gold: &[Vec<usize>], open: &[Vec<usize>]) -> Tensor<1> {
        let emissions = self.emissions(batch);
        if let Some(crf) = &self.crf {
            return crf.nll(emissions, gold, open);
        }
        let [windows, words, k] = emissions.dims();
        let device = emissions.device();
        let mut allowed = vec![0f32; windows * words * k];
        let mut real = vec![0f32; windows * words];
        for (b, tags) in gold.iter().enumerate() {
            for (w, &tag) in tags.iter().enumerate() {
                let row = (b * words + w) * k;
                allowed[row + tag] = 1.0;
                if tag == 0 {
                    for &j in &open[b] {
                        allowed[row + j] = 1.0;
                    }
                }
                real[b * words + w] = 1.0;
            }
        }
        let count = real.iter().sum::<f32>().max(1.0);
        let allowed =
            Tensor::<1>::from_data(TensorData::new(allowed, [windows * words * k]), &device)
                .reshape([windows * words, k]);
        let real = Tensor::<1>::from_data(TensorData::new(real, [windows * words]), &device);
        let log_probabilities =
            burn::tensor::activation::log_softmax(emissions.reshape([windows * words, k]), 1);
        // log Σ_allowed p = logsumexp over the allowed tags of the log-probabilities; the
        // others are pushed to -1e4 so that they vanish from the sum.
        let masked = log_probabilities + (allowed - 1.0) * 1e4;
        let peak = masked.clone().max_dim(1);
        let log_allowed =
            ((masked - peak.clone()).exp().sum_dim(1).log() + peak).reshape([windows * words]);
        -(log_allowed * real).sum() / count
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) mod tests {
    use super::*;

    /// A two-layer encoder of 16 dimensions over `vocab_size` pieces, for tests.
    pub(crate) fn tiny_config(vocab_size: usize) -> BertConfig {
        BertConfig {
            vocab_size,
            hidden_size: 16,
            num_hidden_layers: 2,
            num_attention_heads: 2,
            intermediate_size: 32,
            max_position_embeddings: 64,
            type_vocab_size: 2,
            layer_norm_eps: 1e-12,
            hidden_dropout_prob: 0.0,
        }
    }

    #[test]
    fn host_gelu_matches_burns() {
        let values: Vec<f32> = (-800..=800).map(|i| i as f32 / 100.0).collect();
        let n = values.len();
        let on = |device: &Device| {
            let x = Tensor::<1>::from_data(TensorData::new(values.clone(), [n]), device)
                .reshape([1, 1, n]);
            gelu(x).into_data().try_into_vec::<f32>().unwrap()
        };
        // An autodiff device takes burn's own GELU (libm's erf), a plain CPU one the host's.
        let burns = on(&Device::flex().autodiff());
        let hosts = on(&Device::flex());
        let largest = burns
            .iter()
            .zip(&hosts)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(largest < 2e-6, "{largest}");
        assert_eq!(hosts[800], 0.0);
        assert!(
            (hosts[900] - 0.841_344_7).abs() < 1e-6,
            "gelu(1) = {}",
            hosts[900]
        );
    }

    #[test]
    fn the_last_layer_computes_only_the_rows_asked_for() {
        let device = Device::flex();
        let encoder = Encoder::new(&tiny_config(64), &device);
        let windows = [vec![2, 40, 41, 9, 3], vec![2, 12, 3]];
        let first_pieces = [vec![1, 3], vec![1]];
        let batch = PieceBatch::new(&windows, &first_pieces, &device);
        let all = encoder.forward(batch.ids.clone(), batch.attention_bias.clone());
        let [b, p, h] = all.dims();
        let expected = all
            .reshape([b * p, h])
            .select(0, batch.word_rows.clone())
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        let rows = encoder.forward_rows(batch.ids, batch.attention_bias, batch.word_rows);
        assert_eq!(rows.dims(), [2, 2, h]);
        let rows = rows.into_data().try_into_vec::<f32>().unwrap();
        // The second window's padding word (row 0) is never read; compare the real ones.
        for real in [0, 1, 2] {
            for i in 0..h {
                let (a, b) = (expected[real * h + i], rows[real * h + i]);
                assert!((a - b).abs() < 1e-5, "row {real}: {a} against {b}");
            }
        }
    }
}
