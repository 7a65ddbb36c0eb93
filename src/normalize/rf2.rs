//! SNOMED CT release files (RF2), as a licensed user supplies them: the description file
//! (`sct2_Description_*.txt`) and a language reference set (`der2_cRefset_Language*.txt`)
//! that says which description is preferred, each on its own or inside the release's zip.
//! Snapshot and full files both read: where an id has several rows, the latest
//! `effectiveTime` wins.

use super::index::{IndexBuilder, TermSource};
use super::selection::TermSelection;
use crate::error::{Error, Result};
use std::collections::{HashMap, HashSet};
use std::io::Read;

pub(super) const FULLY_SPECIFIED_NAME: &str = "900000000000003001";
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
pub(super) fn split_semantic_tag(fully_specified_name: &str) -> (&str, &str) {
    let name = fully_specified_name.trim_end();
    match (name.strip_suffix(')'), name.rfind(" (")) {
        (Some(_), Some(open)) => (&name[..open], &name[open + 2..name.len() - 1]),
        _ => (name, ""),
    }
}

/// The descriptions and preferred-term flags of a release.
#[derive(Clone, Debug, Default)]
pub struct Release {
    pub descriptions: Vec<Description>,
    /// Ids of the descriptions some language reference set marks as preferred.
    pub preferred: HashSet<String>,
    /// The release files read.
    pub files: Vec<String>,
}

/// Which kind of RF2 file a name is: `Some(true)` for a description file, `Some(false)` for
/// a language reference set, with whether it is a snapshot.
fn release_file(name: &str) -> Option<(bool, bool)> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let snapshot = base.contains("Snapshot");
    if !base.ends_with(".txt") {
        None
    } else if base.starts_with("sct2_Description_") {
        Some((true, snapshot))
    } else if base.starts_with("der2_cRefset_Language") {
        Some((false, snapshot))
    } else {
        None
    }
}

impl Release {
    /// Reads one release file, a description file or a language reference set, told apart
    /// by its RF2 name (`sct2_Description_…`, `der2_cRefset_Language…`).
    pub fn read_file(&mut self, content: &str, file_name: &str) -> Result<()> {
        match release_file(file_name) {
            Some((descriptions, _)) => self.read(descriptions, content, file_name),
            None => Err(Error::Invalid(format!(
                "{file_name}: not named as an RF2 description file (sct2_Description_*.txt) \
                 or language reference set (der2_cRefset_Language*.txt)"
            ))),
        }
    }

    fn read(&mut self, descriptions: bool, content: &str, source_name: &str) -> Result<()> {
        if descriptions {
            self.descriptions
                .extend(read_descriptions(content, source_name)?);
        } else {
            self.preferred.extend(read_preferred(content, source_name)?);
        }
        self.files.push(source_name.to_string());
        Ok(())
    }

    /// Reads a release's zip: its snapshot description files and language reference sets,
    /// or its full ones where it has no snapshot. Every other file is skipped unread.
    pub fn read_zip(&mut self, bytes: &[u8], source_name: &str) -> Result<()> {
        let unreadable = |e: zip::result::ZipError| {
            Error::Invalid(format!("{source_name}: not a readable zip file ({e})"))
        };
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(unreadable)?;
        let mut names: Vec<(String, bool, bool)> = Vec::new();
        for name in archive.file_names() {
            let name = name.map_err(unreadable)?;
            if let Some((descriptions, snapshot)) = release_file(&name) {
                names.push((name.into_owned(), descriptions, snapshot));
            }
        }
        let has_snapshot = |descriptions: bool| names.iter().any(|n| n.1 == descriptions && n.2);
        if !names.iter().any(|n| n.1) {
            return Err(Error::Invalid(format!(
                "{source_name}: no SNOMED CT description file (sct2_Description_*.txt) in the zip"
            )));
        }
        for (name, descriptions, snapshot) in &names {
            if *snapshot != has_snapshot(*descriptions) {
                continue;
            }
            let mut content = String::new();
            archive
                .by_name(name)
                .map_err(unreadable)?
                .read_to_string(&mut content)
                .map_err(|e| Error::Invalid(format!("{source_name}: {name}: {e}")))?;
            self.read(*descriptions, &content, &format!("{source_name}: {name}"))?;
        }
        Ok(())
    }
}

