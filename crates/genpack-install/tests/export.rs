//! Exporting an image to files as the studio's Export and `genpack install --disk NEW.img`
//! do: complete files or none, with the chosen partition table and the settings.

mod common;

use common::test_image;
use genpack_install::{export, BootPartition, ExportFormat, InstallOptions, Layout, VolumeLabel};

#[test]
fn the_chosen_partition_table_is_the_one_written() {
    let dir = tempfile::tempdir().unwrap();
    for (layout, gpt_signature, starts_at_zero) in [
        (Layout::Auto, false, false),
        (Layout::Gpt, true, false),
        (Layout::Superfloppy, false, true),
    ] {
        let out = dir.path().join(format!("{layout:?}.img"));
        let options = InstallOptions {
            layout,
            ..InstallOptions::default()
        };
        export(test_image(), &out, ExportFormat::Disk, &options).unwrap();
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(&bytes[512..520] == b"EFI PART", gpt_signature, "{layout:?}");
        let boot = BootPartition::open(&out).unwrap();
        assert_eq!(boot.location().offset == 0, starts_at_zero, "{layout:?}");
        assert!(boot.exists("system.img"), "{layout:?}");
    }
}

#[test]
fn an_exported_disk_image_holds_the_image_and_the_settings_and_nothing_is_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("system.ini");
    std::fs::write(&ini, "hostname=exported\n").unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("demo.img");
    let options = InstallOptions {
        system_ini: Some(ini),
        label: Some(VolumeLabel::parse("demo").unwrap()),
        ..InstallOptions::default()
    };
    let bytes = export(test_image(), &out, ExportFormat::Disk, &options).unwrap();
    assert_eq!(std::fs::metadata(&out).unwrap().len(), bytes);
    let boot = BootPartition::open(&out).unwrap();
    assert!(boot.exists("system.img"));
    assert_eq!(
        boot.read("system.ini").unwrap().as_deref(),
        Some(&b"hostname=exported\n"[..])
    );
    let left: Vec<_> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(left, ["demo.img"]);
}

#[test]
fn a_failed_export_keeps_the_old_file_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo.img");
    std::fs::write(&out, "an older export").unwrap();
    let not_an_image = dir.path().join("notes.txt");
    std::fs::write(&not_an_image, "not a squashfs").unwrap();
    for format in ExportFormat::ALL {
        let error = export(&not_an_image, &out, format, &InstallOptions::default());
        assert!(error.is_err(), "{format:?}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "an older export");
    }
    let mut left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["demo.img", "notes.txt"]);
}
