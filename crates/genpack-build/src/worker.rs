//! A build in a child process, for programs that cannot enter a user namespace themselves.
//!
//! unshare(2) gives a user namespace only to a single-threaded process, and a desktop program
//! runs many threads. So, as an ordinary user, [`build`] starts a *build worker*: the `genpack`
//! program installed beside the running one (the studio links WebKit, whose library starts a
//! thread before `main`, so it cannot be its own worker), else the running program itself. The
//! child enters the user namespace ([`crate::userns::enter`]) while it is still
//! single-threaded, runs the build, and streams its progress events and the result back as
//! JSON lines on its standard output. As root, [`build`] runs the build in the calling
//! process, as before.
//!
//! A program that may serve builds this way calls [`serve_if_worker`] first thing in `main`.
//!
//! Protocol: the parent writes one [`BuildRequest`] as a JSON line to the worker's standard
//! input, and later `cancel` (or closes it) to stop the build. The worker writes one
//! [`WorkerMessage`] per line: progress events, then `done` or `failed`.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use genpack_def::{Arch, Project};

use crate::base::gentoo::EmergeOptions;
use crate::builder::{BaseSettings, BuildOptions, BuildReport, Builder};
use crate::error::{BuildError, Result};
use crate::progress::{Progress, ProgressSink};
use crate::stages::Stage;
use crate::CancelToken;

/// Set in a worker's environment: the program serves one build instead of starting normally.
pub const WORKER_ENV: &str = "GENPACK_BUILD_WORKER";

/// The build a worker runs.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BuildRequest {
    /// The project folder.
    pub project_dir: PathBuf,
    /// Target architecture; the host's when `None`.
    pub arch: Option<Arch>,
    /// Variant; the definition's default when `None`.
    pub variant: Option<String>,
    /// Rebuild the lower even when up to date.
    pub force_lower: bool,
    /// Rerun this stage and every later one.
    pub rerun_from: Option<Stage>,
    /// How emerge runs (Gentoo base).
    pub emerge: EmergeOptions,
    /// Gentoo mirror for the stage3 and the Portage snapshot; the default one when `None`.
    pub mirror: Option<String>,
}

/// One line a worker writes.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkerMessage {
    /// A progress event of the build.
    Progress(Progress),
    /// The build finished.
    Done(Box<BuildReport>),
    /// The build failed: the error's message and what to do about it.
    Failed {
        /// The error, as the build would have reported it.
        message: String,
        /// What the user can do.
        hint: Option<String>,
        /// The cause in plain words ([`BuildError::cause`]).
        #[serde(default)]
        cause: Option<crate::error::Cause>,
        /// The build was cancelled (the previous image is kept).
        #[serde(default)]
        cancelled: bool,
    },
}

/// Builds as asked: in this process as root, else in a worker child process that enters the
/// user namespace ([`worker_program`]).
pub fn build(
    request: &BuildRequest,
    progress: ProgressSink,
    cancel: CancelToken,
) -> Result<BuildReport> {
    if crate::userns::is_root() || crate::userns::entered() {
        return build_here(request, progress, cancel);
    }
    let program = std::env::current_exe().map_err(BuildError::io(
        "finding the running program at",
        "/proc/self/exe",
    ))?;
    build_in_child(
        &Command::new(worker_program(&program)),
        request,
        progress,
        cancel,
    )
}

/// The program that serves builds for `program`: the `genpack` command in the same folder (as
/// a package installs both, and as cargo builds both), else `program` itself.
pub fn worker_program(program: &std::path::Path) -> PathBuf {
    let genpack = program.with_file_name("genpack");
    if genpack.is_file() {
        genpack
    } else {
        program.to_path_buf()
    }
}

fn build_here(
    request: &BuildRequest,
    progress: ProgressSink,
    cancel: CancelToken,
) -> Result<BuildReport> {
    let project = Project::load(&request.project_dir)
        .map_err(|error| BuildError::Definition(error.to_string()))?;
    if project.has_errors() {
        return Err(BuildError::Definition(format!(
            "{} has errors: `genpack validate` lists them",
            project.file.display()
        )));
    }
    let mut settings = BaseSettings::default();
    if let Some(mirror) = &request.mirror {
        settings.gentoo_mirror = mirror.clone();
    }
    Builder::with_settings(
        &project,
        BuildOptions {
            arch: request.arch,
            variant: request.variant.clone(),
            cancel,
            progress,
            force_lower: request.force_lower,
            rerun_from: request.rerun_from,
            emerge: request.emerge.clone(),
        },
        settings,
    )?
    .build()
}

