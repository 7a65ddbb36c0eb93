//! The extended NeuroNER network: a character Bi-LSTM per token, concatenated with word and
//! shape embeddings, into a word-level Bi-LSTM, linear emission scores and a CRF.

use super::features::{Batch, LEXICAL_FEATURES, SHAPES};
use crate::decoding::{Crf, CrfScores};
use crate::models::lstm::BiLstm;
use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Embedding, EmbeddingConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Layer sizes. The defaults are NeuroNER's (25-dimensional characters, 100 hidden units).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkConfig {
    pub words: usize,
    pub chars: usize,
    pub tags: usize,
    pub word_dim: usize,
    pub char_dim: usize,
    pub char_hidden: usize,
    pub shape_dim: usize,
    pub hidden: usize,
    pub dropout: f64,
    /// Size of the lexical feature embedding (gazetteer and affixes); 0 for none.
    #[serde(default)]
    pub lexical_dim: usize,
}

#[derive(Module, Debug)]
pub struct BiLstmCrf {
    pub(crate) word_embedding: Embedding,
    char_embedding: Embedding,
    shape_embedding: Embedding,
    lexical_embedding: Option<Embedding>,
    char_lstm: BiLstm,
    word_lstm: BiLstm,
    emission: Linear,
    pub(super) crf: Crf,
    dropout: Dropout,
}

impl BiLstmCrf {
    pub fn new(config: &NetworkConfig, constraints: CrfScores, device: &Device) -> Self {
        let features =
            config.word_dim + 2 * config.char_hidden + config.shape_dim + config.lexical_dim;
        Self {
            word_embedding: EmbeddingConfig::new(config.words, config.word_dim).init(device),
            char_embedding: EmbeddingConfig::new(config.chars, config.char_dim).init(device),
            shape_embedding: EmbeddingConfig::new(SHAPES, config.shape_dim).init(device),
            lexical_embedding: (config.lexical_dim > 0)
                .then(|| EmbeddingConfig::new(LEXICAL_FEATURES, config.lexical_dim).init(device)),
            char_lstm: BiLstm::new(config.char_dim, config.char_hidden, device),
            word_lstm: BiLstm::new(features, config.hidden, device),
            emission: LinearConfig::new(2 * config.hidden, config.tags).init(device),
            crf: Crf::new(constraints, device),
            dropout: DropoutConfig::new(config.dropout).init(),
        }
    }

    /// Emission scores `[batch, time, tags]`.
    pub fn emissions(&self, batch: &Batch) -> Tensor<3> {
        let [sentences, time] = batch.words.dims();
        // Each distinct token's characters, read both ways; the final states of the two
        // directions are the forward output at the last character and the backward output
        // at the first.
        let chars = self.char_embedding.forward(batch.chars.clone());
        let [unique, width, _] = chars.dims();
        let char_hidden = self.char_lstm.hidden_size();
        let read = self
            .char_lstm
            .forward(chars, &batch.char_lengths)
            .reshape([unique * width, 2 * char_hidden]);
        let spelled = Tensor::cat(
            vec![
                read.clone()
                    .select(0, batch.char_last.clone())
                    .narrow(1, 0, char_hidden),
                read.select(0, batch.char_first.clone())
                    .narrow(1, char_hidden, char_hidden),
            ],
            1,
        );
        let spelled =
            spelled
                .select(0, batch.token_rows.clone())
                .reshape([sentences, time, 2 * char_hidden]);

        let mut features = vec![
            self.word_embedding.forward(batch.words.clone()),
            spelled,
            self.shape_embedding.forward(batch.shapes.clone()),
        ];
        if let Some(lexical) = &self.lexical_embedding {
            features.push(lexical.forward(batch.lexical.clone()));
        }
        let features = Tensor::cat(features, 2);
        let context = self
            .word_lstm
            .forward(self.dropout.forward(features), &batch.word_lengths);
        self.emission.forward(self.dropout.forward(context))
    }

    /// Mean CRF negative log-likelihood of the gold tags (see [`Crf::nll`] for `open`).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn loss(&self, batch: &Batch, gold: &[Vec<usize>], open: &[Vec<usize>]) -> Tensor<1> {
        self.crf.nll(self.emissions(batch), gold, open)
    }
}
