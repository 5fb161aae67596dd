//! Disk layouts and the sizing rules that place the boot and data partitions.
//!
//! - **MBR** (the default for disks up to 2 TiB with 512-byte sectors): partition 1 is the
//!   FAT32 boot partition (type 0xEF, active) from 1 MiB; partition 2, when present, is the
//!   btrfs data partition (type 0x83) up to 1 MiB before the end. GRUB's BIOS loader lives in
//!   the MBR and in the gap before 1 MiB.
//! - **GPT** (forced, for disks above 2 TiB, and for disks with 4096-byte sectors): the same
//!   two partitions (EFI system partition, Linux filesystem) plus, with 512-byte sectors, a
//!   BIOS boot partition in the gap before 1 MiB that holds GRUB's BIOS loader.
//! - **Superfloppy**: one FAT32 file system over the whole disk, no partition table, UEFI only.
//!
//! **Disks with 4096-byte logical sectors** ("4Kn": some NVMe drives and USB-attached disks;
//! image files meant for them) always get GPT, with 4096-byte LBAs: the header in the second
//! 4 KiB, the entries after it, partitions still 1 MiB aligned. Their FAT32 file system uses
//! 4096-byte sectors, as Linux mounts no FAT with sectors smaller than the device's; FAT32
//! then needs at least 65525 clusters of 4 KiB, so the boot partition is at least
//! [`MIN_BOOT_4KN`]. They boot through UEFI only: GRUB's BIOS loader reads 512-byte sectors
//! through the BIOS and SeaBIOS cannot boot 4Kn disks, so no BIOS loader and no BIOS boot
//! partition are written. An MBR is refused there (see [`plan`]).
//!
//! Sizing (S = size of the system image): images of 4 GiB or more do not fit in FAT32, so
//! they go to the data partition as `system` and the boot partition is 1 GiB. Otherwise the
//! boot partition holds `system.img`; with a data partition and a disk of at least 1.5 ×
//! `need` GiB, where `need` = max(4, ⌊3S / GiB⌋ + 1), the boot partition is `need` GiB (room
//! for two images during an update); on smaller disks it is just large enough. Without a
//! data partition the boot partition fills the disk.

use std::path::Path;

use crate::error::InstallError;
use crate::Result;

/// One MiB: partition alignment and the gap before the first partition.
pub const MIB: u64 = 1 << 20;
/// One GiB.
pub const GIB: u64 = 1 << 30;
/// Largest disk an MBR partition table with 512-byte sectors can describe.
pub const MBR_MAX_DISK: u64 = 2 << 40;
/// Largest file FAT32 can hold: larger images go to the data partition.
pub const FAT32_MAX_FILE: u64 = (4 << 30) - 1;
/// Largest disk formatted as a superfloppy.
pub const SUPERFLOPPY_MAX_DISK: u64 = (16 << 40) - (16 << 10);
/// The classic sector size: MBR partition tables and GRUB's BIOS loader count in it.
pub const SECTOR: u64 = 512;
/// First sector of the GPT BIOS boot partition (right after the 32 sectors of entries).
pub const BIOS_BOOT_FIRST_LBA: u64 = 34;

/// Smallest boot partition: FAT32 needs enough clusters.
const MIN_BOOT: u64 = 64 * MIB;
/// Smallest boot partition on a disk with 4096-byte sectors: FAT32 needs at least 65525
/// clusters and a cluster is at least one 4 KiB sector (256 MiB), plus room for the FATs.
pub const MIN_BOOT_4KN: u64 = 272 * MIB;
/// Smallest data partition a fresh btrfs is comfortable with.
const MIN_DATA: u64 = 256 * MIB;
/// Room on the boot partition besides its files.
const HEADROOM: u64 = 16 * MIB;

/// The layout asked for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize, ts_rs::TS,
)]
#[ts(rename = "FlashTable")]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// MBR up to 2 TiB with 512-byte sectors, GPT otherwise.
    #[default]
    Auto,
    /// An MBR partition table (disks with 512-byte sectors only).
    Mbr,
    /// A GUID partition table.
    Gpt,
    /// No partition table: FAT32 over the whole disk (UEFI boot only).
    Superfloppy,
}

impl Layout {
    /// The partition table a disk of `disk_size` bytes with `sector_size`-byte sectors gets:
    /// `Auto` means MBR up to 2 TiB with 512-byte sectors, GPT otherwise; `None` for a
    /// superfloppy.
    pub fn table_for(self, disk_size: u64, sector_size: u64) -> Option<PartitionTable> {
        match self {
            Layout::Superfloppy => None,
            Layout::Gpt => Some(PartitionTable::Gpt),
            Layout::Mbr => Some(PartitionTable::Mbr),
            Layout::Auto if disk_size > MBR_MAX_DISK || sector_size != SECTOR => {
                Some(PartitionTable::Gpt)
            }
            Layout::Auto => Some(PartitionTable::Mbr),
        }
    }
}

