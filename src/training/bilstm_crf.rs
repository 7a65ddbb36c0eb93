//! Training a Bi-LSTM-CRF: Adam on burn's autodiff, dropout, word dropout, early stopping on
//! a development score, fixed seeds, and checkpoints to resume from.

use super::embeddings::SubwordEmbeddings;
use super::epochs::{
    run_epochs, shuffled_batches, Checkpoints, EpochLimits, EpochTrainer, LabelledSentence,
    Progress,
};
use crate::error::{Error, Result};
use crate::models::bilstm_crf::features::{word_key, Batch, Lexicon, Vocabulary, PADDING, UNKNOWN};
use crate::models::bilstm_crf::network::{BiLstmCrf, NetworkConfig};
use crate::models::bilstm_crf::{BiLstmCrfTagger, Header, KIND};
use crate::models::NeuralTagger;
use crate::tagging::Scheme;
use burn::grad_clipping::GradientClippingConfig;
use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Bytes, Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A training sentence as tag ids.
struct Example<'a> {
    tokens: Vec<&'a str>,
    tags: Vec<usize>,
    /// Tag ids that may stand in for its outside tags (see [`crate::decoding::Crf::nll`]).
    open: Vec<usize>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainingConfig {
    pub language: String,
    pub scheme: Scheme,
    /// Entity types to learn, in tag-set order.
    pub labels: Vec<String>,
    pub word_dim: usize,
    pub char_dim: usize,
    pub char_hidden: usize,
    pub shape_dim: usize,
    pub lexical_dim: usize,
    pub hidden: usize,
    pub dropout: f64,
    /// Probability of replacing a word seen once in training by the unknown word.
    pub word_dropout: f64,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub max_epochs: usize,
    /// Stop after this many epochs without a better development score.
    pub patience: usize,
    pub seed: u64,
    /// After an epoch that does not improve the development score, the learning rate is
    /// multiplied by this (1: constant), so that training settles instead of wandering.
    #[serde(default = "no_decay")]
    pub lr_decay: f64,
    /// Keep pretrained word vectors fixed, so that words seen only in the unlabelled text
    /// stay where the words seen in training are.
    #[serde(default)]
    pub freeze_embeddings: bool,
    /// Largest number of pretrained words added to the vocabulary beyond the training words.
    pub max_pretrained_words: usize,
}

impl TrainingConfig {
    pub fn new(language: &str, labels: Vec<String>) -> Self {
        Self {
            language: language.to_string(),
            scheme: Scheme::Bmewov,
            labels,
            word_dim: 100,
            char_dim: 25,
            char_hidden: 25,
            shape_dim: 8,
            lexical_dim: 8,
            hidden: 100,
            dropout: 0.5,
            word_dropout: 0.3,
            batch_size: 16,
            learning_rate: 0.002,
            max_epochs: 40,
            patience: 6,
            seed: 1,
            freeze_embeddings: false,
            lr_decay: 1.0,
            max_pretrained_words: 60_000,
        }
    }
}

fn no_decay() -> f64 {
    1.0
}

