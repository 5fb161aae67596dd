//! The one error type every command returns.
//!
//! It crosses the IPC boundary as `{ "kind": "...", "message": "...", "hint": "..." }`: a
//! stable kind the window can branch on, the engine's own message, and — when the engine
//! knows — what the user can do next, the same hint the `genpack` command prints.

use serde::Serialize;
use std::fmt;
use std::path::Path;
use ts_rs::TS;

/// What kind of failure it is, for the window to branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A file or folder the command needs does not exist.
    NotFound,
    /// The folder has no genpack.json5.
    NotAProject,
    /// Reading or writing a file failed.
    Io,
    /// A value, a text or an edit is not acceptable; the message says what to change.
    Invalid,
    /// The definition cannot be read or merged for the chosen architecture and variant.
    Definition,
    /// The template gallery could not be read or a project made from it.
    Gallery,
    /// The build failed.
    Build,
    /// The user cancelled; the message says what state things are in.
    Cancelled,
    /// The virtual machine could not be started, queried or stopped.
    Vm,
    /// A drive could not be listed, opened, written or verified.
    Drive,
    /// An image could not be laid out on a disk, ISO or ZIP.
    Install,
    /// A system.ini could not be read or written.
    Ini,
}

/// Why a command could not do what was asked.
#[derive(Debug, Clone, Serialize, TS)]
pub struct CommandError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The engine's message, for the user as it is.
    pub message: String,
    /// What to do next, when known.
    pub hint: Option<String>,
    /// The cause in one plain sentence, when the engine can tell it from the failure (a
    /// build's log names a missing package): shown first, the message folded away.
    pub cause: Option<FailureCause>,
}

/// A failure's cause in plain words, and the definition field it is about.
#[derive(Debug, Clone, Serialize, TS)]
pub struct FailureCause {
    /// One sentence: "Debian has no package named ngnix."
    pub sentence: String,
    /// The place in genpack.json5 to fix, like `packages[1]`, when there is one.
    pub field: Option<String>,
}

impl CommandError {
    /// An error of `kind` with `message` and no hint.
    pub fn new(kind: ErrorKind, message: impl fmt::Display) -> Self {
        CommandError {
            kind,
            message: message.to_string(),
            hint: None,
            cause: None,
        }
    }

    /// A value or request that is not acceptable.
    pub fn invalid(message: impl fmt::Display) -> Self {
        CommandError::new(ErrorKind::Invalid, message)
    }

    /// Adds what the user can do about it.
    pub fn with_hint(mut self, hint: Option<impl fmt::Display>) -> Self {
        self.hint = hint.map(|hint| hint.to_string());
        self
    }

