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
    /// A server could not be reached at all: its name could not be looked up, the connection
    /// failed or it did not answer in time. Downloads from the Gentoo mirror (stage3 archives,
    /// Portage snapshots) end here when the network or the mirror is missing.
    #[error("cannot reach {host}: {problem} (downloading {url})")]
    Unreachable {
        /// The host name of the server.
        host: String,
        /// The URL being fetched.
        url: String,
        /// What went wrong on the network.
        problem: NetworkProblem,
    },
    /// Portage data (checksums, configuration, the package database) was unusable.
    #[error(transparent)]
    Portage(#[from] genpack_portage::Error),
    /// The child process running a build as an ordinary user failed or reported a failure.
    #[error("{message}")]
    Worker {
        /// What it reported.
        message: String,
        /// The cause in plain words, as the worker's own error told it.
        cause: Option<Cause>,
    },
    /// A build as an ordinary user cannot enter its user namespace.
    #[error(transparent)]
    Namespace(#[from] crate::userns::NamespaceError),
}

/// Why a server could not be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkProblem {
    /// The host name could not be looked up (no DNS, or no network at all).
    NameLookup,
    /// The connection was refused or the host is unreachable.
    Connect,
    /// The server did not answer in time.
    Timeout,
}

impl std::fmt::Display for NetworkProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NetworkProblem::NameLookup => "its name could not be looked up (no DNS or no network)",
            NetworkProblem::Connect => "the connection failed",
            NetworkProblem::Timeout => "it did not answer in time",
        })
    }
}

/// The cause of a failed build in one plain sentence, read from the error and its log, with
/// the package it names when it is one of the definition's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cause {
    /// One sentence for people: "Debian has no package named ngnix."
    pub sentence: String,
    /// The package the sentence is about, as the definition lists it.
    pub package: Option<String>,
}

impl BuildError {
    /// The cause in plain words, when the error or its log tells it: a package the base does
    /// not have, or a server that could not be reached.
    pub fn cause(&self) -> Option<Cause> {
        match self {
            BuildError::Unreachable { host, problem, .. } => Some(Cause {
                sentence: format!(
                    "Could not reach {host}: {problem}. Set another Gentoo mirror (Gentoo build settings in the studio, --mirror for genpack build) or a binhost, and build again."
                ),
                package: None,
            }),
            BuildError::StepFailed { tail, .. } => cause_in_log(tail),
            BuildError::Worker { cause, .. } => cause.clone(),
            _ => None,
        }
    }
    /// What the user can do about it, when the message does not say so already.
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self {
            BuildError::Cancelled { .. } => {
                "the work folder is left usable; run the same command again to go on"
            }
            BuildError::StepFailed { .. } => "the full log is in work/<arch>/logs/",
            BuildError::Unreachable { .. } => {
                "set a Gentoo mirror you can reach: `genpack build --mirror URL` (or GENPACK_GENTOO_MIRROR), or Gentoo mirror in the studio's Build settings; a local file:// mirror works offline"
            }
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

/// What a command's log says went wrong, in plain words: apt's "Unable to locate package X"
/// and "Package 'X' has no installation candidate", or a host it could not resolve.
fn cause_in_log(log: &str) -> Option<Cause> {
    for line in log.lines() {
        let line = line.trim();
        let missing = line
            .split_once("Unable to locate package ")
            .map(|(_, name)| name)
            .or_else(|| {
                let rest = line.split_once("Package '")?.1;
                rest.contains("has no installation candidate")
                    .then(|| rest.split('\'').next())
                    .flatten()
            });
        if let Some(name) = missing {
            let name = name.trim().trim_end_matches('.');
            if !name.is_empty() {
                return Some(Cause {
                    sentence: format!("Debian has no package named {name}."),
                    package: Some(name.to_string()),
                });
            }
        }
        if let Some(rest) = line.split_once("Could not resolve '").map(|(_, r)| r) {
            let host = rest.split('\'').next().unwrap_or(rest);
            return Some(Cause {
                sentence: format!(
                    "Could not reach {host}: its name could not be looked up (no DNS or no network). Check the network connection and build again."
                ),
                package: None,
            });
        }
    }
    None
}

/// Result alias of this crate.
pub type Result<T, E = BuildError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_debian_package_is_named_in_plain_words() {
        let error = BuildError::StepFailed {
            step: "lower".into(),
            command: "mmdebstrap --include=ngnix bookworm".into(),
            status: "exited with status 1".into(),
            log: "work/x86_64/logs/lower.log".into(),
            tail: "Reading package lists...\nE: Unable to locate package ngnix\nE: apt-get --yes install failed".into(),
        };
        let cause = error.cause().unwrap();
        assert_eq!(cause.sentence, "Debian has no package named ngnix.");
        assert_eq!(cause.package.as_deref(), Some("ngnix"));
        let tail = "E: Package 'nginx-full' has no installation candidate";
        assert_eq!(
            cause_in_log(tail).unwrap().package.as_deref(),
            Some("nginx-full")
        );
        let tail = "W: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  Could not resolve 'deb.debian.org'";
        assert!(cause_in_log(tail)
            .unwrap()
            .sentence
            .starts_with("Could not reach deb.debian.org"));
        assert_eq!(cause_in_log("E: something else"), None);
    }

    #[test]
    fn an_unreachable_mirror_names_the_host_and_the_setting() {
        let error = BuildError::Unreachable {
            host: "distfiles.gentoo.org".into(),
            url: "https://distfiles.gentoo.org/releases/amd64/autobuilds/latest-stage3.txt".into(),
            problem: NetworkProblem::NameLookup,
        };
        assert!(error
            .to_string()
            .starts_with("cannot reach distfiles.gentoo.org: its name could not be looked up"));
        assert!(error
            .cause()
            .unwrap()
            .sentence
            .contains("Set another Gentoo mirror"));
        assert!(error.hint().unwrap().contains("--mirror"));
    }
}
