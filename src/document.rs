//! Documents and the entities found in them.

use serde::{Deserialize, Serialize};

/// An entity mention: the byte range `start..end` of the document text, its type, a
/// confidence and its normalized concept ids (SNOMED CT, `<null>` where none applies).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub start: usize,
    pub end: usize,
    pub label: String,
    pub score: f32,
    pub concepts: Vec<String>,
}

impl Entity {
    pub fn new(start: usize, end: usize, label: impl Into<String>) -> Self {
        Self {
            start,
            end,
            label: label.into(),
            score: 1.0,
            concepts: Vec::new(),
        }
    }
}

/// A text with an id (the BRAT file stem) and its entities.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Document {
    pub id: String,
    pub text: String,
    pub entities: Vec<Entity>,
}

impl Document {
    pub fn new(id: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            text: text.into(),
            entities: Vec::new(),
        }
    }

    /// The exact text of an entity.
    pub fn mention(&self, entity: &Entity) -> &str {
        &self.text[entity.start..entity.end]
    }
}
