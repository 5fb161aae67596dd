//! Booting an image tree directly: a build's `work/<arch>/upper`, the exact content of the
//! image, run without packing it first.
//!
//! The kernel and initramfs are the tree's own `/boot/kernel` and `/boot/initramfs` (direct
//! kernel boot); the tree is shared read-only with the guest, through virtio-fs when
//! `virtiofsd` is installed and the image's kernel has virtiofs, else through 9p (built into
//! QEMU) when the kernel has 9p. The image's initramfs mounts the share (`root=virtiofs:<tag>`
//! or `root=9p:<tag>`) as the lower layer of the overlay root, exactly where it mounts the
//! SquashFS otherwise; system.ini arrives through fw_cfg as usual.

use std::path::{Path, PathBuf};

use genpack_image::{ImageError, GENPACK_INITRAMFS, GENPACK_KERNEL};

use crate::boot_files::{kernel_arch, BootFiles};
use crate::error::{Result, VmError};
use crate::firmware::find_program;
use crate::spec::{Boot, Share, VmSpec};

/// Mount tag of the shared image tree.
pub const TREE_TAG: &str = "genpack-tree";

/// How the tree is shared with the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// virtio-fs through virtiofsd.
    Virtiofs,
    /// 9p, QEMU's own file server.
    NineP,
}

impl Transport {
    /// The kernel command line's `root=` for this transport.
    pub fn root_option(self) -> String {
        match self {
            Transport::Virtiofs => format!("root=virtiofs:{TREE_TAG}"),
            Transport::NineP => format!("root=9p:{TREE_TAG}"),
        }
    }
}

/// virtiofsd's cache mode for the share tagged `tag`: `always` for the image tree (nothing
/// changes it while it is booted, and with the default `auto` a guest under TCG revalidates
/// every path it already looked up), `auto` for other shared folders.
pub fn virtiofs_cache(tag: &str) -> &'static str {
    if tag == TREE_TAG {
        "always"
    } else {
        "auto"
    }
}

/// Where virtiofsd may be installed, besides `PATH`.
const VIRTIOFSD_PATHS: [&str; 2] = ["/usr/libexec/virtiofsd", "/usr/lib/qemu/virtiofsd"];

/// Whether virtiofsd is installed.
pub fn virtiofsd_installed() -> bool {
    VIRTIOFSD_PATHS.iter().any(|p| Path::new(p).is_file()) || find_program("virtiofsd").is_some()
}

/// `path` inside `tree`, following symlinks the way the guest would (an absolute link target
/// is taken from the tree's root). `None` when it does not resolve to a regular file.
pub fn resolve_in_tree(tree: &Path, path: &str) -> Option<PathBuf> {
    let inside = genpack_util::resolve_in_root(tree, Path::new(path));
    let full = tree.join(inside.strip_prefix("/").unwrap_or(&inside));
    full.is_file().then_some(full)
}

/// The tree's kernel and initramfs, where they are (nothing is copied): the `/boot/kernel` and
/// `/boot/initramfs` every genpack build writes, the same rule as for a packed image.
pub fn boot_files(tree: &Path) -> Result<BootFiles> {
    let find = |wanted: &str| {
        resolve_in_tree(tree, wanted).ok_or_else(|| {
            VmError::Image(ImageError::NoBootFiles {
                image: tree.to_path_buf(),
                reason: format!("the image tree has no {wanted}; build it again"),
            })
        })
    };
    let kernel = find(GENPACK_KERNEL)?;
    let initramfs = find(GENPACK_INITRAMFS)?;
    let arch = kernel_arch(&kernel)?;
    Ok(BootFiles {
        kernel,
        initramfs,
        arch,
    })
}

/// The drivers the tree's kernel has, from `lib/modules/*/modules.dep` and `modules.builtin`.
pub fn kernel_drivers(tree: &Path) -> genpack_image::KernelDrivers {
    let mut names = Vec::new();
    let Ok(releases) = std::fs::read_dir(tree.join("lib/modules")) else {
        return genpack_image::KernelDrivers::default();
    };
    for release in releases.flatten() {
        for list in ["modules.dep", "modules.builtin"] {
            let text = std::fs::read_to_string(release.path().join(list)).unwrap_or_default();
            for line in text.lines() {
                let path = line.split(':').next().unwrap_or("");
                let file = path.rsplit('/').next().unwrap_or("");
                if let Some((stem, _)) = file.split_once(".ko") {
                    names.push(stem.to_string());
                }
            }
        }
    }
    if names.is_empty() {
        return genpack_image::KernelDrivers::default();
    }
    genpack_image::KernelDrivers::from_names(names)
}

/// Which shared-folder file systems the tree's kernel has (as a module or built in), read
/// from `lib/modules/*/modules.dep` and `modules.builtin`: (virtiofs, 9p over virtio).
pub fn kernel_support(tree: &Path) -> (bool, bool) {
    let drivers = kernel_drivers(tree);
    (
        drivers.has("virtiofs"),
        drivers.has("9p") && drivers.has("9pnet_virtio"),
    )
}

/// The transport for `tree`: virtio-fs when both sides have it, else 9p, else an error that
/// says what to install.
pub fn choose_transport(tree: &Path, virtiofsd: bool) -> Result<Transport> {
    let (virtiofs, ninep) = kernel_support(tree);
    if virtiofs && virtiofsd {
        return Ok(Transport::Virtiofs);
    }
    if ninep {
        return Ok(Transport::NineP);
    }
    let reason = match (virtiofs, virtiofsd) {
        (true, false) => {
            "the image's kernel has virtio-fs but not 9p, and virtiofsd is not installed: install \
             it (`cargo install virtiofsd`, or the `virtiofsd` package where the distribution has \
             one), or pack the image and run that"
        }
        _ => {
            "the image's kernel has neither virtio-fs nor 9p, so it cannot boot from a shared \
             folder: pack the image and run that"
        }
    };
    Err(VmError::InvalidSpec(format!(
        "cannot boot the image tree {}: {reason}",
        tree.display()
    )))
}

