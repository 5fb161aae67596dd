//! Error types of this crate.

use std::fmt;
use std::path::PathBuf;

/// A string that is not valid for what it was parsed as (a version, an atom, a dependency
/// string...). Carries the input so messages can quote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// What was being parsed (`version`, `atom`, `dependency string`...).
    pub what: &'static str,
    /// The rejected input.
    pub input: String,
    /// Why it was rejected.
    pub reason: String,
}

impl ParseError {
    pub(crate) fn new(what: &'static str, input: &str, reason: impl Into<String>) -> ParseError {
        ParseError {
            what,
            input: input.to_string(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} '{}': {}", self.what, self.input, self.reason)
    }
}

/// Errors reading or producing Portage data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system error.
        #[source]
        source: std::io::Error,
    },
    /// A file holds something that does not parse.
    #[error("{path}:{line}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number (0 when the whole file is concerned).
        line: usize,
        /// What went wrong.
        #[source]
        source: ParseError,
    },
    /// A value of the definition cannot be turned into Portage configuration.
    #[error("{field}: {message}")]
    Config {
        /// The definition field (`use`, `packages`...).
        field: &'static str,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// An architecture this crate does not know.
    #[error("unknown architecture '{0}' (expected x86_64, i686, aarch64 or riscv64)")]
    UnknownArch(String),
    /// The package is not installed.
    #[error("{0} is not installed")]
    NotInstalled(String),
    /// A downloaded file does not match its published checksum.
    #[error("{path}: checksum mismatch (expected SHA512 {expected}, got {actual}); delete the file and download it again")]
    ChecksumMismatch {
        /// The downloaded file.
        path: PathBuf,
        /// The published digest.
        expected: String,
        /// The digest of the file on disk.
        actual: String,
    },
    /// The target needs emulation but binfmt_misc has no usable handler for it.
    #[error("building for {arch} on this machine needs an enabled binfmt_misc handler for {arch} ELF binaries with the F (fix binary) flag in {dir}; install qemu-user-static (or qemu-user-binfmt) and make sure systemd-binfmt loaded it")]
    NoBinfmtHandler {
        /// The target architecture.
        arch: String,
        /// The binfmt_misc directory examined.
        dir: PathBuf,
    },
    /// The digests file has no SHA512 entry for the file.
    #[error("{digests}: no SHA512 digest for '{file}'")]
    NoDigest {
        /// The digests file.
        digests: PathBuf,
        /// The file name looked up.
        file: String,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
