//! Progress and failures read from emerge's output, line by line.

use std::path::PathBuf;

/// Something emerge reported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EmergeEvent {
    /// `>>> Emerging [binary] (n of m) cat/pkg-ver::repo`: a package starts.
    Emerging {
        /// Position in the merge list (1-based).
        index: usize,
        /// Length of the merge list.
        total: usize,
        /// The package (`dev-libs/foo-1.2`).
        package: String,
        /// The repository, when shown.
        repo: Option<String>,
        /// Installed from a binary package rather than built.
        binary: bool,
    },
    /// `>>> Completed (n of m) cat/pkg-ver::repo`: a package is installed.
    Completed {
        /// Position in the merge list (1-based).
        index: usize,
        /// Length of the merge list.
        total: usize,
        /// The package.
        package: String,
    },
    /// `Jobs: n of m complete, k running`: the summary line of a parallel run.
    Jobs {
        /// Packages done.
        done: usize,
        /// Packages in the merge list.
        total: usize,
        /// Packages being built right now.
        running: usize,
    },
    /// A package failed to build or install.
    Failed(Failure),
    /// The build log of a failed package was located (completes an earlier [`EmergeEvent::Failed`]).
    BuildLog {
        /// The package the log belongs to, when the line names it.
        package: Option<String>,
        /// Path of the log inside the lower.
        path: PathBuf,
    },
    /// A source archive could not be downloaded.
    FetchFailed(FetchFailure),
}

/// A package that failed in one of its phases.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Failure {
    /// The package (`dev-libs/foo-1.2`).
    pub package: String,
    /// The repository, when shown.
    pub repo: Option<String>,
    /// The phase (`compile`, `configure`, `install`...), when shown.
    pub phase: Option<String>,
    /// The complete build log, once known.
    pub log: Option<PathBuf>,
}

/// A download that failed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FetchFailure {
    /// The file that could not be downloaded, when named.
    pub file: Option<String>,
    /// The package it belongs to, when named.
    pub package: Option<String>,
}

/// Reads emerge output and keeps the failures it has seen, merging the lines that belong to the
/// same failure (the `ERROR:` line, the build-log line, the fetch lines).
#[derive(Debug, Default, Clone)]
pub struct ProgressParser {
    failures: Vec<Failure>,
    fetch_failures: Vec<FetchFailure>,
    awaiting_log_for: Option<String>,
}

impl ProgressParser {
    /// A parser that has seen nothing yet.
    pub fn new() -> ProgressParser {
        ProgressParser::default()
    }

    /// Reads one line of output (with or without its newline and colour codes).
    pub fn feed(&mut self, line: &str) -> Option<EmergeEvent> {
        let line = strip_ansi(line);
        let text = line.trim();
        let event = parse_line(text, self.awaiting_log_for.take())?;
        match &event {
            EmergeEvent::Failed(failure) => {
                if !self
                    .failures
                    .iter()
                    .any(|known| known.package == failure.package)
                {
                    self.failures.push(failure.clone());
                }
                if text.ends_with("Log file:") {
                    self.awaiting_log_for = Some(failure.package.clone());
                }
            }
            EmergeEvent::BuildLog { package, path } => {
                let target = match package {
                    Some(package) => self
                        .failures
                        .iter_mut()
                        .rev()
                        .find(|failure| &failure.package == package),
                    None => self
                        .failures
                        .iter_mut()
                        .rev()
                        .find(|failure| failure.log.is_none()),
                };
                if let Some(failure) = target {
                    failure.log = Some(path.clone());
                }
            }
            EmergeEvent::FetchFailed(fetch) => {
                match (fetch.package.as_ref(), self.fetch_failures.last_mut()) {
                    (Some(package), Some(last)) if last.package.is_none() => {
                        last.package = Some(package.clone())
                    }
                    _ => self.fetch_failures.push(fetch.clone()),
                }
            }
            _ => {}
        }
        Some(event)
    }

    /// Packages that failed so far, in the order they failed, with their logs when known.
    pub fn failures(&self) -> &[Failure] {
        &self.failures
    }

