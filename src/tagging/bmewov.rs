//! BMEWO-V: B/M/E/W/O for the outer entity, V-runs for entities nested inside it.

use super::{sorted_unique, write_span, DropReason, Encoding, Position, Tag, TokenSpan};

pub(super) fn encode(len: usize, spans: &[TokenSpan]) -> Encoding {
    let mut dropped = Vec::new();
    let mut tops: Vec<(TokenSpan, Vec<TokenSpan>)> = Vec::new();
    let spans = sorted_unique(spans);
    for span in &spans {
        if let Some((top, children)) = tops.last_mut().filter(|(top, _)| span.start < top.end) {
            let reason = if !top.contains(span) {
                Some(DropReason::Crossing)
            } else if (top.start, top.end) == (span.start, span.end) {
                Some(DropReason::SameTokens)
            } else {
                match children.last() {
                    Some(last) if last.contains(span) => Some(DropReason::TooDeep),
                    Some(last) if last.overlaps(span) => Some(DropReason::Crossing),
                    _ => None,
                }
            };
            match reason {
                Some(reason) => dropped.push((span.clone(), reason)),
                None => children.push(span.clone()),
            }
            continue;
        }
        tops.push((span.clone(), Vec::new()));
    }

    let mut tags = vec![Tag::outside(); len];
    for (top, mut children) in tops {
        // An outer entity needs at least one token of its own to carry its type.
        let inner_tokens: usize = children.iter().map(|c| c.end - c.start).sum();
        if inner_tokens == top.end - top.start {
            dropped.extend(children.drain(..).map(|c| (c, DropReason::Ambiguous)));
        }
        if children.is_empty() {
            write_span(&mut tags, &top, true);
            continue;
        }
        for (i, tag) in tags.iter_mut().enumerate().take(top.end).skip(top.start) {
            let position = if i == top.start {
                Position::Begin
            } else if i + 1 == top.end {
                Position::End
            } else {
                Position::Inside
            };
            *tag = Tag::new(position, &top.label);
        }
        for child in children {
            // Touching V-runs of one type would read back as one entity.
            let touches_same_type = child.start > 0
                && tags[child.start - 1].position == Position::Nested
                && tags[child.start - 1].label.as_deref() == Some(child.label.as_str());
            if touches_same_type {
                dropped.push((child, DropReason::Ambiguous));
                continue;
            }
            for tag in &mut tags[child.start..child.end] {
                *tag = Tag::new(Position::Nested, &child.label);
            }
        }
    }

    // Whatever the tags do not give back is lost, whatever the reason: report exactly that.
    let decoded = decode(&tags);
    for span in spans {
        if !decoded.contains(&span) && !dropped.iter().any(|(d, _)| *d == span) {
            dropped.push((span, DropReason::Ambiguous));
        }
    }
    dropped.sort();
    Encoding { tags, dropped }
}

/// A token, or a run of `V` tokens of one type.
struct Unit<'a> {
    start: usize,
    end: usize,
    position: Position,
    label: &'a str,
}

fn units(tags: &[Tag]) -> Vec<Unit<'_>> {
    let mut units: Vec<Unit> = Vec::with_capacity(tags.len());
    for (i, tag) in tags.iter().enumerate() {
        let label = tag.label();
        if let Some(last) = units.last_mut() {
            if tag.position == Position::Nested
                && last.position == Position::Nested
                && last.label == label
            {
                last.end = i + 1;
                continue;
            }
        }
        units.push(Unit {
            start: i,
            end: i + 1,
            position: tag.position,
            label,
        });
    }
    units
}

pub(super) fn decode(tags: &[Tag]) -> Vec<TokenSpan> {
    let units = units(tags);
    let mut spans = Vec::new();
    let mut open: Option<(usize, &str)> = None;
    let close = |open: &mut Option<(usize, &str)>, end: usize, spans: &mut Vec<TokenSpan>| {
        if let Some((start, label)) = open.take() {
            if end > start {
                spans.push(TokenSpan::new(start, end, label));
            }
        }
    };
    let mut k = 0;
    while k < units.len() {
        let unit = &units[k];
        match unit.position {
            Position::Nested => {
                // A group of adjacent V-runs; each is an inner entity. Whether they belong
                // to an outer entity depends on what follows the group.
                let group_end = (k..units.len())
                    .find(|&m| units[m].position != Position::Nested)
                    .unwrap_or(units.len());
                for run in &units[k..group_end] {
                    spans.push(TokenSpan::new(run.start, run.end, run.label));
                }
                let continued_by = units
                    .get(group_end)
                    .filter(|next| matches!(next.position, Position::Inside | Position::End))
                    .map(|next| next.label);
                let last_run = &units[group_end - 1];
                match (open, continued_by) {
                    (Some((_, label)), Some(next)) if label == next => {}
                    (Some(_), Some(next)) => {
                        // The open entity ends before the last run, which opens the next one.
                        close(&mut open, last_run.start, &mut spans);
                        open = Some((last_run.start, next));
                    }
                    (Some(_), None) => close(&mut open, last_run.end, &mut spans),
                    (None, Some(next)) => open = Some((unit.start, next)),
                    (None, None) => {}
                }
                k = group_end;
                continue;
            }
            Position::Begin => {
                close(&mut open, unit.start, &mut spans);
                open = Some((unit.start, unit.label));
            }
            Position::Inside | Position::End => {
                if open.is_none_or(|(_, label)| label != unit.label) {
                    close(&mut open, unit.start, &mut spans);
                    open = Some((unit.start, unit.label));
                }
                if unit.position == Position::End {
                    close(&mut open, unit.end, &mut spans);
                }
            }
            Position::Single => {
                close(&mut open, unit.start, &mut spans);
                spans.push(TokenSpan::new(unit.start, unit.end, unit.label));
            }
            Position::Outside => close(&mut open, unit.start, &mut spans),
        }
        k += 1;
    }
    close(&mut open, tags.len(), &mut spans);
    spans
}

