//! The Bi-LSTM-CRF tagger (extended NeuroNER): loading, saving and tagging around the
//! network in [`network`], which is a pure burn module on a runtime [`Device`].

mod features;
mod network;
#[cfg(not(target_arch = "wasm32"))]
pub mod train;

pub use features::{word_key, Affix, Lexicon, Vocabulary};
pub use network::NetworkConfig;

use crate::container::{self, Kind};
use crate::decoding::{CrfScores, SequenceDecoder};
use crate::document::Entity;
use crate::error::{Error, Result};
use crate::models::precision::{load_weights, write_model_file, Precision};
use crate::models::tagger::{labels_of, sentence_words, Tagger};
use crate::tagging::{Scheme, Tag, TokenSpan};
use crate::text::Segmentation;
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use features::Batch;
use network::BiLstmCrf;
use serde::{Deserialize, Serialize};

pub(crate) const KIND: &str = "bilstm-crf";

/// Sentences per forward pass when tagging.
const BATCH_SENTENCES: usize = 32;

/// Everything about a model but its weights; the JSON header of its file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Header {
    pub kind: String,
    pub language: String,
    pub scheme: String,
    pub tags: Vec<String>,
    pub network: NetworkConfig,
    pub vocabulary: Vocabulary,
    /// Provenance: how the model was trained and what it scored on dev.
    #[serde(default)]
    pub training: serde_json::Value,
    /// Its weight in an ensemble when the caller gives none (see [`super::Model::ensemble`]).
    #[serde(
        default = "crate::models::precision::unit_weight",
        skip_serializing_if = "crate::models::precision::is_unit_weight"
    )]
    pub ensemble_weight: f32,
}

pub struct BiLstmCrfTagger {
    header: Header,
    network: BiLstmCrf,
    /// The tags and the CRF's scores on the host, read once: Viterbi runs on the CPU
    /// whatever the device.
    decoder: SequenceDecoder,
    device: Device,
}

impl BiLstmCrfTagger {
    fn new(header: Header, network: BiLstmCrf, device: &Device) -> Result<Self> {
        let scheme: Scheme = header.scheme.parse().map_err(Error::Model)?;
        let tags = header
            .tags
            .iter()
            .map(|t| Tag::parse(t).map_err(|e| Error::Model(e.to_string())))
            .collect::<Result<Vec<_>>>()?;
        let scores = network.crf.scores();
        Ok(Self {
            header,
            network,
            decoder: SequenceDecoder {
                scheme,
                tags,
                scores,
            },
            device: device.clone(),
        })
    }

    /// The tag set and CRF constraints of `scheme` over `labels`.
    fn tag_set(scheme: Scheme, labels: &[String]) -> (Vec<Tag>, CrfScores) {
        let decoder = SequenceDecoder::constrained(scheme, labels);
        (decoder.tags, decoder.scores)
    }

    /// Loads a model file's bytes onto `device`.
    pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<Self> {
        let container = container::read(Kind::Model, bytes)?;
        let mut header: Header = serde_json::from_slice(container.header)
            .map_err(|e| Error::Model(format!("bad model header: {e}")))?;
        if header.kind != KIND {
            return Err(Error::Model(format!(
                "a '{}' model, not a {KIND} model",
                header.kind
            )));
        }
        header.vocabulary.index();
        let scheme: Scheme = header.scheme.parse().map_err(Error::Model)?;
        let labels = labels_of(&header.tags);
        let (tags, constraints) = Self::tag_set(scheme, &labels);
        if tags.len() != header.network.tags
            || header.vocabulary.words.len() != header.network.words
            || header.vocabulary.chars.len() != header.network.chars
        {
            return Err(Error::Model(
                "the header's vocabularies do not match its network sizes".into(),
            ));
        }
        let (network, _) = load_weights(
            BiLstmCrf::new(&header.network, constraints, &Device::flex()),
            container.weights,
            device,
        )?;
        Self::new(header, network, device)
    }

