//! Drives for genpack: finding USB sticks and disks, and writing images to them safely.
//!
//! - [`drives`]: list whole disks ([`drives::list`], [`drives::probe`]) with vendor, model,
//!   serial, size, bus, partitions, filesystems and mounts; decide which may be written
//!   ([`Drive::refusal`]: never the disk holding `/`, nothing mounted or stacked on, nothing
//!   read-only or empty, internal disks only on request); follow hotplug ([`Watcher`]).
//! - [`flash`]: open a drive the user confirmed by name and size ([`Confirmation`],
//!   [`Flasher::open`]) and write an image with the partition table last, verified by
//!   reading back uncached ([`Flasher::write_image`]); or several drives at once, the image
//!   read once ([`write_to_all`]). Cancel and failure leave no partition table behind.
//! - [`Image`]: a raw disk image (`.img`, hybrid `.iso`) or one compressed with xz, zstd or
//!   gzip, decompressed while it is written (no temporary copy); its size as far as the
//!   file tells it, and its SHA-256 ([`checksum`] reads sums typed or beside the file).
//! - [`verify`]: compare a drive with an image without writing ([`verify::verify_drive`]).
//! - [`eject`]: eject and power off a written drive through UDisks2 ([`eject::eject`]).
//! - Building blocks for other layouts written straight to a drive (restoring a stick to one
//!   FAT32 partition lives in genpack-install): [`Flasher::zero`], [`Flasher::stream`],
//!   [`Flasher::write_verified`].
//!
//! As root the device is opened directly (`O_DIRECT | O_EXCL`); otherwise through UDisks2's
//! `OpenDevice` over the system D-Bus, where polkit asks the user.
//!
//! A flash wizard, end to end:
//!
//! ```no_run
//! use std::sync::atomic::AtomicBool;
//! use std::sync::Arc;
//! use genpack_drive::{drives, Confirmation, FlashError, FlashOptions, Flasher, Image};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let show_all = false; // the user's "show internal drives too"
//! let offered: Vec<_> = drives::list()?
//!     .into_iter()
//!     .filter(|d| d.is_offerable(show_all))
//!     .collect();
//! let picked = &offered[0]; // the user picks, then confirms "SanDisk Ultra, 14.9 GiB (/dev/sdb)"
//! println!("Erase {}?", picked.description());
//! let confirmation = Confirmation::for_drive(picked);
//!
//! let image = Image::open("appliance-x86_64.img")?;
//! let cancel = Arc::new(AtomicBool::new(false)); // set from the Cancel button
//! let options = FlashOptions {
//!     cancel: Some(Arc::clone(&cancel)),
//!     progress: Some(Box::new(|p| {
//!         println!("{}: {:?} {}/{} {:.1} MB/s", p.device.display(), p.phase, p.bytes_done,
//!             p.bytes_total, p.megabytes_per_second())
//!     })),
//!     ..FlashOptions::default()
//! };
//! let mut flasher = Flasher::open(&picked.path, confirmation)?;
//! match flasher.write_image(&image, options) {
//!     Ok(report) => println!("wrote and verified {} bytes", report.image_len),
//!     Err(FlashError::Cancelled { .. }) => println!("cancelled; the stick is blank"),
//!     Err(e) => return Err(e.into()),
//! }
//! # Ok(())
//! # }
//! ```

mod buffer;
pub mod checksum;
mod device;
pub mod drives;
pub mod eject;
mod error;
mod fanout;
pub mod flash;
mod format;
mod gpt;
mod image;
mod pipeline;
mod progress;
mod stream;
pub mod verify;

pub use checksum::Sha256;
pub use device::{open_block_device, OpenMethod, OPEN_DEVICE_ACTION, OPEN_SYSTEM_DEVICE_ACTION};
pub use drives::{Bus, Drive, DriveEvent, Filesystem, Partition, Refusal, Watcher};
pub use eject::Ejected;
pub use error::{DriveError, EjectError, FlashError};
pub use flash::{
    write_to_all, Confirmation, FinishedSink, FlashOptions, Flasher, WriteReport, HEAD_LEN,
};
pub use format::Compression;
pub use image::Image;
pub use progress::{Phase, Progress, ProgressSink};
pub use stream::DeviceStream;
pub use verify::Verdict;
