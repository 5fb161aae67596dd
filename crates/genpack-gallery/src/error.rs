//! Errors of the gallery and of project creation.

use std::io;
use std::path::PathBuf;

/// A problem reading the gallery or one of its templates.
#[derive(Debug, thiserror::Error)]
pub enum GalleryError {
    /// A file or folder could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// A JSON5 file is malformed; `line` and `column` count from 1.
    #[error("{}:{line}:{column}: {message}", path.display())]
    SyntaxAt {
        /// The file.
        path: PathBuf,
        /// Line of the problem, from 1.
        line: usize,
        /// Column of the problem, from 1.
        column: usize,
        /// What is wrong.
        message: String,
    },

    /// A JSON5 file is malformed or has the wrong shape, at no known position.
    #[error("{}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },

    /// `template.json5` parsed but a value is not acceptable.
    #[error("{}: {message}", path.display())]
    InvalidMeta {
        /// The `template.json5`.
        path: PathBuf,
        /// What is wrong and what is allowed.
        message: String,
    },

    /// A template folder has no `genpack.json5`.
    #[error("{}: the template has no genpack.json5 definition", dir.display())]
    MissingDefinition {
        /// The template folder.
        dir: PathBuf,
    },

    /// `GENPACK_TEMPLATES` names something that is not a folder.
    #[error("GENPACK_TEMPLATES is set to {}, which is not a folder; point it at the folder that holds the templates, or unset it", path.display())]
    EnvNotADirectory {
        /// The value of the variable.
        path: PathBuf,
    },

    /// No gallery folder was found.
    #[error(
        "no templates folder found (looked in: {}); set GENPACK_TEMPLATES to the folder that holds the templates",
        searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NotFound {
        /// Every place that was tried, in order.
        searched: Vec<PathBuf>,
    },
}

impl GalleryError {
    /// Wraps a `json5` error, keeping its position when it has one.
    pub(crate) fn from_json5(path: &std::path::Path, err: &json5::Error) -> GalleryError {
        let message = match err.code() {
            Some(code) => code.to_string(),
            None => {
                // A custom (serde) message: the Display form appends " at
                // line:column"; keep only the message itself.
                let full = err.to_string();
                match err.position() {
                    Some(pos) => full
                        .strip_suffix(&format!(" at {pos}"))
                        .map(str::to_string)
                        .unwrap_or(full),
                    None => full,
                }
            }
        };
        match err.position() {
            Some(pos) => GalleryError::SyntaxAt {
                path: path.to_path_buf(),
                line: pos.line + 1,
                column: pos.column + 1,
                message,
            },
            None => GalleryError::Syntax {
                path: path.to_path_buf(),
                message,
            },
        }
    }
}

/// Why a project name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty.
    #[error("the project name is empty; {RULE}")]
    Empty,
    /// The name is longer than [`crate::MAX_NAME_LEN`] characters.
    #[error(
        "the project name {name:?} has {len} characters; {RULE}{}",
        try_instead(name)
    )]
    TooLong {
        /// The refused name.
        name: String,
        /// Its length in characters.
        len: usize,
    },
    /// The name does not start with a lowercase letter.
    #[error(
        "the project name {name:?} starts with {first:?}; {RULE}{}",
        try_instead(name)
    )]
    BadStart {
        /// The refused name.
        name: String,
        /// Its first character.
        first: char,
    },
    /// The name holds a character outside the allowed set.
    #[error(
        "the project name {name:?} contains {bad:?}; {RULE}{}",
        try_instead(name)
    )]
    BadChar {
        /// The refused name.
        name: String,
        /// The first character that is not allowed.
        bad: char,
    },
}

impl NameError {
    /// A valid name made from the refused one (`My Web Server` -> `my-web-server`), if one can
    /// be made.
    pub fn suggestion(&self) -> Option<String> {
        match self {
            NameError::Empty => None,
            NameError::TooLong { name, .. }
            | NameError::BadStart { name, .. }
            | NameError::BadChar { name, .. } => crate::project::suggest_name(name),
        }
    }
}

/// `; try "my-web-server"` when a valid name can be made from `name`.
fn try_instead(name: &str) -> String {
    crate::project::suggest_name(name)
        .map(|suggestion| format!("; try {suggestion:?}"))
        .unwrap_or_default()
}

const RULE: &str = "a name uses lowercase letters a-z, digits, '-' and '_', starts with a letter and has at most 64 characters";

/// A problem creating a project from a template.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The requested name is not a valid appliance name.
    #[error(transparent)]
    InvalidName(#[from] NameError),

    /// The gallery has no template with this id.
    #[error("there is no template called {id:?}; available: {}", available.join(", "))]
    UnknownTemplate {
        /// The requested id.
        id: String,
        /// The ids the gallery has.
        available: Vec<String>,
    },

    /// The target folder already has content.
    #[error("{} already exists and is not empty; choose a new folder (or empty this one) so nothing in it is overwritten", path.display())]
    TargetNotEmpty {
        /// The target folder.
        path: PathBuf,
    },

    /// The target path exists but is not a folder.
    #[error("{} exists and is not a folder; choose a new folder for the project", path.display())]
    TargetNotDirectory {
        /// The target path.
        path: PathBuf,
    },

    /// The template's definition could not take the project name (it is not an object, or its
    /// `name` is not a string).
    #[error("{}: cannot set the project name: {source}", path.display())]
    SetName {
        /// The template's `genpack.json5`.
        path: PathBuf,
        /// What the editor said.
        #[source]
        source: genpack_def::EditError,
    },

    /// A file operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "copy".
        action: &'static str,
        /// The file or folder involved.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
}
