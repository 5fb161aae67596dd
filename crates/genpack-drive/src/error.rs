//! Typed errors. Every variant names the device or file it is about.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::drives::Refusal;

/// Why listing or probing drives failed.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    /// libudev could not be used (no sysfs, out of memory).
    #[error("cannot query udev for block devices: {source}")]
    Udev {
        #[source]
        source: io::Error,
    },
    /// A path given as a drive is not a whole-disk block device.
    #[error("{path}: not a whole-disk block device ({why})")]
    NotADisk { path: PathBuf, why: String },
    /// A system file (mountinfo, sysfs attribute) could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Why opening, writing, verifying or restoring a drive failed.
#[derive(Debug, thiserror::Error)]
pub enum FlashError {
    /// Discovery failed while re-checking the drive before opening it.
    #[error(transparent)]
    Drive(#[from] DriveError),
    /// The drive may not be written (holds the running system, is mounted, read-only...).
    #[error("{device}: refusing to write: {reason}")]
    Refused { device: PathBuf, reason: Refusal },
    /// The drive at the confirmed path is not the one the user confirmed.
    #[error("{device}: this is not the drive that was confirmed ({what} was {confirmed}, is now {now}); pick the drive again")]
    ConfirmationMismatch {
        device: PathBuf,
        what: &'static str,
        confirmed: String,
        now: String,
    },
    /// Exclusive open failed: something (a mount, another program) holds the drive.
    #[error("{device} is in use by another program or a mount; unmount it (or close the program using it) and try again")]
    Busy { device: PathBuf },
    /// The kernel refused access (not root and no UDisks2 route).
    #[error("{device}: permission denied; run as root or let UDisks2 (polkit) grant access")]
    PermissionDenied { device: PathBuf },
    /// Not root, and polkit did not let UDisks2 open the drive for this user. Nothing was
    /// written.
    #[error("{device}: not allowed to open the drive: {reason}; nothing was written. UDisks2 asks polkit for `{action}`: allow it in your desktop's password dialog, let your user do it with a polkit rule (docs/install.md), or run as root")]
    NotAuthorized {
        device: PathBuf,
        /// The polkit action UDisks2 asked for.
        action: &'static str,
        /// Why it was refused, in words.
        reason: String,
    },
    /// Not root, and UDisks2 is not running (nor can the bus start it). Nothing was written.
    #[error("{device}: writing a drive without root goes through UDisks2, which is not running ({message}); install the udisks2 package (`apt install udisks2`) and start it (`systemctl start udisks2`), or run as root")]
    UDisksMissing { device: PathBuf, message: String },
    /// Not root, and the system D-Bus cannot be reached. Nothing was written.
    #[error("{device}: writing a drive without root goes through UDisks2 on the system D-Bus, which cannot be reached ({message}); start the system bus (`systemctl start dbus`) and udisks2, or run as root")]
    NoSystemBus { device: PathBuf, message: String },
    /// The UDisks2 route over the system D-Bus failed.
    #[error("{device}: cannot open through UDisks2 ({step}): {message}; run as root, or start udisks2 and the system D-Bus")]
    UDisks {
        device: PathBuf,
        step: &'static str,
        message: String,
    },
    /// The image file could not be opened or read.
    #[error("{path}: cannot read the image: {source}")]
    Image {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The image is of a kind that is not written to drives (an archive, another compression).
    #[error("{path}: {why}")]
    UnsupportedImage { path: PathBuf, why: String },
    /// A compressed image could not be decompressed: damaged, truncated or not what its
    /// first bytes say. Every drive is left without a partition table.
    #[error("{path}: the {format} data is damaged or incomplete after {offset} bytes of image ({source}); download the file again")]
    Decompress {
        path: PathBuf,
        format: &'static str,
        /// Decompressed bytes read before the error.
        offset: u64,
        #[source]
        source: io::Error,
    },
    /// The image does not fit on the drive (known before writing).
    #[error(
        "{device}: the image ({}{image_len} bytes) is larger than the drive ({device_len} bytes)",
        if *exact { "" } else { "at least " }
    )]
    ImageTooLarge {
        device: PathBuf,
        image_len: u64,
        device_len: u64,
        /// `false` when only a lower bound of the image's size was known.
        exact: bool,
    },
    /// A compressed image that did not tell its size turned out larger than the drive while
    /// it was written. The drive has no partition table.
    #[error("{device}: the image runs past the end of the drive ({device_len} bytes): it does not fit; the drive has no partition table now")]
    RanPastEnd { device: PathBuf, device_len: u64 },
    /// Reading the image failed while this drive was being written; every drive written from
    /// it stopped. The drive has no partition table.
    #[error("{device}: stopped because the image could not be read: {source}; the drive has no partition table now")]
    SourceFailed {
        device: PathBuf,
        #[source]
        source: Arc<FlashError>,
    },
    /// A sum file could not be read or has no sum for the image.
    #[error("{path}:{line}: {why}")]
    SumFile {
        path: PathBuf,
        line: usize,
        why: String,
    },
    /// The image's SHA-256 is not the one expected. Nothing was written.
    #[error("{path}: its SHA-256 is {actual}, but {expected_from} says {expected}: the file is damaged or not the one meant; nothing was written")]
    ChecksumMismatch {
        path: PathBuf,
        actual: String,
        expected: String,
        /// "the sum given" or the sum file's path.
        expected_from: String,
    },
    /// The user cancelled while the image's checksum was computed. Nothing was written.
    #[error("{path}: checking the image was cancelled; nothing was written")]
    ChecksumCancelled { path: PathBuf },
    /// Reading or writing the device failed.
    #[error("{device}: {op} at byte {offset} failed: {source}")]
    Io {
        device: PathBuf,
        op: &'static str,
        offset: u64,
        #[source]
        source: io::Error,
    },
    /// The device returned fewer bytes than asked for (it shrank or was unplugged).
    #[error("{device}: short {op} at byte {offset}: the drive may have been unplugged")]
    Short {
        device: PathBuf,
        op: &'static str,
        offset: u64,
    },
    /// Read-back found different bytes than were written. The partition table was not written.
    #[error("{device}: verification failed: the drive returned different data at byte {offset}; the drive or its reader may be faulty, try another port or stick")]
    Mismatch { device: PathBuf, offset: u64 },
    /// Read-back found a block different from what was written (a compressed image cannot be
    /// read again to find the exact byte). The partition table was not written.
    #[error("{device}: verification failed: the drive returned different data in the {len} bytes from byte {offset}; the drive or its reader may be faulty, try another port or stick")]
    BlockMismatch {
        device: PathBuf,
        offset: u64,
        len: u64,
    },
    /// The image changed on disk while it was being written.
    #[error("{path}: the image changed while it was being written (bytes at {offset} differ between the two reads)")]
    SourceChanged { path: PathBuf, offset: u64 },
    /// The user cancelled. The drive holds no partition table (first MiB zeroed).
    #[error(
        "{device}: cancelled after {bytes_written} bytes; the drive has no partition table now"
    )]
    Cancelled { device: PathBuf, bytes_written: u64 },
    /// The user cancelled a verification. Nothing was written.
    #[error("{device}: verification cancelled; nothing was written")]
    VerificationCancelled { device: PathBuf },
    /// Formatting the restore partition failed.
    #[error("{device}: formatting FAT32 failed: {source}")]
    Format {
        device: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The drive is too small or too large for the requested layout.
    #[error("{device}: {why}")]
    Unsupported { device: PathBuf, why: String },
}

/// Why ejecting a drive through UDisks2 failed. The drive was flushed before; only the
/// "safe to pull out" signal to the hardware is missing.
#[derive(Debug, thiserror::Error)]
#[error("{device}: cannot eject through UDisks2 ({step}): {message}; the data is written, so unplug the drive once its light stops blinking")]
pub struct EjectError {
    pub device: PathBuf,
    /// What was being done: "connect to the system bus", "eject the medium"...
    pub step: &'static str,
    pub message: String,
}
