//! Abbreviations defined in running text, `long form (SF)`, found with the algorithm of
//! Schwartz & Hearst (PSB 2003): the short form's characters are matched right to left
//! inside the words before the parenthesis, its first character at the start of a word.

/// Every `(short form, long form)` pair defined in `text`, in order of appearance, as
/// written. `ácido acetilsalicílico (AAS)` gives `("AAS", "ácido acetilsalicílico")`.
pub fn find_abbreviations(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut from = 0;
    while let Some(open) = text[from..].find('(').map(|i| from + i) {
        from = open + 1;
        let Some(close) = text[from..].find(['(', ')']).map(|i| from + i) else {
            break;
        };
        if !text[close..].starts_with(')') {
            continue;
        }
        let short = text[from..close].trim();
        if !is_short_form(short) {
            continue;
        }
        // The long form lies in the same clause, within min(|SF| + 5, 2 |SF|) words.
        let before = &text[..open];
        let clause = before
            .rfind(['.', ';', ':', '\n', '(', ')', '[', ']'])
            .map_or(0, |i| i + 1);
        let words: Vec<&str> = before[clause..].split_whitespace().collect();
        let length = short.chars().count();
        let window = words[words.len().saturating_sub((length + 5).min(2 * length))..].join(" ");
        if let Some(long) = long_form(short, &window) {
            pairs.push((short.to_string(), long));
        }
    }
    pairs
}

/// 2 to 10 characters, at most two words, a letter somewhere, starting with a letter or digit.
fn is_short_form(candidate: &str) -> bool {
    let length = candidate.chars().count();
    (2..=10).contains(&length)
        && candidate.split_whitespace().count() <= 2
        && candidate.chars().any(char::is_alphabetic)
        && candidate.chars().next().is_some_and(char::is_alphanumeric)
}

/// One character, lower-cased and without its accent, so `Á` matches `a`.
fn lower(c: char) -> char {
    crate::text::fold(c.encode_utf8(&mut [0; 4]))
        .chars()
        .next()
        .unwrap_or(c)
}

/// The shortest tail of `window` whose words contain the short form's letters and digits in
/// order, the first of them starting a word; `None` if there is none.
fn long_form(short: &str, window: &str) -> Option<String> {
    let short: Vec<char> = short.chars().map(lower).collect();
    let long: Vec<char> = window.chars().collect();
    let mut s = short.len();
    let mut l = long.len();
    while s > 0 {
        let c = short[s - 1];
        if !c.is_alphanumeric() {
            s -= 1;
            continue;
        }
        loop {
            if l == 0 {
                return None;
            }
            let matches = lower(long[l - 1]) == c;
            let starts_word = l == 1 || !long[l - 2].is_alphanumeric();
            if matches && (s > 1 || starts_word) {
                break;
            }
            l -= 1;
        }
        l -= 1;
        s -= 1;
    }
    let start = long[..l]
        .iter()
        .rposition(|c| c.is_whitespace())
        .map_or(0, |i| i + 1);
    let found: String = long[start..].iter().collect();
    let found = found.trim();
    let useful = found.chars().count() > short.len() && found.contains(char::is_whitespace)
        || found.chars().count() > short.len() + 2;
    useful.then(|| found.to_string())
}

#[cfg(test)]
mod tests {
    use super::find_abbreviations;

    #[test]
    fn finds_long_forms_of_spanish_clinical_abbreviations() {
        let text = "Se pautó ácido acetilsalicílico (AAS) y heparina de bajo peso molecular \
                    (HBPM). La hemoglobina (Hb) era normal; tomaba 5 mg (1-0-1). \
                    Antígeno prostático específico (PSA) elevado.";
        // Schwartz & Hearst take the shortest long form that spells the short form, here
        // `prostático específico`: a known limit of the method, kept rather than guessed at.
        let pairs = find_abbreviations(text);
        let expected = [
            ("AAS", "ácido acetilsalicílico"),
            ("HBPM", "heparina de bajo peso molecular"),
            ("Hb", "hemoglobina"),
            ("PSA", "prostático específico"),
        ];
        let found: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(s, l)| (s.as_str(), l.as_str()))
            .collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn ignores_parentheses_that_define_nothing() {
        assert!(find_abbreviations("dosis (1-0-1) y (véase) ((x)) (").is_empty());
        assert!(find_abbreviations("un texto (ABC)").is_empty());
    }
}
