//! The crate's error type: every failure says what was wrong and where.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or byte buffer is not in the expected format.
    #[error("{source_name}, line {line}: {message}")]
    Parse {
        source_name: String,
        line: usize,
        message: String,
    },
    /// Input that parsed but does not make sense (offsets outside the text, a missing document).
    #[error("{0}")]
    Invalid(String),
    /// A model file that is corrupt, truncated or of another kind.
    #[error("cannot load model: {0}")]
    Model(String),
    /// A concept index file that is corrupt, truncated or of another kind.
    #[error("cannot load concept index: {0}")]
    Index(String),
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl Error {
    pub(crate) fn parse(source_name: &str, line: usize, message: impl Into<String>) -> Self {
        Error::Parse {
            source_name: source_name.to_string(),
            line,
            message: message.into(),
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
