//! Decoding tag sequences: the linear-chain CRF (its training loss, a burn module) and
//! Viterbi search over its scores, constrained to the sequences a tagging scheme allows.

mod crf;
mod sequence;
mod viterbi;

pub(crate) use crf::Crf;
pub use crf::CrfScores;
pub use sequence::SequenceDecoder;
pub(crate) use viterbi::{marginals, viterbi};

/// The score given to transitions a scheme forbids. Finite, so that the forward algorithm
/// stays free of NaNs; large enough that no allowed path ever loses to a forbidden one.
pub(crate) const FORBIDDEN: f32 = -10_000.0;
