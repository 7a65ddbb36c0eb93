//! Scores assertion on NUBes (Lima et al., LREC 2020; Spanish hospital records, one sentence a
//! line): negation and uncertainty cues (exact spans) and scopes (tokens), and the assertion of
//! the entities a model finds, against whether each lies in a gold negation or uncertainty
//! scope.
//!
//!     cargo run --release --example assertion_nubes -- ../shared/data/negation/nubes/NUBes/SAMPLE-010 \
//!         [--model models/bilstm-crf-es.clinitag] [--max-scope N]
//!
//! `bench/assertion.sh` runs it on the dev sample. The rules' possible and hypothetical
//! triggers count as uncertainty, NUBes's one class for both; family and historical, which
//! NUBes does not annotate, count as present.

use clinitag::assertion::{Assertion, AssertionRules, Scope};
use clinitag::formats::corpus::files_with_extension;
use clinitag::text::{OffsetMap, OffsetUnit, Segmentation};
use clinitag::{Document, Model, Pipeline, PipelineOptions};
use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::path::Path;

type Failure = Box<dyn std::error::Error>;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
enum Class {
    Negation,
    Uncertainty,
}

const CLASSES: [Class; 2] = [Class::Negation, Class::Uncertainty];

/// One file's gold annotations: each cue with its class, and each class's scope spans.
#[derive(Default)]
struct Gold {
    cues: Vec<(Class, Range<usize>)>,
    scopes: Vec<(Class, Range<usize>)>,
}

