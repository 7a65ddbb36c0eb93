//! Word tokenization with exact byte spans.
//!
//! The rule set is deliberately fine-grained: a token is a run of letters and digits (with
//! decimal separators kept inside numbers), and every other visible character stands alone.
//! Gold entity boundaries in clinical text fall on hyphens, slashes, dots and parentheses
//! (`S-100`, `beta-HCG`, `E. coli`, `mg/dl`), so splitting there keeps every boundary
//! reachable; the models see the pieces and learn to join them.

/// A token: the byte range `start..end` of its text in the original string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Token {
    pub start: usize,
    pub end: usize,
}

impl Token {
    pub fn text<'a>(&self, source: &'a str) -> &'a str {
        &source[self.start..self.end]
    }
}

/// True for characters that continue a word: letters, digits and combining marks (text
/// in decomposed form keeps its accents on the letter they belong to).
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

fn is_combining_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

/// Splits `text` into tokens. Whitespace (including non-breaking and zero-width spaces and
/// control characters) separates tokens and belongs to none.
pub fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens = Vec::with_capacity(text.len() / 5 + 1);
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if is_separator(c) {
            continue;
        }
        if !is_word_char(c) {
            tokens.push(Token {
                start,
                end: start + c.len_utf8(),
            });
            continue;
        }
        let mut end = start + c.len_utf8();
        let mut previous = c;
        while let Some(&(position, next)) = chars.peek() {
            if is_word_char(next) {
                end = position + next.len_utf8();
                previous = next;
                chars.next();
            } else if (next == '.' || next == ',')
                && previous.is_ascii_digit()
                && text[position + 1..]
                    .chars()
                    .next()
                    .is_some_and(|after| after.is_ascii_digit())
            {
                // Decimal point, decimal comma or thousands separator inside a number.
                end = position + 1;
                previous = next;
                chars.next();
            } else {
                break;
            }
        }
        split_glued_number(text, Token { start, end }, &mut tokens);
    }
    tokens
}

/// Pushes a letters-and-digits token, split in two where a word is glued to a number:
/// a measured value (`Hb15,6`) or a lowercase word of four or more letters followed by
/// digits (`atropina1%`, a footnote mark in `poliinsaturados3`). Codes such as `CK7`,
/// `sY86`, `IgG4` and `B12` stay whole.
fn split_glued_number(text: &str, token: Token, tokens: &mut Vec<Token>) {
    let word = token.text(text);
    let letters = word
        .find(|c: char| !c.is_alphabetic() && !is_combining_mark(c))
        .unwrap_or(word.len());
    let rest = &word[letters..];
    let is_number = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_digit())
            && s.chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
    };
    let prefix = &word[..letters];
    let lowercase_word =
        prefix.chars().count() >= 4 && prefix.chars().skip(1).all(|c| !c.is_uppercase());
    let measured_value = rest.contains(['.', ',']);
    if letters > 0 && is_number(rest) && (lowercase_word || measured_value) {
        let middle = token.start + letters;
        tokens.push(Token {
            start: token.start,
            end: middle,
        });
        tokens.push(Token {
            start: middle,
            end: token.end,
        });
    } else {
        tokens.push(token);
    }
}

fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c,
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        tokenize(text).iter().map(|t| t.text(text)).collect()
    }

    #[test]
    fn splits_hyphenated_names_and_units_at_punctuation() {
        assert_eq!(
            words("S-100 y beta-HCG"),
            ["S", "-", "100", "y", "beta", "-", "HCG"]
        );
        assert_eq!(
            words("Alfa-Feto-Proteína 1.16 ng/ml"),
            [
                "Alfa",
                "-",
                "Feto",
                "-",
                "Proteína",
                "1.16",
                "ng",
                "/",
                "ml"
            ]
        );
    }

    #[test]
    fn keeps_numbers_with_decimal_commas_and_alphanumeric_codes_whole() {
        assert_eq!(
            words("Hb 12,5 g/dl, CK 7 y sY86."),
            ["Hb", "12,5", "g", "/", "dl", ",", "CK", "7", "y", "sY86", "."]
        );
        assert_eq!(
            words("E. coli (T.A.C.)"),
            ["E", ".", "coli", "(", "T", ".", "A", ".", "C", ".", ")"]
        );
        // A comma followed by a space is punctuation, not a decimal separator.
        assert_eq!(words("3, 4"), ["3", ",", "4"]);
        assert_eq!(
            words("Hb15,6 atropina1% B12 IgG4"),
            ["Hb", "15,6", "atropina", "1", "%", "B12", "IgG4"]
        );
    }

    #[test]
    fn spans_point_at_the_original_characters() {
        let text = "\u{feff}Ácido\u{a0}fólico 🧪\tIgG4";
        for token in tokenize(text) {
            assert!(!token.text(text).trim().is_empty());
        }
        assert_eq!(words(text), ["Ácido", "fólico", "🧪", "IgG4"]);
        // Decomposed accents stay inside their word.
        assert_eq!(words("a\u{301}cido"), ["a\u{301}cido"]);
    }
}
