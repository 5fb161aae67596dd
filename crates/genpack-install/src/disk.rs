//! Disk images: GPT with one FAT32 boot partition aligned to 1 MiB.

use std::path::{Path, PathBuf};

use gpt::disk::LogicalBlockSize;
use gpt::mbr::ProtectiveMBR;

use crate::error::InstallError;
use crate::fat::{write_boot_fs, Content, VolumeId};
use crate::grub::{grub_cfg, make_efi_loader};
use crate::Result;

/// Partition alignment (and the space before the first partition).
pub const PARTITION_ALIGNMENT: u64 = 1 << 20;
/// Smallest boot partition: FAT32 needs enough clusters.
const MIN_PARTITION: u64 = 64 << 20;
/// Room left on the boot partition besides its files (FAT tables, directories, updates).
const HEADROOM: u64 = 16 << 20;
/// Largest file FAT32 can hold.
const FAT32_MAX_FILE: u64 = (4 << 30) - 1;
const SECTOR: u64 = 512;

/// Options of [`install_to_disk_image`].
#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    /// A system.ini copied to the boot partition.
    pub system_ini: Option<PathBuf>,
    /// Size of a new disk image in bytes (rounded up to whole MiB); by default just large
    /// enough. An existing file keeps its size.
    pub size: Option<u64>,
    /// FAT volume label (at most 11 characters); `GENPACK` by default.
    pub label: Option<String>,
}

/// What [`install_to_disk_image`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallReport {
    /// The disk image.
    pub disk: PathBuf,
    /// Its size in bytes.
    pub disk_size: u64,
    /// Byte offset of the boot partition.
    pub partition_offset: u64,
    /// Size of the boot partition in bytes.
    pub partition_size: u64,
    /// The boot file system's volume id (`root=systemimg:<id>`).
    pub volume_id: VolumeId,
}

/// Writes a bootable GPT disk image to `disk` from the genpack image `image`.
///
/// An existing `disk` keeps its size (it must be large enough); a new one is created with
/// `options.size` or just large enough. The boot partition is filled first and the partition
/// table written last, so an interrupted run never leaves a disk that looks bootable.
pub fn install_to_disk_image(
    image: &Path,
    disk: &Path,
    options: &InstallOptions,
) -> Result<InstallReport> {
    check_image(image)?;
    let image_size = std::fs::metadata(image)
        .map_err(InstallError::io("reading", image))?
        .len();
    if image_size > FAT32_MAX_FILE {
        return Err(InstallError::FileTooLarge {
            path: image.to_path_buf(),
            size: image_size,
        });
    }
    let ini = match &options.system_ini {
        Some(path) => Some(std::fs::read(path).map_err(InstallError::io("reading", path))?),
        None => None,
    };

    let scratch = tempdir_near(disk)?;
    let loader_path = scratch.join("BOOTX64.EFI");
    let loader = make_efi_loader(&loader_path).and_then(|()| {
        std::fs::read(&loader_path).map_err(InstallError::io("reading", &loader_path))
    });
    let _ = std::fs::remove_dir_all(&scratch);
    let loader = loader?;

    let content_size =
        image_size + loader.len() as u64 + ini.as_ref().map_or(0, |i| i.len() as u64);
    let wanted_partition = round_up(
        content_size + HEADROOM + content_size / 32,
        PARTITION_ALIGNMENT,
    )
    .max(MIN_PARTITION);
    let minimum_disk = PARTITION_ALIGNMENT + wanted_partition + PARTITION_ALIGNMENT;

    let existing = std::fs::metadata(disk).ok().map(|m| m.len());
    let disk_size = match existing {
        Some(size) if size > 0 => size,
        _ => round_up(
            options.size.unwrap_or(minimum_disk).max(minimum_disk),
            PARTITION_ALIGNMENT,
        ),
    };
    if disk_size < minimum_disk {
        return Err(InstallError::TooSmall {
            disk: disk.to_path_buf(),
            have: disk_size,
            need: minimum_disk,
        });
    }
    // The partition takes the whole disk but the alignment gap and room for the backup GPT.
    let partition_offset = PARTITION_ALIGNMENT;
    let partition_size = round_down(
        disk_size - PARTITION_ALIGNMENT - (34 * SECTOR),
        PARTITION_ALIGNMENT,
    );

    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(disk)
        .map_err(InstallError::io("opening", disk))?;
    if existing.unwrap_or(0) == 0 {
        file.set_len(disk_size)
            .map_err(InstallError::io("sizing", disk))?;
    }
    // Wipe the first MiB: an old partition table must not survive a failed write.
    write_zeros(&file, 0, PARTITION_ALIGNMENT).map_err(InstallError::io("clearing", disk))?;
    drop(file);

    let volume_id = VolumeId::random().map_err(InstallError::io("reading", "/dev/urandom"))?;
    let cfg = grub_cfg(volume_id);
    let mut files: Vec<(&str, Content<'_>)> = vec![
        ("EFI/BOOT/BOOTX64.EFI", Content::Bytes(&loader)),
        ("EFI/BOOT/grub.cfg", Content::Bytes(cfg.as_bytes())),
    ];
    if let Some(ini) = &ini {
        files.push(("system.ini", Content::Bytes(ini)));
    }
    files.push(("system.img", Content::File(image)));
    let label = options.label.as_deref().unwrap_or("GENPACK");
    write_boot_fs(
        disk,
        partition_offset,
        partition_offset + partition_size,
        label,
        volume_id,
        &files,
    )?;

    write_gpt(disk, disk_size, partition_offset, partition_size)?;
    Ok(InstallReport {
        disk: disk.to_path_buf(),
        disk_size,
        partition_offset,
        partition_size,
        volume_id,
    })
}

