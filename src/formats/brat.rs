//! BRAT standoff: `.ann` text-bound annotations (`T`) and `AnnotatorNotes` (`#`), which
//! PharmaCoNER uses for SNOMED CT ids, and the attributes (`A`) clinitag writes for
//! assertions. Offsets in `.ann` files count Unicode scalar values.

use crate::document::Assertion;
use crate::document::{Document, Entity};
use crate::error::{Error, Result};
use crate::text::{OffsetMap, OffsetUnit};
use std::collections::HashMap;
use std::fmt::Write;

/// A text-bound annotation as written in the file (char offsets).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BratEntity {
    pub id: String,
    pub label: String,
    /// Char offsets; a discontinuous annotation keeps its first start and last end.
    pub start: usize,
    pub end: usize,
    pub text: String,
    /// The text of every `AnnotatorNotes` line that points at this entity, in file order.
    pub notes: Vec<String>,
}

/// Parses the `T` and `AnnotatorNotes` lines of an `.ann` file; other lines (relations,
/// events, attributes) are skipped. `source_name` names the file in errors.
pub fn parse_ann(content: &str, source_name: &str) -> Result<Vec<BratEntity>> {
    let mut entities: Vec<BratEntity> = Vec::new();
    let mut notes: Vec<(usize, String, String)> = Vec::new();
    for (number, line) in content.lines().enumerate() {
        let line_number = number + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.splitn(3, '\t').collect();
        if line.starts_with('T') {
            let [id, annotation, text] = fields[..] else {
                return Err(Error::parse(
                    source_name,
                    line_number,
                    "a T line needs three tab-separated fields",
                ));
            };
            let (label, ranges) = annotation.split_once(' ').ok_or_else(|| {
                Error::parse(source_name, line_number, "expected 'TYPE START END'")
            })?;
            let mut bounds = Vec::new();
            for fragment in ranges.split(';') {
                let mut numbers = fragment.split_whitespace().map(str::parse::<usize>);
                match (numbers.next(), numbers.next(), numbers.next()) {
                    (Some(Ok(start)), Some(Ok(end)), None) if start <= end => {
                        bounds.push((start, end))
                    }
                    _ => {
                        return Err(Error::parse(
                            source_name,
                            line_number,
                            format!("bad offsets '{fragment}'"),
                        ))
                    }
                }
            }
            entities.push(BratEntity {
                id: id.to_string(),
                label: label.to_string(),
                start: bounds.iter().map(|b| b.0).min().unwrap_or(0),
                end: bounds.iter().map(|b| b.1).max().unwrap_or(0),
                text: text.to_string(),
                notes: Vec::new(),
            });
        } else if line.starts_with('#') {
            let [_, annotation, note] = fields[..] else {
                return Err(Error::parse(
                    source_name,
                    line_number,
                    "a note line needs three tab-separated fields",
                ));
            };
            if let Some(target) = annotation.strip_prefix("AnnotatorNotes ") {
                notes.push((
                    line_number,
                    target.trim().to_string(),
                    note.trim().to_string(),
                ));
            }
        }
    }
    let by_id: HashMap<String, usize> = entities
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.clone(), i))
        .collect();
    for (line_number, target, note) in notes {
        // Notes on relations or events carry no concept for an entity.
        if let Some(&index) = by_id.get(&target) {
            entities[index].notes.push(note);
        } else if target.starts_with('T') {
            return Err(Error::parse(
                source_name,
                line_number,
                format!("note points at unknown entity {target}"),
            ));
        }
    }
    Ok(entities)
}

/// A mention whose annotated text differs from the text at its offsets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MentionMismatch {
    pub id: String,
    pub annotated: String,
    pub found: String,
}

/// Builds a [`Document`] from a text and its parsed annotations. Notes become concepts.
/// Offsets past the end of the text are an error; mentions whose text differs from the
/// annotation (a known defect of a few gold files) are kept as annotated and reported.
pub fn to_document(
    id: &str,
    text: String,
    annotations: &[BratEntity],
) -> Result<(Document, Vec<MentionMismatch>)> {
    let offsets = OffsetMap::new(&text);
    let mut entities = Vec::with_capacity(annotations.len());
    let mut mismatches = Vec::new();
    for annotation in annotations {
        let (Some(start), Some(end)) = (
            offsets.to_byte(annotation.start, OffsetUnit::Char),
            offsets.to_byte(annotation.end, OffsetUnit::Char),
        ) else {
            return Err(Error::Invalid(format!(
                "{id}: entity {} ({}..{}) lies outside the text ({} characters)",
                annotation.id,
                annotation.start,
                annotation.end,
                offsets.char_len()
            )));
        };
        if text[start..end] != annotation.text {
            mismatches.push(MentionMismatch {
                id: annotation.id.clone(),
                annotated: annotation.text.clone(),
                found: text[start..end].to_string(),
            });
        }
        let mut entity = Entity::new(start, end, annotation.label.clone());
        entity.concepts = annotation.notes.clone();
        entities.push(entity);
    }
    let mut document = Document::new(id, text);
    document.entities = entities;
    Ok((document, mismatches))
}

/// The BRAT attribute that marks an assertion other than present ([`annotation_conf`]
/// declares them).
pub fn assertion_attribute(assertion: Assertion) -> Option<&'static str> {
    match assertion {
        Assertion::Present => None,
        Assertion::Negated => Some("Negation"),
        Assertion::Possible => Some("Possible"),
        Assertion::Hypothetical => Some("Hypothetical"),
        Assertion::Family => Some("Family"),
        Assertion::Historical => Some("Historical"),
    }
}

