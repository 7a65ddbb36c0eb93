//! `train --arch bilstm-crf`: pretrain subword vectors, train, keep the best epoch on dev.

use super::{Args, DevSet};
use crate::cli::corpus::{self, InputFormat};
use anyhow::{bail, Context, Result};
use clinitag::formats::conll::parse_conll;
use clinitag::formats::corpus::read_to_string;
use clinitag::models::bilstm_crf::train::{
    labelled_sentences, train, Checkpoints, Progress, TrainingConfig,
};
use clinitag::models::bilstm_crf::{word_key, BiLstmCrfTagger, Lexicon};
use clinitag::models::embeddings::{SkipGramConfig, SubwordEmbeddings};
use clinitag::text::Segmentation;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Instant;

pub fn train_bilstm_crf(args: &Args) -> Result<()> {
    if args.dev.is_empty() {
        bail!("--arch bilstm-crf needs --dev: it keeps the epoch with the best dev F1");
    }
    let started = Instant::now();
    // Each training source annotates some entity types; the others are unannotated there.
    let mut sources = Vec::new();
    let mut label_counts: BTreeMap<String, usize> = BTreeMap::new();
    for path in &args.train {
        let corpus = super::read_training(path)?;
        let mut present = BTreeSet::new();
        for entity in corpus.documents.iter().flat_map(|(d, _)| &d.entities) {
            *label_counts.entry(entity.label.clone()).or_default() += 1;
            present.insert(entity.label.clone());
        }
        sources.push((corpus.documents, present));
    }
    let mut labels: Vec<String> = label_counts.keys().cloned().collect();
    labels.sort_by_key(|l| std::cmp::Reverse(label_counts[l]));
    let mut sentences = Vec::new();
    for (documents, present) in &sources {
        let unannotated: Vec<String> = labels
            .iter()
            .filter(|l| !present.contains(*l))
            .cloned()
            .collect();
        sentences.extend(labelled_sentences(documents, &unannotated));
    }
    eprintln!(
        "{} training sentences; entity types {}",
        sentences.len(),
        labels.join(", ")
    );

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
    config.learning_rate = args.neural.learning_rate;
    config.lr_decay = args.neural.lr_decay;
    config.hidden = args.neural.hidden;
    config.dropout = args.neural.dropout;
    config.seed = args.neural.seed;
    config.freeze_embeddings = args.neural.freeze_embeddings;

    let dev_sets = args
        .dev
        .iter()
        .map(|path| DevSet::read(path))
        .collect::<Result<Vec<_>>>()?;
    // The mean entity F1 over the dev sets (the first report of each: NER, not indexing).
    let mut dev_score = |tagger: &BiLstmCrfTagger| {
        let mut total = 0.0;
        for dev in &dev_sets {
            match dev.score(tagger, false) {
                Ok(reports) => total += reports[0].overall.f1(),
                Err(e) => {
                    eprintln!("warning: scoring dev failed: {e:#}");
                    return f64::NEG_INFINITY;
                }
            }
        }
        total / dev_sets.len() as f64
    };
    let mut epoch_bar: Option<ProgressBar> = None;
    let mut running_loss = 0.0f64;
    let mut on_progress = |progress: Progress| match progress {
        Progress::Start { batches, epoch } => {
            running_loss = 0.0;
            epoch_bar = Some(bar(batches as u64, "training"));
            if let Some(b) = &epoch_bar {
                b.set_message(format!("epoch {epoch}"));
            }
        }
        Progress::Batch { done, loss } => {
            running_loss += loss as f64;
            if let Some(b) = &epoch_bar {
                b.set_position(done as u64);
                if done % 20 == 0 {
                    b.set_message(format!("loss {:.3}", running_loss / done as f64));
                }
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
    };
    let checkpoints = args.neural.checkpoints.as_ref().map(|dir| Checkpoints {
        dir: dir.clone(),
        resume: args.neural.resume,
    });
    let training_started = Instant::now();
    let tagger = train(
        &sentences,
        &config,
        lexicon,
        embeddings.as_ref(),
        checkpoints.as_ref(),
        &mut dev_score,
        &mut on_progress,
    )?;
    let training_seconds = training_started.elapsed().as_secs_f64();

    let bytes = tagger.to_bytes()?;
    corpus::write_file(&args.output, &bytes)?;
    eprintln!(
        "trained in {:.0}s (all steps {:.0}s); wrote {} ({} bytes, 16-bit weights)",
        training_seconds,
        started.elapsed().as_secs_f64(),
        args.output.display(),
        bytes.len()
    );
    // Score what was written: the shipped file, 16-bit weights and all.
    let shipped = BiLstmCrfTagger::from_bytes(&bytes, &burn::tensor::Device::flex())?;
    for dev in &dev_sets {
        for report in dev.score(&shipped, true)? {
            println!("{report}");
        }
    }
    Ok(())
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
