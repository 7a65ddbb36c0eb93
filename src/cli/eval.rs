use super::corpus::subfolder;
use anyhow::{bail, Result};
use clinitag::eval::pharmaconer::{codes_from_notes, score_indexing, score_ner, MissingDocuments};
use clinitag::eval::{conll, Report};
use clinitag::formats::conll::parse_conll;
use clinitag::formats::corpus::{read_ann_dir, read_to_string, read_tsv_dir};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Task {
    /// Subtask 1 (NER) and, where gold codes exist, subtask 2 (concept indexing).
    All,
    Ner,
    Indexing,
}

#[derive(clap::Args)]
pub struct Args {
    /// Gold standard: a PharmaCoNER split folder (with subtrack1/ and subtrack2/), a folder of
    /// .ann files, or a CoNLL file.
    gold: PathBuf,
    /// Predictions: a folder of .ann (and subtrack 2 .tsv) files, or a CoNLL file.
    predicted: PathBuf,
    #[arg(long, value_enum, default_value = "all")]
    task: Task,
    /// Score gold documents that have no prediction as empty (the official scorer refuses).
    #[arg(long)]
    missing_as_empty: bool,
    /// CoNLL: ignore predicted entities of types the gold file never annotates (one English
    /// model tags chemicals, diseases and genes; BC5CDR annotates only the first two).
    #[arg(long)]
    gold_types_only: bool,
    /// Print the scores as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<()> {
    if args.gold.is_file() != args.predicted.is_file() {
        bail!(
            "{} and {}: gold and prediction must both be folders (BRAT) or both be files (CoNLL)",
            args.gold.display(),
            args.predicted.display()
        );
    }
    let reports = if args.gold.is_file() {
        let gold = parse_conll(
            &read_to_string(&args.gold)?,
            &args.gold.display().to_string(),
        )?;
        let predicted = parse_conll(
            &read_to_string(&args.predicted)?,
            &args.predicted.display().to_string(),
        )?;
        let predicted = if args.gold_types_only {
            conll::only_gold_types(&gold, &predicted)
        } else {
            predicted
        };
        let report = conll::score(&gold, &predicted)?;
        if !args.json {
            println!(
                "token accuracy {:.4} ({} tokens)",
                report.accuracy(),
                report.tokens
            );
        }
        vec![report.entities]
    } else {
        pharmaconer(&args)?
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        for report in reports {
            println!("{report}");
        }
    }
    Ok(())
}

fn pharmaconer(args: &Args) -> Result<Vec<Report>> {
    let missing = if args.missing_as_empty {
        MissingDocuments::Empty
    } else {
        MissingDocuments::Error
    };
    let gold_ann = read_ann_dir(&subfolder(&args.gold, "subtrack1"))?;
    if gold_ann.is_empty() {
        bail!("{}: no gold .ann files", args.gold.display());
    }
    let predicted_ann = read_ann_dir(&subfolder(&args.predicted, "subtrack1"))?;
    let mut reports = Vec::new();
    if args.task != Task::Indexing {
        reports.push(score_ner(&gold_ann, &predicted_ann, missing)?);
    }
    if args.task != Task::Ner {
        let gold_tsv = read_tsv_dir(&subfolder(&args.gold, "subtrack2"))?;
        if gold_tsv.is_empty() {
            if args.task == Task::Indexing {
                bail!("{}: no gold subtrack 2 .tsv files", args.gold.display());
            }
            return Ok(reports);
        }
        let mut predicted_codes = read_tsv_dir(&subfolder(&args.predicted, "subtrack2"))?;
        // Predictions written as BRAT only carry their codes in AnnotatorNotes.
        let from_notes: BTreeMap<String, Vec<String>> = predicted_ann
            .iter()
            .map(|(id, ann)| (id.clone(), codes_from_notes(ann)))
            .collect();
        for (id, codes) in from_notes {
            predicted_codes.entry(id).or_insert(codes);
        }
        reports.push(score_indexing(
            &gold_tsv,
            &gold_ann,
            &predicted_codes,
            missing,
        )?);
    }
    Ok(reports)
}
