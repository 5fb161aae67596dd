//! Attaching a file to a loop device (LOOP_CONFIGURE, with LOOP_SET_FD as fallback).

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
const LOOP_SET_FD: libc::c_ulong = 0x4C00;
const LOOP_SET_STATUS64: libc::c_ulong = 0x4C04;
const LOOP_CONFIGURE: libc::c_ulong = 0x4C0A;
const LO_FLAGS_READ_ONLY: u32 = 1;

/// `struct loop_info64` from <linux/loop.h>.
#[repr(C)]
struct LoopInfo64 {
    device: u64,
    inode: u64,
    rdevice: u64,
    offset: u64,
    sizelimit: u64,
    number: u32,
    encrypt_type: u32,
    encrypt_key_size: u32,
    flags: u32,
    file_name: [u8; 64],
    crypt_name: [u8; 64],
    encrypt_key: [u8; 32],
    init: [u64; 2],
}

/// `struct loop_config` from <linux/loop.h>.
#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

/// Attaches `file` read-only to a free loop device and returns the device node.
pub fn attach_read_only(file: &Path) -> std::io::Result<PathBuf> {
    let backing = File::open(file)?;
    let control = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/loop-control")?;
    // SAFETY: LOOP_CTL_GET_FREE takes no argument and returns a device number.
    let number = unsafe { libc::ioctl(control.as_raw_fd(), LOOP_CTL_GET_FREE) };
    if number < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let node = PathBuf::from(format!("/dev/loop{number}"));
    let device = open_when_present(&node)?;
    let mut info = LoopInfo64 {
        device: 0,
        inode: 0,
        rdevice: 0,
        offset: 0,
        sizelimit: 0,
        number: 0,
        encrypt_type: 0,
        encrypt_key_size: 0,
        flags: LO_FLAGS_READ_ONLY,
        file_name: [0; 64],
        crypt_name: [0; 64],
        encrypt_key: [0; 32],
        init: [0; 2],
    };
    let name = file.as_os_str().as_encoded_bytes();
    let n = name.len().min(63);
    info.file_name[..n].copy_from_slice(&name[..n]);
    let config = LoopConfig {
        fd: backing.as_raw_fd() as u32,
        block_size: 0,
        info,
        reserved: [0; 8],
    };
    // SAFETY: `config` is a valid loop_config that outlives the call.
    let rc = unsafe { libc::ioctl(device.as_raw_fd(), LOOP_CONFIGURE, &config) };
    if rc == 0 {
        return Ok(node);
    }
    // Kernels before 5.8: two steps.
    // SAFETY: LOOP_SET_FD takes the backing fd by value.
    if unsafe { libc::ioctl(device.as_raw_fd(), LOOP_SET_FD, backing.as_raw_fd()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `config.info` is a valid loop_info64 that outlives the call.
    if unsafe { libc::ioctl(device.as_raw_fd(), LOOP_SET_STATUS64, &config.info) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(node)
}

/// devtmpfs creates the node shortly after the device appears.
fn open_when_present(node: &Path) -> std::io::Result<File> {
    let mut last = None;
    for _ in 0..50 {
        match OpenOptions::new().read(true).open(node) {
            Ok(f) => return Ok(f),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(last.unwrap_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound)))
}
