//! Synonyms defined in running text. Abbreviations, `long form (SF)`, found with the
//! algorithm of Schwartz & Hearst (PSB 2003): the short form's characters are matched right
//! to left inside the words before the parenthesis, its first character at the start of a
//! word. Brand names, `substance (Brand®, laboratory)` or `Brand® (substance)`, as clinical
//! case reports name the drugs they give.

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

/// Longest substance name tried before or inside the parenthesis, in words.
const MAX_SUBSTANCE_WORDS: usize = 4;

/// Every `(brand, substance)` pair that `text` states, in order of appearance: a capitalised
/// word opening a parenthesis after a substance (`tobramicina (Tobrex, Alcon Cusí)`), or a
/// word marked `®` before a parenthesis that opens with the substance (`Dormicum® (midazolam)`).
/// Of the words next to the parenthesis, the longest run that `is_substance` accepts (an
/// indexed term, say) is the substance; a parenthesis next to none states no brand.
pub fn find_brand_names(text: &str, is_substance: impl Fn(&str) -> bool) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for (open, _) in text.match_indices('(') {
        let inside = &text[open + 1..];
        let inside = &inside[..inside.find(')').unwrap_or(inside.len())];
        let before = &text[..open];
        let clause = before
            .rfind([',', ';', ':', '.', '(', ')', '\n', '"', '“'])
            .map_or(0, |i| {
                i + before[i..].chars().next().map_or(1, char::len_utf8)
            });
        let words_before: Vec<&str> = before[clause..].split_whitespace().collect();
        let words_inside: Vec<&str> = inside
            .split([',', ';', '/'])
            .next()
            .unwrap_or("")
            .split_whitespace()
            .take(MAX_SUBSTANCE_WORDS)
            .collect();

        // substance (Brand …)
        if let Some(brand) = words_inside.first().and_then(|w| brand_word(w, false)) {
            let tails = (1..=MAX_SUBSTANCE_WORDS.min(words_before.len()))
                .rev()
                .map(|n| words_before[words_before.len() - n..].join(" "));
            if let Some(substance) = tails.into_iter().find(|t| is_substance(t)) {
                pairs.push((brand, substance));
                continue;
            }
        }
        // Brand® (substance …)
        if let Some(brand) = words_before.last().and_then(|w| brand_word(w, true)) {
            let heads = (1..=MAX_SUBSTANCE_WORDS.min(words_inside.len()))
                .rev()
                .map(|n| words_inside[..n].join(" "));
            if let Some(substance) = heads.into_iter().find(|h| is_substance(h)) {
                pairs.push((brand, substance));
            }
        }
    }
    pairs
}

/// The brand a word names, without its `®`: four letters or more, and either marked `®` or
/// capitalised with lower-case letters after (`Tobrex`, not `TAC` or `Barcelona,`'s comma);
/// with `marked_only`, only a `®` counts.
fn brand_word(word: &str, marked_only: bool) -> Option<String> {
    let marked = word.contains('®');
    let name = word
        .trim_end_matches(['®', ',', ';', '.', ')'])
        .trim_end_matches('®');
    let letters = name.chars().filter(|c| c.is_alphabetic()).count();
    let capitalised = name.chars().next().is_some_and(char::is_uppercase)
        && name.chars().skip(1).any(char::is_lowercase);
    let plain = name.chars().all(|c| c.is_alphabetic() || c == '-');
    (plain && letters >= 4 && (marked || (!marked_only && capitalised))).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::{find_abbreviations, find_brand_names};

    #[test]
    fn finds_brand_names_next_to_their_substances() {
        let text =
            "“colirio de tobramicina (Tobrex, Alcon Cusí, Barcelona) y dexametasona alcohol \
                    (maxidex®; Alcon) cada 6 horas. Premedicado con Dormicum® (midazolam) 5 mg. \
                    Tomaba prednisona (30 mg) y aciclovir (TAC). Visto en Madrid (España).";
        let known = [
            "tobramicina",
            "dexametasona alcohol",
            "alcohol",
            "midazolam",
            "prednisona",
        ];
        let pairs = find_brand_names(text, |t| known.contains(&t));
        let found: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(b, s)| (b.as_str(), s.as_str()))
            .collect();
        // The longest known substance wins (`dexametasona alcohol`, not `alcohol`); doses,
        // abbreviations and places are no brands.
        assert_eq!(
            found,
            [
                ("Tobrex", "tobramicina"),
                ("maxidex", "dexametasona alcohol"),
                ("Dormicum", "midazolam"),
            ]
        );
    }

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
