//! Running external programs for a pipeline step: output streamed line by line into
//! `logs/<step>.log` and progress events, cancellation that takes down the whole process group,
//! and typed errors that carry the last lines of the log.

use std::collections::{HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::{BuildError, Result};
use crate::progress::{Progress, ProgressSink};
use crate::CancelToken;

/// Lines of log quoted in a [`BuildError::StepFailed`].
const TAIL_LINES: usize = 20;
/// Grace period between SIGTERM and SIGKILL when cancelling.
const TERM_GRACE: Duration = Duration::from_secs(5);

/// Runs commands on behalf of pipeline steps.
pub(crate) struct Runner {
    logs_dir: PathBuf,
    cancel: CancelToken,
    progress: ProgressSink,
    started_logs: Mutex<HashSet<String>>,
}

impl Runner {
    pub(crate) fn new(logs_dir: PathBuf, cancel: CancelToken, progress: ProgressSink) -> Self {
        Self {
            logs_dir,
            cancel,
            progress,
            started_logs: Mutex::new(HashSet::new()),
        }
    }

    pub(crate) fn progress(&self) -> &ProgressSink {
        &self.progress
    }

    /// Path of the log file of `step`.
    pub(crate) fn log_path(&self, step: &str) -> PathBuf {
        self.logs_dir.join(format!("{step}.log"))
    }

    /// Returns an error if cancellation was requested.
    pub(crate) fn check_cancel(&self, step: &str) -> Result<()> {
        if self.cancel.is_cancelled() {
            return Err(BuildError::Cancelled {
                step: step.to_string(),
            });
        }
        Ok(())
    }

    /// Opens the step's log: truncated the first time the step logs in this run, appended after.
    fn open_log(&self, step: &str) -> Result<File> {
        std::fs::create_dir_all(&self.logs_dir)
            .map_err(BuildError::io("creating log directory", &self.logs_dir))?;
        let path = self.log_path(step);
        let first = self
            .started_logs
            .lock()
            .map(|mut set| set.insert(step.to_string()))
            .unwrap_or(true);
        let mut options = OpenOptions::new();
        options.create(true);
        if first {
            options.write(true).truncate(true);
        } else {
            options.append(true);
        }
        options
            .open(&path)
            .map_err(BuildError::io("opening log", path))
    }

    /// Writes a line to the step's log without running anything (decisions, notes).
    pub(crate) fn log_line(&self, step: &str, line: &str) -> Result<()> {
        let mut log = self.open_log(step)?;
        writeln!(log, "{line}").map_err(BuildError::io("writing log", self.log_path(step)))?;
        (self.progress)(Progress::Log {
            step: step.to_string(),
            line: line.to_string(),
        });
        Ok(())
    }

    /// Runs `command` as part of `step`. Every output line (stdout and stderr, split on `\n`
    /// and `\r`) goes to the log, to a [`Progress::Log`] event and to `on_line`. `package` names
    /// the Debian package providing the program, for the error message when it is missing.
    pub(crate) fn run(
        &self,
        step: &str,
        command: &mut Command,
        package: &str,
        mut on_line: impl FnMut(&str),
    ) -> Result<()> {
        self.check_cancel(step)?;
        let mut log = self.open_log(step)?;
        let log_path = self.log_path(step);
        let command_line = display_command(command);
        let write_err = BuildError::io("writing log", log_path.clone());
        writeln!(log, "$ {command_line}").map_err(write_err)?;

        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Own process group, so cancellation reaches every descendant that stays in it.
        command.process_group(0);
        let mut child = command.spawn().map_err(|source| BuildError::Spawn {
            step: step.to_string(),
            program: command.get_program().to_string_lossy().into_owned(),
            package: package.to_string(),
            source,
        })?;
        let pgid = child.id() as libc::pid_t;

        let (tx, rx) = mpsc::channel::<String>();
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(spawn_line_reader(out, tx.clone()));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(spawn_line_reader(err, tx.clone()));
        }
        drop(tx);

        let mut tail: VecDeque<String> = VecDeque::with_capacity(TAIL_LINES);
        let mut term_sent: Option<Instant> = None;
        let mut killed = false;
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    // A full disk must not abort the build half-way through a command; the
                    // command's own exit status decides.
                    let _ = writeln!(log, "{line}");
                    if tail.len() == TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line.clone());
                    on_line(&line);
                    (self.progress)(Progress::Log {
                        step: step.to_string(),
                        line,
                    });
                }
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
            if self.cancel.is_cancelled() {
                match term_sent {
                    None => {
                        // SAFETY: kill(2) with a negative pid signals our child's process group.
                        unsafe { libc::kill(-pgid, libc::SIGTERM) };
                        term_sent = Some(Instant::now());
                    }
                    Some(at) if !killed && at.elapsed() > TERM_GRACE => {
                        // SAFETY: as above.
                        unsafe { libc::kill(-pgid, libc::SIGKILL) };
                        killed = true;
                    }
                    Some(_) => {}
                }
            }
        }
        for reader in readers {
            let _ = reader.join();
        }
        let status = child
            .wait()
            .map_err(BuildError::io("waiting for", log_path.clone()))?;
        let _ = log.flush();
        if term_sent.is_some() {
            let _ = writeln!(log, "cancelled");
            return Err(BuildError::Cancelled {
                step: step.to_string(),
            });
        }
        if status.success() {
            return Ok(());
        }
        let _ = writeln!(log, "{}", describe_status(status));
        Err(BuildError::StepFailed {
            step: step.to_string(),
            command: command_line,
            status: describe_status(status),
            log: log_path,
            tail: tail.into_iter().collect::<Vec<_>>().join("\n"),
        })
    }
}

