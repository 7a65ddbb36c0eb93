//! `clinitag index`: build a concept index, score it with gold mentions, look mentions up.

use super::corpus::{read_text, subfolder, write_file};
use anyhow::{bail, Context, Result};
use clinitag::eval::pharmaconer::{score_indexing, MissingDocuments};
use clinitag::formats::brat::{self, BratEntity};
use clinitag::formats::corpus::{files_with_extension, read_ann_dir, read_to_string, read_tsv_dir};
use clinitag::normalize::{
    find_abbreviations, find_brand_names, Candidate, ConceptIndex, IndexBuilder, Matcher,
    MatcherConfig, Stage, TermSelection, TerminologyImport, NO_CONCEPT,
};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Build an index from annotated corpora, SNOMED CT RF2 files and abbreviations in text.
    ///
    /// Example (the shipped Spanish index, see models/README.md):
    ///   clinitag index build --brat ../shared/data/pharmaconer/train \
    ///       --abbreviations-from ../shared/data/spanish-clinical-text/cases.txt.gz -o idx
    Build(BuildArgs),
    /// Concept-indexing scores from a PharmaCoNER split's gold mentions, with the share of
    /// mentions each matcher stage answered and the mean lookup time.
    Eval(EvalArgs),
    /// Ranked candidates for each mention given (or each line of standard input).
    Lookup(LookupArgs),
}

#[derive(clap::Args)]
struct MatcherArgs {
    /// Shortest key (characters) searched at Levenshtein distance 1.
    #[arg(long)]
    distance_one_from: Option<usize>,
    /// Shortest key searched at Levenshtein distance 2.
    #[arg(long)]
    distance_two_from: Option<usize>,
    /// Lowest similarity the fuzzy stage accepts (above 1 turns it off).
    #[arg(long)]
    fuzzy_threshold: Option<f64>,
}

impl MatcherArgs {
    fn apply(&self, mut config: MatcherConfig) -> MatcherConfig {
        if let Some(n) = self.distance_one_from {
            config.distance_one_from = n;
        }
        if let Some(n) = self.distance_two_from {
            config.distance_two_from = n;
        }
        if let Some(t) = self.fuzzy_threshold {
            config.fuzzy_threshold = t;
        }

        config
    }
}

#[derive(clap::Args)]
struct BuildArgs {
    /// Where to write the index.
    #[arg(short, long)]
    output: PathBuf,
    #[arg(short, long, default_value = "es", value_parser = ["es", "en"])]
    lang: String,
    /// BRAT folders (or PharmaCoNER split folders) whose AnnotatorNotes pair mentions with
    /// concept ids.
    #[arg(long)]
    brat: Vec<PathBuf>,
    /// An index whose sources, terms and abbreviations the new one starts from (the shipped
    /// models/snomed-es.idx, say), so that a terminology adds to it.
    #[arg(long)]
    base: Option<PathBuf>,
    /// A SNOMED CT RF2 release: its zip, or its files (sct2_Description_*.txt, and
    /// der2_cRefset_Language*.txt for the preferred terms). All given make one release.
    #[arg(long)]
    rf2: Vec<PathBuf>,
    /// A FHIR R4 CodeSystem or ValueSet (JSON): every concept's display and designations.
    #[arg(long)]
    fhir: Vec<PathBuf>,
    /// Term languages kept from --rf2 and --fhir [default: the index's language and en,
    /// which the cross-lingual stage matches against].
    #[arg(long, value_delimiter = ',')]
    term_languages: Vec<String>,
    /// SNOMED CT semantic tags kept from --rf2 and --fhir (substance,product) [default: all].
    #[arg(long, value_delimiter = ',')]
    semantic_tags: Vec<String>,
    /// Text to find `long form (SF)` abbreviations in: .txt, .txt.gz, or folders of .txt.
    #[arg(long)]
    abbreviations_from: Vec<PathBuf>,
    /// Entity types whose mentions get concepts when tagging.
    #[arg(long, value_delimiter = ',', default_value = "NORMALIZABLES,PROTEINAS")]
    types: Vec<String>,
    #[command(flatten)]
    matcher: MatcherArgs,
}

