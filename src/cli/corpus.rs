//! Loading inputs and models for the subcommands.

use anyhow::{bail, Context, Result};
use clinitag::formats::corpus::Annotations;
use clinitag::formats::{conll, corpus};
use clinitag::models::{self, Tagger};
use clinitag::text::Segmentation;
use clinitag::Document;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};

/// What a path holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// A folder of .txt files is BRAT, a .tsv/.conll/.iob file CoNLL, anything else plain text.
    Auto,
    Text,
    Brat,
    Conll,
}

/// Documents with their segmentation; CoNLL documents keep their given tokens.
pub struct Corpus {
    pub format: InputFormat,
    pub documents: Vec<(Document, Segmentation)>,
    /// CoNLL input, kept to write predictions back onto the same tokens.
    pub conll: Option<Vec<conll::ConllSentence>>,
}

pub fn resolve_format(path: &Path, format: InputFormat) -> InputFormat {
    if format != InputFormat::Auto {
        return format;
    }
    if path.is_dir() {
        InputFormat::Brat
    } else if path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "tsv" | "conll" | "iob" | "bio" | "iobes"))
    {
        InputFormat::Conll
    } else {
        InputFormat::Text
    }
}

/// Reads a path (or `-` for standard input text) as documents; a BRAT folder's `.ann`
/// files are read only when `annotations` asks for them.
pub fn read(path: &Path, format: InputFormat, annotations: Annotations) -> Result<Corpus> {
    let format = resolve_format(path, format);
    let mut corpus = Corpus {
        format,
        documents: Vec::new(),
        conll: None,
    };
    match format {
        InputFormat::Brat => {
            let (documents, warnings) = corpus::read_brat_dir(path, annotations)?;
            for warning in warnings {
                eprintln!("warning: {warning}");
            }
            corpus.documents = documents
                .into_iter()
                .map(|d| {
                    let segmentation = Segmentation::of(&d.text);
                    (d, segmentation)
                })
                .collect();
        }
        InputFormat::Conll => {
            let name = path.display().to_string();
            let sentences = conll::parse_conll(&corpus::read_to_string(path)?, &name)?;
            if sentences.is_empty() {
                bail!("{name}: no tokens in this CoNLL file");
            }
            corpus
                .documents
                .push(conll::to_document(&corpus::stem(path), &sentences));
            corpus.conll = Some(sentences);
        }
        InputFormat::Text | InputFormat::Auto => {
            let (id, text) = if path.as_os_str() == "-" {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                    .context("reading standard input")?;
                ("stdin".to_string(), text)
            } else {
                (corpus::stem(path), corpus::read_to_string(path)?)
            };
            let segmentation = Segmentation::of(&text);
            corpus
                .documents
                .push((Document::new(id, text), segmentation));
        }
    }
    Ok(corpus)
}

/// Writes a model or index file, creating its folder if needed.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// A text file, decompressed if its name ends in `.gz`.
pub fn read_text(path: &Path) -> Result<String> {
    if path.extension().is_some_and(|e| e == "gz") {
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(file), &mut text)
            .with_context(|| format!("decompressing {}", path.display()))?;
        Ok(text)
    } else {
        Ok(corpus::read_to_string(path)?)
    }
}

/// `dir/sub` if it exists (a PharmaCoNER split folder), else `dir`.
pub fn subfolder(dir: &Path, sub: &str) -> PathBuf {
    let nested = dir.join(sub);
    if nested.is_dir() {
        nested
    } else {
        dir.to_path_buf()
    }
}

/// The best shipped model for a language, in the current folder or in the source tree this
/// binary was built from: `models/bilstm-crf-<lang>.clinitag`, else the dictionary baseline
/// `models/dictionary-<lang>.json`.
pub fn default_model(language: &str) -> Result<PathBuf> {
    let names = [
        format!("models/bilstm-crf-{language}.clinitag"),
        format!("models/dictionary-{language}.json"),
    ];
    let roots = [Path::new("."), Path::new(env!("CARGO_MANIFEST_DIR"))];
    names
        .iter()
        .flat_map(|name| roots.iter().map(move |root| root.join(name)))
        .find(|p| p.is_file())
        .with_context(|| {
            format!(
                "no model given and none of {} found; pass --model FILE",
                names.join(", ")
            )
        })
}

fn read_model(path: &Path) -> Result<models::Model> {
    let bytes = std::fs::read(path).with_context(|| format!("reading model {}", path.display()))?;
    models::Model::from_bytes(&bytes).with_context(|| format!("loading model {}", path.display()))
}

/// One model, or an ensemble of several with their weights (each file's own when none are
/// given), reading `language`'s text (a model of several languages tags its types alone).
pub fn load_model(paths: &[PathBuf], weights: &[f32], language: &str) -> Result<models::Model> {
    if !weights.is_empty() && weights.len() != paths.len() {
        bail!("{} weights for {} models", weights.len(), paths.len());
    }
    if paths.len() == 1 && !weights.is_empty() {
        bail!("--weights weighs the models of an ensemble; give two --model or more");
    }
    let mut members = Vec::new();
    for path in paths {
        let mut model = read_model(path)?;
        model
            .set_language(language)
            .with_context(|| format!("model {}", path.display()))?;
        members.push(model);
    }
    let weights = (!weights.is_empty()).then_some(weights);
    Ok(models::Model::ensemble(members, weights)?)
}

/// A progress bar for `len` items, drawn on a terminal only.
pub fn progress(len: usize, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>10} [{bar:40}] {pos}/{len} {elapsed_precise} eta {eta}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_message(message);
    bar
}

/// Tags every document in place with a model alone (no propagation, no concepts: how a
/// model in training is scored), with a progress bar on long runs.
pub fn tag_all(model: &dyn Tagger, documents: &mut [(Document, Segmentation)]) {
    let bar = progress(documents.len(), "tagging");
    for (document, segmentation) in documents.iter_mut() {
        document.entities = model.tag(&document.text, segmentation);
        bar.inc(1);
    }
    bar.finish_and_clear();
}
