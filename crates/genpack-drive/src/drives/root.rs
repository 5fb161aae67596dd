//! Which disks hold the running system's `/`.
//!
//! The root mount's device is followed down the stack: a partition leads to its disk, a
//! device-mapper or md device to its `slaves/`, a loop device to the filesystem holding its
//! backing file, and a filesystem without a real device number (btrfs, overlay) to its
//! mount source or its overlay layers.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use genpack_util::mounts::MountTable;

/// Deep enough for LUKS on LVM on md on partitions, and loops of loops.
const MAX_DEPTH: usize = 12;

pub(super) fn disks_holding_root(mounts: &MountTable) -> BTreeSet<String> {
    let mut disks = BTreeSet::new();
    if let Some(root) = mounts.root() {
        follow_dev(root.dev, mounts, &mut disks, 0);
    }
    if let Ok(meta) = fs::metadata("/") {
        follow_dev(split(meta.dev()), mounts, &mut disks, 0);
    }
    disks
}

fn split(dev: u64) -> (u32, u32) {
    (libc::major(dev), libc::minor(dev))
}

/// Adds the whole disks behind the device number `dev`.
fn follow_dev(dev: (u32, u32), mounts: &MountTable, disks: &mut BTreeSet<String>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    if dev.0 != 0 {
        let sys = PathBuf::from(format!("/sys/dev/block/{}:{}", dev.0, dev.1));
        if let Ok(sys) = fs::canonicalize(sys) {
            follow_sysfs(&sys, mounts, disks, depth + 1);
        }
        return;
    }
    // An anonymous device number: look at what was mounted to produce it.
    for mount in mounts.mounts.iter().filter(|m| m.dev == dev) {
        if mount.source.starts_with("/dev/") {
            if let Ok(meta) = fs::metadata(&mount.source) {
                follow_dev(split(meta.rdev()), mounts, disks, depth + 1);
            }
        }
        if mount.fs_type == "overlay" {
            for layer in overlay_layers(&mount.super_options) {
                if let Ok(meta) = fs::metadata(&layer) {
                    follow_dev(split(meta.dev()), mounts, disks, depth + 1);
                }
            }
        }
    }
}

fn follow_sysfs(sys: &Path, mounts: &MountTable, disks: &mut BTreeSet<String>, depth: usize) {
    let disk = if sys.join("partition").exists() {
        match sys.parent() {
            Some(parent) => parent.to_path_buf(),
            None => return,
        }
    } else {
        sys.to_path_buf()
    };
    let Some(name) = disk.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    if !disks.insert(name) {
        return;
    }
    // device-mapper and md: the devices they are built from.
    if let Ok(entries) = fs::read_dir(disk.join("slaves")) {
        for entry in entries.flatten() {
            if let Ok(slave) = fs::canonicalize(entry.path()) {
                follow_sysfs(&slave, mounts, disks, depth + 1);
            }
        }
    }
    // loop: the filesystem holding the backing file.
    if let Ok(file) = fs::read_to_string(disk.join("loop/backing_file")) {
        if let Ok(meta) = fs::metadata(file.trim()) {
            follow_dev(split(meta.dev()), mounts, disks, depth + 1);
        }
    }
}

/// `lowerdir=a:b,upperdir=c` -> `[a, b, c]`.
fn overlay_layers(options: &str) -> Vec<PathBuf> {
    options
        .split(',')
        .filter_map(|opt| {
            let (key, value) = opt.split_once('=')?;
            matches!(key, "lowerdir" | "upperdir").then_some(value)
        })
        .flat_map(|value| value.split(':'))
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_layers_cover_lower_and_upper() {
        assert_eq!(
            overlay_layers("rw,lowerdir=/a:/b,upperdir=/c,workdir=/d"),
            vec![
                PathBuf::from("/a"),
                PathBuf::from("/b"),
                PathBuf::from("/c")
            ]
        );
    }

    #[test]
    fn this_machine_has_a_root_disk() {
        let disks = disks_holding_root(&MountTable::read().unwrap());
        assert!(!disks.is_empty(), "no disk found behind /");
    }
}
