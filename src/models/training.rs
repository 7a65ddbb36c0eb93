//! What every architecture's training shares: labelled sentences, progress reports, and the
//! epoch loop with early stopping and checkpoints ([`run_epochs`]).

use crate::error::{Error, Result};
use crate::tagging::{align_entities, TokenSpan};
use crate::text::Segmentation;
use crate::Document;
use burn::tensor::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A sentence's tokens and its entities over them.
#[derive(Clone, Debug)]
pub struct LabelledSentence {
    pub tokens: Vec<String>,
    pub spans: Vec<TokenSpan>,
    /// Entity types its corpus does not annotate: outside tokens may be any of them.
    pub unannotated: Vec<String>,
}

/// The sentences of segmented documents with their entities placed on tokens. Entities that
/// fall inside a token or across sentences are left out (the foundation measures how few).
pub fn labelled_sentences(
    documents: &[(Document, Segmentation)],
    unannotated: &[String],
) -> Vec<LabelledSentence> {
    let mut out = Vec::new();
    for (document, segmentation) in documents {
        let (sentences, _lost) = align_entities(segmentation, &document.entities);
        for sentence in sentences {
            let tokens = segmentation.tokens[sentence.tokens.clone()]
                .iter()
                .map(|t| document.text[t.start..t.end].to_string())
                .collect::<Vec<_>>();
            if !tokens.is_empty() {
                out.push(LabelledSentence {
                    tokens,
                    spans: sentence.spans,
                    unannotated: unannotated.to_vec(),
                });
            }
        }
    }
    out
}

/// One epoch's batches: example indices shuffled, sorted (stably) by `bucket`, so that a batch
/// holds examples of similar lengths and little padding, cut into batches of `batch_size`,
/// and the batches shuffled.
pub fn shuffled_batches(
    examples: usize,
    batch_size: usize,
    rng: &mut fastrand::Rng,
    bucket: impl Fn(usize) -> usize,
) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..examples).collect();
    rng.shuffle(&mut order);
    order.sort_by_key(|&i| bucket(i));
    let mut batches: Vec<Vec<usize>> = order
        .chunks(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect();
    rng.shuffle(&mut batches);
    batches
}

/// What the trainer reports as it goes.
pub enum Progress<'a> {
    Start { batches: usize, epoch: usize },
    Batch { done: usize, loss: f32 },
    Epoch(&'a EpochReport),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EpochReport {
    pub epoch: usize,
    pub loss: f64,
    pub dev_score: f64,
    pub seconds: f64,
    pub best: bool,
}

/// Where checkpoints go: the latest model and optimizer state after every epoch, and the best.
#[derive(Clone, Debug)]
pub struct Checkpoints {
    pub dir: PathBuf,
    pub resume: bool,
}

/// Early stopping's bookkeeping, kept as `state.json` among the checkpoints, with what the
/// architecture carries from epoch to epoch (`S`: BERT's step, the Bi-LSTM-CRF's learning
/// rate) flattened into the same object.
#[derive(Serialize, Deserialize)]
pub struct TrainingState<S> {
    pub epoch: usize,
    pub best_score: f64,
    pub best_epoch: usize,
    pub history: Vec<EpochReport>,
    #[serde(flatten)]
    pub architecture: S,
}

/// One architecture's side of training: its batches, optimizers and files. [`run_epochs`]
/// drives it through epochs, early stopping and checkpoints.
pub trait EpochTrainer {
    type Tagger;
    /// What the architecture carries from epoch to epoch, checkpointed with the rest.
    type State: Serialize + DeserializeOwned + Default;

