//! Which tag may follow which: the constraints a decoder needs so that every predicted
//! sequence is well formed in its scheme (first order, as a linear-chain CRF sees it).

use super::{Position, Scheme, Tag};

impl Scheme {
    /// Whether a sentence may start with `tag`.
    pub fn may_start(self, tag: &Tag) -> bool {
        use Position::*;
        match self {
            Scheme::Bio => tag.position != Inside,
            Scheme::Bioes => matches!(tag.position, Outside | Begin | Single),
            Scheme::Bmewov => matches!(tag.position, Outside | Begin | Single | Nested),
        }
    }

    /// Whether a sentence may end with `tag`.
    pub fn may_end(self, tag: &Tag) -> bool {
        use Position::*;
        match self {
            Scheme::Bio => true,
            Scheme::Bioes => matches!(tag.position, Outside | End | Single),
            Scheme::Bmewov => matches!(tag.position, Outside | End | Single | Nested),
        }
    }

    /// Whether `next` may follow `previous`.
    pub fn may_follow(self, previous: &Tag, next: &Tag) -> bool {
        use Position::*;
        let same_type = previous.label == next.label;
        match self {
            Scheme::Bio => next.position != Inside || (previous.position != Outside && same_type),
            Scheme::Bioes => match previous.position {
                Begin | Inside => matches!(next.position, Inside | End) && same_type,
                _ => matches!(next.position, Outside | Begin | Single),
            },
            Scheme::Bmewov => match previous.position {
                // An open outer entity continues with its own type or with a nested run.
                Begin | Inside => {
                    matches!(next.position, Inside | End) && same_type || next.position == Nested
                }
                // A nested run may open the outer entity (whose type is not known yet at first
                // order), continue, or close it: anything may follow.
                Nested => true,
                _ => matches!(next.position, Outside | Begin | Single | Nested),
            },
        }
    }

    /// The constraints over a tag set as additive scores: 0 where allowed, `forbidden`
    /// where not. Returns `(start [K], end [K], transitions [K × K] row-major, from → to)`.
    pub fn transition_mask(self, tags: &[Tag], forbidden: f32) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let score = |allowed: bool| if allowed { 0.0 } else { forbidden };
        let start = tags.iter().map(|t| score(self.may_start(t))).collect();
        let end = tags.iter().map(|t| score(self.may_end(t))).collect();
        let transitions = tags
            .iter()
            .flat_map(|from| tags.iter().map(move |to| score(self.may_follow(from, to))))
            .collect();
        (start, end, transitions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tagging::TokenSpan;

    fn tags(text: &str) -> Vec<Tag> {
        text.split_whitespace()
            .map(|t| Tag::parse(t).unwrap())
            .collect()
    }

    fn valid(scheme: Scheme, sequence: &[Tag]) -> bool {
        sequence.first().is_none_or(|t| scheme.may_start(t))
            && sequence.last().is_none_or(|t| scheme.may_end(t))
            && sequence.windows(2).all(|w| scheme.may_follow(&w[0], &w[1]))
    }

    #[test]
    fn every_encoding_is_a_valid_sequence() {
        let cases = [
            vec![TokenSpan::new(0, 1, "A"), TokenSpan::new(2, 5, "B")],
            vec![TokenSpan::new(1, 5, "A"), TokenSpan::new(1, 2, "B")],
            vec![TokenSpan::new(0, 5, "A"), TokenSpan::new(3, 5, "B")],
            vec![
                TokenSpan::new(0, 6, "A"),
                TokenSpan::new(1, 2, "B"),
                TokenSpan::new(2, 4, "C"),
            ],
            vec![TokenSpan::new(0, 2, "A"), TokenSpan::new(2, 3, "A")],
        ];
        for scheme in Scheme::ALL {
            for spans in &cases {
                let encoding = scheme.encode(7, spans);
                assert!(
                    valid(scheme, &encoding.tags),
                    "{scheme:?} {spans:?} -> {:?}",
                    encoding.tags
                );
            }
        }
    }

    #[test]
    fn ill_formed_sequences_are_rejected() {
        assert!(!valid(Scheme::Bio, &tags("O I-A")));
        assert!(!valid(Scheme::Bio, &tags("B-A I-B")));
        assert!(!valid(Scheme::Bioes, &tags("B-A O")));
        assert!(!valid(Scheme::Bioes, &tags("B-A")));
        assert!(!valid(Scheme::Bmewov, &tags("M-A E-A")));
        assert!(!valid(Scheme::Bmewov, &tags("B-A E-B")));
        assert!(!valid(Scheme::Bmewov, &tags("W-A M-A")));
        assert!(!valid(Scheme::Bmewov, &tags("B-A M-A")));
        assert!(valid(Scheme::Bmewov, &tags("V-A M-B E-B O W-A")));
        assert!(valid(Scheme::Bmewov, &tags("B-B V-A V-A E-B")));
    }

    #[test]
    fn mask_marks_forbidden_transitions() {
        let set = Scheme::Bmewov.tag_set(&["A".to_string()]);
        let (start, end, transitions) = Scheme::Bmewov.transition_mask(&set, -1e4);
        let index = |t: &str| {
            set.iter()
                .position(|x| *x == Tag::parse(t).unwrap())
                .unwrap()
        };
        let k = set.len();
        assert_eq!(start[index("M-A")], -1e4);
        assert_eq!(start[index("B-A")], 0.0);
        assert_eq!(end[index("B-A")], -1e4);
        assert_eq!(transitions[index("B-A") * k + index("O")], -1e4);
        assert_eq!(transitions[index("B-A") * k + index("E-A")], 0.0);
    }
}
