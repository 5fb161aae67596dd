//! Installs to disk image files in every layout and checks them the way a user would:
//! sfdisk/sgdisk for the table, fsck.vfat on the boot partition, blkid for labels.

mod common;

use std::path::Path;

use common::{blkid_at, extract, run, test_image};
use genpack_install::layout::PartitionTable;
use genpack_install::{install_to_disk_image, InstallOptions, InstallReport, Layout};

fn install(dir: &Path, layout: Layout, data_partition: bool) -> InstallReport {
    let ini = dir.join("my.ini");
    std::fs::write(&ini, "hostname = layout-test\n").unwrap();
    let cfg = dir.join("my.cfg");
    std::fs::write(&cfg, "set LINUX_ARGS=\"quiet\"\n").unwrap();
    let disk = dir.join("disk.img");
    install_to_disk_image(
        test_image(),
        &disk,
        &InstallOptions {
            system_ini: Some(ini),
            system_cfg: Some(cfg),
            layout,
            data_partition,
            label: Some(genpack_install::VolumeLabel::parse("MYSTICK").unwrap()),
            ..Default::default()
        },
    )
    .unwrap()
}

fn sfdisk(disk: &Path) -> serde_json::Value {
    serde_json::from_str(&run("sfdisk", &["--json", &disk.to_string_lossy()])).unwrap()
}

/// fsck.vfat -n on the boot partition and its files listed with mdir.
fn check_boot_fs(disk: &Path, report: &InstallReport) -> String {
    let part = disk.with_extension("boot");
    extract(disk, report.partition_offset, report.partition_size, &part);
    let fsck = run("fsck.vfat", &["-n", &part.to_string_lossy()]);
    assert!(!fsck.contains("differ"), "{fsck}");
    let id = blkid_at(disk, report.partition_offset);
    assert_eq!(id["TYPE"], "vfat");
    assert_eq!(id["LABEL"], "MYSTICK");
    assert_eq!(id["UUID"], report.volume_id.to_string());
    let root = run("mdir", &["-b", "-i", &part.to_string_lossy(), "::/"]);
    let efi = run(
        "mdir",
        &["-b", "-i", &part.to_string_lossy(), "::/EFI/BOOT"],
    );
    let cfg = run(
        "mtype",
        &["-i", &part.to_string_lossy(), "::/EFI/BOOT/grub.cfg"],
    );
    assert!(
        cfg.contains(&format!("root=systemimg:{}", report.volume_id)),
        "{cfg}"
    );
    std::fs::remove_file(&part).unwrap();
    format!("{root}{efi}")
}

#[test]
fn mbr_layout_has_a_bootable_esp_and_bios_loader() {
    let dir = tempfile::tempdir().unwrap();
    let report = install(dir.path(), Layout::Auto, false);
    let disk = dir.path().join("disk.img");
    assert_eq!(report.table, Some(PartitionTable::Mbr));
    assert!(report.bios_boot);
    let table = sfdisk(&disk);
    let t = &table["partitiontable"];
    assert_eq!(t["label"], "dos");
    let parts = t["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0]["start"], 2048);
    assert_eq!(parts[0]["type"], "ef");
    assert_eq!(parts[0]["bootable"], true);
    let files = check_boot_fs(&disk, &report);
    for name in [
        "system.img",
        "system.ini",
        "system.cfg",
        "BOOTX64.EFI",
        "grub.cfg",
    ] {
        assert!(files.contains(name), "{name} missing: {files}");
    }
    // GRUB's boot sector is in the MBR, its core image right after it.
    let bytes = std::fs::read(&disk).unwrap();
    assert_eq!(&bytes[510..512], &[0x55, 0xaa]);
    assert!(bytes[512..1024].iter().any(|b| *b != 0), "no core.img");
    let boot_img = std::fs::read("/usr/lib/grub/i386-pc/boot.img").unwrap();
    assert_eq!(&bytes[0x66..0x68], &[0x90, 0x90]);
    assert_eq!(&bytes[0x68..0x1b8], &boot_img[0x68..0x1b8]);
}

#[test]
fn mbr_layout_with_data_partition_labels_it_after_the_boot_volume() {
    let dir = tempfile::tempdir().unwrap();
    let report = install(dir.path(), Layout::Mbr, true);
    let disk = dir.path().join("disk.img");
    let table = sfdisk(&disk);
    let parts = table["partitiontable"]["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[1]["type"], "83");
    let data = report.data_partition.unwrap();
    assert_eq!(parts[1]["start"], data.offset / 512);
    assert_eq!(data.end(), report.disk_size - (1 << 20));
    let id = blkid_at(&disk, data.offset);
    assert_eq!(id["TYPE"], "btrfs");
    assert_eq!(id["LABEL"], format!("data-{}", report.volume_id));
    check_boot_fs(&disk, &report);
}

#[test]
fn gpt_layout_has_esp_data_and_bios_boot_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let report = install(dir.path(), Layout::Gpt, true);
    let disk = dir.path().join("disk.img");
    assert_eq!(report.table, Some(PartitionTable::Gpt));
    let verify = run("sgdisk", &["-v", &disk.to_string_lossy()]);
    assert!(verify.contains("No problems found"), "{verify}");
    let table = sfdisk(&disk);
    let t = &table["partitiontable"];
    assert_eq!(t["label"], "gpt");
    let parts = t["partitions"].as_array().unwrap();
    let types: Vec<&str> = parts.iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
            "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
            "21686148-6449-6E6F-744E-656564454649"
        ]
    );
    assert_eq!(parts[0]["start"], 2048);
    assert_eq!(parts[2]["start"], 34);
    let data = report.data_partition.unwrap();
    assert_eq!(
        blkid_at(&disk, data.offset)["LABEL"],
        format!("data-{}", report.volume_id)
    );
    check_boot_fs(&disk, &report);
}