#[derive(clap::Args)]
struct EvalArgs {
    /// A PharmaCoNER split folder (subtrack1/ with .ann, subtrack2/ with .tsv).
    gold: PathBuf,
    /// The index [default: models/snomed-es.idx].
    #[arg(short, long)]
    index: Option<PathBuf>,
    /// Entity types whose mentions are looked up [default: the index's].
    #[arg(long, value_delimiter = ',')]
    types: Vec<String>,
    /// Also list, per document, the gold concepts no mention found and the wrong answers.
    #[arg(long)]
    misses: bool,
    #[command(flatten)]
    matcher: MatcherArgs,
}

#[derive(clap::Args)]
struct LookupArgs {
    /// Mentions to look up; standard input, one a line, when none are given.
    mentions: Vec<String>,
    /// The index [default: models/snomed-es.idx].
    #[arg(short, long)]
    index: Option<PathBuf>,
    #[command(flatten)]
    matcher: MatcherArgs,
}

pub fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Build(args) => build(args),
        Command::Eval(args) => eval(args),
        Command::Lookup(args) => lookup(args),
    }
}

/// The shipped index for a language, if there is one, in the current folder or the source
/// tree this binary was built from.
pub fn default_index(language: &str) -> Option<PathBuf> {
    let name = format!("models/snomed-{language}.idx");
    [Path::new("."), Path::new(env!("CARGO_MANIFEST_DIR"))]
        .iter()
        .map(|root| root.join(&name))
        .find(|p| p.is_file())
}

/// Loads an index file with its matcher settings.
pub fn load_index(path: &Path) -> Result<ConceptIndex> {
    let bytes = std::fs::read(path).with_context(|| format!("reading index {}", path.display()))?;
    ConceptIndex::from_bytes(&bytes).with_context(|| format!("loading index {}", path.display()))
}

/// The matcher of an index with the settings in `overrides` applied.
fn with_overrides(index: ConceptIndex, overrides: &MatcherArgs) -> Matcher {
    let config = overrides.apply(index.summary().matcher);
    Matcher::with_config(index, config)
}

/// The given index, else the shipped Spanish one.
fn index_path(path: Option<PathBuf>) -> Result<PathBuf> {
    match path.or_else(|| default_index("es")) {
        Some(path) => Ok(path),
        None => bail!("no index given and models/snomed-es.idx not found; pass --index FILE"),
    }
}

