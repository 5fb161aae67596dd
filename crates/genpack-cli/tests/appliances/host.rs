//! The host side of the proofs: free ports, programs, SSH keys, network namespaces and a
//! small web server the appliances can reach at 10.0.2.2 (QEMU's address for the host).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// A TCP port nobody listens on at 127.0.0.1 right now.
pub fn free_tcp_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A UDP port nobody uses at `addr` right now.
pub fn free_udp_port(addr: Ipv4Addr) -> u16 {
    UdpSocket::bind((addr, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs a program; `Err` carries its exit status and output.
pub fn run(program: &str, args: &[&str]) -> Result<String, String> {
    run_with(Command::new(program).args(args), program)
}

/// Runs a prepared command; `Err` carries its exit status and output.
pub fn run_with(command: &mut Command, what: &str) -> Result<String, String> {
    let out: Output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {what}: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!(
            "{what} exited with {}: {}{}",
            out.status,
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Runs a program that must succeed and returns its output.
pub fn must(program: &str, args: &[&str]) -> String {
    run(program, args).unwrap_or_else(|e| panic!("{e}"))
}

/// A fresh ed25519 key pair in `dir`: (private key path, public key line).
pub fn ssh_key(dir: &Path, name: &str) -> (PathBuf, String) {
    let private = dir.join(name);
    must(
        "ssh-keygen",
        &[
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            &format!("{name}@proof"),
            "-f",
            private.to_str().unwrap(),
        ],
    );
    let public = std::fs::read_to_string(private.with_extension("pub")).unwrap();
    (private, public.trim().to_string())
}

/// `ssh` options for a throwaway appliance: the key, the port, no host key checks.
pub fn ssh_options(key: &Path, port: u16) -> Vec<String> {
    [
        "-i",
        key.to_str().unwrap(),
        "-p",
        &port.to_string(),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "BatchMode=yes",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Runs `remote` on the appliance over SSH as `user`.
pub fn ssh(key: &Path, port: u16, user: &str, remote: &str) -> Result<String, String> {
    let mut command = Command::new("ssh");
    command
        .args(ssh_options(key, port))
        .arg(format!("{user}@127.0.0.1"))
        .arg(remote);
    run_with(&mut command, &format!("ssh {user}@ {remote}"))
}

/// A network namespace with a veth link to the host, removed on drop.
pub struct NetNs {
    pub name: String,
    /// The host's end of the link.
    pub host_if: String,
    /// The host's address on the link.
    pub host_addr: Ipv4Addr,
}

impl NetNs {
    /// Creates namespace `name` linked to the host over 10.<a>.<b>.0/30, where a.b come from
    /// the process id so that parallel runs do not collide.
    pub fn with_link(tag: &str) -> NetNs {
        let pid = std::process::id();
        let name = format!("gp{tag}{pid}");
        let host_if = format!("gh{tag}{}", pid % 100_000);
        let ns_if = format!("gn{tag}{}", pid % 100_000);
        let (a, b) = (200 + (pid % 50) as u8, ((pid / 50) % 63 * 4) as u8);
        let host_addr = Ipv4Addr::new(10, a, b, 1);
        let ns_addr = Ipv4Addr::new(10, a, b, 2);
        let _ = run("ip", &["netns", "del", &name]);
        must("ip", &["netns", "add", &name]);
        let ns = NetNs {
            name: name.clone(),
            host_if: host_if.clone(),
            host_addr,
        };
        must(
            "ip",
            &[
                "link", "add", &host_if, "type", "veth", "peer", "name", &ns_if, "netns", &name,
            ],
        );
        must(
            "ip",
            &["addr", "add", &format!("{host_addr}/30"), "dev", &host_if],
        );
        must("ip", &["link", "set", &host_if, "up"]);
        ns.exec_ok(&["ip", "addr", "add", &format!("{ns_addr}/30"), "dev", &ns_if]);
        ns.exec_ok(&["ip", "link", "set", &ns_if, "up"]);
        ns.exec_ok(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    /// An empty namespace (only loopback), for a device moved into it.
    pub fn empty(tag: &str) -> NetNs {
        let name = format!("gp{tag}{}", std::process::id());
        let _ = run("ip", &["netns", "del", &name]);
        must("ip", &["netns", "add", &name]);
        let ns = NetNs {
            name,
            host_if: String::new(),
            host_addr: Ipv4Addr::UNSPECIFIED,
        };
        ns.exec_ok(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    /// Runs a command inside the namespace.
    pub fn exec(&self, argv: &[&str]) -> Result<String, String> {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).args(argv);
        run_with(&mut command, &argv.join(" "))
    }

    /// Runs a command inside the namespace that must succeed.
    pub fn exec_ok(&self, argv: &[&str]) -> String {
        self.exec(argv)
            .unwrap_or_else(|e| panic!("in {}: {e}", self.name))
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // Processes left in the namespace (wireguard-go) end with their interfaces.
        if let Ok(pids) = run("ip", &["netns", "pids", &self.name]) {
            for pid in pids.split_whitespace() {
                let _ = run("kill", &[pid]);
            }
        }
        if !self.host_if.is_empty() {
            let _ = run("ip", &["link", "del", &self.host_if]);
        }
        let _ = run("ip", &["netns", "del", &self.name]);
    }
}

/// A web server on 127.0.0.1 (reachable from a QEMU guest as 10.0.2.2) that answers every
/// request with one page and remembers the request lines it saw. Stops when dropped.
pub struct PageServer {
    pub port: u16,
    requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    available: Arc<AtomicBool>,
}

impl PageServer {
    /// Serves `body` as `content_type`.
    pub fn start(body: Vec<u8>, content_type: &'static str) -> PageServer {
        let server = PageServer::start_unavailable(body, content_type);
        server.open();
        server
    }

    /// Answers "503 Service Unavailable", as a web application still starting does, until
    /// [`PageServer::open`]; then serves `body` as `content_type`.
    pub fn start_unavailable(body: Vec<u8>, content_type: &'static str) -> PageServer {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let available = Arc::new(AtomicBool::new(false));
        let (seen, stopped, open) = (requests.clone(), stop.clone(), available.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                if reader.read_line(&mut first).is_err() {
                    continue;
                }
                // Read the headers so the client sees a clean answer.
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                seen.lock().unwrap().push(first.trim().to_string());
                let (status, content_type, body) = if open.load(Ordering::Relaxed) {
                    ("200 OK", content_type, &body[..])
                } else {
                    ("503 Service Unavailable", "text/plain", &b"starting\n"[..])
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body);
                let _ = stream.flush();
                let mut rest = Vec::new();
                let _ = reader.read_to_end(&mut rest);
            }
        });
        PageServer {
            port,
            requests,
            stop,
            available,
        }
    }

    /// Serves the page from now on.
    pub fn open(&self) {
        self.available.store(true, Ordering::Relaxed);
    }

    /// The request lines seen so far, e.g. `GET / HTTP/1.1`.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A network camera on 127.0.0.1 (10.0.2.2 for a QEMU guest): every client gets an endless
/// MJPEG stream (`multipart/x-mixed-replace`) that cycles through `frames`, five a second.
/// Stops when dropped.
pub struct MjpegCamera {
    pub port: u16,
    clients: Arc<Mutex<usize>>,
    stop: Arc<AtomicBool>,
}

impl MjpegCamera {
    /// Serves `frames` (JPEG files' bytes) one after another, round and round.
    pub fn start(frames: Vec<Vec<u8>>) -> MjpegCamera {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let clients = Arc::new(Mutex::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let frames = Arc::new(frames);
        let (count, stopped) = (clients.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    continue;
                };
                *count.lock().unwrap() += 1;
                let (frames, stopped) = (frames.clone(), stopped.clone());
                std::thread::spawn(move || {
                    let _ = stream.set_nonblocking(false);
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                        line.clear();
                    }
                    let head = "HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\nCache-Control: no-cache\r\n\r\n";
                    if stream.write_all(head.as_bytes()).is_err() {
                        return;
                    }
                    for frame in frames.iter().cycle() {
                        if stopped.load(Ordering::Relaxed) {
                            return;
                        }
                        let part = format!(
                            "--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
                            frame.len()
                        );
                        if stream.write_all(part.as_bytes()).is_err()
                            || stream.write_all(frame).is_err()
                            || stream.write_all(b"\r\n").is_err()
                        {
                            return;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(200));
                    }
                });
            }
        });
        MjpegCamera {
            port,
            clients,
            stop,
        }
    }

    /// How many clients have connected.
    pub fn clients(&self) -> usize {
        *self.clients.lock().unwrap()
    }
}

impl Drop for MjpegCamera {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
