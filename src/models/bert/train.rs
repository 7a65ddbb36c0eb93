//! Fine-tuning a pretrained encoder for tagging: AdamW with linear warm-up and linear decay,
//! gradient clipping, early stopping on a development score, fixed seeds, and checkpoints to
//! resume from.

use super::pretrained::Pretrained;
use super::{windows, BertTagger, BertTokenClassifier, Header, PieceBatch, WordPieces, KIND};
use crate::decoding::SequenceDecoder;
use crate::error::{Error, Result};
use crate::models::training::{Checkpoints, EpochReport, LabelledSentence, Progress};
use crate::tagging::{Scheme, TokenSpan};
use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Bytes, Device};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainingConfig {
    pub language: String,
    pub scheme: Scheme,
    /// Entity types to learn, in tag-set order.
    pub labels: Vec<String>,
    /// A CRF over the word scores (otherwise a softmax head).
    pub crf: bool,
    /// Largest training window, special tokens included (tagging reads windows of up to
    /// `max_pieces_tagging`).
    pub max_pieces: usize,
    pub max_pieces_tagging: usize,
    /// Windows per optimizer step.
    pub batch_size: usize,
    /// Peak learning rate of the encoder and the head.
    pub learning_rate: f64,
    /// Learning rate of the CRF's transition scores, which start at zero and have far fewer
    /// updates' worth of signal than the encoder.
    pub crf_learning_rate: f64,
    /// Share of all steps spent warming the learning rate up from zero.
    pub warmup: f64,
    pub weight_decay: f32,
    /// Gradients are clipped to this norm (per parameter tensor).
    pub clip_norm: f32,
    pub max_epochs: usize,
    /// Stop after this many epochs without a better development score.
    pub patience: usize,
    pub seed: u64,
}

impl TrainingConfig {
    pub fn new(language: &str, labels: Vec<String>) -> Self {
        Self {
            language: language.to_string(),
            scheme: Scheme::Bmewov,
            labels,
            crf: true,
            max_pieces: 256,
            max_pieces_tagging: 512,
            batch_size: 16,
            learning_rate: 5e-5,
            crf_learning_rate: 5e-3,
            warmup: 0.1,
            weight_decay: 0.01,
            clip_norm: 1.0,
            max_epochs: 5,
            patience: 2,
            seed: 1,
        }
    }
}

/// A training window: piece ids, its words' first pieces, gold tag ids and open tags.
struct Example {
    ids: Vec<u32>,
    first_pieces: Vec<usize>,
    tags: Vec<usize>,
    open: Vec<usize>,
}

#[derive(Serialize, Deserialize)]
struct TrainingState {
    epoch: usize,
    step: usize,
    best_score: f64,
    best_epoch: usize,
    history: Vec<EpochReport>,
}

/// The training windows of `train`: each sentence cut as for tagging, with the entities that
/// a window cuts clipped to it.
fn examples(
    train: &[LabelledSentence],
    config: &TrainingConfig,
    decoder: &SequenceDecoder,
    wordpieces: &WordPieces,
) -> Vec<Example> {
    let tag_ids: HashMap<_, usize> = decoder.tags.iter().cloned().zip(0..).collect();
    let views: Vec<Vec<&str>> = train
        .iter()
        .map(|s| s.tokens.iter().map(String::as_str).collect())
        .collect();
    let views: Vec<&[&str]> = views.iter().map(Vec::as_slice).collect();
    let pieces = wordpieces.sentences(&views);
    let mut out = Vec::new();
    for (i, (sentence, pieces)) in train.iter().zip(&pieces).enumerate() {
        let open: Vec<usize> = (0..decoder.tags.len())
            .filter(|&j| {
                decoder.tags[j]
                    .label
                    .as_ref()
                    .is_some_and(|label| sentence.unannotated.contains(label))
            })
            .collect();
        for window in windows(i, pieces, config.max_pieces, wordpieces) {
            let range = window.words.clone();
            let spans: Vec<TokenSpan> = sentence
                .spans
                .iter()
                .filter(|s| s.start < range.end && s.end > range.start)
                .map(|s| {
                    TokenSpan::new(
                        s.start.max(range.start) - range.start,
                        s.end.min(range.end) - range.start,
                        s.label.clone(),
                    )
                })
                .collect();
            let encoding = config.scheme.encode(range.len(), &spans);
            // A tag outside the label set (an entity type not being learned) reads as outside.
            let tags = encoding
                .tags
                .iter()
                .map(|t| tag_ids.get(t).copied().unwrap_or(0))
                .collect();
            out.push(Example {
                ids: window.ids,
                first_pieces: window.first_pieces,
                tags,
                open: open.clone(),
            });
        }
    }
    out
}

