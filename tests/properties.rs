//! Generated inputs, on the native build: offsets round-trip exactly between the three units,
//! the file readers answer bad input with an error that names its line (never a panic), the
//! model and index readers refuse damaged files, and the shipped taggers return entities on
//! character boundaries whatever the text.
//!
//! `PROPTEST_CASES=N` sets how many cases each test draws (the defaults suit CI's time).
#![cfg(not(target_arch = "wasm32"))]

use clinitag::formats::{brat, conll, indexing};
use clinitag::models::{Model, Tagger};
use clinitag::normalize::{
    fhir, find_abbreviations, find_brand_names, rf2, ConceptIndex, IndexBuilder, TermSelection,
    TerminologyImport,
};
use clinitag::text::{OffsetMap, OffsetUnit, Segmentation};
use clinitag::{Document, Error, Pipeline, PipelineOptions};
use proptest::prelude::*;
use std::path::Path;
use std::sync::OnceLock;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        // PROPTEST_CASES, where set, overrides the default for every test.
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(cases),
        ..ProptestConfig::default()
    }
}

/// Text made of what breaks offset and tokenizer code: accents precomposed and combining,
/// emoji (surrogate pairs in UTF-16, joiner sequences), CRLF and lone CR, zero-width, bidi and
/// byte-order marks, NUL, sentence ends, clinical words, and any char at all.
fn clinical_unicode() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => "[a-zA-Z0-9]{1,8}",
        2 => any::<char>().prop_map(String::from),
        2 => prop::sample::select(vec![
            " ", " ", ". ", ".\n", "\r\n", "\r", "\n\n", "\t", ",", "/", "-", "(", ")",
        ])
        .prop_map(String::from),
        2 => prop::sample::select(vec![
            "ácido fólico", "Ácido\u{301}", "e\u{301}", "ñ", "5 mg/día", "IL-6", "Na+", "🧪", "🧬",
            "👩\u{200d}⚕\u{fe0f}", "🇪🇸", "\u{200b}", "\u{200f}", "\u{feff}", "\u{2028}", "\0",
            "א\u{5b8}ב", "𝔄", "ﬁ", "Ⅻ", "İ", "ß",
        ])
        .prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..48).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(config(2_000))]

    #[test]
    fn offsets_round_trip_between_bytes_chars_and_utf16(text in clinical_unicode()) {
        let map = OffsetMap::new(&text);
        prop_assert_eq!(map.char_len(), text.chars().count());
        let mut boundaries: Vec<usize> = text.char_indices().map(|(byte, _)| byte).collect();
        boundaries.push(text.len());
        for (char_index, &byte) in boundaries.iter().enumerate() {
            let utf16 = text[..byte].encode_utf16().count();
            prop_assert_eq!(map.from_byte(byte, OffsetUnit::Char), Some(char_index));
            prop_assert_eq!(map.from_byte(byte, OffsetUnit::Utf16), Some(utf16));
            prop_assert_eq!(map.from_byte(byte, OffsetUnit::Byte), Some(byte));
            prop_assert_eq!(map.to_byte(char_index, OffsetUnit::Char), Some(byte));
            prop_assert_eq!(map.to_byte(utf16, OffsetUnit::Utf16), Some(byte));
            prop_assert_eq!(map.to_byte(byte, OffsetUnit::Byte), Some(byte));
        }
        // Inside a character there is no offset in any unit: bytes within a UTF-8 sequence,
        // UTF-16 units between the halves of a surrogate pair, anything past the end.
        for byte in (0..text.len()).filter(|&b| !text.is_char_boundary(b)) {
            prop_assert_eq!(map.from_byte(byte, OffsetUnit::Char), None);
            prop_assert_eq!(map.to_byte(byte, OffsetUnit::Byte), None);
        }
        let mut utf16 = 0;
        for c in text.chars() {
            if c.len_utf16() == 2 {
                prop_assert_eq!(map.to_byte(utf16 + 1, OffsetUnit::Utf16), None);
            }
            utf16 += c.len_utf16();
        }
        prop_assert_eq!(map.to_byte(boundaries.len(), OffsetUnit::Char), None);
        prop_assert_eq!(map.to_byte(utf16 + 1, OffsetUnit::Utf16), None);
    }

    #[test]
    fn readers_answer_any_lines_with_entities_or_an_error_naming_the_line(
        lines in prop::collection::vec(annotation_line(), 0..24)
    ) {
        let content = lines.join("\n");
        let count = content.lines().count();
        names_a_line(brat::parse_ann(&content, "t.ann").map(drop), count)?;
        names_a_line(conll::parse_conll(&content, "t.conll").map(drop), count)?;
        names_a_line(indexing::parse_tsv(&content, "t.tsv").map(drop), count)?;
        names_a_line(rf2::read_descriptions(&content, "d.txt").map(drop), count)?;
        names_a_line(rf2::read_preferred(&content, "l.txt").map(drop), count)?;
    }

    #[test]
    fn synonym_finders_take_any_text(text in clinical_unicode(), parentheses in "[(),;® ]{0,12}") {
        // Parentheses and brand marks spliced into any text: the finders never panic, and
        // whatever they find is text of the input.
        let text = format!("{parentheses}{text}{parentheses}");
        for (short, long) in find_abbreviations(&text) {
            prop_assert!(text.contains(&short) && !long.is_empty());
        }
        for (brand, substance) in find_brand_names(&text, |_| true) {
            prop_assert!(text.contains(&brand) && text.contains(substance.split(' ').next().unwrap()));
        }
    }

    #[test]
    fn terminology_readers_answer_damaged_files_with_an_error_naming_the_line(
        cut in 0usize..4096, at in 0usize..4096, byte in any::<u8>()
    ) {
        // A FHIR file cut short or with one byte changed: read, or a parse error on one of
        // its lines. The same bytes as a release zip, or as anything: an error, no panic.
        let mut json = FHIR_VALUE_SET.as_bytes().to_vec();
        json.truncate(cut.min(json.len()));
        if !json.is_empty() {
            let at = at % json.len();
            json[at] = byte;
        }
        let lines = json.split(|&b| b == b'\n').count();
        if let Ok(text) = std::str::from_utf8(&json) {
            names_a_line(fhir::read_terminology(text, "vs.json").map(drop), lines)?;
        }
        let mut import = TerminologyImport::new(IndexBuilder::new("es"), TermSelection::default());
        let _ = import.add_file("x.txt", &json);
        let _ = import.add_file("x.zip", &[b"PK\x03\x04".as_slice(), &json].concat());
    }

    #[test]
    fn brat_entities_keep_their_characters_through_reading_and_writing(
        text in clinical_unicode(), spans in prop::collection::vec((0usize..64, 0usize..64), 0..6)
    ) {
        let chars = text.chars().count();
        // A BRAT mention is one line: spans whose text would break it are left out.
        let kept: Vec<(usize, usize, String)> = spans
            .iter()
            .map(|&(a, b)| {
                let (start, end) = (a.min(b), a.max(b));
                (start, end, text.chars().skip(start).take(end - start).collect::<String>())
            })
            .filter(|(_, _, mention)| !mention.contains(['\n', '\r', '\t']))
            .collect();
        let ann: String = kept
            .iter()
            .enumerate()
            .map(|(i, (start, end, mention))| format!("T{i}\tNORMALIZABLES {start} {end}\t{mention}\n"))
            .collect();
        let entities = brat::parse_ann(&ann, "t.ann").unwrap();
        prop_assert_eq!(entities.len(), kept.len());
        match brat::to_document("t", text.clone(), &entities) {
            Ok((document, mismatches)) => {
                prop_assert!(kept.iter().all(|&(_, end, _)| end <= chars));
                prop_assert!(mismatches.is_empty(), "{:?}", mismatches);
                for (entity, annotation) in document.entities.iter().zip(&entities) {
                    prop_assert_eq!(document.mention(entity), annotation.text.as_str());
                }
                // Written back and read again: the same spans and texts.
                let spans_of = |entities: &[brat::BratEntity]| {
                    let mut spans: Vec<_> = entities.iter().map(|e| (e.start, e.end, e.text.clone())).collect();
                    spans.sort();
                    spans
                };
                let again = brat::parse_ann(&brat::write_ann(&document), "t.ann").unwrap();
                prop_assert_eq!(spans_of(&again), spans_of(&entities));
            }
            Err(error) => {
                prop_assert!(kept.iter().any(|&(_, end, _)| end > chars));
                prop_assert!(error.to_string().contains("outside the text"), "{}", error);
            }
        }
    }
}

