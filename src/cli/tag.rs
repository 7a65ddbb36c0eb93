use super::corpus::{self, InputFormat};
use anyhow::{bail, Context, Result};
use clinitag::formats::conll::{tagged_sentences, write_conll};
use clinitag::formats::corpus::Annotations;
use clinitag::formats::corpus::{write, write_brat_dir};
use clinitag::formats::json::JsonDocument;
use clinitag::tagging::Scheme;
use clinitag::{OffsetUnit, Pipeline, PipelineOptions};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// One JSON document (or an array of them): entities with start, end, type, text, score, concept, assertion, cue.
    Json,
    /// A folder with <doc>.txt, <doc>.ann (concept ids as AnnotatorNotes, assertions as attributes), <doc>.tsv (subtrack 2) and annotation.conf.
    Brat,
    /// token<TAB>tag lines, a blank line between sentences.
    Conll,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Offsets {
    /// Unicode characters (Python, BRAT).
    Char,
    /// UTF-16 code units (JavaScript).
    Utf16,
    /// UTF-8 bytes.
    Byte,
}

/// Whether a text found as an entity is tagged wherever else it occurs in its document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Propagate {
    /// In BRAT folders and text files; not in CoNLL input, which marks no documents (BC2GM's
    /// sentences come from different abstracts).
    Auto,
    Always,
    Never,
}

#[derive(clap::Args)]
pub struct Args {
    /// A .txt file, a folder of .txt files (BRAT), a CoNLL file (.tsv, .conll), or - for standard input.
    input: PathBuf,
    /// Where to write: a folder for BRAT output, a file otherwise (default: standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Output format [default: brat for a folder, conll for CoNLL input, json otherwise].
    #[arg(short, long, value_enum)]
    format: Option<OutputFormat>,
    /// How to read the input.
    #[arg(long, value_enum, default_value = "auto")]
    input_format: InputFormat,
    /// Model file [default: models/bilstm-crf-<lang>.clinitag, else models/dictionary-<lang>.json].
    /// Given more than once, the models tag as an ensemble: their tag probabilities averaged.
    #[arg(short, long)]
    model: Vec<PathBuf>,
    /// The ensemble members' weights, in the order of --model (default: each model's own, from
    /// its file: 1 unless `train --ensemble-weight` set another).
    #[arg(long, value_delimiter = ',', requires = "model")]
    weights: Vec<f32>,
    /// SNOMED CT concept index that gives mentions their concepts [default:
    /// models/snomed-<lang>.idx where it exists].
    #[arg(short, long, conflicts_with = "no_index")]
    index: Option<PathBuf>,
    /// Attach no concepts beyond what the model itself gives.
    #[arg(long)]
    no_index: bool,
    /// Tag every other occurrence, in its document, of a text found as an entity
    /// (`Document::propagate_mentions`).
    #[arg(long, value_enum, default_value = "auto")]
    propagate: Propagate,
    /// Language of the text, which picks the default model and index.
    #[arg(short, long, default_value = "es", value_parser = ["es", "en"])]
    lang: String,
    /// Offset unit in JSON output.
    #[arg(long, value_enum, default_value = "char")]
    offsets: Offsets,
    /// Tagging scheme of CoNLL output: bio (IOB2, what conlleval reads), bioes or bmewov.
    #[arg(long, default_value = "bio")]
    scheme: Scheme,
    /// Documents tagged at once, each on a thread of its own [default: one per core]. The
    /// output does not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
}

pub fn run(args: Args) -> Result<()> {
    let input_format = corpus::resolve_format(&args.input, args.input_format);
    let model_paths = match args.model.is_empty() {
        true => vec![corpus::default_model(&args.lang)?],
        false => args.model,
    };
    let model = corpus::load_model(&model_paths, &args.weights, &args.lang)?;
    let index_path = match (&args.index, args.no_index) {
        (_, true) => None,
        (Some(path), _) => Some(path.clone()),
        (None, false) => super::index::default_index(&args.lang),
    };
    let index = match index_path {
        Some(path) => Some(super::index::load_index(&path)?),
        None => None,
    };
    let options = PipelineOptions {
        propagate: match args.propagate {
            Propagate::Auto => input_format != InputFormat::Conll,
            Propagate::Always => true,
            Propagate::Never => false,
        },
        max_part_length: None,
        offsets: match args.offsets {
            Offsets::Char => OffsetUnit::Char,
            Offsets::Utf16 => OffsetUnit::Utf16,
            Offsets::Byte => OffsetUnit::Byte,
        },
    };
    let pipeline = Pipeline::new(model, index, options);
    let mut input = corpus::read(&args.input, input_format, Annotations::Ignore)?;
    let bar = corpus::progress(input.documents.len(), "tagging");
    let concepts =
        pipeline.tag_documents(&mut input.documents, args.threads.map(usize::from), || {
            bar.inc(1)
        })?;
    bar.finish_and_clear();

    let format = args.format.unwrap_or(match input.format {
        InputFormat::Brat => OutputFormat::Brat,
        InputFormat::Conll => OutputFormat::Conll,
        _ => OutputFormat::Json,
    });
    let output = match format {
        OutputFormat::Brat => {
            let Some(dir) = &args.output else {
                bail!("BRAT output is a folder: pass --output DIR");
            };
            let documents: Vec<_> = input.documents.into_iter().map(|(d, _)| d).collect();
            write_brat_dir(dir, &documents)?;
            for document in &documents {
                write(&dir.join(format!("{}.txt", document.id)), &document.text)?;
            }
            let entities: usize = documents.iter().map(|d| d.entities.len()).sum();
            eprintln!(
                "tagged {} documents, {entities} entities, into {}",
                documents.len(),
                dir.display()
            );
            return Ok(());
        }
        OutputFormat::Json => {
            let mut documents = Vec::with_capacity(input.documents.len());
            for ((document, _), concepts) in input.documents.iter().zip(&concepts) {
                let mentions = pipeline.mentions(document, concepts)?;
                documents.push(JsonDocument::new(&document.id, options.offsets, mentions));
            }
            let json = if documents.len() == 1 {
                serde_json::to_string_pretty(&documents.remove(0))
            } else {
                serde_json::to_string_pretty(&documents)
            };
            json.context("writing JSON")? + "\n"
        }
        OutputFormat::Conll => {
            let sentences = tagged_sentences(&input.documents, args.scheme);
            if let Some(given) = &input.conll {
                // CoNLL input is never re-tokenized: the same tokens come back, one tag each.
                debug_assert!(given
                    .iter()
                    .zip(&sentences)
                    .all(|(g, s)| g.tokens == s.tokens));
            }
            write_conll(&sentences)
        }
    };
    match &args.output {
        Some(path) => write(path, &output)?,
        None => print!("{output}"),
    }
    Ok(())
}
