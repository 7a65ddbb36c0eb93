//! Any text through segmentation, offsets, parts and the shipped Spanish dictionary tagger:
//! tokens and entities stay ordered, inside the text and on character boundaries, offsets
//! round-trip between bytes, chars and UTF-16, and parts cover every token once.
#![no_main]

use clinitag::models::{Model, Tagger};
use clinitag::text::{OffsetMap, OffsetUnit, Segmentation};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn dictionary() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        Model::from_bytes(include_bytes!("../../models/dictionary-es.json")).unwrap()
    })
}

fuzz_target!(|bytes: &[u8]| {
    let Some((&width, rest)) = bytes.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let segmentation = Segmentation::of(&text);
    let map = OffsetMap::new(&text);
    for token in &segmentation.tokens {
        assert!(token.start < token.end && token.end <= text.len());
        for byte in [token.start, token.end] {
            assert!(text.is_char_boundary(byte));
            for unit in [OffsetUnit::Char, OffsetUnit::Utf16] {
                let offset = map.from_byte(byte, unit).unwrap();
                assert_eq!(map.to_byte(offset, unit), Some(byte));
            }
        }
    }
    let parts = segmentation.parts(&text, 1 + usize::from(width), OffsetUnit::Utf16);
    let tokens: Vec<_> = parts
        .iter()
        .flat_map(|p| p.tokens.iter().copied())
        .collect();
    assert_eq!(tokens, segmentation.tokens);
    let entities = dictionary().tag(&text, &segmentation);
    for entity in &entities {
        assert!(entity.start < entity.end && entity.end <= text.len());
        assert!(text.is_char_boundary(entity.start) && text.is_char_boundary(entity.end));
    }
});