/// Trains a model on `train` and returns the one with the best `dev_score` (higher is better).
pub fn train(
    train: &[LabelledSentence],
    config: &TrainingConfig,
    lexicon: Lexicon,
    pretrained: Option<&SubwordEmbeddings>,
    checkpoints: Option<&Checkpoints>,
    dev_score: &mut dyn FnMut(&BiLstmCrfTagger) -> f64,
    progress: &mut dyn FnMut(Progress),
) -> Result<BiLstmCrfTagger> {
    let device = Device::flex().autodiff();
    device.seed(config.seed);

    let (tags, constraints) = BiLstmCrfTagger::tag_set(config.scheme, &config.labels);
    let tag_ids: HashMap<_, usize> = tags.iter().cloned().zip(0..).collect();
    let mut examples: Vec<Example> = Vec::new();
    for sentence in train {
        let encoding = config.scheme.encode(sentence.tokens.len(), &sentence.spans);
        let ids = encoding.tags.iter().map(|t| tag_ids.get(t).copied());
        // A tag outside the label set (an entity type not being learned) reads as outside.
        let tag_ids: Vec<usize> = ids.map(|id| id.unwrap_or(0)).collect();
        let open = (0..tags.len())
            .filter(|&j| {
                tags[j]
                    .label
                    .as_ref()
                    .is_some_and(|label| sentence.unannotated.contains(label))
            })
            .collect();
        examples.push(Example {
            tokens: sentence.tokens.iter().map(String::as_str).collect(),
            tags: tag_ids,
            open,
        });
    }

    let mut vocabulary = build_vocabulary(train, pretrained, config.max_pretrained_words);
    let lexical_dim = if lexicon.is_empty() {
        0
    } else {
        config.lexical_dim
    };
    vocabulary.lexicon = lexicon;
    let network_config = NetworkConfig {
        words: vocabulary.words.len(),
        chars: vocabulary.chars.len(),
        tags: tags.len(),
        word_dim: pretrained.map_or(config.word_dim, SubwordEmbeddings::dim),
        char_dim: config.char_dim,
        char_hidden: config.char_hidden,
        shape_dim: config.shape_dim,
        hidden: config.hidden,
        dropout: config.dropout,
        lexical_dim,
    };
    let header = Header {
        kind: KIND.to_string(),
        language: config.language.clone(),
        scheme: config.scheme.name().to_string(),
        tags: tags.iter().map(|t| config.scheme.format(t)).collect(),
        network: network_config.clone(),
        vocabulary,
        training: serde_json::json!({
            "config": config,
            "pretrained_embeddings": pretrained.is_some(),
            "sentences": train.len(),
        }),
        ensemble_weight: 1.0,
    };
    let mut model = BiLstmCrf::new(&network_config, constraints, &device);
    if let Some(embeddings) = pretrained {
        model.word_embedding.weight =
            Param::from_tensor(pretrained_matrix(&header.vocabulary, embeddings, &device));
    }
    if config.freeze_embeddings && pretrained.is_some() {
        model.word_embedding = model.word_embedding.no_grad();
    }
    let singletons = singleton_word_ids(train, &header.vocabulary);
    let mut epochs = BiLstmCrfEpochs {
        config,
        header,
        examples,
        singletons,
        model,
        optimizer: AdamConfig::new()
            .with_grad_clipping(Some(GradientClippingConfig::Norm(5.0)))
            .init(),
        device,
        batches: Vec::new(),
        frozen_embeddings: config.freeze_embeddings && pretrained.is_some(),
    };
    let limits = EpochLimits {
        max_epochs: config.max_epochs,
        patience: config.patience,
        seed: config.seed,
    };
    let trained = run_epochs(&mut epochs, limits, checkpoints, dev_score, progress)?;
    let mut tagger = BiLstmCrfTagger::from_bytes(&trained.best, &Device::flex())?;
    trained.note(&mut tagger.header.training);
    Ok(tagger)
}

/// The Bi-LSTM-CRF's side of [`run_epochs`]: the network on the autodiff device, its
/// sentences, and Adam with word dropout.
struct BiLstmCrfEpochs<'a> {
    config: &'a TrainingConfig,
    header: Header,
    examples: Vec<Example<'a>>,
    singletons: HashMap<u32, ()>,
    model: BiLstmCrf,
    optimizer: ModuleOptimizer,
    device: Device,
    /// The current epoch's batches of sentence indices.
    batches: Vec<Vec<usize>>,
    /// Pretrained word vectors kept fixed (`freeze_embeddings`), also once resumed.
    frozen_embeddings: bool,
}

/// What Bi-LSTM-CRF training carries from epoch to epoch.
#[derive(Default, Serialize, Deserialize)]
struct BiLstmCrfState {
    /// The learning rate of the next epoch (absent in checkpoints of older builds).
    #[serde(default)]
    learning_rate: Option<f64>,
}

