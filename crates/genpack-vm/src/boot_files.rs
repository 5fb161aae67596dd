//! Kernel and initramfs read straight out of a SquashFS image (no mount, no extraction of the
//! rest), for QEMU's direct kernel boot.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Component, Path, PathBuf};

use backhand::{FilesystemReader, InnerNode, Node, SquashfsFileReader};
use serde::{Deserialize, Serialize};

use crate::error::{Result, VmError};

/// Where the kernel is looked for inside an image, in order.
pub const KERNEL_PATHS: &[&str] = &["/boot/kernel", "/boot/vmlinuz"];
/// Where the initramfs is looked for inside an image, in order.
pub const INITRAMFS_PATHS: &[&str] =
    &["/boot/initramfs", "/boot/initramfs.img", "/boot/initrd.img"];

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

/// Reads the kernel and initramfs out of `image` (following symlinks inside the image) and
/// writes them to `out_dir/kernel` and `out_dir/initramfs`.
pub fn extract(image: &Path, out_dir: &Path) -> Result<BootFiles> {
    let image_err = |reason: String| VmError::Image {
        image: image.to_path_buf(),
        reason,
    };
    let file = File::open(image).map_err(|e| VmError::io("cannot open", image, e))?;
    let fs = FilesystemReader::from_reader(BufReader::new(file))
        .map_err(|e| image_err(e.to_string()))?;
    let tree = Tree::new(&fs);

    let kernel_node = tree
        .first_file(KERNEL_PATHS)
        .ok_or_else(|| VmError::BootFileMissing {
            image: image.to_path_buf(),
            wanted: "kernel",
            looked_at: KERNEL_PATHS.iter().map(|s| s.to_string()).collect(),
        })?;
    let initramfs_node =
        tree.first_file(INITRAMFS_PATHS)
            .ok_or_else(|| VmError::BootFileMissing {
                image: image.to_path_buf(),
                wanted: "initramfs",
                looked_at: INITRAMFS_PATHS.iter().map(|s| s.to_string()).collect(),
            })?;

    let kernel = out_dir.join("kernel");
    let initramfs = out_dir.join("initramfs");
    copy_out(&fs, kernel_node, &kernel).map_err(|e| image_err(e.to_string()))?;
    copy_out(&fs, initramfs_node, &initramfs).map_err(|e| image_err(e.to_string()))?;
    let arch = kernel_arch(&kernel)?;
    Ok(BootFiles {
        kernel,
        initramfs,
        arch,
    })
}

/// The name a VM of `image` gets by default: the artifact name the image records in
/// `/.genpack/artifact`, else the file name without its extension, reduced to the characters a
/// VM name allows.
pub fn default_vm_name(image: &Path) -> String {
    let recorded = File::open(image)
        .ok()
        .and_then(|f| FilesystemReader::from_reader(BufReader::new(f)).ok())
        .and_then(|fs| {
            let tree = Tree::new(&fs);
            let file = tree.file("/.genpack/artifact")?;
            let mut text = String::new();
            fs.file(file)
                .reader_checked()
                .ok()?
                .take(256)
                .read_to_string(&mut text)
                .ok()?;
            Some(text)
        });
    let raw = recorded
        .filter(|t| !t.trim().is_empty())
        .or_else(|| image.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default();
    sanitize_name(raw.trim())
}

/// Replaces characters a VM name does not allow with `-`.
fn sanitize_name(raw: &str) -> String {
    let name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_start_matches('.');
    let name: String = name.chars().take(64).collect();
    if name.is_empty() {
        "vm".to_string()
    } else {
        name
    }
}

/// The architecture of a kernel file on the host.
pub fn kernel_arch(kernel: &Path) -> Result<Arch> {
    let mut header = vec![0u8; 4096];
    let mut file = File::open(kernel).map_err(|e| VmError::io("cannot open", kernel, e))?;
    let n =
        read_up_to(&mut file, &mut header).map_err(|e| VmError::io("cannot read", kernel, e))?;
    header.truncate(n);
    Arch::of_kernel(&header).ok_or_else(|| VmError::UnsupportedKernel {
        kernel: kernel.to_path_buf(),
        reason: "not an x86_64 bzImage or arm64 kernel image".to_string(),
    })
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut total = 0;
    while total < buf.len() {
        match reader.read(&mut buf[total..])? {
            0 => break,
            n => total += n,
        }
    }
    Ok(total)
}

fn copy_out(
    fs: &FilesystemReader<'_>,
    file: &SquashfsFileReader,
    dest: &Path,
) -> std::io::Result<()> {
    let mut reader = fs
        .file(file)
        .reader_checked()
        .map_err(std::io::Error::other)?;
    let mut out = BufWriter::new(File::create(dest)?);
    std::io::copy(&mut reader, &mut out)?;
    out.flush()?;
    Ok(())
}

/// Path lookup over an image's nodes, resolving symlinks the way the guest would.
struct Tree<'a> {
    nodes: HashMap<&'a Path, &'a Node<SquashfsFileReader>>,
}

impl<'a> Tree<'a> {
    const MAX_SYMLINKS: usize = 40;

    fn new(fs: &'a FilesystemReader<'_>) -> Self {
        let nodes = fs.files().map(|n| (n.fullpath.as_path(), n)).collect();
        Tree { nodes }
    }

    fn first_file(&self, candidates: &[&str]) -> Option<&'a SquashfsFileReader> {
        candidates.iter().find_map(|p| self.file(p))
    }

    /// The regular file at `path`, following symlinks in every component.
    fn file(&self, path: &str) -> Option<&'a SquashfsFileReader> {
        let resolved = self.resolve(Path::new(path))?;
        match &self.nodes.get(resolved.as_path())?.inner {
            InnerNode::File(f) => Some(f),
            _ => None,
        }
    }

    fn resolve(&self, path: &Path) -> Option<PathBuf> {
        let mut current = PathBuf::from("/");
        let mut hops = 0;
        // Components still to walk, in reverse order so that pop() yields the next one.
        let mut todo: Vec<std::ffi::OsString> = Vec::new();
        push_components(&mut todo, path);
        while let Some(part) = todo.pop() {
            if part == ".." {
                current.pop();
                continue;
            }
            let next = current.join(&part);
            match &self.nodes.get(next.as_path())?.inner {
                InnerNode::Symlink(link) => {
                    hops += 1;
                    if hops > Self::MAX_SYMLINKS {
                        return None;
                    }
                    if link.link.is_absolute() {
                        current = PathBuf::from("/");
                    }
                    push_components(&mut todo, &link.link);
                }
                _ => current = next,
            }
        }
        Some(current)
    }
}

/// Pushes the normal and `..` components of `path` onto `todo` so they pop in order.
fn push_components(todo: &mut Vec<std::ffi::OsString>, path: &Path) {
    let parts: Vec<_> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(p.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    todo.extend(parts.into_iter().rev());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_valid() {
        assert_eq!(sanitize_name("web server/x86"), "web-server-x86");
        assert_eq!(sanitize_name("..hidden"), "hidden");
        assert_eq!(sanitize_name(""), "vm");
        assert_eq!(sanitize_name(&"a".repeat(80)).len(), 64);
    }

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
