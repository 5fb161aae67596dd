//! Raspberry Pi boot files.
//!
//! A Raspberry Pi does not run GRUB: its firmware reads `bootcode.bin`, `start*.elf`,
//! `config.txt`, `cmdline.txt`, the kernel, the initramfs and the device trees from the root
//! of the first FAT partition. An image is a Pi image when it carries `/boot/bootcode.bin`;
//! every file under its `/boot` then goes to the root of the boot partition, next to
//! `system.img`. `cmdline.txt` gets `root=systemimg:…` so the initramfs boots the image, and
//! loses `rootfstype=`, which would name the wrong file system. On a partition that already
//! holds them (self-update), `config.txt` and `cmdline.txt` are the user's and are kept.

use crate::error::InstallError;
use crate::Result;

/// The file that marks an image as a Raspberry Pi image.
pub const MARKER: &str = "/boot/bootcode.bin";
/// The kernel command line the firmware passes on.
pub const CMDLINE: &str = "cmdline.txt";
/// The firmware's settings.
pub const CONFIG: &str = "config.txt";
/// A kernel command line for an image that carries none.
const DEFAULT_CMDLINE: &str = "console=serial0,115200 console=tty1";

/// A boot file for the root of the boot partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootFile {
    /// Its path on the boot partition, without a leading `/` (`overlays/foo.dtbo`).
    pub path: String,
    /// Its content.
    pub bytes: Vec<u8>,
}

/// Whether `image` is a Raspberry Pi image.
pub fn is_pi_image(image: &genpack_image::Image) -> bool {
    image.exists(MARKER)
}

/// Every file under the image's `/boot` (symbolic links followed), with `cmdline.txt` made
/// to boot the image through `root=systemimg:<root_id>` (`auto`, or a FAT volume id). Empty
/// when `image` is not a Raspberry Pi image.
pub fn boot_files(image: &genpack_image::Image, root_id: &str) -> Result<Vec<BootFile>> {
    if !is_pi_image(image) {
        return Ok(Vec::new());
    }
    let bad = |reason: String| InstallError::BadImage {
        image: image.path().to_path_buf(),
        reason,
    };
    let mut files = Vec::new();
    let mut has_cmdline = false;
    for entry in image.entries() {
        let Ok(relative) = entry.path.strip_prefix("/boot") else {
            continue;
        };
        if matches!(entry.kind, genpack_image::EntryKind::Dir) || relative.as_os_str().is_empty() {
            continue;
        }
        let inner = entry.path.to_string_lossy().to_string();
        let bytes = match image.read(&inner) {
            Ok(bytes) => bytes,
            // A link to a directory or outside the image, a device: nothing FAT can hold.
            Err(genpack_image::ImageError::NotAFile { .. })
            | Err(genpack_image::ImageError::NotFound { .. }) => continue,
            Err(e) => return Err(bad(e.to_string())),
        };
        let path = relative.to_string_lossy().to_string();
        let bytes = if path == CMDLINE {
            has_cmdline = true;
            cmdline_for(&String::from_utf8_lossy(&bytes), root_id).into_bytes()
        } else {
            bytes
        };
        files.push(BootFile { path, bytes });
    }
    if !has_cmdline {
        files.push(BootFile {
            path: CMDLINE.into(),
            bytes: cmdline_for(DEFAULT_CMDLINE, root_id).into_bytes(),
        });
    }
    Ok(files)
}

/// `cmdline` (one line of kernel arguments) with `root=systemimg:<root_id>` in place of any
/// `root=`, and without `rootfstype=`.
pub fn cmdline_for(cmdline: &str, root_id: &str) -> String {
    let mut words: Vec<String> = cmdline
        .split_whitespace()
        .filter(|w| !w.starts_with("root=") && !w.starts_with("rootfstype="))
        .map(str::to_string)
        .collect();
    words.insert(0, format!("root=systemimg:{root_id}"));
    words.join(" ") + "\n"
}

/// Whether a file the user may have edited on the partition is kept over the image's.
pub fn is_user_file(path: &str) -> bool {
    path == CONFIG || path == CMDLINE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_boots_the_system_image_and_keeps_the_rest() {
        assert_eq!(
            cmdline_for(
                "console=serial0,115200 root=/dev/mmcblk0p2 rootfstype=ext4 fsck.repair=yes rootwait\n",
                "auto"
            ),
            "root=systemimg:auto console=serial0,115200 fsck.repair=yes rootwait\n"
        );
        assert_eq!(cmdline_for("", "1234-ABCD"), "root=systemimg:1234-ABCD\n");
    }

    #[test]
    fn only_config_and_cmdline_belong_to_the_user() {
        assert!(is_user_file("config.txt"));
        assert!(is_user_file("cmdline.txt"));
        assert!(!is_user_file("kernel8.img"));
        assert!(!is_user_file("overlays/config.txt"));
    }
}