/// A line of what BRAT, CoNLL, PharmaCoNER TSV and RF2 files hold, and of damage to them.
fn annotation_line() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        "[TR#AE][0-9]{0,3}",
        "(NORMALIZABLES|PROTEINAS|B-GENE|O|AnnotatorNotes T[0-9])",
        "[0-9]{1,4}( [0-9]{1,4})?(;[0-9]{1,4} [0-9]{1,4})?",
        "(900000000000013009|900000000000003001|900000000000548007|1|0|es|en|20240101)",
        clinical_unicode(),
        Just(String::new()),
    ];
    prop::collection::vec(field, 0..8).prop_map(|fields| fields.join("\t"))
}

/// A reader's answer: success, or a parse error on one of the input's lines. The other error
/// kinds speak of the input as a whole (a note pointing at no entity names its line too).
fn names_a_line(result: clinitag::Result<()>, lines: usize) -> Result<(), TestCaseError> {
    match result {
        Ok(()) => Ok(()),
        Err(Error::Parse { line, .. }) => {
            prop_assert!((1..=lines.max(1)).contains(&line), "line {line} of {lines}");
            Ok(())
        }
        Err(other) => Err(TestCaseError::fail(format!("not a parse error: {other}"))),
    }
}

const FHIR_VALUE_SET: &str = include_str!("fixtures/fhir/ValueSet-expansion-test.json");

