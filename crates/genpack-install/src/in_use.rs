//! Whether a disk or disk image is in use by the running system: the one check before
//! anything writes to a drive or a file that may hold a file system.
//!
//! A drive is in use when it (or one of its partitions) is mounted, used as swap, stacked on
//! (LUKS, LVM, RAID) or holds the running system, matched by device number (never by a name
//! prefix: `/dev/loop1` is not `/dev/loop10`). A file is in use when it backs an attached loop
//! device or is an active swap file: writing it would overwrite what is mounted from it.

use std::path::Path;

use genpack_drive::Refusal;

/// `Some(why)` when `target` (a block device or a file) is in use, `why` saying what uses it
/// and what to do: `"/dev/sdb1 is mounted on /media/stick; unmount it first"`.
pub fn check(target: &Path) -> std::io::Result<Option<String>> {
    use std::os::unix::fs::FileTypeExt;
    let meta = match std::fs::metadata(target) {
        Ok(meta) => meta,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    if meta.file_type().is_block_device() {
        return drive_in_use(target);
    }
    if !meta.is_file() {
        return Ok(None);
    }
    if let Some(device) = genpack_util::mounts::loops_backed_by(target)?.first() {
        let node = device.node.display();
        return Ok(Some(format!(
            "it backs the loop device {node}; unmount what is mounted from {node} and detach it \
             (losetup -d {node}), or pick another file"
        )));
    }
    let mounts = genpack_util::mounts::MountTable::read()?;
    if !mounts.swap_file_uses(target).is_empty() {
        return Ok(Some(format!(
            "it is an active swap file; run swapoff {} first, or pick another file",
            target.display()
        )));
    }
    Ok(None)
}

fn drive_in_use(device: &Path) -> std::io::Result<Option<String>> {
    let drive = genpack_drive::drives::probe(device).map_err(std::io::Error::other)?;
    // Internal disks and read-only ones are the caller's choice; only actual use counts here.
    Ok(match drive.refusal(true) {
        Some(reason @ (Refusal::HoldsRoot | Refusal::Mounted { .. } | Refusal::InUse { .. })) => {
            Some(reason.to_string())
        }
        _ => None,
    })
}