    /// One pass over the training data, shuffled from `seed`; returns the mean batch loss.
    fn train_epoch(
        &mut self,
        epoch: usize,
        seed: u64,
        state: &mut Self::State,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<f64>;

    /// Called once the epoch's development score is known, with whether it is the best yet.
    fn epoch_scored(&mut self, _state: &mut Self::State, _best: bool) {}

    /// The model as it now is, ready to tag.
    fn tagger(&self) -> Result<Self::Tagger>;

    /// A tagger's file at full precision (checkpoints and the best epoch's model).
    fn tagger_bytes(tagger: &Self::Tagger) -> Result<Vec<u8>>;

    /// The optimizers' states, by the file name they are checkpointed under.
    fn optimizer_states(&self) -> Result<Vec<(&'static str, Bytes)>>;

    /// Continues from checkpoints: the latest model's file, and `read` for the optimizer
    /// files named by [`EpochTrainer::optimizer_states`].
    fn resume(&mut self, latest: &[u8], read: &dyn Fn(&str) -> Result<Vec<u8>>) -> Result<()>;
}

/// How long [`run_epochs`] goes on.
#[derive(Clone, Copy, Debug)]
pub struct EpochLimits {
    pub max_epochs: usize,
    /// Stop after this many epochs without a better development score.
    pub patience: usize,
    /// Each epoch shuffles from a seed made from this and its number, so a resumed run
    /// continues as an uninterrupted one would.
    pub seed: u64,
}

/// What [`run_epochs`] ends with: the best epoch's model file and how training went.
pub struct Trained {
    pub best: Vec<u8>,
    pub best_epoch: usize,
    pub best_score: f64,
    pub history: Vec<EpochReport>,
}

impl Trained {
    /// Records the outcome among a model header's training notes.
    pub fn note(&self, training: &mut serde_json::Value) {
        training["best_epoch"] = self.best_epoch.into();
        training["best_dev_score"] = self.best_score.into();
        training["history"] = serde_json::to_value(&self.history).unwrap_or_default();
    }
}

/// Trains epoch after epoch until `limits` say stop, scoring each on development data
/// (`dev_score`, higher is better) and keeping the best. With `checkpoints`, the latest and
/// best models, the optimizer states and a `state.json` are written after every epoch, and
/// a resumed run continues from them.
pub fn run_epochs<T: EpochTrainer>(
    trainer: &mut T,
    limits: EpochLimits,
    checkpoints: Option<&Checkpoints>,
    dev_score: &mut dyn FnMut(&T::Tagger) -> f64,
    progress: &mut dyn FnMut(Progress),
) -> Result<Trained> {
    let mut state = TrainingState {
        epoch: 0,
        best_score: f64::NEG_INFINITY,
        best_epoch: 0,
        history: Vec::new(),
        architecture: T::State::default(),
    };
    let mut best_bytes: Option<Vec<u8>> = None;
    if let Some(checkpoints) = checkpoints {
        std::fs::create_dir_all(&checkpoints.dir).map_err(|e| Error::io(&checkpoints.dir, e))?;
        if checkpoints.resume && checkpoints.dir.join("state.json").exists() {
            let read = |name: &str| {
                let path = checkpoints.dir.join(name);
                std::fs::read(&path).map_err(|e| Error::io(path, e))
            };
            state = serde_json::from_slice(&read("state.json")?)
                .map_err(|e| Error::Model(format!("bad checkpoint state: {e}")))?;
            trainer.resume(&read("latest.clinitag")?, &read)?;
            best_bytes = Some(read("best.clinitag")?);
        }
    }

    while state.epoch < limits.max_epochs && state.epoch - state.best_epoch < limits.patience
        || state.epoch == 0
    {
        let started = std::time::Instant::now();
        let epoch = state.epoch + 1;
        let seed = limits.seed.wrapping_mul(1000).wrapping_add(epoch as u64);
        let loss = trainer.train_epoch(epoch, seed, &mut state.architecture, progress)?;

        let tagger = trainer.tagger()?;
        let score = dev_score(&tagger);
        let best = score > state.best_score;
        if best {
            state.best_score = score;
            state.best_epoch = epoch;
            best_bytes = Some(T::tagger_bytes(&tagger)?);
        }
        trainer.epoch_scored(&mut state.architecture, best);
        state.epoch = epoch;
        let report = EpochReport {
            epoch,
            loss,
            dev_score: score,
            seconds: started.elapsed().as_secs_f64(),
            best,
        };
        progress(Progress::Epoch(&report));
        state.history.push(report);
        if let Some(checkpoints) = checkpoints {
            let write = |name: &str, bytes: &[u8]| {
                let path = checkpoints.dir.join(name);
                std::fs::write(&path, bytes).map_err(|e| Error::io(path, e))
            };
            write("latest.clinitag", &T::tagger_bytes(&tagger)?)?;
            for (name, bytes) in trainer.optimizer_states()? {
                write(name, &bytes)?;
            }
            if let Some(best) = &best_bytes {
                write("best.clinitag", best)?;
            }
            let state = serde_json::to_vec_pretty(&state)
                .map_err(|e| Error::Model(format!("cannot write the training state: {e}")))?;
            write("state.json", &state)?;
        }
    }
    Ok(Trained {
        best: best_bytes.ok_or_else(|| Error::Model("no epoch was trained".into()))?,
        best_epoch: state.best_epoch,
        best_score: state.best_score,
        history: state.history,
    })
}