    /// The model file: header and weights, stored as 16-bit floats.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.to_bytes_at(Precision::Half)
    }

    /// The model file with full-precision weights (training checkpoints).
    pub fn to_bytes_full(&self) -> Result<Vec<u8>> {
        self.to_bytes_at(Precision::Full)
    }

    /// The model file with its weights stored at `precision`.
    pub fn to_bytes_at(&self, precision: Precision) -> Result<Vec<u8>> {
        write_model_file(&self.header, self.network.clone(), precision)
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The same model on another device.
    pub fn to_device(self, device: &Device) -> Self {
        Self {
            network: self.network.to_device(device),
            device: device.clone(),
            ..self
        }
    }

    /// Emission scores for each sentence (`tokens × tags`, row-major), computed in batches.
    pub fn emissions(&self, sentences: &[&[&str]]) -> Vec<Vec<f32>> {
        let mut out = vec![Vec::new(); sentences.len()];
        for (chunk, scores) in self.emission_batches(sentences) {
            let time = scores.dims()[1];
            self.scatter(sentences, &chunk, time, scores.into_data(), &mut out);
        }
        out
    }

    /// [`Self::emissions`] for devices that can only be read asynchronously (WebGPU in the
    /// browser, where a blocking read would stall the page's event loop forever).
    pub async fn emissions_async(&self, sentences: &[&[&str]]) -> Result<Vec<Vec<f32>>> {
        let mut out = vec![Vec::new(); sentences.len()];
        for (chunk, scores) in self.emission_batches(sentences) {
            let time = scores.dims()[1];
            let values = scores
                .into_data_async()
                .await
                .map_err(|e| Error::Model(format!("cannot read scores from the device: {e:?}")))?;
            self.scatter(sentences, &chunk, time, values, &mut out);
        }
        Ok(out)
    }

    /// Sentences grouped by length into batches, each with its emission scores (not yet
    /// read back from the device).
    fn emission_batches<'s>(
        &'s self,
        sentences: &'s [&[&str]],
    ) -> impl Iterator<Item = (Vec<usize>, Tensor<3>)> + 's {
        let mut order: Vec<usize> = (0..sentences.len()).collect();
        order.sort_by_key(|&i| sentences[i].len());
        let chunks: Vec<Vec<usize>> = order.chunks(BATCH_SENTENCES).map(<[_]>::to_vec).collect();
        chunks.into_iter().map(move |chunk| {
            let batch_sentences: Vec<&[&str]> = chunk.iter().map(|&i| sentences[i]).collect();
            let batch = Batch::new(
                &batch_sentences,
                &self.header.vocabulary,
                &self.device,
                |w| w,
            );
            let scores = self.network.emissions(&batch);
            (chunk, scores)
        })
    }

    /// Copies a batch's scores `[batch, time, tags]` into each of its sentences' rows.
    fn scatter(
        &self,
        sentences: &[&[&str]],
        chunk: &[usize],
        time: usize,
        values: TensorData,
        out: &mut [Vec<f32>],
    ) {
        let values: Vec<f32> = values.try_into_vec_as::<f32>().expect("float emissions");
        let k = self.decoder.tags.len();
        for (row, &i) in chunk.iter().enumerate() {
            let len = sentences[i].len();
            out[i] = values[row * time * k..(row * time + len) * k].to_vec();
        }
    }

    /// [`Tagger::tag`] for devices read asynchronously.
    pub async fn tag_async(&self, text: &str, segmentation: &Segmentation) -> Result<Vec<Entity>> {
        let sentences = sentence_words(text, segmentation);
        let views: Vec<&[&str]> = sentences.iter().map(Vec::as_slice).collect();
        let emissions = self.emissions_async(&views).await?;
        Ok(self.decoder.entities(segmentation, &emissions))
    }

    /// The best tag sequence's entities with their confidences (see [`SequenceDecoder`]).
    pub fn decode(&self, emissions: &[f32], len: usize) -> Vec<(TokenSpan, f32)> {
        self.decoder.decode(emissions, len)
    }

    /// The tags and CRF scores that decode this model's emissions.
    pub fn decoder(&self) -> &SequenceDecoder {
        &self.decoder
    }

    /// Decoded tag indices and their names, for writing CoNLL.
    pub fn tag_names(&self) -> Vec<String> {
        self.decoder.tag_names()
    }
}

impl Tagger for BiLstmCrfTagger {
    fn tag(&self, text: &str, segmentation: &Segmentation) -> Vec<Entity> {
        let sentences = sentence_words(text, segmentation);
        let views: Vec<&[&str]> = sentences.iter().map(Vec::as_slice).collect();
        let emissions = self.emissions(&views);
        self.decoder.entities(segmentation, &emissions)
    }

    fn language(&self) -> &str {
        &self.header.language
    }

    fn labels(&self) -> Vec<String> {
        labels_of(&self.header.tags)
    }
}

// Trains small models, which only the native build can (training code stays out of wasm).
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::train::{train, LabelledSentence, TrainingConfig};
    use super::*;
    use crate::decoding::viterbi;

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
        use crate::models::training::{Checkpoints, Progress};
        let _random = crate::models::random::exclusive_random();
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
                (tagger.emissions(&sentences), tagger.decoder.scores.clone())
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
        let _random = crate::models::random::exclusive_random();
        let model = tiny_model();
        let sentences: [&[&str]; 2] = [&["Tratamiento", "con", "ácido", "fólico"], &["PCR"]];
        let before = model.emissions(&sentences);
        let reloaded =
            BiLstmCrfTagger::from_bytes(&model.to_bytes_full().unwrap(), &Device::flex()).unwrap();
        assert_eq!(before, reloaded.emissions(&sentences));
        assert_eq!(model.decoder.scores, reloaded.decoder.scores);

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
        let _random = crate::models::random::exclusive_random();
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
        let _random = crate::models::random::exclusive_random();
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
