//! Tagging schemes: entity spans over tokens to one tag per token, and back.
//!
//! * [`Scheme::Bio`] (IOB2) and [`Scheme::Bioes`] are the usual flat schemes; decoding follows
//!   conlleval's chunk rules, so a scored CoNLL file means what conlleval says it means.
//! * [`Scheme::Bmewov`] is the reference study's scheme: `B` begin, `M` middle, `E` end, `W`
//!   single-token entity, `O` outside, and `V` for tokens of an entity nested inside another.
//!   The outer entity keeps `B`/`M`/`E` on its own tokens; a run of `V-T` tokens is an inner
//!   entity of type `T` and also part of the surrounding outer entity, which may start or end
//!   with it (`V-NORMALIZABLES M-PROTEINAS E-PROTEINAS`). Two levels of nesting survive the
//!   round trip; what cannot be encoded is reported, never silently dropped.

mod align;
mod bmewov;
mod conlleval;
mod transitions;

pub(crate) use align::align_entities;

use std::fmt;

/// A tagging scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// IOB2: `B-T`, `I-T`, `O`.
    Bio,
    /// `B-T`, `I-T`, `E-T`, `S-T`, `O`.
    Bioes,
    /// `B-T`, `M-T`, `E-T`, `W-T`, `O`, `V-T`, with nesting (see the module docs).
    Bmewov,
}

impl Scheme {
    pub const ALL: [Scheme; 3] = [Scheme::Bio, Scheme::Bioes, Scheme::Bmewov];

    pub fn name(self) -> &'static str {
        match self {
            Scheme::Bio => "bio",
            Scheme::Bioes => "bioes",
            Scheme::Bmewov => "bmewov",
        }
    }

    /// Encodes `spans` over a sequence of `len` tokens. Spans are half-open token ranges.
    /// Spans the scheme cannot represent are returned in [`Encoding::dropped`] with the reason.
    pub fn encode(self, len: usize, spans: &[TokenSpan]) -> Encoding {
        match self {
            Scheme::Bio | Scheme::Bioes => conlleval::encode_flat(self, len, spans),
            Scheme::Bmewov => bmewov::encode(len, spans),
        }
    }

    /// Decodes tags to spans, sorted by (start, end). Ill-formed sequences (as a model may
    /// predict) decode leniently: every tag other than `O` ends up inside some span.
    pub fn decode(self, tags: &[Tag]) -> Vec<TokenSpan> {
        let mut spans = match self {
            Scheme::Bio | Scheme::Bioes => conlleval::chunks(tags),
            Scheme::Bmewov => bmewov::decode(tags),
        };
        spans.sort_by(|a, b| (a.start, a.end, &a.label).cmp(&(b.start, b.end, &b.label)));
        spans.dedup();
        spans
    }

    /// Every tag of this scheme for the given entity labels, `O` first: the label
    /// vocabulary of a sequence model.
    pub fn tag_set(self, labels: &[String]) -> Vec<Tag> {
        let positions: &[Position] = match self {
            Scheme::Bio => &[Position::Begin, Position::Inside],
            Scheme::Bioes => &[
                Position::Begin,
                Position::Inside,
                Position::End,
                Position::Single,
            ],
            Scheme::Bmewov => &[
                Position::Begin,
                Position::Inside,
                Position::End,
                Position::Single,
                Position::Nested,
            ],
        };
        let mut tags = vec![Tag::outside()];
        for label in labels {
            for &position in positions {
                tags.push(Tag::new(position, label));
            }
        }
        tags
    }

    /// Formats a tag in this scheme's letters (`M` and `W` in BMEWO-V, `I` and `S` elsewhere).
    pub fn format(self, tag: &Tag) -> String {
        let letter = match (tag.position, self) {
            (Position::Outside, _) => return "O".to_string(),
            (Position::Begin, _) => 'B',
            (Position::Inside, Scheme::Bmewov) => 'M',
            (Position::Inside, _) => 'I',
            (Position::End, _) => 'E',
            (Position::Single, Scheme::Bmewov) => 'W',
            (Position::Single, _) => 'S',
            (Position::Nested, _) => 'V',
        };
        match &tag.label {
            Some(label) => format!("{letter}-{label}"),
            None => letter.to_string(),
        }
    }
}

impl std::str::FromStr for Scheme {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "bio" | "iob" | "iob2" => Ok(Scheme::Bio),
            "bioes" | "iobes" => Ok(Scheme::Bioes),
            "bmewov" | "bmewo" => Ok(Scheme::Bmewov),
            other => Err(format!(
                "unknown tagging scheme '{other}' (expected bio, bioes or bmewov)"
            )),
        }
    }
}

/// An entity over tokens: the half-open token range `start..end` and its type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenSpan {
    pub start: usize,
    pub end: usize,
    pub label: String,
}

impl TokenSpan {
    pub fn new(start: usize, end: usize, label: impl Into<String>) -> Self {
        Self {
            start,
            end,
            label: label.into(),
        }
    }

    fn contains(&self, other: &TokenSpan) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    fn overlaps(&self, other: &TokenSpan) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// Where a token sits relative to an entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Position {
    Begin,
    /// `I` in BIO/BIOES, `M` in BMEWO-V.
    Inside,
    End,
    /// `S` in BIOES, `W` in BMEWO-V.
    Single,
    Outside,
    /// `V` in BMEWO-V: inside an entity that is nested in another.
    Nested,
}

/// One token's tag.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tag {
    pub position: Position,
    pub label: Option<String>,
}

