//! Installing genpack images.
//!
//! [`install_to_disk_image`] lays an image out on a disk or disk image file: MBR, GPT or
//! superfloppy, a FAT32 boot partition written entirely in user space (no mount, no loop
//! device) holding GRUB for UEFI and BIOS, `system.img` and `system.ini`/`system.cfg`, and an
//! optional btrfs data partition (which holds the image as `system` when it is 4 GiB or more).
//! GRUB loop-mounts the image and boots the kernel and initramfs inside it with
//! `root=systemimg:<volume id>`; a second menu entry boots in transient mode.
//! [`make_iso`] writes a hybrid ISO (CD and USB disk, BIOS and UEFI), [`make_zip`] a ZIP of the
//! boot files. [`update`] replaces the image of a running system atomically, and
//! [`boot_ini`] reads and edits `system.ini` on a stick or disk image without mounting it;
//! [`settings_schema`] finds the schema of the keys an image understands for an editor.

mod archive;
mod bios;
pub mod boot_ini;
pub mod boot_partition;
mod btrfs;
mod data;
mod disk;
pub mod drive;
mod error;
mod export;
mod fat;
pub mod grub;
mod in_use;
mod iso;
pub mod label;
pub mod layout;
pub mod loaders;
pub mod raspberry_pi;
pub mod sector;
pub mod settings_schema;
mod system;
mod table;
pub mod update;

pub use archive::{make_zip, ZipOptions, ZipReport};
pub use boot_partition::{BootPartition, BootPartitionError, PartitionLocation};
pub use disk::{install_to_disk_image, InstallOptions, InstallReport, PARTITION_ALIGNMENT};
pub use error::InstallError;
pub use export::{export, export_disk_image, ExportFormat};
pub use fat::VolumeId;
pub use iso::{make_iso, IsoOptions, IsoReport};
pub use label::{LabelError, VolumeLabel};
pub use layout::Layout;
pub use loaders::{EfiPlatform, LoaderOrigin};
pub use settings_schema::{settings_schema, SchemaOrigin, SchemaPlace, SettingsSchema};
pub use update::{
    recover_interrupted, rollback, self_update, Progress, Recovery, Step, UpdateError,
    UpdateOptions, UpdateReport,
};

/// Result alias of this crate.
pub type Result<T, E = InstallError> = std::result::Result<T, E>;