fn shipped(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The container's integrity fields (see src/container.rs): 8-byte magic, version, header
/// length, body length, CRC-32 of header and body. A forger recomputes the CRC; these tests do
/// too, so that damage reaches the parsers behind the checksum.
fn reseal(bytes: &mut [u8]) {
    let crc = crc32fast::hash(&bytes[28..]);
    bytes[24..28].copy_from_slice(&crc.to_le_bytes());
}

/// One of: a flipped byte, a byte set anywhere, a cut, each with the CRC left or recomputed.
#[derive(Clone, Debug)]
enum Damage {
    Flip { at: usize, bits: u8, reseal: bool },
    Digit { at: usize, digit: u8 },
    Truncate { keep: usize },
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 1u8..=255, any::<bool>()).prop_map(|(at, bits, reseal)| Damage::Flip {
            at,
            bits,
            reseal
        }),
        (any::<usize>(), 0u8..10).prop_map(|(at, digit)| Damage::Digit { at, digit }),
        any::<usize>().prop_map(|keep| Damage::Truncate { keep }),
    ]
}

/// `bytes` damaged; `Digit` changes a digit of the JSON header to another digit, which keeps the
/// header readable but changes a size, an id or a configuration value.
fn damaged(bytes: &[u8], damage: &Damage) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let header_len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
    match *damage {
        Damage::Flip {
            at,
            bits,
            reseal: again,
        } => {
            out[at % bytes.len()] ^= bits;
            if again {
                reseal(&mut out);
            }
        }
        Damage::Digit { at, digit } => {
            let digits: Vec<usize> = (28..28 + header_len)
                .filter(|&i| out[i].is_ascii_digit())
                .collect();
            if !digits.is_empty() {
                out[digits[at % digits.len()]] = b'0' + digit;
                reseal(&mut out);
            }
        }
        Damage::Truncate { keep } => out.truncate(keep % bytes.len()),
    }
    out
}

/// The system allocator, recording the largest single allocation of a thread while
/// `largest_allocation` watches it (tests run on parallel threads; each watches its own).
struct Watching;