impl Tag {
    pub fn new(position: Position, label: &str) -> Self {
        Self {
            position,
            label: Some(label.to_string()),
        }
    }

    pub fn outside() -> Self {
        Self {
            position: Position::Outside,
            label: None,
        }
    }

    /// Parses any of the schemes' spellings: `O`, `B-T`, `I-T`, `M-T`, `E-T`, `S-T`, `W-T`,
    /// `V-T`, and a bare letter without type. `U`/`L` (BILOU) are read as `S`/`E`.
    pub fn parse(text: &str) -> Result<Self, TagError> {
        let text = text.trim();
        if text == "O" {
            return Ok(Tag::outside());
        }
        let (letter, label) = match text.split_once('-') {
            Some((letter, label)) if !label.is_empty() => (letter, Some(label.to_string())),
            Some(_) => return Err(TagError(text.to_string())),
            None => (text, None),
        };
        let position = match letter {
            "B" => Position::Begin,
            "I" | "M" => Position::Inside,
            "E" | "L" => Position::End,
            "S" | "W" | "U" => Position::Single,
            "V" => Position::Nested,
            _ => return Err(TagError(text.to_string())),
        };
        Ok(Tag { position, label })
    }

    fn label(&self) -> &str {
        self.label.as_deref().unwrap_or("")
    }
}

/// A tag string no scheme knows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a tag (expected O, or B/I/M/E/S/W/V followed by -TYPE)")]
pub struct TagError(pub String);

/// Why a span could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// The scheme is flat and the span overlaps a longer (kept) one.
    Flat,
    /// It crosses another span without either containing the other.
    Crossing,
    /// Same tokens as another span of another type.
    SameTokens,
    /// Nested inside a span that is itself nested (a third level).
    TooDeep,
    /// Inner spans that cover every token of their outer span, or that touch an inner span
    /// of the same type, would decode differently.
    Ambiguous,
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DropReason::Flat => "overlaps another entity (flat scheme)",
            DropReason::Crossing => "crosses another entity",
            DropReason::SameTokens => "same tokens as an entity of another type",
            DropReason::TooDeep => "third nesting level",
            DropReason::Ambiguous => "inner entity would not decode unambiguously",
        })
    }
}

/// The result of [`Scheme::encode`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoding {
    pub tags: Vec<Tag>,
    pub dropped: Vec<(TokenSpan, DropReason)>,
}

/// Sorts spans outer-first (by start, then longest) and removes exact duplicates.
fn sorted_unique(spans: &[TokenSpan]) -> Vec<TokenSpan> {
    let mut spans: Vec<TokenSpan> = spans.iter().filter(|s| s.start < s.end).cloned().collect();
    spans.sort_by(|a, b| {
        (a.start, std::cmp::Reverse(a.end), &a.label).cmp(&(
            b.start,
            std::cmp::Reverse(b.end),
            &b.label,
        ))
    });
    spans.dedup();
    spans
}

/// Writes `B/I/E/S` (or `W` and `M`, which share positions) tags for a span.
fn write_span(tags: &mut [Tag], span: &TokenSpan, with_end: bool) {
    let label = span.label.as_str();
    if span.end - span.start == 1 {
        tags[span.start] = Tag::new(
            if with_end {
                Position::Single
            } else {
                Position::Begin
            },
            label,
        );
        return;
    }
    tags[span.start] = Tag::new(Position::Begin, label);
    for tag in &mut tags[span.start + 1..span.end - 1] {
        *tag = Tag::new(Position::Inside, label);
    }
    tags[span.end - 1] = Tag::new(
        if with_end {
            Position::End
        } else {
            Position::Inside
        },
        label,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn formatted(scheme: Scheme, encoding: &Encoding) -> String {
        encoding
            .tags
            .iter()
            .map(|t| scheme.format(t))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn flat_schemes_round_trip_and_drop_nested_spans() {
        let spans = [
            TokenSpan::new(0, 3, "P"),
            TokenSpan::new(2, 3, "N"),
            TokenSpan::new(4, 5, "N"),
        ];
        let bio = Scheme::Bio.encode(6, &spans);
        assert_eq!(formatted(Scheme::Bio, &bio), "B-P I-P I-P O B-N O");
        assert_eq!(bio.dropped, [(TokenSpan::new(2, 3, "N"), DropReason::Flat)]);
        let bioes = Scheme::Bioes.encode(6, &spans);
        assert_eq!(formatted(Scheme::Bioes, &bioes), "B-P I-P E-P O S-N O");
        for scheme in [Scheme::Bio, Scheme::Bioes] {
            let encoding = scheme.encode(6, &spans);
            assert_eq!(
                scheme.decode(&encoding.tags),
                [TokenSpan::new(0, 3, "P"), TokenSpan::new(4, 5, "N")]
            );
        }
    }

    #[test]
    fn parses_and_formats_every_spelling() {
        for text in ["O", "B-X", "I-X", "E-X", "S-X", "V-X"] {
            assert_eq!(Scheme::Bioes.format(&Tag::parse(text).unwrap()), text);
        }
        assert_eq!(Scheme::Bmewov.format(&Tag::parse("S-X").unwrap()), "W-X");
        assert_eq!(Scheme::Bmewov.format(&Tag::parse("I-X").unwrap()), "M-X");
        assert!(Tag::parse("X-foo").is_err());
        assert!(Tag::parse("B-").is_err());
        assert_eq!(Scheme::Bmewov.tag_set(&["A".into()]).len(), 6);
    }
}
