//! A binhost: the binary package cache of one architecture served read-only over HTTP, so
//! other builders take its packages instead of compiling them (`genpack binhost serve`, and
//! `--binhost URL` on the builders).
//!
//! Only files below the folder are served (`GET` and `HEAD`, with `Range` for resumed
//! downloads); paths with `..` and folders answer 404. Portage reads the `Packages` index first,
//! then the binary packages it names, so the folder must hold the index Portage writes next to
//! the packages.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{BuildError, Result};

/// How long a connection may stay silent before it is closed.
const IDLE: Duration = Duration::from_secs(60);

/// A running binhost. Stops when dropped (or on [`BinhostServer::stop`]).
pub struct BinhostServer {
    addr: SocketAddr,
    root: PathBuf,
    stop: Arc<AtomicBool>,
    served: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BinhostServer {
    /// Serves `dir` (a binary package cache with its `Packages` index) on `addr`
    /// (`127.0.0.1:0` picks a free port).
    pub fn start(dir: &Path, addr: SocketAddr) -> Result<BinhostServer> {
        let index = dir.join("Packages");
        if !index.is_file() {
            return Err(BuildError::Missing {
                what: format!("a binary package index ({})", index.display()),
                hint: "serve the binpkgs folder of a Gentoo build cache (~/.cache/genpack/gentoo/<arch>/binpkgs) after at least one build".into(),
            });
        }
        let listener =
            TcpListener::bind(addr).map_err(BuildError::io("listening on", addr.to_string()))?;
        let addr = listener
            .local_addr()
            .map_err(BuildError::io("listening on", addr.to_string()))?;
        listener
            .set_nonblocking(true)
            .map_err(BuildError::io("listening on", addr.to_string()))?;
        let root = dir.to_path_buf();
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicU64::new(0));
        let (thread_root, thread_stop, thread_served) =
            (root.clone(), stop.clone(), served.clone());
        let thread = std::thread::spawn(move || {
            while !thread_stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let root = thread_root.clone();
                        let served = thread_served.clone();
                        std::thread::spawn(move || {
                            if handle(stream, &root).is_ok() {
                                served.fetch_add(1, Ordering::SeqCst);
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Ok(BinhostServer {
            addr,
            root,
            stop,
            served,
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL builders put in `--binhost` (for a wildcard address, the loopback one).
    pub fn url(&self) -> String {
        let host = match self.addr {
            SocketAddr::V4(v4) if v4.ip().is_unspecified() => "127.0.0.1".to_string(),
            SocketAddr::V4(v4) => v4.ip().to_string(),
            SocketAddr::V6(v6) if v6.ip().is_unspecified() => "[::1]".to_string(),
            SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
        };
        format!("http://{host}:{}/", self.addr.port())
    }

    /// The folder being served.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Requests answered so far.
    pub fn requests_served(&self) -> u64 {
        self.served.load(Ordering::SeqCst)
    }

    /// Stops accepting connections and waits for the listener to close.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for BinhostServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The file below `root` that a request path names, or `None` (outside, hidden, a folder).
fn resolve(root: &Path, request_path: &str) -> Option<PathBuf> {
    let path = request_path.split(['?', '#']).next()?;
    let decoded = percent_decode(path)?;
    let mut file = root.to_path_buf();
    for component in Path::new(decoded.trim_start_matches('/')).components() {
        match component {
            Component::Normal(part) => file.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    file.is_file().then_some(file)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn handle(stream: TcpStream, root: &Path) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IDLE))?;
    stream.set_write_timeout(Some(IDLE))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    loop {
        let mut first = String::new();
        if reader.read_line(&mut first)? == 0 {
            return Ok(());
        }
        let mut range_start = None;
        let mut close = false;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("range") {
                    range_start = value
                        .strip_prefix("bytes=")
                        .and_then(|r| r.strip_suffix('-'))
                        .and_then(|n| n.parse::<u64>().ok());
                } else if name.eq_ignore_ascii_case("connection") {
                    close = value.eq_ignore_ascii_case("close");
                }
            }
        }
        let mut parts = first.split_whitespace();
        let method = parts.next().unwrap_or("");
        let path = parts.next().unwrap_or("");
        close |= parts.next() == Some("HTTP/1.0");
        if method != "GET" && method != "HEAD" {
            out.write_all(
                b"HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Length: 0\r\n\r\n",
            )?;
        } else if let Some(file) = resolve(root, path) {
            send_file(&mut out, &file, method == "HEAD", range_start)?;
        } else {
            out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")?;
        }
        out.flush()?;
        if close {
            return Ok(());
        }
    }
}

fn send_file(
    out: &mut TcpStream,
    file: &Path,
    head: bool,
    start: Option<u64>,
) -> std::io::Result<()> {
    let mut handle = std::fs::File::open(file)?;
    let meta = handle.metadata()?;
    let size = meta.len();
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let common = format!(
        "Accept-Ranges: bytes\r\nETag: \"{size:x}-{modified:x}\"\r\nContent-Type: application/octet-stream\r\n"
    );
    let (status, offset) = match start {
        Some(start) if start < size => ("206 Partial Content", start),
        _ => ("200 OK", 0),
    };
    write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{common}",
        size - offset
    )?;
    if offset > 0 {
        write!(out, "Content-Range: bytes {offset}-{}/{size}\r\n", size - 1)?;
    }
    out.write_all(b"\r\n")?;
    if head {
        return Ok(());
    }
    handle.seek(SeekFrom::Start(offset))?;
    std::io::copy(&mut handle.take(size - offset), out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(addr: SocketAddr, request: &str) -> String {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    }

    #[test]
    fn serves_files_below_the_folder_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("binpkgs");
        std::fs::create_dir_all(cache.join("app-misc/hello")).unwrap();
        std::fs::write(cache.join("Packages"), "PACKAGES: 1\n").unwrap();
        std::fs::write(
            cache.join("app-misc/hello/hello-1.0-1.gpkg.tar"),
            "0123456789",
        )
        .unwrap();
        std::fs::write(dir.path().join("secret"), "no").unwrap();
        let server = BinhostServer::start(&cache, "127.0.0.1:0".parse().unwrap()).unwrap();
        assert!(server.url().starts_with("http://127.0.0.1:"));
        let addr = server.local_addr();

        let index = get(addr, "GET /Packages HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(index.starts_with("HTTP/1.1 200 OK"), "{index}");
        assert!(index.ends_with("PACKAGES: 1\n"), "{index}");
        let resumed = get(
            addr,
            "GET /app-misc/hello/hello-1.0-1.gpkg.tar HTTP/1.1\r\nRange: bytes=6-\r\nConnection: close\r\n\r\n",
        );
        assert!(resumed.starts_with("HTTP/1.1 206"), "{resumed}");
        assert!(resumed.contains("Content-Range: bytes 6-9/10"), "{resumed}");
        assert!(resumed.ends_with("6789"), "{resumed}");
        let head = get(addr, "HEAD /Packages HTTP/1.0\r\n\r\n");
        assert!(head.contains("Content-Length: 12"), "{head}");
        assert!(head.ends_with("\r\n\r\n"), "{head}");
        for outside in ["/../secret", "/%2e%2e/secret", "/app-misc", "/missing"] {
            let response = get(
                addr,
                &format!("GET {outside} HTTP/1.1\r\nConnection: close\r\n\r\n"),
            );
            assert!(
                response.starts_with("HTTP/1.1 404"),
                "{outside}: {response}"
            );
        }
        server.stop();
    }

    #[test]
    fn a_folder_without_an_index_is_refused_with_a_hint() {
        let dir = tempfile::tempdir().unwrap();
        let err = match BinhostServer::start(dir.path(), "127.0.0.1:0".parse().unwrap()) {
            Err(err) => err.to_string(),
            Ok(_) => panic!("served a folder without Packages"),
        };
        assert!(err.contains("Packages"), "{err}");
        assert!(err.contains("binpkgs"), "{err}");
    }
}
