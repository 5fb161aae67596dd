//! Partition tables: MBR written directly, GPT with the gpt crate.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;

use gpt::disk::LogicalBlockSize;
use gpt::mbr::ProtectiveMBR;

use crate::error::InstallError;
use crate::layout::{DiskPlan, Extent, BIOS_BOOT_FIRST_LBA, MIB, SECTOR};
use crate::Result;

/// MBR type of the boot partition: EFI system partition.
pub const MBR_TYPE_ESP: u8 = 0xef;
/// MBR type of a Raspberry Pi's boot partition: FAT32 with LBA (the Pi 3's boot ROM does not
/// look at a partition typed as an EFI system partition).
pub const MBR_TYPE_FAT32_LBA: u8 = 0x0c;
/// MBR type of the data partition: Linux.
pub const MBR_TYPE_LINUX: u8 = 0x83;

/// One entry of an MBR partition table, in 512-byte sectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MbrEntry {
    /// First sector.
    pub start_lba: u64,
    /// Length in sectors.
    pub sectors: u64,
    /// Partition type byte.
    pub kind: u8,
    /// Marked bootable (some BIOSes boot only an active partition).
    pub active: bool,
}

/// An MBR sector with disk `signature` and up to four `entries`, its boot code area zero.
/// `disk` names the target in errors.
pub(crate) fn mbr_sector(signature: u32, entries: &[MbrEntry], disk: &Path) -> Result<[u8; 512]> {
    let too_far = || InstallError::PartitionTable {
        disk: disk.to_path_buf(),
        message: "a partition lies beyond what MBR can address; use --gpt".into(),
    };
    let mut sector = [0u8; 512];
    sector[440..444].copy_from_slice(&signature.to_le_bytes());
    for (i, entry) in entries.iter().take(4).enumerate() {
        let start = u32::try_from(entry.start_lba).map_err(|_| too_far())?;
        let count = u32::try_from(entry.sectors).map_err(|_| too_far())?;
        let slot = &mut sector[446 + 16 * i..446 + 16 * (i + 1)];
        slot[0] = if entry.active { 0x80 } else { 0 };
        slot[1..4].copy_from_slice(&chs(start));
        slot[4] = entry.kind;
        slot[5..8].copy_from_slice(&chs(start.saturating_add(count.saturating_sub(1))));
        slot[8..12].copy_from_slice(&start.to_le_bytes());
        slot[12..16].copy_from_slice(&count.to_le_bytes());
    }
    sector[510] = 0x55;
    sector[511] = 0xaa;
    Ok(sector)
}

/// Writes the MBR partition table of `plan` to `disk`, keeping the boot code area; the boot
/// partition gets the type `boot_type`. Its LBAs count 512-byte sectors:
/// [`crate::layout::plan`] plans MBR for such disks only.
pub fn write_mbr(disk: &Path, plan: &DiskPlan, boot_type: u8) -> Result<()> {
    if plan.sector_size != SECTOR {
        return Err(InstallError::PartitionTable {
            disk: disk.to_path_buf(),
            message: format!(
                "an MBR is written for 512-byte sectors, but the disk has {}-byte sectors; use GPT",
                plan.sector_size
            ),
        });
    }
    let file = open(disk)?;
    let mut sector = [0u8; 512];
    file.read_exact_at(&mut sector, 0)
        .map_err(InstallError::io("reading the MBR of", disk))?;
    let mut signature = [0u8; 4];
    File::open("/dev/urandom")
        .and_then(|mut r| r.read_exact(&mut signature))
        .map_err(InstallError::io("reading", "/dev/urandom"))?;
    let entry = |extent: Extent, kind, active| MbrEntry {
        start_lba: extent.offset / SECTOR,
        sectors: extent.size / SECTOR,
        kind,
        active,
    };
    let mut entries = vec![entry(plan.boot, boot_type, true)];
    if let Some(data) = plan.data {
        entries.push(entry(data, MBR_TYPE_LINUX, false));
    }
    let table = mbr_sector(u32::from_le_bytes(signature), &entries, disk)?;
    // Everything after the boot code: signature, partition entries, boot signature.
    sector[440..].copy_from_slice(&table[440..]);
    file.write_all_at(&sector, 0)
        .map_err(InstallError::io("writing the MBR of", disk))?;
    file.sync_all()
        .map_err(InstallError::io("flushing", disk))?;
    Ok(())
}

/// Cylinder/head/sector of `lba` with the usual 255 heads × 63 sectors geometry, or the
/// "beyond CHS" marker.
fn chs(lba: u32) -> [u8; 3] {
    const HEADS: u32 = 255;
    const SECTORS: u32 = 63;
    let cylinder = lba / (HEADS * SECTORS);
    if cylinder > 1023 {
        return [0xfe, 0xff, 0xff];
    }
    let head = (lba / SECTORS) % HEADS;
    let sector = lba % SECTORS + 1;
    [
        head as u8,
        (sector as u8) | (((cylinder >> 8) as u8) << 6),
        cylinder as u8,
    ]
}

/// Writes a protective MBR and the GPT of `plan` to `disk` in LBAs of the plan's sector size:
/// partition 1 the EFI system partition, 2 the data partition (when planned), 3 the BIOS
/// boot partition in the gap before 1 MiB (when planned, which needs 512-byte sectors).
pub fn write_gpt(disk: &Path, plan: &DiskPlan, boot_name: &str) -> Result<()> {
    let table_err = |e: &dyn std::fmt::Display| InstallError::PartitionTable {
        disk: disk.to_path_buf(),
        message: e.to_string(),
    };
    let sector = plan.sector_size;
    let block_size = LogicalBlockSize::try_from(sector).map_err(|e| table_err(&e))?;
    let mut file = open(disk)?;
    let sectors = plan.disk_size / sector;
    let mbr = ProtectiveMBR::with_lb_size(u32::try_from(sectors - 1).unwrap_or(u32::MAX));
    mbr.overwrite_lba0(&mut file).map_err(|e| table_err(&e))?;
    let mut gpt = gpt::GptConfig::new()
        .writable(true)
        .logical_block_size(block_size)
        .create_from_device(file, None)
        .map_err(|e| table_err(&e))?;
    gpt.update_partitions(std::collections::BTreeMap::new())
        .map_err(|e| table_err(&e))?;
    gpt.add_partition_at(
        boot_name,
        1,
        plan.boot.offset / sector,
        plan.boot.size / sector,
        gpt::partition_types::EFI,
        0,
    )
    .map_err(|e| table_err(&e))?;
    if let Some(data) = plan.data {
        gpt.add_partition_at(
            "genpack data",
            2,
            data.offset / sector,
            data.size / sector,
            gpt::partition_types::LINUX_FS,
            0,
        )
        .map_err(|e| table_err(&e))?;
    }
    if plan.bios_core.is_some() && sector == SECTOR {
        gpt.add_partition_at(
            "BIOS boot",
            3,
            BIOS_BOOT_FIRST_LBA,
            MIB / SECTOR - BIOS_BOOT_FIRST_LBA,
            gpt::partition_types::BIOS,
            0,
        )
        .map_err(|e| table_err(&e))?;
    }
    let file = gpt.write().map_err(|e| table_err(&e))?;
    file.sync_all()
        .map_err(InstallError::io("flushing", disk))?;
    Ok(())
}

fn open(disk: &Path) -> Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(disk)
        .map_err(InstallError::io("opening", disk))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chs_follows_the_usual_geometry() {
        assert_eq!(chs(2048), [32, 33, 0]);
        assert_eq!(chs(u32::MAX), [0xfe, 0xff, 0xff]);
    }
}
