//! Flat schemes (BIO, BIOES) with conlleval's chunk semantics.
//!
//! `chunks` reproduces conlleval.pl's `startOfChunk`/`endOfChunk` rules, so `I-T` after `O`
//! or after another type opens a chunk, and a change of type closes one. conlleval has no
//! rule for `S` and only partial ones for `E`; the IOBES rules added here (a chunk always
//! starts at `B`/`S` and always ends after `E`/`S`) never fire on IOB input, so IOB files
//! score exactly as conlleval scores them.

use super::{sorted_unique, write_span, DropReason, Encoding, Position, Scheme, Tag, TokenSpan};

pub(super) fn encode_flat(scheme: Scheme, len: usize, spans: &[TokenSpan]) -> Encoding {
    let mut tags = vec![Tag::outside(); len];
    let mut dropped = Vec::new();
    let mut kept_end = 0;
    for span in sorted_unique(spans) {
        if span.start < kept_end {
            dropped.push((span, DropReason::Flat));
            continue;
        }
        write_span(&mut tags, &span, scheme == Scheme::Bioes);
        kept_end = span.end;
    }
    Encoding { tags, dropped }
}

/// conlleval's letter for a tag: `V` has no flat meaning and reads as `I`.
fn letter(tag: &Tag) -> char {
    match tag.position {
        Position::Begin => 'B',
        Position::Inside | Position::Nested => 'I',
        Position::End => 'E',
        Position::Single => 'S',
        Position::Outside => 'O',
    }
}

fn ends_chunk(prev: char, tag: char, prev_type: &str, tag_type: &str) -> bool {
    matches!(
        (prev, tag),
        ('B', 'B') | ('B', 'O') | ('I', 'B') | ('I', 'O') | ('E', 'E') | ('E', 'I') | ('E', 'O')
    ) || matches!(prev, 'E' | 'S') // IOBES: E and S close their chunk
        || (prev == 'B' || prev == 'I') && tag == 'S'
        || (prev != 'O' && prev_type != tag_type)
}

fn starts_chunk(prev: char, tag: char, prev_type: &str, tag_type: &str) -> bool {
    matches!(
        (prev, tag),
        ('B', 'B') | ('I', 'B') | ('O', 'B') | ('O', 'I') | ('E', 'E') | ('E', 'I') | ('O', 'E')
    ) || matches!(tag, 'B' | 'S') // IOBES: B and S always open a chunk
        || (prev == 'S' && matches!(tag, 'I' | 'E'))
        || (tag != 'O' && prev_type != tag_type)
}

/// Chunks of a tag sequence under conlleval's rules.
pub(super) fn chunks(tags: &[Tag]) -> Vec<TokenSpan> {
    let mut spans = Vec::new();
    let mut open: Option<(usize, &str)> = None;
    let (mut prev, mut prev_type) = ('O', "");
    for (i, tag) in tags.iter().enumerate() {
        let (current, current_type) = (letter(tag), tag.label());
        if ends_chunk(prev, current, prev_type, current_type)
            || starts_chunk(prev, current, prev_type, current_type)
        {
            if let Some((start, label)) = open.take() {
                spans.push(TokenSpan::new(start, i, label));
            }
        }
        if starts_chunk(prev, current, prev_type, current_type) {
            open = Some((i, current_type));
        }
        (prev, prev_type) = (current, current_type);
    }
    if let Some((start, label)) = open {
        spans.push(TokenSpan::new(start, tags.len(), label));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(text: &str) -> Vec<(usize, usize, String)> {
        let tags: Vec<Tag> = text
            .split_whitespace()
            .map(|t| Tag::parse(t).unwrap())
            .collect();
        chunks(&tags)
            .into_iter()
            .map(|s| (s.start, s.end, s.label))
            .collect()
    }

    #[test]
    fn follows_conlleval_on_iob1_and_ill_formed_iob2() {
        // I after O opens a chunk; a type change opens a new one (conlleval).
        assert_eq!(
            decode("O I-A I-A I-B"),
            [(1, 3, "A".into()), (3, 4, "B".into())]
        );
        // B after I of the same type splits.
        assert_eq!(
            decode("B-A I-A B-A O"),
            [(0, 2, "A".into()), (2, 3, "A".into())]
        );
        assert_eq!(decode("B-A I-A"), [(0, 2, "A".into())]);
    }

    #[test]
    fn reads_iobes_single_and_end_tags() {
        assert_eq!(
            decode("S-A S-A B-A E-A E-A"),
            [
                (0, 1, "A".into()),
                (1, 2, "A".into()),
                (2, 4, "A".into()),
                (4, 5, "A".into())
            ]
        );
        assert_eq!(
            decode("B-A S-A I-A"),
            [(0, 1, "A".into()), (1, 2, "A".into()), (2, 3, "A".into())]
        );
    }
}
