//! Loading and atomically saving system.ini files.

use std::fs;
use std::path::{Path, PathBuf};

use crate::document::Document;
use crate::error::FileError;

/// How to save.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SaveOptions {
    /// Keep the previous file as `<name>.bak` (e.g. `system.ini.bak`).
    pub backup: bool,
}

/// Reads and parses a file strictly (see [`Document::parse`]).
pub fn load(path: &Path) -> Result<Document, FileError> {
    let text = read_text(path)?;
    Document::parse(&text).map_err(|source| FileError::Parse {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a file and parses it leniently (see [`Document::parse_lenient`]).
pub fn load_lenient(path: &Path) -> Result<Document, FileError> {
    Ok(Document::parse_lenient(&read_text(path)?))
}

fn read_text(path: &Path) -> Result<String, FileError> {
    let bytes = fs::read(path).map_err(|source| FileError::Io {
        action: "reading",
        path: path.to_path_buf(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| FileError::NotUtf8 {
        path: path.to_path_buf(),
        valid_up_to: e.utf8_error().valid_up_to(),
    })
}

/// Writes a document atomically: a temporary file in the same directory is written and
/// synced, then renamed over `path`; on any failure the old file is left intact.
pub fn save_atomic(path: &Path, doc: &Document, options: SaveOptions) -> Result<(), FileError> {
    if options.backup && path.exists() {
        let backup = sibling(path, ".bak");
        let old = fs::read(path).map_err(|source| io("reading", path, source))?;
        write_atomic(&backup, &old)?;
    }
    write_atomic(path, doc.to_string().as_bytes())
}

/// Atomically replaces `path` with `bytes` (temp file, fsync, rename, fsync of the directory),
/// keeping the replaced file's permissions.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    genpack_util::write_atomic(path, bytes).map_err(|source| io("writing", path, source))
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn io(action: &'static str, path: &Path, source: std::io::Error) -> FileError {
    FileError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}
