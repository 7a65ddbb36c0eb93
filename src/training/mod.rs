//! Training the taggers of [`crate::models`], natively (the browser only tags): the epoch loop
//! that every architecture shares ([`epochs`]), the Bi-LSTM-CRF ([`bilstm_crf`]) with its
//! subword embeddings ([`embeddings`]), and the BERT ([`bert`]) from a pretrained encoder
//! ([`pretrained`], [`e5`]) whose vocabulary can be fitted to the domain ([`vocabulary`]).

pub mod bert;
pub mod bilstm_crf;
pub mod e5;
pub mod embeddings;
pub mod epochs;
pub mod pretrained;
pub mod vocabulary;

pub use epochs::{labelled_sentences, Checkpoints, EpochReport, LabelledSentence, Progress};
pub use pretrained::Pretrained;
