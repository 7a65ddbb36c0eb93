//! A rule file: trigger phrases, each with the category it asserts and the direction its
//! scope runs, read from JSON.

use crate::document::Assertion;
use serde::{Deserialize, Serialize};

/// Where a trigger's scope runs, or what else the phrase does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Over the words after it ("no toma aspirina").
    Forward,
    /// Over the words before it ("neumonía descartada").
    Backward,
    /// Both ways.
    Bidirectional,
    /// Ends the scopes of its category (of every category where it names none) that reach it
    /// ("pero", "aunque").
    Terminate,
    /// Looks like a trigger and is not one ("sin cambios", "no solo"): its words open no scope.
    Pseudo,
}

impl Direction {
    /// Whether a trigger's scope runs forward and whether backward; none for a phrase that
    /// opens no scope.
    pub(crate) fn reach(self) -> Option<(bool, bool)> {
        match self {
            Direction::Forward => Some((true, false)),
            Direction::Backward => Some((false, true)),
            Direction::Bidirectional => Some((true, true)),
            Direction::Terminate | Direction::Pseudo => None,
        }
    }
}

/// One trigger phrase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// The words, matched on whole tokens without case or accents.
    pub phrase: String,
    /// The category it asserts; for a terminating phrase, the category whose scopes it ends
    /// (none: every category's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Assertion>,
    pub direction: Direction,
}

/// The JSON of a rule file.
#[derive(Debug, Deserialize)]
pub(crate) struct RuleFile {
    pub language: String,
    /// Most tokens a scope runs over (none: to the sentence's end or start).
    #[serde(default)]
    pub max_scope: Option<usize>,
    pub rules: Vec<Rule>,
}