/// The partition table written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionTable {
    /// MBR (msdos).
    Mbr,
    /// GPT.
    Gpt,
}

/// A byte range of the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// First byte.
    pub offset: u64,
    /// Length in bytes.
    pub size: u64,
}

impl Extent {
    /// One past the last byte.
    pub fn end(&self) -> u64 {
        self.offset + self.size
    }
}

/// Where everything goes on the disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskPlan {
    /// Size of the whole disk.
    pub disk_size: u64,
    /// Logical sector size: 512, or 4096 on a 4Kn disk.
    pub sector_size: u64,
    /// The partition table, `None` for a superfloppy.
    pub table: Option<PartitionTable>,
    /// The FAT32 boot partition (the whole disk for a superfloppy).
    pub boot: Extent,
    /// The btrfs data partition.
    pub data: Option<Extent>,
    /// Where GRUB's BIOS core image goes: the MBR gap or the GPT BIOS boot partition;
    /// `None` where there is no BIOS boot (a superfloppy, a disk with 4096-byte sectors).
    pub bios_core: Option<Extent>,
    /// The system image goes to the data partition as `system` (it is 4 GiB or larger).
    pub system_on_data: bool,
}

/// What is to be placed, as [`plan`] needs it.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput {
    /// Size of the system image.
    pub image_size: u64,
    /// Size of the other boot partition files (loaders, grub.cfg, system.ini, system.cfg).
    pub boot_files_size: u64,
    /// The layout asked for.
    pub layout: Layout,
    /// A data partition was asked for.
    pub data_partition: bool,
    /// Size of the target when it already has one (a device or an existing file).
    pub existing_size: Option<u64>,
    /// Size asked for a new disk image file.
    pub requested_size: Option<u64>,
    /// Logical sector size of the disk: 512 or 4096.
    pub sector_size: u64,
}