#[test]
fn superfloppy_is_fat_over_the_whole_disk() {
    let dir = tempfile::tempdir().unwrap();
    let report = install(dir.path(), Layout::Superfloppy, false);
    let disk = dir.path().join("disk.img");
    assert_eq!(report.table, None);
    assert_eq!(report.partition_offset, 0);
    assert!(!report.bios_boot);
    let fsck = run("fsck.vfat", &["-n", &disk.to_string_lossy()]);
    assert!(!fsck.contains("differ"), "{fsck}");
    let files = check_boot_fs(&disk, &report);
    assert!(files.contains("system.img"), "{files}");
    let probe = blkid_at(&disk, 0);
    assert_eq!(probe["TYPE"], "vfat");
    assert!(
        !probe.contains_key("PTTYPE"),
        "no partition table expected: {probe:?}"
    );
}

#[test]
fn superfloppy_refuses_a_data_partition() {
    let dir = tempfile::tempdir().unwrap();
    let err = install_to_disk_image(
        test_image(),
        &dir.path().join("disk.img"),
        &InstallOptions {
            layout: Layout::Superfloppy,
            data_partition: true,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("--mbr or --gpt"), "{err}");
}

#[test]
fn existing_disk_too_small_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.img");
    std::fs::write(&disk, vec![0x5au8; 8 << 20]).unwrap();
    let err = install_to_disk_image(test_image(), &disk, &InstallOptions::default()).unwrap_err();
    assert!(err.to_string().contains("at least"), "{err}");
    assert!(std::fs::read(&disk).unwrap().iter().all(|b| *b == 0x5a));
}

#[test]
fn not_a_genpack_image_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("bogus.img");
    std::fs::write(&bogus, b"not squashfs").unwrap();
    let err = install_to_disk_image(
        &bogus,
        &dir.path().join("disk.img"),
        &InstallOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("bogus.img"), "{err}");
    assert!(!dir.path().join("disk.img").exists());
}

#[test]
fn zstd_image_is_refused_because_grub_cannot_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    for sub in ["boot", ".genpack"] {
        std::fs::create_dir_all(tree.join(sub)).unwrap();
    }
    std::fs::write(tree.join(".genpack/artifact"), "zstd-test\n").unwrap();
    std::fs::write(tree.join("boot/kernel"), "k").unwrap();
    std::fs::write(tree.join("boot/initramfs"), "i").unwrap();
    let image = dir.path().join("zstd.squashfs");
    run(
        "mksquashfs",
        &[
            &tree.to_string_lossy(),
            &image.to_string_lossy(),
            "-noappend",
            "-quiet",
            "-comp",
            "zstd",
        ],
    );
    let err = install_to_disk_image(
        &image,
        &dir.path().join("disk.img"),
        &InstallOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("zstd"), "{err}");
}
