//! Leaving the initramfs: free its memory, make the new root `/`, exec its init.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Deletes the initramfs contents, moves `new_root` onto `/`, chroots and execs `init`.
/// Returns only on failure.
pub fn switch_root(new_root: &Path, init: &Path, args: &[OsString]) -> std::io::Error {
    if let Ok(root_meta) = fs::metadata("/") {
        delete_same_device(Path::new("/"), root_meta.dev(), new_root);
    }
    if let Err(e) = rustix::process::chdir(new_root) {
        return e.into();
    }
    if let Err(e) = rustix::mount::mount_move(".", "/") {
        return e.into();
    }
    if let Err(e) = rustix::process::chroot(".") {
        return e.into();
    }
    if let Err(e) = rustix::process::chdir("/") {
        return e.into();
    }
    crate::provision::exec(init, args)
}

/// Removes everything under `dir` that lives on device `dev` (the initramfs), without
/// crossing into other mounts and without touching `keep`.
fn delete_same_device(dir: &Path, dev: u64, keep: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path == keep {
            continue;
        }
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.dev() != dev {
            continue;
        }
        if meta.is_dir() {
            delete_same_device(&path, dev, keep);
            let _ = fs::remove_dir(&path);
        } else {
            let _ = fs::remove_file(&path);
        }
    }
}
