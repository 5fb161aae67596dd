//! `swapfile` (default yes): a swap file on the data partition.
//!
//! Acts only when `/run/initramfs/rw` is a mounted block device (never on tmpfs or a
//! shared folder). `yes` creates `/run/initramfs/rw/swapfile` once: twice the RAM rounded to
//! a power of two (2 GiB below 1 GiB of RAM), halved until it fits in 10% of the free space,
//! created without copy-on-write, then formatted with `mkswap`. `no` deletes it. When it
//! exists and the system is booting, `swapon` enables it.

use std::fs;
use std::path::Path;
use std::process::Command;

use genpack_ini::Document;

use super::Outcome;
use crate::context::{Action, Change, Context};
use crate::error::ModuleError;
use crate::fsops::remove_file;

const GIB: u64 = 1 << 30;

pub fn apply(ctx: &Context, ini: &Document) -> Result<Outcome, ModuleError> {
    let mut out = Outcome::default();
    let wanted = out.bool_value(ini, "swapfile").unwrap_or(true);
    let rw = ctx.rw_dir();
    if !is_device_backed_mount(&rw) {
        out.info("swapfile: skipped: no data partition (the writable layer is not on a disk)");
        return Ok(out);
    }
    let rel = "run/initramfs/rw/swapfile";
    let file = ctx.path(rel);
    if !wanted {
        if ctx.live && file.exists() && !ctx.dry_run {
            let _ = Command::new("swapoff").arg(&file).status();
        }
        out.push(remove_file(ctx, rel, "swap file turned off")?);
        return Ok(out);
    }
    if !file.exists() {
        let size = swap_size(&rw);
        let Some(size) = size else {
            out.warn("swapfile: not enough free space on the data partition; no swap file created");
            return Ok(out);
        };
        if !ctx.dry_run {
            create_swapfile(&file, size)?;
        }
        out.changes.push(Change {
            path: format!("/{rel}"),
            action: Action::Wrote,
            summary: format!("swap file of {} MiB", size >> 20),
        });
    }
    if ctx.live && !ctx.dry_run && !is_active_swap(&file) {
        run("swapon", &[file.as_os_str()])?;
        out.changes.push(Change {
            path: format!("/{rel}"),
            action: Action::Ran,
            summary: "swapon".into(),
        });
    }
    Ok(out)
}

/// Whether `dir` is a mount point whose source is a `/dev/` node.
fn is_device_backed_mount(dir: &Path) -> bool {
    let mounts = fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let dir = dir.to_string_lossy();
    mounts.lines().any(|l| {
        let mut f = l.split_whitespace();
        let (Some(src), Some(target)) = (f.next(), f.next()) else {
            return false;
        };
        src.starts_with("/dev/") && target == dir.trim_end_matches('/')
    })
}

fn is_active_swap(file: &Path) -> bool {
    fs::read_to_string("/proc/swaps")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().next() == Some(&*file.to_string_lossy()))
}

/// Twice the RAM rounded to a power of two of GiB, halved until at most 10% of free space.
fn swap_size(dir: &Path) -> Option<u64> {
    let ram = fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .map(|kib| kib * 1024)
    })?;
    let stat = rustix::fs::statvfs(dir).ok()?;
    let free = stat.f_bavail * stat.f_frsize;
    Some(size_for(ram, free)).filter(|s| *s >= 64 << 20)
}

/// The size rule, separated for testing.
pub(crate) fn size_for(ram: u64, free: u64) -> u64 {
    let mut size = if ram < GIB {
        2 * GIB
    } else {
        let gib = (ram as f64 / GIB as f64).log2().round() as u32;
        2 * GIB * (1u64 << gib)
    };
    while size > free / 10 && size > 0 {
        size /= 2;
    }
    size
}

fn create_swapfile(file: &Path, size: u64) -> Result<(), ModuleError> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .map_err(|e| ModuleError::io("creating", file, e))?;
    set_nocow(&f);
    let result = rustix::fs::fallocate(&f, rustix::fs::FallocateFlags::empty(), 0, size)
        .map_err(|e| ModuleError::io("allocating", file, e.into()))
        .and_then(|()| run("mkswap", &[file.as_os_str()]));
    if result.is_err() {
        let _ = fs::remove_file(file);
    }
    result
}

/// Copy-on-write files cannot hold swap on btrfs; the flag is ignored elsewhere.
fn set_nocow(f: &fs::File) {
    use std::os::fd::AsRawFd;
    const FS_IOC_GETFLAGS: libc::c_ulong = 0x8008_6601;
    const FS_IOC_SETFLAGS: libc::c_ulong = 0x4008_6602;
    const FS_NOCOW_FL: libc::c_long = 0x0080_0000;
    let mut flags: libc::c_long = 0;
    // SAFETY: the fd is open and `flags` outlives the calls.
    unsafe {
        if libc::ioctl(f.as_raw_fd(), FS_IOC_GETFLAGS, &mut flags) == 0 {
            flags |= FS_NOCOW_FL;
            libc::ioctl(f.as_raw_fd(), FS_IOC_SETFLAGS, &flags);
        }
    }
}

fn run(program: &str, args: &[&std::ffi::OsStr]) -> Result<(), ModuleError> {
    let command = format!(
        "{program} {}",
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    match Command::new(program).args(args).output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(ModuleError::Command {
            command,
            detail: String::from_utf8_lossy(&o.stderr).trim().to_string(),
        }),
        Err(e) => Err(ModuleError::Command {
            command,
            detail: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_rule() {
        assert_eq!(size_for(512 << 20, 1000 * GIB), 2 * GIB);
        assert_eq!(size_for(4 * GIB, 1000 * GIB), 8 * GIB);
        assert_eq!(size_for(3 * GIB, 1000 * GIB), 8 * GIB);
        assert_eq!(size_for(4 * GIB, 20 * GIB), 2 * GIB);
        assert_eq!(size_for(4 * GIB, 15 * GIB), GIB);
    }
}
