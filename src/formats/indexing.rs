//! PharmaCoNER subtrack 2 TSV: `doc<TAB>code`, the concept ids of a document.

use crate::document::Document;
use crate::error::{Error, Result};

/// Parses `doc<TAB>code` lines into (doc, code) pairs in file order.
pub fn parse_tsv(content: &str, source_name: &str) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for (number, line) in content.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match line.split('\t').collect::<Vec<_>>()[..] {
            [doc, code] if !doc.is_empty() && !code.trim().is_empty() => {
                pairs.push((doc.to_string(), code.trim().to_string()))
            }
            _ => {
                return Err(Error::parse(
                    source_name,
                    number + 1,
                    "expected 'DOCUMENT<TAB>CODE'",
                ))
            }
        }
    }
    Ok(pairs)
}

/// The unique concept ids of a document's entities, in text order, as subtrack 2 TSV.
pub fn write_tsv(document: &Document) -> String {
    let mut entities: Vec<_> = document.entities.iter().collect();
    entities.sort_by_key(|e| (e.start, e.end));
    let mut seen = std::collections::HashSet::new();
    let mut out = String::new();
    for code in entities.iter().flat_map(|e| &e.concepts) {
        if seen.insert(code) {
            out.push_str(&format!("{}\t{code}\n", document.id));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Entity;

    #[test]
    fn writes_unique_codes_and_reads_them_back() {
        let mut document = Document::new("S1", "aspirina y AAS");
        for (start, end) in [(0, 8), (11, 14)] {
            let mut entity = Entity::new(start, end, "NORMALIZABLES");
            entity.concepts = vec!["387458008".into()];
            document.entities.push(entity);
        }
        let tsv = write_tsv(&document);
        assert_eq!(tsv, "S1\t387458008\n");
        assert_eq!(
            parse_tsv(&tsv, "S1.tsv").unwrap(),
            [("S1".to_string(), "387458008".to_string())]
        );
        assert!(parse_tsv("S1 387458008\n", "S1.tsv").is_err());
    }
}
