//! A user's terminology files into an index: the one path that the command line and the
//! page share. Each file is told apart by its bytes and name: an RF2 release zip, RF2
//! release files (which together make one release), or a FHIR CodeSystem or ValueSet.

use super::index::{IndexBuilder, TermSource};
use super::selection::TermSelection;
use super::{fhir, rf2};
use crate::error::{Error, Result};

/// Terminology files being added to an index. Each becomes a source described as `name:
/// what it added`, the name first so that a page can show it alone.
pub struct TerminologyImport {
    builder: IndexBuilder,
    selection: TermSelection,
    /// RF2 files given one by one, added as one release by [`TerminologyImport::finish`].
    release: Option<(TermSource, rf2::Release)>,
}

impl TerminologyImport {
    /// Files will add the terms `selection` keeps; where it names no language, those in the
    /// index's language and in English (which the cross-lingual stage matches against).
    pub fn new(builder: IndexBuilder, mut selection: TermSelection) -> Self {
        if selection.languages.is_empty() {
            selection.languages = vec![builder.language().to_string(), "en".to_string()];
        }
        TerminologyImport {
            builder,
            selection,
            release: None,
        }
    }

    /// Adds a file by what it is: a zip is an RF2 release, JSON a FHIR resource, a `.txt`
    /// an RF2 release file. Returns what was added, in words (for a progress line).
    pub fn add_file(&mut self, name: &str, bytes: &[u8]) -> Result<String> {
        let first = bytes
            .iter()
            .copied()
            .find(|b| !b.is_ascii_whitespace() && !matches!(b, 0xEF | 0xBB | 0xBF));
        if bytes.starts_with(b"PK\x03\x04") {
            self.add_rf2_zip(name, bytes)
        } else if first == Some(b'{') {
            self.add_fhir(name, text(name, bytes)?)
        } else if name.to_ascii_lowercase().ends_with(".txt") {
            self.add_rf2_file(name, text(name, bytes)?)?;
            Ok(format!("{name}: read"))
        } else {
            Err(Error::Invalid(format!(
                "{name}: neither a SNOMED CT RF2 release (a .zip, or its .txt files) nor a FHIR \
                 CodeSystem or ValueSet (.json)"
            )))
        }
    }

    /// Adds a whole RF2 release from its zip.
    pub fn add_rf2_zip(&mut self, name: &str, bytes: &[u8]) -> Result<String> {
        let mut release = rf2::Release::default();
        release.read_zip(bytes, name)?;
        let source = self.builder.add_source(name);
        Ok(self.add_release(source, &release, base_name(name)))
    }

    /// Reads one RF2 release file; every file given this way makes one release.
    pub fn add_rf2_file(&mut self, name: &str, content: &str) -> Result<()> {
        if self.release.is_none() {
            let source = self.builder.add_source("SNOMED CT RF2");
            self.release = Some((source, rf2::Release::default()));
        }
        let (_, release) = self.release.as_mut().expect("just made");
        release.read_file(content, name)
    }

    /// Adds a FHIR CodeSystem or ValueSet.
    pub fn add_fhir(&mut self, name: &str, json: &str) -> Result<String> {
        let terminology = fhir::read_terminology(json, name)?;
        let source = self.builder.add_source(terminology.name.clone());
        let added = fhir::add_terminology(&mut self.builder, &terminology, &self.selection, source);
        let description = format!(
            "{}: {} terms of {} concepts ({}) from {name}",
            terminology.name,
            added.terms,
            added.concepts,
            self.selection.languages.join(", ")
        );
        self.builder.describe_source(source, description.clone());
        Ok(description)
    }

    /// Adds a release as `source`, described as `name: what it added`.
    fn add_release(&mut self, source: TermSource, release: &rf2::Release, name: &str) -> String {
        let added = rf2::add_release(&mut self.builder, release, &self.selection, source);
        let files: Vec<&str> = release.files.iter().map(|f| base_name(f)).collect();
        let description = format!(
            "{name}: {added} SNOMED CT descriptions ({}) from {}",
            self.selection.languages.join(", "),
            files.join(", ")
        );
        self.builder.describe_source(source, description.clone());
        description
    }

    /// The builder with every file added. RF2 files given one by one must include a
    /// description file.
    pub fn finish(mut self) -> Result<IndexBuilder> {
        if let Some((source, release)) = self.release.take() {
            if release.descriptions.is_empty() {
                return Err(Error::Invalid(format!(
                    "{}: no RF2 description file (sct2_Description_*.txt) among them",
                    release.files.join(", ")
                )));
            }
            self.add_release(source, &release, "SNOMED CT RF2");
        }
        Ok(self.builder)
    }
}

/// A file's name without its folders (those of a zip's entries too).
fn base_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

fn text<'a>(name: &str, bytes: &'a [u8]) -> Result<&'a str> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        Error::parse(name, line, "not UTF-8 text")
    })?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::fixtures::{
        FHIR_VALUE_SET as VALUE_SET, RF2_DESCRIPTIONS as DESCRIPTIONS, RF2_LANGUAGE as LANGUAGE,
    };

    #[test]
    fn files_are_told_apart_and_merge_into_one_index() {
        let mut import = TerminologyImport::new(IndexBuilder::new("es"), TermSelection::default());
        let fhir = import
            .add_file("vs.json", format!("\u{feff}\n{VALUE_SET}").as_bytes())
            .unwrap();
        assert!(fhir.contains("3 concepts (es, en)"), "{fhir}");
        import
            .add_file(
                "sct2_Description_Snapshot-es_TEST.txt",
                DESCRIPTIONS.as_bytes(),
            )
            .unwrap();
        import
            .add_file(
                "der2_cRefset_LanguageSnapshot-es_TEST.txt",
                LANGUAGE.as_bytes(),
            )
            .unwrap();
        let index = import.finish().unwrap().build().unwrap();
        let sources = &index.summary().sources;
        assert_eq!(sources.len(), 2);
        assert!(
            sources[1].contains("SNOMED CT descriptions (es, en)"),
            "{sources:?}"
        );
        // Ibuprofen comes from both, each naming it.
        let ibuprofen = index.lookup("ibuprofen").unwrap()[0];
        assert_eq!(index.concept(ibuprofen).id, "387207008");
        assert_eq!(index.concept(ibuprofen).preferred, "ibuprofeno");
        assert_eq!(index.source_names(ibuprofen.sources).len(), 2);
    }

    #[test]
    fn unknown_and_incomplete_files_are_refused_with_their_name() {
        let mut import = TerminologyImport::new(IndexBuilder::new("es"), TermSelection::default());
        let error = import.add_file("notes.pdf", b"%PDF-1.7").unwrap_err();
        assert!(
            error.to_string().starts_with("notes.pdf: neither"),
            "{error}"
        );
        let error = import.add_file("x.txt", b"ok\n\xff\xfe").unwrap_err();
        assert_eq!(error.to_string(), "x.txt, line 2: not UTF-8 text");
        import
            .add_file(
                "der2_cRefset_LanguageSnapshot-es_TEST.txt",
                LANGUAGE.as_bytes(),
            )
            .unwrap();
        let error = import.finish().err().unwrap().to_string();
        assert!(error.contains("no RF2 description file"), "{error}");
    }
}
