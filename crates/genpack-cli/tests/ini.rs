//! `genpack ini` on a disk image: values read as genpack-init reads them at boot, and a way
//! out for a system.ini that is not UTF-8.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn genpack(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_genpack"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("the genpack binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A FAT32 file system over a whole image file (a superfloppy, as `genpack install
/// --superfloppy` makes) holding `system.ini` with `content`.
fn stick_with(dir: &Path, content: &[u8]) -> PathBuf {
    let disk = dir.join("stick.img");
    let made = Command::new("mkfs.vfat")
        .args(["-F", "32", "-C"])
        .arg(&disk)
        .arg("65536")
        .output()
        .expect("mkfs.vfat (dosfstools) is installed");
    assert!(made.status.success(), "{}", text(&made.stderr));
    let ini = dir.join("system.ini");
    fs::write(&ini, content).unwrap();
    let copied = Command::new("mcopy")
        .arg("-i")
        .arg(&disk)
        .arg(&ini)
        .arg("::/system.ini")
        .output()
        .expect("mcopy (mtools) is installed");
    assert!(copied.status.success(), "{}", text(&copied.stderr));
    disk
}

fn system_ini_on(dir: &Path, disk: &Path) -> Vec<u8> {
    let out = dir.join("read-back.ini");
    let _ = fs::remove_file(&out);
    let copied = Command::new("mcopy")
        .arg("-i")
        .arg(disk)
        .arg("::/system.ini")
        .arg(&out)
        .output()
        .unwrap();
    assert!(copied.status.success(), "{}", text(&copied.stderr));
    fs::read(out).unwrap()
}

