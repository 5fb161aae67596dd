//! Error types of the boot side.

use std::path::{Path, PathBuf};

/// A provisioning module failed; the next module still runs.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    /// A file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A command failed.
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },
}

impl ModuleError {
    /// An I/O error on a path.
    pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}
