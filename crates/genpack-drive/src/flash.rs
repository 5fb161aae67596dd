//! Writing an image to drives the user confirmed, partition table last.
//!
//! Order of a write ([`Flasher::write_image`], or [`write_to_all`] for several drives at once):
//!
//! 1. **Preparing**: zero the drive's first and last MiB (and where the image's backup GPT
//!    goes), so the old partition table (MBR, primary and backup GPT) is gone before
//!    anything else changes.
//! 2. **Writing**: everything but the image's first MiB and, for a GPT image, its backup
//!    GPT. A helper thread reads the image once (decompressing it if needed) and
//!    fingerprints each 4 MiB block (XXH3-128); every drive's own thread writes the block
//!    with `O_DIRECT`.
//! 3. `fsync`, then **Verifying**: each drive reads its blocks back uncached and compares
//!    their fingerprints with those taken while writing.
//! 4. **Finishing**: write the backup GPT and the first MiB (MBR / protective MBR, primary
//!    GPT, boot loader gap), `fsync`, read them back and compare.
//!
//! Until step 4 succeeds a drive's first MiB is zero: a cancelled, failed or mismatching
//! write leaves a drive with no partition table and no filesystem signature at its start,
//! never a half-written stick that looks bootable. Any error after step 1 zeroes the first
//! MiB again before returning. With several drives, one that fails stops alone; the others
//! go on. If the image itself cannot be read (a damaged compressed file), every drive stops
//! before step 4.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::buffer::AlignedBuf;
use crate::device::{Access, Device, OpenMethod};
use crate::drives::{self, Drive};
use crate::error::FlashError;
pub use crate::fanout::write_to_all;
use crate::image::Image;
use crate::progress::ProgressSink;
use crate::stream::DeviceStream;

/// The region written last: MBR, GPT header and entries, and GRUB's core image gap.
pub const HEAD_LEN: u64 = 1 << 20;

/// Transfer size of every read and write.
pub(crate) const BLOCK_LEN: usize = 4 << 20;

/// What the user confirmed: this drive, at this path, of this size.
///
/// Build it from the [`Drive`] the user picked ([`Confirmation::for_drive`]), at the moment
/// they confirm. [`Flasher::open`] refuses when the drive at that path is no longer the same
/// (other size, model, serial, or a re-plugged medium) or is no longer offerable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    path: PathBuf,
    size: u64,
    model: Option<String>,
    serial: Option<String>,
    diskseq: Option<u64>,
    allow_fixed: bool,
}

impl Confirmation {
    /// The user confirmed `drive` as shown to them. An internal (non-removable) drive is
    /// only shown when the user asked for all drives, so confirming one allows fixed drives.
    pub fn for_drive(drive: &Drive) -> Confirmation {
        Confirmation {
            path: drive.path.clone(),
            size: drive.size,
            model: drive.model.clone(),
            serial: drive.serial.clone(),
            diskseq: drive.diskseq,
            allow_fixed: !drive.removable,
        }
    }

    /// A confirmation typed by the user (path and size in bytes), as a script passes it.
    /// Only the size is checked for identity; fixed drives are allowed when `allow_fixed`.
    pub fn new(path: impl Into<PathBuf>, size: u64, allow_fixed: bool) -> Confirmation {
        Confirmation {
            path: path.into(),
            size,
            model: None,
            serial: None,
            diskseq: None,
            allow_fixed,
        }
    }

    /// Also require the medium the user saw: the kernel's sequence number of the medium at
    /// this path, which changes when another stick is plugged in there.
    pub fn with_medium(mut self, diskseq: Option<u64>) -> Confirmation {
        self.diskseq = diskseq;
        self
    }

    /// Also require the drive's model and serial number as the user saw them.
    pub fn with_identity(mut self, model: Option<String>, serial: Option<String>) -> Confirmation {
        self.model = model;
        self.serial = serial;
        self
    }

