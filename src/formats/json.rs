//! JSON output: entities with start, end, type, text, score and concepts, with offsets in
//! the unit the consumer counts in (chars for Python/BRAT, UTF-16 for JavaScript).

use crate::document::Document;
use crate::text::{OffsetMap, OffsetUnit};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JsonEntity {
    pub start: usize,
    pub end: usize,
    #[serde(rename = "type")]
    pub label: String,
    pub text: String,
    pub score: f32,
    pub concepts: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JsonDocument {
    pub id: String,
    /// "byte", "char" or "utf16".
    pub offsets: String,
    pub entities: Vec<JsonEntity>,
}

fn unit_name(unit: OffsetUnit) -> &'static str {
    match unit {
        OffsetUnit::Byte => "byte",
        OffsetUnit::Char => "char",
        OffsetUnit::Utf16 => "utf16",
    }
}

/// A document's entities with offsets converted to `unit`, in text order.
pub fn to_json(document: &Document, unit: OffsetUnit) -> JsonDocument {
    let offsets = OffsetMap::new(&document.text);
    let convert = |byte| {
        offsets
            .from_byte(byte, unit)
            .expect("entity offsets lie on char boundaries")
    };
    let mut entities: Vec<JsonEntity> = document
        .entities
        .iter()
        .map(|entity| JsonEntity {
            start: convert(entity.start),
            end: convert(entity.end),
            label: entity.label.clone(),
            text: document.mention(entity).to_string(),
            score: entity.score,
            concepts: entity.concepts.clone(),
        })
        .collect();
    entities.sort_by_key(|e| (e.start, e.end));
    JsonDocument {
        id: document.id.clone(),
        offsets: unit_name(unit).to_string(),
        entities,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Entity;

    #[test]
    fn offsets_follow_the_requested_unit() {
        let mut document = Document::new("d", "🧪 ácido fólico");
        let start = document.text.find("ácido").unwrap();
        document
            .entities
            .push(Entity::new(start, document.text.len(), "NORMALIZABLES"));
        let chars = to_json(&document, OffsetUnit::Char);
        assert_eq!((chars.entities[0].start, chars.entities[0].end), (2, 14));
        let utf16 = to_json(&document, OffsetUnit::Utf16);
        assert_eq!((utf16.entities[0].start, utf16.entities[0].end), (3, 15));
        assert_eq!(utf16.entities[0].text, "ácido fólico");
        let json = serde_json::to_string(&utf16).unwrap();
        assert!(json.contains("\"type\":\"NORMALIZABLES\""), "{json}");
        assert_eq!(serde_json::from_str::<JsonDocument>(&json).unwrap(), utf16);
    }
}