fn build(args: BuildArgs) -> Result<()> {
    let mut builder = IndexBuilder::new(&args.lang);
    builder.matcher_config(args.matcher.apply(MatcherConfig::default()));
    builder.entity_types(&args.types);
    if let Some(base) = &args.base {
        let base = load_index(base)?;
        if base.summary().language != args.lang {
            bail!(
                "the base index is for '{}', not '{}' (--lang)",
                base.summary().language,
                args.lang
            );
        }
        builder.add_index(&base);
    }

    for dir in &args.brat {
        let annotations = read_ann_dir(&subfolder(dir, "subtrack1"))?;
        if annotations.is_empty() {
            bail!("{}: no .ann files", dir.display());
        }
        let source = builder.add_source(dir.display().to_string());
        let mut pairs = 0;
        for entity in annotations.values().flatten() {
            for concept in &entity.notes {
                if concept == NO_CONCEPT {
                    builder.type_without_concept(&entity.label);
                }
                builder.add_mention(&entity.text, concept, 1, source);
                pairs += 1;
            }
        }
        builder.describe_source(
            source,
            format!(
                "{} annotations: {pairs} mention-concept pairs ({} documents) from {}",
                short_name(dir),
                annotations.len(),
                dir.display()
            ),
        );
    }

    let selection = TermSelection {
        languages: args.term_languages.clone(),
        semantic_tags: args.semantic_tags.clone(),
    };
    let mut import = TerminologyImport::new(builder, selection);
    for path in &args.rf2 {
        let name = path.display().to_string();
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
        {
            let bytes = std::fs::read(path).with_context(|| format!("reading {name}"))?;
            import.add_rf2_zip(&name, &bytes)?;
        } else {
            import.add_rf2_file(&name, &read_to_string(path)?)?;
        }
    }
    for path in &args.fhir {
        import.add_fhir(&path.display().to_string(), &read_to_string(path)?)?;
    }
    let mut builder = import.finish()?;

    for path in &args.abbreviations_from {
        let texts: Vec<PathBuf> = if path.is_dir() {
            files_with_extension(&subfolder(path, "subtrack1"), "txt")?
        } else {
            vec![path.clone()]
        };
        let (mut pairs, mut brands) = (0, 0);
        for text in &texts {
            let text = read_text(text)?;
            for (short, long) in find_abbreviations(&text) {
                builder.add_abbreviation(&short, &long, 1);
                pairs += 1;
            }
            for (brand, substance) in find_brand_names(&text, |t| builder.has_term(t)) {
                builder.add_abbreviation(&brand, &substance, 1);
                brands += 1;
            }
        }
        builder.add_source(format!(
            "{} abbreviations: {pairs} definitions and {brands} brand names found in {}",
            short_name(path),
            path.display()
        ));
    }

    let index = builder.build()?;
    let bytes = index.to_bytes();
    write_file(&args.output, &bytes)?;
    let summary = index.summary();
    eprintln!(
        "{}: {} terms, {} concepts, {} abbreviations, {} bytes",
        args.output.display(),
        summary.terms,
        summary.concepts,
        summary.abbreviations,
        bytes.len()
    );
    Ok(())
}

/// A source's name as the page shows it: the last two parts of its path
/// (`pharmaconer/train`, `spanish-clinical-text/cases.txt.gz`).
fn short_name(path: &Path) -> String {
    let parts: Vec<String> = path
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    parts[parts.len().saturating_sub(2)..].join("/")
}

fn eval(args: EvalArgs) -> Result<()> {
    let path = index_path(args.index)?;
    let bytes =
        std::fs::read(&path).with_context(|| format!("reading index {}", path.display()))?;
    let size = bytes.len();
    let load = Instant::now();
    let index = ConceptIndex::from_bytes(&bytes)
        .with_context(|| format!("loading index {}", path.display()))?;
    let load = load.elapsed();
    let matcher = with_overrides(index, &args.matcher);

    let gold_ann = read_ann_dir(&subfolder(&args.gold, "subtrack1"))?;
    let gold_tsv = read_tsv_dir(&subfolder(&args.gold, "subtrack2"))?;
    if gold_ann.is_empty() || gold_tsv.is_empty() {
        bail!(
            "{}: needs subtrack1/*.ann and subtrack2/*.tsv",
            args.gold.display()
        );
    }
    let types = if args.types.is_empty() {
        &matcher.index().summary().entity_types
    } else {
        &args.types
    };
    let types: HashSet<&str> = types.iter().map(String::as_str).collect();
    // Per stage (None: nothing found): mentions answered, and how many of those answers
    // are among the mention's gold concepts.
    let mut stages: BTreeMap<Option<Stage>, (usize, usize)> = Stage::ALL
        .iter()
        .map(|&s| (Some(s), (0, 0)))
        .chain([(None, (0, 0))])
        .collect();
    let mut predicted: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut lookups = 0u32;
    let mut elapsed = std::time::Duration::ZERO;
    let texts = subfolder(&args.gold, "subtrack1");
    for (id, entities) in &gold_ann {
        let codes = predicted.entry(id.clone()).or_default();
        let wanted: Vec<BratEntity> = entities
            .iter()
            .filter(|e| types.is_empty() || types.contains(e.label.as_str()))
            .cloned()
            .collect();
        let text = read_to_string(&texts.join(format!("{id}.txt")))?;
        let (document, _) = brat::to_document(id, text, &wanted)?;
        let start = Instant::now();
        let best = matcher.document_candidates(&document);
        elapsed += start.elapsed();
        let mut answers = Vec::new();
        for (entity, best) in document.entities.iter().zip(best) {
            lookups += 1;
            let entry = stages.entry(best.as_ref().map(|c| c.stage)).or_default();
            entry.0 += 1;
            if let Some(best) = &best {
                entry.1 += usize::from(entity.concepts.contains(&best.concept.id));
                codes.push(best.concept.id.clone());
            }
            answers.push(best);
        }
        if args.misses {
            print_misses(id, &document, &answers);
        }
    }
    let report = score_indexing(&gold_tsv, &gold_ann, &predicted, MissingDocuments::Error)?;
    println!("{report}");
    println!("stage         mentions  share   correct");
    for (stage, (count, correct)) in &stages {
        println!(
            "{:<12} {:>9}  {:>5.1}%  {:>5.1}%",
            stage.map_or("none", Stage::name),
            count,
            100.0 * *count as f64 / lookups.max(1) as f64,
            100.0 * *correct as f64 / (*count).max(1) as f64
        );
    }
    println!(
        "index {}: {size} bytes, loads in {:.1} ms; {lookups} lookups, {:.1} µs each on average",
        path.display(),
        load.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e6 / f64::from(lookups.max(1))
    );
    Ok(())
}

