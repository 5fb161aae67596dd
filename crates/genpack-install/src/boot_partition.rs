//! The FAT boot partition of a disk image or block device, read and changed in user space.
//!
//! [`BootPartition::open`] finds the boot file system without mounting anything: the first
//! FAT partition of a GPT or MBR partition table, or a FAT file system over the whole device
//! (a "superfloppy"). Files are then read and replaced with fatfs at the partition's offset,
//! which works the same on image files, USB sticks and loop devices. Disks with 4096-byte
//! logical sectors are read too: partition tables are tried with 512- and 4096-byte LBAs,
//! and the FAT file system carries its own sector size.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fscommon::{BufStream, StreamSlice};

use crate::fat::{fix_dot_entries, VolumeId};
use crate::layout::PartitionTable;

/// Why a boot partition could not be opened or changed.
#[derive(Debug, thiserror::Error)]
pub enum BootPartitionError {
    /// A read or write on the disk failed.
    #[error("{action} {}: {source}", disk.display())]
    Io {
        /// What was being done.
        action: String,
        /// The disk image or device.
        disk: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The block device could not be opened: not allowed (polkit, through UDisks2), UDisks2
    /// not running, busy. The message says what to do.
    #[error(transparent)]
    Device(#[from] genpack_drive::FlashError),
    /// No FAT file system was found.
    #[error("{} has no FAT boot partition ({found}); is it a stick or disk image written by genpack install?", disk.display())]
    NotFound {
        /// The disk image or device.
        disk: PathBuf,
        /// What was found instead.
        found: String,
    },
    /// The device (or one of its partitions) is mounted, or the file backs a loop device:
    /// writing underneath the kernel would corrupt it.
    #[error("{} is in use: {reason}", disk.display())]
    InUse {
        /// The device or file.
        disk: PathBuf,
        /// What uses it and what to do.
        reason: String,
    },
    /// A path on the boot partition does not exist.
    #[error("{} has no {path} on its boot partition", disk.display())]
    MissingFile {
        /// The disk image or device.
        disk: PathBuf,
        /// The path on the boot partition.
        path: String,
    },
}

/// Result alias of this module.
pub type Result<T, E = BootPartitionError> = std::result::Result<T, E>;

/// Where the boot file system is on a disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionLocation {
    /// The partition table; `None` for a superfloppy (FAT over the whole device).
    pub table: Option<PartitionTable>,
    /// Partition number (1-based) in the table; 0 for a superfloppy.
    pub number: u32,
    /// Byte offset of the file system.
    pub offset: u64,
    /// Size of the file system in bytes.
    pub size: u64,
}

type Volume = fatfs::FileSystem<BufStream<StreamSlice<File>>>;

/// An open FAT boot partition. Changes are written when [`BootPartition::close`] returns.
pub struct BootPartition {
    disk: PathBuf,
    location: PartitionLocation,
    volume: Volume,
    /// A second handle on the disk, for what is done after the volume is unmounted.
    disk_file: File,
    writable: bool,
    created_directories: bool,
}

const GPT_SIGNATURE: &[u8; 8] = b"EFI PART";
/// MBR partition types that hold FAT file systems (FAT16/32, LBA variants, EFI system).
const MBR_FAT_TYPES: &[u8] = &[0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e, 0xef];
const MBR_PROTECTIVE: u8 = 0xee;

impl BootPartition {
    /// Finds and opens the boot partition of `disk` (an image file or a block device) for
    /// reading and writing. A block device that is mounted (itself or a partition) is refused.
    pub fn open(disk: &Path) -> Result<Self> {
        refuse_in_use(disk)?;
        Self::open_with(disk, true)
    }

    /// Opens the boot partition of `disk` for reading only (read permission is enough; a
    /// mounted device is read as it is on the disk).
    pub fn open_read_only(disk: &Path) -> Result<Self> {
        Self::open_with(disk, false)
    }

    fn open_with(disk: &Path, writable: bool) -> Result<Self> {
        let io = |action: &str| {
            let action = action.to_string();
            let disk = disk.to_path_buf();
            move |source| BootPartitionError::Io {
                action,
                disk,
                source,
            }
        };
        let mut file = open_disk(disk, writable)?;
        let disk_file = file.try_clone().map_err(io("opening"))?;
        let location = locate(&mut file, disk)?;
        let slice = StreamSlice::new(file, location.offset, location.offset + location.size)
            .map_err(io("opening the boot partition of"))?;
        let volume = fatfs::FileSystem::new(BufStream::new(slice), fatfs::FsOptions::new())
            .map_err(io("reading the FAT file system of"))?;
        Ok(Self {
            disk: disk.to_path_buf(),
            location,
            volume,
            disk_file,
            writable,
            created_directories: false,
        })
    }

