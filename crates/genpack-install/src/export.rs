//! Images to files: a disk image, a hybrid ISO or a ZIP of the boot files, each written
//! under a temporary name and renamed into place only when complete.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::archive::{make_zip, ZipOptions};
use crate::disk::{install_to_disk_image, InstallOptions, InstallReport};
use crate::error::InstallError;
use crate::iso::{make_iso, IsoOptions};
use crate::Result;

/// The kinds of file an image can be exported as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// A raw disk image, as written to a stick (`dd`, or any image writer).
    Disk,
    /// A hybrid ISO: optical media, virtual CD drives, or written to a stick.
    Iso,
    /// The boot partition's files, to unpack onto any FAT32 stick (UEFI).
    Zip,
}

impl ExportFormat {
    /// Every format, in the order a menu offers them.
    pub const ALL: [ExportFormat; 3] = [ExportFormat::Disk, ExportFormat::Iso, ExportFormat::Zip];

    /// The usual file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Disk => "img",
            ExportFormat::Iso => "iso",
            ExportFormat::Zip => "zip",
        }
    }
}

/// Writes `image` as `format` to `destination`, replacing an existing file only once the new
/// one is complete; returns its size. The options' system.ini, system.cfg and label apply to
/// every format; the partition table, data partition and size to disk images only.
pub fn export(
    image: &Path,
    destination: &Path,
    format: ExportFormat,
    options: &InstallOptions,
) -> Result<u64> {
    match format {
        ExportFormat::Disk => Ok(export_disk_image(image, destination, options)?.disk_size),
        ExportFormat::Iso => {
            let iso = IsoOptions {
                system_ini: options.system_ini.clone(),
                system_cfg: options.system_cfg.clone(),
                label: options.label.clone(),
            };
            Ok(make_iso(image, destination, &iso)?.size)
        }
        ExportFormat::Zip => {
            let zip = ZipOptions {
                system_ini: options.system_ini.clone(),
                system_cfg: options.system_cfg.clone(),
            };
            Ok(make_zip(image, destination, &zip)?.size)
        }
    }
}

/// Writes a new disk image file at `destination` (replacing an existing file only once the
/// new one is complete): [`install_to_disk_image`] on a temporary file next to it.
pub fn export_disk_image(
    image: &Path,
    destination: &Path,
    options: &InstallOptions,
) -> Result<InstallReport> {
    let mut staged = genpack_util::StagedFile::create(destination)
        .map_err(InstallError::io("creating a file next to", destination))?;
    let mut report = install_to_disk_image(image, staged.path(), options)?;
    staged
        .file()
        .sync_all()
        .map_err(InstallError::io("flushing", destination))?;
    staged
        .commit()
        .map_err(InstallError::io("replacing", destination))?;
    report.disk = destination.to_path_buf();
    Ok(report)
}
