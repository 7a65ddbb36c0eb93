//! Fine-tuning a pretrained encoder for tagging: AdamW with linear warm-up and linear decay,
//! gradient clipping, early stopping on a development score, fixed seeds, and checkpoints to
//! resume from.

use super::epochs::{
    run_epochs, shuffled_batches, Checkpoints, EpochLimits, EpochTrainer, LabelledSentence,
    Progress,
};
use super::pretrained::Pretrained;
use crate::decoding::SequenceDecoder;
use crate::error::{Error, Result};
use crate::models::bert::pieces::windows;
use crate::models::bert::{BertTagger, BertTokenClassifier, Header, PieceBatch, WordPieces, KIND};
use crate::models::NeuralTagger;
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

// Tiny models trained here test tagging, loading and storing as well as training.
#[cfg(test)]
mod tests {
    use super::super::pretrained::export_huggingface;
    use super::super::pretrained::tests::tiny_pretrained;
    use super::*;
    use crate::document::Entity;
    use crate::models::bert::Encoder;
    use crate::models::random::exclusive_random;
    use crate::models::{sentence_words, Model, Precision, Tagger};
    use crate::text::Segmentation;

    fn sentence(text: &str, spans: &[(usize, usize, &str)]) -> LabelledSentence {
        LabelledSentence {
            tokens: text.split(' ').map(str::to_string).collect(),
            spans: spans
                .iter()
                .map(|&(s, e, l)| TokenSpan::new(s, e, l))
                .collect(),
            unannotated: Vec::new(),
        }
    }

    /// The first row of the word embeddings, to see that fine-tuning reaches the encoder.
    fn first_embedding(encoder: &Encoder) -> Vec<f32> {
        let weight = encoder.embeddings.word_embeddings.weight.val();
        let dim = weight.dims()[1];
        weight.into_data().try_into_vec_as::<f32>().unwrap()[5 * dim..6 * dim].to_vec()
    }

    fn tiny_model(crf: bool, epochs: usize) -> (BertTagger, Vec<f64>) {
        let data = vec![
            sentence(
                "con acido folico y hierro",
                &[(1, 3, "DRUG"), (4, 5, "DRUG")],
            ),
            sentence("Niveles de PCR elevados", &[(2, 3, "PROT")]),
            sentence("hierro y acido folico", &[(0, 1, "DRUG"), (2, 4, "DRUG")]),
            sentence("sin fiebre", &[]),
        ];
        let mut config = TrainingConfig::new("es", vec!["DRUG".into(), "PROT".into()]);
        config.crf = crf;
        config.max_epochs = epochs;
        config.patience = epochs;
        config.batch_size = 2;
        config.learning_rate = 1e-2;
        config.crf_learning_rate = 1e-2;
        config.warmup = 0.0;
        config.max_pieces = 16;
        config.max_pieces_tagging = 16;
        let mut losses = Vec::new();
        let mut epochs_seen = 0.0;
        let pretrained = tiny_pretrained();
        let before = first_embedding(&pretrained.encoder);
        let model = train(
            &data,
            &config,
            pretrained,
            None,
            // Every epoch "improves", so the last one is kept.
            &mut |_| {
                epochs_seen += 1.0;
                epochs_seen
            },
            &mut |progress| {
                if let Progress::Epoch(report) = progress {
                    losses.push(report.loss)
                }
            },
        )
        .unwrap();
        assert_ne!(
            before,
            first_embedding(&model.network.encoder),
            "the encoder was fine-tuned, not frozen"
        );
        (model, losses)
    }

