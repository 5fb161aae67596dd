//! Disks with 4096-byte logical sectors ("4Kn"): written to a loop device with 4096-byte
//! sectors (standing in for such a stick, through the same drive path as a USB stick) and to image files made for them, checked with
//! sgdisk, fsck.vfat and blkid, read back with `BootPartition`, and booted with OVMF from a
//! virtio disk with 4096-byte blocks.

mod common;

use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use common::{blkid_at, boot, extract, run, test_image, Firmware, Medium, HOSTNAME_LINE, MARKER};
use genpack_drive::Confirmation;
use genpack_ini::DEFAULT_SECTION;
use genpack_install::boot_ini::set_system_ini_value;
use genpack_install::drive::{write_to_drive, DriveControl, DriveWrite};
use genpack_install::layout::PartitionTable;
use genpack_install::{
    install_to_disk_image, BootPartition, InstallError, InstallOptions, InstallReport, Layout,
    VolumeLabel,
};

const MIB: u64 = 1 << 20;

fn ini(dir: &Path, host: &str) -> PathBuf {
    let path = dir.join("system.ini");
    std::fs::write(&path, format!("hostname = {host}\n")).unwrap();
    path
}

fn options(dir: &Path, host: &str) -> InstallOptions {
    InstallOptions {
        system_ini: Some(ini(dir, host)),
        label: Some(VolumeLabel::parse("STICK4K").unwrap()),
        ..Default::default()
    }
}

/// A loop device with 4096-byte logical sectors over a file; detached when dropped.
struct LoopDevice(PathBuf);

impl LoopDevice {
    fn attach(file: &Path) -> Self {
        let out = run(
            "losetup",
            &[
                "--sector-size",
                "4096",
                "-f",
                "--show",
                &file.to_string_lossy(),
            ],
        );
        LoopDevice(PathBuf::from(out.trim()))
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = std::process::Command::new("losetup")
            .arg("-d")
            .arg(&self.0)
            .status();
    }
}

/// fsck.vfat -n on a copy of the boot partition; blkid on the disk for its label and id.
fn check_boot_fs(disk: &Path, report: &InstallReport, scratch: &Path) {
    let part = scratch.join("boot.fat");
    extract(disk, report.partition_offset, report.partition_size, &part);
    let fsck = run("fsck.vfat", &["-n", &part.to_string_lossy()]);
    assert!(!fsck.contains("differ"), "{fsck}");
    assert!(!fsck.contains("Warning"), "{fsck}");
    let mut boot = [0u8; 512];
    std::fs::File::open(&part)
        .unwrap()
        .read_exact(&mut boot)
        .unwrap();
    assert_eq!(
        u16::from_le_bytes([boot[11], boot[12]]),
        4096,
        "the FAT must use the disk's 4096-byte sectors"
    );
    assert_eq!(&boot[82..90], b"FAT32   ");
    std::fs::remove_file(&part).unwrap();
    let id = blkid_at(disk, report.partition_offset);
    assert_eq!(id["TYPE"], "vfat");
    assert_eq!(id["LABEL"], "STICK4K");
    assert_eq!(id["UUID"], report.volume_id.to_string());
}

fn read_ini(disk: &Path) -> String {
    let boot = BootPartition::open_read_only(disk).unwrap();
    String::from_utf8(boot.read("system.ini").unwrap().unwrap()).unwrap()
}