impl EpochTrainer for BiLstmCrfEpochs<'_> {
    type Tagger = BiLstmCrfTagger;
    type State = BiLstmCrfState;

    fn start_epoch(&mut self, rng: &mut fastrand::Rng, device_seed: u64) -> usize {
        self.device.seed(device_seed);
        let examples = &self.examples;
        self.batches = shuffled_batches(examples.len(), self.config.batch_size, rng, |i| {
            examples[i].tokens.len() / 4
        });
        self.batches.len()
    }

    fn train_batch(
        &mut self,
        index: usize,
        rng: &mut fastrand::Rng,
        state: &mut BiLstmCrfState,
    ) -> Result<f32> {
        let config = self.config;
        let learning_rate = state.learning_rate.unwrap_or(config.learning_rate);
        let (examples, batch_indices) = (&self.examples, &self.batches[index]);
        let sentences: Vec<&[&str]> = batch_indices
            .iter()
            .map(|&i| examples[i].tokens.as_slice())
            .collect();
        let gold: Vec<Vec<usize>> = batch_indices
            .iter()
            .map(|&i| examples[i].tags.clone())
            .collect();
        let open: Vec<Vec<usize>> = batch_indices
            .iter()
            .map(|&i| examples[i].open.clone())
            .collect();
        let singletons = &self.singletons;
        let batch = Batch::new(&sentences, &self.header.vocabulary, &self.device, |word| {
            if singletons.contains_key(&word) && rng.f64() < config.word_dropout {
                UNKNOWN
            } else {
                word
            }
        });
        let loss = self.model.loss(&batch, &gold, &open);
        let value: f32 = loss.clone().into_scalar();
        let gradients = GradientsParams::from_grads(loss.backward(), &self.model);
        self.model = self
            .optimizer
            .step(learning_rate, self.model.clone(), gradients);
        Ok(value)
    }

    /// After an epoch without a better score, the learning rate decays (`lr_decay`).
    fn epoch_scored(&mut self, state: &mut BiLstmCrfState, best: bool) {
        let learning_rate = state.learning_rate.unwrap_or(self.config.learning_rate);
        state.learning_rate = Some(if best {
            learning_rate
        } else {
            learning_rate * self.config.lr_decay
        });
    }

    fn tagger(&self) -> Result<BiLstmCrfTagger> {
        BiLstmCrfTagger::new(self.header.clone(), self.model.valid(), &Device::flex())
    }

    fn tagger_bytes(tagger: &BiLstmCrfTagger) -> Result<Vec<u8>> {
        tagger.to_bytes_full()
    }

    fn optimizer_states(&self) -> Result<Vec<(&'static str, Bytes)>> {
        let bytes = self
            .optimizer
            .into_bytes()
            .map_err(|e| Error::Model(format!("cannot save the optimizer: {e}")))?;
        Ok(vec![("optimizer.bin", bytes)])
    }

    fn resume(&mut self, latest: &[u8], read: &dyn Fn(&str) -> Result<Vec<u8>>) -> Result<()> {
        self.model = BiLstmCrfTagger::from_bytes(latest, &self.device)?.network;
        if self.frozen_embeddings {
            self.model.word_embedding = self.model.word_embedding.clone().no_grad();
        }
        self.optimizer = self
            .optimizer
            .clone()
            .from_bytes(Bytes::from_bytes_vec(read("optimizer.bin")?))
            .map_err(|e| Error::Model(format!("bad optimizer checkpoint: {e}")))?;
        Ok(())
    }
}