    /// Wraps an I/O error with what was being done and to which path.
    pub fn io(action: &'static str, path: &Path, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::NotFound {
            return CommandError::not_found(path);
        }
        CommandError::new(
            ErrorKind::Io,
            format!("could not {action} {}: {source}", path.display()),
        )
    }

    /// A file or folder that does not exist.
    pub fn not_found(path: &Path) -> Self {
        CommandError::new(
            ErrorKind::NotFound,
            format!("{} does not exist", path.display()),
        )
    }

    /// A folder without a definition.
    pub fn not_a_project(dir: &Path) -> Self {
        CommandError::new(
            ErrorKind::NotAProject,
            format!(
                "{} is not a genpack project: it has no genpack.json5",
                dir.display()
            ),
        )
        .with_hint(Some(
            "open the folder that holds genpack.json5, or start a new project from the gallery",
        ))
    }

    /// A virtual machine problem.
    pub fn vm(message: impl fmt::Display) -> Self {
        CommandError::new(ErrorKind::Vm, message)
    }

    /// A gallery problem.
    pub fn gallery(message: impl fmt::Display) -> Self {
        CommandError::new(ErrorKind::Gallery, message)
    }

    /// A definition that cannot be read or merged.
    pub fn definition(message: impl fmt::Display) -> Self {
        CommandError::new(ErrorKind::Definition, message)
    }

    /// A build problem.
    pub fn build(message: impl fmt::Display) -> Self {
        CommandError::new(ErrorKind::Build, message)
    }

    /// A background thread of the command ended without an answer.
    pub fn stopped(what: &str, error: impl fmt::Display) -> Self {
        CommandError::invalid(format!("the {what} stopped: {error}"))
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for CommandError {}

impl From<genpack_install::InstallError> for CommandError {
    fn from(error: genpack_install::InstallError) -> Self {
        use genpack_drive::FlashError;
        use genpack_install::InstallError;
        let kind = match &error {
            InstallError::Cancelled { .. } | InstallError::Drive(FlashError::Cancelled { .. }) => {
                ErrorKind::Cancelled
            }
            InstallError::Drive(_) | InstallError::Drives(_) => ErrorKind::Drive,
            _ => ErrorKind::Install,
        };
        CommandError::new(kind, &error).with_hint(error.hint())
    }
}

impl From<genpack_build::BuildError> for CommandError {
    fn from(error: genpack_build::BuildError) -> Self {
        match error {
            genpack_build::BuildError::Cancelled { step } => {
                CommandError::new(ErrorKind::Cancelled, format!("cancelled during {step}"))
            }
            other => {
                let hint = other.hint();
                let cause = other.cause().map(|cause| FailureCause {
                    sentence: cause.sentence,
                    field: None,
                });
                let mut error = CommandError::build(other).with_hint(hint);
                error.cause = cause;
                error
            }
        }
    }
}

impl From<genpack_vm::VmError> for CommandError {
    fn from(error: genpack_vm::VmError) -> Self {
        CommandError::vm(error)
    }
}

impl From<genpack_gallery::GalleryError> for CommandError {
    fn from(error: genpack_gallery::GalleryError) -> Self {
        CommandError::gallery(error)
    }
}

impl From<genpack_drive::DriveError> for CommandError {
    fn from(error: genpack_drive::DriveError) -> Self {
        CommandError::new(ErrorKind::Drive, error)
    }
}

impl From<genpack_def::LoadError> for CommandError {
    fn from(error: genpack_def::LoadError) -> Self {
        match error {
            genpack_def::LoadError::NotFound { dir } => CommandError::not_a_project(&dir),
            other => CommandError::new(ErrorKind::Definition, other),
        }
    }
}

impl From<genpack_def::EffectiveError> for CommandError {
    fn from(error: genpack_def::EffectiveError) -> Self {
        CommandError::new(ErrorKind::Definition, error)
    }
}

impl From<genpack_def::UnknownArch> for CommandError {
    fn from(error: genpack_def::UnknownArch) -> Self {
        CommandError::invalid(error)
    }
}

impl From<genpack_install::LabelError> for CommandError {
    fn from(error: genpack_install::LabelError) -> Self {
        CommandError::invalid(error)
    }
}

/// What every command returns.
pub type CommandResult<T> = Result<T, CommandError>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn errors_cross_ipc_as_kind_message_and_hint() {
        let error = CommandError::not_a_project(Path::new("/tmp/somewhere"));
        let json = serde_json::to_value(&error).unwrap();
        assert_eq!(json["kind"], "not_a_project");
        assert_eq!(
            json["message"],
            "/tmp/somewhere is not a genpack project: it has no genpack.json5"
        );
        assert!(json["hint"].as_str().unwrap().contains("gallery"));
    }

    #[test]
    fn a_missing_file_is_reported_as_not_found() {
        let source = std::io::Error::from(std::io::ErrorKind::NotFound);
        let error = CommandError::io("read", Path::new("/nope/system.ini"), source);
        assert_eq!(error.kind, ErrorKind::NotFound);
        assert_eq!(error.message, "/nope/system.ini does not exist");
    }

    #[test]
    fn the_engine_hint_reaches_the_window() {
        let error = genpack_install::InstallError::BadImage {
            image: PathBuf::from("demo.squashfs"),
            reason: "it has no kernel".into(),
        };
        let command: CommandError = error.into();
        assert_eq!(command.kind, ErrorKind::Install);
        assert!(command.message.contains("demo.squashfs"));
        assert_eq!(
            command.hint.as_deref(),
            Some("build the image with `genpack build` first")
        );
    }
}