#[test]
fn install_to_4kn_stick_makes_gpt_with_4096_byte_sectors_needs_root() {
    let dir = tempfile::tempdir().unwrap();
    let backing = dir.path().join("stick.img");
    std::fs::File::create(&backing)
        .unwrap()
        .set_len(640 * MIB)
        .unwrap();
    let stick = LoopDevice::attach(&backing);
    let disk = stick.0.as_path();
    let confirmed = Confirmation::for_drive(&genpack_drive::drives::probe(disk).unwrap());
    let to_stick = |options: InstallOptions| {
        write_to_drive(
            &DriveWrite {
                image: test_image().to_path_buf(),
                drive: confirmed.clone(),
                options,
            },
            DriveControl::default(),
        )
    };

    // A drive is written for its own sector size; asking for another is refused.
    let mut wrong = options(dir.path(), "stick4k");
    wrong.sector_size = Some(512);
    match to_stick(wrong) {
        Err(e @ InstallError::Layout { .. }) => {
            assert!(e.to_string().contains("own size and sector size"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    let mut mbr = options(dir.path(), "stick4k");
    mbr.layout = Layout::Mbr;
    let err = to_stick(mbr).unwrap_err();
    assert!(err.to_string().contains("--gpt"), "{err}");

    for data_partition in [false, true] {
        let mut opts = options(dir.path(), "stick4k");
        opts.data_partition = data_partition;
        let report = to_stick(opts).unwrap().layout.unwrap();
        assert_eq!(report.table, Some(PartitionTable::Gpt));
        assert_eq!(report.sector_size, 4096);
        assert!(!report.bios_boot, "GRUB's BIOS loader cannot use 4Kn disks");
        assert_eq!(report.partition_offset, MIB);
        assert_eq!(report.disk_size, 640 * MIB);

        let verify = run("sgdisk", &["-v", &disk.to_string_lossy()]);
        assert!(verify.contains("No problems found"), "{verify}");
        let table = run("sgdisk", &["-p", &disk.to_string_lossy()]);
        assert!(
            table.contains("Sector size (logical/physical): 4096/"),
            "{table}"
        );
        // Partition 1 from LBA 256 (1 MiB), no BIOS boot partition.
        let rows: Vec<&str> = table
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("Number"))
            .skip(1)
            .collect();
        assert_eq!(rows.len(), if data_partition { 2 } else { 1 }, "{table}");
        let first: Vec<&str> = rows[0].split_whitespace().collect();
        assert_eq!(
            first[..3],
            [
                "1",
                "256",
                &(255 + report.partition_size / 4096).to_string()
            ]
        );
        assert_eq!(first[5], "EF00", "{table}");
        assert!(!table.contains("EF02"), "{table}");

        check_boot_fs(disk, &report, dir.path());
        match report.data_partition {
            Some(data) => {
                assert!(data_partition);
                assert_eq!(data.offset % MIB, 0);
                let id = blkid_at(disk, data.offset);
                assert_eq!(id["TYPE"], "btrfs");
                assert_eq!(id["LABEL"], format!("data-{}", report.volume_id));
            }
            None => assert!(!data_partition),
        }
        assert_eq!(read_ini(disk), "hostname = stick4k\n");
        // `genpack ini set` on the stick.
        let write = set_system_ini_value(disk, DEFAULT_SECTION, "hostname", "edited").unwrap();
        assert!(write.changed && write.backed_up);
        assert_eq!(read_ini(disk), "hostname = edited\n");
        check_boot_fs(disk, &report, dir.path());
    }
}

#[test]
fn image_for_4kn_disk_has_gpt_with_4096_byte_lbas_and_its_boot_partition_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk4k.img");
    let mut opts = options(dir.path(), "image4k");
    opts.sector_size = Some(4096);
    opts.data_partition = true;
    let report = install_to_disk_image(test_image(), &disk, &opts).unwrap();
    assert_eq!(report.table, Some(PartitionTable::Gpt));
    assert_eq!(report.sector_size, 4096);
    assert!(!report.bios_boot);
    assert_eq!(report.disk_size % 4096, 0);

    // The GPT header is in the second 4 KiB sector, not at byte 512.
    let file = std::fs::File::open(&disk).unwrap();
    let mut header = [0u8; 92];
    file.read_exact_at(&mut header, 512).unwrap();
    assert_ne!(&header[..8], b"EFI PART");
    file.read_exact_at(&mut header, 4096).unwrap();
    assert_eq!(&header[..8], b"EFI PART");
    let entries_lba = u64::from_le_bytes(header[72..80].try_into().unwrap());
    assert_eq!(entries_lba, 2);
    let mut entry = [0u8; 128];
    file.read_exact_at(&mut entry, entries_lba * 4096).unwrap();
    assert_eq!(u64::from_le_bytes(entry[32..40].try_into().unwrap()), 256);
    check_boot_fs(&disk, &report, dir.path());

    // `genpack ini get/set` and self-update open the boot partition like this.
    let mut boot = BootPartition::open(&disk).unwrap();
    let location = boot.location();
    assert_eq!(location.table, Some(PartitionTable::Gpt));
    assert_eq!(location.offset, MIB);
    assert_eq!(location.size, report.partition_size);
    assert_eq!(boot.volume_id(), report.volume_id);
    assert_eq!(
        boot.read("system.ini").unwrap().unwrap(),
        b"hostname = image4k\n"
    );
    boot.write("system.ini", &mut &b"hostname = changed\n"[..])
        .unwrap();
    boot.close().unwrap();
    assert_eq!(read_ini(&disk), "hostname = changed\n");
    check_boot_fs(&disk, &report, dir.path());
}

#[test]
fn superfloppy_for_4kn_disk_is_fat32_with_4096_byte_sectors() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("floppy4k.img");
    let mut opts = options(dir.path(), "floppy4k");
    opts.sector_size = Some(4096);
    opts.layout = Layout::Superfloppy;
    let report = install_to_disk_image(test_image(), &disk, &opts).unwrap();
    assert_eq!(report.table, None);
    assert!(!report.bios_boot);
    check_boot_fs(&disk, &report, dir.path());
    let boot = BootPartition::open_read_only(&disk).unwrap();
    assert_eq!(boot.location().table, None);
    assert_eq!(read_ini(&disk), "hostname = floppy4k\n");
}

#[test]
fn boot_partition_of_an_mbr_counting_4096_byte_sectors_is_found() {
    // Other tools write MBRs on 4Kn disks with LBAs in 4096-byte units; genpack install
    // does not, but `genpack ini` must still find the FAT partition there.
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("mbr4k.img");
    let mut opts = options(dir.path(), "mbr4k");
    opts.sector_size = Some(4096);
    let report = install_to_disk_image(test_image(), &disk, &opts).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&disk).unwrap();
    let mut mbr = [0u8; 512];
    let entry = &mut mbr[446..462];
    entry[4] = 0x0c;
    entry[8..12].copy_from_slice(&((report.partition_offset / 4096) as u32).to_le_bytes());
    entry[12..16].copy_from_slice(&((report.partition_size / 4096) as u32).to_le_bytes());
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    file.write_all_at(&mbr, 0).unwrap();
    // Without the GPT, the MBR is all there is.
    file.write_all_at(&[0u8; 4096], 4096).unwrap();
    drop(file);
    let boot = BootPartition::open_read_only(&disk).unwrap();
    let location = boot.location();
    assert_eq!(location.table, Some(PartitionTable::Mbr));
    assert_eq!(location.number, 1);
    assert_eq!(location.offset, report.partition_offset);
    assert_eq!(location.size, report.partition_size);
    assert_eq!(read_ini(&disk), "hostname = mbr4k\n");
}