/// Training words and characters, plus the most frequent pretrained words.
fn build_vocabulary(
    train: &[LabelledSentence],
    pretrained: Option<&SubwordEmbeddings>,
    max_pretrained: usize,
) -> Vocabulary {
    let mut word_counts: HashMap<String, usize> = HashMap::new();
    let mut char_counts: HashMap<char, usize> = HashMap::new();
    for token in train.iter().flat_map(|s| &s.tokens) {
        *word_counts.entry(word_key(token)).or_default() += 1;
        for c in token.chars() {
            *char_counts.entry(c).or_default() += 1;
        }
    }
    let mut words: Vec<String> = word_counts.into_keys().collect();
    words.sort();
    let mut seen: std::collections::HashSet<String> = words.iter().cloned().collect();
    if let Some(embeddings) = pretrained {
        for word in embeddings.words().take(max_pretrained) {
            if seen.insert(word.to_string()) {
                words.push(word.to_string());
            }
        }
    }
    let mut chars: Vec<char> = char_counts.into_keys().collect();
    chars.sort();
    Vocabulary::new(words, chars)
}

/// Word ids seen exactly once in training: the candidates for word dropout.
fn singleton_word_ids(train: &[LabelledSentence], vocabulary: &Vocabulary) -> HashMap<u32, ()> {
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for token in train.iter().flat_map(|s| &s.tokens) {
        *counts.entry(vocabulary.word_id(token)).or_default() += 1;
    }
    counts
        .into_iter()
        .filter(|&(id, c)| c == 1 && id != UNKNOWN && id != PADDING)
        .map(|(id, _)| (id, ()))
        .collect()
}

/// The embedding matrix for a vocabulary: every word's subword vector (padding and the
/// unknown word start at zero).
fn pretrained_matrix(
    vocabulary: &Vocabulary,
    embeddings: &SubwordEmbeddings,
    device: &Device,
) -> Tensor<2> {
    let dim = embeddings.dim();
    let mut values = vec![0f32; vocabulary.words.len() * dim];
    for (i, word) in vocabulary.words.iter().enumerate().skip(2) {
        values[i * dim..(i + 1) * dim].copy_from_slice(&embeddings.vector(word));
    }
    Tensor::from_data(
        TensorData::new(values, [vocabulary.words.len(), dim]),
        device,
    )
}

