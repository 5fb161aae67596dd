//! The last step of a clean shutdown: mark it clean on the boot partition, then power off.
//!
//! At boot the initramfs `/init` copies itself to `/run/initramfs/shutdown`. When the system
//! goes down, systemd-shutdown stops every service, unmounts what it can, switches into
//! `/run/initramfs` (the old root moves to `/oldroot`) and runs `shutdown poweroff` (or
//! `reboot`, `halt`, `kexec`). This program then:
//!
//! 1. flushes every file system (the data partition's last writes reach the disk);
//! 2. finds the boot partition (the FAT file system holding `system.img` and
//!    `boottime.txt`), makes it writable again if systemd left it read-only, deletes
//!    `boottime.txt`, flushes the partition and makes it read-only;
//! 3. detaches what is still mounted and powers off (reboots, halts).
//!
//! `boottime.txt`, written at every boot, therefore survives only a crash or a pulled plug:
//! GRUB then waits 10 s instead of 1 s, so Transient mode can be picked.

use std::fs;
use std::path::{Path, PathBuf};

use genpack_util::mounts::MountTable;
use rustix::mount::{MountFlags, UnmountFlags};
use rustix::system::RebootCommand;

/// The file the initramfs writes on the boot partition at every boot.
pub const BOOT_MARKER: &str = "boottime.txt";

/// Where systemd-shutdown looks for the program to finish with.
pub const INSTALLED_AT: &str = "/run/initramfs/shutdown";

fn say(message: &str) {
    eprintln!("genpack-shutdown: {message}");
}

/// Runs the steps above for `action` (`poweroff`, `reboot`, `halt` or `kexec`). Never
/// returns.
pub fn run(action: &str) -> ! {
    ensure_proc();
    rustix::fs::sync();
    match mark_clean() {
        Ok(Some(boot)) => say(&format!(
            "clean shutdown: removed {BOOT_MARKER} from {}",
            boot.display()
        )),
        Ok(None) => {}
        Err(error) => say(&format!("could not mark the shutdown as clean: {error}")),
    }
    detach_everything();
    rustix::fs::sync();
    let command = match action {
        "reboot" | "kexec" => RebootCommand::Restart,
        "halt" => RebootCommand::Halt,
        _ => RebootCommand::PowerOff,
    };
    let error = rustix::system::reboot(command);
    say(&format!("{action} failed: {error:?}"));
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

/// Deletes the boot marker from the boot partition; returns that partition's mount point,
/// or `None` when no boot partition holds a marker (a VM without one, an ISO).
pub fn mark_clean() -> std::io::Result<Option<PathBuf>> {
    let table = MountTable::read()?;
    let Some(boot) = boot_partition(&table) else {
        return Ok(None);
    };
    let read_only = table
        .mounts
        .iter()
        .rev()
        .find(|m| m.mount_point == boot)
        .is_some_and(|m| m.super_options.split(',').any(|o| o == "ro"));
    if read_only {
        rustix::mount::mount_remount(&boot, MountFlags::empty(), c"")?;
    }
    fs::remove_file(boot.join(BOOT_MARKER))?;
    genpack_util::atomic::sync_folder(&boot);
    if let Ok(root) = fs::File::open(&boot) {
        let _ = rustix::fs::syncfs(&root);
    }
    // Read-only again, so nothing can leave the FAT half-written before the power goes.
    let _ = rustix::mount::mount_remount(&boot, MountFlags::RDONLY, c"");
    Ok(Some(boot))
}

/// The mount point of the FAT file system that holds the boot marker and the boot files
/// (`system.img`, or GRUB's `EFI` folder when the image lives on the data partition).
fn boot_partition(table: &MountTable) -> Option<PathBuf> {
    table
        .mounts
        .iter()
        .rev()
        .filter(|m| m.fs_type == "vfat")
        .map(|m| m.mount_point.clone())
        .find(|point| {
            point.join(BOOT_MARKER).exists()
                && (point.join("system.img").exists() || point.join("EFI").is_dir())
        })
}

/// Lazily detaches every mount under `/oldroot`, deepest first: nothing is left to write
/// when the power goes.
fn detach_everything() {
    let Ok(table) = MountTable::read() else {
        return;
    };
    for point in table.mount_points_below(Path::new("/oldroot")) {
        let _ = rustix::mount::unmount(&point, UnmountFlags::DETACH);
    }
}

/// `/proc` is where the mount table is read; systemd moves it into the new root, but a
/// manual call may come without it.
fn ensure_proc() {
    if Path::new("/proc/self/mountinfo").exists() {
        return;
    }
    let _ = fs::create_dir_all("/proc");
    let _ = rustix::mount::mount(
        "proc",
        "/proc",
        "proc",
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        c"",
    );
}

/// Puts this program where systemd-shutdown looks for it: a copy of the running initramfs
/// `/init` (a static program), unless the image brings its own
/// `/usr/libexec/genpack-shutdown` (under `image_root`).
pub fn install(image_root: &Path) -> std::io::Result<()> {
    let own = image_root.join("usr/libexec/genpack-shutdown");
    let source = if own.exists() {
        own
    } else {
        fs::read_link("/proc/self/exe")?
    };
    fs::copy(&source, INSTALLED_AT)?;
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(INSTALLED_AT, fs::Permissions::from_mode(0o755))
}
