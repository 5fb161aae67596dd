//! Choosing between KVM and TCG.
//!
//! `/dev/kvm` existing proves nothing: on some hosts QEMU aborts with "failed to set MSR" or the
//! guest hangs silently. KVM is therefore used only after a trial boot of a real kernel prints
//! its banner within [`TRIAL_BUDGET`]. The verdict is cached per host boot (keyed by
//! `/proc/sys/kernel/random/boot_id`) in the runtime base folder.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;
use tokio::process::Command;

use crate::boot_files::Arch;
use crate::runtime::{create_private_dir, write_atomic};
use crate::status::Accel;

/// How long the trial kernel has to print its banner under KVM.
pub const TRIAL_BUDGET: Duration = Duration::from_secs(5);

/// What the caller wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccelPolicy {
    /// KVM if the trial boot works, else TCG.
    #[default]
    Auto,
    /// Always TCG.
    Tcg,
    /// KVM without a trial (QEMU fails if it does not work).
    Kvm,
}

/// The chosen accelerator and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccelVerdict {
    /// The accelerator.
    pub accel: Accel,
    /// A sentence explaining the choice, for status displays and logs.
    pub reason: String,
}

impl AccelVerdict {
    fn tcg(reason: impl Into<String>) -> Self {
        AccelVerdict {
            accel: Accel::Tcg,
            reason: reason.into(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct CacheEntry {
    boot_id: String,
    qemu: PathBuf,
    verdict: AccelVerdict,
}

/// Decides the accelerator for a guest of `arch` run by `qemu`.
///
/// `trial_kernel` is a kernel of the host's architecture to boot for the trial; without one,
/// KVM cannot be verified and TCG is chosen. `cache_dir` holds the per-boot verdict.
pub async fn choose(
    policy: AccelPolicy,
    qemu: &Path,
    arch: Arch,
    trial_kernel: Option<&Path>,
    cache_dir: &Path,
) -> AccelVerdict {
    match policy {
        AccelPolicy::Tcg => return AccelVerdict::tcg("TCG was requested"),
        AccelPolicy::Kvm => {
            return AccelVerdict {
                accel: Accel::Kvm,
                reason: "KVM was requested".into(),
            }
        }
        AccelPolicy::Auto => {}
    }
    if arch != Arch::host() {
        return AccelVerdict::tcg("the guest architecture differs from the host's");
    }
    if let Err(e) = OpenOptions::new().read(true).write(true).open("/dev/kvm") {
        return AccelVerdict::tcg(format!("/dev/kvm is not usable: {e}"));
    }

    let boot_id = fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let cache_file = cache_dir.join(format!("accel-{boot_id}.json"));
    if !boot_id.is_empty() {
        if let Some(entry) = fs::read(&cache_file)
            .ok()
            .and_then(|b| serde_json::from_slice::<CacheEntry>(&b).ok())
            .filter(|e| e.boot_id == boot_id && e.qemu == qemu)
        {
            return entry.verdict;
        }
    }

    let Some(kernel) = trial_kernel else {
        return AccelVerdict::tcg("no kernel available to verify KVM");
    };
    let verdict = trial(qemu, arch, kernel).await;
    if !boot_id.is_empty() && create_private_dir(cache_dir).is_ok() {
        let entry = CacheEntry {
            boot_id,
            qemu: qemu.to_path_buf(),
            verdict: verdict.clone(),
        };
        if let Ok(bytes) = serde_json::to_vec_pretty(&entry) {
            // A cache that cannot be written only costs another trial next time.
            let _ = write_atomic(&cache_file, &bytes);
        }
    }
    verdict
}

/// Boots `kernel` under KVM with no root file system and waits for its banner on the serial port.
async fn trial(qemu: &Path, arch: Arch, kernel: &Path) -> AccelVerdict {
    let (machine, console) = match arch {
        Arch::X86_64 => ("q35", "console=ttyS0 earlyprintk=serial"),
        Arch::Aarch64 => ("virt", "console=ttyAMA0 earlycon"),
    };
    let mut command = Command::new(qemu);
    command
        .args([
            "-machine", machine, "-accel", "kvm", "-cpu", "host", "-m", "256",
        ])
        .args([
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-no-reboot",
        ])
        .args(["-serial", "stdio", "-kernel"])
        .arg(kernel)
        .args(["-append", &format!("{console} panic=-1")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => return AccelVerdict::tcg(format!("cannot run the KVM trial: {e}")),
    };
    let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return AccelVerdict::tcg("cannot read the KVM trial's output");
    };

    let mut seen = Vec::new();
    let banner = async {
        let mut buf = [0u8; 4096];
        loop {
            match stdout.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => {
                    seen.extend_from_slice(&buf[..n]);
                    if contains(&seen, b"Linux version") {
                        return true;
                    }
                }
            }
        }
    };
    let booted = tokio::time::timeout(TRIAL_BUDGET, banner).await;
    let _ = child.start_kill();
    let _ = child.wait().await;
    let mut errors = String::new();
    let _ = stderr.read_to_string(&mut errors).await;

    match booted {
        Ok(true) => AccelVerdict {
            accel: Accel::Kvm,
            reason: "a trial kernel booted under KVM".into(),
        },
        Ok(false) => {
            let last = errors.lines().rev().find(|l| !l.trim().is_empty());
            AccelVerdict::tcg(format!(
                "QEMU could not run a kernel under KVM ({})",
                last.unwrap_or("exited without output")
            ))
        }
        Err(_) => AccelVerdict::tcg(format!(
            "a trial kernel made no progress under KVM within {} s",
            TRIAL_BUDGET.as_secs()
        )),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The newest kernel in the host's /boot, usable for the KVM trial when the guest boots from
/// firmware.
pub fn host_kernel() -> Option<PathBuf> {
    let mut kernels: Vec<PathBuf> = fs::read_dir("/boot")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-"))
        })
        .collect();
    kernels.sort_by_key(|p| p.metadata().and_then(|m| m.modified()).ok());
    kernels.pop()
}
