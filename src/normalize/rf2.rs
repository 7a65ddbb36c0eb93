//! SNOMED CT release files (RF2), as a licensed user supplies them: the description file
//! (`sct2_Description_*.txt`) and a language reference set (`der2_cRefset_Language*.txt`)
//! that says which description is preferred. Snapshot and full files both read: where an id
//! has several rows, the latest `effectiveTime` wins.

use super::IndexBuilder;
use crate::error::{Error, Result};
use std::collections::{HashMap, HashSet};

const FULLY_SPECIFIED_NAME: &str = "900000000000003001";
const SYNONYM: &str = "900000000000013009";
const PREFERRED: &str = "900000000000548007";

/// One active description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description {
    pub id: String,
    pub concept_id: String,
    pub language: String,
    /// A fully specified name (`Paracetamol (substance)`) rather than a synonym.
    pub fully_specified: bool,
    pub term: String,
}

/// The rows of an RF2 file projected onto `columns`, which start with `id`, `effectiveTime`
/// and `active`: the latest version of each id, active ones only, sorted.
fn latest_active_rows<'a>(
    content: &'a str,
    source_name: &str,
    columns: &[&str],
) -> Result<Vec<Vec<&'a str>>> {
    let mut lines = content.lines().enumerate();
    let header: Vec<&str> = lines
        .next()
        .map(|(_, line)| line.trim_end_matches('\r').split('\t').collect())
        .unwrap_or_default();
    let positions: Vec<usize> = columns
        .iter()
        .map(|name| {
            header.iter().position(|h| h == name).ok_or_else(|| {
                Error::parse(
                    source_name,
                    1,
                    format!("not an RF2 file: no '{name}' column in the header"),
                )
            })
        })
        .collect::<Result<_>>()?;
    let mut latest: HashMap<&str, Vec<&str>> = HashMap::new();
    for (number, line) in lines {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() != header.len() {
            return Err(Error::parse(
                source_name,
                number + 1,
                format!("{} columns, the header has {}", fields.len(), header.len()),
            ));
        }
        let row: Vec<&str> = positions.iter().map(|&p| fields[p]).collect();
        // effectiveTime is YYYYMMDD, so text order is time order.
        match latest.get(row[0]) {
            Some(known) if known[1] >= row[1] => {}
            _ => {
                latest.insert(row[0], row);
            }
        }
    }
    let mut rows: Vec<Vec<&str>> = latest.into_values().filter(|r| r[2] == "1").collect();
    rows.sort();
    Ok(rows)
}

/// The active descriptions of a description file.
pub fn read_descriptions(content: &str, source_name: &str) -> Result<Vec<Description>> {
    let columns = [
        "id",
        "effectiveTime",
        "active",
        "conceptId",
        "languageCode",
        "typeId",
        "term",
    ];
    let rows = latest_active_rows(content, source_name, &columns)?;
    Ok(rows
        .into_iter()
        .filter(|r| r[5] == FULLY_SPECIFIED_NAME || r[5] == SYNONYM)
        .map(|r| Description {
            id: r[0].to_string(),
            concept_id: r[3].to_string(),
            language: r[4].to_string(),
            fully_specified: r[5] == FULLY_SPECIFIED_NAME,
            term: r[6].to_string(),
        })
        .collect())
}

/// The ids of the descriptions a language reference set marks as preferred.
pub fn read_preferred(content: &str, source_name: &str) -> Result<HashSet<String>> {
    let columns = [
        "id",
        "effectiveTime",
        "active",
        "referencedComponentId",
        "acceptabilityId",
    ];
    let rows = latest_active_rows(content, source_name, &columns)?;
    Ok(rows
        .into_iter()
        .filter(|r| r[4] == PREFERRED)
        .map(|r| r[3].to_string())
        .collect())
}

/// `Paracetamol (substance)` → (`Paracetamol`, `substance`).
fn split_semantic_tag(fully_specified_name: &str) -> (&str, &str) {
    let name = fully_specified_name.trim_end();
    match (name.strip_suffix(')'), name.rfind(" (")) {
        (Some(_), Some(open)) => (&name[..open], &name[open + 2..name.len() - 1]),
        _ => (name, ""),
    }
}

/// Adds every description in `language` as a term of its concept (the fully specified name
/// without its semantic tag too), and each concept's preferred term and semantic tag.
/// Returns how many descriptions were added.
pub fn add_release(
    builder: &mut IndexBuilder,
    descriptions: &[Description],
    preferred: &HashSet<String>,
    language: &str,
) -> usize {
    let mut added = 0;
    for description in descriptions.iter().filter(|d| d.language == language) {
        let concept = &description.concept_id;
        if description.fully_specified {
            let (name, tag) = split_semantic_tag(&description.term);
            builder.add_term(name, concept, 1);
            builder.describe_concept(concept, "", tag);
        } else {
            builder.add_term(&description.term, concept, 1);
            if preferred.contains(&description.id) {
                builder.describe_concept(concept, &description.term, "");
            }
        }
        added += 1;
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::{Matcher, Stage};

    const DESCRIPTIONS: &str =
        include_str!("../../tests/fixtures/rf2/sct2_Description_Snapshot-es_TEST.txt");
    const LANGUAGE: &str =
        include_str!("../../tests/fixtures/rf2/der2_cRefset_LanguageSnapshot-es_TEST.txt");

    #[test]
    fn reads_a_release_into_an_index() {
        let descriptions = read_descriptions(DESCRIPTIONS, "descriptions").unwrap();
        // The inactive synonym and the superseded version of another are gone.
        assert!(descriptions
            .iter()
            .all(|d| d.term != "acetaminofeno retirado"));
        assert!(descriptions
            .iter()
            .all(|d| d.term != "ibuprofeno (antiguo)"));
        let preferred = read_preferred(LANGUAGE, "language").unwrap();
        assert!(preferred.contains("1000002"));

        let mut builder = IndexBuilder::new("es");
        let added = add_release(&mut builder, &descriptions, &preferred, "es");
        assert_eq!(
            added,
            descriptions.iter().filter(|d| d.language == "es").count()
        );
        let matcher = Matcher::new(builder.build().unwrap());

        let found = matcher.candidates("Acetaminofén");
        assert_eq!(found[0].concept.id, "387517004");
        assert_eq!(found[0].concept.preferred, "paracetamol");
        assert_eq!(found[0].concept.semantic_tag, "sustancia");
        assert_eq!(found[0].stage, Stage::Exact);
        assert_eq!(matcher.candidates("ibuprofeno")[0].concept.id, "387207008");
        // English descriptions stay out of a Spanish index (the fuzzy stage may still find
        // `acetaminofén` for the English word, but never as an exact term).
        assert!(matcher.index().lookup("acetaminophen").is_none());
        assert_ne!(matcher.candidates("acetaminophen")[0].stage, Stage::Exact);
    }

    #[test]
    fn a_file_that_is_not_rf2_is_refused() {
        let error = read_descriptions("T1\tNORMALIZABLES 0 4\tsome\n", "x.ann").unwrap_err();
        assert!(error.to_string().contains("not an RF2 file"), "{error}");
        let short_row = "id\teffectiveTime\tactive\tconceptId\tlanguageCode\ttypeId\tterm\n1\t2\n";
        assert!(read_descriptions(short_row, "d.txt")
            .unwrap_err()
            .to_string()
            .contains("line 2"));
    }
}
