//! JSON output: a document's entities as every door gives them ([`Mention`]: start, end,
//! type, text, score, concept, assertion, cue), with the unit their offsets count in.

use crate::document::Mention;
use crate::text::OffsetUnit;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JsonDocument {
    pub id: String,
    /// "byte", "char" or "utf16".
    pub offsets: String,
    pub entities: Vec<Mention>,
}

impl JsonDocument {
    pub fn new(id: impl Into<String>, unit: OffsetUnit, entities: Vec<Mention>) -> Self {
        JsonDocument {
            id: id.into(),
            offsets: unit_name(unit).to_string(),
            entities,
        }
    }
}

fn unit_name(unit: OffsetUnit) -> &'static str {
    match unit {
        OffsetUnit::Byte => "byte",
        OffsetUnit::Char => "char",
        OffsetUnit::Utf16 => "utf16",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::ConceptMatch;

    #[test]
    fn a_document_reads_back_as_written_with_its_unit_and_field_names() {
        let mention = Mention {
            start: 3,
            end: 15,
            label: "NORMALIZABLES".into(),
            text: "ácido fólico".into(),
            score: 0.75,
            concept: Some(ConceptMatch {
                id: "63718003".into(),
                preferred: "ácido fólico".into(),
                score: 1.0,
                stage: "exact".into(),
                term: "acido folico".into(),
                sources: vec!["PharmaCoNER train".into()],
            }),
            assertion: crate::document::Assertion::Negated,
            cue: Some(crate::document::Cue {
                start: 0,
                end: 2,
                text: "no".into(),
            }),
        };
        let document = JsonDocument::new("d", OffsetUnit::Utf16, vec![mention]);
        let json = serde_json::to_string(&document).unwrap();
        assert!(json.contains("\"offsets\":\"utf16\""), "{json}");
        assert!(json.contains("\"type\":\"NORMALIZABLES\""), "{json}");
        assert!(json.contains("\"concept\":{\"id\":\"63718003\""), "{json}");
        assert!(json.contains("\"assertion\":\"negated\""), "{json}");
        assert_eq!(
            serde_json::from_str::<JsonDocument>(&json).unwrap(),
            document
        );
        let without = JsonDocument::new(
            "e",
            OffsetUnit::Char,
            vec![Mention {
                concept: None,
                ..document.entities[0].clone()
            }],
        );
        let json = serde_json::to_string(&without).unwrap();
        assert!(json.contains("\"concept\":null"), "{json}");
    }
}
