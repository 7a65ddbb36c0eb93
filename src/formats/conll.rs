//! CoNLL token files: one `token<TAB>tag` per line, a blank line between sentences.
//! Extra middle columns are kept out of the way: the first column is the token and the
//! last the tag. `-DOCSTART-` lines separate documents and are skipped.

use crate::document::{Document, Entity};
use crate::error::{Error, Result};
use crate::tagging::{align_entities, Scheme, Tag};
use crate::text::{Segmentation, Token};

/// One sentence of a CoNLL file. `tags` is empty when the file has a token column only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConllSentence {
    pub tokens: Vec<String>,
    pub tags: Vec<String>,
}

/// Every sentence of tagged documents as CoNLL tokens with the entities' tags in `scheme`:
/// what `clinitag tag` writes for CoNLL output, and what a CoNLL dev set is scored on.
pub fn tagged_sentences(
    documents: &[(Document, Segmentation)],
    scheme: Scheme,
) -> Vec<ConllSentence> {
    let mut sentences = Vec::new();
    for (document, segmentation) in documents {
        let (aligned, _) = align_entities(segmentation, &document.entities);
        for sentence in aligned {
            let tokens = &segmentation.tokens[sentence.tokens.clone()];
            let encoding = scheme.encode(tokens.len(), &sentence.spans);
            sentences.push(ConllSentence {
                tokens: tokens
                    .iter()
                    .map(|t| t.text(&document.text).to_string())
                    .collect(),
                tags: encoding.tags.iter().map(|t| scheme.format(t)).collect(),
            });
        }
    }
    sentences
}

/// Parses a CoNLL file. Every line of a file must have the same number of columns.
pub fn parse_conll(content: &str, source_name: &str) -> Result<Vec<ConllSentence>> {
    let mut sentences = Vec::new();
    let mut current = ConllSentence::default();
    let mut columns_seen: Option<usize> = None;
    for (number, line) in content.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with("-DOCSTART-") {
            if !current.tokens.is_empty() {
                sentences.push(std::mem::take(&mut current));
            }
            continue;
        }
        let fields: Vec<&str> = if line.contains('\t') {
            line.split('\t').collect()
        } else {
            line.split_whitespace().collect()
        };
        let columns = *columns_seen.get_or_insert(fields.len());
        if fields.len() != columns {
            return Err(Error::parse(
                source_name,
                number + 1,
                format!(
                    "expected {columns} columns like the lines before, found {}",
                    fields.len()
                ),
            ));
        }
        if fields[0].is_empty() {
            return Err(Error::parse(source_name, number + 1, "empty token"));
        }
        current.tokens.push(fields[0].to_string());
        if columns > 1 {
            let tag = fields[columns - 1];
            Tag::parse(tag).map_err(|e| Error::parse(source_name, number + 1, e.to_string()))?;
            current.tags.push(tag.to_string());
        }
    }
    if !current.tokens.is_empty() {
        sentences.push(current);
    }
    Ok(sentences)
}

/// Writes sentences as `token<TAB>tag` lines with a blank line after each sentence.
pub fn write_conll(sentences: &[ConllSentence]) -> String {
    let mut out = String::new();
    for sentence in sentences {
        for (i, token) in sentence.tokens.iter().enumerate() {
            out.push_str(token);
            if let Some(tag) = sentence.tags.get(i) {
                out.push('\t');
                out.push_str(tag);
            }
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

/// Turns CoNLL sentences into a document whose text is the tokens joined by spaces, one
/// sentence per line, with the given segmentation (never re-tokenized) and the entities
/// the tags encode (conlleval's reading).
pub fn to_document(id: &str, sentences: &[ConllSentence]) -> (Document, Segmentation) {
    let mut text = String::new();
    let mut segmentation = Segmentation::default();
    let mut entities = Vec::new();
    for sentence in sentences {
        let first = segmentation.tokens.len();
        for token in &sentence.tokens {
            if segmentation.tokens.len() > first {
                text.push(' ');
            }
            let start = text.len();
            text.push_str(token);
            segmentation.tokens.push(Token {
                start,
                end: text.len(),
            });
        }
        text.push('\n');
        segmentation
            .sentences
            .push(first..segmentation.tokens.len());
        let tags: Vec<Tag> = sentence
            .tags
            .iter()
            .filter_map(|t| Tag::parse(t).ok())
            .collect();
        for span in Scheme::Bio.decode(&tags) {
            let tokens = &segmentation.tokens[first..];
            entities.push(Entity::new(
                tokens[span.start].start,
                tokens[span.end - 1].end,
                span.label,
            ));
        }
    }
    let mut document = Document::new(id, text);
    document.entities = entities;
    (document, segmentation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sentences_tags_and_entities() {
        let content = "-DOCSTART-\tO\n\n22\tB-Chemical\n-\tI-Chemical\noxacalcitriol\tI-Chemical\nsuppresses\tO\n\nrenal\tB-Disease\nfailure\tI-Disease\n";
        let sentences = parse_conll(content, "t.tsv").unwrap();
        assert_eq!(sentences.len(), 2);
        assert_eq!(sentences[1].tags, ["B-Disease", "I-Disease"]);
        let (document, segmentation) = to_document("t", &sentences);
        assert_eq!(segmentation.sentences, [0..4, 4..6]);
        let mentions: Vec<&str> = document
            .entities
            .iter()
            .map(|e| document.mention(e))
            .collect();
        assert_eq!(mentions, ["22 - oxacalcitriol", "renal failure"]);
        assert_eq!(
            write_conll(&sentences),
            content.replace("-DOCSTART-\tO\n\n", "") + "\n"
        );
    }

    #[test]
    fn rejects_ragged_columns_and_unknown_tags() {
        assert!(parse_conll("a\tO\nb\n", "t").is_err());
        assert_eq!(
            parse_conll("a\tO\nb\tQ-X\n", "t").unwrap_err().to_string(),
            "t, line 2: 'Q-X' is not a tag (expected O, or B/I/M/E/S/W/V followed by -TYPE)"
        );
        let tokens_only = parse_conll("a\nb\n\nc\n", "t").unwrap();
        assert_eq!(tokens_only.len(), 2);
        assert!(tokens_only[0].tags.is_empty());
    }
}
