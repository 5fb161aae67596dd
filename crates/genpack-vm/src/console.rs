//! Attaching a terminal to a VM's serial console.

use std::io::{Read, Write};
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

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
}
