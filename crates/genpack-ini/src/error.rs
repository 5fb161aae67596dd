//! Error types of the system.ini document.

use std::fmt;
use std::path::PathBuf;

/// One problem found on one line while parsing (line numbers start at 1).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with the line.
    pub kind: LineErrorKind,
}

/// The kinds of line problems, mirroring the errors of Python's configparser in strict mode.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LineErrorKind {
    /// A line that is neither a comment, a `[section]` header nor `key = value`.
    MissingDelimiter { text: String },
    /// `= value` with nothing before the delimiter.
    EmptyKey { text: String },
    /// A `[section]` header that already appeared earlier.
    DuplicateSection { name: String, first_line: usize },
    /// An explicit `[_default]` header: the keys before the first header already form that
    /// section, so the boot-time reader rejects the header as a duplicate.
    DefaultSectionHeader,
    /// A key that already appeared earlier in the same section.
    DuplicateKey {
        section: String,
        key: String,
        first_line: usize,
    },
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        match &self.kind {
            LineErrorKind::MissingDelimiter { text } => write!(
                f,
                "`{text}` is not a comment, a [section] header or a `key = value` line"
            ),
            LineErrorKind::EmptyKey { text } => write!(f, "`{text}` has no key before the `=`"),
            LineErrorKind::DuplicateSection { name, first_line } => write!(
                f,
                "section [{name}] already started on line {first_line}; merge the two sections"
            ),
            LineErrorKind::DefaultSectionHeader => write!(
                f,
                "remove the [_default] header: put these keys before the first section instead"
            ),
            LineErrorKind::DuplicateKey {
                section,
                key,
                first_line,
            } => write!(
                f,
                "key `{key}` in section [{section}] is already set on line {first_line}; keep only one"
            ),
        }
    }
}

/// The document could not be parsed; every problem found is listed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", render_problems(.errors))]
pub struct ParseError {
    /// All problems, in line order (never empty).
    pub errors: Vec<LineError>,
}

fn render_problems(errors: &[LineError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A value that exists but cannot be read the way the boot-time reader reads it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("[{section}] {key} (line {line}): {kind}")]
pub struct ValueError {
    /// Section of the key.
    pub section: String,
    /// Key as written in the file.
    pub key: String,
    /// 1-based line of the key.
    pub line: usize,
    /// What is wrong.
    pub kind: ValueErrorKind,
}

/// Why a value cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValueErrorKind {
    /// `%` must be written `%%`; `%(name)s` references another key.
    #[error("{0} (write a literal % as %%)")]
    Interpolation(String),
    /// Not one of 1/yes/true/on or 0/no/false/off.
    #[error("`{0}` is not a yes/no value (use yes, no, true, false, on, off, 1 or 0)")]
    NotABoolean(String),
}

/// An edit was refused; the document is unchanged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// The section name cannot be written as a header.
    #[error("`{0}` cannot be used as a section name (it must be one non-empty line)")]
    InvalidSection(String),
    /// The key cannot be written as a key.
    #[error("`{0}` cannot be used as a key (it must be one line, not start with #, ; or [, and contain no = or :)")]
    InvalidKey(String),
    /// A line of a multi-line value would be read back as a comment.
    #[error("line {line_in_value} of the value for `{key}` starts with # or ; and would be read as a comment")]
    CommentInValue { key: String, line_in_value: usize },
    /// The edit would change how other lines are read (e.g. around malformed lines).
    #[error(
        "setting `{key}` here would change how other lines are read; fix the file's errors first"
    )]
    WouldChangeMeaning { key: String },
}

/// Reading or saving a system.ini file failed.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// An I/O error on a path.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file is not UTF-8 text.
    #[error("{path} is not UTF-8 text (byte {valid_up_to}); save it as UTF-8")]
    NotUtf8 { path: PathBuf, valid_up_to: usize },
    /// The file does not parse.
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        #[source]
        source: ParseError,
    },
}
