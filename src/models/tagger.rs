//! What every tagger shares: the [`Tagger`] trait, the words it reads, the entity types of
//! its tags, and whether it computes on the host.

use crate::document::Entity;
use crate::tagging::Tag;
use crate::text::Segmentation;

/// Anything that finds entities in segmented text.
pub trait Tagger {
    /// Entities in `text`, which `segmentation` splits into tokens and sentences. Entities
    /// never cross a sentence and always start and end on token boundaries.
    fn tag(&self, text: &str, segmentation: &Segmentation) -> Vec<Entity>;

    /// The language the model was trained for (`es`, `en`).
    fn language(&self) -> &str;

    /// The entity types it finds, in a stable order.
    fn labels(&self) -> Vec<String>;
}

/// The words of each sentence, as the taggers read them.
pub fn sentence_words<'t>(text: &'t str, segmentation: &Segmentation) -> Vec<Vec<&'t str>> {
    segmentation
        .sentences
        .iter()
        .map(|range| {
            segmentation.tokens[range.clone()]
                .iter()
                .map(|t| &text[t.start..t.end])
                .collect()
        })
        .collect()
}

/// Entity types in order of first appearance in a tag list.
pub(crate) fn labels_of(tags: &[String]) -> Vec<String> {
    let mut labels: Vec<String> = Vec::new();
    for tag in tags {
        if let Ok(Tag {
            label: Some(label), ..
        }) = Tag::parse(tag)
        {
            if !labels.contains(&label) {
                labels.push(label);
            }
        }
    }
    labels
}

/// Whether `device` is the CPU at inference (flex, no autodiff): there the networks compute
/// some steps on the host, with kernels burn lacks or runs slowly (the LSTM's time steps,
/// GELU, the 8-bit products), on the values flex holds in memory.
pub(crate) fn computes_on_host(device: &burn::tensor::Device) -> bool {
    !device.is_autodiff() && *device == burn::tensor::Device::flex()
}
