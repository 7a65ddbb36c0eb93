//! BERT (Devlin et al. 2019) as a pure burn module: token, position and segment embeddings,
//! then layers of multi-head self-attention and a GELU feed-forward block, each followed by a
//! residual connection and LayerNorm (post-norm, as the original and MiniLM). On top, a linear
//! head gives tag scores for the first piece of each word, and an optional CRF.

use crate::decoding::{Crf, CrfScores};
use burn::module::Module;
use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear,
    LinearConfig,
};
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

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
                })
                .collect(),
        }
    }

    /// The last layer's hidden states, `[batch, pieces, hidden]`. Every window is one
    /// segment (type 0) and starts at position 0.
    pub fn forward(&self, ids: Tensor<2, Int>, attention_bias: Tensor<4>) -> Tensor<3> {
        let [batch, pieces] = ids.dims();
        let device = ids.device();
        let positions = Tensor::<1, Int>::arange(0..pieces as i64, &device)
            .reshape([1, pieces])
            .expand([batch, pieces]);
        let types = Tensor::<2, Int>::zeros([batch, pieces], &device);
        let embeddings = &self.embeddings;
        let mut hidden = embeddings.word_embeddings.forward(ids)
            + embeddings.position_embeddings.forward(positions)
            + embeddings.token_type_embeddings.forward(types);
        hidden = embeddings
            .dropout
            .forward(embeddings.layer_norm.forward(hidden));
        for layer in &self.layers {
            hidden = layer.forward(hidden, attention_bias.clone());
        }
        hidden
    }
}

impl Layer {
    fn forward(&self, input: Tensor<3>, attention_bias: Tensor<4>) -> Tensor<3> {
        let attended = self.attention.forward(input.clone(), attention_bias);
        let hidden = self
            .attention_norm
            .forward(self.dropout.forward(attended) + input);
        let expanded = gelu(self.intermediate.forward(hidden.clone()));
        self.output_norm
            .forward(self.dropout.forward(self.output.forward(expanded)) + hidden)
    }
}

impl SelfAttention {
    fn forward(&self, input: Tensor<3>, attention_bias: Tensor<4>) -> Tensor<3> {
        let [batch, pieces, hidden] = input.dims();
        let head_dim = hidden / self.heads;
        let split = |t: Tensor<3>| {
            t.reshape([batch, pieces, self.heads, head_dim])
                .swap_dims(1, 2)
        };
        let query = split(self.query.forward(input.clone()));
        let key = split(self.key.forward(input.clone()));
        let value = split(self.value.forward(input));
        let scores = query.matmul(key.swap_dims(2, 3)) / (head_dim as f64).sqrt() + attention_bias;
        let weights = self.dropout.forward(softmax(scores, 3));
        let context = weights
            .matmul(value)
            .swap_dims(1, 2)
            .reshape([batch, pieces, hidden]);
        self.output.forward(context)
    }
}

/// The encoder with a token-classification head: tag scores for each word's first piece.
#[derive(Module, Debug)]
pub struct BertTokenClassifier {
    pub encoder: Encoder,
    dropout: Dropout,
    head: Linear,
    pub(super) crf: Option<Crf>,
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
        let hidden = self
            .encoder
            .forward(batch.ids.clone(), batch.attention_bias.clone());
        let [windows, pieces, size] = hidden.dims();
        let words = hidden
            .reshape([windows * pieces, size])
            .select(0, batch.word_rows.clone());
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
