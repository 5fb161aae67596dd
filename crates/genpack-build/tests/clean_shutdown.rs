//! A clean shutdown leaves no boot marker on the stick; a crash does. The real Debian image,
//! installed to a disk image and booted through OVMF and GRUB, is powered off with the ACPI
//! power button (systemd, systemd-shutdown and the initramfs shutdown program do their part),
//! then booted again and killed.
//!
//! Needs root, network access to deb.debian.org and QEMU.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{built, tail};
use genpack_install::BootPartition;

/// A running VM with its serial console collected and its monitor at hand.
struct Vm {
    child: Child,
    console: mpsc::Receiver<Vec<u8>>,
    seen: Vec<u8>,
    monitor: std::path::PathBuf,
}

impl Vm {
    fn start(dir: &Path, disk: &Path) -> Vm {
        let vars = dir.join("OVMF_VARS.fd");
        if !vars.exists() {
            std::fs::copy("/usr/share/OVMF/OVMF_VARS.fd", &vars).unwrap();
        }
        let monitor = dir.join("monitor.sock");
        let _ = std::fs::remove_file(&monitor);
        let mut child = Command::new("qemu-system-x86_64")
            .args(["-accel", "tcg", "-machine", "q35", "-m", "1024"])
            .args(["-nographic", "-nodefaults", "-serial", "stdio"])
            .arg("-monitor")
            .arg(format!("unix:{},server=on,wait=off", monitor.display()))
            .arg("-drive")
            .arg("if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd")
            .arg("-drive")
            .arg(format!("if=pflash,format=raw,file={}", vars.display()))
            .arg("-drive")
            .arg(format!("file={},format=raw,if=virtio", disk.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("qemu-system-x86_64 must be installed");
        let mut stdout = child.stdout.take().unwrap();
        let (tx, console) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Vm {
            child,
            console,
            seen: Vec::new(),
            monitor,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen).into_owned()
    }

    /// Collects the console until `wanted` shows up; `false` after `timeout`.
    fn wait_for(&mut self, wanted: &str, timeout: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if let Ok(chunk) = self.console.recv_timeout(Duration::from_millis(200)) {
                self.seen.extend_from_slice(&chunk);
                if String::from_utf8_lossy(&self.seen).contains(wanted) {
                    return true;
                }
            }
        }
        false
    }

    /// Presses the ACPI power button, as a user or a host does.
    fn press_power_button(&self) {
        let mut monitor = UnixStream::connect(&self.monitor).expect("QEMU's monitor socket");
        monitor.write_all(b"system_powerdown\n").unwrap();
    }

    /// Waits for QEMU to exit by itself; `false` after `timeout`.
    fn wait_for_exit(&mut self, timeout: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < timeout {
            while let Ok(chunk) = self.console.try_recv() {
                self.seen.extend_from_slice(&chunk);
            }
            if self.child.try_wait().unwrap().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn has_boot_marker(disk: &Path) -> bool {
    BootPartition::open_read_only(disk)
        .unwrap()
        .exists("boottime.txt")
}

#[test]
fn a_clean_power_off_clears_the_boot_marker_and_a_crash_leaves_it_needs_root_network_qemu() {
    let built = built();
    let dir = tempfile::tempdir().unwrap();
    let ini = dir.path().join("system.ini");
    std::fs::write(&ini, "hostname = cleanoff\n").unwrap();
    let disk = dir.path().join("disk.img");
    let options = genpack_install::InstallOptions {
        system_ini: Some(ini),
        ..Default::default()
    };
    genpack_install::install_to_disk_image(&built.image, &disk, &options).unwrap();
    assert!(!has_boot_marker(&disk), "a fresh stick has no marker");

    // Boot, then the power button: systemd shuts down and the marker is removed.
    let mut vm = Vm::start(dir.path(), &disk);
    assert!(
        vm.wait_for("cleanoff login:", Duration::from_secs(600)),
        "no login prompt:\n{}",
        tail(&vm.text(), 40)
    );
    // Logind needs a moment after the prompt before it acts on the button.
    std::thread::sleep(Duration::from_secs(5));
    vm.press_power_button();
    assert!(
        vm.wait_for_exit(Duration::from_secs(300)),
        "the VM did not power off:\n{}",
        tail(&vm.text(), 40)
    );
    let console = vm.text();
    drop(vm);
    assert!(
        console.contains("clean shutdown: removed boottime.txt"),
        "{}",
        tail(&console, 40)
    );
    assert!(!has_boot_marker(&disk), "{}", tail(&console, 40));

    // Boot again and pull the plug: the marker stays, and GRUB waits for a choice next time.
    let mut vm = Vm::start(dir.path(), &disk);
    assert!(
        vm.wait_for("cleanoff login:", Duration::from_secs(600)),
        "no login prompt on the second boot:\n{}",
        tail(&vm.text(), 40)
    );
    drop(vm);
    assert!(has_boot_marker(&disk), "a crash must leave the marker");
}
