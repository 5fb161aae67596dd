//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use genpack_def::{parse_definition, Definition, Diagnostic, Parsed};

/// The folder of real-world definitions, one sub-folder per image.
pub fn corpus_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/artifacts");
    assert!(
        dir.is_dir(),
        "the definition corpus is missing: expected it at {} (../../../shared/corpus/artifacts from the crate)",
        dir.display()
    );
    dir
}

/// Every corpus folder, sorted by name.
pub fn corpus_folders() -> Vec<PathBuf> {
    let mut folders: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    folders.sort();
    assert!(!folders.is_empty(), "the corpus folder is empty");
    folders
}

/// Parses `text` as `test/genpack.json5`.
pub fn parse(text: &str) -> Parsed {
    parse_definition(text, Path::new("test/genpack.json5"))
}

/// Parses `text`, which must have no errors.
pub fn definition(text: &str) -> Definition {
    let parsed = parse(text);
    let errors: Vec<String> = parsed
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(Diagnostic::to_string)
        .collect();
    assert!(
        errors.is_empty(),
        "unexpected errors:\n{}",
        errors.join("\n")
    );
    parsed.definition.expect("a definition")
}
