//! Installing to a disk (a block device or a disk image file): partition table, FAT32 boot
//! partition, optional btrfs data partition, GRUB for UEFI and BIOS.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::bios::install_bios_loader;
use crate::data::write_data_partition;
use crate::error::InstallError;
use crate::fat::{write_fat32_boot_fs, Content, VolumeId};
use crate::grub::{grub_cfg, CONFIG_PATH};
use crate::label::VolumeLabel;
use crate::layout::{plan, DiskPlan, Extent, Layout, PartitionTable, PlanInput, MIB};
use crate::loaders::{total_size, EfiPlatform, LoaderOrigin, Loaders};
use crate::raspberry_pi;
use crate::sector::sector_size_for;
use crate::system::{open_image, scratch_dir_for, Companions};
use crate::table::{write_gpt, write_mbr, MBR_TYPE_ESP, MBR_TYPE_FAT32_LBA};
use crate::Result;

/// Partition alignment (and the space before the first partition).
pub const PARTITION_ALIGNMENT: u64 = MIB;

/// Options of [`install_to_disk_image`].
#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    /// A system.ini copied to the boot partition.
    pub system_ini: Option<PathBuf>,
    /// A system.cfg (GRUB script, may set `LINUX_ARGS`) copied to the boot partition.
    pub system_cfg: Option<PathBuf>,
    /// Size of a new disk image in bytes (rounded up to whole MiB); by default just large
    /// enough. An existing file or a device keeps its size.
    pub size: Option<u64>,
    /// FAT volume label; `GENPACK` by default.
    pub label: Option<VolumeLabel>,
    /// MBR, GPT or superfloppy; by default MBR up to 2 TiB with 512-byte sectors, GPT
    /// otherwise.
    pub layout: Layout,
    /// Add a btrfs data partition after the boot partition (implied for images of 4 GiB
    /// or more, which go there as `system`).
    pub data_partition: bool,
    /// Logical sector size to write an image file for: 512 (the default) or 4096, for an
    /// image that is to be copied to a disk with 4096-byte sectors ("4Kn"). A block device
    /// is always written for its own sector size; giving a different one is an error.
    pub sector_size: Option<u64>,
}

/// What [`install_to_disk_image`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallReport {
    /// The disk or disk image.
    pub disk: PathBuf,
    /// Its size in bytes.
    pub disk_size: u64,
    /// The partition table, `None` for a superfloppy.
    pub table: Option<PartitionTable>,
    /// The logical sector size the disk was written for (512 or 4096).
    pub sector_size: u64,
    /// Byte offset of the boot partition.
    pub partition_offset: u64,
    /// Size of the boot partition in bytes.
    pub partition_size: u64,
    /// The data partition, when there is one.
    pub data_partition: Option<Extent>,
    /// Label of the data partition (`data-<volume id>`).
    pub data_label: Option<String>,
    /// The system image went to the data partition as `system` (it is 4 GiB or larger).
    pub system_on_data: bool,
    /// The boot file system's volume id (`root=systemimg:<id>`).
    pub volume_id: VolumeId,
    /// GRUB for BIOS was installed (every partitioned layout with 512-byte sectors, for x86
    /// images).
    pub bios_boot: bool,
    /// The UEFI loaders installed, and where each came from.
    pub efi_loaders: Vec<(EfiPlatform, LoaderOrigin)>,
}

