//! What every architecture's training shares: labelled sentences, progress reports, and the
//! epoch loop with early stopping and checkpoints ([`run_epochs`]).

use crate::document::Document;
use crate::error::{Error, Result};
use crate::tagging::{align_entities, TokenSpan};
use crate::text::Segmentation;
use burn::tensor::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
    /// An epoch begins, or goes on from a checkpoint taken after its first `done` batches.
    Start {
        batches: usize,
        epoch: usize,
        done: usize,
    },
    Batch {
        done: usize,
        loss: f32,
    },
    /// The epoch's first `done` batches are saved among the checkpoints.
    Checkpoint {
        done: usize,
    },
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

/// Where checkpoints go: the latest model and optimizer state after every epoch and every
/// `every` within one, and the best.
#[derive(Clone, Debug)]
pub struct Checkpoints {
    pub dir: PathBuf,
    pub resume: bool,
    /// How often an epoch's progress is saved before it ends: an epoch of a transformer takes
    /// an hour or more on a CPU, and a run stopped within one would lose it all. Zero saves
    /// after every batch.
    pub every: Duration,
}

/// Early stopping's bookkeeping, kept as `state.json` among the checkpoints, with what the
/// architecture carries from epoch to epoch (`S`: BERT's step, the Bi-LSTM-CRF's learning
/// rate) flattened into the same object.
#[derive(Serialize, Deserialize)]
pub struct TrainingState<S> {
    pub epoch: usize,
    /// Minus infinity until an epoch ends, which JSON writes as null.
    #[serde(deserialize_with = "score_or_none")]
    pub best_score: f64,
    pub best_epoch: usize,
    pub history: Vec<EpochReport>,
    /// Where the next epoch stands when the checkpoint was taken within it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unfinished: Option<EpochPosition>,
    #[serde(flatten)]
    pub architecture: S,
}

fn score_or_none<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NEG_INFINITY))
}

/// How far an epoch had gone when it was checkpointed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EpochPosition {
    /// Batches trained, in the epoch's order (which its seed gives again).
    pub batches_done: usize,
    /// Their summed loss, towards the epoch's mean.
    pub loss: f64,
    /// The epoch's random generator after them (the Bi-LSTM-CRF's word dropout draws from it).
    pub rng: u64,
    /// Seconds the epoch had taken.
    pub seconds: f64,
}

/// One architecture's side of training: its batches, optimizers and files. [`run_epochs`]
/// drives it through epochs, early stopping and checkpoints.
pub trait EpochTrainer {
    type Tagger;
    /// What the architecture carries from batch to batch and epoch to epoch, checkpointed
    /// with the rest.
    type State: Serialize + DeserializeOwned + Default;

    /// Orders an epoch's batches with `rng` and seeds the device's own draws (dropout masks)
    /// with `device_seed`; returns how many batches there are.
    fn start_epoch(&mut self, rng: &mut fastrand::Rng, device_seed: u64) -> usize;

    /// Trains on the epoch's batch `index` and returns its loss; `rng` is the epoch's.
    fn train_batch(
        &mut self,
        index: usize,
        rng: &mut fastrand::Rng,
        state: &mut Self::State,
    ) -> Result<f32>;

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
/// best models, the optimizer states and a `state.json` are written after every epoch and
/// every `checkpoints.every` within one, and a resumed run continues from them: from the
/// batch after the last one saved, with the epoch's batches in the same order and the same
/// word dropout. Only the device's dropout masks for the rest of a resumed epoch are drawn
/// afresh (the device's generator is reseeded, not restored), so a run resumed within an
/// epoch is the uninterrupted run's equal, not its copy; one resumed at an epoch's end is
/// its copy.
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
        unfinished: None,
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
            // Within the first epoch there is no best model yet.
            if state.best_epoch > 0 {
                best_bytes = Some(read("best.clinitag")?);
            }
        }
    }

    while state.epoch < limits.max_epochs && state.epoch - state.best_epoch < limits.patience
        || state.epoch == 0
    {
        let started = Instant::now();
        let epoch = state.epoch + 1;
        let seed = limits.seed.wrapping_mul(1000).wrapping_add(epoch as u64);
        let mut rng = fastrand::Rng::with_seed(seed);
        let resumed = state.unfinished.take();
        let device_seed = match &resumed {
            Some(position) => {
                seed ^ (position.batches_done as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
            }
            None => seed,
        };
        let batches = trainer.start_epoch(&mut rng, device_seed);
        let (mut done, mut loss_sum, seconds_before) = match resumed {
            Some(position) => {
                rng.seed(position.rng);
                (position.batches_done, position.loss, position.seconds)
            }
            None => (0, 0.0, 0.0),
        };
        progress(Progress::Start {
            batches,
            epoch,
            done,
        });
        let mut saved = Instant::now();
        while done < batches {
            let loss = trainer.train_batch(done, &mut rng, &mut state.architecture)?;
            loss_sum += loss as f64;
            done += 1;
            if let Some(checkpoints) = checkpoints {
                if done < batches && saved.elapsed() >= checkpoints.every {
                    state.unfinished = Some(EpochPosition {
                        batches_done: done,
                        loss: loss_sum,
                        rng: rng.get_seed(),
                        seconds: seconds_before + started.elapsed().as_secs_f64(),
                    });
                    save_checkpoint(&checkpoints.dir, trainer, &trainer.tagger()?, &state, None)?;
                    state.unfinished = None;
                    saved = Instant::now();
                    progress(Progress::Checkpoint { done });
                }
            }
            progress(Progress::Batch { done, loss });
        }
        let loss = loss_sum / batches.max(1) as f64;

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
            seconds: seconds_before + started.elapsed().as_secs_f64(),
            best,
        };
        progress(Progress::Epoch(&report));
        state.history.push(report);
        if let Some(checkpoints) = checkpoints {
            let best = best.then_some(best_bytes.as_deref()).flatten();
            save_checkpoint(&checkpoints.dir, trainer, &tagger, &state, best)?;
        }
    }
    Ok(Trained {
        best: best_bytes.ok_or_else(|| Error::Model("no epoch was trained".into()))?,
        best_epoch: state.best_epoch,
        best_score: state.best_score,
        history: state.history,
    })
}

/// Writes the latest model, the optimizer states, a new best model if there is one, and
/// `state.json`. All are written beside their places first and then renamed into them,
/// `state.json` last, so a run stopped while saving leaves the previous checkpoint whole
/// unless it stops within the few renames.
fn save_checkpoint<T: EpochTrainer>(
    dir: &Path,
    trainer: &T,
    latest: &T::Tagger,
    state: &TrainingState<T::State>,
    best: Option<&[u8]>,
) -> Result<()> {
    let mut files: Vec<(&str, Bytes)> = vec![(
        "latest.clinitag",
        Bytes::from_bytes_vec(T::tagger_bytes(latest)?),
    )];
    files.extend(trainer.optimizer_states()?);
    if let Some(best) = best {
        files.push(("best.clinitag", Bytes::from_bytes_vec(best.to_vec())));
    }
    let state = serde_json::to_vec_pretty(state)
        .map_err(|e| Error::Model(format!("cannot write the training state: {e}")))?;
    files.push(("state.json", Bytes::from_bytes_vec(state)));
    let partial = |name: &str| dir.join(format!("{name}.partial"));
    for (name, bytes) in &files {
        let path = partial(name);
        std::fs::write(&path, &bytes[..]).map_err(|e| Error::io(path, e))?;
    }
    for (name, _) in &files {
        let path = dir.join(name);
        std::fs::rename(partial(name), &path).map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}
