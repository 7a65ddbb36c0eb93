//! The one path from a text to its entities. Every door (the command line, the browser
//! module, and Node.js through it) holds a [`Pipeline`] and only adapts types around it.
//!
//! The stages, in order:
//! 1. the text is cut into tokens and sentences ([`Segmentation`]), and a long text into
//!    parts of bounded length ([`PipelineOptions::max_part_length`]);
//! 2. the model (one, or an ensemble) tags each part;
//! 3. the entities are put in text order, and a text found as an entity is tagged where
//!    else it occurs ([`PipelineOptions::propagate`]);
//! 4. each entity's assertion (present, negated, possible, hypothetical, family, historical)
//!    and its cue are read from its sentence ([`AssertionRules`] of the model's language);
//! 5. the concept index gives each entity its concept, read in its document;
//! 6. each becomes a [`Mention`], with offsets in the caller's unit ([`PipelineOptions::offsets`]).

use crate::assertion::AssertionRules;
use crate::document::{ConceptMatch, Cue, Document, Mention};
use crate::error::{Error, Result};
use crate::models::{Model, Tagger as _};
use crate::normalize::{normalize_term, Candidate, ConceptIndex, Matcher};
use crate::text::{OffsetMap, OffsetUnit, Segmentation};
use std::borrow::Cow;

/// How a [`Pipeline`] tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipelineOptions {
    /// Tag every other occurrence, in the same text, of a text found as an entity
    /// ([`Document::propagate_mentions`]): a model reads each sentence alone and may miss in
    /// one place the drug it found in another. Default true.
    pub propagate: bool,
    /// The most text one pass of the model reads, in [`PipelineOptions::offsets`] units: a longer
    /// text is tagged in parts cut at sentence ends, with the same entities as in one pass
    /// (only a sentence longer than a part is cut between words), so that progress can be
    /// reported between parts and each pass's memory stays bounded. `None` (the default)
    /// reads any text in one pass.
    pub max_part_length: Option<usize>,
    /// The unit of the mentions' offsets, of progress and of `max_part_length`: characters
    /// (Python, BRAT; the default), UTF-16 code units (JavaScript) or UTF-8 bytes.
    pub offsets: OffsetUnit,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            propagate: true,
            max_part_length: None,
            offsets: OffsetUnit::Char,
        }
    }
}

/// The parts a text is tagged in, each with how much of the text is done once it is.
type Parts<'s> = Vec<(Cow<'s, Segmentation>, usize)>;

/// A model (one, or an ensemble), an optional concept index and the options: what turns a
/// text into its entities.
pub struct Pipeline {
    model: Model,
    /// The assertion rules of the model's language, where clinitag has some.
    assertion: Option<AssertionRules>,
    matcher: Option<Matcher>,
    options: PipelineOptions,
}

impl Pipeline {
    pub fn new(model: Model, index: Option<ConceptIndex>, options: PipelineOptions) -> Self {
        Pipeline {
            assertion: AssertionRules::bundled(model.language()),
            model,
            matcher: index.map(Matcher::new),
            options,
        }
    }