    #[test]
    fn a_model_of_two_languages_tags_each_with_its_own_types() {
        let _random = exclusive_random();
        let text = "con acido folico y hierro. Niveles de PCR elevados";
        let segmentation = Segmentation::of(text);
        let types = |entities: &[Entity]| {
            let mut types: Vec<String> = entities.iter().map(|e| e.label.clone()).collect();
            types.dedup();
            types.sort();
            types.dedup();
            types
        };
        for crf in [true, false] {
            let (mut model, _) = tiny_model(crf, 30);
            // A model of one language reads any text as before.
            let before = model.tag(text, &segmentation);
            assert_eq!(types(&before), ["DRUG", "PROT"], "crf {crf}");
            model.set_language("en").unwrap();
            assert_eq!(model.tag(text, &segmentation), before);

            model.header.languages = BTreeMap::from([
                ("es".to_string(), vec!["DRUG".to_string()]),
                ("en".to_string(), vec!["PROT".to_string()]),
            ]);
            let bytes = model.to_bytes_full().unwrap();
            let mut both = Model::from_bytes(&bytes).unwrap();
            // Until a language is set, every type.
            assert_eq!(both.tag(text, &segmentation), before, "crf {crf}");
            let words = sentence_words(text, &segmentation);
            let views: Vec<&[&str]> = words.iter().map(Vec::as_slice).collect();
            let whole = both.emissions(&views).unwrap();
            for (language, kept) in [("es", "DRUG"), ("en", "PROT")] {
                both.set_language(language).unwrap();
                assert_eq!(both.language(), language);
                assert_eq!(both.labels(), [kept]);
                let entities = both.tag(text, &segmentation);
                assert_eq!(types(&entities), [kept], "crf {crf}, {language}");
                // A CRF's view scores its tags as the whole model does.
                let decoder = both.decoder().unwrap();
                let k = model.header.tags.len();
                if crf {
                    let names = model.decoder().tag_names();
                    let columns: Vec<usize> = decoder
                        .tag_names()
                        .iter()
                        .map(|t| names.iter().position(|n| n == t).unwrap())
                        .collect();
                    let cut: Vec<Vec<f32>> = whole
                        .iter()
                        .map(|row| {
                            row.chunks(k)
                                .flat_map(|word| columns.iter().map(|&c| word[c]))
                                .collect()
                        })
                        .collect();
                    assert_eq!(both.emissions(&views).unwrap(), cut);
                }
            }
            let error = both.set_language("fr").unwrap_err().to_string();
            assert!(
                error.contains("en and es") && error.contains("'fr'"),
                "{error}"
            );

            // A header naming a type the model does not tag is refused.
            model.header.languages =
                BTreeMap::from([("es".to_string(), vec!["Chemical".to_string()])]);
            let error = Model::from_bytes(&model.to_bytes_full().unwrap())
                .err()
                .unwrap()
                .to_string();
            assert!(error.contains("'Chemical'"), "{error}");
        }
    }

    #[test]
    fn learning_rate_warms_up_then_decays_to_zero() {
        let rates: Vec<f64> = (0..100).map(|s| scheduled_rate(1.0, s, 100, 10)).collect();
        assert!((rates[0] - 0.1).abs() < 1e-9);
        assert!((rates[9] - 1.0).abs() < 1e-9);
        assert!(rates[10..].windows(2).all(|w| w[1] < w[0]));
        assert!(rates[99] < 0.02);
    }