thread_local! {
    static LARGEST: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

fn note_allocation(size: usize) {
    // `try_with`: allocations can come while a thread's locals are being torn down.
    let _ = LARGEST.try_with(|largest| {
        if let Some(so_far) = largest.get() {
            largest.set(Some(so_far.max(size)));
        }
    });
}

unsafe impl std::alloc::GlobalAlloc for Watching {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        note_allocation(layout.size());
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        note_allocation(layout.size());
        unsafe { std::alloc::System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, size: usize) -> *mut u8 {
        note_allocation(size);
        unsafe { std::alloc::System.realloc(ptr, layout, size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Watching = Watching;

/// What `read` returns, and the largest single allocation it made on this thread.
fn largest_allocation<T>(read: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|largest| largest.set(Some(0)));
    let value = read();
    let largest = LARGEST.with(|largest| largest.take()).unwrap_or(0);
    (value, largest)
}

/// A refused file may allocate no more than `per_byte` times its size, or 4 KB for the error's
/// message.
fn refused_within<T>(
    bytes: &[u8],
    per_byte: usize,
    read: impl FnOnce(&[u8]) -> clinitag::Result<T>,
) -> Result<Option<T>, TestCaseError> {
    let (result, largest) = largest_allocation(|| read(bytes));
    match result {
        Ok(value) => Ok(Some(value)),
        Err(error) => {
            prop_assert!(
                largest <= (bytes.len() * per_byte).max(4096),
                "refusing {} bytes allocated {largest} at once ({error})",
                bytes.len()
            );
            Ok(None)
        }
    }
}

/// An index's body may inflate to 64 times its size (`MAX_INFLATION` in
/// `src/normalize/index.rs`), and a vector that grows to that size may double on its way.
const INDEX_PER_BYTE: usize = 2 * 64;

/// The shipped index with its body replaced: `body` deflated, and the header without the
/// inflated length or with `inflated_bytes` as it.
fn index_with_body(body: &[u8], inflated_bytes: Option<usize>) -> Vec<u8> {
    use std::io::Write;
    let shipped = shipped("snomed-es.idx");
    let header_len = u32::from_le_bytes(shipped[12..16].try_into().unwrap()) as usize;
    let mut header: serde_json::Value =
        serde_json::from_slice(&shipped[28..28 + header_len]).unwrap();
    header["inflated_bytes"] = inflated_bytes.into();
    let header = serde_json::to_vec(&header).unwrap();
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(body).unwrap();
    let deflated = encoder.finish().unwrap();
    let mut out = shipped[..12].to_vec();
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&(deflated.len() as u64).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&header);
    out.extend_from_slice(&deflated);
    reseal(&mut out);
    out
}

#[test]
fn a_deflate_bomb_is_refused_within_its_size() {
    // 64 MB of zeros deflate to about 64 KB, the size of the shipped index.
    let zeros = vec![0; 64 << 20];
    for claim in [None, Some(zeros.len())] {
        let bomb = index_with_body(&zeros, claim);
        let refused = refused_within(&bomb, INDEX_PER_BYTE, ConceptIndex::from_bytes).unwrap();
        assert!(refused.is_none(), "{claim:?}");
    }
    // The same header still reads a body that inflates to the length it gives.
    let mut body = Vec::new();
    let shipped = shipped("snomed-es.idx");
    let header_len = u32::from_le_bytes(shipped[12..16].try_into().unwrap()) as usize;
    std::io::Read::read_to_end(
        &mut flate2::read::DeflateDecoder::new(&shipped[28 + header_len..]),
        &mut body,
    )
    .unwrap();
    let index = ConceptIndex::from_bytes(&index_with_body(&body, Some(body.len()))).unwrap();
    assert_eq!(index.terms().len(), index.summary().terms);
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn any_bytes_are_refused_as_a_model_or_an_index(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        prop_assert!(refused_within(&bytes, 1, Model::from_bytes)?.is_none());
        prop_assert!(refused_within(&bytes, 1, ConceptIndex::from_bytes)?.is_none());
    }

    #[test]
    fn a_damaged_index_is_refused_or_still_answers(damage in damage()) {
        static INDEX: OnceLock<Vec<u8>> = OnceLock::new();
        let bytes = damaged(INDEX.get_or_init(|| shipped("snomed-es.idx")), &damage);
        if let Some(index) = refused_within(&bytes, INDEX_PER_BYTE, ConceptIndex::from_bytes)? {
            // Whatever survived the checks must answer lookups without panicking.
            for (term, postings) in index.terms().into_iter().take(200) {
                prop_assert_eq!(index.lookup(&term).map(<[_]>::len), Some(postings.len()));
                for &posting in postings {
                    index.concept(posting);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(config(60))]

    #[test]
    fn a_damaged_model_is_refused_or_still_tags(damage in damage()) {
        static MODEL: OnceLock<Vec<u8>> = OnceLock::new();
        let bytes = damaged(MODEL.get_or_init(|| shipped("bilstm-crf-es.clinitag")), &damage);
        if refused_within(&bytes, 1, Model::from_bytes)?.is_some() {
            let text = "Se pautó tratamiento con amoxicilina 500 mg y omeprazol.";
            entities_keep_their_characters(&pipelines(&bytes), text)?;
        }
    }
}

/// The shipped Spanish models, loaded once for all cases.
fn spanish_models() -> &'static [Model] {
    static MODELS: OnceLock<Vec<Model>> = OnceLock::new();
    MODELS.get_or_init(|| {
        ["bilstm-crf-es.clinitag", "dictionary-es.json"]
            .iter()
            .map(|name| Model::from_bytes(&shipped(name)).unwrap())
            .collect()
    })
}

/// The shipped Spanish models' pipelines, loaded once for all cases.
fn spanish_pipelines() -> &'static [[Pipeline; 2]] {
    static PIPELINES: OnceLock<Vec<[Pipeline; 2]>> = OnceLock::new();
    PIPELINES.get_or_init(|| {
        ["bilstm-crf-es.clinitag", "dictionary-es.json"]
            .iter()
            .map(|name| pipelines(&shipped(name)))
            .collect()
    })
}

/// A model's pipelines (no index, propagation on), offsets in chars and in UTF-16 units.
fn pipelines(model: &[u8]) -> [Pipeline; 2] {
    [OffsetUnit::Char, OffsetUnit::Utf16].map(|offsets| {
        let options = PipelineOptions {
            offsets,
            ..PipelineOptions::default()
        };
        Pipeline::new(Model::from_bytes(model).unwrap(), None, options)
    })
}

/// Entities sorted, non-empty, inside the text, on char boundaries, and each mention's text
/// is the input's characters at its own offsets, in chars and in UTF-16 units, through the
/// whole pipeline (propagation included).
fn entities_keep_their_characters(
    [by_char, by_utf16]: &[Pipeline; 2],
    text: &str,
) -> Result<(), TestCaseError> {
    let entities = by_char.model().tag(text, &Segmentation::of(text));
    for entity in &entities {
        prop_assert!(
            entity.start < entity.end && entity.end <= text.len(),
            "{:?}",
            entity
        );
        prop_assert!(text.is_char_boundary(entity.start) && text.is_char_boundary(entity.end));
    }
    prop_assert!(entities
        .windows(2)
        .all(|w| (w[0].start, w[0].end) <= (w[1].start, w[1].end)));
    let chars: Vec<char> = text.chars().collect();
    let units: Vec<u16> = text.encode_utf16().collect();
    let mentions = by_char.tag(text).unwrap();
    prop_assert!(mentions.len() >= entities.len());
    for mention in &mentions {
        prop_assert_eq!(
            chars[mention.start..mention.end].iter().collect::<String>(),
            mention.text.as_str()
        );
    }
    let in_utf16 = by_utf16.tag(text).unwrap();
    prop_assert_eq!(in_utf16.len(), mentions.len());
    for mention in &in_utf16 {
        prop_assert_eq!(
            String::from_utf16(&units[mention.start..mention.end]).unwrap(),
            mention.text.as_str()
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn taggers_return_entities_on_the_characters_of_any_text(text in clinical_unicode()) {
        for pipelines in spanish_pipelines() {
            entities_keep_their_characters(pipelines, &text)?;
        }
    }

    #[test]
    fn entities_around_known_drugs_map_back_to_their_characters(
        before in clinical_unicode(), after in clinical_unicode()
    ) {
        // A real mention the models know, wrapped in generated text: entities still map back.
        let text = format!("{before} Tratamiento con amoxicilina y omeprazol. {after}");
        for pipelines in spanish_pipelines() {
            entities_keep_their_characters(pipelines, &text)?;
        }
    }
}

proptest! {
    // The transformer costs tens of milliseconds a text: fewer cases.
    #![proptest_config(config(40))]

    #[test]
    fn the_transformer_returns_entities_on_the_characters_of_any_text(text in clinical_unicode()) {
        static BERT: OnceLock<[Pipeline; 2]> = OnceLock::new();
        let bert = BERT.get_or_init(|| pipelines(&shipped("bert-es.clinitag")));
        entities_keep_their_characters(bert, &text)?;
    }
}

/// Entities on random runs of tokens of `text` (overlapping one another or not), as any
/// tagger might give them: each is (first token, tokens, label), reduced modulo the text's.
fn random_entities(text: &str, picks: &[(usize, usize, bool)]) -> Vec<clinitag::Entity> {
    let tokens = Segmentation::of(text).tokens;
    if tokens.is_empty() {
        return Vec::new();
    }
    let mut entities: Vec<_> = picks
        .iter()
        .map(|&(first, count, drug)| {
            let first = first % tokens.len();
            let last = (first + count).min(tokens.len() - 1);
            let label = if drug { "NORMALIZABLES" } else { "PROTEINAS" };
            clinitag::Entity::new(tokens[first].start, tokens[last].end, label)
        })
        .collect();
    entities.sort_by_key(|e| (e.start, e.end));
    entities
}

proptest! {
    #![proptest_config(config(500))]

    #[test]
    fn propagated_mentions_repeat_found_ones_on_free_tokens_of_any_text(
        before in clinical_unicode(),
        after in clinical_unicode(),
        picks in prop::collection::vec((0usize..64, 0usize..3, any::<bool>()), 0..6),
    ) {
        // Mentions a model knows, repeated, inside generated text.
        let text = format!("{before} amoxicilina y IL-6. {after} amoxicilina; IL-6 {before}");
        let segmentation = Segmentation::of(&text);
        let from_models = spanish_models().iter().map(|model| model.tag(&text, &segmentation));
        for found in from_models.chain([random_entities(&text, &picks)]) {
            let mut document = Document::new("t", text.as_str());
            document.entities = found.clone();
            let added = document.propagate_mentions(&segmentation);
            prop_assert_eq!(document.entities.len(), found.len() + added);
            prop_assert!(found.iter().all(|e| document.entities.contains(e)));
            prop_assert!(document
                .entities
                .windows(2)
                .all(|w| (w[0].start, w[0].end) <= (w[1].start, w[1].end)));
            let tokens = &segmentation.tokens;
            for entity in document.entities.iter().filter(|e| !found.contains(e)) {
                let mention = document.mention(entity);
                prop_assert!(found.iter().any(|e| &text[e.start..e.end] == mention));
                prop_assert!(mention.chars().count() >= 3);
                prop_assert!(tokens.iter().any(|t| t.start == entity.start));
                prop_assert!(tokens.iter().any(|t| t.end == entity.end));
                // It overlaps nothing else.
                let overlapping = document
                    .entities
                    .iter()
                    .filter(|e| e.start < entity.end && entity.start < e.end)
                    .count();
                prop_assert_eq!(overlapping, 1, "{:?}", entity);
            }
            let mut again = document.clone();
            prop_assert_eq!(again.propagate_mentions(&segmentation), 0);
        }
    }
}

/// A PharmaCoNER dev case: real sentences, abbreviations and numbers for the parts to cut.
const DEV_CASE: &str =
    include_str!("../../shared/data/pharmaconer/dev/subtrack1/S0004-06142006000300015-1.txt");

/// The entities of `text` tagged part by part, as the page tags a long text.
fn tagged_in_parts(model: &Model, text: &str, max_len: usize) -> Vec<clinitag::Entity> {
    let whole = Segmentation::of(text);
    let parts = whole.parts(text, max_len, OffsetUnit::Utf16);
    parts
        .iter()
        .flat_map(|part| model.tag(text, part))
        .collect()
}

proptest! {
    #![proptest_config(config(60))]

    #[test]
    fn a_text_tagged_in_parts_gives_the_entities_of_the_whole(
        before in clinical_unicode(), after in clinical_unicode(), max_len in 1usize..4_000
    ) {
        let text = format!("{before} {DEV_CASE} {after}");
        let segmentation = Segmentation::of(&text);
        let longest = segmentation
            .sentences
            .iter()
            .map(|s| {
                let tokens = &segmentation.tokens[s.clone()];
                text[tokens[0].start..tokens[tokens.len() - 1].end].encode_utf16().count()
            })
            .max()
            .unwrap_or(0);
        for model in spanish_models() {
            let parts = tagged_in_parts(model, &text, max_len);
            // In order, on the text's characters, whatever the parts' length.
            prop_assert!(parts
                .windows(2)
                .all(|w| (w[0].start, w[0].end) <= (w[1].start, w[1].end)));
            for entity in &parts {
                prop_assert!(text.is_char_boundary(entity.start) && text.is_char_boundary(entity.end));
            }
            // Where every sentence fits in a part, exactly the entities of one pass.
            if longest <= max_len {
                let whole = model.tag(&text, &segmentation);
                prop_assert_eq!(
                    parts.iter().map(|e| (e.start, e.end, &e.label)).collect::<Vec<_>>(),
                    whole.iter().map(|e| (e.start, e.end, &e.label)).collect::<Vec<_>>()
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(config(500))]

    /// A model's view of one language's types (`SequenceDecoder::restricted`) decodes as the
    /// whole model would with every other type's tags forbidden: the same entities with the
    /// same confidences, whatever the scores.
    #[test]
    fn a_restricted_decoder_decodes_as_if_the_other_types_were_forbidden(
        keep in prop::collection::vec(any::<bool>(), 3),
        scores in prop::collection::vec(-4.0f32..4.0, 16 * 18 + 2 * 16 + 12 * 16),
        len in 1usize..12,
    ) {
        use clinitag::decoding::SequenceDecoder;
        use clinitag::tagging::Scheme;
        let labels = ["Chemical", "Disease", "GENE"].map(String::from);
        let mut full = SequenceDecoder::constrained(Scheme::Bmewov, &labels);
        let k = full.tags.len();
        // Learned scores on top of the scheme's constraints, as a trained CRF has.
        let (transitions, rest) = scores.split_at(k * k);
        let (start, rest) = rest.split_at(k);
        let (end, emissions) = rest.split_at(k);
        for (score, learned) in full.scores.transitions.iter_mut().zip(transitions) {
            *score += learned;
        }
        for (score, learned) in full.scores.start.iter_mut().zip(start) {
            *score += learned;
        }
        for (score, learned) in full.scores.end.iter_mut().zip(end) {
            *score += learned;
        }
        let emissions = &emissions[..len * k];
        let kept_labels: Vec<String> =
            labels.iter().zip(&keep).filter(|(_, &k)| k).map(|(l, _)| l.clone()).collect();
        let (view, columns) = full.restricted(&kept_labels);
        prop_assert!(view.tags.iter().all(|t| t.label.as_ref().is_none_or(|l| kept_labels.contains(l))));
        let cut: Vec<f32> = emissions
            .chunks(k)
            .flat_map(|row| columns.iter().map(|&c| row[c]))
            .collect();
        let forbidden: Vec<f32> = emissions
            .iter()
            .enumerate()
            .map(|(i, &e)| if columns.contains(&(i % k)) { e } else { -1e6 })
            .collect();
        let restricted = view.decode(&cut, len);
        let whole = full.decode(&forbidden, len);
        prop_assert_eq!(restricted.len(), whole.len());
        for ((a, p), (b, q)) in restricted.iter().zip(&whole) {
            prop_assert_eq!(a, b);
            prop_assert!((p - q).abs() < 1e-4, "{} against {}", p, q);
        }
    }
}
