//! What every architecture's training shares: labelled sentences, progress reports and
//! checkpoint folders.

use crate::tagging::{align_entities, TokenSpan};
use crate::text::Segmentation;
use crate::Document;
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
