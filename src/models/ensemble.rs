//! Several neural taggers read as one: each member's CRF turns its emission scores into the
//! marginal probability of every tag at every word, the members' marginals are averaged
//! (weighted), and the scheme's constrained Viterbi decodes their logarithms.
//!
//! Averaging probabilities rather than raw emissions matters: a Bi-LSTM-CRF's and a BERT's
//! emissions live on different scales and each is only meaningful under its own transition
//! scores, while marginals are comparable across models. Both members must read the same
//! words (every model here tags the words of [`sentence_words`]) and share a scheme and a
//! tag set, so the tags line up by name.

use super::bert::BertTagger;
use super::bilstm_crf::BiLstmCrfTagger;
use super::neural::NeuralTagger;
use super::tagger::{sentence_words, Tagger};
use crate::decoding::{marginals, SequenceDecoder};
use crate::document::Entity;
use crate::error::{Error, Result};
use crate::text::Segmentation;

/// The floor under averaged probabilities before their logarithm: a tag no member believes
/// in stays possible, so a path always exists, but is never chosen over one they do.
const FLOOR: f32 = 1e-9;

/// A tagger whose CRF gives tag probabilities, which an ensemble can average.
pub enum Neural {
    BiLstmCrf(Box<BiLstmCrfTagger>),
    Bert(Box<BertTagger>),
}

impl Neural {
    fn tagger(&self) -> &(dyn Tagger + Send + Sync) {
        match self {
            Neural::BiLstmCrf(model) => model.as_ref(),
            Neural::Bert(model) => model.as_ref(),
        }
    }

    fn decoder(&self) -> &SequenceDecoder {
        match self {
            Neural::BiLstmCrf(model) => model.decoder(),
            Neural::Bert(model) => model.decoder(),
        }
    }

    fn emissions(&self, sentences: &[&[&str]]) -> Vec<Vec<f32>> {
        match self {
            Neural::BiLstmCrf(model) => model.emissions(sentences),
            Neural::Bert(model) => model.emissions(sentences),
        }
    }

    async fn emissions_async(&self, sentences: &[&[&str]]) -> Result<Vec<Vec<f32>>> {
        match self {
            Neural::BiLstmCrf(model) => model.emissions_async(sentences).await,
            Neural::Bert(model) => model.emissions_async(sentences).await,
        }
    }

    fn moved_to(self, device: &burn::tensor::Device) -> Self {
        match self {
            Neural::BiLstmCrf(model) => Neural::BiLstmCrf(Box::new(model.to_device(device))),
            Neural::Bert(model) => Neural::Bert(Box::new(model.to_device(device))),
        }
    }
}

pub struct Ensemble {
    members: Vec<Member>,
    /// The first member's tags and the scheme's constraints alone: the members' own
    /// transition scores are already inside their marginals.
    decoder: SequenceDecoder,
    language: String,
}

struct Member {
    model: Neural,
    weight: f32,
    /// `order[i]`: where the member's tag `i` sits in the ensemble's tag order.
    order: Vec<usize>,
}

impl Ensemble {
    /// An ensemble of `models` with the given weights (normalized to sum to one).
    pub fn new(models: Vec<(Neural, f32)>) -> Result<Self> {
        let mut models = models.into_iter();
        let Some((first, first_weight)) = models.next() else {
            return Err(Error::Model("an ensemble needs at least one model".into()));
        };
        let reference = first.decoder();
        let labels = first.tagger().labels();
        let decoder = SequenceDecoder::constrained(reference.scheme, &labels);
        let language = first.tagger().language().to_string();
        let mut members = vec![(first, first_weight)];
        members.extend(models);
        let total: f32 = members.iter().map(|(_, w)| *w).sum();
        if members.iter().any(|(_, w)| w.is_nan() || *w <= 0.0) || !total.is_finite() {
            return Err(Error::Model("ensemble weights must be positive".into()));
        }
        let members = members
            .into_iter()
            .map(|(model, weight)| {
                let own = model.decoder();
                if own.scheme != decoder.scheme || model.tagger().language() != language {
                    return Err(Error::Model(format!(
                        "cannot combine a {} {:?} model with a {language} {:?} model",
                        model.tagger().language(),
                        own.scheme,
                        decoder.scheme
                    )));
                }
                let order = own
                    .tags
                    .iter()
                    .map(|tag| decoder.tags.iter().position(|t| t == tag))
                    .collect::<Option<Vec<usize>>>()
                    .filter(|order| order.len() == decoder.tags.len())
                    .ok_or_else(|| {
                        Error::Model(format!(
                            "cannot combine models that find different entity types ({} and {})",
                            labels.join(", "),
                            model.tagger().labels().join(", ")
                        ))
                    })?;
                Ok(Member {
                    model,
                    weight: weight / total,
                    order,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            members,
            decoder,
            language,
        })
    }

    /// The same ensemble computing on `device`.
    pub fn to_device(self, device: &burn::tensor::Device) -> Self {
        Self {
            members: self
                .members
                .into_iter()
                .map(|m| Member {
                    model: m.model.moved_to(device),
                    ..m
                })
                .collect(),
            ..self
        }
    }

    /// [`Tagger::tag`] that reads results back asynchronously, as the browser's GPU requires.
    pub async fn tag_async(&self, text: &str, segmentation: &Segmentation) -> Result<Vec<Entity>> {
        let sentences = sentence_words(text, segmentation);
        let views: Vec<&[&str]> = sentences.iter().map(Vec::as_slice).collect();
        let mut combined = self.empty(&views);
        for member in &self.members {
            let emissions = member.model.emissions_async(&views).await?;
            self.add(member, &views, &emissions, &mut combined);
        }
        Ok(self.decoder.entities(segmentation, &logarithms(combined)))
    }

    fn empty(&self, sentences: &[&[&str]]) -> Vec<Vec<f32>> {
        let k = self.decoder.tags.len();
        sentences.iter().map(|s| vec![0.0; s.len() * k]).collect()
    }

    /// Adds one member's weighted marginals, in the ensemble's tag order, to `combined`.
    fn add(
        &self,
        member: &Member,
        sentences: &[&[&str]],
        emissions: &[Vec<f32>],
        combined: &mut [Vec<f32>],
    ) {
        let scores = &member.model.decoder().scores;
        let k = self.decoder.tags.len();
        for ((sentence, emissions), sum) in sentences.iter().zip(emissions).zip(combined) {
            let probabilities = marginals(emissions, sentence.len(), scores);
            for (word, row) in probabilities.chunks(k).enumerate() {
                for (i, p) in row.iter().enumerate() {
                    sum[word * k + member.order[i]] += member.weight * p;
                }
            }
        }
    }
}

fn logarithms(probabilities: Vec<Vec<f32>>) -> Vec<Vec<f32>> {
    probabilities
        .into_iter()
        .map(|row| row.into_iter().map(|p| p.max(FLOOR).ln()).collect())
        .collect()
}

impl Tagger for Ensemble {
    fn tag(&self, text: &str, segmentation: &Segmentation) -> Vec<Entity> {
        let sentences = sentence_words(text, segmentation);
        let views: Vec<&[&str]> = sentences.iter().map(Vec::as_slice).collect();
        let mut combined = self.empty(&views);
        for member in &self.members {
            let emissions = member.model.emissions(&views);
            self.add(member, &views, &emissions, &mut combined);
        }
        self.decoder.entities(segmentation, &logarithms(combined))
    }

    fn language(&self) -> &str {
        &self.language
    }

    fn labels(&self) -> Vec<String> {
        self.members[0].model.tagger().labels()
    }
}
