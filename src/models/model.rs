//! [`Model`]: a tagger of any architecture, as loaded from its file, or several read as one.

use super::bert::{self, BertTagger};
use super::bilstm_crf::{self, BiLstmCrfTagger};
use super::dictionary::DictionaryTagger;
use super::ensemble::{Ensemble, Neural};
use super::neural::NeuralTagger;
use super::tagger::Tagger;
use crate::container::{self, Kind};
use crate::decoding::SequenceDecoder;
use crate::document::Entity;
use crate::error::{Error, Result};
use crate::text::Segmentation;

/// A model of any architecture, as loaded from its file, or several read as one.
pub enum Model {
    BiLstmCrf(Box<BiLstmCrfTagger>),
    Bert(Box<BertTagger>),
    Dictionary(DictionaryTagger),
    Ensemble(Box<Ensemble>),
}

impl Model {
    /// Loads any clinitag model from the bytes of its file, recognised by its header, onto the
    /// CPU. Move it with [`Model::to_device`]: loading reads some weights back to the host,
    /// which a browser's GPU only allows asynchronously.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.is_empty() {
            return Err(Error::Model("the model file is empty".into()));
        }
        if bytes.starts_with(Kind::Model.magic()) {
            let device = burn::tensor::Device::flex();
            #[derive(serde::Deserialize)]
            struct Architecture {
                kind: String,
            }
            // Read and checked once; each architecture then reads its own header from it.
            let container = container::read(Kind::Model, bytes)?;
            let architecture: Architecture = serde_json::from_slice(container.header)
                .map_err(|e| Error::Model(format!("bad model header: {e}")))?;
            return match architecture.kind.as_str() {
                bert::KIND => Ok(Model::Bert(Box::new(BertTagger::from_container(
                    container, &device,
                )?))),
                bilstm_crf::KIND => Ok(Model::BiLstmCrf(Box::new(
                    BiLstmCrfTagger::from_container(container, &device)?,
                ))),
                other => Err(Error::Model(format!(
                    "a '{other}' model, which this build does not know"
                ))),
            };
        }
        if bytes.first() == Some(&b'{') {
            return Ok(Model::Dictionary(DictionaryTagger::from_bytes(bytes)?));
        }
        Err(Error::Model(
            "unrecognised model format (not a clinitag model file)".into(),
        ))
    }

    /// Several models read as one (see [`Ensemble`]), weighted by `weights`, one for each
    /// model, or else each by its own [`Model::ensemble_weight`]; a single model is returned
    /// as it is.
    pub fn ensemble(models: Vec<Model>, weights: Option<&[f32]>) -> Result<Self> {
        if let Some(weights) = weights.filter(|weights| weights.len() != models.len()) {
            return Err(Error::Model(format!(
                "{} weights for {} models",
                weights.len(),
                models.len()
            )));
        }
        let mut members: Vec<(Model, f32)> = models
            .into_iter()
            .enumerate()
            .map(|(i, model)| {
                let weight = weights.map_or_else(|| model.ensemble_weight(), |w| w[i]);
                (model, weight)
            })
            .collect();
        if members.len() == 1 {
            return Ok(members.remove(0).0);
        }
        let members = members
            .into_iter()
            .map(|(model, weight)| match model {
                Model::BiLstmCrf(model) => Ok((Neural::BiLstmCrf(model), weight)),
                Model::Bert(model) => Ok((Neural::Bert(model), weight)),
                other => Err(Error::Model(format!(
                    "an ensemble combines neural models' tag probabilities, which a {} model lacks",
                    other.architecture()
                ))),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Model::Ensemble(Box::new(Ensemble::new(members)?)))
    }

    /// The weight the model takes in an ensemble when the caller gives none: what its file
    /// says (chosen on dev with the language's other shipped model; see
    /// [`with_ensemble_weight`]), else 1.
    pub fn ensemble_weight(&self) -> f32 {
        match self {
            Model::BiLstmCrf(model) => model.header().ensemble_weight,
            Model::Bert(model) => model.header().ensemble_weight,
            Model::Dictionary(_) | Model::Ensemble(_) => 1.0,
        }
    }

    /// Reads `language`'s text from now on: a model trained on several languages tags that
    /// language's entity types alone (see [`BertTagger::set_language`]); a model of one
    /// language is left as it is. Set it before building an ensemble, whose members must
    /// then agree.
    pub fn set_language(&mut self, language: &str) -> Result<()> {
        match self {
            Model::Bert(model) => model.set_language(language),
            Model::BiLstmCrf(_) | Model::Dictionary(_) | Model::Ensemble(_) => Ok(()),
        }
    }

    /// The same model computing on `device` (models without tensors stay as they are).
    pub fn to_device(self, device: &burn::tensor::Device) -> Self {
        match self {
            Model::BiLstmCrf(model) => Model::BiLstmCrf(Box::new(model.to_device(device))),
            Model::Bert(model) => Model::Bert(Box::new(model.to_device(device))),
            Model::Ensemble(model) => Model::Ensemble(Box::new(model.to_device(device))),
            other => other,
        }
    }

    /// Whether the model computes with tensors, and so can move to a GPU.
    pub fn computes_on_devices(&self) -> bool {
        match self {
            Model::BiLstmCrf(_) | Model::Bert(_) | Model::Ensemble(_) => true,
            Model::Dictionary(_) => false,
        }
    }

    /// The architecture's name, as in `clinitag train --arch`, or `ensemble`.
    pub fn architecture(&self) -> &'static str {
        match self {
            Model::BiLstmCrf(_) => bilstm_crf::KIND,
            Model::Bert(_) => bert::KIND,
            Model::Dictionary(_) => "dictionary",
            Model::Ensemble(_) => "ensemble",
        }
    }

    /// [`Tagger::tag`] that reads results back asynchronously, as the browser's GPU requires.
    pub async fn tag_async(&self, text: &str, segmentation: &Segmentation) -> Result<Vec<Entity>> {
        match self {
            Model::BiLstmCrf(model) => model.tag_async(text, segmentation).await,
            Model::Bert(model) => model.tag_async(text, segmentation).await,
            Model::Dictionary(model) => Ok(model.tag(text, segmentation)),
            Model::Ensemble(model) => model.tag_async(text, segmentation).await,
        }
    }

    /// Emission scores for each sentence (`words × tags`, row-major), for neural models.
    pub fn emissions(&self, sentences: &[&[&str]]) -> Option<Vec<Vec<f32>>> {
        match self {
            Model::BiLstmCrf(model) => Some(model.emissions(sentences)),
            Model::Bert(model) => Some(model.emissions(sentences)),
            Model::Dictionary(_) | Model::Ensemble(_) => None,
        }
    }

    /// [`Self::emissions`] read back asynchronously; an error for a dictionary.
    pub async fn emissions_async(&self, sentences: &[&[&str]]) -> Result<Vec<Vec<f32>>> {
        match self {
            Model::BiLstmCrf(model) => model.emissions_async(sentences).await,
            Model::Bert(model) => model.emissions_async(sentences).await,
            Model::Dictionary(_) | Model::Ensemble(_) => Err(Error::Model(format!(
                "a {} has no emission scores of its own",
                self.architecture()
            ))),
        }
    }

    /// The tags and transition scores that decode a neural model's emissions.
    pub fn decoder(&self) -> Option<&SequenceDecoder> {
        match self {
            Model::BiLstmCrf(model) => Some(model.decoder()),
            Model::Bert(model) => Some(model.decoder()),
            Model::Dictionary(_) | Model::Ensemble(_) => None,
        }
    }

    fn as_tagger(&self) -> &(dyn Tagger + Send + Sync) {
        match self {
            Model::BiLstmCrf(model) => model.as_ref(),
            Model::Bert(model) => model.as_ref(),
            Model::Dictionary(model) => model,
            Model::Ensemble(model) => model.as_ref(),
        }
    }
}

