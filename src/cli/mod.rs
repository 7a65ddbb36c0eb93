mod check;
mod corpus;
mod eval;
mod index;
mod tag;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Biomedical named-entity tagger and SNOMED CT normalizer for Spanish clinical and English
/// biomedical text. Everything runs locally: no text leaves this machine.
#[derive(Parser)]
#[command(name = "clinitag", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Find entities in a text file, a folder of .txt files, or a CoNLL file.
    ///
    /// Examples:
    ///   clinitag tag note.txt                       (JSON on standard output)
    ///   clinitag tag dev/subtrack1 -o predictions   (BRAT .ann + subtrack 2 .tsv)
    ///   clinitag tag --lang en devel.tsv -o out.tsv (CoNLL: the same tokens, predicted tags)
    Tag(tag::Args),
    /// Score predictions against gold annotations.
    ///
    /// Folders are scored with the official PharmaCoNER rules (subtask 1 NER and subtask 2
    /// concept indexing); files are read as CoNLL and scored with conlleval's rules.
    ///
    /// Examples:
    ///   clinitag eval ../shared/data/pharmaconer/dev predictions
    ///   clinitag eval gold.tsv predicted.tsv
    Eval(eval::Args),
    /// Train a model and report its scores on a development set.
    Train(train::Args),
    /// Build, score and query the SNOMED CT concept index.
    Index(index::Args),
    /// Measure how well tokenization and the tagging schemes keep a BRAT corpus's entities.
    Check(check::Args),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Tag(args) => tag::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Train(args) => train::run(args),
        Command::Check(args) => check::run(args),
        Command::Index(args) => index::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
