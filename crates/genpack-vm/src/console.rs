//! The serial console of a VM: attaching a terminal ([`attach`]), following what the guest
//! printed ([`ConsoleLog`]) and typing into it from a program ([`ConsoleInput`]).
//!
//! QEMU writes every byte of the console to `console.log` and serves the console on
//! `console.sock`, one client at a time. A viewer reads the output from the log, which has no
//! gaps and no duplicates however often it reconnects, and types through the socket.

use std::io::{Read, Seek, SeekFrom, Write};
use std::net::Shutdown;
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::error::{Result, VmError};
use crate::runtime::RuntimeDir;

/// The byte that detaches from the console: Ctrl-] (0x1d), as telnet and virsh use.
pub const DETACH_KEY: u8 = 0x1d;

/// Why [`attach`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleEnd {
    /// The user pressed Ctrl-].
    Detached,
    /// The VM closed the console (it stopped).
    Closed,
    /// The input reached end of file.
    InputClosed,
}

/// Relays the terminal (stdin/stdout) to the serial console of VM `name` until Ctrl-], the VM
/// stops, or stdin closes. A terminal is switched to raw mode and restored afterwards.
///
/// Blocking; the serial console takes one client at a time.
pub fn attach(name: &str) -> Result<ConsoleEnd> {
    let runtime = RuntimeDir::for_name(name)?;
    if runtime.live_pid().is_none() {
        return Err(VmError::NotRunning { name: name.into() });
    }
    let stdin = std::io::stdin();
    let _raw = RawMode::enable(stdin.as_raw_fd());
    attach_fds(
        &runtime.console_socket(),
        stdin.as_raw_fd(),
        &mut std::io::stdout(),
    )
}