/// For a [`Boot::Tree`] spec: a copy with the tree's share added (after checking the tree).
/// Other specs are returned unchanged.
pub fn with_tree_share(spec: &VmSpec) -> Result<VmSpec> {
    let Boot::Tree { tree } = &spec.boot else {
        return Ok(spec.clone());
    };
    if !tree.join("boot").is_dir() {
        return Err(VmError::InvalidSpec(format!(
            "{} is not an image tree (it has no /boot); build it first",
            tree.display()
        )));
    }
    let mut spec = spec.clone();
    let share = match choose_transport(tree, virtiofsd_installed())? {
        Transport::Virtiofs => Share::Virtiofs {
            path: tree.clone(),
            tag: TREE_TAG.to_string(),
        },
        Transport::NineP => Share::NineP {
            path: tree.clone(),
            tag: TREE_TAG.to_string(),
            read_only: true,
        },
    };
    spec.shares.retain(|s| {
        let (Share::Virtiofs { tag, .. } | Share::NineP { tag, .. }) = s;
        tag != TREE_TAG
    });
    spec.shares.insert(0, share);
    Ok(spec)
}

/// The `root=` option of a spec: the tree's share when it boots a tree, else `root=block:`.
pub fn root_option(spec: &VmSpec) -> String {
    if matches!(spec.boot, Boot::Tree { .. }) {
        for share in &spec.shares {
            match share {
                Share::Virtiofs { tag, .. } if tag == TREE_TAG => {
                    return Transport::Virtiofs.root_option()
                }
                Share::NineP { tag, .. } if tag == TREE_TAG => {
                    return Transport::NineP.root_option()
                }
                _ => {}
            }
        }
    }
    "root=block:".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree_with(modules_dep: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let modules = dir.path().join("lib/modules/6.1.0-test");
        std::fs::create_dir_all(&modules).unwrap();
        std::fs::write(modules.join("modules.dep"), modules_dep).unwrap();
        std::fs::create_dir_all(dir.path().join("boot")).unwrap();
        dir
    }

    #[test]
    fn the_transport_follows_the_kernel_and_the_host() {
        let cloud = tree_with("kernel/fs/fuse/virtiofs.ko: kernel/fs/fuse/fuse.ko\n");
        assert_eq!(
            choose_transport(cloud.path(), true).unwrap(),
            Transport::Virtiofs
        );
        let err = choose_transport(cloud.path(), false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("virtiofsd"), "{err}");
        let generic = tree_with(
            "kernel/fs/fuse/virtiofs.ko: kernel/fs/fuse/fuse.ko\n\
             kernel/fs/9p/9p.ko.xz: kernel/net/9p/9pnet.ko.xz kernel/fs/netfs/netfs.ko.xz\n\
             kernel/net/9p/9pnet_virtio.ko.xz: kernel/net/9p/9pnet.ko.xz\n",
        );
        assert_eq!(
            choose_transport(generic.path(), false).unwrap(),
            Transport::NineP
        );
        let bare = tree_with("kernel/fs/ext4/ext4.ko:\n");
        assert!(choose_transport(bare.path(), true)
            .unwrap_err()
            .to_string()
            .contains("pack the image"));
    }

    #[test]
    fn boot_files_follow_links_inside_the_tree() {
        let tree = tree_with("");
        let boot = tree.path().join("boot");
        let mut kernel = vec![0u8; 0x300];
        kernel[0x202..0x206].copy_from_slice(b"HdrS");
        std::fs::write(boot.join("vmlinuz-6.1.0-test"), &kernel).unwrap();
        std::os::unix::fs::symlink("vmlinuz-6.1.0-test", boot.join("kernel")).unwrap();
        std::fs::write(boot.join("initramfs"), b"cpio").unwrap();
        // An absolute link resolves inside the tree, not on the host.
        std::os::unix::fs::symlink("/boot/initramfs", boot.join("initrd.img")).unwrap();
        let files = boot_files(tree.path()).unwrap();
        assert_eq!(files.kernel, boot.join("vmlinuz-6.1.0-test"));
        assert_eq!(files.initramfs, boot.join("initramfs"));
        assert_eq!(
            resolve_in_tree(tree.path(), "/boot/initrd.img"),
            Some(boot.join("initramfs"))
        );
        assert_eq!(resolve_in_tree(tree.path(), "/boot/missing"), None);
    }

    #[test]
    fn a_tree_spec_gets_its_share_and_root_option() {
        let tree = tree_with("kernel/fs/9p/9p.ko:\nkernel/net/9p/9pnet_virtio.ko:\n");
        let spec = VmSpec::new(
            "t",
            Boot::Tree {
                tree: tree.path().to_path_buf(),
            },
        );
        let spec = with_tree_share(&spec).unwrap();
        // Whichever transport this host allows, the share and root= agree.
        match &spec.shares[0] {
            Share::NineP { tag, read_only, .. } => {
                assert_eq!(tag, TREE_TAG);
                assert!(read_only);
                assert_eq!(root_option(&spec), "root=9p:genpack-tree");
            }
            Share::Virtiofs { .. } => panic!("the kernel has no virtiofs"),
        }
        let squashfs = VmSpec::new(
            "s",
            Boot::Squashfs {
                image: "x.squashfs".into(),
            },
        );
        assert_eq!(root_option(&squashfs), "root=block:");
    }
}
