//! The matcher's settings. Each index stores those it was built with (its summary), so they
//! sit below both the index and the matcher.

use serde::{Deserialize, Serialize};

/// The matcher's settings, chosen on the PharmaCoNER dev set (see models/README.md).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatcherConfig {
    /// Shortest key, in characters, searched at edit distance 1.
    pub distance_one_from: usize,
    /// Shortest key searched at edit distance 2.
    pub distance_two_from: usize,
    /// Lowest similarity (normalised Damerau-Levenshtein over token-sorted keys) that the
    /// fuzzy stage accepts; above 1 turns the stage off.
    pub fuzzy_threshold: f64,
    pub max_candidates: usize,
    /// Shortest key, in characters, that the cross-lingual stage looks up.
    #[serde(default = "default_cross_lingual_from")]
    pub cross_lingual_from: usize,
}

fn default_cross_lingual_from() -> usize {
    MatcherConfig::default().cross_lingual_from
}

impl Default for MatcherConfig {
    fn default() -> Self {
        MatcherConfig {
            distance_one_from: 5,
            distance_two_from: 10,
            fuzzy_threshold: 0.85,
            max_candidates: 5,
            cross_lingual_from: 5,
        }
    }
}