/// Relays bytes from `input` to the console socket and from the socket to `output`.
pub fn attach_fds(socket: &Path, input: RawFd, output: &mut impl Write) -> Result<ConsoleEnd> {
    let mut stream =
        UnixStream::connect(socket).map_err(|e| VmError::io("cannot connect to", socket, e))?;
    let io_err = |e: std::io::Error| VmError::io("console relay on", socket, e);
    let mut buf = [0u8; 4096];
    loop {
        let mut fds = [
            libc::pollfd {
                fd: input,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: stream.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: `fds` is a valid array of two pollfd for the duration of the call.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(io_err(err));
        }
        if fds[1].revents != 0 {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return Ok(ConsoleEnd::Closed),
                Ok(n) => {
                    output.write_all(&buf[..n]).map_err(io_err)?;
                    output.flush().map_err(io_err)?;
                }
            }
        }
        if fds[0].revents != 0 {
            // SAFETY: `buf` is valid for writes of its length.
            let n = unsafe { libc::read(input, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                return Ok(ConsoleEnd::InputClosed);
            }
            let data = &buf[..n as usize];
            if let Some(pos) = data.iter().position(|&b| b == DETACH_KEY) {
                stream.write_all(&data[..pos]).map_err(io_err)?;
                return Ok(ConsoleEnd::Detached);
            }
            stream.write_all(data).map_err(io_err)?;
        }
    }
}

/// Follows a console log as it grows, as text.
///
/// Each [`read_new`](ConsoleLog::read_new) returns what was appended since the previous call; a
/// UTF-8 character cut in half by a read is held back until its other half arrives.
#[derive(Debug)]
pub struct ConsoleLog {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl ConsoleLog {
    /// Follows the console log of VM `name`, starting with its last `history` bytes.
    pub fn for_vm(name: &str, history: u64) -> Result<ConsoleLog> {
        let runtime = RuntimeDir::for_name(name)?;
        Ok(ConsoleLog::open(&runtime.console_log(), history))
    }

    /// Follows `path`, starting with its last `history` bytes (a missing file starts empty).
    pub fn open(path: &Path, history: u64) -> ConsoleLog {
        let length = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        ConsoleLog {
            path: path.to_path_buf(),
            offset: length.saturating_sub(history),
            partial: Vec::new(),
        }
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the guest printed since the last call (empty when nothing new). Bytes that are not
    /// UTF-8 read as U+FFFD. A missing file reads as empty: the VM has not started or is gone.
    pub fn read_new(&mut self) -> Result<String> {
        let mut file = match std::fs::File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
            Err(e) => return Err(VmError::io("cannot read", &self.path, e)),
        };
        let io_err = |e| VmError::io("cannot read", &self.path, e);
        let length = file.metadata().map_err(io_err)?.len();
        if length < self.offset {
            // A new log (the VM was started again): read it from its start.
            self.offset = 0;
            self.partial.clear();
        }
        file.seek(SeekFrom::Start(self.offset)).map_err(io_err)?;
        let mut bytes = std::mem::take(&mut self.partial);
        let read = file.read_to_end(&mut bytes).map_err(io_err)?;
        self.offset += read as u64;
        let complete = complete_utf8_prefix(&bytes);
        self.partial = bytes.split_off(complete);
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// The length of `bytes` without a UTF-8 sequence cut short at its end.
fn complete_utf8_prefix(bytes: &[u8]) -> usize {
    // A sequence is at most 4 bytes: look at the last 3 for a lead byte still missing bytes.
    for back in 1..=bytes.len().min(3) {
        let byte = bytes[bytes.len() - back];
        if byte & 0b1100_0000 == 0b1000_0000 {
            continue; // a continuation byte: keep looking for its lead
        }
        let needed = match byte {
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => 1,
        };
        return if needed > back {
            bytes.len() - back
        } else {
            bytes.len()
        };
    }
    bytes.len()
}

/// A connection that types into a VM's serial console.
///
/// The console takes one client at a time, so a program keeps one connection for all its
/// input. What QEMU sends back on it is read and dropped (the output is in the console log),
/// so the guest never waits for this client. Dropping it disconnects.
#[derive(Debug)]
pub struct ConsoleInput {
    stream: UnixStream,
    socket: PathBuf,
}

impl ConsoleInput {
    /// Connects to the serial console of the running VM `name`.
    pub fn connect(name: &str) -> Result<ConsoleInput> {
        let runtime = RuntimeDir::for_name(name)?;
        if runtime.live_pid().is_none() {
            return Err(VmError::NotRunning { name: name.into() });
        }
        ConsoleInput::connect_socket(&runtime.console_socket())
    }

    /// Connects to a console socket.
    pub fn connect_socket(socket: &Path) -> Result<ConsoleInput> {
        let stream =
            UnixStream::connect(socket).map_err(|e| VmError::io("cannot connect to", socket, e))?;
        stream
            .set_write_timeout(Some(std::time::Duration::from_secs(5)))
            .map_err(|e| VmError::io("cannot configure", socket, e))?;
        let mut drain = stream
            .try_clone()
            .map_err(|e| VmError::io("cannot share the connection to", socket, e))?;
        std::thread::Builder::new()
            .name("console-drain".into())
            .spawn(move || {
                let mut buf = [0u8; 4096];
                while matches!(drain.read(&mut buf), Ok(n) if n > 0) {}
            })
            .map_err(|e| VmError::io("cannot start a thread for", socket, e))?;
        Ok(ConsoleInput {
            stream,
            socket: socket.to_path_buf(),
        })
    }

    /// Types `bytes` on the console.
    pub fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush())
            .map_err(|e| VmError::io("cannot write to", &self.socket, e))
    }
}

impl Drop for ConsoleInput {
    fn drop(&mut self) {
        // Ends the drain thread's read too.
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// Puts a terminal in raw mode until dropped; does nothing for non-terminals.
struct RawMode {
    fd: RawFd,
    saved: Option<libc::termios>,
}

impl RawMode {
    fn enable(fd: RawFd) -> RawMode {
        // SAFETY: termios is plain data; tcgetattr fills it or fails.
        let mut term: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: fd is an open descriptor and `term` is a valid termios.
        let saved = if unsafe { libc::isatty(fd) == 1 && libc::tcgetattr(fd, &mut term) == 0 } {
            let original = term;
            // SAFETY: `term` is a valid termios obtained above.
            unsafe {
                libc::cfmakeraw(&mut term);
                libc::tcsetattr(fd, libc::TCSANOW, &term);
            }
            Some(original)
        } else {
            None
        };
        RawMode { fd, saved }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            // SAFETY: restores the settings read in `enable` on the same descriptor.
            unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, saved) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn relays_both_ways_and_detaches_on_ctrl_bracket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let guest = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            // The relay may already be gone when the greeting arrives.
            let _ = conn.write_all(b"login: ");
            let mut got = Vec::new();
            let mut buf = [0u8; 64];
            while !got.ends_with(b"root\n") {
                let n = conn.read(&mut buf).unwrap();
                assert!(n > 0, "console closed early");
                got.extend_from_slice(&buf[..n]);
            }
            got
        });
        let (mut typist, input) = UnixStream::pair().unwrap();
        typist.write_all(b"root\n\x1dignored").unwrap();
        let mut output = Vec::new();
        let end = attach_fds(&path, input.as_raw_fd(), &mut output).unwrap();
        assert_eq!(end, ConsoleEnd::Detached);
        assert_eq!(guest.join().unwrap(), b"root\n");
    }

    #[test]
    fn the_log_is_followed_from_its_recent_history_without_splitting_characters() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.log");
        let mut log = ConsoleLog::open(&path, 1024);
        assert_eq!(log.read_new().unwrap(), "", "no log yet");

        std::fs::write(&path, "old boot noise\nWelcome\n").unwrap();
        let mut log = ConsoleLog::open(&path, 8);
        assert_eq!(log.read_new().unwrap(), "Welcome\n");
        assert_eq!(log.read_new().unwrap(), "", "nothing new");

        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        // "é" is two bytes: the first arrives alone.
        file.write_all(b"caf\xc3").unwrap();
        assert_eq!(log.read_new().unwrap(), "caf");
        file.write_all(b"\xa9 login: ").unwrap();
        assert_eq!(log.read_new().unwrap(), "\u{e9} login: ");

        // A VM started again writes a new, shorter log: it is read from the start.
        std::fs::write(&path, "boot\n").unwrap();
        assert_eq!(log.read_new().unwrap(), "boot\n");
    }

    #[test]
    fn complete_prefix_keeps_whole_characters_only() {
        assert_eq!(complete_utf8_prefix(b"abc"), 3);
        assert_eq!(complete_utf8_prefix("€".as_bytes()), 3);
        assert_eq!(complete_utf8_prefix(&"€".as_bytes()[..2]), 0);
        assert_eq!(complete_utf8_prefix(b"a\xf0\x9f\x98"), 1);
        assert_eq!(
            complete_utf8_prefix(b"\xff"),
            1,
            "invalid bytes are passed on"
        );
    }

    #[test]
    fn input_reaches_the_console_while_its_echo_is_drained() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let typed = b"root\nuname -r\n";
        let guest = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            // More echo than a socket buffer holds: it only gets through if the client reads.
            // (The timeout turns a client that does not read into a failure, not a hang.)
            conn.set_write_timeout(Some(std::time::Duration::from_secs(60)))
                .unwrap();
            conn.write_all(&vec![b'x'; 1 << 20])
                .expect("the client drains the console output");
            let mut got = vec![0u8; typed.len()];
            conn.read_exact(&mut got).unwrap();
            got
        });
        let mut input = ConsoleInput::connect_socket(&path).unwrap();
        input.send(b"root\n").unwrap();
        input.send(b"uname -r\n").unwrap();
        assert_eq!(guest.join().unwrap(), typed);
    }
}