/// Writes a bootable disk image to `disk` (an existing image file, or a new file) from the
/// genpack image `image`. Drives are written with [`crate::drive::write_to_drive`].
///
/// An existing target keeps its size (it must be large enough); a new file is created with
/// `options.size` or just large enough. Partitions are filled first and the partition table
/// and boot sector written last, so an interrupted run never leaves a disk that looks
/// bootable.
pub fn install_to_disk_image(
    image: &Path,
    disk: &Path,
    options: &InstallOptions,
) -> Result<InstallReport> {
    let installable = open_image(image)?;
    let image_size = installable.size;
    refuse_in_use(disk)?;
    let sector_size = sector_size_for(disk, options.sector_size)?;
    let companions =
        Companions::read(options.system_ini.as_deref(), options.system_cfg.as_deref())?;
    let scratch = scratch_dir_for(disk)?;
    let loaders = Loaders::new(image, scratch.path());
    let pi_files = raspberry_pi::boot_files(&installable.image, "auto")?;
    // A Raspberry Pi boots without GRUB; UEFI loaders are a bonus there.
    let efi_loaders = match loaders.efi() {
        Err(_) if !pi_files.is_empty() => Vec::new(),
        result => result?,
    };
    let pi_files_size: u64 = pi_files.iter().map(|f| f.bytes.len() as u64).sum();

    let existing_size = existing_size(disk)?;
    let plan = plan(
        disk,
        &PlanInput {
            image_size,
            boot_files_size: total_size(&efi_loaders)
                + pi_files_size
                + 64 * 1024
                + companions.size(),
            layout: options.layout,
            data_partition: options.data_partition,
            existing_size,
            requested_size: options.size,
            sector_size,
        },
    )?;
    // Loaders first: a missing grub-pc-bin must fail before anything is written.
    let bios = match plan.bios_core.and(plan.table) {
        Some(table) if loaders.boots_bios() => {
            let core = loaders.bios_core(table == PartitionTable::Gpt)?;
            Some((loaders.bios_boot_sector()?, core))
        }
        _ => None,
    };

    let disk_is_new = existing_size.is_none();
    prepare_target(disk, &plan, disk_is_new)?;

    let volume_id = VolumeId::random().map_err(InstallError::io("reading", "/dev/urandom"))?;
    let cfg = grub_cfg(volume_id);
    let mut files: Vec<(&str, Content<'_>)> = efi_loaders
        .iter()
        .map(|loader| (loader.boot_path(), Content::Bytes(&loader.bytes)))
        .collect();
    files.push((CONFIG_PATH, Content::Bytes(cfg.as_bytes())));
    for file in &pi_files {
        files.push((&file.path, Content::Bytes(&file.bytes)));
    }
    for (name, bytes) in companions.files() {
        files.push((name, Content::Bytes(bytes)));
    }
    if !plan.system_on_data {
        files.push(("system.img", Content::File(image)));
    }
    let label = options.label.clone().unwrap_or_default();
    write_fat32_boot_fs(disk, plan.boot, sector_size, &label, volume_id, &files)?;

    let data_label = plan.data.map(|_| format!("data-{volume_id}"));
    if let (Some(extent), Some(data_label)) = (plan.data, &data_label) {
        let system = plan.system_on_data.then_some(image);
        write_data_partition(
            disk,
            extent,
            data_label,
            system,
            scratch.path(),
            disk_is_new,
        )?;
    }

    match plan.table {
        Some(PartitionTable::Mbr) => {
            let boot_type = if pi_files.is_empty() {
                MBR_TYPE_ESP
            } else {
                MBR_TYPE_FAT32_LBA
            };
            write_mbr(disk, &plan, boot_type)?
        }
        Some(PartitionTable::Gpt) => write_gpt(disk, &plan, "genpack boot")?,
        None => {}
    }
    if let (Some((boot_sector, core)), Some(place)) = (&bios, plan.bios_core) {
        install_bios_loader(disk, boot_sector, core, place)?;
    }

    Ok(InstallReport {
        disk: disk.to_path_buf(),
        disk_size: plan.disk_size,
        table: plan.table,
        sector_size,
        partition_offset: plan.boot.offset,
        partition_size: plan.boot.size,
        data_partition: plan.data,
        data_label,
        system_on_data: plan.system_on_data,
        volume_id,
        bios_boot: bios.is_some(),
        efi_loaders: efi_loaders
            .iter()
            .map(|loader| (loader.platform, loader.origin))
            .collect(),
    })
}

/// The target must be an image file, not a drive (drives are written through
/// [`crate::drive::write_to_drive`], exclusively and verified), and nothing may use it.
fn refuse_in_use(disk: &Path) -> Result<()> {
    if crate::drive::is_block_device(disk) {
        return Err(InstallError::NotAFile {
            disk: disk.to_path_buf(),
        });
    }
    match crate::in_use::check(disk).map_err(InstallError::io("checking what uses", disk))? {
        Some(reason) => Err(InstallError::InUse {
            disk: disk.to_path_buf(),
            reason,
        }),
        None => Ok(()),
    }
}

/// The size of an existing, non-empty image file.
fn existing_size(disk: &Path) -> Result<Option<u64>> {
    match std::fs::metadata(disk) {
        Ok(meta) if meta.is_file() => Ok((meta.len() > 0).then_some(meta.len())),
        Ok(_) => Err(InstallError::Layout {
            disk: disk.to_path_buf(),
            message: "not a regular file; give the path of a disk image file to write".into(),
        }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(InstallError::io("reading", disk)(error)),
    }
}

/// Creates and sizes a new file; wipes the first and the last MiB (old partition tables
/// must not survive a failed write).
fn prepare_target(disk: &Path, plan: &DiskPlan, new: bool) -> Result<()> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(new)
        .truncate(false)
        .open(disk)
        .map_err(InstallError::io("opening", disk))?;
    if new {
        file.set_len(plan.disk_size)
            .map_err(InstallError::io("sizing", disk))?;
    }
    let wipe = MIB.min(plan.disk_size);
    let zeros = vec![0u8; wipe as usize];
    file.write_all_at(&zeros, 0)
        .map_err(InstallError::io("clearing", disk))?;
    file.write_all_at(&zeros, plan.disk_size - wipe)
        .map_err(InstallError::io("clearing", disk))?;
    file.sync_all()
        .map_err(InstallError::io("flushing", disk))?;
    Ok(())
}
