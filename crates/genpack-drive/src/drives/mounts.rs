//! What is mounted where: `/proc/self/mountinfo` and `/proc/swaps`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::DriveError;

/// One line of `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    /// `major:minor` of the mounted filesystem (major 0 for btrfs, overlay, tmpfs...).
    pub dev: (u32, u32),
    pub mount_point: PathBuf,
    pub fs_type: String,
    /// The mount source, usually a device node (`/dev/sda1`) or a name (`overlay`).
    pub source: String,
    pub super_options: String,
}

/// The mount table of this process plus active swap areas.
#[derive(Debug, Clone, Default)]
pub(crate) struct MountTable {
    pub mounts: Vec<Mount>,
    pub swaps: Vec<PathBuf>,
}

impl MountTable {
    /// Reads the current tables. A missing `/proc/swaps` means no swap.
    pub fn read() -> Result<MountTable, DriveError> {
        let path = Path::new("/proc/self/mountinfo");
        let text = fs::read_to_string(path).map_err(|source| DriveError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let swaps = fs::read_to_string("/proc/swaps")
            .map(|text| parse_swaps(&text))
            .unwrap_or_default();
        Ok(MountTable {
            mounts: parse_mountinfo(&text),
            swaps,
        })
    }

    /// Where the block device `devnode` (number `dev`) is mounted or used as swap.
    pub fn uses_of(&self, dev: (u32, u32), devnode: &Path) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = self
            .mounts
            .iter()
            .filter(|m| m.dev == dev || same_node(Path::new(&m.source), devnode))
            .map(|m| m.mount_point.clone())
            .collect();
        if self.swaps.iter().any(|s| same_node(s, devnode)) {
            found.push(PathBuf::from("[SWAP]"));
        }
        found.dedup();
        found
    }

    /// The mount this process sees at `/` (the last one stacked there).
    pub fn root(&self) -> Option<&Mount> {
        self.mounts
            .iter()
            .rev()
            .find(|m| m.mount_point == Path::new("/"))
    }
}

fn same_node(a: &Path, b: &Path) -> bool {
    if !a.starts_with("/dev") {
        return false;
    }
    a == b || matches!((fs::canonicalize(a), fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}

/// Parses mountinfo text; malformed lines are skipped.
pub(crate) fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let fields: Vec<&str> = left.split(' ').collect();
    let (major, minor) = fields.get(2)?.split_once(':')?;
    let mount_point = PathBuf::from(unescape(fields.get(4)?));
    let mut rest = right.split(' ');
    let fs_type = rest.next()?.to_string();
    let source = unescape(rest.next()?);
    let super_options = rest.next().unwrap_or("").to_string();
    Some(Mount {
        dev: (major.parse().ok()?, minor.parse().ok()?),
        mount_point,
        fs_type,
        source,
        super_options,
    })
}

fn parse_swaps(text: &str) -> Vec<PathBuf> {
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .map(|s| PathBuf::from(unescape(s)))
        .collect()
}

/// Undoes the kernel's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            if digits.iter().all(|d| (b'0'..=b'7').contains(d)) {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                if let Ok(value) = u8::try_from(value) {
                    out.push(value);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
40 27 8:17 / /media/my\\040stick rw - vfat /dev/sdb1 rw
41 27 0:45 / /srv rw - btrfs /dev/sdc2 rw,space_cache
";

    #[test]
    fn parses_devices_sources_and_escaped_mount_points() {
        let mounts = parse_mountinfo(SAMPLE);
        assert_eq!(mounts.len(), 3);
        assert_eq!(mounts[0].dev, (254, 0));
        assert_eq!(mounts[1].mount_point, PathBuf::from("/media/my stick"));
        assert_eq!(mounts[2].source, "/dev/sdc2");
        assert_eq!(mounts[2].fs_type, "btrfs");
    }

    #[test]
    fn finds_uses_by_number_and_by_source_and_swap() {
        let table = MountTable {
            mounts: parse_mountinfo(SAMPLE),
            swaps: vec![PathBuf::from("/dev/sdd3")],
        };
        assert_eq!(table.root().map(|m| m.dev), Some((254, 0)));
        assert_eq!(
            table.uses_of((8, 17), Path::new("/dev/sdb1")),
            vec![PathBuf::from("/media/my stick")]
        );
        // btrfs reports an anonymous device number: matched through the source.
        assert_eq!(
            table.uses_of((8, 34), Path::new("/dev/sdc2")),
            vec![PathBuf::from("/srv")]
        );
        assert_eq!(
            table.uses_of((8, 51), Path::new("/dev/sdd3")),
            vec![PathBuf::from("[SWAP]")]
        );
        assert!(table.uses_of((8, 1), Path::new("/dev/sda1")).is_empty());
    }
}