fn spawn_line_reader(
    mut stream: impl Read + Send + 'static,
    tx: mpsc::Sender<String>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        let mut pending: Vec<u8> = Vec::new();
        loop {
            let n = match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            for &byte in &buf[..n] {
                if byte == b'\n' || byte == b'\r' {
                    if !pending.is_empty() {
                        let line = String::from_utf8_lossy(&pending).into_owned();
                        pending.clear();
                        if tx.send(line).is_err() {
                            return;
                        }
                    }
                } else {
                    pending.push(byte);
                }
            }
        }
        if !pending.is_empty() {
            let _ = tx.send(String::from_utf8_lossy(&pending).into_owned());
        }
    })
}

fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        _ => "failed".to_string(),
    }
}

/// The command line as a shell would read it (for logs and error messages).
pub(crate) fn display_command(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|arg| shell_quote(&arg.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quotes `word` for POSIX sh.
pub(crate) fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%^".contains(c));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Whether `program` is found on PATH.
pub(crate) fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| is_executable(&dir.join(program))))
        .unwrap_or(false)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn runner(dir: &Path) -> Runner {
        Runner::new(
            dir.to_path_buf(),
            CancelToken::new(),
            crate::progress::discard(),
        )
    }

    #[test]
    fn failed_command_reports_step_command_and_tail() {
        let dir = tempfile::tempdir().unwrap();
        let r = runner(dir.path());
        let err = r
            .run(
                "demo",
                Command::new("sh")
                    .args(["-c", "for i in $(seq 1 30); do echo line$i; done; exit 3"]),
                "dash",
                |_| {},
            )
            .unwrap_err();
        match err {
            BuildError::StepFailed {
                step,
                command,
                status,
                log,
                tail,
            } => {
                assert_eq!(step, "demo");
                assert!(command.starts_with("sh -c "), "{command}");
                assert_eq!(status, "exited with status 3");
                assert_eq!(tail.lines().count(), 20);
                assert_eq!(tail.lines().next(), Some("line11"));
                let text = std::fs::read_to_string(log).unwrap();
                assert!(text.contains("line1\n") && text.contains("line30\n"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn cancel_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let cancel = CancelToken::new();
        let r = Runner::new(
            dir.path().to_path_buf(),
            cancel.clone(),
            crate::progress::discard(),
        );
        let marker = dir.path().join("grandchild.pid");
        let script = format!(
            "sleep 300 & echo $! > {}; echo started; wait",
            marker.display()
        );
        let c2 = cancel.clone();
        let err = r
            .run(
                "sleepy",
                Command::new("sh").args(["-c", &script]),
                "dash",
                move |line| {
                    if line == "started" {
                        c2.cancel();
                    }
                },
            )
            .unwrap_err();
        assert!(matches!(err, BuildError::Cancelled { .. }), "{err:?}");
        let pid: i32 = std::fs::read_to_string(&marker)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The grandchild `sleep` must be gone too (kill -0 fails with ESRCH).
        std::thread::sleep(Duration::from_millis(200));
        let alive = unsafe { libc::kill(pid, 0) } == 0
            && std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| !s.contains(") Z "))
                .unwrap_or(false);
        assert!(!alive, "grandchild {pid} survived cancellation");
    }

    #[test]
    fn lines_split_on_carriage_returns_and_reach_the_sink() {
        let dir = tempfile::tempdir().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let sink: ProgressSink = Arc::new(move |p| {
            if let Progress::Log { line, .. } = p {
                seen2.lock().unwrap().push(line);
            }
        });
        let r = Runner::new(dir.path().to_path_buf(), CancelToken::new(), sink);
        r.run(
            "cr",
            Command::new("printf").arg("a\rb\nc"),
            "coreutils",
            |_| {},
        )
        .unwrap();
        assert_eq!(*seen.lock().unwrap(), vec!["a", "b", "c"]);
    }

    #[test]
    fn quoting_round_trips_through_sh() {
        for word in ["plain", "with space", "it's", "", "$HOME"] {
            let out = Command::new("sh")
                .args(["-c", &format!("printf %s {}", shell_quote(word))])
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), word);
        }
    }
}