#[test]
fn sector_sizes_other_than_512_and_4096_are_refused_for_image_files() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.img");
    let mut opts = options(dir.path(), "odd");
    opts.sector_size = Some(2048);
    let err = install_to_disk_image(test_image(), &disk, &opts).unwrap_err();
    assert!(matches!(err, InstallError::SectorSize { .. }), "{err:?}");
    assert!(err.to_string().contains("512- or 4096-byte"), "{err}");
    assert!(
        !disk.exists(),
        "nothing is written for a refused sector size"
    );
}

#[test]
fn image_for_4kn_disk_boots_from_a_4096_byte_sector_disk_with_ovmf_qemu() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk4k.img");
    let mut opts = options(dir.path(), "uefi-4kn");
    opts.sector_size = Some(4096);
    opts.data_partition = true;
    let report = install_to_disk_image(test_image(), &disk, &opts).unwrap();
    let (finished, log) = boot(dir.path(), &disk, Medium::Disk4Kn, Firmware::Uefi);
    assert!(
        finished,
        "the image did not reach its init; serial log:\n{log}"
    );
    assert!(
        log.contains("4096-byte logical blocks"),
        "the kernel must see a disk with 4096-byte sectors; serial log:\n{log}"
    );
    assert!(
        log.contains(&format!("{HOSTNAME_LINE}uefi-4kn")),
        "system.ini was not applied; serial log:\n{log}"
    );
    assert!(
        log.contains(&format!("root=systemimg:{}", report.volume_id)),
        "serial log:\n{log}"
    );
    assert!(
        log.contains("/run/initramfs/rw btrfs rw"),
        "the data partition is the writable layer; serial log:\n{log}"
    );
    assert!(log.contains(MARKER), "serial log:\n{log}");
}