    /// The confirmed device node.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The confirmed size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    fn check(&self, device: &Path, now: &Drive) -> Result<(), FlashError> {
        let mismatch = |what, confirmed: String, now: String| {
            Err(FlashError::ConfirmationMismatch {
                device: device.to_path_buf(),
                what,
                confirmed,
                now,
            })
        };
        if !same_path(device, &self.path) {
            return mismatch(
                "path",
                self.path.display().to_string(),
                device.display().to_string(),
            );
        }
        if now.size != self.size {
            return mismatch("size", self.size.to_string(), now.size.to_string());
        }
        if let (Some(then), Some(seq)) = (self.diskseq, now.diskseq) {
            if then != seq {
                return mismatch("medium", format!("#{then}"), format!("#{seq}"));
            }
        }
        if self.model.is_some() && self.model != now.model {
            return mismatch("model", show(&self.model), show(&now.model));
        }
        if self.serial.is_some() && self.serial != now.serial {
            return mismatch("serial number", show(&self.serial), show(&now.serial));
        }
        if let Some(reason) = now.refusal(self.allow_fixed) {
            return Err(FlashError::Refused {
                device: device.to_path_buf(),
                reason,
            });
        }
        Ok(())
    }
}

fn show(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "(none)".into())
}

fn same_path(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// Receives each drive's outcome as soon as that drive is done (the others may still be
/// writing); called from the drive's own thread, one call at a time.
pub type FinishedSink = Box<dyn FnMut(&Path, Result<&WriteReport, &FlashError>) + Send>;

/// Cancel flag and progress sinks of a long operation.
#[derive(Default)]
pub struct FlashOptions {
    /// Set to `true` (from any thread) to stop at the next 4 MiB block.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Receives [`crate::Progress`] events: for each drive, each phase's start, then one per
    /// block done.
    pub progress: Option<ProgressSink>,
    /// Receives each drive's outcome when it is done.
    pub finished: Option<FinishedSink>,
}

impl FlashOptions {
    pub(crate) fn cancelled(&self) -> bool {
        self.cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }
}

/// What a successful write did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WriteReport {
    pub device: PathBuf,
    /// Image length in bytes (decompressed).
    pub image_len: u64,
    /// Bytes written to the drive: the image (rounded up to a sector) plus the wiped first
    /// and last MiB (and backup GPT place, rounded out to 4 KiB). Never the whole drive.
    pub bytes_written: u64,
    /// Bytes read back and compared.
    pub bytes_verified: u64,
    pub write_time: Duration,
    pub verify_time: Duration,
}

/// An exclusively opened, confirmed drive.
pub struct Flasher {
    pub(crate) device: Device,
    pub(crate) drive: Drive,
}

impl Flasher {
    /// Opens the confirmed drive for writing (root: `O_DIRECT | O_EXCL`; otherwise UDisks2).
    ///
    /// Refuses, naming the device, when `device` is not the confirmed path, the drive changed
    /// since confirmation ([`FlashError::ConfirmationMismatch`]), it is not offerable
    /// ([`FlashError::Refused`]) or something holds it ([`FlashError::Busy`]).
    pub fn open(
        device: impl AsRef<Path>,
        confirmation: Confirmation,
    ) -> Result<Flasher, FlashError> {
        Self::open_with(device, confirmation, OpenMethod::Auto)
    }

    /// [`Flasher::open`] with an explicit way to reach the device.
    pub fn open_with(
        device: impl AsRef<Path>,
        confirmation: Confirmation,
        method: OpenMethod,
    ) -> Result<Flasher, FlashError> {
        let path = device.as_ref();
        let drive = drives::probe(path)?;
        confirmation.check(path, &drive)?;
        let device = Device::open(
            &drive.path,
            Access::ReadWrite,
            method,
            drive.size,
            drive.logical_sector_size,
        )?;
        // Holding the device exclusively now, so nothing can mount it any more; re-check
        // what happened between the probe and the open.
        let drive = drives::probe(path)?;
        confirmation.check(path, &drive)?;
        Ok(Flasher { device, drive })
    }

    /// The drive as it was when opened.
    pub fn drive(&self) -> &Drive {
        &self.drive
    }

