//! Local Gentoo mirrors for the tests, where no Gentoo mirror is reachable:
//!
//! - [`test_gentoo_mirror`]: the real one `scripts/make-test-gentoo` writes (a stage3 made from
//!   Debian packages with Portage from PyPI, a small ebuild tree, distfiles), built once per
//!   version of the script and shared by every test binary in genpack's cache folder;
//! - [`build_download_mirror`]: a few small files laid out like a mirror (a tiny archive named
//!   like a stage3, its DIGESTS, the latest list, a snapshot), for the download tests, which
//!   never unpack or build anything;
//! - [`Server`]: a small HTTP server on 127.0.0.1 (GET with Range, HEAD) that records every
//!   request.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Timestamp folder of the stage3 of both mirrors.
pub const BUILD_STAMP: &str = "20260101T000000Z";

/// `(mirror folder, stage3 flavour)` of the architectures the download mirror serves.
pub const ARCHES: [(&str, &str); 2] = [("amd64", "amd64"), ("arm64", "arm64")];

/// Path of the stage3 under a mirror.
pub fn stage3_path(dir: &str, flavour: &str) -> String {
    format!("releases/{dir}/autobuilds/{BUILD_STAMP}/stage3-{flavour}-systemd-{BUILD_STAMP}.tar.xz")
}

/// One request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub range: Option<String>,
}

/// The HTTP side: serves `root` until dropped.
pub struct Server {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Request>>>,
    /// Paths whose next GET sends half the body and closes the connection.
    pub drop_once: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn start(root: &Path) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let drop_once = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (root, log, drops, stopping) = (
            root.to_path_buf(),
            requests.clone(),
            drop_once.clone(),
            stop.clone(),
        );
        let thread = std::thread::spawn(move || {
            // Bounded: at most 2000 connections and 20 minutes, then the server stops by itself.
            let started = Instant::now();
            let mut served = 0;
            while !stopping.load(Ordering::SeqCst)
                && served < 2000
                && started.elapsed() < Duration::from_secs(1200)
            {
                match listener.accept() {
                    Ok((stream, _)) => {
                        served += 1;
                        stream.set_nonblocking(false).unwrap();
                        let _ = handle(stream, &root, &log, &drops);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Server {
            port,
            requests,
            drop_once,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/gentoo/", self.port)
    }

    /// Requests so far, and forgets them.
    pub fn take_requests(&self) -> Vec<Request> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Joined, so the port is closed once the server is dropped.
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn handle(
    stream: TcpStream,
    root: &Path,
    log: &Mutex<Vec<Request>>,
    drops: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("range") {
                range = Some(value.trim().to_string());
            }
        }
    }
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    log.lock().unwrap().push(Request {
        method: method.clone(),
        path: path.clone(),
        range: range.clone(),
    });
    let mut out = stream;
    let relative = path.strip_prefix("/gentoo/").unwrap_or("");
    let file = root.join(relative);
    if relative.contains("..") || !file.is_file() {
        out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
        return Ok(());
    }
    let body = std::fs::read(&file)?;
    let modified = std::fs::metadata(&file)?
        .modified()?
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let etag = format!("\"{:x}-{:x}\"", body.len(), modified.as_nanos());
    let common = format!(
        "ETag: {etag}\r\nLast-Modified: @{}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n",
        modified.as_secs()
    );
    if method == "HEAD" {
        write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{common}\r\n",
            body.len()
        )?;
        return Ok(());
    }
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok());
    let drop_now = {
        let mut drops = drops.lock().unwrap();
        match drops.iter().position(|p| p == relative) {
            Some(index) => {
                drops.remove(index);
                true
            }
            None => false,
        }
    };
    match start {
        Some(start) if start < body.len() => {
            write!(
                out,
                "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{}/{}\r\n{common}\r\n",
                body.len() - start,
                body.len() - 1,
                body.len()
            )?;
            out.write_all(&body[start..])?;
        }
        _ => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{common}\r\n",
                body.len()
            )?;
            if drop_now {
                out.write_all(&body[..body.len() / 2])?;
                out.flush()?;
                return Ok(());
            }
            out.write_all(&body)?;
        }
    }
    out.flush()
}