    /// Reads assertions with `rules` instead of the bundled rules of the model's language
    /// (none: every entity is present).
    pub fn set_assertion_rules(&mut self, rules: Option<AssertionRules>) {
        self.assertion = rules;
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    pub fn index(&self) -> Option<&ConceptIndex> {
        self.matcher.as_ref().map(Matcher::index)
    }

    pub fn options(&self) -> &PipelineOptions {
        &self.options
    }

    /// The entities of `text`, in text order. Empty or blank text has none.
    pub fn tag(&self, text: &str) -> Result<Vec<Mention>> {
        self.tag_with_progress(text, |_, _| Ok::<(), Error>(()))
    }

    /// [`Pipeline::tag`], calling `progress(done, total)` (in [`PipelineOptions::offsets`] units)
    /// after each part of the text, and once for a text of no part. An error it returns
    /// stops the tagging and is returned.
    pub fn tag_with_progress<E: From<Error>>(
        &self,
        text: &str,
        mut progress: impl FnMut(usize, usize) -> Result<(), E>,
    ) -> Result<Vec<Mention>, E> {
        let (mut document, segmentation) = (Document::new("", text), Segmentation::of(text));
        let (parts, total) = self.begin(text, &segmentation, &mut progress)?;
        for (part, done) in parts {
            document.entities.extend(self.model.tag(text, &part));
            progress(done, total)?;
        }
        Ok(self.end(&mut document, &segmentation)?)
    }

    /// [`Pipeline::tag_with_progress`] that reads the model's results back asynchronously,
    /// as a browser's GPU requires.
    pub async fn tag_async<E: From<Error>>(
        &self,
        text: &str,
        mut progress: impl FnMut(usize, usize) -> Result<(), E>,
    ) -> Result<Vec<Mention>, E> {
        let (mut document, segmentation) = (Document::new("", text), Segmentation::of(text));
        let (parts, total) = self.begin(text, &segmentation, &mut progress)?;
        for (part, done) in parts {
            document
                .entities
                .extend(self.model.tag_async(text, &part).await?);
            progress(done, total)?;
        }
        Ok(self.end(&mut document, &segmentation)?)
    }

    /// Tags a document whose text is already segmented (CoNLL input keeps its own tokens):
    /// its entities are replaced by those found, each with its concept id where the index
    /// gives one; returns each entity's concept match, in the same order.
    pub fn tag_document(
        &self,
        document: &mut Document,
        segmentation: &Segmentation,
    ) -> Result<Vec<Option<ConceptMatch>>> {
        document.entities.clear();
        for (part, _) in self.parts(&document.text, segmentation)? {
            let entities = self.model.tag(&document.text, &part);
            document.entities.extend(entities);
        }
        Ok(self.finish(document, segmentation))
    }

    /// The entities of `document`, which the pipeline tagged, with their concept matches
    /// (`concepts`, as [`Pipeline::tag_document`] returned them) and offsets in
    /// [`PipelineOptions::offsets`] units.
    pub fn mentions(
        &self,
        document: &Document,
        concepts: &[Option<ConceptMatch>],
    ) -> Result<Vec<Mention>> {
        let offsets = OffsetMap::new(&document.text);
        let convert = |byte| {
            offsets
                .from_byte(byte, self.options.offsets)
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "internal error: offset {byte} is not a character boundary"
                    ))
                })
        };
        let mut mentions = Vec::with_capacity(document.entities.len());
        for (entity, concept) in document.entities.iter().zip(concepts) {
            let cue = match &entity.cue {
                Some(cue) => Some(Cue {
                    start: convert(cue.start)?,
                    end: convert(cue.end)?,
                    text: document.text[cue.clone()].to_string(),
                }),
                None => None,
            };
            mentions.push(Mention {
                start: convert(entity.start)?,
                end: convert(entity.end)?,
                label: entity.label.clone(),
                text: document.mention(entity).to_string(),
                score: entity.score,
                concept: concept.clone(),
                assertion: entity.assertion,
                cue,
            });
        }
        Ok(mentions)
    }

    /// What tagging one text starts with: its parts ([`Self::parts`]) and its length in
    /// [`PipelineOptions::offsets`] units, progress told at once that a text of no part is done.
    fn begin<'s, E: From<Error>>(
        &self,
        text: &str,
        segmentation: &'s Segmentation,
        progress: &mut impl FnMut(usize, usize) -> Result<(), E>,
    ) -> Result<(Parts<'s>, usize), E> {
        let total = self.length(text);
        let parts = self.parts(text, segmentation)?;
        if parts.is_empty() {
            progress(total, total)?;
        }
        Ok((parts, total))
    }

    /// What tagging one text ends with: the stages after the model, then the mentions.
    fn end(&self, document: &mut Document, segmentation: &Segmentation) -> Result<Vec<Mention>> {
        let concepts = self.finish(document, segmentation);
        self.mentions(document, &concepts)
    }

    /// The parts `segmentation` of `text` is tagged in, each with how much of the text (in
    /// [`PipelineOptions::offsets`] units) is done once it is: the whole segmentation as one part
    /// unless [`PipelineOptions::max_part_length`] cuts it. The last part also covers the blank text
    /// after its last token; a text with no token has no part. The parts are handed out
    /// owned, so that each is dropped once tagged: the whole segmentation stays for
    /// propagation, its copy in parts need not.
    fn parts<'s>(&self, text: &str, segmentation: &'s Segmentation) -> Result<Parts<'s>> {
        let parts: Vec<Cow<Segmentation>> = match self.options.max_part_length {
            None if segmentation.tokens.is_empty() => Vec::new(),
            None => vec![Cow::Borrowed(segmentation)],
            Some(length) => segmentation
                .parts(text, length, self.options.offsets)
                .into_iter()
                .map(Cow::Owned)
                .collect(),
        };
        let offsets = OffsetMap::new(text);
        let count = parts.len();
        let mut done = Vec::with_capacity(count);
        for (i, part) in parts.iter().enumerate() {
            let end = match part.tokens.last() {
                Some(token) if i + 1 < count => token.end,
                _ => text.len(),
            };
            done.push(
                offsets
                    .from_byte(end, self.options.offsets)
                    .ok_or_else(|| {
                        Error::Invalid(format!(
                            "internal error: offset {end} is not a character boundary"
                        ))
                    })?,
            );
        }
        Ok(parts.into_iter().zip(done).collect())
    }

    /// The text's length in [`PipelineOptions::offsets`] units.
    fn length(&self, text: &str) -> usize {
        match self.options.offsets {
            OffsetUnit::Byte => text.len(),
            OffsetUnit::Char => text.chars().count(),
            OffsetUnit::Utf16 => text.encode_utf16().count(),
        }
    }

    /// The stages after the model: text order, propagation, concepts. Returns each entity's
    /// concept match; the entities' concept ids are set to match (see [`Matcher::annotate`]).
    fn finish(
        &self,
        document: &mut Document,
        segmentation: &Segmentation,
    ) -> Vec<Option<ConceptMatch>> {
        document.entities.sort_by_key(|e| (e.start, e.end));
        if self.options.propagate {
            document.propagate_mentions(segmentation);
        }
        if let Some(rules) = &self.assertion {
            rules.assert(&document.text, segmentation, &mut document.entities);
        }
        let found = match &self.matcher {
            Some(matcher) => matcher.annotate(document),
            None => vec![None; document.entities.len()],
        };
        let mut concepts = Vec::with_capacity(found.len());
        for (entity, found) in document.entities.iter().zip(found) {
            concepts.push(match (found, &self.matcher) {
                (Some(candidate), Some(matcher)) => Some(concept_match(candidate, matcher)),
                // Where the index gives nothing, the model's own concept (a dictionary's).
                _ => entity.concepts.first().map(|id| ConceptMatch {
                    id: id.clone(),
                    preferred: String::new(),
                    score: entity.score,
                    stage: "model".to_string(),
                    term: normalize_term(document.mention(entity)),
                    sources: Vec::new(),
                }),
            });
        }
        concepts
    }
}

