//! What is mounted where (`/proc/self/mountinfo`, `/proc/swaps`) and which files back loop
//! devices (`/sys/block/loop*/loop/backing_file`).

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One line of `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// `major:minor` of the mounted file system (major 0 for btrfs, overlay, tmpfs...).
    pub dev: (u32, u32),
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// `ext4`, `vfat`, `overlay`...
    pub fs_type: String,
    /// The mount source, usually a device node (`/dev/sda1`) or a name (`overlay`).
    pub source: String,
    /// The file system's own options.
    pub super_options: String,
}

/// The mount table of this process plus the active swap areas.
#[derive(Debug, Clone, Default)]
pub struct MountTable {
    /// Every mount, in the kernel's order (later mounts stack on earlier ones).
    pub mounts: Vec<Mount>,
    /// Active swap files and devices.
    pub swaps: Vec<PathBuf>,
}

impl MountTable {
    /// Reads the current tables. A missing `/proc/swaps` means no swap.
    pub fn read() -> io::Result<MountTable> {
        let text = fs::read_to_string("/proc/self/mountinfo")?;
        let swaps = fs::read_to_string("/proc/swaps")
            .map(|text| parse_swaps(&text))
            .unwrap_or_default();
        Ok(MountTable {
            mounts: parse_mountinfo(&text),
            swaps,
        })
    }

    /// Where the block device `devnode` (number `dev`) is mounted or used as swap (`[SWAP]`).
    /// Devices are matched by number or by resolved node, never by name prefix.
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

    /// Where the regular file `file` is used as swap (`[SWAP]`).
    pub fn swap_file_uses(&self, file: &Path) -> Vec<PathBuf> {
        if self.swaps.iter().any(|s| same_file(s, file)) {
            vec![PathBuf::from("[SWAP]")]
        } else {
            Vec::new()
        }
    }

    /// The mount this process sees at `/` (the last one stacked there).
    pub fn root(&self) -> Option<&Mount> {
        self.mounts
            .iter()
            .rev()
            .find(|m| m.mount_point == Path::new("/"))
    }

    /// Mount points at or below `path`, deepest first.
    pub fn mount_points_below(&self, path: &Path) -> Vec<PathBuf> {
        let base = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let mut found: Vec<PathBuf> = self
            .mounts
            .iter()
            .map(|m| m.mount_point.clone())
            .filter(|mount| mount.starts_with(&base))
            .collect();
        found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        found.dedup();
        found
    }
}

/// A loop device and the file behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoopDevice {
    /// Kernel name, e.g. `loop3`.
    pub name: String,
    /// `/dev/loop3`.
    pub node: PathBuf,
    /// The backing file as the kernel recorded it when the device was set up.
    pub backing_file: PathBuf,
}

/// Every attached loop device whose backing file is `file` (compared by inode, so a renamed
/// or differently spelled path still matches; by recorded path when the file is gone).
pub fn loops_backed_by(file: &Path) -> io::Result<Vec<LoopDevice>> {
    let wanted = fs::metadata(file).ok().map(|m| (m.dev(), m.ino()));
    let canonical = file.canonicalize().ok();
    let mut found = Vec::new();
    for device in attached_loops(Path::new("/sys/block"))? {
        let same = match (wanted, fs::metadata(&device.backing_file)) {
            (Some(id), Ok(meta)) => id == (meta.dev(), meta.ino()),
            _ => canonical.as_deref() == Some(device.backing_file.as_path()),
        };
        if same {
            found.push(device);
        }
    }
    Ok(found)
}

/// The attached loop devices listed under `sys_block` (normally `/sys/block`).
pub fn attached_loops(sys_block: &Path) -> io::Result<Vec<LoopDevice>> {
    let mut found = Vec::new();
    let entries = match fs::read_dir(sys_block) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("loop") {
            continue;
        }
        let Ok(text) = fs::read_to_string(entry.path().join("loop/backing_file")) else {
            continue; // not attached
        };
        let backing = text.trim_end_matches('\n');
        // The kernel marks a backing file deleted after it was set up.
        let backing = backing.strip_suffix(" (deleted)").unwrap_or(backing);
        found.push(LoopDevice {
            node: PathBuf::from("/dev").join(&name),
            name,
            backing_file: PathBuf::from(backing),
        });
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

fn same_node(a: &Path, b: &Path) -> bool {
    if !a.starts_with("/dev") {
        return false;
    }
    a == b || matches!((fs::canonicalize(a), fs::canonicalize(b)), (Ok(x), Ok(y)) if x == y)
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => (x.dev(), x.ino()) == (y.dev(), y.ino()),
        _ => a == b,
    }
}

/// Parses mountinfo text; malformed lines are skipped.
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
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
42 41 0:46 / /srv/inner rw - tmpfs tmpfs rw
";

    #[test]
    fn parses_devices_sources_and_escaped_mount_points() {
        let mounts = parse_mountinfo(SAMPLE);
        assert_eq!(mounts.len(), 4);
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

    #[test]
    fn a_device_is_never_matched_by_a_longer_name() {
        let table = MountTable {
            mounts: parse_mountinfo("50 27 7:10 / /mnt rw - ext4 /dev/loop10 rw\n"),
            swaps: Vec::new(),
        };
        assert!(table.uses_of((7, 1), Path::new("/dev/loop1")).is_empty());
        assert_eq!(
            table.uses_of((7, 10), Path::new("/dev/loop10")),
            vec![PathBuf::from("/mnt")]
        );
    }

    #[test]
    fn mount_points_below_a_folder_come_deepest_first() {
        let table = MountTable {
            mounts: parse_mountinfo(SAMPLE),
            swaps: Vec::new(),
        };
        assert_eq!(
            table.mount_points_below(Path::new("/srv")),
            [PathBuf::from("/srv/inner"), PathBuf::from("/srv")]
        );
    }

    #[test]
    fn loop_devices_are_read_from_sysfs_with_deleted_files_marked() {
        let sys = tempfile::tempdir().unwrap();
        for (name, backing) in [
            ("loop0", Some("/srv/a.img\n")),
            ("loop1", None),
            ("loop10", Some("/srv/b.img (deleted)\n")),
            ("sda", Some("/not/a/loop\n")),
        ] {
            let dir = sys.path().join(name).join("loop");
            fs::create_dir_all(&dir).unwrap();
            if let Some(backing) = backing {
                fs::write(dir.join("backing_file"), backing).unwrap();
            }
        }
        let loops = attached_loops(sys.path()).unwrap();
        let pairs: Vec<_> = loops
            .iter()
            .map(|l| (l.node.clone(), l.backing_file.clone()))
            .collect();
        assert_eq!(
            pairs,
            [
                (PathBuf::from("/dev/loop0"), PathBuf::from("/srv/a.img")),
                (PathBuf::from("/dev/loop10"), PathBuf::from("/srv/b.img")),
            ]
        );
    }
}
