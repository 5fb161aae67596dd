//! Restoring a stick for everyday use: one FAT32 partition over the whole drive.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::buffer::AlignedBuf;
use crate::device::Device;
use crate::error::FlashError;
use crate::flash::{Flasher, HEAD_LEN};

/// The volume label of a restored stick.
pub const RESTORE_LABEL: &str = "USB";

/// MBR partition type: FAT32 with LBA addressing.
const FAT32_LBA: u8 = 0x0c;

/// What [`Flasher::restore`] made.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RestoreReport {
    /// Partition start in bytes (1 MiB).
    pub partition_start: u64,
    /// Partition size in bytes.
    pub partition_size: u64,
    /// FAT volume serial number (shown as `XXXX-XXXX`).
    pub volume_id: u32,
    pub label: String,
}

impl Flasher {
    /// Puts the drive back to full size for everyday use: an MBR with one FAT32 partition
    /// (type 0x0c) from 1 MiB to the end (at most 2 TiB with 512-byte sectors), formatted
    /// with label `USB` and a fresh volume serial.
    ///
    /// The old partition tables (first and last MiB) and the start of the partition are
    /// zeroed first; the MBR is written last and read back.
    pub fn restore(&mut self) -> Result<RestoreReport, FlashError> {
        let result = self.restore_inner();
        if result.is_err() {
            let zeros = AlignedBuf::zeroed(HEAD_LEN as usize);
            let _ = self.device.zero(0, HEAD_LEN.min(self.device.size), &zeros);
            let _ = self.device.sync();
        }
        result
    }

    fn restore_inner(&mut self) -> Result<RestoreReport, FlashError> {
        let device = &self.device;
        let sector = device.block;
        let start = HEAD_LEN;
        let max_sectors = u64::from(u32::MAX);
        let sectors = ((device.size.saturating_sub(start)) / sector).min(max_sectors);
        let unsupported = |why: String| FlashError::Unsupported {
            device: device.path.clone(),
            why,
        };
        if sectors * sector < 64 << 20 {
            return Err(unsupported(format!(
                "{} bytes is too small for a FAT32 stick (at least 65 MiB)",
                device.size
            )));
        }
        let size = sectors * sector;

        // Wipe: old tables at both ends, old signatures at the partition's start.
        let zeros = AlignedBuf::zeroed(HEAD_LEN as usize);
        device.zero(0, 2 * HEAD_LEN, &zeros)?;
        device.zero(device.size - HEAD_LEN, device.size, &zeros)?;

        let volume_id = fresh_volume_id();
        let mut label = [b' '; 11];
        label[..RESTORE_LABEL.len()].copy_from_slice(RESTORE_LABEL.as_bytes());
        let bytes_per_sector = u16::try_from(sector)
            .map_err(|_| unsupported(format!("{sector}-byte sectors are not supported")))?;
        let options = fatfs::FormatVolumeOptions::new()
            .fat_type(fatfs::FatType::Fat32)
            .bytes_per_sector(bytes_per_sector)
            .total_sectors(sectors as u32)
            .volume_id(volume_id)
            .volume_label(label);
        let mut window = Window::new(device, start, size);
        let formatted = fatfs::format_volume(&mut window, options).and_then(|()| window.flush());
        if let Err(source) = formatted {
            return Err(window.error.take().unwrap_or(FlashError::Format {
                device: device.path.clone(),
                source,
            }));
        }
        device.sync()?;

        // The partition table, last.
        let mut mbr = AlignedBuf::zeroed(sector as usize);
        mbr[..512].copy_from_slice(&mbr_sector(volume_id, start / sector, sectors as u32));
        device.write_at(&mbr, 0)?;
        device.sync()?;
        let mut check = AlignedBuf::zeroed(sector as usize);
        device.read_at(&mut check, 0)?;
        if check[..] != mbr[..] {
            return Err(FlashError::Mismatch {
                device: device.path.clone(),
                offset: crate::flash::first_difference(&mbr, &check).unwrap_or(0) as u64,
            });
        }
        device.reread_partitions();
        Ok(RestoreReport {
            partition_start: start,
            partition_size: size,
            volume_id,
            label: RESTORE_LABEL.to_string(),
        })
    }
}

/// A classic MBR with one primary partition; CHS fields say "use LBA".
fn mbr_sector(disk_id: u32, start_lba: u64, sectors: u32) -> [u8; 512] {
    let mut mbr = [0u8; 512];
    mbr[440..444].copy_from_slice(&disk_id.to_le_bytes());
    let entry = &mut mbr[446..462];
    entry[0] = 0x00; // not marked active: a data stick
    entry[1..4].copy_from_slice(&[0xfe, 0xff, 0xff]);
    entry[4] = FAT32_LBA;
    entry[5..8].copy_from_slice(&[0xfe, 0xff, 0xff]);
    entry[8..12].copy_from_slice(&(start_lba as u32).to_le_bytes());
    entry[12..16].copy_from_slice(&sectors.to_le_bytes());
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    mbr
}

/// A serial from the clock, as mkfs tools do, so two sticks restored apart differ.
fn fresh_volume_id() -> u32 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mixed =
        now.as_secs() ^ (u64::from(now.subsec_nanos()) << 12) ^ u64::from(std::process::id());
    (mixed as u32) ^ ((mixed >> 32) as u32)
}

/// A byte stream over `base..base+len` of an `O_DIRECT` device for fatfs, which does small
/// unaligned I/O: it goes through one aligned 1 MiB window, written back when it moves.
struct Window<'a> {
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

impl<'a> Window<'a> {
    fn new(device: &'a Device, base: u64, len: u64) -> Window<'a> {
        Window {
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

impl Read for Window<'_> {
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

impl Write for Window<'_> {
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

impl Seek for Window<'_> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mbr_has_one_lba_fat32_entry_and_a_signature() {
        let mbr = mbr_sector(0x1234_5678, 2048, 129_024);
        assert_eq!(&mbr[510..], &[0x55, 0xaa]);
        assert_eq!(mbr[446 + 4], 0x0c);
        assert_eq!(u32::from_le_bytes(mbr[454..458].try_into().unwrap()), 2048);
        assert_eq!(
            u32::from_le_bytes(mbr[458..462].try_into().unwrap()),
            129_024
        );
        assert!(mbr[462..510].iter().all(|&b| b == 0), "only one entry");
    }
}
