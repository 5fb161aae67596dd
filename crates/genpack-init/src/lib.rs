//! The boot side of genpack images.
//!
//! - [`boot`]: the initramfs `/init` (binary `genpack-initramfs-init`): finds the boot
//!   partition and the system image, the data partition or a tmpfs, mounts the overlay root
//!   and switches into it.
//! - [`provision`] and [`modules`]: `genpack-init`, started as PID 1 in the new root, applies
//!   system.ini with built-in modules and drop-ins, then starts the real init.
//! - [`initramfs`]: builds the initramfs (cpio) with the kernel modules it needs.
//! - [`binaries`]: static builds of both programs for images.

pub mod binaries;
pub mod boot;
pub mod context;
pub mod dropin;
pub mod error;
pub mod fsops;
pub mod initramfs;
pub mod log;
pub mod modules;
pub mod provision;
pub mod runner;
pub mod schema;
pub mod systemd;

pub use binaries::{
    boot_binaries, boot_binaries_for_arch, boot_binaries_in, boot_binaries_in_for_arch,
    BootBinaries, Profile,
};
pub use context::{Action, Change, Context};
pub use error::ModuleError;
pub use initramfs::{
    build_initramfs, Compression, InitramfsReport, InitramfsSpec, DEFAULT_MODULES,
};
pub use modules::{builtin_modules, Module, Outcome};
pub use runner::{run_all, ModuleReport, ModuleSource};
pub use schema::image_schema;
