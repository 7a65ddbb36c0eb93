use super::corpus::{self, InputFormat};
use anyhow::{bail, Result};
use clinitag::eval::encoding::{boundary_coverage, round_trip};
use clinitag::formats::corpus::Annotations;
use clinitag::tagging::Scheme;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// BRAT folders whose gold entities to check (e.g. the PharmaCoNER train and dev subtrack1 folders).
    #[arg(required = true)]
    folders: Vec<PathBuf>,
    /// List every entity that is lost, with its context.
    #[arg(short, long)]
    verbose: bool,
}

pub fn run(args: Args) -> Result<()> {
    let mut documents = Vec::new();
    for folder in &args.folders {
        let corpus = corpus::read(folder, InputFormat::Auto, Annotations::Read)?;
        if corpus.format != InputFormat::Brat {
            bail!("{}: expected a BRAT folder", folder.display());
        }
        documents.extend(corpus.documents.into_iter().map(|(d, _)| d));
    }
    let coverage = boundary_coverage(&documents);
    println!(
        "{} documents, {} entities",
        documents.len(),
        documents.iter().map(|d| d.entities.len()).sum::<usize>()
    );
    println!(
        "token boundaries: {}/{} entity boundaries fall on token boundaries ({:.2}%)",
        coverage.on_token_boundaries,
        coverage.boundaries,
        100.0 * coverage.share()
    );
    for scheme in Scheme::ALL {
        let result = round_trip(&documents, scheme);
        print!("round trip {result}");
        if args.verbose && scheme == Scheme::Bmewov {
            for lost in &result.lost {
                println!(
                    "        {} {:<14} {}  ({})",
                    lost.document, lost.label, lost.text, lost.reason
                );
            }
        }
    }
    Ok(())
}
