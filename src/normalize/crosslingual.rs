//! A spelling of terms that Spanish and English names of the same substance share, for the
//! matcher's cross-lingual stage. Most drug names are international nonproprietary names
//! whose Spanish and English forms differ by regular rules (`metilfenidato`,
//! `methylphenidate`); the same rules rewrite both sides, so they only have to make the two
//! meet, and an exact Spanish match is never lost.

use super::keys::is_identifier;

/// Words that join the others (`cloruro de sodio`, `virus de la hepatitis`, `hepatitis B
/// virus`): left out.
const JOINING_WORDS: [&str; 13] = [
    "de", "del", "la", "las", "el", "los", "y", "e", "con", "of", "the", "and", "with",
];

/// Head words of antibody names, left out where an `anti…` word says what the antibody is
/// against (`anticuerpos antiperoxidasa`, `Ac anti-TPO`, `antiperoxidasa`).
const ANTIBODY_WORDS: [&str; 6] = [
    "anticuerpo",
    "anticuerpos",
    "ac",
    "acs",
    "antibody",
    "antibodies",
];

/// Elements of the radionuclides of nuclear medicine, by symbol, with their Spanish and
/// English names, and the mass numbers used: `Yodo-131`, `I131`, `131I` and `Iodine-131`
/// all become `i131`.
const RADIONUCLIDES: [(&str, &[&str], &[&str]); 18] = [
    ("i", &["yodo", "iodo", "iodine"], &["123", "125", "131"]),
    ("tc", &["tecnecio", "technetium"], &["99m"]),
    ("ga", &["galio", "gallium"], &["67", "68"]),
    ("co", &["cobalto", "cobalt"], &["57", "60"]),
    ("tl", &["talio", "thallium"], &["201"]),
    ("in", &["indio", "indium"], &["111"]),
    ("f", &["fluor", "fluorine"], &["18"]),
    ("xe", &["xenon"], &["133"]),
    ("lu", &["lutecio", "lutetium"], &["177"]),
    ("y", &["itrio", "yttrium"], &["90"]),
    ("sr", &["estroncio", "strontium"], &["89", "90"]),
    ("sm", &["samario", "samarium"], &["153"]),
    ("ra", &["radio", "radium"], &["223", "226"]),
    ("p", &["fosforo", "phosphorus"], &["32"]),
    ("cr", &["cromo", "chromium"], &["51"]),
    ("rb", &["rubidio", "rubidium"], &["82"]),
    ("c", &["carbono", "carbon"], &["11", "14"]),
    ("kr", &["kripton", "krypton"], &["81m"]),
];

/// A normalised key (see [`super::normalize_term`]) in the shared spelling. Words are sorted,
/// so `ácido fólico` meets `folic acid`; joining words are dropped, and antibody head words
/// next to an `anti…` word; a radionuclide becomes its symbol and mass number. Each other
/// word is rewritten by [`cross_lingual_word`]; identifier words (`B12`, `CD`) stay as
/// they are.
pub fn cross_lingual_form(key: &str) -> String {
    if let Some(nuclide) = radionuclide(key) {
        return nuclide;
    }
    let mut words: Vec<String> = Vec::new();
    let mut parts = key.split(' ').filter(|w| !w.is_empty()).peekable();
    while let Some(word) = parts.next() {
        // `anti tpo`, `anti-músculo`: one word, as `antimúsculo` is.
        if word == "anti" {
            if let Some(next) = parts.next() {
                words.push(format!("anti{next}"));
                continue;
            }
        }
        words.push(word.to_string());
    }
    let against = words.iter().any(|w| w.len() > 4 && w.starts_with("anti"));
    let mut words: Vec<String> = words
        .into_iter()
        .filter(|w| !JOINING_WORDS.contains(&w.as_str()))
        .filter(|w| !(against && ANTIBODY_WORDS.contains(&w.as_str())))
        .map(|w| spelt_out_greek(&w))
        .map(|w| match w.as_str() {
            // `ac. fólico`: before anything but an antibody's target, `ac` is `ácido`.
            "ac" => "acid".to_string(),
            _ if is_identifier(&w) => w,
            _ => cross_lingual_word(&w),
        })
        .collect();
    words.sort_unstable();
    words.join(" ")
}

/// Whether a key is exactly one radionuclide (`i131`, `ga 67`): short, but no identifier.
pub(super) fn is_radionuclide(key: &str) -> bool {
    radionuclide(key).is_some()
}

/// `yodo 131`, `i131`, `131i`, `99mtc`, `tecnecio 99m`, `co 60` → the symbol and mass number
/// (`i131`, `tc99m`, `co60`), where the key is exactly one radionuclide.
fn radionuclide(key: &str) -> Option<String> {
    let compact = key.replace(' ', "");
    let digits = compact.find(|c: char| c.is_ascii_digit())?;
    let (name, mass) = if digits == 0 {
        // `131i`, `99mtc`: the mass number first.
        let end = compact
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(compact.len());
        let end = if compact[end..].starts_with('m') && !compact[end..].starts_with("mo") {
            end + 1
        } else {
            end
        };
        (&compact[end..], &compact[..end])
    } else {
        (&compact[..digits], &compact[digits..])
    };
    RADIONUCLIDES
        .iter()
        .find(|(symbol, names, masses)| {
            (name == *symbol || names.contains(&name)) && masses.contains(&mass)
        })
        .map(|(symbol, _, _)| format!("{symbol}{mass}"))
}

