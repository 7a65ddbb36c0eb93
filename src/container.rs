//! The file format of models and concept indexes: a checksummed header and body in one buffer.
//!
//! ```text
//! magic (8 bytes) | version u32 | header length u32 | body length u64 | CRC-32 u32 | header | body
//! ```
//! The header is JSON (architecture, language, vocabularies, configuration); the body is a
//! burnpack record for a neural model and a compressed term index for a concept index.
//! Integers are little-endian; the CRC covers header and body, so a truncated or damaged
//! download is recognised before anything is built from it.

use crate::error::{Error, Result};

const VERSION: u32 = 1;
const PREFIX: usize = 8 + 4 + 4 + 8 + 4;

/// What a container holds, named by its magic bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Model,
    ConceptIndex,
}

impl Kind {
    pub fn magic(self) -> &'static [u8; 8] {
        match self {
            Kind::Model => b"CLINITAG",
            Kind::ConceptIndex => b"CLINIDX\0",
        }
    }

    fn error(self, message: String) -> Error {
        match self {
            Kind::Model => Error::Model(message),
            Kind::ConceptIndex => Error::Index(message),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Model => "model",
            Kind::ConceptIndex => "concept index",
        }
    }
}

/// A parsed container: the header JSON and the body bytes.
pub struct Container<'a> {
    pub header: &'a [u8],
    pub weights: &'a [u8],
}

pub fn write(kind: Kind, header: &[u8], weights: &[u8]) -> Vec<u8> {
    let mut crc = crc32fast::Hasher::new();
    crc.update(header);
    crc.update(weights);
    let mut out = Vec::with_capacity(PREFIX + header.len() + weights.len());
    out.extend_from_slice(kind.magic());
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&(weights.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(header);
    out.extend_from_slice(weights);
    out
}

pub fn read(kind: Kind, bytes: &[u8]) -> Result<Container<'_>> {
    let name = kind.name();
    if bytes.len() < PREFIX || &bytes[..8] != kind.magic() {
        return Err(kind.error(format!("not a clinitag {name} file")));
    }
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let version = u32_at(8);
    if version != VERSION {
        return Err(kind.error(format!(
            "{name} file format version {version}; this build reads version {VERSION}"
        )));
    }
    let header_len = u32_at(12) as usize;
    let weights_len = u64::from_le_bytes(bytes[16..24].try_into().unwrap());
    let expected = PREFIX as u64 + header_len as u64 + weights_len;
    if bytes.len() as u64 != expected {
        return Err(kind.error(format!(
            "the {name} file is {} bytes but its header announces {expected}: truncated or damaged",
            bytes.len()
        )));
    }
    let (header, weights) = bytes[PREFIX..].split_at(header_len);
    let mut crc = crc32fast::Hasher::new();
    crc.update(header);
    crc.update(weights);
    if crc.finalize() != u32_at(24) {
        return Err(kind.error(format!("checksum mismatch: the {name} file is damaged")));
    }
    Ok(Container { header, weights })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let bytes = write(Kind::Model, b"{\"a\":1}", &[1, 2, 3, 4]);
        let container = read(Kind::Model, &bytes).unwrap();
        assert_eq!(container.header, b"{\"a\":1}");
        assert_eq!(container.weights, [1, 2, 3, 4]);

        let truncated = read(Kind::Model, &bytes[..bytes.len() - 1])
            .err()
            .unwrap()
            .to_string();
        assert!(truncated.contains("truncated"), "{truncated}");
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        let damaged = read(Kind::Model, &flipped).err().unwrap().to_string();
        assert!(damaged.contains("checksum"), "{damaged}");
        assert!(read(Kind::Model, b"{}").is_err());
        let foreign = read(Kind::ConceptIndex, &bytes).err().unwrap().to_string();
        assert!(
            foreign.contains("not a clinitag concept index"),
            "{foreign}"
        );
    }
}