/// Adds every description in a selected language as a term of its concept (the fully
/// specified name without its semantic tag too), and each concept's preferred term and
/// semantic tag. Returns how many descriptions were added.
pub fn add_release(
    builder: &mut IndexBuilder,
    release: &Release,
    selection: &TermSelection,
    source: TermSource,
) -> usize {
    let mut tags: HashMap<&str, &str> = HashMap::new();
    for description in release.descriptions.iter().filter(|d| d.fully_specified) {
        tags.insert(
            &description.concept_id,
            split_semantic_tag(&description.term).1,
        );
    }
    let mut added = 0;
    for description in &release.descriptions {
        let concept = description.concept_id.as_str();
        let tag = tags.get(concept).copied().unwrap_or("");
        if !selection.keeps(Some(&description.language), tag) {
            continue;
        }
        let language = Some(description.language.as_str());
        if description.fully_specified {
            let (name, tag) = split_semantic_tag(&description.term);
            builder.add_term(name, concept, 1, source);
            builder.describe_concept(concept, "", language, tag);
        } else {
            builder.add_term(&description.term, concept, 1, source);
            if release.preferred.contains(&description.id) {
                builder.describe_concept(concept, &description.term, language, "");
            }
        }
        added += 1;
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::fixtures::{RF2_DESCRIPTIONS as DESCRIPTIONS, RF2_LANGUAGE as LANGUAGE};
    use crate::normalize::{Matcher, Stage};

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

        let release = Release {
            descriptions,
            preferred,
            files: Vec::new(),
        };
        let mut builder = IndexBuilder::new("es");
        let source = builder.add_source("test release");
        let selection = TermSelection {
            languages: vec!["es".to_string()],
            semantic_tags: Vec::new(),
        };
        let added = add_release(&mut builder, &release, &selection, source);
        let descriptions = &release.descriptions;
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

    /// A release zip as SNOMED International lays it out: snapshot and full folders, other
    /// files beside them.
    fn release_zip() -> Vec<u8> {
        use std::io::Write;
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        let root = "SnomedCT_SpanishRelease_TEST";
        for (name, content) in [
            (
                "Snapshot/Terminology/sct2_Description_Snapshot-es_TEST.txt",
                DESCRIPTIONS,
            ),
            (
                "Snapshot/Refset/Language/der2_cRefset_LanguageSnapshot-es_TEST.txt",
                LANGUAGE,
            ),
            // Not read: a snapshot exists, and the text definitions are no descriptions.
            (
                "Full/Terminology/sct2_Description_Full-es_TEST.txt",
                "broken\n",
            ),
            (
                "Snapshot/Terminology/sct2_TextDefinition_Snapshot-es_TEST.txt",
                "x",
            ),
            ("Readme_es.txt", "léame"),
        ] {
            zip.start_file(format!("{root}/{name}"), options).unwrap();
            zip.write_all(content.as_bytes()).unwrap();
        }
        zip.finish().unwrap().into_inner()
    }

    #[test]
    fn reads_a_release_zip_and_refuses_other_zips() {
        let mut release = Release::default();
        release
            .read_zip(&release_zip(), "/tmp/release.zip")
            .unwrap();
        assert_eq!(release.files.len(), 2, "{:?}", release.files);
        let mut from_files = Release::default();
        from_files
            .read_file(DESCRIPTIONS, "x/sct2_Description_Snapshot-es_TEST.txt")
            .unwrap();
        from_files
            .read_file(LANGUAGE, "x/der2_cRefset_LanguageSnapshot-es_TEST.txt")
            .unwrap();
        assert_eq!(release.descriptions, from_files.descriptions);
        assert_eq!(release.preferred, from_files.preferred);

        let error = Release::default()
            .read_zip(b"PK\x03\x04 not really", "bad.zip")
            .unwrap_err();
        assert!(
            error.to_string().starts_with("bad.zip: not a readable zip"),
            "{error}"
        );
        let mut other = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        other
            .start_file("notes.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        let other = other.finish().unwrap().into_inner();
        let error = Release::default()
            .read_zip(&other, "other.zip")
            .unwrap_err();
        assert!(
            error.to_string().contains("no SNOMED CT description file"),
            "{error}"
        );
        let error = Release::default().read_file("", "notes.txt").unwrap_err();
        assert!(error.to_string().contains("not named as an RF2"), "{error}");
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
