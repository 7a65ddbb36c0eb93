//! Evaluation: the official PharmaCoNER scorer's rules ([`pharmaconer`]) and conlleval's
//! entity-level scores for CoNLL files ([`conll`]).

pub mod conll;
pub mod encoding;
pub mod pharmaconer;

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// True positives, false positives and false negatives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
}

impl Counts {
    /// tp / (tp + fp), 0 when nothing was predicted (as the official scorer does).
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// tp / (tp + fn), 0 when there is nothing to find.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// 2PR / (P + R), 0 when both are 0.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }

    fn add(&mut self, other: Counts) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.fn_ += other.fn_;
    }
}

fn ratio(numerator: usize, denominator: usize) -> f64 {
    if denominator == 0 {
        0.0
    } else {
        numerator as f64 / denominator as f64
    }
}

/// Micro-averaged counts overall and per entity type (or per task, for concept indexing).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    pub title: String,
    pub documents: usize,
    pub overall: Counts,
    pub per_type: BTreeMap<String, Counts>,
}

impl Report {
    fn new(title: &str) -> Self {
        Self {
            title: title.to_string(),
            ..Self::default()
        }
    }

    /// Adds the comparison of one document's (or sentence's) gold and predicted items.
    fn add<T: Ord + Clone>(
        &mut self,
        gold: &std::collections::BTreeSet<T>,
        predicted: &std::collections::BTreeSet<T>,
        type_of: impl Fn(&T) -> String,
    ) {
        for item in predicted {
            let counts = self.per_type.entry(type_of(item)).or_default();
            if gold.contains(item) {
                counts.tp += 1;
            } else {
                counts.fp += 1;
            }
        }
        for item in gold.difference(predicted) {
            self.per_type.entry(type_of(item)).or_default().fn_ += 1;
        }
        self.overall = Counts::default();
        let per_type: Vec<Counts> = self.per_type.values().copied().collect();
        for counts in per_type {
            self.overall.add(counts);
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} ({} documents)", self.title, self.documents)?;
        writeln!(
            f,
            "{:<20} {:>9} {:>9} {:>9} {:>6} {:>6} {:>6}",
            "type", "precision", "recall", "F1", "tp", "fp", "fn"
        )?;
        let mut rows: Vec<(&str, &Counts)> =
            self.per_type.iter().map(|(k, v)| (k.as_str(), v)).collect();
        if rows.len() != 1 {
            rows.push(("overall (micro)", &self.overall));
        }
        for (name, c) in rows {
            writeln!(
                f,
                "{:<20} {:>9.4} {:>9.4} {:>9.4} {:>6} {:>6} {:>6}",
                name,
                c.precision(),
                c.recall(),
                c.f1(),
                c.tp,
                c.fp,
                c.fn_
            )?;
        }
        Ok(())
    }
}
