//! The settings form's schema comes from the image: from the image file a project builds, from
//! system.img on a stick (read through the FAT boot partition), else the built-in one with why.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::squashfs;
use genpack_ini::{KeySpec, Kind, Schema};
use genpack_install::layout::Layout;
use genpack_install::{
    install_to_disk_image, settings_schema, BootPartition, InstallOptions, SchemaOrigin,
    SchemaPlace,
};

const HELP: &str = "The web page the kiosk shows full screen after it starts.";

/// An image whose schema (as the image build writes it: the built-in keys and those of a
/// drop-in module) declares `kiosk_url`; `with_schema: false` leaves the schema out.
fn image(dir: &Path, with_schema: bool) -> PathBuf {
    let tree = dir.join("tree");
    fs::create_dir_all(tree.join(".genpack")).unwrap();
    fs::create_dir_all(tree.join("boot")).unwrap();
    fs::write(tree.join(".genpack/artifact"), "kiosk\n").unwrap();
    fs::write(tree.join(".genpack/arch"), "x86_64\n").unwrap();
    fs::write(tree.join(".genpack/timestamp"), "1700000000\n").unwrap();
    fs::write(tree.join("boot/kernel"), "kernel").unwrap();
    fs::write(tree.join("boot/initramfs"), "initramfs").unwrap();
    // Enough data that system.img spans many clusters.
    let noise: Vec<u8> = (0..600_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    fs::write(tree.join("boot/noise"), noise).unwrap();
    if with_schema {
        let mut schema = Schema::builtin();
        schema.merge(Schema {
            keys: vec![KeySpec {
                section: "_default".into(),
                key: "kiosk_url".into(),
                title: "Kiosk page".into(),
                kind: Kind::String,
                default: None,
                help: HELP.into(),
                module: "70kiosk".into(),
                applied_every_boot: true,
                group: "Kiosk".into(),
            }],
        });
        fs::create_dir_all(tree.join("usr/share/genpack")).unwrap();
        fs::write(
            tree.join("usr/share/genpack/system-ini.schema.json"),
            schema.to_json(),
        )
        .unwrap();
    }
    let image = dir.join("kiosk-x86_64.squashfs");
    squashfs(&tree, &image);
    image
}

fn kiosk_url(schema: &Schema) -> Option<&KeySpec> {
    schema.find("_default", "kiosk_url")
}

#[test]
fn the_image_file_s_own_schema_is_used_with_its_build_time() {
    let dir = tempfile::tempdir().unwrap();
    let image = image(dir.path(), true);
    let found = settings_schema(&SchemaPlace::Image(image.clone()));
    assert_eq!(
        found.origin,
        SchemaOrigin::Image {
            image,
            built_at: Some(1_700_000_000)
        }
    );
    assert_eq!(kiosk_url(&found.schema).unwrap().help, HELP);
    assert!(found.origin.describe().contains("2023-11-14"));
}

#[test]
fn without_a_built_image_the_built_in_schema_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("kiosk-x86_64.squashfs");
    let found = settings_schema(&SchemaPlace::Image(missing));
    assert!(found.origin.is_builtin());
    assert!(kiosk_url(&found.schema).is_none());
    assert!(found.schema.find("_default", "hostname").is_some());
    let note = found.origin.describe();
    assert!(
        note.contains("kiosk-x86_64.squashfs is not built yet"),
        "{note}"
    );
    assert!(note.contains("build the image"), "{note}");

    let old = image(dir.path(), false);
    let found = settings_schema(&SchemaPlace::Image(old));
    assert!(found.origin.is_builtin());
    let note = found.origin.describe();
    assert!(note.contains("has no settings schema"), "{note}");
}

#[test]
fn system_img_on_a_stick_is_read_through_the_boot_partition() {
    let dir = tempfile::tempdir().unwrap();
    let image = image(dir.path(), true);
    let disk = dir.path().join("disk.img");
    install_to_disk_image(
        &image,
        &disk,
        &InstallOptions {
            layout: Layout::Gpt,
            ..Default::default()
        },
    )
    .unwrap();
    let found = settings_schema(&SchemaPlace::Disk(disk.clone()));
    assert_eq!(
        found.origin,
        SchemaOrigin::Disk {
            disk: disk.clone(),
            built_at: Some(1_700_000_000)
        }
    );
    assert_eq!(kiosk_url(&found.schema).unwrap().help, HELP);

    // A stick whose system.img is in pieces: written in turns with another file, so that its
    // clusters alternate with that file's.
    let floppy = dir.path().join("fragmented.img");
    common::run(
        "mkfs.vfat",
        &["-F", "32", "-C", &floppy.to_string_lossy(), "65536"],
    );
    {
        use std::io::Write;
        let volume = fatfs::FileSystem::new(
            fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&floppy)
                .unwrap(),
            fatfs::FsOptions::new(),
        )
        .unwrap();
        let root = volume.root_dir();
        let mut system = root.create_file("system.img").unwrap();
        let mut other = root.create_file("photos.bin").unwrap();
        for chunk in fs::read(&image).unwrap().chunks(4096) {
            system.write_all(chunk).unwrap();
            other.write_all(&[9u8; 4096]).unwrap();
        }
        system.flush().unwrap();
        other.flush().unwrap();
    }
    let found = settings_schema(&SchemaPlace::Disk(floppy.clone()));
    assert_eq!(
        found.origin,
        SchemaOrigin::Disk {
            disk: floppy,
            built_at: Some(1_700_000_000)
        }
    );
    assert_eq!(kiosk_url(&found.schema).unwrap().help, HELP);

    // Without system.img the built-in schema is used, and the note says why.
    {
        let mut boot = BootPartition::open(&disk).unwrap();
        boot.remove("system.img").unwrap();
        boot.close().unwrap();
    }
    let found = settings_schema(&SchemaPlace::Disk(disk));
    assert!(found.origin.is_builtin());
    assert!(
        found.origin.describe().contains("has no system.img"),
        "{}",
        found.origin.describe()
    );
}

