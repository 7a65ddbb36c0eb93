//! Fine-tuning a pretrained encoder for tagging: AdamW with linear warm-up and linear decay,
//! gradient clipping, early stopping on a development score, fixed seeds, and checkpoints to
//! resume from.

use super::pretrained::Pretrained;
use super::{windows, BertTagger, BertTokenClassifier, Header, PieceBatch, WordPieces, KIND};
use crate::decoding::SequenceDecoder;
use crate::error::{Error, Result};
use crate::models::training::{
    run_epochs, shuffled_batches, Checkpoints, EpochLimits, EpochTrainer, LabelledSentence,
    Progress,
};
use crate::tagging::{Scheme, TokenSpan};
use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Bytes, Device};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainingConfig {
    pub language: String,
    pub scheme: Scheme,
    /// Entity types to learn, in tag-set order.
    pub labels: Vec<String>,
    /// The entity types of each language, when the model learns several languages' corpora
    /// (empty: one language, every type its own).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub languages: BTreeMap<String, Vec<String>>,
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
            languages: BTreeMap::new(),
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

/// BERT's side of [`run_epochs`]: the network on the autodiff device, its windows, and two
/// AdamW optimizers (the encoder with its head, and the CRF's transitions at their own rate).
struct BertEpochs<'a> {
    config: &'a TrainingConfig,
    header: Header,
    examples: Vec<Example>,
    model: BertTokenClassifier,
    optimizer: ModuleOptimizer,
    crf_optimizer: ModuleOptimizer,
    device: Device,
    /// The current epoch's batches of example indices.
    batches: Vec<Vec<usize>>,
    total_steps: usize,
    warmup_steps: usize,
}

/// What BERT training carries from batch to batch: the learning-rate schedule's position.
#[derive(Default, Serialize, Deserialize)]
struct BertState {
    step: usize,
}

impl EpochTrainer for BertEpochs<'_> {
    type Tagger = BertTagger;
    type State = BertState;

    fn start_epoch(&mut self, rng: &mut fastrand::Rng, device_seed: u64) -> usize {
        self.device.seed(device_seed);
        let examples = &self.examples;
        self.batches = shuffled_batches(examples.len(), self.config.batch_size, rng, |i| {
            examples[i].ids.len() / 8
        });
        self.batches.len()
    }

    fn train_batch(
        &mut self,
        index: usize,
        _rng: &mut fastrand::Rng,
        state: &mut BertState,
    ) -> Result<f32> {
        let config = self.config;
        let (examples, indices) = (&self.examples, &self.batches[index]);
        let ids: Vec<Vec<u32>> = indices.iter().map(|&i| examples[i].ids.clone()).collect();
        let firsts: Vec<Vec<usize>> = indices
            .iter()
            .map(|&i| examples[i].first_pieces.clone())
            .collect();
        let gold: Vec<Vec<usize>> = indices.iter().map(|&i| examples[i].tags.clone()).collect();
        let open: Vec<Vec<usize>> = indices.iter().map(|&i| examples[i].open.clone()).collect();
        let batch = PieceBatch::new(&ids, &firsts, &self.device);
        let loss = self.model.loss(&batch, &gold, &open);
        let value: f32 = loss.clone().into_scalar();
        let mut gradients = loss.backward();
        let crf_gradients = GradientsParams::from_module(&mut gradients, &self.model.crf);
        let gradients = GradientsParams::from_grads(gradients, &self.model);
        let rate = scheduled_rate(
            config.learning_rate,
            state.step,
            self.total_steps,
            self.warmup_steps,
        );
        self.model = self.optimizer.step(rate, self.model.clone(), gradients);
        if !crf_gradients.is_empty() {
            let crf_rate = rate * config.crf_learning_rate / config.learning_rate;
            self.model = self
                .crf_optimizer
                .step(crf_rate, self.model.clone(), crf_gradients);
        }
        state.step += 1;
        Ok(value)
    }

    fn tagger(&self) -> Result<BertTagger> {
        BertTagger::new(
            self.header.clone(),
            self.model.valid(),
            &Device::flex(),
            false,
        )
    }

    fn tagger_bytes(tagger: &BertTagger) -> Result<Vec<u8>> {
        tagger.to_bytes_full()
    }

    fn optimizer_states(&self) -> Result<Vec<(&'static str, Bytes)>> {
        [
            ("optimizer.bin", &self.optimizer),
            ("crf-optimizer.bin", &self.crf_optimizer),
        ]
        .into_iter()
        .map(|(name, optimizer)| {
            let bytes = optimizer
                .into_bytes()
                .map_err(|e| Error::Model(format!("cannot save the optimizer: {e}")))?;
            Ok((name, bytes))
        })
        .collect()
    }

    fn resume(&mut self, latest: &[u8], read: &dyn Fn(&str) -> Result<Vec<u8>>) -> Result<()> {
        let checkpoint = BertTagger::from_bytes(latest, &self.device)?;
        // The windows were cut with this run's vocabulary: a checkpoint of another (pruned
        // or extended otherwise) would read every piece id as some other piece.
        if checkpoint.header.tokenizer != self.header.tokenizer {
            return Err(Error::Model(format!(
                "the checkpoint was trained with another vocabulary ({} pieces; this run has {}): train afresh, or resume with the options it was started with",
                checkpoint.header.encoder.vocab_size, self.header.encoder.vocab_size
            )));
        }
        self.model = checkpoint.network;
        for (name, optimizer) in [
            ("optimizer.bin", &mut self.optimizer),
            ("crf-optimizer.bin", &mut self.crf_optimizer),
        ] {
            *optimizer = optimizer
                .clone()
                .from_bytes(Bytes::from_bytes_vec(read(name)?))
                .map_err(|e| Error::Model(format!("bad optimizer checkpoint: {e}")))?;
        }
        Ok(())
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
        ensemble_weight: 1.0,
        languages: config.languages.clone(),
    };
    // Forked and set to train: a module merely moved from the CPU device onto the autodiff
    // one would compute but get no gradients, and the encoder would stay frozen.
    let model = BertTokenClassifier::new(
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
    let batches_per_epoch = examples.len().div_ceil(config.batch_size.max(1));
    let total_steps = batches_per_epoch * config.max_epochs;
    let mut epochs = BertEpochs {
        config,
        header,
        examples,
        model,
        optimizer: adamw(),
        crf_optimizer: adamw(),
        device,
        batches: Vec::new(),
        total_steps,
        warmup_steps: ((total_steps as f64) * config.warmup).round() as usize,
    };
    let limits = EpochLimits {
        max_epochs: config.max_epochs,
        patience: config.patience,
        seed: config.seed,
    };
    let trained = run_epochs(&mut epochs, limits, checkpoints, dev_score, progress)?;
    let mut tagger = BertTagger::from_bytes(&trained.best, &Device::flex())?;
    trained.note(&mut tagger.header.training);
    Ok(tagger)
}
