//! Typed errors of the build pipeline.

use std::path::PathBuf;

/// Everything that can make a build fail. Each variant names what failed so the CLI and the
/// studio can say what to do next.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A command of a pipeline step exited unsuccessfully.
    #[error("step `{step}` failed: `{command}` {status}; full log: {log}\n--- last lines of the log ---\n{tail}")]
    StepFailed {
        /// Step name, also the log file's stem (`logs/<step>.log`).
        step: String,
        /// The command line, shell-quoted for reading.
        command: String,
        /// Exit status description (`exited with status 100`, `killed by signal 9`).
        status: String,
        /// Path of the full log.
        log: PathBuf,
        /// The last 20 lines of the log.
        tail: String,
    },
    /// emerge could not build or install a package.
    #[error("emerge failed on {package} in phase {phase}; full build log: {}\n--- last lines of the build log ---\n{tail}", log.display())]
    PackageFailed {
        /// The package (`app-misc/hello-1.0`).
        package: String,
        /// The phase it failed in (`compile`, `install`...; `unknown` when emerge did not say).
        phase: String,
        /// The package's full build log (kept in the logs folder).
        log: PathBuf,
        /// Its last lines.
        tail: String,
    },
    /// A program could not be started (usually not installed).
    #[error("step `{step}`: cannot run `{program}`: {source} (is it installed? on Debian: apt-get install {package})")]
    Spawn {
        /// Step name.
        step: String,
        /// Program that failed to start.
        program: String,
        /// Debian package that provides it.
        package: String,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The build was cancelled through its [`crate::CancelToken`].
    #[error("cancelled during step `{step}`")]
    Cancelled {
        /// Step that was running.
        step: String,
    },
    /// A file system operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done (`creating directory`, `copying`, ...).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The project's definition could not be used.
    #[error("definition: {0}")]
    Definition(String),
    /// A required earlier phase has not been run.
    #[error("{what} is missing: {hint}")]
    Missing {
        /// What is missing (`lower layer of work/x86_64`).
        what: String,
        /// What to run first.
        hint: String,
    },
    /// The package database of the lower layer could not be read.
    #[error("package database {}: {message}", path.display())]
    PackageDb {
        /// File that could not be parsed or read.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// No way to run a container is available.
    #[error("no container runtime: install systemd-container (systemd-nspawn) or bubblewrap")]
    NoContainerRuntime,
    /// The boot side (boot programs, initramfs) could not be made.
    #[error("boot side: {0}")]
    Boot(String),
    /// A file could not be downloaded.
    #[error("downloading {url}: {message}")]
    Download {
        /// The URL (or local path) being fetched.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// Portage data (checksums, configuration, the package database) was unusable.
    #[error(transparent)]
    Portage(#[from] genpack_portage::Error),
    /// The child process running a build as an ordinary user failed or reported a failure.
    #[error("{message}")]
    Worker {
        /// What it reported.
        message: String,
    },
    /// A build as an ordinary user cannot enter its user namespace.
    #[error(transparent)]
    Namespace(#[from] crate::userns::NamespaceError),
}

impl BuildError {
    /// What the user can do about it, when the message does not say so already.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            BuildError::Cancelled { .. } => {
                "the work folder is left usable; run the same command again to go on"
            }
            BuildError::StepFailed { .. } => "the full log is in work/<arch>/logs/",
            BuildError::PackageFailed { .. } => {
                "fix the package (a patch in patches/, a USE flag, a version mask) and build again; the rest comes from binary packages"
            }
            BuildError::Namespace(_) | BuildError::Worker { .. } => return None,
            _ => "run `genpack clean` to start from scratch if the work folder looks damaged",
        })
    }

    /// Shorthand for [`BuildError::Io`].
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| BuildError::Io {
            action,
            path,
            source,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = BuildError> = std::result::Result<T, E>;