    /// Writes `image` to the start of the drive and verifies it; see the module docs for the
    /// order. Only the image's length is written (plus the wiped first and last MiB), not
    /// the whole drive. [`write_to_all`] writes several drives at once.
    ///
    /// On [`FlashError::Cancelled`], [`FlashError::Mismatch`] and any I/O error the drive is
    /// left without a partition table (its first MiB is zero).
    pub fn write_image(
        &mut self,
        image: &Image,
        options: FlashOptions,
    ) -> Result<WriteReport, FlashError> {
        let mut results = write_to_all(image, std::slice::from_ref(self), options);
        match results.pop() {
            // Alone on its drive, the image's own error is the one to report.
            Some(Err(FlashError::SourceFailed { device, source })) => Err(Arc::try_unwrap(source)
                .unwrap_or_else(|source| FlashError::SourceFailed { device, source })),
            Some(result) => result,
            None => Err(FlashError::Unsupported {
                device: self.device.path.clone(),
                why: "no drive was written".into(),
            }),
        }
    }

    /// Zeroes the first MiB and flushes: the drive shows no partition table.
    pub fn scrub_head(&self) -> Result<(), FlashError> {
        self.zero(0, HEAD_LEN.min(self.device.size))?;
        self.device.sync()
    }

    /// Size of the drive in bytes.
    pub fn size(&self) -> u64 {
        self.device.size
    }

    /// The drive's logical sector size: offsets and lengths of [`Flasher::zero`] and
    /// [`Flasher::write_verified`] are multiples of it.
    pub fn sector_size(&self) -> u64 {
        self.device.block
    }

    /// Writes zeros over `start..end` (sector-aligned); returns the bytes written.
    pub fn zero(&self, start: u64, end: u64) -> Result<u64, FlashError> {
        let zeros = AlignedBuf::zeroed(HEAD_LEN as usize);
        self.device.zero(start, end.min(self.device.size), &zeros)
    }

    /// A byte stream over `offset..offset + len` of the drive, for writers that do small
    /// unaligned I/O (formatting a file system). Flush it before [`Flasher::sync`].
    pub fn stream(&self, offset: u64, len: u64) -> DeviceStream<'_> {
        DeviceStream::new(&self.device, offset, len)
    }

    /// Flushes the drive's write cache.
    pub fn sync(&self) -> Result<(), FlashError> {
        self.device.sync()
    }

    /// Writes `bytes` (a whole number of sectors) at `offset`, flushes, reads them back
    /// uncached and compares: how a partition table is written, last.
    pub fn write_verified(&self, bytes: &[u8], offset: u64) -> Result<(), FlashError> {
        let mut aligned = AlignedBuf::zeroed(bytes.len().max(1));
        aligned[..bytes.len()].copy_from_slice(bytes);
        self.device.write_at(&aligned[..bytes.len()], offset)?;
        self.device.sync()?;
        let mut check = AlignedBuf::zeroed(bytes.len().max(1));
        check_region(&self.device, &aligned[..bytes.len()], offset, &mut check)
    }

    /// Asks the kernel to read the new partition table (best effort).
    pub fn reread_partitions(&self) {
        self.device.reread_partitions();
    }
}

/// Reads `expected.len()` bytes at `offset` back (through `scratch`) and compares.
pub(crate) fn check_region(
    device: &Device,
    expected: &[u8],
    offset: u64,
    scratch: &mut AlignedBuf,
) -> Result<(), FlashError> {
    let got = &mut scratch[..expected.len()];
    device.read_at(got, offset)?;
    match first_difference(expected, got) {
        None => Ok(()),
        Some(i) => Err(FlashError::Mismatch {
            device: device.path.clone(),
            offset: offset + i as u64,
        }),
    }
}

pub(crate) fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    // Compare in large steps first; memcmp is much faster than a byte loop.
    const STEP: usize = 4096;
    let len = a.len().min(b.len());
    let mut at = 0;
    while at < len {
        let end = (at + STEP).min(len);
        if a[at..end] != b[at..end] {
            return (at..end).find(|&i| a[i] != b[i]);
        }
        at = end;
    }
    (a.len() != b.len()).then_some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_difference_finds_the_exact_byte() {
        let a = vec![7u8; 10_000];
        let mut b = a.clone();
        assert_eq!(first_difference(&a, &b), None);
        b[9_321] ^= 1;
        assert_eq!(first_difference(&a, &b), Some(9_321));
        b[5] ^= 1;
        assert_eq!(first_difference(&a, &b), Some(5));
    }
}
