//! Reading kernel and initramfs out of SquashFS images made with mksquashfs.

use std::path::Path;
use std::process::Command;

use genpack_vm::boot_files::{default_vm_name, extract};
use genpack_vm::{Arch, VmError};

fn mksquashfs(root: &Path, image: &Path) {
    let status = Command::new("mksquashfs")
        .arg(root)
        .arg(image)
        .args(["-noappend", "-quiet", "-no-progress"])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A fake x86 bzImage: only the header matters for architecture detection.
fn fake_bzimage() -> Vec<u8> {
    let mut kernel = vec![0u8; 8192];
    kernel[0x202..0x206].copy_from_slice(b"HdrS");
    kernel[4096..4100].copy_from_slice(b"tail");
    kernel
}

#[test]
fn kernel_and_initramfs_are_found_through_nested_symlinks() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    std::fs::create_dir_all(root.join("usr/lib/kernel")).unwrap();
    std::fs::write(root.join("usr/lib/kernel/vmlinuz-6.6"), fake_bzimage()).unwrap();
    std::fs::write(
        root.join("usr/lib/kernel/initramfs-6.6.img"),
        b"initramfs bytes",
    )
    .unwrap();
    // /boot is itself a symlink; inside it, an absolute and a relative link.
    std::os::unix::fs::symlink("usr/lib/kernel", root.join("boot")).unwrap();
    std::os::unix::fs::symlink(
        "/usr/lib/kernel/vmlinuz-6.6",
        root.join("usr/lib/kernel/kernel"),
    )
    .unwrap();
    std::os::unix::fs::symlink("./initramfs-6.6.img", root.join("usr/lib/kernel/initramfs"))
        .unwrap();
    let image = work.path().join("system.squashfs");
    mksquashfs(&root, &image);

    let out = work.path().join("run");
    std::fs::create_dir(&out).unwrap();
    let files = extract(&image, &out).unwrap();
    assert_eq!(files.arch, Arch::X86_64);
    assert_eq!(std::fs::read(&files.kernel).unwrap(), fake_bzimage());
    assert_eq!(std::fs::read(&files.initramfs).unwrap(), b"initramfs bytes");
    assert!(files.kernel.starts_with(&out) && files.initramfs.starts_with(&out));
}

#[test]
fn an_image_without_kernel_says_where_it_looked() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    std::fs::create_dir_all(root.join("boot")).unwrap();
    std::fs::write(root.join("boot/initramfs"), b"x").unwrap();
    let image = work.path().join("system.squashfs");
    mksquashfs(&root, &image);

    let err = extract(&image, work.path()).unwrap_err();
    match &err {
        VmError::BootFileMissing {
            wanted, looked_at, ..
        } => {
            assert_eq!(*wanted, "kernel");
            assert!(looked_at.contains(&"/boot/kernel".to_string()));
        }
        other => panic!("unexpected error {other}"),
    }
    assert!(err.to_string().contains("/boot/kernel"));
}

#[test]
fn a_file_that_is_not_squashfs_is_a_clear_error() {
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("not.squashfs");
    std::fs::write(&image, vec![0u8; 4096]).unwrap();
    let err = extract(&image, work.path()).unwrap_err();
    assert!(matches!(err, VmError::Image { .. }), "{err}");
}

#[test]
fn default_name_comes_from_the_artifact_record_else_the_file_name() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    std::fs::create_dir_all(root.join(".genpack")).unwrap();
    std::fs::write(root.join(".genpack/artifact"), "nextcloud-x86_64\n").unwrap();
    let image = work.path().join("whatever.squashfs");
    mksquashfs(&root, &image);
    assert_eq!(default_vm_name(&image), "nextcloud-x86_64");

    let plain = work.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let image = work.path().join("my image.squashfs");
    mksquashfs(&plain, &image);
    assert_eq!(default_vm_name(&image), "my-image");
}