/// The learning rate at `step` of `total`: linear warm-up, then linear decay to zero.
pub fn scheduled_rate(peak: f64, step: usize, total: usize, warmup: usize) -> f64 {
    if step < warmup {
        peak * (step + 1) as f64 / warmup as f64
    } else {
        peak * (total.saturating_sub(step)) as f64 / (total - warmup).max(1) as f64
    }
}

/// Fine-tunes `pretrained` on `train` and returns the model of the epoch with the best
/// `dev_score` (higher is better).
pub fn train(
    train: &[LabelledSentence],
    config: &TrainingConfig,
    pretrained: Pretrained,
    checkpoints: Option<&Checkpoints>,
    dev_score: &mut dyn FnMut(&BertTagger) -> f64,
    progress: &mut dyn FnMut(Progress),
) -> Result<BertTagger> {
    let device = Device::flex().autodiff();
    device.seed(config.seed);
    let mut rng = fastrand::Rng::with_seed(config.seed);

    let decoder = SequenceDecoder::constrained(config.scheme, &config.labels);
    let wordpieces = WordPieces::from_json(&pretrained.tokenizer)?;
    let examples = examples(train, config, &decoder, &wordpieces);
    let max_pieces_tagging = config
        .max_pieces_tagging
        .min(pretrained.config.max_position_embeddings);
    let header = Header {
        kind: KIND.to_string(),
        language: config.language.clone(),
        scheme: config.scheme.name().to_string(),
        tags: decoder.tag_names(),
        encoder: pretrained.config.clone(),
        crf: config.crf,
        max_pieces: max_pieces_tagging,
        tokenizer: pretrained.tokenizer.clone(),
        training: serde_json::json!({
            "config": config,
            "encoder": pretrained.source.display().to_string(),
            "sentences": train.len(),
            "windows": examples.len(),
        }),
    };
    // Forked and set to train: a module merely moved from the CPU device onto the autodiff
    // one would compute but get no gradients, and the encoder would stay frozen.
    let mut model = BertTokenClassifier::new(
        pretrained.encoder.fork(&device),
        &pretrained.config,
        decoder.tags.len(),
        config.crf.then(|| decoder.scores.clone()),
        &device,
    )
    .train();
    let adamw = || {
        AdamWConfig::new()
            .with_weight_decay(config.weight_decay)
            .with_grad_clipping(Some(GradientClippingConfig::Norm(config.clip_norm)))
            .init()
    };
    let mut optimizer = adamw();
    let mut crf_optimizer = adamw();

    let batches_per_epoch = examples.len().div_ceil(config.batch_size.max(1));
    let total_steps = batches_per_epoch * config.max_epochs;
    let warmup_steps = ((total_steps as f64) * config.warmup).round() as usize;
    let mut state = TrainingState {
        epoch: 0,
        step: 0,
        best_score: f64::NEG_INFINITY,
        best_epoch: 0,
        history: Vec::new(),
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
            model = BertTagger::from_bytes(&read("latest.clinitag")?, &device)?.network;
            let restore = |optimizer: burn::optim::ModuleOptimizer, name: &str| {
                optimizer
                    .from_bytes(Bytes::from_bytes_vec(read(name)?))
                    .map_err(|e| Error::Model(format!("bad optimizer checkpoint: {e}")))
            };
            optimizer = restore(optimizer, "optimizer.bin")?;
            crf_optimizer = restore(crf_optimizer, "crf-optimizer.bin")?;
            best_bytes = Some(read("best.clinitag")?);
        }
    }

    while state.epoch < config.max_epochs && state.epoch - state.best_epoch < config.patience
        || state.epoch == 0
    {
        let started = std::time::Instant::now();
        let epoch = state.epoch + 1;
        let epoch_seed = config.seed.wrapping_mul(1000).wrapping_add(epoch as u64);
        rng.seed(epoch_seed);
        device.seed(epoch_seed);
        // Batches of similar lengths (less padding), in random order.
        let mut order: Vec<usize> = (0..examples.len()).collect();
        rng.shuffle(&mut order);
        order.sort_by_key(|&i| examples[i].ids.len() / 8);
        let mut batches: Vec<Vec<usize>> = order
            .chunks(config.batch_size.max(1))
            .map(<[usize]>::to_vec)
            .collect();
        rng.shuffle(&mut batches);
        progress(Progress::Start {
            batches: batches.len(),
            epoch,
        });
        let mut total_loss = 0.0;
        for (done, indices) in batches.iter().enumerate() {
            let ids: Vec<Vec<u32>> = indices.iter().map(|&i| examples[i].ids.clone()).collect();
            let firsts: Vec<Vec<usize>> = indices
                .iter()
                .map(|&i| examples[i].first_pieces.clone())
                .collect();
            let gold: Vec<Vec<usize>> = indices.iter().map(|&i| examples[i].tags.clone()).collect();
            let open: Vec<Vec<usize>> = indices.iter().map(|&i| examples[i].open.clone()).collect();
            let batch = PieceBatch::new(&ids, &firsts, &device);
            let loss = model.loss(&batch, &gold, &open);
            let value: f32 = loss.clone().into_scalar();
            total_loss += value as f64;
            let mut gradients = loss.backward();
            let crf_gradients = GradientsParams::from_module(&mut gradients, &model.crf);
            let gradients = GradientsParams::from_grads(gradients, &model);
            let rate = scheduled_rate(config.learning_rate, state.step, total_steps, warmup_steps);
            model = optimizer.step(rate, model, gradients);
            if !crf_gradients.is_empty() {
                let crf_rate = rate * config.crf_learning_rate / config.learning_rate;
                model = crf_optimizer.step(crf_rate, model, crf_gradients);
            }
            state.step += 1;
            progress(Progress::Batch {
                done: done + 1,
                loss: value,
            });
        }

        let tagger = BertTagger::new(header.clone(), model.valid(), &Device::flex())?;
        let score = dev_score(&tagger);
        let best = score > state.best_score;
        if best {
            state.best_score = score;
            state.best_epoch = epoch;
            best_bytes = Some(tagger.to_bytes_full()?);
        }
        state.epoch = epoch;
        let report = EpochReport {
            epoch,
            loss: total_loss / batches.len().max(1) as f64,
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
            write("latest.clinitag", &tagger.to_bytes_full()?)?;
            for (name, optimizer) in [
                ("optimizer.bin", &optimizer),
                ("crf-optimizer.bin", &crf_optimizer),
            ] {
                let bytes = optimizer
                    .into_bytes()
                    .map_err(|e| Error::Model(format!("cannot save the optimizer: {e}")))?;
                write(name, &bytes)?;
            }
            if let Some(best) = &best_bytes {
                write("best.clinitag", best)?;
            }
            write("state.json", &serde_json::to_vec_pretty(&state).unwrap())?;
        }
    }
    let best = best_bytes.ok_or_else(|| Error::Model("no epoch was trained".into()))?;
    let mut tagger = BertTagger::from_bytes(&best, &Device::flex())?;
    tagger.header.training["best_epoch"] = state.best_epoch.into();
    tagger.header.training["best_dev_score"] = state.best_score.into();
    tagger.header.training["history"] = serde_json::to_value(&state.history).unwrap();
    Ok(tagger)
}