    #[test]
    fn fine_tuning_learns_and_files_round_trip() {
        let _random = exclusive_random();
        for crf in [true, false] {
            let (model, losses) = tiny_model(crf, 30);
            assert!(
                losses.last().unwrap() < &(losses[0] * 0.5),
                "crf {crf}: {losses:?}"
            );
            let text = "con acido folico y hierro";
            let entities = model.tag(text, &Segmentation::of(text));
            let found: Vec<&str> = entities.iter().map(|e| &text[e.start..e.end]).collect();
            assert_eq!(found, ["acido folico", "hierro"], "crf {crf}");

            let sentences: [&[&str]; 2] = [&["con", "ácido", "fólico"], &["PCR"]];
            let before = model.emissions(&sentences);
            let full =
                BertTagger::from_bytes(&model.to_bytes_full().unwrap(), &Device::flex()).unwrap();
            assert_eq!(before, full.emissions(&sentences));
            let half_bytes = model.to_bytes().unwrap();
            let int8_bytes = model.to_bytes_at(Precision::Int8).unwrap();
            // The header (the tokenizer) is most of a tiny model; the weights shrink by more.
            assert!(int8_bytes.len() < half_bytes.len(), "{}", int8_bytes.len());
            let int4_bytes = model.to_bytes_int4(&sentences).unwrap();
            // The linear maps' levels packed two to a byte (the embeddings keep 6 bits).
            assert!(
                int4_bytes.len() < int8_bytes.len(),
                "{} {}",
                int4_bytes.len(),
                int8_bytes.len()
            );
            for (precision, bytes, tolerance) in [
                ("f16", &half_bytes, 0.1),
                ("int8", &int8_bytes, 0.25),
                ("int4", &int4_bytes, 1.0),
            ] {
                let stored = BertTagger::from_bytes(bytes, &Device::flex()).unwrap();
                let emissions = stored.emissions(&sentences);
                let largest = before
                    .iter()
                    .flatten()
                    .zip(emissions.iter().flatten())
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                assert!(largest < tolerance, "{precision}: {largest}");
                assert!(largest > 0.0, "{precision}: stored exactly");
                let spans = |entities: &[Entity]| -> Vec<(usize, usize, String)> {
                    entities
                        .iter()
                        .map(|e| (e.start, e.end, e.label.clone()))
                        .collect()
                };
                let again = stored.tag(text, &Segmentation::of(text));
                assert_eq!(spans(&again), spans(&entities), "{precision}");
                if precision == "int8" {
                    // The 8-bit file computes its linear maps in integers on the CPU: the same
                    // file dequantized to f32 scores differently, and so does the model moved
                    // to an autodiff device, which computes in f32.
                    let mut dequantized = BertTagger::from_bytes(bytes, &Device::flex()).unwrap();
                    dequantized.set_integer_products(false);
                    let in_f32 = dequantized.emissions(&sentences);
                    assert_ne!(in_f32, emissions);
                    let moved = BertTagger::from_bytes(bytes, &Device::flex())
                        .unwrap()
                        .to_device(&Device::flex().autodiff());
                    let on_autodiff = moved.emissions(&sentences);
                    let close = in_f32
                        .iter()
                        .flatten()
                        .zip(on_autodiff.iter().flatten())
                        .all(|(a, b)| (a - b).abs() < 1e-4);
                    assert!(close, "{in_f32:?} against {on_autodiff:?}");
                    // Back on the CPU, it computes in integers again.
                    let back = moved.to_device(&Device::flex());
                    assert_eq!(back.emissions(&sentences), emissions);
                }
            }
            assert_eq!(
                Model::from_bytes(&model.to_bytes().unwrap())
                    .unwrap()
                    .architecture(),
                KIND
            );
        }
    }

    #[test]
    fn sentences_longer_than_a_window_are_tagged_whole() {
        let _random = exclusive_random();
        let (model, _) = tiny_model(true, 30);
        // 40 words, 4 pieces each at least: several windows of 16 pieces.
        let text = ["con acido folico y hierro"; 8].join(" ");
        let sentences = sentence_words(&text, &Segmentation::of(&text));
        let views: Vec<&[&str]> = sentences.iter().map(Vec::as_slice).collect();
        let emissions = model.emissions(&views);
        let k = model.decoder().tags.len();
        for (words, scores) in views.iter().zip(&emissions) {
            assert_eq!(scores.len(), words.len() * k);
        }
        let entities = model.tag(&text, &Segmentation::of(&text));
        assert_eq!(entities.len(), 16, "every repetition's two drugs");
        assert!(model.tag("", &Segmentation::of("")).is_empty());
    }

