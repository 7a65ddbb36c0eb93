//! Conversions between the three offset units clinitag meets.
//!
//! Inside the crate every span is a byte range into a `&str` (O(1) slicing, no ambiguity).
//! BRAT files count Unicode scalar values and JavaScript counts UTF-16 code units, so the
//! edges convert with an [`OffsetMap`] built once per text.

/// The unit an external caller counts offsets in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetUnit {
    /// UTF-8 bytes: Rust's own unit.
    Byte,
    /// Unicode scalar values (`char`s): BRAT standoff and Python strings.
    Char,
    /// UTF-16 code units: JavaScript strings.
    Utf16,
}

/// Maps between byte, char and UTF-16 offsets of one text.
#[derive(Clone, Debug)]
pub struct OffsetMap {
    /// `byte_of_char[i]` is the byte offset of char `i`; the last entry is the text length.
    byte_of_char: Vec<usize>,
    /// `utf16_of_char[i]` is the UTF-16 offset of char `i`; the last entry is the UTF-16 length.
    utf16_of_char: Vec<usize>,
}

impl OffsetMap {
    pub fn new(text: &str) -> Self {
        let mut byte_of_char = Vec::with_capacity(text.len() + 1);
        let mut utf16_of_char = Vec::with_capacity(text.len() + 1);
        let mut utf16 = 0;
        for (byte, c) in text.char_indices() {
            byte_of_char.push(byte);
            utf16_of_char.push(utf16);
            utf16 += c.len_utf16();
        }
        byte_of_char.push(text.len());
        utf16_of_char.push(utf16);
        Self {
            byte_of_char,
            utf16_of_char,
        }
    }

    /// Number of chars in the text.
    pub fn char_len(&self) -> usize {
        self.byte_of_char.len() - 1
    }

    /// Converts an offset in `unit` to a byte offset; `None` if it is past the end or
    /// (for UTF-16) falls between the two halves of a surrogate pair.
    pub fn to_byte(&self, offset: usize, unit: OffsetUnit) -> Option<usize> {
        match unit {
            OffsetUnit::Byte => self.char_index_of_byte(offset).map(|_| offset),
            OffsetUnit::Char => self.byte_of_char.get(offset).copied(),
            OffsetUnit::Utf16 => self
                .utf16_of_char
                .binary_search(&offset)
                .ok()
                .map(|i| self.byte_of_char[i]),
        }
    }

    /// Converts a byte offset on a char boundary to `unit`; `None` if it is not on one.
    pub fn from_byte(&self, byte: usize, unit: OffsetUnit) -> Option<usize> {
        let char_index = self.char_index_of_byte(byte)?;
        Some(match unit {
            OffsetUnit::Byte => byte,
            OffsetUnit::Char => char_index,
            OffsetUnit::Utf16 => self.utf16_of_char[char_index],
        })
    }

    fn char_index_of_byte(&self, byte: usize) -> Option<usize> {
        self.byte_of_char.binary_search(&byte).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_accents_and_astral_characters() {
        // 'é' is 2 bytes / 1 UTF-16 unit; '🧪' is 4 bytes / 2 UTF-16 units.
        let text = "né 🧪 Hb";
        let map = OffsetMap::new(text);
        let hb = text.find("Hb").unwrap();
        assert_eq!(map.from_byte(hb, OffsetUnit::Char), Some(5));
        assert_eq!(map.from_byte(hb, OffsetUnit::Utf16), Some(6));
        assert_eq!(map.to_byte(5, OffsetUnit::Char), Some(hb));
        assert_eq!(map.to_byte(6, OffsetUnit::Utf16), Some(hb));
        assert_eq!(map.char_len(), 7);
    }

    #[test]
    fn rejects_offsets_inside_a_character() {
        let text = "é🧪";
        let map = OffsetMap::new(text);
        assert_eq!(map.from_byte(1, OffsetUnit::Char), None);
        // UTF-16 offset 2 is the middle of the surrogate pair.
        assert_eq!(map.to_byte(2, OffsetUnit::Utf16), None);
        assert_eq!(map.to_byte(3, OffsetUnit::Utf16), Some(text.len()));
        assert_eq!(map.to_byte(3, OffsetUnit::Char), None);
    }
}