fn concept_match(candidate: Candidate<'_>, matcher: &Matcher) -> ConceptMatch {
    ConceptMatch {
        id: candidate.concept.id.clone(),
        preferred: candidate.concept.preferred.clone(),
        score: candidate.score,
        stage: candidate.stage.name().to_string(),
        sources: matcher
            .index()
            .source_names(candidate.sources)
            .into_iter()
            .map(str::to_string)
            .collect(),
        term: candidate.term,
    }
}

/// Many texts at once, on all cores: documents are tagged in parallel, each as
/// [`Pipeline::tag_document`] would alone, so the results do not depend on the threads.
#[cfg(not(target_arch = "wasm32"))]
impl Pipeline {
    /// The entities of each text, in the order of `texts`, tagged on `threads` threads (all
    /// cores where `None`).
    pub fn tag_many<T: AsRef<str> + Sync>(
        &self,
        texts: &[T],
        threads: Option<usize>,
    ) -> Result<Vec<Vec<Mention>>> {
        use rayon::prelude::*;
        on_threads(threads, || {
            texts
                .par_iter()
                .map(|text| self.tag(text.as_ref()))
                .collect()
        })
    }

    /// [`Pipeline::tag_document`] for each document, on `threads` threads (all cores where
    /// `None`), calling `on_tagged` as each is done (from the thread that tagged it). Returns
    /// each document's concept matches, in order.
    pub fn tag_documents(
        &self,
        documents: &mut [(Document, Segmentation)],
        threads: Option<usize>,
        on_tagged: impl Fn() + Sync,
    ) -> Result<Vec<Vec<Option<ConceptMatch>>>> {
        use rayon::prelude::*;
        on_threads(threads, || {
            documents
                .par_iter_mut()
                .map(|(document, segmentation)| {
                    let concepts = self.tag_document(document, segmentation);
                    on_tagged();
                    concepts
                })
                .collect()
        })
    }
}