fn write(path: &Path, contents: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

fn write_script(path: &Path, contents: &str) {
    write(path, contents);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn run(cmd: &mut Command) {
    let status = cmd.status().unwrap();
    assert!(status.success(), "{cmd:?} failed");
}

/// Writes the download mirror (a tiny archive named like a stage3, its DIGESTS and the latest
/// list per architecture, a Portage snapshot) into `mirror`, using `scratch` for the trees.
pub fn build_download_mirror(mirror: &Path, scratch: &Path) {
    for (dir, flavour) in ARCHES {
        let root = scratch.join(format!("stage3-{dir}"));
        write(&root.join("etc/os-release"), "ID=gentoo\n");
        let relative = stage3_path(dir, flavour);
        let archive = mirror.join(&relative);
        std::fs::create_dir_all(archive.parent().unwrap()).unwrap();
        run(Command::new("tar")
            .env("XZ_OPT", "-0")
            .args(["--numeric-owner", "--owner=0", "--group=0", "-cJf"])
            .arg(&archive)
            .arg("-C")
            .arg(&root)
            .arg("."));
        write_digests(&archive);
        let size = std::fs::metadata(&archive).unwrap().len();
        let latest = format!(
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n# Latest as of Thu, 01 Jan 2026 00:00:00 +0000\n# ts=1767225600\n{} {size}\n-----BEGIN PGP SIGNATURE-----\n\niHUEARYKAB0WIQ\n=abcd\n-----END PGP SIGNATURE-----\n",
            relative.split_once("autobuilds/").unwrap().1
        );
        write(
            &mirror.join(format!(
                "releases/{dir}/autobuilds/latest-stage3-{flavour}-systemd.txt"
            )),
            &latest,
        );
    }
    write_snapshot(mirror, scratch, "initial");
}

/// The local Gentoo mirror `scripts/make-test-gentoo` writes, built on first use for each
/// version of the script and kept in genpack's cache folder
/// (`~/.cache/genpack/test-gentoo-mirror/<hash of its inputs>`), so every test binary and
/// every later run share it. A lock file keeps two test binaries from building it at once.
pub fn test_gentoo_mirror() -> PathBuf {
    use sha2::Digest;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/make-test-gentoo");
    // The script and the initramfs module list it packs kernel modules for.
    let modules =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../genpack-init/src/initramfs/mod.rs");
    let mut hasher = sha2::Sha256::new();
    hasher.update(std::fs::read(&script).unwrap());
    hasher.update(std::fs::read(&modules).unwrap());
    let hash = hasher.finalize();
    let hash: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let base = genpack_build::cache_root().join("test-gentoo-mirror");
    std::fs::create_dir_all(&base).unwrap();
    let dir = base.join(&hash);
    let lock = std::fs::File::create(base.join("lock")).unwrap();
    // SAFETY: flock on a file descriptor we own; released when `lock` is closed.
    let locked = unsafe {
        use std::os::fd::AsRawFd;
        libc::flock(lock.as_raw_fd(), libc::LOCK_EX)
    };
    assert_eq!(locked, 0, "cannot lock {}", base.display());
    if !dir.join("BUILD-INFO").is_file() {
        let started = Instant::now();
        let status = Command::new(&script).arg(&dir).status().unwrap();
        assert!(status.success(), "{} failed", script.display());
        eprintln!(
            "local Gentoo mirror built in {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
    drop(lock);
    dir
}

/// (Re)writes the Portage snapshot; `marker` ends up in `metadata/timestamp.chk`.
pub fn write_snapshot(mirror: &Path, scratch: &Path, marker: &str) {
    let tree = scratch.join("snapshot/portage");
    write(&tree.join("profiles/repo_name"), "gentoo\n");
    write(&tree.join("metadata/layout.conf"), "masters =\n");
    write(&tree.join("metadata/timestamp.chk"), &format!("{marker}\n"));
    for arch in ["amd64", "arm64"] {
        write(
            &tree.join(format!("profiles/default/linux/{arch}/23.0/systemd/eapi")),
            "8\n",
        );
    }
    let archive = mirror.join("snapshots/portage-latest.tar.xz");
    std::fs::create_dir_all(archive.parent().unwrap()).unwrap();
    run(Command::new("tar")
        .env("XZ_OPT", "-0")
        .args(["--numeric-owner", "--owner=0", "--group=0", "-cJf"])
        .arg(&archive)
        .arg("-C")
        .arg(scratch.join("snapshot"))
        .arg("portage"));
}

/// Writes `<archive>.DIGESTS` with the archive's SHA512, clear-signed like the real ones.
pub fn write_digests(archive: &Path) {
    let out = Command::new("sha512sum").arg(archive).output().unwrap();
    let hash = String::from_utf8(out.stdout).unwrap();
    let hash = hash.split_whitespace().next().unwrap().to_string();
    write_digests_with(archive, &hash);
}

/// Writes `<archive>.DIGESTS` claiming `sha512` for the archive.
pub fn write_digests_with(archive: &Path, sha512: &str) {
    let name = archive.file_name().unwrap().to_string_lossy().into_owned();
    let text = format!(
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n# BLAKE2B HASH\n{}  {name}\n# SHA512 HASH\n{sha512}  {name}\n# SHA512 HASH\n{}  {name}.CONTENTS.gz\n-----BEGIN PGP SIGNATURE-----\n\niHUEARYKAB0WIQ\n=abcd\n-----END PGP SIGNATURE-----\n",
        "0".repeat(128),
        "1".repeat(128)
    );
    let mut path = archive.as_os_str().to_os_string();
    path.push(".DIGESTS");
    std::fs::write(PathBuf::from(path), text).unwrap();
}