    #[test]
    fn batches_group_windows_of_similar_length() {
        let _random = exclusive_random();
        let (mut model, _) = tiny_model(true, 1);
        // Sentences of 1 to 12 words, then one of 40 (several windows of 16 pieces).
        let mut text: String = (1..=12)
            .map(|n| format!("{} hierro. ", vec!["acido"; n].join(" ")))
            .collect();
        text.push_str(&["con acido folico y hierro"; 8].join(" "));
        let segmentation = Segmentation::of(&text);
        model.set_batch_windows(1);
        let single = model.forward_passes(&text, &segmentation);
        assert!(single.iter().all(|pass| pass.len() == 1));
        model.set_batch_windows(32);
        let batched = model.forward_passes(&text, &segmentation);
        assert!(batched.len() < single.len(), "{} passes", batched.len());
        assert_eq!(batched.iter().map(Vec::len).sum::<usize>(), single.len());
        for pass in &batched {
            let real: usize = pass.iter().map(|w| w.ids.len()).sum();
            let padded = pass.len() * pass.iter().map(|w| w.ids.len()).max().unwrap();
            assert!(padded as f64 <= 1.1 * real as f64, "{padded} for {real}");
        }
        // Padding changes nothing but the order of some sums.
        let spans = |model: &BertTagger| -> Vec<(usize, usize, String)> {
            model
                .tag(&text, &segmentation)
                .into_iter()
                .map(|e| (e.start, e.end, e.label))
                .collect()
        };
        let batched_spans = spans(&model);
        model.set_batch_windows(1);
        assert_eq!(batched_spans, spans(&model));
    }

    #[test]
    fn exports_to_huggingface_layout_and_reads_back() {
        let _random = exclusive_random();
        let (model, _) = tiny_model(true, 1);
        let dir = std::env::temp_dir().join(format!("clinitag-export-{}", std::process::id()));
        export_huggingface(&model, &dir).unwrap();
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        assert_eq!(config["id2label"]["0"], "O");
        assert_eq!(
            config["label2id"].as_object().unwrap().len(),
            model.header.tags.len()
        );
        // The encoder comes back through the importer of pretrained encoders unchanged.
        let read = Pretrained::read(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let batch = PieceBatch::new(&[vec![2, 40, 41, 3]], &[vec![1, 2]], &Device::flex());
        let hidden = |encoder: &Encoder| {
            encoder
                .forward(batch.ids.clone(), batch.attention_bias.clone())
                .into_data()
                .try_into_vec::<f32>()
                .unwrap()
        };
        assert_eq!(hidden(&model.network.encoder), hidden(&read.encoder));
    }

    #[test]
    fn damaged_files_are_refused() {
        let _random = exclusive_random();
        let (model, _) = tiny_model(false, 1);
        let bytes = model.to_bytes().unwrap();
        let error = |b: &[u8]| {
            BertTagger::from_bytes(b, &Device::flex())
                .err()
                .expect("refused")
                .to_string()
        };
        assert!(error(&bytes[..bytes.len() - 3]).contains("truncated"));
        let mut flipped = bytes.clone();
        flipped[bytes.len() / 2] ^= 4;
        assert!(error(&flipped).contains("damaged"));
    }

    #[test]
    fn loading_draws_no_random_numbers() {
        let _random = exclusive_random();
        let (model, _) = tiny_model(true, 1);
        let device = Device::flex();
        let draw = || {
            burn::tensor::Tensor::<1>::random([8], burn::tensor::Distribution::Default, &device)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap()
        };
        device.seed(11);
        let untouched = draw();
        device.seed(11);
        // Both precisions: the 16-bit file is cast after loading, the full one as it is.
        for bytes in [model.to_bytes().unwrap(), model.to_bytes_full().unwrap()] {
            BertTagger::from_bytes(&bytes, &device).unwrap();
        }
        assert_eq!(
            draw(),
            untouched,
            "loading drew initial weights only to overwrite them"
        );
    }
}
