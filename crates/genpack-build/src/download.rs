//! Downloads of base sources (stage3 archives, Portage snapshots, their checksum lists) into a
//! local cache: `http://`, `https://` and `file://` URLs alike.
//!
//! A cached file is kept next to a `.headers` file recording what the server said about it
//! (`Last-Modified`, `ETag`, `Content-Length`). Before downloading again a `HEAD` request is made;
//! when its answer matches the stored one the cached copy is used as is. Interrupted downloads
//! stay in `<file>.part` (with `<file>.part.headers`) and are resumed with a `Range` request,
//! both within a run (a dropped connection is retried) and in the next run.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use genpack_portage::stage3::Freshness;

use crate::error::{BuildError, NetworkProblem, Result};
use crate::progress::{Meter, Phase, ProgressSink, Unit};
use crate::CancelToken;

/// `User-Agent` sent with every request.
pub const USER_AGENT: &str = concat!("genpack/", env!("CARGO_PKG_VERSION"));
/// Time allowed to establish a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Time allowed for the response headers, and between two reads of the body.
pub const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts made for one file when the connection drops (each resumes the previous one).
pub const ATTEMPTS: usize = 4;

/// What [`Downloader::fetch`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The cached copy matches the remote file: nothing was transferred.
    Current,
    /// The mirror could not be reached; the cached copy (complete, from an earlier run) is used.
    Offline {
        /// Why the mirror could not be asked.
        reason: String,
    },
    /// The file was (re)downloaded: `bytes` were transferred in this run.
    Downloaded {
        /// Bytes received in this run (less than the file size when a download was resumed).
        bytes: u64,
    },
}

/// Downloads files into a cache, with freshness checks, resume, timeouts and progress.
pub struct Downloader {
    agent: ureq::Agent,
    progress: ProgressSink,
    cancel: CancelToken,
    phase: Phase,
}

