//! A byte stream over a region of an open drive.

use std::io::{self, Read, Seek, SeekFrom, Write};

use crate::buffer::AlignedBuf;
use crate::device::Device;
use crate::error::FlashError;

/// A byte stream over `base..base+len` of an open drive, for code that does small unaligned
/// I/O (a FAT formatter): it goes through one aligned 1 MiB window of the `O_DIRECT` device,
/// written back when it moves and on [`Write::flush`].
pub struct DeviceStream<'a> {
    device: &'a Device,
    base: u64,
    len: u64,
    pos: u64,
    buf: AlignedBuf,
    /// Absolute device offset of the window, when loaded.
    loaded: Option<u64>,
    dirty: bool,
    /// The typed error behind the last `io::Error` handed to fatfs.
    error: Option<FlashError>,
}

const WINDOW: u64 = 1 << 20;

impl<'a> DeviceStream<'a> {
    pub(crate) fn new(device: &'a Device, base: u64, len: u64) -> DeviceStream<'a> {
        DeviceStream {
            device,
            base,
            len,
            pos: 0,
            buf: AlignedBuf::zeroed(WINDOW as usize),
            loaded: None,
            dirty: false,
            error: None,
        }
    }

    fn window_len(&self, start: u64) -> usize {
        (self.device.size - start).min(WINDOW) as usize
    }

    /// Makes the window hold absolute offset `at`; returns its index in the window.
    fn load(&mut self, at: u64) -> io::Result<usize> {
        let start = at / WINDOW * WINDOW;
        if self.loaded != Some(start) {
            self.write_back()?;
            let len = self.window_len(start);
            if let Err(e) = self.device.read_at(&mut self.buf[..len], start) {
                return Err(self.fail(e));
            }
            self.loaded = Some(start);
        }
        Ok((at - start) as usize)
    }

    fn write_back(&mut self) -> io::Result<()> {
        if let (true, Some(start)) = (self.dirty, self.loaded) {
            let len = self.window_len(start);
            if let Err(e) = self.device.write_at(&self.buf[..len], start) {
                return Err(self.fail(e));
            }
            self.dirty = false;
        }
        Ok(())
    }

    /// The typed error behind the last failed read or write, for reporting instead of the
    /// plain `io::Error` the `Read`/`Write` traits carry.
    pub fn take_error(&mut self) -> Option<FlashError> {
        self.error.take()
    }

    fn fail(&mut self, e: FlashError) -> io::Error {
        let io = io::Error::other(e.to_string());
        self.error = Some(e);
        io
    }

    fn span(&self, want: usize, index: usize) -> usize {
        let window_left = WINDOW as usize - index;
        let stream_left = (self.len - self.pos) as usize;
        want.min(window_left).min(stream_left)
    }
}

impl Read for DeviceStream<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || out.is_empty() {
            return Ok(0);
        }
        let index = self.load(self.base + self.pos)?;
        let n = self.span(out.len(), index);
        out[..n].copy_from_slice(&self.buf[index..index + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Write for DeviceStream<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.pos >= self.len {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "write past the end of the partition",
            ));
        }
        let index = self.load(self.base + self.pos)?;
        let n = self.span(data.len(), index);
        self.buf[index..index + n].copy_from_slice(&data[..n]);
        self.dirty = true;
        self.pos += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_back()
    }
}

impl Seek for DeviceStream<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
        };
        match target {
            Some(n) if n <= self.len => {
                self.pos = n;
                Ok(n)
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek outside the partition",
            )),
        }
    }
}
