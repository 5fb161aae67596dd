//! Block devices seen through /sys/class/block, and the few superblock fields the
//! initramfs needs (FAT volume id and label, ext4/btrfs/xfs labels, ISO 9660, SquashFS).

use std::fs;
use std::io::Read;
use std::path::PathBuf;

/// A disk or partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockDevice {
    /// Kernel name, e.g. `sda1`, `vda`, `nvme0n1p2`.
    pub name: String,
    /// Device node, e.g. `/dev/sda1`.
    pub node: PathBuf,
    /// The disk a partition belongs to (None for whole disks).
    pub parent: Option<String>,
    /// Partition number (None for whole disks).
    pub partition: Option<u32>,
}

/// A filesystem recognised from its superblock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Filesystem {
    /// FAT12/16/32 with its volume id (`XXXX-XXXX`) and label.
    Fat { volume_id: String, label: String },
    /// ext2/3/4.
    Ext { label: String },
    /// btrfs.
    Btrfs { label: String },
    /// XFS.
    Xfs { label: String },
    /// ISO 9660 (CD/DVD, hybrid ISO).
    Iso9660,
    /// SquashFS.
    Squashfs,
}

impl Filesystem {
    /// The name to pass to mount(2).
    pub fn mount_type(&self) -> &'static str {
        match self {
            Filesystem::Fat { .. } => "vfat",
            Filesystem::Ext { .. } => "ext4",
            Filesystem::Btrfs { .. } => "btrfs",
            Filesystem::Xfs { .. } => "xfs",
            Filesystem::Iso9660 => "iso9660",
            Filesystem::Squashfs => "squashfs",
        }
    }

    /// The filesystem label, if the filesystem has one.
    pub fn label(&self) -> Option<&str> {
        match self {
            Filesystem::Fat { label, .. }
            | Filesystem::Ext { label }
            | Filesystem::Btrfs { label }
            | Filesystem::Xfs { label } => Some(label),
            _ => None,
        }
    }
}

/// All block devices currently known to the kernel, sorted by name.
pub fn list() -> Vec<BlockDevice> {
    let Ok(entries) = fs::read_dir("/sys/class/block") else {
        return Vec::new();
    };
    let mut devices: Vec<BlockDevice> = entries
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let sys = e.path();
            let partition = fs::read_to_string(sys.join("partition"))
                .ok()
                .and_then(|p| p.trim().parse().ok());
            let parent = partition.and_then(|_| {
                fs::canonicalize(&sys)
                    .ok()?
                    .parent()?
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
            });
            BlockDevice {
                node: PathBuf::from("/dev").join(&name),
                name,
                parent,
                partition,
            }
        })
        .filter(|d| !d.name.starts_with("ram") && !d.name.starts_with("zram"))
        .collect();
    devices.sort_by(|a, b| a.name.cmp(&b.name));
    devices
}

/// Reads the superblocks of a device and recognises its filesystem.
pub fn probe(device: &BlockDevice) -> Option<Filesystem> {
    let mut file = fs::File::open(&device.node).ok()?;
    let mut head = vec![0u8; 68 * 1024];
    let n = read_up_to(&mut file, &mut head);
    head.truncate(n);
    identify(&head)
}

fn read_up_to(file: &mut fs::File, buf: &mut [u8]) -> usize {
    let mut total = 0;
    while total < buf.len() {
        match file.read(&mut buf[total..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
    total
}

/// Recognises a filesystem from the first 68 KiB of a device.
pub fn identify(head: &[u8]) -> Option<Filesystem> {
    let at = |offset: usize, len: usize| head.get(offset..offset + len);
    if at(0, 4) == Some(b"hsqs") {
        return Some(Filesystem::Squashfs);
    }
    if at(0, 4) == Some(b"XFSB") {
        return Some(Filesystem::Xfs {
            label: text(at(0x6c, 12)?),
        });
    }
    if at(1024 + 0x38, 2) == Some(&[0x53, 0xEF]) {
        return Some(Filesystem::Ext {
            label: text(at(1024 + 0x78, 16)?),
        });
    }
    if at(0x10040, 8) == Some(b"_BHRfS_M") {
        return Some(Filesystem::Btrfs {
            label: text(at(0x1012b, 256)?),
        });
    }
    if at(0x8001, 5) == Some(b"CD001") {
        return Some(Filesystem::Iso9660);
    }
    fat(head)
}

/// FAT boot sector: signature, a FAT type string, then the volume id and label.
fn fat(head: &[u8]) -> Option<Filesystem> {
    if head.get(510..512)? != [0x55, 0xAA] {
        return None;
    }
    let bytes_per_sector = u16::from_le_bytes([head[11], head[12]]);
    if !matches!(bytes_per_sector, 512 | 1024 | 2048 | 4096) {
        return None;
    }
    let sectors_per_fat16 = u16::from_le_bytes([head[0x16], head[0x17]]);
    let (id_offset, label_offset, type_offset) = if sectors_per_fat16 == 0 {
        (0x43, 0x47, 0x52)
    } else {
        (0x27, 0x2B, 0x36)
    };
    if !head.get(type_offset..type_offset + 3)?.starts_with(b"FAT") {
        return None;
    }
    let id = u32::from_le_bytes(head.get(id_offset..id_offset + 4)?.try_into().ok()?);
    Some(Filesystem::Fat {
        volume_id: format!("{:04X}-{:04X}", id >> 16, id & 0xFFFF),
        label: text(head.get(label_offset..label_offset + 11)?),
    })
}

fn text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_a_fat32_volume_id() {
        let mut sector = vec![0u8; 0x11000];
        sector[11..13].copy_from_slice(&512u16.to_le_bytes());
        sector[0x43..0x47].copy_from_slice(&0x1234_ABCDu32.to_le_bytes());
        sector[0x47..0x52].copy_from_slice(b"GENPACK    ");
        sector[0x52..0x57].copy_from_slice(b"FAT32");
        sector[510] = 0x55;
        sector[511] = 0xAA;
        assert_eq!(
            identify(&sector),
            Some(Filesystem::Fat {
                volume_id: "1234-ABCD".into(),
                label: "GENPACK".into()
            })
        );
    }
}
