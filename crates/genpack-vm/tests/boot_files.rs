//! Reading kernel and initramfs out of SquashFS images made with mksquashfs.

use std::path::Path;
use std::process::Command;

use genpack_vm::boot_files::extract;
use genpack_vm::name_for_image;
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
fn an_image_without_kernel_says_what_it_looked_for() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    std::fs::create_dir_all(root.join("boot")).unwrap();
    std::fs::write(root.join("boot/initramfs"), b"x").unwrap();
    let image = work.path().join("system.squashfs");
    mksquashfs(&root, &image);

    let err = extract(&image, work.path()).unwrap_err();
    assert!(matches!(err, VmError::Image(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("/boot/initramfs but no /boot/kernel"),
        "{text}"
    );
    assert!(text.contains("system.squashfs"), "{text}");
}

#[test]
fn without_boot_kernel_the_newest_release_and_its_own_initramfs_boot() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    std::fs::create_dir_all(root.join("boot")).unwrap();
    let mut old = fake_bzimage();
    old[8000] = 9;
    std::fs::write(root.join("boot/vmlinuz-6.1.0-9-amd64"), old).unwrap();
    std::fs::write(root.join("boot/vmlinuz-6.1.0-10-amd64"), fake_bzimage()).unwrap();
    std::fs::write(root.join("boot/initrd.img-6.1.0-9-amd64"), b"old initrd").unwrap();
    std::fs::write(root.join("boot/initrd.img-6.1.0-10-amd64"), b"new initrd").unwrap();
    let image = work.path().join("debian.squashfs");
    mksquashfs(&root, &image);

    let out = work.path().join("run");
    std::fs::create_dir(&out).unwrap();
    let files = extract(&image, &out).unwrap();
    assert_eq!(std::fs::read(&files.kernel).unwrap(), fake_bzimage());
    assert_eq!(std::fs::read(&files.initramfs).unwrap(), b"new initrd");
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
fn the_vm_name_comes_from_the_image_record_else_the_file_name() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    std::fs::create_dir_all(root.join(".genpack")).unwrap();
    std::fs::write(root.join(".genpack/artifact"), "nextcloud\n").unwrap();
    std::fs::write(root.join(".genpack/arch"), "x86_64\n").unwrap();
    std::fs::write(root.join(".genpack/variant"), "\n").unwrap();
    let image = work.path().join("system.img");
    mksquashfs(&root, &image);
    assert_eq!(name_for_image(&image), "nextcloud-x86_64");

    // A variant is part of the name, as in the file name the build writes.
    std::fs::write(root.join(".genpack/variant"), "small\n").unwrap();
    let image = work.path().join("copy.squashfs");
    mksquashfs(&root, &image);
    assert_eq!(name_for_image(&image), "nextcloud-small-x86_64");

    let plain = work.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    let image = work.path().join("my image.squashfs");
    mksquashfs(&plain, &image);
    assert_eq!(name_for_image(&image), "my-image");
    assert_eq!(
        name_for_image(&work.path().join("missing-x86_64.squashfs")),
        "missing-x86_64"
    );
}
