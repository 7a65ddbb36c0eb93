//! The file format of neural models: a checksummed header and weights in one byte buffer.
//!
//! ```text
//! "CLINITAG" | version u32 | header length u32 | weights length u64 | CRC-32 u32 | header | weights
//! ```
//! The header is JSON (architecture, language, vocabularies, configuration); the weights are a
//! burnpack record. Integers are little-endian; the CRC covers header and weights, so a
//! truncated or damaged download is recognised before any tensor is built.

use crate::error::{Error, Result};

pub const MAGIC: &[u8; 8] = b"CLINITAG";
const VERSION: u32 = 1;
const PREFIX: usize = 8 + 4 + 4 + 8 + 4;

/// A parsed container: the header JSON and the weight bytes.
pub struct Container<'a> {
    pub header: &'a [u8],
    pub weights: &'a [u8],
}

pub fn write(header: &[u8], weights: &[u8]) -> Vec<u8> {
    let mut crc = crc32fast::Hasher::new();
    crc.update(header);
    crc.update(weights);
    let mut out = Vec::with_capacity(PREFIX + header.len() + weights.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    out.extend_from_slice(&(weights.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(header);
    out.extend_from_slice(weights);
    out
}

pub fn read(bytes: &[u8]) -> Result<Container<'_>> {
    if bytes.len() < PREFIX || &bytes[..8] != MAGIC {
        return Err(Error::Model("not a clinitag model file".into()));
    }
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let version = u32_at(8);
    if version != VERSION {
        return Err(Error::Model(format!(
            "model file format version {version}; this build reads version {VERSION}"
        )));
    }
    let header_len = u32_at(12) as usize;
    let weights_len = u64::from_le_bytes(bytes[16..24].try_into().unwrap());
    let expected = PREFIX as u64 + header_len as u64 + weights_len;
    if bytes.len() as u64 != expected {
        return Err(Error::Model(format!(
            "the model file is {} bytes but its header announces {expected}: truncated or damaged",
            bytes.len()
        )));
    }
    let (header, weights) = bytes[PREFIX..].split_at(header_len);
    let mut crc = crc32fast::Hasher::new();
    crc.update(header);
    crc.update(weights);
    if crc.finalize() != u32_at(24) {
        return Err(Error::Model(
            "checksum mismatch: the model file is damaged".into(),
        ));
    }
    Ok(Container { header, weights })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let bytes = write(b"{\"a\":1}", &[1, 2, 3, 4]);
        let container = read(&bytes).unwrap();
        assert_eq!(container.header, b"{\"a\":1}");
        assert_eq!(container.weights, [1, 2, 3, 4]);

        let truncated = read(&bytes[..bytes.len() - 1]).err().unwrap().to_string();
        assert!(truncated.contains("truncated"), "{truncated}");
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        let damaged = read(&flipped).err().unwrap().to_string();
        assert!(damaged.contains("checksum"), "{damaged}");
        assert!(read(b"{}").is_err());
    }
}