/// The `annotation.conf` of a folder of written `.ann` files: its entity types and the
/// assertion attributes.
pub fn annotation_conf<'a>(labels: impl IntoIterator<Item = &'a str>) -> String {
    let labels: std::collections::BTreeSet<&str> = labels.into_iter().collect();
    let mut out = String::from("[entities]\n");
    for label in labels {
        let _ = writeln!(out, "{label}");
    }
    out.push_str("\n[relations]\n\n[events]\n\n[attributes]\n");
    for assertion in [
        Assertion::Negated,
        Assertion::Possible,
        Assertion::Hypothetical,
        Assertion::Family,
        Assertion::Historical,
    ] {
        let name = assertion_attribute(assertion).expect("not present");
        let _ = writeln!(out, "{name}\tArg:<ENTITY>");
    }
    out
}

/// Writes a document's entities as `.ann`: one `T` line per entity (char offsets, in text
/// order), one `AnnotatorNotes` line per concept id, and an attribute (`A1\tNegation T3`) for
/// each entity the text does not assert as present.
pub fn write_ann(document: &Document) -> String {
    let offsets = OffsetMap::new(&document.text);
    let mut entities: Vec<&Entity> = document.entities.iter().collect();
    entities.sort_by(|a, b| (a.start, a.end, &a.label).cmp(&(b.start, b.end, &b.label)));
    let mut out = String::new();
    let (mut note_number, mut attribute_number) = (0, 0);
    for (index, entity) in entities.iter().enumerate() {
        let char_offset = |byte| {
            offsets
                .from_byte(byte, OffsetUnit::Char)
                .expect("entity offsets lie on char boundaries")
        };
        let mention = document.mention(entity).replace(['\n', '\r', '\t'], " ");
        let _ = writeln!(
            out,
            "T{}\t{} {} {}\t{}",
            index + 1,
            entity.label,
            char_offset(entity.start),
            char_offset(entity.end),
            mention
        );
        for concept in &entity.concepts {
            note_number += 1;
            let _ = writeln!(
                out,
                "#{note_number}\tAnnotatorNotes T{}\t{concept}",
                index + 1
            );
        }
        if let Some(attribute) = assertion_attribute(entity.assertion) {
            attribute_number += 1;
            let _ = writeln!(out, "A{attribute_number}\t{attribute} T{}", index + 1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANN: &str = "T1\tNORMALIZABLES 8 21\ttriglicéridos\n#1\tAnnotatorNotes T1\t85600001\nT2\tPROTEINAS 24 27\tPSA\nR1\tRel Arg1:T1 Arg2:T2\n";

    #[test]
    fn reads_entities_and_notes_with_char_offsets() {
        let text = "Niveles triglicéridos y PSA".to_string();
        let entities = parse_ann(ANN, "x.ann").unwrap();
        assert_eq!(entities.len(), 2);
        assert_eq!(entities[0].notes, ["85600001"]);
        let (document, mismatches) = to_document("x", text, &entities).unwrap();
        assert!(mismatches.is_empty());
        assert_eq!(document.mention(&document.entities[0]), "triglicéridos");
        assert_eq!(document.mention(&document.entities[1]), "PSA");
        assert_eq!(document.entities[0].concepts, ["85600001"]);
    }

    #[test]
    fn writes_what_it_reads() {
        let text = "Niveles triglicéridos y PSA".to_string();
        let (document, _) =
            to_document("x", text.clone(), &parse_ann(ANN, "x.ann").unwrap()).unwrap();
        let written = write_ann(&document);
        assert_eq!(written, "T1\tNORMALIZABLES 8 21\ttriglicéridos\n#1\tAnnotatorNotes T1\t85600001\nT2\tPROTEINAS 24 27\tPSA\n");
        let (again, _) = to_document("x", text, &parse_ann(&written, "x.ann").unwrap()).unwrap();
        assert_eq!(again, document);
    }

    #[test]
    fn assertions_are_written_as_declared_attributes_that_reading_skips() {
        let text = "Niveles triglicéridos y PSA".to_string();
        let (mut document, _) =
            to_document("x", text.clone(), &parse_ann(ANN, "x.ann").unwrap()).unwrap();
        document.entities.sort_by_key(|e| e.start);
        document.entities[1].assertion = Assertion::Negated;
        let written = write_ann(&document);
        assert!(written.contains("A1\tNegation T2\n"), "{written}");
        assert_eq!(written.matches("\nA").count(), 1, "{written}");
        let (again, _) = to_document("x", text, &parse_ann(&written, "x.ann").unwrap()).unwrap();
        assert_eq!(again.entities.len(), 2);
        let conf = annotation_conf(document.entities.iter().map(|e| e.label.as_str()));
        assert!(
            conf.starts_with("[entities]\nNORMALIZABLES\nPROTEINAS\n"),
            "{conf}"
        );
        assert!(
            conf.contains("[attributes]\nNegation\tArg:<ENTITY>\n"),
            "{conf}"
        );
    }

    #[test]
    fn rejects_broken_lines_and_offsets_outside_the_text() {
        let error = parse_ann("T1\tDRUG 3 x\tabc\n", "bad.ann")
            .unwrap_err()
            .to_string();
        assert_eq!(error, "bad.ann, line 1: bad offsets '3 x'");
        assert!(parse_ann("T1\tDRUG 3 4\n", "bad.ann").is_err());
        assert!(parse_ann("#1\tAnnotatorNotes T9\tx\n", "bad.ann").is_err());
        let entities = parse_ann("T1\tDRUG 3 40\tabc\n", "a.ann").unwrap();
        assert!(to_document("a", "short".into(), &entities).is_err());
        let (_, mismatches) = to_document(
            "a",
            "abcdef".into(),
            &parse_ann("T1\tD 0 2\tbc\n", "a.ann").unwrap(),
        )
        .unwrap();
        assert_eq!(mismatches[0].found, "ab");
    }
}