impl Downloader {
    /// A downloader reporting byte counts of `phase` to `progress`, stopping when `cancel` is set.
    pub fn new(progress: ProgressSink, cancel: CancelToken, phase: Phase) -> Self {
        let config = ureq::Agent::config_builder()
            .user_agent(USER_AGENT)
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(READ_TIMEOUT))
            .timeout_per_read(Some(READ_TIMEOUT))
            .build();
        Self {
            agent: config.into(),
            progress,
            cancel,
            phase,
        }
    }

    /// Makes `dest` a current copy of `url`. Returns [`Fetched::Current`] without transferring
    /// anything when the stored headers of `dest` match the remote file's.
    pub fn fetch(&self, url: &str, dest: &Path) -> Result<Fetched> {
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).map_err(BuildError::io("creating", dir))?;
        }
        match url.strip_prefix("file://") {
            Some(path) => self.fetch_file(Path::new(path), dest),
            None => self.fetch_http(url, dest),
        }
    }

    /// The freshness recorded for a cached `dest`, if it was downloaded completely.
    pub fn stored(dest: &Path) -> Option<Freshness> {
        if !dest.is_file() {
            return None;
        }
        std::fs::read_to_string(headers_path(dest))
            .ok()
            .map(|text| Freshness::parse_headers_file(&text))
    }

    fn fetch_file(&self, source: &Path, dest: &Path) -> Result<Fetched> {
        let meta = std::fs::metadata(source).map_err(|err| BuildError::Download {
            url: format!("file://{}", source.display()),
            message: err.to_string(),
        })?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs().to_string());
        let remote = Freshness {
            last_modified: modified,
            etag: None,
            content_length: Some(meta.len()),
        };
        if Self::stored(dest).is_some_and(|stored| remote.matches(&stored)) {
            return Ok(Fetched::Current);
        }
        let part = part_path(dest);
        let mut input = File::open(source).map_err(BuildError::io("reading", source))?;
        let mut output = File::create(&part).map_err(BuildError::io("writing", &part))?;
        let bytes = self.copy_body(&mut input, &mut output, &part, 0, Some(meta.len()))?;
        self.finish(&part, dest, &remote)?;
        Ok(Fetched::Downloaded { bytes })
    }

    fn fetch_http(&self, url: &str, dest: &Path) -> Result<Fetched> {
        let remote = match self.head(url) {
            Ok(remote) => remote,
            Err(Unreachable(reason, _)) if Self::stored(dest).is_some() => {
                return Ok(Fetched::Offline { reason })
            }
            Err(Unreachable(message, problem)) => {
                return Err(match (problem, host_of(url)) {
                    (Some(problem), Some(host)) => BuildError::Unreachable {
                        host,
                        url: url.to_string(),
                        problem,
                    },
                    _ => BuildError::Download {
                        url: url.to_string(),
                        message,
                    },
                })
            }
            Err(Refused(error)) => return Err(error),
        };
        if Self::stored(dest).is_some_and(|stored| remote.matches(&stored)) {
            return Ok(Fetched::Current);
        }
        let part = part_path(dest);
        let part_headers = headers_path(&part);
        // A partial download is only continued if it belongs to the same remote file.
        let resumable = remote.is_known()
            && std::fs::read_to_string(&part_headers)
                .map(|text| remote.matches(&Freshness::parse_headers_file(&text)))
                .unwrap_or(false);
        if !resumable {
            let _ = std::fs::remove_file(&part);
            crate::fsutil::write_atomic(&part_headers, remote.to_headers_file().as_bytes())?;
        }
        let mut transferred = 0;
        let mut last_error = None;
        for _ in 0..ATTEMPTS {
            self.check_cancel(url)?;
            match self.get_into(url, &part, remote.content_length) {
                Ok(bytes) => {
                    transferred += bytes;
                    last_error = None;
                    break;
                }
                Err(Interrupted {
                    bytes,
                    message,
                    retry,
                }) => {
                    transferred += bytes;
                    last_error = Some(message);
                    if !retry {
                        break;
                    }
                }
            }
        }
        if let Some(message) = last_error {
            return Err(BuildError::Download {
                url: url.to_string(),
                message: format!(
                    "{message} (the partial file {} is resumed next time)",
                    part.display()
                ),
            });
        }
        if let Some(expected) = remote.content_length {
            let got = file_len(&part);
            if got != expected {
                let _ = std::fs::remove_file(&part);
                return Err(BuildError::Download {
                    url: url.to_string(),
                    message: format!("received {got} bytes, the server announced {expected}"),
                });
            }
        }
        self.finish(&part, dest, &remote)?;
        let _ = std::fs::remove_file(&part_headers);
        Ok(Fetched::Downloaded { bytes: transferred })
    }

    /// `HEAD url`, redirects followed.
    fn head(&self, url: &str) -> std::result::Result<Freshness, HeadError> {
        let response = self
            .agent
            .head(url)
            .call()
            .map_err(|err| Unreachable(err.to_string(), network_problem(&err)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(Refused(BuildError::Download {
                url: url.to_string(),
                message: format!("the server answered {status}"),
            }));
        }
        Ok(Freshness::from_headers(
            response
                .headers()
                .iter()
                .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?))),
        ))
    }

    /// One `GET` appending to `part` (with `Range` when it already has bytes). Returns the bytes
    /// received, or how far it got before the transfer stopped.
    fn get_into(
        &self,
        url: &str,
        part: &Path,
        total: Option<u64>,
    ) -> std::result::Result<u64, Interrupted> {
        let have = file_len(part);
        if total.is_some_and(|total| have >= total) {
            return Ok(0);
        }
        let mut request = self.agent.get(url);
        if have > 0 {
            request = request.header("Range", format!("bytes={have}-"));
        }
        let response = request.call().map_err(|err| Interrupted::new(0, err))?;
        let status = response.status().as_u16();
        let append = match status {
            206 => true,
            200 => false,
            _ => {
                return Err(Interrupted {
                    retry: false,
                    ..Interrupted::new(0, format!("the server answered {}", response.status()))
                })
            }
        };
        let mut options = OpenOptions::new();
        options.create(true);
        if append {
            options.append(true);
        } else {
            options.write(true).truncate(true);
        }
        let mut output = options
            .open(part)
            .map_err(|err| Interrupted::new(0, format!("{}: {err}", part.display())))?;
        let start = if append { have } else { 0 };
        let mut reader = response.into_body().into_reader();
        self.copy_body(&mut reader, &mut output, part, start, total)
            .map_err(|err| Interrupted::new(file_len(part).saturating_sub(start), err))
    }

    /// Copies `input` to `output`, reporting the byte count (starting at `start`).
    fn copy_body(
        &self,
        input: &mut dyn Read,
        output: &mut File,
        path: &Path,
        start: u64,
        total: Option<u64>,
    ) -> Result<u64> {
        let mut meter = Meter::new(self.phase, Unit::Bytes, total);
        let mut buffer = vec![0u8; 256 * 1024];
        let mut done = start;
        loop {
            self.check_cancel(&path.display().to_string())?;
            let read = input
                .read(&mut buffer)
                .map_err(|err| BuildError::Download {
                    url: path.display().to_string(),
                    message: format!("connection lost after {done} bytes: {err}"),
                })?;
            if read == 0 {
                break;
            }
            output
                .write_all(&buffer[..read])
                .map_err(BuildError::io("writing", path))?;
            done += read as u64;
            meter.report(&self.progress, done, false);
        }
        output.sync_all().map_err(BuildError::io("writing", path))?;
        meter.report(&self.progress, done, true);
        Ok(done - start)
    }

    fn finish(&self, part: &Path, dest: &Path, remote: &Freshness) -> Result<()> {
        std::fs::rename(part, dest).map_err(BuildError::io("moving into place", dest))?;
        crate::fsutil::write_atomic(&headers_path(dest), remote.to_headers_file().as_bytes())
    }

    fn check_cancel(&self, what: &str) -> Result<()> {
        if self.cancel.is_cancelled() {
            return Err(BuildError::Cancelled {
                step: format!("download {what}"),
            });
        }
        Ok(())
    }
}

