//! The GRUB side: a standalone UEFI loader made with grub-mkimage, and the grub.cfg that
//! boots the kernel and initramfs from inside `system.img`.

use std::path::Path;
use std::process::Command;

use crate::error::InstallError;
use crate::fat::VolumeId;
use crate::Result;

/// Directory of GRUB's x86_64 UEFI modules (package grub-efi-amd64-bin).
pub const X86_64_EFI_MODULES_DIR: &str = "/usr/lib/grub/x86_64-efi";

/// Modules built into the loader: everything needed to find the boot partition, loop-mount
/// the SquashFS image and boot Linux from it, with a serial console.
pub const EFI_MODULES: &[&str] = &[
    "part_gpt",
    "part_msdos",
    "fat",
    "iso9660",
    "loopback",
    "squash4",
    "linux",
    "normal",
    "configfile",
    "search",
    "search_fs_uuid",
    "search_label",
    "search_fs_file",
    "echo",
    "serial",
    "terminal",
    "test",
    "sleep",
    "reboot",
    "halt",
    "gzio",
    "xzio",
    "lzopio",
    "zstd",
    "all_video",
    "efi_gop",
    "font",
    "gfxterm",
    "ls",
    "cat",
    "probe",
    "regexp",
];

/// Where the loader looks for its configuration (on the partition it was loaded from).
pub const PREFIX: &str = "/EFI/BOOT";

/// Writes a standalone `BOOTX64.EFI` to `out` with grub-mkimage.
pub fn make_efi_loader(out: &Path) -> Result<()> {
    let modules_dir = Path::new(X86_64_EFI_MODULES_DIR);
    if !modules_dir.is_dir() {
        return Err(InstallError::Grub(format!(
            "{X86_64_EFI_MODULES_DIR} is missing"
        )));
    }
    let available: Vec<&str> = EFI_MODULES
        .iter()
        .copied()
        .filter(|m| modules_dir.join(format!("{m}.mod")).is_file())
        .collect();
    let output = Command::new("grub-mkimage")
        .arg("-d")
        .arg(modules_dir)
        .args(["-O", "x86_64-efi", "-p", PREFIX, "-o"])
        .arg(out)
        .args(&available)
        .output()
        .map_err(|e| InstallError::Grub(format!("cannot run grub-mkimage: {e}")))?;
    if !output.status.success() {
        return Err(InstallError::Grub(
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    Ok(())
}

/// The grub.cfg of a genpack boot partition with volume id `volume_id`.
pub fn grub_cfg(volume_id: VolumeId) -> String {
    let id = volume_id.to_string();
    format!(
        r#"# Boots the genpack system image system.img from this partition.
serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1
terminal_input serial console
terminal_output serial console
set timeout=3
set default=normal
search --no-floppy --fs-uuid --set=root {id}
loopback loop ($root)/system.img
set args="root=systemimg:{id} console=tty0 console=ttyS0,115200n8 panic=30 systemd.firstboot=0"

menuentry "Normal mode" --id normal {{
    linux (loop)/boot/kernel $args
    initrd (loop)/boot/initramfs
}}

menuentry "Transient mode (changes are not kept)" --id transient {{
    linux (loop)/boot/kernel $args genpack.transient=1
    initrd (loop)/boot/initramfs
}}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_boots_from_inside_the_image_with_both_entries() {
        let cfg = grub_cfg(VolumeId(0x1234_abcd));
        assert!(cfg.contains("search --no-floppy --fs-uuid --set=root 1234-ABCD"));
        assert!(cfg.contains("loopback loop ($root)/system.img"));
        assert!(cfg.contains("root=systemimg:1234-ABCD"));
        assert!(cfg.contains("console=ttyS0"));
        assert_eq!(cfg.matches("menuentry").count(), 2);
        assert!(cfg.contains("genpack.transient=1"));
        assert!(cfg.contains("initrd (loop)/boot/initramfs"));
    }

    #[test]
    fn loader_is_a_pe_image_needs_grub() {
        if !Path::new(X86_64_EFI_MODULES_DIR).is_dir() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("BOOTX64.EFI");
        make_efi_loader(&out).unwrap();
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(&bytes[..2], b"MZ");
    }
}
