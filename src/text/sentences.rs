//! Sentence segmentation over tokens.
//!
//! A sentence ends at a line break, or at `.`, `!`, `?` (and a following closing quote or
//! bracket) when whitespace and a likely sentence opener follow, unless the dot closes an
//! abbreviation (`E. coli`, `Dr.`, `aprox.`, `T.A.C.`), which clinical text is full of.

use super::Token;
use std::ops::Range;

/// Abbreviations that end with a dot and are usually followed by more of the same sentence.
const ABBREVIATIONS: &[&str] = &[
    "ac", "ác", "ag", "vit", "dr", "dra", "drs", "sr", "sra", "srta", "prof", "aprox", "approx",
    "etc", "vs", "fig", "figs", "ej", "pág", "págs", "núm", "nº", "no", "vol", "cols", "col", "et",
    "al", "e.g", "i.e", "cf", "dres", "hosp", "sp", "spp", "var", "ca", "min", "máx", "max", "mín",
];

/// Groups `tokens` (of `text`) into sentences; each sentence is a range of token indices.
/// Every token belongs to exactly one sentence, in order.
pub fn split_sentences(text: &str, tokens: &[Token]) -> Vec<Range<usize>> {
    let mut sentences = Vec::new();
    let mut start = 0;
    for i in 0..tokens.len() {
        let next = tokens.get(i + 1);
        let ends = match next {
            None => true,
            Some(next) => {
                let gap = &text[tokens[i].end..next.start];
                let line_break = gap.contains(['\n', '\r', '\u{2028}', '\u{2029}']);
                let terminal = !gap.is_empty()
                    && ends_with_terminal(text, tokens, i)
                    && opens_sentence(next.text(text))
                    && !closes_abbreviation(text, tokens, i);
                line_break || terminal
            }
        };
        if ends {
            sentences.push(start..i + 1);
            start = i + 1;
        }
    }
    sentences
}

/// True if token `i` is a terminal (`.`, `!`, `?`, `…`), possibly followed by closing
/// quotes or brackets that are attached to it.
fn ends_with_terminal(text: &str, tokens: &[Token], i: usize) -> bool {
    let mut j = i;
    loop {
        match tokens[j].text(text) {
            "." | "!" | "?" | "…" => return true,
            ")" | "]" | "\"" | "»" | "”" | "'" if j > 0 && tokens[j - 1].end == tokens[j].start => {
                j -= 1
            }
            _ => return false,
        }
    }
}

fn opens_sentence(token: &str) -> bool {
    token.chars().next().is_some_and(|c| {
        c.is_uppercase()
            || c.is_ascii_digit()
            || matches!(c, '(' | '¿' | '¡' | '"' | '«' | '“' | '[' | '-' | '•')
    })
}

/// True if token `i` is a dot that closes an abbreviation: a single letter (`E.`, `T.A.C.`)
/// or a listed word, written right before the dot.
fn closes_abbreviation(text: &str, tokens: &[Token], i: usize) -> bool {
    if tokens[i].text(text) != "." || i == 0 || tokens[i - 1].end != tokens[i].start {
        return false;
    }
    let word = tokens[i - 1].text(text);
    let mut letters = word.chars();
    let single_letter =
        matches!((letters.next(), letters.next()), (Some(c), None) if c.is_alphabetic());
    single_letter || ABBREVIATIONS.contains(&word.to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::super::tokenize;
    use super::*;

    fn sentences(text: &str) -> Vec<String> {
        let tokens = tokenize(text);
        split_sentences(text, &tokens)
            .into_iter()
            .map(|r| text[tokens[r.start].start..tokens[r.end - 1].end].to_string())
            .collect()
    }

    #[test]
    fn splits_on_terminals_before_capitals_and_line_breaks() {
        assert_eq!(
            sentences("Se pautó amoxicilina. Mejoró\nAlta a domicilio! ¿Fiebre? No."),
            [
                "Se pautó amoxicilina.",
                "Mejoró",
                "Alta a domicilio!",
                "¿Fiebre?",
                "No."
            ]
        );
    }

    #[test]
    fn keeps_abbreviations_decimals_and_lowercase_continuations_together() {
        assert_eq!(
            sentences("Cultivo con E. coli y T.A.C. Abdominal normal. Hb 1.16 ng/ml. el resto, aprox. Normal."),
            ["Cultivo con E. coli y T.A.C. Abdominal normal.", "Hb 1.16 ng/ml. el resto, aprox. Normal."]
        );
        assert_eq!(
            sentences("Dosis (10 mg.) Después"),
            ["Dosis (10 mg.)", "Después"]
        );
    }

    #[test]
    fn every_token_lands_in_one_sentence() {
        let text = "A. B. C.\n\n\nD";
        let tokens = tokenize(text);
        let ranges = split_sentences(text, &tokens);
        assert_eq!(ranges.first().unwrap().start, 0);
        assert_eq!(ranges.last().unwrap().end, tokens.len());
        assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));
        assert!(split_sentences("", &[]).is_empty());
    }
}