    /// The disk image or device.
    pub fn disk(&self) -> &Path {
        &self.disk
    }

    /// Where the file system is on the disk.
    pub fn location(&self) -> PartitionLocation {
        self.location
    }

    /// The FAT volume id (the `root=systemimg:` id).
    pub fn volume_id(&self) -> VolumeId {
        VolumeId(self.volume.volume_id())
    }

    fn io(&self, action: String) -> impl FnOnce(std::io::Error) -> BootPartitionError + '_ {
        move |source| BootPartitionError::Io {
            action,
            disk: self.disk.clone(),
            source,
        }
    }

    /// Whether a file exists (`path` uses `/`, relative to the root; case-insensitive as FAT).
    pub fn exists(&self, path: &str) -> bool {
        self.volume.root_dir().open_file(trim(path)).is_ok()
    }

    /// The 8.3 name (as stored in its directory entry, e.g. `SYSTEM  IMG`) and the size of
    /// the file `name` in the root directory, when it is there.
    pub(crate) fn root_entry(&self, name: &str) -> Option<([u8; 11], u64)> {
        let entry = self
            .volume
            .root_dir()
            .iter()
            .flatten()
            .find(|entry| entry.is_file() && entry.file_name().eq_ignore_ascii_case(name))?;
        let short = entry.short_file_name_as_bytes();
        let (base, extension) = match short.iter().position(|b| *b == b'.') {
            Some(dot) => (&short[..dot], &short[dot + 1..]),
            None => (short, &[][..]),
        };
        if base.len() > 8 || extension.len() > 3 {
            return None;
        }
        let mut stored = [b' '; 11];
        stored[..base.len()].copy_from_slice(base);
        stored[8..8 + extension.len()].copy_from_slice(extension);
        if stored[0] == 0xe5 {
            // A name starting with byte 0xE5 is stored as 0x05 (0xE5 marks deleted entries).
            stored[0] = 0x05;
        }
        Some((stored, entry.len()))
    }

