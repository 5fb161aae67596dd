//! Installing genpack images.
//!
//! [`install_to_disk_image`] writes a bootable GPT disk image: one FAT32 boot partition,
//! written entirely in user space (no mount, no loop device), holding a UEFI GRUB
//! (`EFI/BOOT/BOOTX64.EFI` with its `grub.cfg`), the system image as `system.img` and,
//! optionally, `system.ini`. GRUB loop-mounts `system.img` and boots the kernel and
//! initramfs inside it with `root=systemimg:<volume id>`; a second menu entry boots in
//! transient mode (`genpack.transient=1`, changes kept in memory only).

mod disk;
mod error;
mod fat;
pub mod grub;

pub use disk::{install_to_disk_image, InstallOptions, InstallReport, PARTITION_ALIGNMENT};
pub use error::InstallError;
pub use fat::VolumeId;

/// Result alias of this crate.
pub type Result<T, E = InstallError> = std::result::Result<T, E>;