/// Places the partitions on `disk` following the rules in the module documentation.
///
/// An explicit [`Layout::Mbr`] on a disk with 4096-byte sectors is refused. Linux, GRUB and
/// OVMF would read such an MBR (its LBAs count 4096-byte sectors), but the only reason to
/// pick MBR over GPT is BIOS boot and old firmware, and neither boots 4Kn disks; many
/// partitioning tools and firmware also assume 512-byte MBR sectors. GPT is what the
/// UEFI specification and every current tool expect there.
pub fn plan(disk: &Path, input: &PlanInput) -> Result<DiskPlan> {
    let sector = input.sector_size;
    if !crate::sector::SECTOR_SIZES.contains(&sector) {
        return Err(InstallError::SectorSize {
            disk: disk.to_path_buf(),
            message: format!(
                "{sector}-byte sectors; disks are written with 512- or 4096-byte sectors"
            ),
        });
    }
    let four_k = sector != SECTOR;
    if four_k && input.layout == Layout::Mbr {
        return Err(InstallError::Layout {
            disk: disk.to_path_buf(),
            message: "the disk has 4096-byte sectors, which need a GPT partition table (MBR is \
                      for disks with 512-byte sectors); use --gpt or leave the layout to choose"
                .into(),
        });
    }
    let image = input.image_size;
    let large = image > FAT32_MAX_FILE;
    if large && input.layout == Layout::Superfloppy {
        return Err(InstallError::Layout {
            disk: disk.to_path_buf(),
            message: format!(
                "the image is {image} bytes; a superfloppy holds files up to 4 GiB - 1, so \
                 images this large need a partitioned disk (drop --superfloppy)"
            ),
        });
    }
    if input.layout == Layout::Superfloppy && input.data_partition {
        return Err(InstallError::Layout {
            disk: disk.to_path_buf(),
            message: "a superfloppy has no room for a data partition; use --mbr or --gpt".into(),
        });
    }
    let with_data = input.data_partition || large;
    let on_boot = input.boot_files_size + if large { 0 } else { image };
    let min_boot = if four_k { MIN_BOOT_4KN } else { MIN_BOOT };
    let boot_min = round_up(on_boot + on_boot / 32 + HEADROOM, MIB).max(min_boot);
    let data_min = if large {
        // btrfs allocates in chunks and keeps metadata twice: leave it a quarter and 1 GiB.
        round_up(image + image / 4 + GIB, MIB)
    } else {
        MIN_DATA
    };
    let minimum = if input.layout == Layout::Superfloppy {
        boot_min
    } else {
        MIB + boot_min + if with_data { data_min } else { 0 } + MIB
    };
    let disk_size = match input.existing_size {
        Some(size) => size,
        None => match input.requested_size {
            Some(requested) if requested < minimum => {
                return Err(InstallError::SizeTooSmall {
                    disk: disk.to_path_buf(),
                    requested,
                    need: minimum,
                })
            }
            Some(requested) => round_up(requested, MIB),
            None => round_up(minimum, MIB),
        },
    };
    if disk_size < minimum {
        return Err(InstallError::TooSmall {
            disk: disk.to_path_buf(),
            have: disk_size,
            need: minimum,
        });
    }

    if input.layout == Layout::Superfloppy {
        if disk_size > SUPERFLOPPY_MAX_DISK {
            return Err(InstallError::Layout {
                disk: disk.to_path_buf(),
                message: "disks above 16 TiB cannot be a FAT32 superfloppy; use --gpt".into(),
            });
        }
        return Ok(DiskPlan {
            disk_size,
            sector_size: sector,
            table: None,
            boot: Extent {
                offset: 0,
                size: round_down(disk_size, sector),
            },
            data: None,
            bios_core: None,
            system_on_data: false,
        });
    }

    if input.layout == Layout::Mbr && disk_size > MBR_MAX_DISK {
        return Err(InstallError::Layout {
            disk: disk.to_path_buf(),
            message: "an MBR partition table addresses at most 2 TiB; use --gpt".into(),
        });
    }
    let table = input
        .layout
        .table_for(disk_size, sector)
        .unwrap_or(PartitionTable::Mbr);
    let usable_end = round_down(disk_size - MIB, MIB);
    let (boot, data) = if with_data {
        let need = (3 * image / GIB + 1).max(4);
        let preferred = if large { GIB } else { need * GIB };
        let roomy = disk_size / GIB >= need * 3 / 2
            && MIB + preferred.max(boot_min) + data_min <= usable_end;
        let boot_size = if roomy {
            preferred.max(boot_min)
        } else {
            boot_min
        };
        let boot = Extent {
            offset: MIB,
            size: boot_size,
        };
        let data = Extent {
            offset: boot.end(),
            size: usable_end - boot.end(),
        };
        (boot, Some(data))
    } else {
        (
            Extent {
                offset: MIB,
                size: usable_end - MIB,
            },
            None,
        )
    };
    let bios_core = match table {
        _ if four_k => None,
        PartitionTable::Mbr => Some(Extent {
            offset: SECTOR,
            size: MIB - SECTOR,
        }),
        PartitionTable::Gpt => Some(Extent {
            offset: BIOS_BOOT_FIRST_LBA * SECTOR,
            size: MIB - BIOS_BOOT_FIRST_LBA * SECTOR,
        }),
    };
    Ok(DiskPlan {
        disk_size,
        sector_size: sector,
        table: Some(table),
        boot,
        data,
        bios_core,
        system_on_data: large,
    })
}

pub(crate) fn round_up(value: u64, to: u64) -> u64 {
    value.div_ceil(to) * to
}

