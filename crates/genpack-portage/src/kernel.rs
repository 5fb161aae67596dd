//! Finding the kernel and initramfs a Gentoo lower installed, the same way the overlay's
//! `virtual/dist-kernel` package-script does when it makes `/boot/kernel` and `/boot/initramfs`.

use std::cmp::Ordering;
use std::fs;
use std::path::{Path, PathBuf};

/// A kernel found in a root.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InstalledKernel {
    /// Kernel release (`6.12.8-gentoo-dist`), the name of its `/lib/modules` directory.
    pub release: String,
    /// Path of the kernel image inside the root.
    pub image: PathBuf,
    /// Path of its initramfs inside the root, when one exists.
    pub initramfs: Option<PathBuf>,
}

/// Where a kernel image of `release` may be, in order of preference.
pub fn image_candidates(release: &str) -> Vec<String> {
    vec![
        format!("/lib/modules/{release}/vmlinuz"),
        format!("/boot/vmlinuz-{release}"),
        format!("/boot/kernel-{release}"),
        format!("/usr/src/linux-{release}/arch/x86/boot/bzImage"),
        format!("/usr/src/linux-{release}/arch/arm64/boot/Image"),
        format!("/usr/src/linux-{release}/arch/riscv/boot/Image"),
    ]
}

/// Where an initramfs of `release` may be, in order of preference.
pub fn initramfs_candidates(release: &str) -> Vec<String> {
    vec![
        format!("/boot/initramfs-{release}.img"),
        format!("/lib/modules/{release}/initrd"),
        format!("/boot/initrd-{release}"),
    ]
}

/// The newest kernel under `root` (by release, compared like `sort -V`), with its image; `None`
/// when no `/lib/modules/<release>` has an image.
pub fn find(root: &Path) -> Option<InstalledKernel> {
    let mut releases: Vec<String> = fs::read_dir(root.join("lib/modules"))
        .ok()?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .collect();
    releases.sort_by(|a, b| natural_cmp(b, a));
    releases.into_iter().find_map(|release| {
        let exists = |path: &String| root.join(&path[1..]).is_file();
        let image = image_candidates(&release).into_iter().find(exists)?;
        let initramfs = initramfs_candidates(&release).into_iter().find(exists);
        Some(InstalledKernel {
            image: image.into(),
            initramfs: initramfs.map(PathBuf::from),
            release,
        })
    })
}

/// Compares strings with runs of digits compared as numbers (`6.9` < `6.10`).
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.is_empty(), b.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            _ => {}
        }
        let digits_a = a.len() - a.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let digits_b = b.len() - b.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let order = if digits_a > 0 && digits_b > 0 {
            let (x, y) = (
                a[..digits_a].trim_start_matches('0'),
                b[..digits_b].trim_start_matches('0'),
            );
            let order = x.len().cmp(&y.len()).then_with(|| x.cmp(y));
            a = &a[digits_a..];
            b = &b[digits_b..];
            order
        } else {
            let (x, y) = (
                a.chars().next().unwrap_or_default(),
                b.chars().next().unwrap_or_default(),
            );
            a = &a[x.len_utf8()..];
            b = &b[y.len_utf8()..];
            x.cmp(&y)
        };
        if order != Ordering::Equal {
            return order;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, path: &str) {
        let full = root.join(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(full, b"x").unwrap();
    }

    #[test]
    fn finds_the_newest_kernel_with_an_image() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        touch(root, "lib/modules/6.9.1-gentoo-dist/vmlinuz");
        touch(root, "boot/initramfs-6.9.1-gentoo-dist.img");
        touch(root, "lib/modules/6.10.2-gentoo-dist/modules.dep");
        touch(root, "boot/vmlinuz-6.10.2-gentoo-dist");
        // Newest release, but only modules left behind: skipped.
        fs::create_dir_all(root.join("lib/modules/6.11.0-gentoo-dist")).unwrap();
        let kernel = find(root).unwrap();
        assert_eq!(kernel.release, "6.10.2-gentoo-dist");
        assert_eq!(
            kernel.image,
            PathBuf::from("/boot/vmlinuz-6.10.2-gentoo-dist")
        );
        assert_eq!(kernel.initramfs, None);
        fs::remove_file(root.join("boot/vmlinuz-6.10.2-gentoo-dist")).unwrap();
        let kernel = find(root).unwrap();
        assert_eq!(
            kernel.initramfs,
            Some(PathBuf::from("/boot/initramfs-6.9.1-gentoo-dist.img"))
        );
        assert!(find(&root.join("nowhere")).is_none());
    }

    #[test]
    fn natural_order() {
        assert_eq!(natural_cmp("6.9", "6.10"), Ordering::Less);
        assert_eq!(
            natural_cmp("6.10.2-gentoo", "6.10.2-gentoo"),
            Ordering::Equal
        );
        assert_eq!(natural_cmp("6.1", "6.1.1"), Ordering::Less);
        assert_eq!(natural_cmp("6.01", "6.1"), Ordering::Equal);
        assert_eq!(natural_cmp("a", "b"), Ordering::Less);
    }
}
