//! What this machine has and lacks for building, running and installing images, as data:
//! `genpack doctor` prints it, the studio can show it. Each check says what it found and, when
//! something is missing, how to fix it.

use std::path::Path;

use crate::userns::{self, NamespaceError};

/// What a check is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[ts(rename = "DoctorArea")]
#[serde(rename_all = "lowercase")]
pub enum Area {
    /// Building images (`genpack build`).
    Build,
    /// Running images in QEMU (`genpack vm run`).
    Run,
    /// Writing images to disks, ISOs and ZIPs (`genpack install`).
    Install,
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[ts(rename = "DoctorStatus")]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Present and usable.
    Ok,
    /// Usable, with a limit worth knowing (a slower path, an optional part absent).
    Warning,
    /// Absent or unusable: what needs it fails.
    Missing,
}

/// One prerequisite and what was found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[ts(rename = "DoctorCheck")]
pub struct Check {
    /// What it is for.
    pub area: Area,
    /// What was checked, in a few words (`mksquashfs`, `/dev/kvm`).
    pub name: String,
    /// Found, limited or missing.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// How to fix it (only when not ok).
    pub fix: Option<String>,
}

impl Check {
    fn ok(area: Area, name: &str, detail: impl Into<String>) -> Self {
        Self {
            area,
            name: name.into(),
            status: Status::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    fn problem(
        area: Area,
        name: &str,
        status: Status,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            area,
            name: name.into(),
            status,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// A program from a Debian package: ok with its path, else `status` with the package to install.
fn program(area: Area, name: &str, package: &str, status: Status, purpose: &str) -> Check {
    match genpack_util::find_program(name) {
        Some(path) => Check::ok(area, name, path.display().to_string()),
        None => Check::problem(
            area,
            name,
            status,
            format!("not found on PATH; {purpose}"),
            format!("apt-get install {package}"),
        ),
    }
}

/// A file or folder from a Debian package.
fn file(area: Area, name: &str, path: &str, package: &str, status: Status, purpose: &str) -> Check {
    if Path::new(path).exists() {
        Check::ok(area, name, path)
    } else {
        Check::problem(
            area,
            name,
            status,
            format!("{path} is missing; {purpose}"),
            format!("apt-get install {package}"),
        )
    }
}

/// The checks of building as an ordinary user: the user namespace and its id ranges.
fn namespace_checks() -> Vec<Check> {
    let area = Area::Build;
    if userns::is_root() {
        return vec![Check::ok(
            area,
            "user namespace",
            "running as root: builds need no user namespace",
        )];
    }
    let mut checks = Vec::new();
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    let user = userns::user_name(uid).unwrap_or_else(|| uid.to_string());
    for (file, flag) in [("/etc/subuid", "subuids"), ("/etc/subgid", "subgids")] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let best = userns::ranges_in(&text, &user, uid)
            .into_iter()
            .max_by_key(|range| range.count);
        let fix = format!(
            "as root: usermod --add-{flag} 100000-165535 {user} (any free range of 65536 ids)"
        );
        checks.push(match best {
            Some(range) if range.count >= userns::MIN_RANGE => Check::ok(
                area,
                file,
                format!(
                    "{user} has ids {}-{}",
                    range.start,
                    u64::from(range.start) + u64::from(range.count) - 1
                ),
            ),
            Some(range) => Check::problem(
                area,
                file,
                Status::Missing,
                format!(
                    "{user} has only {} ids; a build needs {}",
                    range.count,
                    userns::MIN_RANGE
                ),
                fix,
            ),
            None => Check::problem(
                area,
                file,
                Status::Missing,
                format!("no range for {user}: builds as {user} cannot give files their owners"),
                fix,
            ),
        });
    }
    for name in ["newuidmap", "newgidmap"] {
        checks.push(match userns::map_program(name) {
            Ok(path) => Check::ok(area, name, path.display().to_string()),
            Err(NamespaceError::MapProgram { problem, .. }) => Check::problem(
                area,
                name,
                Status::Missing,
                problem,
                "apt-get install uidmap",
            ),
            Err(other) => Check::problem(
                area,
                name,
                Status::Missing,
                other.to_string(),
                "apt-get install uidmap",
            ),
        });
    }
    checks.push(match userns::kernel_allows() {
        Ok(()) if userns::apparmor_restricts() => Check::problem(
            area,
            "user namespaces",
            Status::Warning,
            "AppArmor restricts user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1): builds fail unless a profile allows genpack `userns,`",
            "an AppArmor profile for genpack with the `userns,` rule, or as root: sysctl -w kernel.apparmor_restrict_unprivileged_userns=0",
        ),
        Ok(()) => Check::ok(area, "user namespaces", "allowed for ordinary users"),
        Err(NamespaceError::Disabled {
            setting,
            value,
            wanted,
        }) => Check::problem(
            area,
            "user namespaces",
            Status::Missing,
            format!("turned off: {setting} = {value}"),
            format!("as root: sysctl -w {setting}={wanted} (and in /etc/sysctl.d/ to keep it)"),
        ),
        Err(other) => Check::problem(
            area,
            "user namespaces",
            Status::Missing,
            other.to_string(),
            "see the message",
        ),
    });
    checks
}

/// Read and write access to `path` for this process.
fn accessible(path: &str) -> bool {
    let Ok(c_path) = std::ffi::CString::new(path) else {
        return false;
    };
    // SAFETY: access with a valid NUL-terminated path.
    unsafe { libc::access(c_path.as_ptr(), libc::R_OK | libc::W_OK) == 0 }
}

fn kvm_check() -> Check {
    let area = Area::Run;
    let kvm = "/dev/kvm";
    if !Path::new(kvm).exists() {
        return Check::problem(
            area,
            kvm,
            Status::Warning,
            "absent: VMs run with QEMU's emulation (TCG), several times slower",
            "enable virtualisation in the firmware settings, or run on a host that passes it through",
        );
    }
    if !accessible(kvm) {
        // SAFETY: getuid cannot fail.
        let user = userns::user_name(unsafe { libc::getuid() }).unwrap_or_default();
        return Check::problem(
            area,
            kvm,
            Status::Warning,
            "present, but this user may not open it: VMs run with QEMU's emulation (TCG), several times slower",
            format!("as root: usermod -aG kvm {user} (then log in again)"),
        );
    }
    Check::ok(
        area,
        kvm,
        "accessible (a VM still falls back to emulation when a trial boot with KVM fails)",
    )
}

/// Every check, in the order build, run, install.
pub fn checks() -> Vec<Check> {
    use Area::{Build, Install, Run};
    use Status::{Missing, Warning};
    let mut checks = namespace_checks();
    checks.push(program(
        Build,
        "mmdebstrap",
        "mmdebstrap",
        Missing,
        "Debian bases are made with it",
    ));
    if userns::is_root() {
        let runtime = if genpack_util::find_program("systemd-nspawn").is_some() {
            program(
                Build,
                "systemd-nspawn",
                "systemd-container",
                Missing,
                "scripts run in a container",
            )
        } else {
            program(
                Build,
                "bwrap",
                "bubblewrap systemd-container",
                Missing,
                "scripts run in a container (systemd-nspawn or bubblewrap)",
            )
        };
        checks.push(runtime);
    } else {
        checks.push(program(
            Build,
            "bwrap",
            "bubblewrap",
            Missing,
            "builds as an ordinary user run scripts in bubblewrap",
        ));
    }
    checks.push(program(
        Build,
        "mksquashfs",
        "squashfs-tools",
        Missing,
        "images are packed with it",
    ));
    checks.push(program(
        Build,
        "tar",
        "tar",
        Missing,
        "Gentoo bases unpack a stage3 with it",
    ));
    checks.push(program(
        Run,
        "qemu-system-x86_64",
        "qemu-system-x86",
        Missing,
        "x86_64 and i686 images run in it",
    ));
    checks.push(program(
        Run,
        "qemu-system-aarch64",
        "qemu-system-arm",
        Warning,
        "only needed to run aarch64 images",
    ));
    checks.push(kvm_check());
    checks.push(file(
        Run,
        "OVMF",
        "/usr/share/OVMF/OVMF_CODE.fd",
        "ovmf",
        Warning,
        "only needed to boot disk images and ISOs with UEFI",
    ));
    checks.push(program(
        Install,
        "xorriso",
        "xorriso",
        Warning,
        "only needed for ISO images (`genpack install --cdrom`)",
    ));
    checks.push(file(
        Install,
        "GRUB for UEFI",
        "/usr/lib/grub/x86_64-efi",
        "grub-efi-amd64-bin",
        Warning,
        "needed when the image itself carries no GRUB",
    ));
    checks.push(file(
        Install,
        "GRUB for BIOS",
        "/usr/lib/grub/i386-pc",
        "grub-pc-bin",
        Warning,
        "needed when the image itself carries no GRUB",
    ));
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_that_is_not_ok_says_how_to_fix_it() {
        let all = checks();
        assert!(all.iter().any(|c| c.name == "mksquashfs"));
        assert!(all.iter().any(|c| c.area == Area::Run));
        for check in &all {
            assert_eq!(check.fix.is_none(), check.status == Status::Ok, "{check:?}");
        }
    }

    #[test]
    fn a_missing_program_names_its_package() {
        let check = program(
            Area::Build,
            "no-such-program-anywhere",
            "some-package",
            Status::Missing,
            "x",
        );
        assert_eq!(check.status, Status::Missing);
        assert_eq!(check.fix.as_deref(), Some("apt-get install some-package"));
    }
}
