//! Small helpers every genpack crate needs, written once.
//!
//! - [`atomic`]: replace a file so that readers see the old or the new content, never a mix,
//!   and a failure leaves the old file as it was.
//! - [`mounts`]: what is mounted where, what backs a loop device, and whether a block device
//!   (or a file behind a loop device) is in use.
//! - [`root`]: resolve a path through symbolic links the way a chroot would see it.
//! - [`program`]: find a program on `PATH`.
//! - [`dirs`]: where genpack keeps its cache.
//! - [`size`]: sizes for people (`14.9 GiB`).
//!
//! Only `std` and `libc`: the static boot programs (the initramfs `/init` and
//! `genpack-init`) link this crate too. Functions return [`std::io::Error`]; callers wrap it
//! in their own typed errors with the path and what they were doing.

pub mod atomic;
pub mod dirs;
pub mod mounts;
pub mod program;
pub mod root;
pub mod size;

pub use atomic::{write_atomic, write_atomic_with, AtomicOptions, StagedFile};
pub use dirs::cache_root;
pub use program::find_program;
pub use root::resolve_in_root;
pub use size::human_size;