#[cfg(test)]
mod tests {
    use super::super::Scheme;
    use super::*;

    fn show(encoding: &Encoding) -> String {
        encoding
            .tags
            .iter()
            .map(|t| Scheme::Bmewov.format(t))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn round_trip(len: usize, spans: &[TokenSpan]) -> (String, Vec<TokenSpan>) {
        let encoding = encode(len, spans);
        assert!(encoding.dropped.is_empty(), "{:?}", encoding.dropped);
        (show(&encoding), Scheme::Bmewov.decode(&encoding.tags))
    }

    #[test]
    fn nested_entities_survive_at_the_start_middle_and_end_of_the_outer_one() {
        // "receptores de estrógenos": PROTEINAS containing NORMALIZABLES at its end.
        let spans = vec![
            TokenSpan::new(0, 3, "P"),
            TokenSpan::new(2, 3, "N"),
            TokenSpan::new(4, 5, "N"),
        ];
        let (tags, decoded) = round_trip(6, &spans);
        assert_eq!(tags, "B-P M-P V-N O W-N O");
        assert_eq!(
            decoded,
            [
                TokenSpan::new(0, 3, "P"),
                TokenSpan::new(2, 3, "N"),
                TokenSpan::new(4, 5, "N")
            ]
        );

        let spans = vec![TokenSpan::new(1, 4, "P"), TokenSpan::new(1, 2, "N")];
        let (tags, decoded) = round_trip(4, &spans);
        assert_eq!(tags, "O V-N M-P E-P");
        assert_eq!(
            decoded,
            [TokenSpan::new(1, 2, "N"), TokenSpan::new(1, 4, "P")]
        );

        let spans = vec![
            TokenSpan::new(0, 5, "P"),
            TokenSpan::new(0, 1, "N"),
            TokenSpan::new(2, 4, "N"),
        ];
        let (tags, decoded) = round_trip(5, &spans);
        assert_eq!(tags, "V-N M-P V-N V-N E-P");
        let mut expected = spans.clone();
        expected.sort();
        assert_eq!(decoded, expected);
    }

    #[test]
    fn adjacent_outer_entities_that_begin_and_end_with_inner_ones_stay_apart() {
        let spans = vec![
            TokenSpan::new(0, 2, "X"),
            TokenSpan::new(1, 2, "a"),
            TokenSpan::new(2, 4, "Y"),
            TokenSpan::new(2, 3, "b"),
        ];
        let (tags, decoded) = round_trip(4, &spans);
        assert_eq!(tags, "B-X V-a V-b E-Y");
        let mut expected = spans.clone();
        expected.sort();
        assert_eq!(decoded, expected);
    }

    #[test]
    fn reports_what_it_cannot_encode() {
        let spans = vec![
            TokenSpan::new(0, 4, "P"),
            TokenSpan::new(0, 4, "N"), // same tokens, other type
            TokenSpan::new(1, 3, "N"),
            TokenSpan::new(1, 2, "U"), // third level
            TokenSpan::new(3, 6, "N"), // crosses the first span
        ];
        let encoding = encode(6, &spans);
        let reasons: Vec<DropReason> = encoding.dropped.iter().map(|(_, r)| *r).collect();
        assert_eq!(encoding.dropped.len(), 3);
        assert!(reasons.contains(&DropReason::SameTokens));
        assert!(reasons.contains(&DropReason::TooDeep));
        assert!(reasons.contains(&DropReason::Crossing));
        // An inner entity that fills its outer one leaves no token to carry the outer type.
        let encoding = encode(2, &[TokenSpan::new(0, 2, "P"), TokenSpan::new(0, 2, "N")]);
        assert_eq!(encoding.dropped.len(), 1);
        let encoding = encode(
            2,
            &[
                TokenSpan::new(0, 2, "P"),
                TokenSpan::new(0, 1, "N"),
                TokenSpan::new(1, 2, "M"),
            ],
        );
        assert_eq!(show(&encoding), "B-P E-P");
        assert_eq!(encoding.dropped.len(), 2);
    }

    #[test]
    fn decodes_ill_formed_predictions_without_losing_tags() {
        let tags: Vec<Tag> = "M-A O B-A V-B O E-C V-D"
            .split(' ')
            .map(|t| Tag::parse(t).unwrap())
            .collect();
        let decoded = Scheme::Bmewov.decode(&tags);
        assert_eq!(
            decoded,
            [
                TokenSpan::new(0, 1, "A"),
                TokenSpan::new(2, 4, "A"),
                TokenSpan::new(3, 4, "B"),
                TokenSpan::new(5, 6, "C"),
                TokenSpan::new(6, 7, "D"),
            ]
        );
    }
}