/// Runs `request` in the worker started by `worker` (a program that calls [`serve_if_worker`]),
/// forwarding its progress to `progress`; `cancel` stops it.
pub fn build_in_child(
    worker: &Command,
    request: &BuildRequest,
    progress: ProgressSink,
    cancel: CancelToken,
) -> Result<BuildReport> {
    let program = worker.get_program().to_string_lossy().into_owned();
    let mut command = Command::new(worker.get_program());
    command
        .args(worker.get_args())
        .env(WORKER_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (key, value) in worker.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    let mut child = command.spawn().map_err(|source| BuildError::Spawn {
        step: "build".into(),
        program: program.clone(),
        package: "genpack".into(),
        source,
    })?;
    let mut stdin = child.stdin.take();
    let line = serde_json::to_string(request).map_err(|error| BuildError::Worker {
        message: format!("cannot write the build request: {error}"),
        cause: None,
    })?;
    if let Some(pipe) = stdin.as_mut() {
        // A worker that died at once is reported below, from its exit status.
        let _ = writeln!(pipe, "{line}");
    }
    // Cancelling is one line to the worker; the pipe stays open until the worker ends.
    let finished = Arc::new(AtomicBool::new(false));
    let watcher = {
        let finished = Arc::clone(&finished);
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            while !finished.load(Ordering::Relaxed) {
                if cancel.is_cancelled() {
                    if let Some(pipe) = stdin.as_mut() {
                        let _ = writeln!(pipe, "cancel");
                    }
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            drop(stdin);
        })
    };
    let mut outcome = None;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            match serde_json::from_str::<WorkerMessage>(&line) {
                Ok(WorkerMessage::Progress(event)) => progress(event),
                Ok(WorkerMessage::Done(report)) => outcome = Some(Ok(*report)),
                Ok(WorkerMessage::Failed {
                    message,
                    hint,
                    cause,
                    cancelled,
                }) => {
                    outcome = Some(Err(if cancelled {
                        BuildError::Cancelled {
                            step: "build".into(),
                        }
                    } else {
                        BuildError::Worker {
                            message: match hint {
                                Some(hint) => format!("{message}\nhint: {hint}"),
                                None => message,
                            },
                            cause,
                        }
                    }))
                }
                Err(_) => {}
            }
        }
    }
    let status = child
        .wait()
        .map_err(BuildError::io("waiting for the build process", &program));
    finished.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    let status = status?;
    match outcome {
        Some(outcome) => outcome,
        None if cancel.is_cancelled() => Err(BuildError::Cancelled {
            step: "build".into(),
        }),
        None => Err(BuildError::Worker {
            message: format!("the build process {program} ended ({status}) without a result"),
            cause: None,
        }),
    }
}

/// When this process was started as a build worker: serves the build and returns the exit
/// status for `main` to return. Otherwise `None`, at once. Call it before any thread starts.
pub fn serve_if_worker() -> Option<ExitCode> {
    std::env::var_os(WORKER_ENV)?;
    std::env::remove_var(WORKER_ENV);
    Some(serve())
}

fn send(message: &WorkerMessage) {
    if let Ok(line) = serde_json::to_string(message) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

fn fail(message: String, hint: Option<String>) -> ExitCode {
    send(&WorkerMessage::Failed {
        message,
        hint,
        cause: None,
        cancelled: false,
    });
    ExitCode::FAILURE
}

fn serve() -> ExitCode {
    let mut input = BufReader::new(std::io::stdin());
    let mut line = String::new();
    if let Err(error) = input.read_line(&mut line) {
        return fail(format!("cannot read the build request: {error}"), None);
    }
    let request: BuildRequest = match serde_json::from_str(&line) {
        Ok(request) => request,
        Err(error) => return fail(format!("unreadable build request: {error}"), None),
    };
    // Before any thread: unshare refuses a threaded process.
    if let Err(error) = crate::userns::enter() {
        return fail(
            error.to_string(),
            Some("`genpack doctor` checks everything a build needs".into()),
        );
    }
    let cancel = CancelToken::new();
    {
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            // `cancel`, or the parent going away (end of input), stops the build.
            let mut line = String::new();
            loop {
                line.clear();
                match input.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) if line.trim() == "cancel" => break,
                    Ok(_) => {}
                }
            }
            cancel.cancel();
        });
    }
    let progress: ProgressSink = Arc::new(|event| send(&WorkerMessage::Progress(event)));
    match build_here(&request, progress, cancel) {
        Ok(report) => {
            send(&WorkerMessage::Done(Box::new(report)));
            ExitCode::SUCCESS
        }
        Err(error) => {
            send(&WorkerMessage::Failed {
                message: error.to_string(),
                hint: error.hint().map(str::to_string),
                cause: error.cause(),
                cancelled: matches!(error, BuildError::Cancelled { .. }),
            });
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worker_is_the_genpack_command_beside_the_program_when_there_is_one() {
        let dir = tempfile::tempdir().unwrap();
        let studio = dir.path().join("genpack-studio");
        std::fs::write(&studio, "").unwrap();
        assert_eq!(worker_program(&studio), studio, "alone, it serves itself");
        std::fs::write(dir.path().join("genpack"), "").unwrap();
        assert_eq!(worker_program(&studio), dir.path().join("genpack"));
    }
}
