//! Loop devices standing in for USB sticks, and images to write to them.
#![allow(dead_code)]

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const MIB: u64 = 1 << 20;

/// Runs a command, returning its output whatever the exit status.
pub fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

/// Runs a command that must succeed; returns its stdout.
pub fn ok(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A file attached as a loop device; detached on drop.
pub struct Loop {
    pub device: PathBuf,
    pub file: PathBuf,
}

impl Loop {
    pub fn attach(file: &Path, extra: &[&str]) -> Loop {
        let mut args = vec!["-f", "--show"];
        args.extend_from_slice(extra);
        let file_arg = file.to_str().unwrap();
        args.push(file_arg);
        let device = ok("losetup", &args).trim().to_string();
        Loop {
            device: PathBuf::from(device),
            file: file.to_path_buf(),
        }
    }

    pub fn path(&self) -> &str {
        self.device.to_str().unwrap()
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = run("losetup", &["-d", self.path()]);
    }
}

/// A mounted filesystem; unmounted on drop (before its loop device is detached, if the
/// guard is declared after the loop).
pub struct Mounted(pub PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = run("umount", &[self.0.to_str().unwrap()]);
    }
}

/// A file of `len` bytes filled with `byte`.
pub fn filled_file(path: &Path, len: u64, byte: u8) {
    let mut file = File::create(path).unwrap();
    let block = vec![byte; MIB as usize];
    let mut left = len;
    while left > 0 {
        let n = left.min(MIB) as usize;
        file.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
}

/// A disk image of `len` bytes of pseudo-random data with a partition table written by
/// sfdisk (`label` is `gpt` or `dos`).
pub fn disk_image(path: &Path, len: u64, label: &str, seed: u64) {
    let mut file = File::create(path).unwrap();
    let mut state = seed | 1;
    let mut block = vec![0u8; MIB as usize];
    for _ in 0..len / MIB {
        for chunk in block.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        file.write_all(&block).unwrap();
    }
    drop(file);
    let kind = if label == "gpt" { "uefi" } else { "c" };
    partition(path, &format!("label: {label}\nstart=2048, type={kind}\n"));
}

/// Writes a partition table with sfdisk's script format.
pub fn partition(path: &Path, script: &str) {
    let mut child = Command::new("sfdisk")
        .args(["-q", "--wipe", "never"])
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "sfdisk failed on {path:?}");
}

/// Reads `len` bytes at `offset` of a file or device.
pub fn read_bytes(path: &Path, offset: u64, len: usize) -> Vec<u8> {
    let file = File::open(path).unwrap();
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, offset).unwrap();
    buf
}

/// Flips one byte of the backing file, then drops the loop device's cached copy.
pub fn flip_byte(device: &Path, backing_file: &Path, offset: u64) {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(backing_file)
        .unwrap();
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, offset).unwrap();
    byte[0] ^= 0x5a;
    file.write_all_at(&byte, offset).unwrap();
    file.sync_all().unwrap();
    ok("blockdev", &["--flushbufs", device.to_str().unwrap()]);
}

pub fn size_of(path: &Path) -> u64 {
    fs::metadata(path).unwrap().len()
}
