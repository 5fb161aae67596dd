//! Problems found in a definition, each with a precise location.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How serious a [`Diagnostic`] is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ts_rs::TS,
)]
#[ts(rename = "DiagnosticSeverity")]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The definition cannot be built until this is fixed.
    Error,
    /// Worth a look, but the definition still builds.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem in a definition file.
///
/// Lines and columns are 1-based; columns count Unicode characters. `end_line`/`end_column`
/// point just past the offending text. `path` names the place in the definition, like
/// `packages[3]` or `use."media-libs/mesa"` (empty for the whole file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, in one sentence.
    pub message: String,
    /// The definition file.
    pub file: PathBuf,
    /// Line of the first offending character.
    pub line: usize,
    /// Column of the first offending character.
    pub column: usize,
    /// Line just past the offending text.
    pub end_line: usize,
    /// Column just past the offending text.
    pub end_column: usize,
    /// Where in the definition, like `variants.cuda.use."sci-ml/caffe2"`.
    pub path: String,
    /// What to do about it, when there is something specific to say.
    pub help: Option<String>,
}

impl Diagnostic {
    /// True for [`Severity::Error`].
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.severity,
            self.message
        )?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}
