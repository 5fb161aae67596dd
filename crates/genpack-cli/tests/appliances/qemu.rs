//! A direct QEMU boot for the appliances that need more than `genpack vm run` offers: a
//! second network card (the router's LAN) or a second disk (the rescue system's patient).
//! It boots the image the way genpack-vm does (q35, TCG, the image's own kernel and
//! initramfs, system.ini over fw_cfg) and adds what the proof needs.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::tail;

/// A running QEMU, killed when dropped.
pub struct DirectVm {
    child: Child,
    pub console_log: PathBuf,
    qmp: PathBuf,
    pub started: Instant,
}

impl DirectVm {
    /// Boots `image` with `ini`, `memory_mib` and the extra QEMU arguments `devices`.
    pub fn boot(
        image: &Path,
        ini: &Path,
        memory_mib: u32,
        devices: &[String],
        dir: &Path,
    ) -> DirectVm {
        let opened = genpack_image::Image::open(image).unwrap();
        let kernel = dir.join("kernel");
        let initramfs = dir.join("initramfs");
        std::fs::write(&kernel, opened.kernel().unwrap()).unwrap();
        std::fs::write(&initramfs, opened.initramfs().unwrap()).unwrap();
        let console_log = dir.join("console.log");
        let qmp = dir.join("qmp.sock");
        let mut command = Command::new("qemu-system-x86_64");
        command
            .args([
                "-machine",
                "q35",
                "-accel",
                "tcg,thread=multi",
                "-cpu",
                // The CPU `genpack vm run` gives a guest without KVM.
                genpack_vm::command::tcg_cpu(genpack_vm::Arch::X86_64),
            ])
            .args(["-m", &format!("{memory_mib}M"), "-smp", "1"])
            .args(["-nodefaults", "-no-user-config", "-rtc", "base=utc"])
            .args(["-device", "virtio-rng-pci"])
            .arg("-kernel")
            .arg(&kernel)
            .arg("-initrd")
            .arg(&initramfs)
            .args([
                "-append",
                "root=block: ro console=ttyS0,115200 genpack.transient=1",
            ])
            .arg("-drive")
            .arg(format!(
                "file={},format=raw,if=none,readonly=on,id=system",
                image.display()
            ))
            .args(["-device", "virtio-blk-pci,drive=system,serial=system"])
            .arg("-fw_cfg")
            .arg(format!(
                "name=opt/genpack/system.ini,file={}",
                ini.display()
            ))
            .arg("-serial")
            .arg(format!("file:{}", console_log.display()))
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", qmp.display()))
            .args(["-device", "virtio-vga", "-display", "none"])
            .args(devices)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let child = command.spawn().expect("qemu-system-x86_64 runs");
        DirectVm {
            child,
            console_log,
            qmp,
            started: Instant::now(),
        }
    }

    /// What the serial console printed so far.
    pub fn console(&self) -> String {
        std::fs::read_to_string(&self.console_log).unwrap_or_default()
    }

    /// Waits until the serial console shows `needle`; returns the console text.
    pub fn wait_for_console(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.console();
            if text.contains(needle) {
                return text;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("QEMU exited with {status}:\n{}", tail(&text, 60));
            }
            assert!(
                Instant::now() < deadline,
                "{needle:?} not on the serial console after {timeout:?}:\n{}",
                tail(&text, 60)
            );
            std::thread::sleep(Duration::from_secs(2));
        }
    }

    /// Saves the screen as PNG (QMP `screendump`).
    pub fn screenshot(&self, out: &Path) {
        let stream = UnixStream::connect(&self.qmp).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut writer = stream.try_clone().unwrap();
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap(); // greeting
        for request in [
            r#"{"execute":"qmp_capabilities"}"#.to_string(),
            format!(
                r#"{{"execute":"screendump","arguments":{{"filename":"{}","format":"png"}}}}"#,
                out.display()
            ),
        ] {
            writeln!(writer, "{request}").unwrap();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                if line.contains("\"return\"") {
                    break;
                }
                assert!(!line.contains("\"error\""), "QMP: {line}");
            }
        }
    }
}

impl Drop for DirectVm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
