//! The FAT32 boot file system, formatted and filled in user space with fatfs.

use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::Path;

use fscommon::{BufStream, StreamSlice};

use crate::error::InstallError;
use crate::label::VolumeLabel;
use crate::layout::Extent;
use crate::Result;

/// A FAT volume serial number, shown as `ABCD-1234` (as blkid and GRUB print it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolumeId(pub u32);

impl VolumeId {
    /// A fresh random id (from the kernel's random source).
    pub fn random() -> std::io::Result<Self> {
        let mut bytes = [0u8; 4];
        File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        Ok(Self(u32::from_le_bytes(bytes)))
    }
}

impl fmt::Display for VolumeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}-{:04X}", self.0 >> 16, self.0 & 0xffff)
    }
}

/// A file to put on the boot partition.
pub(crate) enum Content<'a> {
    /// Bytes in memory.
    Bytes(&'a [u8]),
    /// A file on this machine.
    File(&'a Path),
}

/// Formats `[start, end)` of `disk` as FAT with 512-byte sectors (FAT32 unless the range is
/// too small for it) with `label` and `volume_id`, then writes `files` (paths with `/`,
/// parents created).
pub(crate) fn write_boot_fs(
    disk: &Path,
    start: u64,
    end: u64,
    label: &VolumeLabel,
    volume_id: VolumeId,
    files: &[(&str, Content<'_>)],
) -> Result<()> {
    write_fat(disk, start..end, 512, false, label, volume_id, files)
}

/// Formats `extent` of `disk` as FAT32 with `sector_size`-byte sectors (the disk's logical
/// sector size: Linux mounts no FAT with smaller sectors than its device's), then writes
/// `files` like [`write_boot_fs`]. An extent too small for FAT32's 65525 clusters is refused.
pub(crate) fn write_fat32_boot_fs(
    disk: &Path,
    extent: Extent,
    sector_size: u64,
    label: &VolumeLabel,
    volume_id: VolumeId,
    files: &[(&str, Content<'_>)],
) -> Result<()> {
    let sector_size = u16::try_from(sector_size)
        .ok()
        .filter(|s| s.is_power_of_two() && (512..=4096).contains(s))
        .ok_or_else(|| InstallError::SectorSize {
            disk: disk.to_path_buf(),
            message: format!("a FAT file system cannot have {sector_size}-byte sectors"),
        })?;
    write_fat(
        disk,
        extent.offset..extent.end(),
        sector_size,
        true,
        label,
        volume_id,
        files,
    )
}

fn write_fat(
    disk: &Path,
    range: Range<u64>,
    sector_size: u16,
    fat32_only: bool,
    label: &VolumeLabel,
    volume_id: VolumeId,
    files: &[(&str, Content<'_>)],
) -> Result<()> {
    let Range { start, end } = range;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(disk)
        .map_err(InstallError::io("opening", disk))?;
    let mut slice = StreamSlice::new(file, start, end)
        .map_err(InstallError::io("opening partition of", disk))?;
    format_fat32(&mut slice, sector_size, None, label, volume_id)
        .map_err(InstallError::io("formatting FAT32 in", disk))?;
    slice
        .seek(SeekFrom::Start(0))
        .map_err(InstallError::io("seeking in", disk))?;
    let fs = fatfs::FileSystem::new(BufStream::new(slice), fatfs::FsOptions::new())
        .map_err(InstallError::io("opening the new FAT file system in", disk))?;
    if fat32_only && fs.fat_type() != fatfs::FatType::Fat32 {
        return Err(InstallError::Layout {
            disk: disk.to_path_buf(),
            message: format!(
                "the boot partition ({} bytes) is too small for FAT32 with {sector_size}-byte \
                 sectors",
                end - start
            ),
        });
    }
    let root = fs.root_dir();
    for (path, content) in files {
        let mut dir = root.clone();
        let mut parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let name = parts.pop().unwrap_or_default();
        for part in parts {
            dir = dir
                .create_dir(part)
                .map_err(InstallError::io("creating a directory in", disk))?;
        }
        let mut out = dir
            .create_file(name)
            .map_err(InstallError::io("creating a file in", disk))?;
        out.truncate().map_err(InstallError::io("writing", disk))?;
        match content {
            Content::Bytes(bytes) => out
                .write_all(bytes)
                .map_err(InstallError::io("writing", disk))?,
            Content::File(source) => {
                let mut input = File::open(source).map_err(InstallError::io("reading", *source))?;
                let mut buf = vec![0u8; 1 << 20];
                loop {
                    let n = input
                        .read(&mut buf)
                        .map_err(InstallError::io("reading", *source))?;
                    if n == 0 {
                        break;
                    }
                    out.write_all(&buf[..n])
                        .map_err(InstallError::io("writing", disk))?;
                }
            }
        }
        out.flush().map_err(InstallError::io("writing", disk))?;
    }
    drop(root);
    fs.unmount()
        .map_err(InstallError::io("finishing the FAT file system in", disk))?;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(disk)
        .map_err(InstallError::io("opening", disk))?;
    fix_dot_entries(&mut file, start)
        .map_err(InstallError::io("finishing directories in", disk))?;
    file.sync_all()
        .map_err(InstallError::io("flushing", disk))?;
    Ok(())
}

/// Formats `volume` (a partition, or a whole superfloppy) as FAT32 with `sector_size`-byte
/// sectors. `sectors` limits the file system to that many sectors (a restored stick's
/// partition); by default it fills the stream.
pub(crate) fn format_fat32<V: Read + Write + Seek>(
    volume: &mut V,
    sector_size: u16,
    sectors: Option<u32>,
    label: &VolumeLabel,
    volume_id: VolumeId,
) -> std::io::Result<()> {
    let mut options = fatfs::FormatVolumeOptions::new()
        .fat_type(fatfs::FatType::Fat32)
        .bytes_per_sector(sector_size)
        .volume_label(label.to_bytes())
        .volume_id(volume_id.0);
    if let Some(sectors) = sectors {
        options = options.total_sectors(sectors);
    }
    fatfs::format_volume(&mut *volume, options)?;
    volume.flush()
}

const ENTRY: usize = 32;
const ATTR_DIRECTORY: u8 = 0x10;
const ATTR_LFN: u8 = 0x0f;
const DELETED: u8 = 0xe5;

/// fatfs 0.3 writes long-name entries in front of the `.` and `..` entries of a new
/// directory. FAT requires `.` and `..` to be the first two slots (fsck.fat "repairs" such
/// directories by renaming entries), so every directory below the root of the FAT32 volume
/// starting at `base` is rewritten with `.` and `..` first and those long names dropped.
pub(crate) fn fix_dot_entries<D: Read + Write + Seek>(
    disk: &mut D,
    base: u64,
) -> std::io::Result<()> {
    let (geometry, root) = Geometry::read(disk, base)?;
    // (directory, its parent is the root directory)
    let mut pending = vec![(root, false)];
    let mut seen = std::collections::HashSet::new();
    while let Some((dir, parent_is_root)) = pending.pop() {
        if !seen.insert(dir) {
            continue;
        }
        if dir != root {
            geometry.fix_directory(disk, dir, parent_is_root)?;
        }
        for cluster in geometry.chain(disk, dir)? {
            let data = geometry.read_cluster(disk, cluster)?;
            for entry in data.chunks(ENTRY) {
                if entry[0] == 0 {
                    break;
                }
                let attr = entry[11];
                let is_dot = entry[0] == b'.';
                if entry[0] != DELETED && attr != ATTR_LFN && attr & ATTR_DIRECTORY != 0 && !is_dot
                {
                    let hi = u16::from_le_bytes([entry[20], entry[21]]) as u32;
                    let lo = u16::from_le_bytes([entry[26], entry[27]]) as u32;
                    let first = (hi << 16) | lo;
                    if first >= 2 {
                        pending.push((first, dir == root));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Where the clusters of a file in the root directory of the FAT32 volume at `base` lie on the
/// disk: `(disk offset, length)` runs in file order covering exactly the file's size, found by
/// the file's 8.3 name (`short_name` as stored in the entry, e.g. `b"SYSTEM  IMG"`). `None` when
/// the root directory has no such file.
pub(crate) fn root_file_extents<D: Read + Seek>(
    disk: &mut D,
    base: u64,
    short_name: &[u8; 11],
) -> std::io::Result<Option<Vec<(u64, u64)>>> {
    let (geometry, root) = Geometry::read(disk, base)?;
    let mut found = None;
    'search: for cluster in geometry.chain(disk, root)? {
        let data = geometry.read_cluster(disk, cluster)?;
        for entry in data.chunks(ENTRY) {
            if entry[0] == 0 {
                break 'search;
            }
            let attr = entry[11];
            if entry[0] == DELETED || attr == ATTR_LFN || attr & (ATTR_DIRECTORY | 0x08) != 0 {
                continue;
            }
            if &entry[..11] == short_name {
                let hi = u16::from_le_bytes([entry[20], entry[21]]) as u32;
                let lo = u16::from_le_bytes([entry[26], entry[27]]) as u32;
                let size = u32::from_le_bytes([entry[28], entry[29], entry[30], entry[31]]);
                found = Some(((hi << 16) | lo, size as u64));
                break 'search;
            }
        }
    }
    let Some((first, size)) = found else {
        return Ok(None);
    };
    let cluster_size = geometry.cluster_size();
    let mut runs: Vec<(u64, u64)> = Vec::new();
    let mut left = size;
    for cluster in geometry.chain(disk, first)? {
        if left == 0 {
            break;
        }
        let length = left.min(cluster_size);
        let offset = geometry.cluster_offset(cluster);
        match runs.last_mut() {
            Some((start, len)) if *start + *len == offset => *len += length,
            _ => runs.push((offset, length)),
        }
        left -= length;
    }
    if left > 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the file's cluster chain is shorter than its size (run fsck.fat on the stick)",
        ));
    }
    Ok(Some(runs))
}

struct Geometry {
    base: u64,
    bytes_per_sector: u64,
    sectors_per_cluster: u64,
    reserved: u64,
    fats: u64,
    fat_sectors: u64,
}

impl Geometry {
    /// The geometry of the FAT32 volume at `base` and its root directory's first cluster.
    fn read<D: Read + Seek>(disk: &mut D, base: u64) -> std::io::Result<(Self, u32)> {
        let mut boot = [0u8; 512];
        disk.seek(SeekFrom::Start(base))?;
        disk.read_exact(&mut boot)?;
        let u16_at = |o: usize| u16::from_le_bytes([boot[o], boot[o + 1]]) as u64;
        let u32_at =
            |o: usize| u32::from_le_bytes([boot[o], boot[o + 1], boot[o + 2], boot[o + 3]]) as u64;
        let geometry = Geometry {
            base,
            bytes_per_sector: u16_at(11),
            sectors_per_cluster: boot[13] as u64,
            reserved: u16_at(14),
            fats: boot[16] as u64,
            fat_sectors: u32_at(36),
        };
        if geometry.bytes_per_sector == 0
            || geometry.sectors_per_cluster == 0
            || geometry.fat_sectors == 0
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not a FAT32 boot sector",
            ));
        }
        Ok((geometry, u32_at(44) as u32))
    }

    fn cluster_size(&self) -> u64 {
        self.bytes_per_sector * self.sectors_per_cluster
    }

    fn cluster_offset(&self, cluster: u32) -> u64 {
        let data = (self.reserved + self.fats * self.fat_sectors) * self.bytes_per_sector;
        self.base + data + (cluster as u64 - 2) * self.cluster_size()
    }

    fn read_cluster<D: Read + Seek>(&self, disk: &mut D, cluster: u32) -> std::io::Result<Vec<u8>> {
        let mut data = vec![0u8; self.cluster_size() as usize];
        disk.seek(SeekFrom::Start(self.cluster_offset(cluster)))?;
        disk.read_exact(&mut data)?;
        Ok(data)
    }

    fn chain<D: Read + Seek>(&self, disk: &mut D, first: u32) -> std::io::Result<Vec<u32>> {
        let mut chain = Vec::new();
        let mut cluster = first;
        while (2..0x0fff_fff8).contains(&cluster) && chain.len() < 1 << 20 {
            chain.push(cluster);
            let mut entry = [0u8; 4];
            disk.seek(SeekFrom::Start(
                self.base + self.reserved * self.bytes_per_sector + cluster as u64 * 4,
            ))?;
            disk.read_exact(&mut entry)?;
            cluster = u32::from_le_bytes(entry) & 0x0fff_ffff;
        }
        Ok(chain)
    }

    fn fix_directory<D: Read + Write + Seek>(
        &self,
        disk: &mut D,
        first: u32,
        parent_is_root: bool,
    ) -> std::io::Result<()> {
        let data = self.read_cluster(disk, first)?;
        let entries: Vec<&[u8]> = data.chunks(ENTRY).collect();
        let is_dot = |e: &[u8]| e[11] != ATTR_LFN && &e[..11] == b".          ";
        let is_dotdot = |e: &[u8]| e[11] != ATTR_LFN && &e[..11] == b"..         ";
        let (Some(dot), Some(dotdot)) = (
            entries.iter().position(|e| is_dot(e)),
            entries.iter().position(|e| is_dotdot(e)),
        ) else {
            return Ok(());
        };
        // Long-name entries directly in front of `.` and `..` belong to them.
        let mut drop = vec![false; entries.len()];
        for special in [dot, dotdot] {
            drop[special] = true;
            let mut i = special;
            while i > 0 && entries[i - 1][11] == ATTR_LFN && entries[i - 1][0] != DELETED {
                i -= 1;
                drop[i] = true;
            }
        }
        let dropped = drop.iter().filter(|d| **d).count();
        // `.`, `..`, the freed slots as deleted entries, then everything else in place, so
        // long-name runs that continue into the next cluster stay intact.
        let mut out: Vec<u8> = Vec::with_capacity(data.len());
        out.extend_from_slice(entries[dot]);
        let mut parent = entries[dotdot].to_vec();
        if parent_is_root {
            // FAT: `..` of a directory in the root points to cluster 0.
            parent[20..22].fill(0);
            parent[26..28].fill(0);
        }
        out.extend_from_slice(&parent);
        for _ in 2..dropped {
            let mut free = [0u8; ENTRY];
            free[0] = DELETED;
            out.extend_from_slice(&free);
        }
        for (i, entry) in entries.iter().enumerate() {
            if !drop[i] {
                out.extend_from_slice(entry);
            }
        }
        if out == data {
            return Ok(());
        }
        disk.seek(SeekFrom::Start(self.cluster_offset(first)))?;
        disk.write_all(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_pass_fsck_needs_dosfstools() {
        if !Path::new("/sbin/fsck.fat").exists() && !Path::new("/usr/sbin/fsck.fat").exists() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let disk = dir.path().join("fat.img");
        std::fs::write(&disk, vec![0u8; 80 << 20]).unwrap();
        let payload = dir.path().join("payload");
        std::fs::write(&payload, vec![7u8; 300_000]).unwrap();
        let names: Vec<String> = (0..40)
            .map(|i| format!("EFI/BOOT/file-with-a-long-name-{i}.txt"))
            .collect();
        let mut files: Vec<(&str, Content<'_>)> =
            vec![("EFI/BOOT/BOOTX64.EFI", Content::Bytes(b"MZ"))];
        for name in &names {
            files.push((name, Content::Bytes(b"x")));
        }
        files.push(("system.img", Content::File(&payload)));
        write_boot_fs(
            &disk,
            0,
            80 << 20,
            &VolumeLabel::known("GENPACK"),
            VolumeId(0x1234_abcd),
            &files,
        )
        .unwrap();
        let out = std::process::Command::new("fsck.fat")
            .arg("-n")
            .arg(&disk)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let fs =
            fatfs::FileSystem::new(std::fs::File::open(&disk).unwrap(), fatfs::FsOptions::new())
                .unwrap();
        assert_eq!(fs.volume_id(), 0x1234_abcd);
        assert_eq!(fs.volume_label(), "GENPACK");
        let boot = fs.root_dir().open_dir("EFI/BOOT").unwrap();
        let count = boot
            .iter()
            .filter(|e| e.as_ref().map(|e| e.is_file()).unwrap_or(false))
            .count();
        assert_eq!(count, 41);
        let mut data = Vec::new();
        fs.root_dir()
            .open_file("system.img")
            .unwrap()
            .read_to_end(&mut data)
            .unwrap();
        assert_eq!(data.len(), 300_000);
    }

    /// The BIOS parameter block fields a FAT driver checks first.
    fn geometry_of(image: &Path) -> (u64, u64, u64) {
        let mut boot = [0u8; 512];
        std::fs::File::open(image)
            .unwrap()
            .read_exact(&mut boot)
            .unwrap();
        let bytes_per_sector = u16::from_le_bytes([boot[11], boot[12]]) as u64;
        let reserved = u16::from_le_bytes([boot[14], boot[15]]) as u64;
        let total = u32::from_le_bytes(boot[32..36].try_into().unwrap()) as u64;
        let fat = u32::from_le_bytes(boot[36..40].try_into().unwrap()) as u64;
        let clusters = (total - reserved - boot[16] as u64 * fat) / boot[13] as u64;
        (bytes_per_sector, boot[13] as u64, clusters)
    }

    #[test]
    fn boot_fs_for_4kn_disks_is_fat32_with_4096_byte_sectors() {
        let dir = tempfile::tempdir().unwrap();
        let disk = dir.path().join("fat.img");
        let size = crate::layout::MIN_BOOT_4KN;
        std::fs::File::create(&disk).unwrap().set_len(size).unwrap();
        let extent = Extent { offset: 0, size };
        let files = [("EFI/BOOT/BOOTX64.EFI", Content::Bytes(b"MZ"))];
        write_fat32_boot_fs(
            &disk,
            extent,
            4096,
            &VolumeLabel::known("GENPACK"),
            VolumeId(7),
            &files,
        )
        .unwrap();
        let (bytes_per_sector, per_cluster, clusters) = geometry_of(&disk);
        assert_eq!(bytes_per_sector, 4096);
        assert_eq!(per_cluster, 1);
        assert!(clusters >= 65525, "{clusters} clusters is FAT16, not FAT32");
        let fs =
            fatfs::FileSystem::new(std::fs::File::open(&disk).unwrap(), fatfs::FsOptions::new())
                .unwrap();
        assert_eq!(fs.fat_type(), fatfs::FatType::Fat32);
        assert!(fs.root_dir().open_file("EFI/BOOT/BOOTX64.EFI").is_ok());
        drop(fs);
        if Path::new("/usr/sbin/fsck.fat").exists() || Path::new("/sbin/fsck.fat").exists() {
            let out = std::process::Command::new("fsck.fat")
                .arg("-n")
                .arg(&disk)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{text}");
            assert!(!text.contains("Warning"), "{text}");
        }
    }

    #[test]
    fn fat32_with_4096_byte_sectors_refuses_too_few_clusters() {
        let dir = tempfile::tempdir().unwrap();
        let disk = dir.path().join("fat.img");
        let size = 128 << 20;
        std::fs::File::create(&disk).unwrap().set_len(size).unwrap();
        let extent = Extent { offset: 0, size };
        let err = write_fat32_boot_fs(
            &disk,
            extent,
            4096,
            &VolumeLabel::known("GENPACK"),
            VolumeId(7),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("too small for FAT32"), "{err}");
        let err = write_fat32_boot_fs(
            &disk,
            extent,
            1000,
            &VolumeLabel::known("GENPACK"),
            VolumeId(7),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("1000-byte sectors"), "{err}");
    }

    #[test]
    fn volume_id_prints_like_blkid() {
        assert_eq!(VolumeId(0x1234_abcd).to_string(), "1234-ABCD");
        assert_eq!(VolumeId(0x0000_000f).to_string(), "0000-000F");
    }
}