/// Why a `HEAD` request gave no answer to compare with.
enum HeadError {
    /// No answer at all (DNS, connection, timeout): a cached copy may stand in. The problem is
    /// known when the error says which.
    Unreachable(String, Option<NetworkProblem>),
    /// The server answered, but not with the file.
    Refused(BuildError),
}

use HeadError::{Refused, Unreachable};

/// Which network problem a request error is, when it is one.
fn network_problem(error: &ureq::Error) -> Option<NetworkProblem> {
    use std::io::ErrorKind;
    match error {
        ureq::Error::HostNotFound => Some(NetworkProblem::NameLookup),
        ureq::Error::ConnectionFailed => Some(NetworkProblem::Connect),
        ureq::Error::Timeout(_) => Some(NetworkProblem::Timeout),
        ureq::Error::Io(io) => {
            // The standard library reports a failed getaddrinfo as an uncategorised error.
            if io.to_string().contains("failed to lookup address") {
                return Some(NetworkProblem::NameLookup);
            }
            match io.kind() {
                ErrorKind::ConnectionRefused
                | ErrorKind::HostUnreachable
                | ErrorKind::NetworkUnreachable
                | ErrorKind::NetworkDown
                | ErrorKind::AddrNotAvailable => Some(NetworkProblem::Connect),
                ErrorKind::TimedOut => Some(NetworkProblem::Timeout),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The host name of an `http://` or `https://` URL.
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => host.split(':').next()?,
    };
    (!host.is_empty()).then(|| host.to_string())
}

/// A transfer that stopped before the end; `bytes` were received before it did.
struct Interrupted {
    bytes: u64,
    message: String,
    /// Whether trying again can help (a dropped connection, not a refusal by the server).
    retry: bool,
}

impl Interrupted {
    fn new(bytes: u64, message: impl ToString) -> Self {
        Self {
            bytes,
            message: message.to_string(),
            retry: true,
        }
    }
}

/// `<dest>.part`: where a download is written until it is complete.
pub fn part_path(dest: &Path) -> PathBuf {
    with_suffix(dest, ".part")
}

/// `<dest>.headers`: what the server said about the cached `dest`.
pub fn headers_path(dest: &Path) -> PathBuf {
    with_suffix(dest, ".headers")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::discard;

    #[test]
    fn an_unreachable_server_is_named_with_what_went_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let downloader = Downloader::new(discard(), CancelToken::new(), Phase::Lower);
        // `.invalid` never resolves (RFC 2606).
        let url = "http://mirror.genpack.invalid/releases/latest-stage3.txt";
        match downloader.fetch(url, &dir.path().join("a")) {
            Err(BuildError::Unreachable { host, problem, .. }) => {
                assert_eq!(host, "mirror.genpack.invalid");
                assert_eq!(problem, NetworkProblem::NameLookup);
            }
            other => panic!("{other:?}"),
        }
        // Nothing listens on port 1 of loopback.
        match downloader.fetch("http://127.0.0.1:1/x", &dir.path().join("b")) {
            Err(BuildError::Unreachable { host, problem, .. }) => {
                assert_eq!(host, "127.0.0.1");
                assert_eq!(problem, NetworkProblem::Connect);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(host_of("https://user@[::1]:8080/x").as_deref(), Some("::1"));
        assert_eq!(host_of("file:///x"), None);
    }

    #[test]
    fn file_urls_are_copied_once_until_they_change() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("stage3.tar.xz");
        std::fs::write(&source, b"first").unwrap();
        let dest = dir.path().join("cache/stage3.tar.xz");
        let downloader = Downloader::new(discard(), CancelToken::new(), Phase::Lower);
        let url = format!("file://{}", source.display());
        assert_eq!(
            downloader.fetch(&url, &dest).unwrap(),
            Fetched::Downloaded { bytes: 5 }
        );
        assert_eq!(downloader.fetch(&url, &dest).unwrap(), Fetched::Current);
        std::fs::write(&source, b"second!").unwrap();
        assert_eq!(
            downloader.fetch(&url, &dest).unwrap(),
            Fetched::Downloaded { bytes: 7 }
        );
        assert_eq!(std::fs::read(&dest).unwrap(), b"second!");
        assert!(!part_path(&dest).exists());
    }

    #[test]
    fn a_missing_file_url_names_the_url() {
        let dir = tempfile::tempdir().unwrap();
        let downloader = Downloader::new(discard(), CancelToken::new(), Phase::Lower);
        let err = downloader
            .fetch("file:///nonexistent/latest.txt", &dir.path().join("x"))
            .unwrap_err();
        assert!(err.to_string().contains("file:///nonexistent/latest.txt"));
    }
}
