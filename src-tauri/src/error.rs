//! The one error type every command returns.
//!
//! It crosses the IPC boundary as `{ "kind": "...", "message": "..." }` so the front end can
//! branch on `kind` and show `message` to the user as it is.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use std::path::{Path, PathBuf};

/// Why a command could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A file or folder the command needs does not exist.
    #[error("{path} does not exist")]
    NotFound { path: PathBuf },
    /// The folder has no genpack.json5, so it is not a project.
    #[error("{dir} is not a genpack project: it has no genpack.json5")]
    NotAProject { dir: PathBuf },
    /// Reading or writing a file failed.
    #[error("could not {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The text, a value or an edit is not acceptable; the message says what to change.
    #[error("{0}")]
    Invalid(String),
    /// The template gallery could not be read or a project could not be made from it.
    #[error("{0}")]
    Gallery(String),
    /// The definition cannot be merged for the chosen architecture and variant.
    #[error("{0}")]
    Effective(String),
    /// The build failed; the message names the step, the command and the end of its log.
    #[error("{0}")]
    Build(String),
    /// The operation was cancelled during the named step.
    #[error("cancelled during {0}")]
    Cancelled(String),
    /// The virtual machine could not be started, queried or stopped.
    #[error("{0}")]
    Vm(String),
}

impl CommandError {
    /// Wraps an I/O error with what was being done and to which path.
    pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::NotFound {
            return CommandError::NotFound {
                path: path.to_path_buf(),
            };
        }
        CommandError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The stable, machine-readable name of this error.
    pub fn kind(&self) -> &'static str {
        match self {
            CommandError::NotFound { .. } => "not_found",
            CommandError::NotAProject { .. } => "not_a_project",
            CommandError::Io { .. } => "io",
            CommandError::Invalid(_) => "invalid",
            CommandError::Gallery(_) => "gallery",
            CommandError::Effective(_) => "effective",
            CommandError::Build(_) => "build",
            CommandError::Cancelled(_) => "cancelled",
            CommandError::Vm(_) => "vm",
        }
    }
}

impl Serialize for CommandError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut state = serializer.serialize_struct("CommandError", 2)?;
        state.serialize_field("kind", self.kind())?;
        state.serialize_field("message", &self.to_string())?;
        state.end()
    }
}

/// What every command returns.
pub type CommandResult<T> = Result<T, CommandError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_cross_ipc_as_kind_and_message() {
        let error = CommandError::NotAProject {
            dir: PathBuf::from("/tmp/somewhere"),
        };
        let json = serde_json::to_value(&error).unwrap();
        assert_eq!(json["kind"], "not_a_project");
        assert_eq!(
            json["message"],
            "/tmp/somewhere is not a genpack project: it has no genpack.json5"
        );
    }

    #[test]
    fn a_missing_file_is_reported_as_not_found() {
        let source = std::io::Error::from(std::io::ErrorKind::NotFound);
        let error = CommandError::io("read", Path::new("/nope/system.ini"), source);
        assert_eq!(error.kind(), "not_found");
        assert_eq!(error.to_string(), "/nope/system.ini does not exist");
    }
}