// Tiny models trained here test tagging, loading and storing as well as training.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::decoding::viterbi;
    use crate::models::bilstm_crf::Affix;
    use crate::models::random::exclusive_random;
    use crate::models::{Precision, Tagger};
    use crate::tagging::{Tag, TokenSpan};
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

    fn tiny_data() -> Vec<LabelledSentence> {
        vec![
            sentence("Se administró paracetamol por vía oral", &[(2, 3, "DRUG")]),
            sentence(
                "Tratamiento con ácido fólico y hierro",
                &[(2, 4, "DRUG"), (5, 6, "DRUG")],
            ),
            sentence("Niveles de PCR elevados", &[(2, 3, "PROT")]),
            sentence("Sin fiebre ni dolor", &[]),
        ]
    }

    fn tiny_config() -> TrainingConfig {
        let mut config = TrainingConfig::new("es", vec!["DRUG".into(), "PROT".into()]);
        config.hidden = 8;
        config.max_epochs = 3;
        config.word_dropout = 0.0;
        config
    }

    fn tiny_lexicon() -> Lexicon {
        Lexicon {
            names: ["paracetamol".to_string()].into_iter().collect(),
            affixes: vec![(Affix::Suffix, "ina".into())],
        }
    }

    /// A model trained for a few epochs on a handful of sentences.
    fn tiny_model() -> BiLstmCrfTagger {
        let config = tiny_config();
        train(
            &tiny_data(),
            &config,
            tiny_lexicon(),
            None,
            None,
            &mut |_| 0.0,
            &mut |_| {},
        )
        .unwrap()
    }

    #[test]
    fn a_run_stopped_within_an_epoch_resumes_where_it_stood() {
        let _random = exclusive_random();
        // A batch a sentence, word dropout drawing from the epoch's generator, and no
        // dropout masks (the device's generator, which a checkpoint cannot hold).
        let mut config = tiny_config();
        config.batch_size = 1;
        config.dropout = 0.0;
        config.word_dropout = 0.5;
        let data = tiny_data();
        let dir = tempfile::tempdir().unwrap();
        let run = |name: &str, every: u64, resume: bool, progress: &mut dyn FnMut(Progress)| {
            let checkpoints = Checkpoints {
                dir: dir.path().join(name),
                resume,
                every: std::time::Duration::from_secs(every),
            };
            let tagger = train(
                &data,
                &config,
                tiny_lexicon(),
                None,
                Some(&checkpoints),
                // A score that moves with the weights: the best epoch is not always the first.
                &mut |tagger| tagger.emissions(&[&["PCR"]])[0][1] as f64,
                progress,
            )
            .unwrap();
            let state: serde_json::Value =
                serde_json::from_slice(&std::fs::read(checkpoints.dir.join("state.json")).unwrap())
                    .unwrap();
            let losses: Vec<f64> = state["history"]
                .as_array()
                .unwrap()
                .iter()
                .map(|epoch| epoch["loss"].as_f64().unwrap())
                .collect();
            let latest = std::fs::read(checkpoints.dir.join("latest.clinitag")).unwrap();
            let latest = BiLstmCrfTagger::from_bytes(&latest, &Device::flex()).unwrap();
            // The best epoch's model and the last one's (their files hold parameter ids drawn
            // afresh, and the best's notes timings, so not their bytes), and the epochs' losses.
            let sentences: [&[&str]; 2] = [&["Tratamiento", "con", "ácido", "fólico"], &["PCR"]];
            let scores = |tagger: &BiLstmCrfTagger| {
                (
                    tagger.emissions(&sentences),
                    tagger.decoder().scores.clone(),
                )
            };
            (scores(&tagger), scores(&latest), losses)
        };
        let uninterrupted = run("uninterrupted", 3600, false, &mut |_| {});

        // Saved after every batch; the folder is copied as a stopped run would leave it
        // after the second batch of the first epoch (no best model yet) and after the third
        // of the second.
        let stops = [(1, 2), (2, 3)];
        let mut epoch = 0;
        let every_batch = run("every-batch", 0, false, &mut |progress| match progress {
            Progress::Start { epoch: e, .. } => epoch = e,
            Progress::Checkpoint { done } if stops.contains(&(epoch, done)) => {
                let copy = dir.path().join(format!("stopped-{epoch}-{done}"));
                std::fs::create_dir(&copy).unwrap();
                for file in std::fs::read_dir(dir.path().join("every-batch")).unwrap() {
                    let file = file.unwrap().path();
                    std::fs::copy(&file, copy.join(file.file_name().unwrap())).unwrap();
                }
            }
            _ => {}
        });
        // Saving does not change the training.
        assert_eq!(every_batch, uninterrupted);

        for (stopped_epoch, stopped_after) in stops {
            let mut starts = Vec::new();
            let resumed = run(
                &format!("stopped-{stopped_epoch}-{stopped_after}"),
                3600,
                true,
                &mut |progress| {
                    if let Progress::Start { epoch, done, .. } = progress {
                        starts.push((epoch, done));
                    }
                },
            );
            assert_eq!(starts[0], (stopped_epoch, stopped_after));
            assert_eq!(starts.len(), 4 - stopped_epoch);
            assert_eq!(
                resumed.0, uninterrupted.0,
                "stopped in epoch {stopped_epoch}"
            );
            assert!(
                resumed.1 == uninterrupted.1,
                "stopped in epoch {stopped_epoch}"
            );
            assert_eq!(
                resumed.2, uninterrupted.2,
                "stopped in epoch {stopped_epoch}"
            );
        }
    }

    #[test]
    fn save_and_load_give_identical_outputs() {
        let _random = exclusive_random();
        let model = tiny_model();
        let sentences: [&[&str]; 2] = [&["Tratamiento", "con", "ácido", "fólico"], &["PCR"]];
        let before = model.emissions(&sentences);
        let reloaded =
            BiLstmCrfTagger::from_bytes(&model.to_bytes_full().unwrap(), &Device::flex()).unwrap();
        assert_eq!(before, reloaded.emissions(&sentences));
        assert_eq!(model.decoder().scores, reloaded.decoder().scores);

        // The shipped 16-bit file moves emission scores by rounding only.
        let half =
            BiLstmCrfTagger::from_bytes(&model.to_bytes().unwrap(), &Device::flex()).unwrap();
        let after = half.emissions(&sentences);
        let largest = before
            .iter()
            .flatten()
            .zip(after.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(largest < 0.05, "{largest}");
        assert!(model.to_bytes().unwrap().len() < model.to_bytes_full().unwrap().len());

        // 8-bit matrices: smaller again, and close.
        let int8_bytes = model.to_bytes_at(Precision::Int8).unwrap();
        assert!(int8_bytes.len() < model.to_bytes().unwrap().len());
        let int8 = BiLstmCrfTagger::from_bytes(&int8_bytes, &Device::flex()).unwrap();
        let largest = before
            .iter()
            .flatten()
            .zip(int8.emissions(&sentences).iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(largest > 0.0 && largest < 0.2, "{largest}");
    }

    #[test]
    fn tags_text_on_token_boundaries_with_confidences() {
        let _random = exclusive_random();
        let model = tiny_model();
        let text = "Tratamiento con ácido fólico y hierro.";
        let entities = model.tag(text, &Segmentation::of(text));
        for entity in &entities {
            assert!(text.is_char_boundary(entity.start) && text.is_char_boundary(entity.end));
            assert!((0.0..=1.0).contains(&entity.score), "{}", entity.score);
        }
        assert!(model.tag("", &Segmentation::of("")).is_empty());
    }

    #[test]
    fn v_tags_decode_to_nested_entities() {
        // Emissions that favour B-A V-B V-B E-A O: an A entity with a B entity inside.
        let labels = ["A".to_string(), "B".to_string()];
        let (tags, constraints) = BiLstmCrfTagger::tag_set(Scheme::Bmewov, &labels);
        let wanted = ["B-A", "V-B", "V-B", "E-A", "O"];
        let k = tags.len();
        let mut emissions = vec![0f32; wanted.len() * k];
        for (t, name) in wanted.iter().enumerate() {
            let j = tags
                .iter()
                .position(|x| *x == Tag::parse(name).unwrap())
                .unwrap();
            emissions[t * k + j] = 5.0;
        }
        let (path, _) = viterbi(&emissions, wanted.len(), &constraints);
        let decoded: Vec<Tag> = path.iter().map(|&j| tags[j].clone()).collect();
        assert_eq!(
            Scheme::Bmewov.decode(&decoded),
            [TokenSpan::new(0, 4, "A"), TokenSpan::new(1, 3, "B")]
        );

        // Emissions that favour an ill-formed sequence still decode to a well-formed one.
        let mut bad = vec![0f32; 2 * k];
        let m = tags
            .iter()
            .position(|x| *x == Tag::parse("M-A").unwrap())
            .unwrap();
        bad[m] = 5.0;
        bad[k + m] = 5.0;
        let (path, _) = viterbi(&bad, 2, &constraints);
        assert!(Scheme::Bmewov.may_start(&tags[path[0]]));
        assert!(Scheme::Bmewov.may_end(&tags[path[1]]));
    }

    #[test]
    fn foreign_and_damaged_files_are_refused() {
        let _random = exclusive_random();
        let bytes = tiny_model().to_bytes().unwrap();
        let error = |b: &[u8]| {
            BiLstmCrfTagger::from_bytes(b, &Device::flex())
                .err()
                .expect("refused")
                .to_string()
        };
        assert!(error(&bytes[..bytes.len() / 2]).contains("truncated"));
        assert!(error(b"{\"format\": \"clinitag-dictionary\"}").contains("not a clinitag model"));
        let mut flipped = bytes.clone();
        flipped[bytes.len() - 10] ^= 1;
        assert!(error(&flipped).contains("damaged"));
    }
}
