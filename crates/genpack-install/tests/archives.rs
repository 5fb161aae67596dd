//! ISO and ZIP outputs, checked with blkid/sfdisk/xorriso and by reading the ZIP back.

mod common;

use std::io::Read;

use common::{blkid_at, run, test_image};
use genpack_install::{make_iso, make_zip, IsoOptions, ZipOptions};

#[test]
fn iso_is_hybrid_with_an_efi_partition_and_the_system_files() {
    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("a.ini");
    std::fs::write(&ini, "hostname = iso\n").unwrap();
    let cfg = dir.path().join("a.cfg");
    std::fs::write(&cfg, "set LINUX_ARGS=quiet\n").unwrap();
    let iso = dir.path().join("out.iso");
    let report = make_iso(
        test_image(),
        &iso,
        &IsoOptions {
            system_ini: Some(ini),
            system_cfg: Some(cfg),
            label: Some(genpack_install::VolumeLabel::parse("MYISO").unwrap()),
        },
    )
    .unwrap();
    assert_eq!(report.size, std::fs::metadata(&iso).unwrap().len());

    let probe = blkid_at(&iso, 0);
    assert_eq!(probe["TYPE"], "iso9660");
    assert_eq!(probe["LABEL"], "MYISO");
    assert_eq!(probe["UUID"], report.uuid.to_string());
    assert_eq!(probe["PTTYPE"], "dos", "hybrid: a USB stick sees an MBR");

    let table: serde_json::Value =
        serde_json::from_str(&run("sfdisk", &["--json", &iso.to_string_lossy()])).unwrap();
    let parts = table["partitiontable"]["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "{table}");
    assert_eq!(parts[1]["type"], "ef");
    let esp_offset = parts[1]["start"].as_u64().unwrap() * 512;
    assert_eq!(blkid_at(&iso, esp_offset)["TYPE"], "vfat");

    let listing = run(
        "xorriso",
        &["-indev", &iso.to_string_lossy(), "-find", "/", "-type", "f"],
    );
    for name in [
        "/system.img",
        "/system.ini",
        "/system.cfg",
        "/EFI/BOOT/grub.cfg",
        "/boot/grub/i386-pc/eltorito.img",
    ] {
        assert!(
            listing.contains(&format!("'{name}'")),
            "{name} missing: {listing}"
        );
    }
    let boot = run(
        "xorriso",
        &[
            "-indev",
            &iso.to_string_lossy(),
            "-report_el_torito",
            "plain",
        ],
    );
    assert!(boot.contains("BIOS"), "{boot}");
    assert!(boot.contains("UEFI"), "{boot}");
}

#[test]
fn zip_holds_the_image_its_companions_and_the_efi_loaders() {
    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("a.ini");
    std::fs::write(&ini, "hostname = zipped\n").unwrap();
    let out = dir.path().join("out.zip");
    let report = make_zip(
        test_image(),
        &out,
        &ZipOptions {
            system_ini: Some(ini),
            system_cfg: None,
        },
    )
    .unwrap();
    assert_eq!(
        report.entries,
        [
            "system.img",
            "system.ini",
            "EFI/BOOT/BOOTX64.EFI",
            "EFI/BOOT/BOOTIA32.EFI",
            "EFI/BOOT/grub.cfg"
        ]
    );
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&out).unwrap()).unwrap();
    let mut image = Vec::new();
    archive
        .by_name("system.img")
        .unwrap()
        .read_to_end(&mut image)
        .unwrap();
    assert_eq!(image, std::fs::read(test_image()).unwrap());
    let mut ini_text = String::new();
    archive
        .by_name("system.ini")
        .unwrap()
        .read_to_string(&mut ini_text)
        .unwrap();
    assert_eq!(ini_text, "hostname = zipped\n");
    let mut loader = Vec::new();
    archive
        .by_name("EFI/BOOT/BOOTX64.EFI")
        .unwrap()
        .read_to_end(&mut loader)
        .unwrap();
    assert_eq!(&loader[..2], b"MZ");
    let mut cfg = String::new();
    archive
        .by_name("EFI/BOOT/grub.cfg")
        .unwrap()
        .read_to_string(&mut cfg)
        .unwrap();
    assert!(cfg.contains("root=systemimg:auto"), "{cfg}");
    // `unzip -t` (the tool a user would reach for) agrees.
    if std::path::Path::new("/usr/bin/unzip").exists() {
        let test = run("unzip", &["-t", &out.to_string_lossy()]);
        assert!(test.contains("No errors"), "{test}");
    }
}

#[test]
fn failed_zip_leaves_an_existing_archive_alone() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.zip");
    std::fs::write(&out, b"previous").unwrap();
    let err = make_zip(
        test_image(),
        &out,
        &ZipOptions {
            system_ini: Some(dir.path().join("missing.ini")),
            system_cfg: None,
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("missing.ini"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"previous");
}