    /// The contents of a file, or `None` when it does not exist.
    pub fn read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let mut file = match self.volume.root_dir().open_file(trim(path)) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(format!("opening {path} on"))(e)),
        };
        let mut data = Vec::new();
        file.read_to_end(&mut data)
            .map_err(self.io(format!("reading {path} on")))?;
        Ok(Some(data))
    }

    /// Copies a file out to `out` (created or replaced).
    pub fn copy_out(&self, path: &str, out: &Path) -> Result<()> {
        let mut file =
            self.volume
                .root_dir()
                .open_file(trim(path))
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::NotFound => BootPartitionError::MissingFile {
                        disk: self.disk.clone(),
                        path: path.to_string(),
                    },
                    _ => self.io(format!("opening {path} on"))(e),
                })?;
        let mut target = File::create(out).map_err(|source| BootPartitionError::Io {
            action: "creating".into(),
            disk: out.to_path_buf(),
            source,
        })?;
        std::io::copy(&mut file, &mut target).map_err(|source| BootPartitionError::Io {
            action: format!("copying {path} from {} to", self.disk.display()),
            disk: out.to_path_buf(),
            source,
        })?;
        Ok(())
    }

    /// Every file on the partition with its size, as `/`-separated paths, depth first.
    pub fn files(&self) -> Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        let mut pending = vec![(String::new(), self.volume.root_dir())];
        while let Some((prefix, dir)) = pending.pop() {
            for entry in dir.iter() {
                let entry = entry.map_err(self.io("listing the boot partition of".into()))?;
                let name = entry.file_name();
                if name == "." || name == ".." {
                    continue;
                }
                let path = format!("{prefix}{name}");
                if entry.is_dir() {
                    pending.push((format!("{path}/"), entry.to_dir()));
                } else {
                    out.push((path, entry.len()));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Writes `path` with the bytes of `source`, replacing an existing file: the data goes to
    /// `<path>.tmp` first, then the old file is removed and the new one renamed into place.
    /// Missing parent directories are created.
    pub fn write(&mut self, path: &str, source: &mut dyn Read) -> Result<()> {
        self.check_writable()?;
        let path = trim(path);
        let (parent, name) = match path.rsplit_once('/') {
            Some((parent, name)) => (parent, name),
            None => ("", path),
        };
        let mut dir = self.volume.root_dir();
        for part in parent.split('/').filter(|p| !p.is_empty()) {
            dir = match dir.open_dir(part) {
                Ok(d) => d,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    self.created_directories = true;
                    dir.create_dir(part)
                        .map_err(self.io(format!("creating {part} on")))?
                }
                Err(e) => return Err(self.io(format!("opening {part} on"))(e)),
            };
        }
        let temp = format!("{name}.tmp");
        let _ = dir.remove(&temp);
        let written = (|| {
            let mut out = dir
                .create_file(&temp)
                .map_err(self.io(format!("creating {parent}/{temp} on")))?;
            out.truncate()
                .map_err(self.io(format!("writing {path} on")))?;
            std::io::copy(source, &mut out).map_err(self.io(format!("writing {path} on")))?;
            out.flush().map_err(self.io(format!("writing {path} on")))
        })();
        if let Err(error) = written {
            // Leave the file system as it was: no half-written temporary file.
            let _ = dir.remove(&temp);
            return Err(error);
        }
        match dir.remove(name) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(self.io(format!("replacing {path} on"))(e)),
        }
        dir.rename(&temp, &dir, name)
            .map_err(self.io(format!("renaming {temp} to {name} on")))?;
        Ok(())
    }

    /// Bytes free for files, counted in whole clusters.
    pub fn free_bytes(&self) -> Result<u64> {
        let stats = self
            .volume
            .stats()
            .map_err(self.io("measuring the free space of".into()))?;
        Ok(u64::from(stats.free_clusters()) * u64::from(stats.cluster_size()))
    }

    /// The space `bytes` of file content take on this file system: whole clusters.
    pub fn space_for(&self, bytes: u64) -> Result<u64> {
        let cluster = u64::from(
            self.volume
                .stats()
                .map_err(self.io("measuring the free space of".into()))?
                .cluster_size(),
        );
        Ok(bytes.div_ceil(cluster) * cluster)
    }

    /// Removes a file. Returns whether it existed.
    pub fn remove(&mut self, path: &str) -> Result<bool> {
        self.check_writable()?;
        match self.volume.root_dir().remove(trim(path)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.io(format!("removing {path} on"))(e)),
        }
    }

    fn check_writable(&self) -> Result<()> {
        if self.writable {
            return Ok(());
        }
        Err(BootPartitionError::Io {
            action: "changing files on".into(),
            disk: self.disk.clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                "the boot partition was opened read-only",
            ),
        })
    }

    /// Writes every pending change to the disk and flushes it to stable storage.
    pub fn close(self) -> Result<()> {
        let Self {
            disk,
            location,
            volume,
            disk_file: mut file,
            writable,
            created_directories,
        } = self;
        if !writable {
            drop(volume);
            return Ok(());
        }
        let io = |action: &str| {
            let action = action.to_string();
            let disk = disk.clone();
            move |source| BootPartitionError::Io {
                action,
                disk,
                source,
            }
        };
        volume
            .unmount()
            .map_err(io("writing the FAT file system of"))?;
        if created_directories {
            fix_dot_entries(&mut file, location.offset).map_err(io("finishing directories on"))?;
        }
        file.sync_all().map_err(io("flushing"))?;
        Ok(())
    }
}