impl Tagger for Model {
    fn tag(&self, text: &str, segmentation: &Segmentation) -> Vec<Entity> {
        self.as_tagger().tag(text, segmentation)
    }

    fn language(&self) -> &str {
        self.as_tagger().language()
    }

    fn labels(&self) -> Vec<String> {
        self.as_tagger().labels()
    }
}

/// Loads any clinitag model from the bytes of its file onto the CPU.
pub fn load(bytes: &[u8]) -> Result<Box<dyn Tagger + Send + Sync>> {
    Ok(Box::new(Model::from_bytes(bytes)?))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::models::precision::with_ensemble_weight;

    #[test]
    fn loads_any_architecture_with_its_ensemble_weight() {
        let read = |name: &str| {
            std::fs::read(format!("{}/models/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
        };
        let file = read("bilstm-crf-es.clinitag");
        let model = Model::from_bytes(&file).unwrap();
        assert_eq!(
            (model.architecture(), model.ensemble_weight()),
            (bilstm_crf::KIND, 1.0)
        );
        let weighted = with_ensemble_weight(&file, 2.5).unwrap();
        assert_eq!(Model::from_bytes(&weighted).unwrap().ensemble_weight(), 2.5);
        let dictionary = Model::from_bytes(&read("dictionary-es.json")).unwrap();
        assert_eq!(dictionary.architecture(), "dictionary");
        for bad in [&b""[..], b"\x00\x01garbage", &file[..file.len() / 2]] {
            assert!(Model::from_bytes(bad).is_err());
        }
    }
}
