//! From text to a checked [`Definition`].

use std::path::{Path, PathBuf};

use jsonc_parser::ast::Value;
use jsonc_parser::common::{Range, Ranged};
use jsonc_parser::{parse_to_ast, CollectOptions};

use crate::diagnostic::{Diagnostic, Severity};
use crate::model::Definition;
use crate::reader::Reader;
use crate::syntax::{describe, json5_options, without_bom};

/// The result of reading definition text that may contain mistakes.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The model, or `None` when the text is not valid JSON5 (or empty). With validation
    /// errors it is still there, holding every entry that could be understood.
    pub definition: Option<Definition>,
    /// Every problem found, in file order of discovery.
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    /// True when some diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// What parsing found, keeping syntax problems apart for [`crate::Project::load`].
pub(crate) enum Outcome {
    /// The text is not JSON5.
    Syntax(Diagnostic),
    /// The text holds no value at all.
    Empty(Diagnostic),
    /// A definition, possibly with validation problems.
    Definition(Box<Definition>, Vec<Diagnostic>),
}

/// A diagnostic about the value at `path` (like `packages[2]`) of definition text, placed
/// where that value is written, for checks made outside the reader (packages against a
/// package index). `None` when the text is not JSON5 or has no value there.
pub fn diagnostic_at(
    source: &str,
    file: &Path,
    path: &[crate::edit::Segment],
    severity: Severity,
    message: impl Into<String>,
    help: Option<String>,
) -> Option<Diagnostic> {
    let text = without_bom(source);
    let parsed = parse_to_ast(&text, &CollectOptions::default(), &json5_options()).ok()?;
    let mut value = parsed.value.as_ref()?;
    for segment in path {
        value = match (segment, value) {
            (crate::edit::Segment::Key(key), Value::Object(object)) => {
                &object
                    .properties
                    .iter()
                    .find(|prop| crate::reader::prop_name(prop) == *key)?
                    .value
            }
            (crate::edit::Segment::Index(index), Value::Array(array)) => {
                array.elements.get(*index)?
            }
            _ => return None,
        };
    }
    let mut reader = Reader::new(source, file);
    reader.report(
        severity,
        value.range(),
        &crate::edit::display_path(path),
        message,
        help,
    );
    reader.finish().into_iter().next()
}

/// Parses and checks definition text, such as unsaved text in an editor.
///
/// `file` is used in diagnostics and to name an image that has no `name`: the folder holding
/// `file` (or the current folder, for a bare file name) gives the name, with a warning.
pub fn parse_definition(source: &str, file: &Path) -> Parsed {
    match parse_source(source, file) {
        Outcome::Syntax(diagnostic) | Outcome::Empty(diagnostic) => Parsed {
            definition: None,
            diagnostics: vec![diagnostic],
        },
        Outcome::Definition(definition, diagnostics) => Parsed {
            definition: Some(*definition),
            diagnostics,
        },
    }
}

pub(crate) fn parse_source(source: &str, file: &Path) -> Outcome {
    let mut reader = Reader::new(source, file);
    let text = without_bom(source);
    let parsed = match parse_to_ast(&text, &CollectOptions::default(), &json5_options()) {
        Ok(parsed) => parsed,
        Err(error) => {
            let (offset, message, help) = describe(&error);
            reader.report(
                Severity::Error,
                Range::new(offset, error.range().end.max(offset)),
                "",
                message,
                help,
            );
            return Outcome::Syntax(reader.finish().remove(0));
        }
    };
    let object = match parsed.value {
        None => {
            reader.report(
                Severity::Error,
                Range::new(0, 0),
                "",
                "the file is empty: expected a definition like `{ packages: [\"app-misc/screen\"] }`",
                Some("start from a template, or write the packages the image should contain".into()),
            );
            return Outcome::Empty(reader.finish().remove(0));
        }
        Some(Value::Object(object)) => object,
        Some(other) => {
            let found = match other {
                Value::Array(_) => "a list",
                Value::StringLit(_) => "a string",
                Value::NumberLit(_) => "a number",
                Value::BooleanLit(_) => "true/false",
                _ => "null",
            };
            reader.report(
                Severity::Error,
                other.range(),
                "",
                format!("expected the definition to be an object `{{ ... }}`, found {found}"),
                Some("wrap the settings in braces, like `{ packages: [...] }`".into()),
            );
            return Outcome::Definition(Box::default(), reader.finish());
        }
    };
    let mut definition = reader.read_definition(&object);
    if definition.name.is_none() {
        if let Some(name) = folder_name(file) {
            reader.report(
                Severity::Warning,
                Range::new(object.range.start, object.range.start + 1),
                "name",
                format!("no `name`: the folder name `{name}` is used"),
                Some(format!("add name: \"{name}\" to make it explicit")),
            );
            definition.name = Some(name);
        }
    }
    Outcome::Definition(Box::new(definition), reader.finish())
}

/// The name of the image the definition in `file` makes: its `name`, else the name of the
/// folder holding `file` (as reading the definition puts in, with a warning), else `project`.
pub fn image_name(definition: Option<&Definition>, file: &Path) -> String {
    definition
        .and_then(|definition| definition.name.clone())
        .or_else(|| folder_name(file))
        .unwrap_or_else(|| "project".to_string())
}

/// The name of the folder holding `file`, made safe for use in a file name.
fn folder_name(file: &Path) -> Option<String> {
    let folder: PathBuf = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => std::env::current_dir().ok()?,
    };
    let base = match folder.file_name() {
        Some(base) => base.to_os_string(),
        None => std::fs::canonicalize(&folder)
            .ok()?
            .file_name()?
            .to_os_string(),
    };
    let cleaned: String = base
        .to_string_lossy()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches(['.', '-']).to_string();
    (!cleaned.is_empty()).then_some(cleaned)
}