/// Runs `work` on a pool of `threads` threads, or on rayon's pool of all cores. The models'
/// own parallel loops (matrix products) then share the same threads.
#[cfg(not(target_arch = "wasm32"))]
fn on_threads<T: Send>(
    threads: Option<usize>,
    work: impl FnOnce() -> Result<T> + Send,
) -> Result<T> {
    match threads {
        None => work(),
        Some(0) => Err(Error::Invalid("threads must be at least 1".into())),
        Some(threads) => rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| Error::Invalid(format!("cannot start {threads} threads: {e}")))?
            .install(work),
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::document::Assertion;
    use crate::text::OffsetUnit;
    use std::future::Future as _;

    fn shipped(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/models/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn pipeline(options: PipelineOptions) -> Pipeline {
        let model = Model::from_bytes(&shipped("bilstm-crf-es.clinitag")).unwrap();
        let index = ConceptIndex::from_bytes(&shipped("snomed-es.idx")).unwrap();
        Pipeline::new(model, Some(index), options)
    }

    const NOTE: &str = "🙂 Paciente de 70 años en tratamiento con enalapril 10 mg y \
        omeprazol. Se suspendió el omeprazol por hipomagnesemia.\n\nSe pautó paracetamol.";

    /// The characters of `text` between two offsets counted in `unit`.
    fn slice(text: &str, start: usize, end: usize, unit: OffsetUnit) -> String {
        match unit {
            OffsetUnit::Byte => text[start..end].to_string(),
            OffsetUnit::Char => text.chars().skip(start).take(end - start).collect(),
            OffsetUnit::Utf16 => {
                let units: Vec<u16> = text.encode_utf16().collect();
                String::from_utf16(&units[start..end]).unwrap()
            }
        }
    }

    #[test]
    fn every_mention_is_its_own_text_in_the_unit_asked_for_with_its_concept() {
        let by_char = pipeline(PipelineOptions::default()).tag(NOTE).unwrap();
        let drugs: Vec<&str> = by_char.iter().map(|m| m.text.as_str()).collect();
        assert!(drugs.contains(&"enalapril"), "{drugs:?}");
        // Propagation: the second omeprazol is found even where the model alone missed it.
        assert_eq!(drugs.iter().filter(|&&d| d == "omeprazol").count(), 2);
        let enalapril = by_char.iter().find(|m| m.text == "enalapril").unwrap();
        let concept = enalapril.concept.as_ref().expect("enalapril has a concept");
        assert!(
            concept.id.bytes().all(|b| b.is_ascii_digit()),
            "{concept:?}"
        );
        assert!(!concept.preferred.is_empty() && !concept.sources.is_empty());
        for unit in [OffsetUnit::Char, OffsetUnit::Utf16, OffsetUnit::Byte] {
            let options = PipelineOptions {
                offsets: unit,
                ..PipelineOptions::default()
            };
            let mentions = pipeline(options).tag(NOTE).unwrap();
            assert_eq!(mentions.len(), by_char.len());
            for (m, c) in mentions.iter().zip(&by_char) {
                assert_eq!(slice(NOTE, m.start, m.end, unit), m.text, "{unit:?}");
                assert_eq!(
                    (&m.text, &m.label, m.score, &m.concept),
                    (&c.text, &c.label, c.score, &c.concept)
                );
            }
        }
        // The emoji is one char, two UTF-16 units and four bytes.
        let utf16 = pipeline(PipelineOptions {
            offsets: OffsetUnit::Utf16,
            ..PipelineOptions::default()
        });
        assert_eq!(utf16.tag(NOTE).unwrap()[0].start, by_char[0].start + 1);
    }

    #[test]
    fn parts_give_the_entities_of_one_pass_and_report_progress_up_to_the_whole_text() {
        let whole = pipeline(PipelineOptions::default()).tag(NOTE).unwrap();
        // Parts that hold any one sentence, but not the whole text.
        let segmentation = Segmentation::of(NOTE);
        let longest = (0..segmentation.sentences.len())
            .map(|i| {
                let tokens = segmentation.sentence(i);
                let (start, end) = (tokens[0].start, tokens[tokens.len() - 1].end);
                NOTE[start..end].chars().count()
            })
            .max()
            .unwrap();
        let parted = pipeline(PipelineOptions {
            max_part_length: Some(longest),
            ..PipelineOptions::default()
        });
        let mut reported = Vec::new();
        let mentions = parted
            .tag_with_progress(NOTE, |done, total| {
                reported.push((done, total));
                Ok::<(), Error>(())
            })
            .unwrap();
        assert_eq!(mentions, whole);
        let total = NOTE.chars().count();
        assert!(reported.len() >= 2, "{reported:?}");
        assert!(reported.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(reported.last(), Some(&(total, total)));
        // An error from the progress callback stops the tagging and comes back as it is.
        let stopped = parted.tag_with_progress(NOTE, |done, total| match done < total {
            true => Err(Error::Invalid("stopped by the caller".into())),
            false => Ok(()),
        });
        assert!(matches!(stopped, Err(Error::Invalid(m)) if m == "stopped by the caller"));
        // No text, no entity; progress still says it is done.
        for blank in ["", " \n\t"] {
            let mut calls = Vec::new();
            let none = parted
                .tag_with_progress(blank, |d, t| {
                    calls.push((d, t));
                    Ok::<(), Error>(())
                })
                .unwrap();
            assert!(none.is_empty());
            let length = blank.chars().count();
            assert_eq!(calls, [(length, length)]);
        }
    }

    #[test]
    fn assertions_read_the_whole_sentence_even_across_parts() {
        let text = "🙂 Su madre toma digoxina. La paciente no toma omeprazol, ibuprofeno, \
                    enalapril ni aspirina desde hace años. Sigue con paracetamol.";
        let whole = pipeline(PipelineOptions::default()).tag(text).unwrap();
        // Parts of 30 characters cut the negated sentence: its cue is in an earlier part
        // than most of its drugs.
        let parted = pipeline(PipelineOptions {
            max_part_length: Some(30),
            offsets: OffsetUnit::Utf16,
            ..PipelineOptions::default()
        })
        .tag(text)
        .unwrap();
        let read = |mentions: &[Mention]| -> Vec<(String, Assertion, Option<String>)> {
            mentions
                .iter()
                .map(|m| {
                    (
                        m.text.clone(),
                        m.assertion,
                        m.cue.as_ref().map(|c| c.text.clone()),
                    )
                })
                .collect()
        };
        assert_eq!(read(&parted), read(&whole));
        let found = read(&whole);
        let of = |drug: &str| found.iter().find(|(text, ..)| text == drug).expect(drug);
        assert_eq!(of("digoxina").1, Assertion::Family);
        for drug in ["omeprazol", "ibuprofeno", "enalapril", "aspirina"] {
            assert_eq!(of(drug).1, Assertion::Negated, "{found:?}");
        }
        assert_eq!(
            of("paracetamol"),
            &("paracetamol".into(), Assertion::Present, None)
        );
        // A cue's offsets are in the caller's unit, as the mention's are.
        for mention in &parted {
            if let Some(cue) = &mention.cue {
                assert_eq!(slice(text, cue.start, cue.end, OffsetUnit::Utf16), cue.text);
            }
        }
    }

    #[test]
    fn the_async_path_finds_what_the_sync_one_does() {
        let pipeline = pipeline(PipelineOptions {
            max_part_length: Some(60),
            ..PipelineOptions::default()
        });
        let sync = pipeline.tag(NOTE).unwrap();
        let future = pipeline.tag_async(NOTE, |_, _| Ok::<(), Error>(()));
        // The CPU's results are ready at once: one poll finishes it.
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        let std::task::Poll::Ready(result) = std::pin::pin!(future).poll(&mut context) else {
            panic!("the CPU's tagging waited");
        };
        assert_eq!(result.unwrap(), sync);
    }

    #[test]
    fn many_texts_on_several_threads_tag_as_each_alone() {
        let pipeline = pipeline(PipelineOptions::default());
        let texts: Vec<String> = (0..6).map(|i| NOTE.repeat(i % 3 + 1)).collect();
        let alone: Vec<_> = texts.iter().map(|t| pipeline.tag(t).unwrap()).collect();
        for threads in [Some(1), Some(2), None] {
            assert_eq!(
                pipeline.tag_many(&texts, threads).unwrap(),
                alone,
                "{threads:?}"
            );
        }
        let error = pipeline.tag_many(&texts, Some(0)).unwrap_err();
        assert!(error.to_string().contains("at least 1"), "{error}");
    }
}
