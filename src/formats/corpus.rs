//! Reading and writing corpora on disk: BRAT folders (`<doc>.txt` + `<doc>.ann`) and
//! subtrack 2 TSV folders. Native only.

use super::{brat, indexing};
use crate::document::Document;
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

pub fn read_to_string(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

pub fn write(path: &Path, content: &str) -> Result<()> {
    fs::write(path, content).map_err(|e| Error::io(path, e))
}

/// The files in `dir` with extension `ext`, sorted by name.
pub fn files_with_extension(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == ext) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

pub fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Whether to read the `.ann` files beside the texts of a BRAT folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Annotations {
    Read,
    /// Texts only, as for tagging: gold files present in the folder are not even opened.
    Ignore,
}

/// A BRAT folder: every `<doc>.txt`, with the entities of `<doc>.ann` when it exists and
/// `annotations` asks for them. Mentions whose text differs from their offsets are kept and
/// returned as warnings.
pub fn read_brat_dir(dir: &Path, annotations: Annotations) -> Result<(Vec<Document>, Vec<String>)> {
    let texts = files_with_extension(dir, "txt")?;
    if texts.is_empty() {
        return Err(Error::Invalid(format!(
            "{}: no .txt files in this folder",
            dir.display()
        )));
    }
    let mut documents = Vec::with_capacity(texts.len());
    let mut warnings = Vec::new();
    for path in texts {
        let id = stem(&path);
        let text = read_to_string(&path)?;
        let ann_path = path.with_extension("ann");
        let entities = if annotations == Annotations::Read && ann_path.exists() {
            brat::parse_ann(&read_to_string(&ann_path)?, &ann_path.display().to_string())?
        } else {
            Vec::new()
        };
        let (document, mismatches) = brat::to_document(&id, text, &entities)?;
        for m in mismatches {
            warnings.push(format!(
                "{id} {}: annotated '{}' but the text says '{}'",
                m.id, m.annotated, m.found
            ));
        }
        documents.push(document);
    }
    Ok((documents, warnings))
}

/// The raw `.ann` annotations of every `<doc>.ann` in `dir`, by document id: what the
/// official scorer reads (char offsets, no text needed).
pub fn read_ann_dir(dir: &Path) -> Result<BTreeMap<String, Vec<brat::BratEntity>>> {
    let mut documents = BTreeMap::new();
    for path in files_with_extension(dir, "ann")? {
        let entities = brat::parse_ann(&read_to_string(&path)?, &path.display().to_string())?;
        documents.insert(stem(&path), entities);
    }
    Ok(documents)
}

/// The codes of every `<doc>.tsv` in `dir`, by document id (the file name, as the
/// official scorer uses it), in file order.
pub fn read_tsv_dir(dir: &Path) -> Result<BTreeMap<String, Vec<String>>> {
    let mut documents = BTreeMap::new();
    for path in files_with_extension(dir, "tsv")? {
        let pairs = indexing::parse_tsv(&read_to_string(&path)?, &path.display().to_string())?;
        documents.insert(
            stem(&path),
            pairs.into_iter().map(|(_, code)| code).collect(),
        );
    }
    Ok(documents)
}

/// Writes `<doc>.ann` and `<doc>.tsv` (subtrack 2) for each document into `dir`, and the
/// `annotation.conf` that declares their types and assertion attributes.
pub fn write_brat_dir(dir: &Path, documents: &[Document]) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let labels = documents
        .iter()
        .flat_map(|d| d.entities.iter().map(|e| e.label.as_str()));
    write(&dir.join("annotation.conf"), &brat::annotation_conf(labels))?;
    for document in documents {
        write(
            &dir.join(format!("{}.ann", document.id)),
            &brat::write_ann(document),
        )?;
        write(
            &dir.join(format!("{}.tsv", document.id)),
            &indexing::write_tsv(document),
        )?;
    }
    Ok(())
}