#[test]
fn a_value_genpack_init_cannot_read_is_refused_by_get_too() {
    let dir = tempfile::tempdir().unwrap();
    let disk = stick_with(dir.path(), b"hostname = shop\ndiscount = 50%off\n");
    let disk_arg = disk.to_string_lossy().into_owned();
    let ok = genpack(&["ini", "get", &disk_arg, "hostname"]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert_eq!(text(&ok.stdout), "shop\n");

    let bad = genpack(&["ini", "get", &disk_arg, "discount"]);
    assert!(!bad.status.success());
    let message = text(&bad.stderr);
    assert!(message.contains("line 2"), "{message}");
    assert!(message.contains("%%"), "{message}");
    assert!(message.contains("genpack ini set"), "{message}");

    // Set through genpack, the same text is stored so that the boot reads `50%off`.
    let set = genpack(&["ini", "set", &disk_arg, "discount", "50%off"]);
    assert!(set.status.success(), "{}", text(&set.stderr));
    let again = genpack(&["ini", "get", &disk_arg, "discount"]);
    assert_eq!(text(&again.stdout), "50%off\n");
    assert!(text(&system_ini_on(dir.path(), &disk)).contains("discount = 50%%off"));
}

#[test]
fn a_latin1_system_ini_is_located_and_converted_on_request() {
    let dir = tempfile::tempdir().unwrap();
    // "café" in Latin-1: é is the single byte 0xe9.
    let disk = stick_with(dir.path(), b"hostname = caf\xe9\n");
    let disk_arg = disk.to_string_lossy().into_owned();
    let get = genpack(&["ini", "get", &disk_arg]);
    assert!(!get.status.success());
    let message = text(&get.stderr);
    assert!(message.contains("offset 14"), "{message}");
    assert!(message.contains("Latin-1"), "{message}");

    // Without a terminal, edit says how to convert and changes nothing.
    let unattended = genpack(&["ini", "edit", &disk_arg]);
    assert!(!unattended.status.success());
    assert!(
        text(&unattended.stderr).contains("on a terminal"),
        "{}",
        text(&unattended.stderr)
    );
    assert_eq!(system_ini_on(dir.path(), &disk), b"hostname = caf\xe9\n");

    // On a terminal (script gives it one), answering yes opens the text as Latin-1; the
    // editor here adds a line, and the file is written back as UTF-8.
    let editor = dir.path().join("editor.sh");
    fs::write(
        &editor,
        "#!/bin/sh\nprintf 'timezone = Europe/Paris\\n' >> \"$1\"\n",
    )
    .unwrap();
    fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let command = format!("{} ini edit {}", env!("CARGO_BIN_EXE_genpack"), disk_arg);
    let mut session = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("VISUAL", &editor)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script (util-linux) is installed");
    // The answer goes to the terminal the question is asked on.
    std::io::Write::write_all(&mut session.stdin.take().unwrap(), b"y\n").unwrap();
    let converted = session.wait_with_output().unwrap();
    assert!(converted.status.success(), "{}", text(&converted.stdout));
    let written = String::from_utf8(system_ini_on(dir.path(), &disk)).expect("UTF-8 now");
    assert_eq!(written, "hostname = café\ntimezone = Europe/Paris\n");
}

#[test]
fn a_full_boot_partition_is_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    // A small FAT (1 MiB), nearly filled by a file the user put there.
    let disk = dir.path().join("small.img");
    let made = Command::new("mkfs.vfat")
        .arg("-C")
        .arg(&disk)
        .arg("1024")
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made.stderr));
    let ini = dir.path().join("system.ini");
    fs::write(&ini, "hostname = full\n").unwrap();
    let filler = dir.path().join("photos.bin");
    let copy = |file: &Path, name: &str| {
        Command::new("mcopy")
            .arg("-i")
            .arg(&disk)
            .arg(file)
            .arg(format!("::/{name}"))
            .output()
            .unwrap()
    };
    assert!(copy(&ini, "system.ini").status.success());
    // Fill all but 8 KiB.
    let listing = Command::new("mdir")
        .arg("-i")
        .arg(&disk)
        .arg("::")
        .output()
        .unwrap();
    let free_line = text(&listing.stdout);
    let free_bytes: u64 = free_line
        .lines()
        .find_map(|l| {
            l.split("bytes free")
                .next()
                .filter(|_| l.contains("bytes free"))
        })
        .map(|n| n.replace([' ', ','], ""))
        .and_then(|n| n.trim().parse().ok())
        .expect("mdir prints the free bytes");
    fs::write(&filler, vec![7u8; (free_bytes - 8192) as usize]).unwrap();
    assert!(copy(&filler, "photos.bin").status.success());
    let before = Command::new("mdir")
        .args(["-a", "-i"])
        .arg(&disk)
        .arg("::")
        .output()
        .unwrap();

    let disk_arg = disk.to_string_lossy().into_owned();
    let long_value = "x".repeat(16384);
    let set = genpack(&["ini", "set", &disk_arg, "motd", &long_value]);
    assert!(!set.status.success());
    let message = text(&set.stderr);
    assert!(message.contains("is full"), "{message}");
    assert!(message.contains("nothing was changed"), "{message}");

    // The same files, no temporary file or stray entry, a clean file system, and the next
    // edit that fits works.
    let after = Command::new("mdir")
        .args(["-a", "-i"])
        .arg(&disk)
        .arg("::")
        .output()
        .unwrap();
    assert_eq!(text(&after.stdout), text(&before.stdout));
    let fsck = Command::new("fsck.fat")
        .arg("-n")
        .arg(&disk)
        .output()
        .unwrap();
    assert!(fsck.status.success(), "{}", text(&fsck.stdout));
    assert!(
        !text(&fsck.stdout).contains("Warning"),
        "{}",
        text(&fsck.stdout)
    );
    let small = genpack(&["ini", "set", &disk_arg, "timezone", "UTC"]);
    assert!(small.status.success(), "{}", text(&small.stderr));
    let get = genpack(&["ini", "get", &disk_arg, "timezone"]);
    assert_eq!(text(&get.stdout), "UTC\n");
}