/// Opens a disk image file, or a block device (through UDisks2 when the user may not open
/// the node: polkit decides, and may ask for a password).
pub(crate) fn open_disk(disk: &Path, writable: bool) -> Result<File> {
    if crate::drive::is_block_device(disk) {
        return Ok(genpack_drive::open_block_device(disk, writable)?);
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(writable)
        .open(disk)
        .map_err(|source| BootPartitionError::Io {
            action: "opening".into(),
            disk: disk.to_path_buf(),
            source,
        })
}

fn trim(path: &str) -> &str {
    path.trim_start_matches('/')
}

/// Finds the FAT file system: a superfloppy, else the first FAT partition of a GPT or MBR.
pub fn locate(disk: &mut File, path: &Path) -> Result<PartitionLocation> {
    let io = |action: &str| {
        let action = action.to_string();
        let disk = path.to_path_buf();
        move |source| BootPartitionError::Io {
            action,
            disk,
            source,
        }
    };
    let disk_size = disk
        .seek(SeekFrom::End(0))
        .map_err(io("finding the size of"))?;
    let mut sector0 = [0u8; 512];
    read_at(disk, 0, &mut sector0).map_err(io("reading"))?;
    if is_fat_boot_sector(&sector0) {
        return Ok(PartitionLocation {
            table: None,
            number: 0,
            offset: 0,
            size: disk_size,
        });
    }
    let not_found = |found: &str| BootPartitionError::NotFound {
        disk: path.to_path_buf(),
        found: found.to_string(),
    };
    if sector0[510..512] != [0x55, 0xaa] {
        return Err(not_found("no partition table and no FAT file system"));
    }
    let entries: Vec<(u8, u64, u64)> = (0..4)
        .map(|i| {
            let e = &sector0[446 + 16 * i..446 + 16 * (i + 1)];
            let start = u32::from_le_bytes([e[8], e[9], e[10], e[11]]) as u64;
            let count = u32::from_le_bytes([e[12], e[13], e[14], e[15]]) as u64;
            (e[4], start, count)
        })
        .collect();
    if entries.iter().any(|(kind, _, _)| *kind == MBR_PROTECTIVE) {
        for sector_size in [512u64, 4096] {
            if let Some(found) = locate_gpt(disk, sector_size).map_err(io("reading the GPT of"))? {
                return Ok(found);
            }
        }
        return Err(not_found("a GPT without a FAT partition"));
    }
    // MBR LBAs count logical sectors: 512 bytes, or 4096 on a 4Kn disk.
    for sector_size in [512u64, 4096] {
        for (index, (kind, start, count)) in entries.iter().enumerate() {
            if !MBR_FAT_TYPES.contains(kind) || *count == 0 {
                continue;
            }
            let offset = start * sector_size;
            let size = count * sector_size;
            if offset + size > disk_size {
                continue;
            }
            let mut boot = [0u8; 512];
            read_at(disk, offset, &mut boot).map_err(io("reading"))?;
            if is_fat_boot_sector(&boot) && fat_sector_size(&boot) >= sector_size {
                return Ok(PartitionLocation {
                    table: Some(PartitionTable::Mbr),
                    number: index as u32 + 1,
                    offset,
                    size,
                });
            }
        }
    }
    Err(not_found("an MBR partition table without a FAT partition"))
}

/// Every partition of `disk`'s MBR or GPT: `(number from 1, byte offset)`, whatever it holds.
/// Empty for a superfloppy or a disk without a partition table.
pub(crate) fn partition_offsets(disk: &mut File) -> std::io::Result<Vec<(u32, u64)>> {
    let mut sector0 = [0u8; 512];
    read_at(disk, 0, &mut sector0)?;
    if is_fat_boot_sector(&sector0) || sector0[510..512] != [0x55, 0xaa] {
        return Ok(Vec::new());
    }
    let entries: Vec<(u8, u64)> = (0..4)
        .map(|i| {
            let e = &sector0[446 + 16 * i..446 + 16 * (i + 1)];
            (e[4], u32::from_le_bytes([e[8], e[9], e[10], e[11]]) as u64)
        })
        .collect();
    if entries.iter().any(|(kind, _)| *kind == MBR_PROTECTIVE) {
        for sector in [512u64, 4096] {
            let mut header = vec![0u8; sector as usize];
            read_at(disk, sector, &mut header)?;
            if &header[..8] != GPT_SIGNATURE {
                continue;
            }
            let u32_at = |o: usize| {
                u32::from_le_bytes([header[o], header[o + 1], header[o + 2], header[o + 3]])
            };
            let mut lba = [0u8; 8];
            lba.copy_from_slice(&header[72..80]);
            let table_lba = u64::from_le_bytes(lba);
            let count = u32_at(80).min(1024) as usize;
            let entry_size = u32_at(84) as usize;
            if !(128..=4096).contains(&entry_size) {
                return Ok(Vec::new());
            }
            let mut table = vec![0u8; count * entry_size];
            read_at(disk, table_lba * sector, &mut table)?;
            let mut found = Vec::new();
            for (index, entry) in table.chunks(entry_size).enumerate() {
                if entry[..16].iter().all(|b| *b == 0) {
                    continue;
                }
                let mut first = [0u8; 8];
                first.copy_from_slice(&entry[32..40]);
                found.push((index as u32 + 1, u64::from_le_bytes(first) * sector));
            }
            return Ok(found);
        }
        return Ok(Vec::new());
    }
    // MBR start sectors are logical sectors: the boot partition's FAT tells their size.
    let sector = match locate(disk, Path::new("")) {
        Ok(boot) if boot.table == Some(PartitionTable::Mbr) => {
            let start = (boot.number as usize)
                .checked_sub(1)
                .and_then(|index| entries.get(index))
                .map_or(0, |(_, start)| *start);
            boot.offset.checked_div(start).unwrap_or(512)
        }
        _ => 512,
    };
    Ok(entries
        .iter()
        .enumerate()
        .filter(|(_, (kind, start))| *kind != 0 && *start > 0)
        .map(|(index, (_, start))| (index as u32 + 1, start * sector))
        .collect())
}

fn locate_gpt(disk: &mut File, sector: u64) -> std::io::Result<Option<PartitionLocation>> {
    let mut header = vec![0u8; sector as usize];
    read_at(disk, sector, &mut header)?;
    if &header[..8] != GPT_SIGNATURE {
        return Ok(None);
    }
    let u32_at =
        |o: usize| u32::from_le_bytes([header[o], header[o + 1], header[o + 2], header[o + 3]]);
    let u64_at = |o: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&header[o..o + 8]);
        u64::from_le_bytes(b)
    };
    let table_lba = u64_at(72);
    let count = u32_at(80).min(1024) as usize;
    let entry_size = u32_at(84) as usize;
    if !(128..=4096).contains(&entry_size) {
        return Ok(None);
    }
    let mut table = vec![0u8; count * entry_size];
    read_at(disk, table_lba * sector, &mut table)?;
    for (index, entry) in table.chunks(entry_size).enumerate() {
        if entry[..16].iter().all(|b| *b == 0) {
            continue;
        }
        let mut first = [0u8; 8];
        first.copy_from_slice(&entry[32..40]);
        let mut last = [0u8; 8];
        last.copy_from_slice(&entry[40..48]);
        let (first, last) = (u64::from_le_bytes(first), u64::from_le_bytes(last));
        if last < first {
            continue;
        }
        let mut boot = [0u8; 512];
        read_at(disk, first * sector, &mut boot)?;
        if is_fat_boot_sector(&boot) {
            return Ok(Some(PartitionLocation {
                table: Some(PartitionTable::Gpt),
                number: index as u32 + 1,
                offset: first * sector,
                size: (last - first + 1) * sector,
            }));
        }
    }
    Ok(None)
}