/// One line per gold concept of the document that no mention's answer gave (`miss`), and per
/// answer that is none of the document's gold concepts (`wrong`), with the mention's text.
fn print_misses(id: &str, document: &clinitag::Document, answers: &[Option<Candidate>]) {
    let found: HashSet<&str> = answers
        .iter()
        .flatten()
        .map(|c| c.concept.id.as_str())
        .collect();
    let gold: HashSet<&str> = document
        .entities
        .iter()
        .flat_map(|e| e.concepts.iter().map(String::as_str))
        .collect();
    let mut reported = HashSet::new();
    for (entity, answer) in document.entities.iter().zip(answers) {
        let mention = document.mention(entity);
        for code in &entity.concepts {
            if !found.contains(code.as_str()) && reported.insert(code.as_str()) {
                let answer = answer.as_ref().map_or("-", |c| c.concept.id.as_str());
                println!(
                    "miss\t{id}\t{}\t{code}\t{mention}\tanswer {answer}",
                    entity.label
                );
            }
        }
        if let Some(answer) = answer {
            if !gold.contains(answer.concept.id.as_str()) {
                println!(
                    "wrong\t{id}\t{}\t{}\t{mention}\t{} {} [{}]",
                    entity.label,
                    answer.concept.id,
                    answer.stage.name(),
                    answer.concept.preferred,
                    answer.term
                );
            }
        }
    }
}

fn lookup(args: LookupArgs) -> Result<()> {
    let matcher = with_overrides(load_index(&index_path(args.index)?)?, &args.matcher);
    let mentions: Vec<String> = if args.mentions.is_empty() {
        std::io::read_to_string(std::io::stdin())
            .context("reading standard input")?
            .lines()
            .map(str::to_string)
            .collect()
    } else {
        args.mentions
    };
    let mut seen = HashSet::new();
    for mention in mentions.iter().filter(|m| !m.trim().is_empty()) {
        if !seen.insert(mention.as_str()) {
            continue;
        }
        println!("{mention}");
        let candidates = matcher.candidates(mention);
        if candidates.is_empty() {
            println!("  (no concept)");
        }
        for c in candidates {
            println!(
                "  {:<12} {:.3}  {:<12} {} [{}] from: {}",
                c.concept.id,
                c.score,
                c.stage.name(),
                c.concept.preferred,
                c.term,
                matcher.index().source_names(c.sources).join("; ")
            );
        }
    }
    Ok(())
}