/// Reads a NUBes `.ann` of `text`: cues are the `Neg*Marker` and `Uncert*Marker` text-bound
/// annotations, scopes the spans their `Scope` and `DiscScope` relations point to; offsets
/// (BRAT's characters) become byte offsets.
fn read_gold(ann: &str, text: &str) -> Result<Gold, Failure> {
    let offsets = OffsetMap::new(text);
    let byte = |chars: usize| {
        offsets
            .to_byte(chars, OffsetUnit::Char)
            .ok_or_else(|| format!("offset {chars} outside the text"))
    };
    let mut spans: HashMap<&str, (&str, Vec<Range<usize>>)> = HashMap::new();
    let mut relations = Vec::new();
    for line in ann.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.first().and_then(|id| id.chars().next()) {
            Some('T') if fields.len() >= 2 => {
                let (kind, offsets) = fields[1]
                    .split_once(' ')
                    .ok_or_else(|| format!("bad line: {line}"))?;
                let mut ranges = Vec::new();
                for piece in offsets.split(';') {
                    let (start, end) = piece
                        .split_once(' ')
                        .ok_or_else(|| format!("bad offsets: {line}"))?;
                    ranges.push(byte(start.parse()?)?..byte(end.parse()?)?);
                }
                spans.insert(fields[0], (kind, ranges));
            }
            Some('R') if fields.len() >= 2 => {
                let parts: Vec<&str> = fields[1].split(' ').collect();
                if let [kind, from, to] = parts.as_slice() {
                    if matches!(*kind, "Scope" | "DiscScope") {
                        let arg = |a: &'static str, s: &str| s.strip_prefix(a).map(str::to_string);
                        if let (Some(from), Some(to)) = (arg("Arg1:", from), arg("Arg2:", to)) {
                            relations.push((from, to));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let class_of = |kind: &str| {
        if kind.starts_with("Neg") && kind.ends_with("Marker") {
            Some(Class::Negation)
        } else if kind.starts_with("Uncert") && kind.ends_with("Marker") {
            Some(Class::Uncertainty)
        } else {
            None
        }
    };
    let mut gold = Gold::default();
    for (kind, ranges) in spans.values() {
        if let Some(class) = class_of(kind) {
            gold.cues
                .extend(ranges.iter().map(|range| (class, range.clone())));
        }
    }
    for (from, to) in relations {
        let (Some((kind, _)), Some((_, ranges))) =
            (spans.get(from.as_str()), spans.get(to.as_str()))
        else {
            continue;
        };
        if let Some(class) = class_of(kind) {
            gold.scopes
                .extend(ranges.iter().map(|range| (class, range.clone())));
        }
    }
    Ok(gold)
}

fn class_of(assertion: Assertion) -> Option<Class> {
    match assertion {
        Assertion::Negated => Some(Class::Negation),
        Assertion::Possible | Assertion::Hypothetical => Some(Class::Uncertainty),
        Assertion::Present | Assertion::Family | Assertion::Historical => None,
    }
}

/// True and false positives and false negatives.
#[derive(Default, Clone, Copy)]
struct Counts {
    tp: usize,
    fp: usize,
    fn_: usize,
}

impl Counts {
    fn compare<T: Ord + Clone>(&mut self, predicted: &BTreeSet<T>, gold: &BTreeSet<T>) {
        let tp = predicted.intersection(gold).count();
        self.tp += tp;
        self.fp += predicted.len() - tp;
        self.fn_ += gold.len() - tp;
    }

    fn f1(&self) -> (f64, f64, f64) {
        let p = self.tp as f64 / (self.tp + self.fp).max(1) as f64;
        let r = self.tp as f64 / (self.tp + self.fn_).max(1) as f64;
        let f = if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        };
        (p, r, f)
    }
}

fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let mut folder = None;
    let mut model_path = "models/bilstm-crf-es.clinitag".to_string();
    let mut max_scope = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--model" => model_path = args.next().ok_or("--model needs a path")?,
            "--max-scope" => max_scope = Some(args.next().ok_or("--max-scope needs N")?.parse()?),
            _ => folder = Some(arg),
        }
    }
    let folder =
        folder.ok_or("usage: assertion_nubes NUBES_SAMPLE_DIR [--model M] [--max-scope N]")?;
    let mut rules = AssertionRules::bundled("es").ok_or("no Spanish rules")?;
    if max_scope.is_some() {
        rules.set_max_scope(max_scope);
    }
    let model = Model::from_bytes(&std::fs::read(&model_path)?)?;
    let mut pipeline = Pipeline::new(model, None, PipelineOptions::default());
    pipeline.set_assertion_rules(Some(rules.clone()));

    let mut cues: HashMap<Class, Counts> = HashMap::new();
    let mut scopes: HashMap<Class, Counts> = HashMap::new();
    let mut entities: HashMap<Class, Counts> = HashMap::new();
    let (mut right, mut total, mut marked, mut sentences) = (0, 0, 0, 0);
    for path in files_with_extension(Path::new(&folder), "txt")? {
        let text = std::fs::read_to_string(&path)?;
        let gold = read_gold(&std::fs::read_to_string(path.with_extension("ann"))?, &text)?;
        let segmentation = Segmentation::of(&text);
        sentences += segmentation.sentences.len();
        let found: Vec<Scope> = rules.scopes(&text, &segmentation);
        for class in CLASSES {
            let predicted: BTreeSet<(usize, usize)> = found
                .iter()
                .filter(|s| class_of(s.category) == Some(class))
                .map(|s| (s.cue.start, s.cue.end))
                .collect();
            let expected: BTreeSet<(usize, usize)> = gold
                .cues
                .iter()
                .filter(|(c, _)| *c == class)
                .map(|(_, r)| (r.start, r.end))
                .collect();
            cues.entry(class)
                .or_default()
                .compare(&predicted, &expected);
            // Scopes by token: those inside a predicted span, those overlapping a gold one.
            let inside = |spans: &[Range<usize>], token: &Range<usize>| {
                spans
                    .iter()
                    .any(|s| s.start <= token.start && token.end <= s.end)
            };
            let overlaps = |spans: &[Range<usize>], token: &Range<usize>| {
                spans
                    .iter()
                    .any(|s| s.start < token.end && token.start < s.end)
            };
            let predicted_spans: Vec<Range<usize>> = found
                .iter()
                .filter(|s| class_of(s.category) == Some(class))
                .flat_map(|s| s.spans.iter().cloned())
                .collect();
            let gold_spans: Vec<Range<usize>> = gold
                .scopes
                .iter()
                .filter(|(c, _)| *c == class)
                .map(|(_, r)| r.clone())
                .collect();
            let tokens = || {
                segmentation
                    .tokens
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (i, t.start..t.end))
            };
            let predicted: BTreeSet<usize> = tokens()
                .filter(|(_, t)| inside(&predicted_spans, t))
                .map(|(i, _)| i)
                .collect();
            let expected: BTreeSet<usize> = tokens()
                .filter(|(_, t)| overlaps(&gold_spans, t))
                .map(|(i, _)| i)
                .collect();
            scopes
                .entry(class)
                .or_default()
                .compare(&predicted, &expected);
        }
        // The entities the model finds, each against the gold scopes it lies in.
        let mut document = Document::new(path.display().to_string(), text.clone());
        pipeline.tag_document(&mut document, &segmentation)?;
        for (i, entity) in document.entities.iter().enumerate() {
            let in_gold = |class: Class| {
                gold.scopes
                    .iter()
                    .any(|(c, s)| *c == class && s.start <= entity.start && entity.end <= s.end)
            };
            let expected = if in_gold(Class::Negation) {
                Some(Class::Negation)
            } else if in_gold(Class::Uncertainty) {
                Some(Class::Uncertainty)
            } else {
                None
            };
            let predicted = class_of(entity.assertion);
            total += 1;
            marked += usize::from(expected.is_some());
            right += usize::from(predicted == expected);
            for class in CLASSES {
                let one = |c: Option<Class>| -> BTreeSet<usize> {
                    (c == Some(class)).then_some(i).into_iter().collect()
                };
                entities
                    .entry(class)
                    .or_default()
                    .compare(&one(predicted), &one(expected));
            }
        }
    }
    println!(
        "NUBes {folder}: {sentences} sentences, scopes of at most {:?} tokens",
        rules.max_scope()
    );
    println!("{:<32} {:>9} {:>9} {:>9}", "", "precision", "recall", "F1");
    for class in CLASSES {
        for (name, counts) in [
            ("cues", &cues),
            ("scope tokens", &scopes),
            ("entities", &entities),
        ] {
            let (p, r, f) = counts.get(&class).copied().unwrap_or_default().f1();
            println!(
                "{:<32} {p:>9.4} {r:>9.4} {f:>9.4}",
                format!("{class:?} {name}")
            );
        }
    }
    let share = |n: usize| n as f64 / total.max(1) as f64;
    println!(
        "entity assertion accuracy: {:.4} ({right} of {total}; \"present\" everywhere: {:.4})",
        share(right),
        share(total - marked)
    );
    Ok(())
}