/// Moves the image of a disk made with a data partition to that partition as `system`, as an
/// image of 4 GiB or more is laid out (without writing 4 GiB): a btrfs with the file, labelled
/// `label`, made by mkfs.btrfs and put at the data partition's place.
fn image_on_data_partition(
    dir: &Path,
    image: &Path,
    layout: Layout,
    label: Option<&str>,
) -> PathBuf {
    let disk = dir.join(format!("{layout:?}-data.img"));
    let report = install_to_disk_image(
        image,
        &disk,
        &InstallOptions {
            layout,
            data_partition: true,
            size: Some(512 << 20),
            ..Default::default()
        },
    )
    .unwrap();
    let data = report.data_partition.unwrap();
    {
        let mut boot = BootPartition::open(&disk).unwrap();
        assert!(boot.remove("system.img").unwrap());
        boot.close().unwrap();
    }
    let root = dir.join("data-root");
    fs::create_dir_all(&root).unwrap();
    fs::copy(image, root.join("system")).unwrap();
    let btrfs = dir.join("data.btrfs");
    fs::File::create(&btrfs)
        .unwrap()
        .set_len(data.size)
        .unwrap();
    let label = label.map_or_else(|| report.data_label.clone().unwrap(), str::to_string);
    common::run(
        "mkfs.btrfs",
        &[
            "-q",
            "-f",
            "-L",
            &label,
            "--rootdir",
            &root.to_string_lossy(),
            &btrfs.to_string_lossy(),
        ],
    );
    let bytes = fs::read(&btrfs).unwrap();
    assert!(bytes.len() as u64 <= data.size);
    use std::os::unix::fs::FileExt;
    fs::OpenOptions::new()
        .write(true)
        .open(&disk)
        .unwrap()
        .write_all_at(&bytes, data.offset)
        .unwrap();
    fs::remove_dir_all(&root).unwrap();
    fs::remove_file(&btrfs).unwrap();
    disk
}

#[test]
fn the_image_on_the_data_partition_of_a_stick_is_read_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let image = image(dir.path(), true);
    // MBR, the data partition labelled after the boot partition as the boot looks for it.
    let disk = image_on_data_partition(dir.path(), &image, Layout::Mbr, None);
    let found = settings_schema(&SchemaPlace::Disk(disk.clone()));
    assert_eq!(
        found.origin,
        SchemaOrigin::Disk {
            disk,
            built_at: Some(1_700_000_000)
        },
        "{}",
        found.origin.describe()
    );
    assert_eq!(kiosk_url(&found.schema).unwrap().help, HELP);

    // GPT, and a label the boot does not know: partition 2 is the data partition then.
    let disk = image_on_data_partition(dir.path(), &image, Layout::Gpt, Some("old-data"));
    let found = settings_schema(&SchemaPlace::Disk(disk.clone()));
    assert_eq!(
        found.origin,
        SchemaOrigin::Disk {
            disk: disk.clone(),
            built_at: Some(1_700_000_000)
        },
        "{}",
        found.origin.describe()
    );
    assert_eq!(kiosk_url(&found.schema).unwrap().help, HELP);
}

#[test]
fn a_stick_with_neither_system_img_nor_a_data_partition_image_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let image = image(dir.path(), true);
    let disk = dir.path().join("disk.img");
    install_to_disk_image(
        &image,
        &disk,
        &InstallOptions {
            data_partition: true,
            size: Some(512 << 20),
            ..Default::default()
        },
    )
    .unwrap();
    {
        let mut boot = BootPartition::open(&disk).unwrap();
        boot.remove("system.img").unwrap();
        boot.close().unwrap();
    }
    // The data partition is there (an empty btrfs), without `system`.
    let found = settings_schema(&SchemaPlace::Disk(disk));
    assert!(found.origin.is_builtin());
    let note = found.origin.describe();
    assert!(
        note.contains("has no system.img on its boot partition and no system on a data partition"),
        "{note}"
    );
}