    /// Downloads that failed so far.
    pub fn fetch_failures(&self) -> &[FetchFailure] {
        &self.fetch_failures
    }
}

fn parse_line(text: &str, awaiting_log_for: Option<String>) -> Option<EmergeEvent> {
    if let Some(rest) = text.strip_prefix(">>> Emerging binary ") {
        let (index, total, package, repo) = parse_counted(rest)?;
        return Some(EmergeEvent::Emerging {
            index,
            total,
            package,
            repo,
            binary: true,
        });
    }
    if let Some(rest) = text.strip_prefix(">>> Emerging ") {
        let (index, total, package, repo) = parse_counted(rest)?;
        return Some(EmergeEvent::Emerging {
            index,
            total,
            package,
            repo,
            binary: false,
        });
    }
    if let Some(rest) = text.strip_prefix(">>> Completed ") {
        let (index, total, package, _) = parse_counted(rest)?;
        return Some(EmergeEvent::Completed {
            index,
            total,
            package,
        });
    }
    if let Some(rest) = text.strip_prefix("Jobs: ") {
        let words: Vec<&str> = rest
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
            .collect();
        if let [done, "of", total, "complete", rest @ ..] = words.as_slice() {
            let running = match rest {
                [running, "running", ..] => running.parse().ok()?,
                _ => 0,
            };
            return Some(EmergeEvent::Jobs {
                done: done.parse().ok()?,
                total: total.parse().ok()?,
                running,
            });
        }
        return None;
    }
    if let Some(rest) = text.strip_prefix("* ERROR: ") {
        let (spec, tail) = rest.split_once(" failed")?;
        let (package, repo) = split_repo(spec);
        let phase = tail
            .trim()
            .strip_prefix('(')
            .and_then(|inner| inner.split_once(" phase)"))
            .map(|(phase, _)| phase.to_string());
        return Some(EmergeEvent::Failed(Failure {
            package,
            repo,
            phase,
            log: None,
        }));
    }
    if let Some(rest) = text.strip_prefix("* The complete build log is located at ") {
        let path = rest.trim_end_matches('.').trim_matches(['\'', '"']);
        return Some(EmergeEvent::BuildLog {
            package: None,
            path: PathBuf::from(path),
        });
    }
    if let Some(rest) = text.strip_prefix(">>> Failed to emerge ") {
        let spec = rest.split_once(',').map_or(rest, |(spec, _)| spec);
        let (package, repo) = split_repo(spec.trim());
        return Some(EmergeEvent::Failed(Failure {
            package,
            repo,
            phase: None,
            log: None,
        }));
    }
    if let Some(package) = awaiting_log_for {
        if let Some(rest) = text.strip_prefix(">>>") {
            let path = rest.trim().trim_matches(['\'', '"']);
            if path.starts_with('/') {
                return Some(EmergeEvent::BuildLog {
                    package: Some(package),
                    path: PathBuf::from(path),
                });
            }
        }
    }
    if let Some(rest) = text.strip_prefix("!!! Couldn't download ") {
        let file = rest.split('\'').nth(1).map(str::to_string);
        return Some(EmergeEvent::FetchFailed(FetchFailure {
            file,
            package: None,
        }));
    }
    if let Some(rest) = text.strip_prefix("!!! Fetch failed for ") {
        let spec = rest.split_once(',').map_or(rest, |(spec, _)| spec);
        let (package, _) = split_repo(spec.trim());
        return Some(EmergeEvent::FetchFailed(FetchFailure {
            file: None,
            package: Some(package),
        }));
    }
    None
}

/// Parses `(n of m) cat/pkg-ver[::repo] ...`.
fn parse_counted(rest: &str) -> Option<(usize, usize, String, Option<String>)> {
    let inner = rest.strip_prefix('(')?;
    let (counts, after) = inner.split_once(')')?;
    let (index, total) = counts.split_once(" of ")?;
    let spec = after.split_whitespace().next()?;
    let (package, repo) = split_repo(spec);
    Some((
        index.trim().parse().ok()?,
        total.trim().parse().ok()?,
        package,
        repo,
    ))
}

