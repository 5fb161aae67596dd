//! Kernel and initramfs read straight out of a SquashFS image (no mount, no extraction of the
//! rest), for QEMU's direct kernel boot. Which files an image boots is genpack-image's rule
//! ([`genpack_image::Image::boot_entry`]), the same for every reader of images.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use genpack_image::Image;
use serde::{Deserialize, Serialize};

use crate::error::{Result, VmError};

/// Guest CPU architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    /// 64-bit x86 (`qemu-system-x86_64`, q35).
    X86_64,
    /// 64-bit ARM (`qemu-system-aarch64`, virt).
    Aarch64,
}

impl Arch {
    /// The architecture QEMU can accelerate on this host.
    pub fn host() -> Arch {
        if cfg!(target_arch = "aarch64") {
            Arch::Aarch64
        } else {
            Arch::X86_64
        }
    }

    /// Recognises a kernel image by its header: x86 bzImage (`HdrS`), arm64 Image (`ARMd`), or an
    /// EFI zboot/PE image by its machine type. `None` for anything else.
    pub fn of_kernel(header: &[u8]) -> Option<Arch> {
        if header.get(0x202..0x206) == Some(b"HdrS") {
            return Some(Arch::X86_64);
        }
        if header.get(0x38..0x3c) == Some(b"ARMd") {
            return Some(Arch::Aarch64);
        }
        if header.get(0..2) == Some(b"MZ") {
            let pe = u32::from_le_bytes(header.get(0x3c..0x40)?.try_into().ok()?) as usize;
            if header.get(pe..pe + 4) == Some(b"PE\0\0") {
                let machine = u16::from_le_bytes(header.get(pe + 4..pe + 6)?.try_into().ok()?);
                return match machine {
                    0x8664 => Some(Arch::X86_64),
                    0xaa64 => Some(Arch::Aarch64),
                    _ => None,
                };
            }
        }
        None
    }
}

/// Kernel and initramfs copied out of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootFiles {
    /// The kernel file written to the runtime folder.
    pub kernel: PathBuf,
    /// The initramfs file written to the runtime folder.
    pub initramfs: PathBuf,
    /// The kernel's architecture.
    pub arch: Arch,
}

/// Reads the kernel and initramfs `image` boots and writes them to `out_dir/kernel` and
/// `out_dir/initramfs`.
pub fn extract(image: &Path, out_dir: &Path) -> Result<BootFiles> {
    extract_from(&Image::open(image)?, out_dir)
}

/// Like [`extract`], from an image already open.
pub fn extract_from(image: &Image, out_dir: &Path) -> Result<BootFiles> {
    let entry = image.boot_entry()?;
    let kernel = out_dir.join("kernel");
    let initramfs = out_dir.join("initramfs");
    copy_out(image, &entry.kernel, &kernel)?;
    copy_out(image, &entry.initramfs, &initramfs)?;
    let arch = kernel_arch(&kernel)?;
    Ok(BootFiles {
        kernel,
        initramfs,
        arch,
    })
}

fn copy_out(image: &Image, inner: &Path, dest: &Path) -> Result<()> {
    let file = File::create(dest).map_err(|e| VmError::io("cannot create", dest, e))?;
    let mut out = BufWriter::new(file);
    image.copy_to(&inner.to_string_lossy(), &mut out)?;
    out.flush()
        .map_err(|e| VmError::io("cannot write", dest, e))
}

/// The architecture of a kernel file on the host.
pub fn kernel_arch(kernel: &Path) -> Result<Arch> {
    let mut header = Vec::with_capacity(4096);
    File::open(kernel)
        .and_then(|f| f.take(4096).read_to_end(&mut header))
        .map_err(|e| VmError::io("cannot read", kernel, e))?;
    Arch::of_kernel(&header).ok_or_else(|| VmError::UnsupportedKernel {
        kernel: kernel.to_path_buf(),
        reason: "not an x86_64 bzImage or arm64 kernel image".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_kernel_headers() {
        let mut x86 = vec![0u8; 0x300];
        x86[0x202..0x206].copy_from_slice(b"HdrS");
        assert_eq!(Arch::of_kernel(&x86), Some(Arch::X86_64));
        let mut arm = vec![0u8; 0x40];
        arm[0x38..0x3c].copy_from_slice(b"ARMd");
        assert_eq!(Arch::of_kernel(&arm), Some(Arch::Aarch64));
        let mut pe = vec![0u8; 0x100];
        pe[0..2].copy_from_slice(b"MZ");
        pe[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        pe[0x80..0x84].copy_from_slice(b"PE\0\0");
        pe[0x84..0x86].copy_from_slice(&0xaa64u16.to_le_bytes());
        assert_eq!(Arch::of_kernel(&pe), Some(Arch::Aarch64));
        assert_eq!(Arch::of_kernel(b"\x1f\x8b rubbish"), None);
    }
}