/// The sector size in a FAT boot sector's BIOS parameter block.
fn fat_sector_size(sector: &[u8; 512]) -> u64 {
    u16::from_le_bytes([sector[11], sector[12]]) as u64
}

/// A FAT boot sector: jump instruction, sane BIOS parameter block, 0x55AA.
fn is_fat_boot_sector(sector: &[u8; 512]) -> bool {
    let bytes_per_sector = fat_sector_size(sector);
    let per_cluster = sector[13];
    let reserved = u16::from_le_bytes([sector[14], sector[15]]);
    let fats = sector[16];
    (sector[0] == 0xeb || sector[0] == 0xe9)
        && sector[510..512] == [0x55, 0xaa]
        && matches!(bytes_per_sector, 512 | 1024 | 2048 | 4096)
        && per_cluster.is_power_of_two()
        && reserved > 0
        && (1..=2).contains(&fats)
}

fn read_at(disk: &mut File, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
    disk.seek(SeekFrom::Start(offset))?;
    disk.read_exact(buf)
}

/// Refuses a block device that is mounted, itself or through one of its partitions.
fn refuse_in_use(disk: &Path) -> Result<()> {
    let found = crate::in_use::check(disk).map_err(|source| BootPartitionError::Io {
        action: "checking what uses".into(),
        disk: disk.to_path_buf(),
        source,
    })?;
    match found {
        Some(reason) => Err(BootPartitionError::InUse {
            disk: disk.to_path_buf(),
            reason,
        }),
        None => Ok(()),
    }
}