pub(crate) fn round_down(value: u64, to: u64) -> u64 {
    value / to * to
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(image_size: u64) -> PlanInput {
        PlanInput {
            image_size,
            boot_files_size: 4 * MIB,
            layout: Layout::Auto,
            data_partition: false,
            existing_size: None,
            requested_size: None,
            sector_size: SECTOR,
        }
    }

    #[test]
    fn new_file_is_just_large_enough_with_mbr() {
        let p = plan(Path::new("x"), &input(100 * MIB)).unwrap();
        assert_eq!(p.table, Some(PartitionTable::Mbr));
        assert_eq!(p.boot.offset, MIB);
        assert!(p.boot.size >= 104 * MIB && p.boot.size < 140 * MIB);
        assert_eq!(p.disk_size, p.boot.end() + MIB);
        assert_eq!(p.data, None);
        assert!(!p.system_on_data);
    }

    #[test]
    fn a_size_below_what_the_image_needs_is_refused_not_raised() {
        let mut i = input(100 * MIB);
        i.requested_size = Some(50 * MIB);
        match plan(Path::new("x.img"), &i) {
            Err(error @ InstallError::SizeTooSmall { .. }) => {
                let message = error.to_string();
                assert!(message.contains("cannot be made 50 MiB"), "{message}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        i.requested_size = Some(500 * MIB + 1);
        assert_eq!(plan(Path::new("x.img"), &i).unwrap().disk_size, 501 * MIB);
    }

    #[test]
    fn large_disks_get_gpt_and_mbr_is_refused_there() {
        let mut i = input(100 * MIB);
        i.existing_size = Some(3 << 40);
        assert_eq!(
            plan(Path::new("x"), &i).unwrap().table,
            Some(PartitionTable::Gpt)
        );
        i.layout = Layout::Mbr;
        assert!(matches!(
            plan(Path::new("x"), &i),
            Err(InstallError::Layout { .. })
        ));
    }

    #[test]
    fn roomy_disk_with_data_gets_need_gib_boot_partition() {
        let mut i = input(GIB);
        i.data_partition = true;
        i.existing_size = Some(16 * GIB);
        let p = plan(Path::new("x"), &i).unwrap();
        // need = max(4, 3 + 1) = 4 GiB; 16 GiB >= 6 GiB.
        assert_eq!(p.boot.size, 4 * GIB);
        let data = p.data.unwrap();
        assert_eq!(data.offset, MIB + 4 * GIB);
        assert_eq!(data.end(), 16 * GIB - MIB);
    }

    #[test]
    fn images_of_4_gib_go_to_the_data_partition() {
        let mut i = input(5 * GIB);
        i.existing_size = Some(64 * GIB);
        let p = plan(Path::new("x"), &i).unwrap();
        assert!(p.system_on_data);
        assert_eq!(p.boot.size, GIB);
        assert!(p.data.unwrap().size > 5 * GIB);
        i.layout = Layout::Superfloppy;
        assert!(plan(Path::new("x"), &i).is_err());
    }

    #[test]
    fn too_small_disks_are_refused_with_the_size_needed() {
        let mut i = input(500 * MIB);
        i.existing_size = Some(100 * MIB);
        match plan(Path::new("x"), &i) {
            Err(InstallError::TooSmall { need, .. }) => assert!(need > 500 * MIB),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn superfloppy_covers_the_whole_disk() {
        let mut i = input(100 * MIB);
        i.layout = Layout::Superfloppy;
        let p = plan(Path::new("x"), &i).unwrap();
        assert_eq!(p.table, None);
        assert_eq!(p.boot.offset, 0);
        assert_eq!(p.boot.size, p.disk_size);
        assert_eq!(p.bios_core, None);
    }

    #[test]
    fn disks_with_4096_byte_sectors_get_gpt_without_bios_boot() {
        for size in [None, Some(64 * GIB), Some(3 << 40)] {
            let mut i = input(100 * MIB);
            i.sector_size = 4096;
            i.existing_size = size;
            let p = plan(Path::new("x"), &i).unwrap();
            assert_eq!(p.table, Some(PartitionTable::Gpt), "{size:?}");
            assert_eq!(p.sector_size, 4096);
            assert_eq!(p.bios_core, None);
            assert_eq!(p.boot.offset, MIB);
            assert_eq!(p.boot.offset % 4096, 0);
            assert_eq!(p.boot.size % MIB, 0);
        }
        let mut i = input(100 * MIB);
        i.sector_size = 4096;
        i.layout = Layout::Gpt;
        assert_eq!(plan(Path::new("x"), &i).unwrap().bios_core, None);
    }

    #[test]
    fn mbr_is_refused_on_disks_with_4096_byte_sectors() {
        let mut i = input(100 * MIB);
        i.sector_size = 4096;
        i.layout = Layout::Mbr;
        match plan(Path::new("x"), &i) {
            Err(e @ InstallError::Layout { .. }) => {
                let message = e.to_string();
                assert!(message.contains("4096-byte sectors"), "{message}");
                assert!(message.contains("--gpt"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn boot_partition_on_4kn_disks_has_room_for_fat32_clusters() {
        let mut i = input(MIB);
        i.sector_size = 4096;
        i.data_partition = true;
        let p = plan(Path::new("x"), &i).unwrap();
        // 65525 clusters of 4 KiB and two FATs of 4 bytes per cluster.
        assert!(p.boot.size >= 65525 * 4096 + 2 * 65527 * 4);
        assert_eq!(p.boot.size, MIN_BOOT_4KN);
        i.existing_size = Some(200 * MIB);
        assert!(matches!(
            plan(Path::new("x"), &i),
            Err(InstallError::TooSmall { .. })
        ));
    }

    #[test]
    fn superfloppy_on_4kn_disks_covers_whole_4096_byte_sectors() {
        let mut i = input(100 * MIB);
        i.sector_size = 4096;
        i.layout = Layout::Superfloppy;
        i.existing_size = Some(300 * MIB + 512);
        let p = plan(Path::new("x"), &i).unwrap();
        assert_eq!(p.table, None);
        assert_eq!(p.boot.size, 300 * MIB);
        assert_eq!(p.bios_core, None);
    }

    #[test]
    fn sector_sizes_other_than_512_and_4096_are_refused() {
        let mut i = input(100 * MIB);
        i.sector_size = 2048;
        assert!(matches!(
            plan(Path::new("x"), &i),
            Err(InstallError::SectorSize { .. })
        ));
    }
}