fn split_repo(spec: &str) -> (String, Option<String>) {
    let spec = spec.trim_start_matches('=');
    match spec.split_once("::") {
        Some((package, repo)) => (package.to_string(), Some(repo.to_string())),
        None => (spec.to_string(), None),
    }
}

/// `line` without ANSI colour and cursor sequences (emerge colours its output).
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for next in chars.by_ref() {
                    if next.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_progress_lines() {
        let mut parser = ProgressParser::new();
        assert_eq!(
            parser.feed(">>> Emerging (3 of 57) dev-libs/foo-1.2::gentoo\n"),
            Some(EmergeEvent::Emerging {
                index: 3,
                total: 57,
                package: "dev-libs/foo-1.2".into(),
                repo: Some("gentoo".into()),
                binary: false
            })
        );
        assert_eq!(
            parser.feed("\u{1b}[32;01m>>>\u{1b}[0m Emerging binary (4 of 57) sys-libs/zlib-1.3.1-r1::gentoo"),
            Some(EmergeEvent::Emerging { index: 4, total: 57, package: "sys-libs/zlib-1.3.1-r1".into(), repo: Some("gentoo".into()), binary: true })
        );
        assert_eq!(
            parser.feed(">>> Completed (4 of 57) sys-libs/zlib-1.3.1-r1::gentoo"),
            Some(EmergeEvent::Completed {
                index: 4,
                total: 57,
                package: "sys-libs/zlib-1.3.1-r1".into()
            })
        );
        assert_eq!(
            parser.feed(
                "Jobs: 12 of 57 complete, 2 running               Load avg: 3.10, 2.95, 2.40"
            ),
            Some(EmergeEvent::Jobs {
                done: 12,
                total: 57,
                running: 2
            })
        );
        assert_eq!(parser.feed(">>> Unpacking source..."), None);
        assert_eq!(parser.feed("checking for gcc... gcc"), None);
        assert!(parser.failures().is_empty());
    }

    #[test]
    fn joins_a_build_failure_with_its_log() {
        let mut parser = ProgressParser::new();
        let lines = [
            " * ERROR: dev-libs/foo-1.2-r1::gentoo failed (compile phase):",
            " *   emake failed",
            " * ",
            " * The complete build log is located at '/var/tmp/portage/dev-libs/foo-1.2-r1/temp/build.log'.",
            " * The ebuild environment file is located at '/var/tmp/portage/dev-libs/foo-1.2-r1/temp/environment'.",
        ];
        let events: Vec<EmergeEvent> = lines.iter().filter_map(|line| parser.feed(line)).collect();
        assert_eq!(events.len(), 2);
        assert_eq!(
            parser.failures(),
            [Failure {
                package: "dev-libs/foo-1.2-r1".into(),
                repo: Some("gentoo".into()),
                phase: Some("compile".into()),
                log: Some("/var/tmp/portage/dev-libs/foo-1.2-r1/temp/build.log".into()),
            }]
        );
    }

    #[test]
    fn parallel_failure_summary_names_the_log() {
        let mut parser = ProgressParser::new();
        parser.feed(" * ERROR: media-libs/bar-2::gentoo failed (configure phase):");
        parser.feed(">>> Failed to emerge media-libs/bar-2, Log file:");
        parser.feed(">>>  '/var/tmp/portage/media-libs/bar-2/temp/build.log'");
        assert_eq!(parser.failures().len(), 1);
        assert_eq!(parser.failures()[0].phase.as_deref(), Some("configure"));
        assert_eq!(
            parser.failures()[0].log,
            Some(PathBuf::from(
                "/var/tmp/portage/media-libs/bar-2/temp/build.log"
            ))
        );
    }

    #[test]
    fn reads_fetch_failures() {
        let mut parser = ProgressParser::new();
        parser.feed("!!! Couldn't download 'foo-1.2.tar.gz'. Aborting.");
        parser.feed("!!! Fetch failed for dev-libs/foo-1.2, continuing...");
        assert_eq!(
            parser.fetch_failures(),
            [FetchFailure {
                file: Some("foo-1.2.tar.gz".into()),
                package: Some("dev-libs/foo-1.2".into())
            }]
        );
    }
}