fn is_vowel(c: char) -> bool {
    matches!(c, 'a' | 'e' | 'i' | 'o' | 'u')
}

/// `α` → `alfa`, as Spanish writes it (and English `alpha` becomes, in
/// [`cross_lingual_word`]).
fn spelt_out_greek(word: &str) -> String {
    word.replace('α', "alfa")
        .replace('β', "beta")
        .replace('γ', "gamma")
        .replace('κ', "kappa")
        .replace('λ', "lambda")
}

/// One word in the shared spelling: digraphs
/// simplified (`ph` → `f`, `ae` → `e`, an `h` after a consonant dropped), `y` → `i`,
/// `k` and `z` → `c`, doubled letters made single, an initial `es` before a consonant made
/// `s` (`estreptomicina`, `streptomycin`), the endings `-uro`/`-ide`, `-oso`/`-ous` and
/// `-io`/`-ium` aligned, a plural `s` after a vowel dropped (before those), then a final vowel
/// (`-ina`/`-ine`, `-ato`/`-ate`, `-ona`/`-one`, `-ico`/`-ic`).
fn cross_lingual_word(word: &str) -> String {
    let mut word = word.to_string();
    let plural = word.ends_with('s') && !word.ends_with("ous");
    if word.len() > 5 && plural && word[..word.len() - 1].ends_with(is_vowel) {
        word.pop();
    }
    for (ending, shared) in [("uro", "id"), ("ide", "id"), ("oso", "os"), ("ous", "os")] {
        if let Some(stem) = word.strip_suffix(ending) {
            word = format!("{stem}{shared}");
            break;
        }
    }
    if let Some(stem) = word.strip_suffix("ium") {
        word = format!("{stem}io");
    }
    let word = word
        .replace("ph", "f")
        .replace("ae", "e")
        .replace("oe", "e");
    let mut chars: Vec<char> = Vec::with_capacity(word.len());
    for c in word.chars() {
        let c = match c {
            'y' => 'i',
            'k' | 'z' => 'c',
            c => c,
        };
        let previous = chars.last().copied();
        if previous == Some(c) {
            continue;
        }
        if c == 'h' && previous.is_some_and(|p| p.is_alphabetic() && !is_vowel(p)) {
            continue;
        }
        chars.push(c);
    }
    if chars.len() > 3 && chars[0] == 'e' && chars[1] == 's' && !is_vowel(chars[2]) {
        chars.remove(0);
    }
    if chars.len() > 4 && chars.last().is_some_and(|&c| matches!(c, 'a' | 'e' | 'o')) {
        chars.pop();
    }
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::cross_lingual_form;
    use crate::normalize::keys::normalize_term;

    fn same(spanish: &str, english: &str) -> bool {
        cross_lingual_form(&normalize_term(spanish)) == cross_lingual_form(&normalize_term(english))
    }

    #[test]
    fn spanish_and_english_drug_names_meet() {
        for (spanish, english) in [
            ("metilfenidato", "Methylphenidate"),
            ("glutamina", "Glutamine"),
            ("ácido fólico", "Folic acid"),
            ("cloruro de sodio", "Sodium chloride"),
            ("sulfato ferroso", "Ferrous sulfate"),
            ("estreptomicina", "Streptomycin"),
            ("amoxicilina", "Amoxicillin"),
            ("fenitoína", "Phenytoin"),
            ("metotrexato", "Methotrexate"),
            ("prednisona", "Prednisone"),
            ("ketoconazol", "Ketoconazole"),
            ("potasio", "Potassium"),
            ("Yodo-131", "Iodine-131"),
            ("I131", "Iodine-131"),
            ("99mTc", "Technetium-99m"),
            ("60Cobalto", "Cobalt-60"),
            ("alfa-fetoproteína", "α-fetoproteína"),
            ("Ac anti-TPO", "anticuerpos antiTPO"),
            ("antiperoxidasa", "anticuerpos antiperoxidasa"),
            ("ac. fólico", "ácido fólico"),
            ("vitaminas B1", "vitamina B1"),
        ] {
            assert!(same(spanish, english), "{spanish} / {english}");
        }
    }

    #[test]
    fn different_substances_stay_apart() {
        for (a, b) in [
            ("prednisona", "prednisolona"),
            ("vitamina B12", "vitamina B6"),
            ("nucleósidos", "nucleótidos"),
            ("I131", "I123"),
            ("Co 60", "CO2"),
            ("anticuerpos antinucleares", "antígenos nucleares"),
            ("cloruro", "clorito"),
        ] {
            assert!(!same(a, b), "{a} / {b}");
        }
    }
}