fn write_gpt(disk: &Path, disk_size: u64, offset: u64, size: u64) -> Result<()> {
    let table_err = |e: &dyn std::fmt::Display| InstallError::PartitionTable {
        disk: disk.to_path_buf(),
        message: e.to_string(),
    };
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(disk)
        .map_err(InstallError::io("opening", disk))?;
    let sectors = disk_size / SECTOR;
    let mbr = ProtectiveMBR::with_lb_size(u32::try_from(sectors - 1).unwrap_or(u32::MAX));
    mbr.overwrite_lba0(&mut file).map_err(|e| table_err(&e))?;
    let mut gpt = gpt::GptConfig::new()
        .writable(true)
        .logical_block_size(LogicalBlockSize::Lb512)
        .create_from_device(file, None)
        .map_err(|e| table_err(&e))?;
    gpt.update_partitions(std::collections::BTreeMap::new())
        .map_err(|e| table_err(&e))?;
    gpt.add_partition_at(
        "GENPACK boot",
        1,
        offset / SECTOR,
        size / SECTOR,
        gpt::partition_types::EFI,
        0,
    )
    .map_err(|e| table_err(&e))?;
    let file = gpt.write().map_err(|e| table_err(&e))?;
    file.sync_all()
        .map_err(InstallError::io("flushing", disk))?;
    Ok(())
}

/// The image must be a genpack image with a kernel and an initramfs.
fn check_image(image: &Path) -> Result<()> {
    let bad = |reason: String| InstallError::BadImage {
        image: image.to_path_buf(),
        reason,
    };
    let opened = genpack_image::Image::open(image).map_err(|e| bad(e.to_string()))?;
    opened.metadata().map_err(|e| bad(e.to_string()))?;
    for path in ["/boot/kernel", "/boot/initramfs"] {
        opened
            .resolve(path)
            .map_err(|_| bad(format!("{path} is missing")))?;
    }
    Ok(())
}

fn tempdir_near(disk: &Path) -> Result<PathBuf> {
    let parent = disk
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = parent.join(format!(".genpack-install.{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(InstallError::io("creating", &dir))?;
    Ok(dir)
}

fn write_zeros(file: &std::fs::File, offset: u64, len: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let zeros = vec![0u8; len as usize];
    file.write_all_at(&zeros, offset)
}

fn round_up(value: u64, to: u64) -> u64 {
    value.div_ceil(to) * to
}

fn round_down(value: u64, to: u64) -> u64 {
    value / to * to
}
