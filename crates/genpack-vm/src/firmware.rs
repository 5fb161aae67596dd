//! Firmware and emulator binaries found on the host.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::boot_files::Arch;
use crate::error::{Result, VmError};

/// Which firmware boots a disk image or ISO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FirmwareKind {
    /// UEFI (OVMF on x86_64, AAVMF on aarch64).
    Uefi,
    /// Legacy BIOS (SeaBIOS, x86_64 only).
    Bios,
}

/// Firmware files to hand to QEMU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Firmware {
    /// UEFI code (read-only) and the template of its variable store.
    Uefi {
        /// The firmware code volume.
        code: PathBuf,
        /// The pristine variable store, copied per VM.
        vars_template: PathBuf,
    },
    /// A BIOS image.
    Bios {
        /// The BIOS image.
        image: PathBuf,
    },
}

/// (code, vars, package) per architecture.
const OVMF: (&str, &str, &str) = (
    "/usr/share/OVMF/OVMF_CODE.fd",
    "/usr/share/OVMF/OVMF_VARS.fd",
    "ovmf",
);
const AAVMF: (&str, &str, &str) = (
    "/usr/share/AAVMF/AAVMF_CODE.fd",
    "/usr/share/AAVMF/AAVMF_VARS.fd",
    "qemu-efi-aarch64",
);
const SEABIOS: (&str, &str) = ("/usr/share/seabios/bios-256k.bin", "seabios");

impl Firmware {
    /// Finds the firmware of `kind` for `arch`, or says which Debian package to install.
    pub fn locate(kind: FirmwareKind, arch: Arch) -> Result<Firmware> {
        Self::locate_in(Path::new("/"), kind, arch)
    }

    /// Like [`Firmware::locate`] with the host's files under `root` (for tests).
    pub fn locate_in(root: &Path, kind: FirmwareKind, arch: Arch) -> Result<Firmware> {
        let under = |p: &str| root.join(p.trim_start_matches('/'));
        let require = |path: PathBuf, package: &'static str| {
            if path.is_file() {
                Ok(path)
            } else {
                Err(VmError::FirmwareMissing { path, package })
            }
        };
        match (kind, arch) {
            (FirmwareKind::Uefi, arch) => {
                let (code, vars, package) = match arch {
                    Arch::X86_64 => OVMF,
                    Arch::Aarch64 => AAVMF,
                };
                Ok(Firmware::Uefi {
                    code: require(under(code), package)?,
                    vars_template: require(under(vars), package)?,
                })
            }
            (FirmwareKind::Bios, Arch::X86_64) => Ok(Firmware::Bios {
                image: require(under(SEABIOS.0), SEABIOS.1)?,
            }),
            (FirmwareKind::Bios, Arch::Aarch64) => Err(VmError::InvalidSpec(
                "aarch64 guests boot with UEFI only; choose UEFI firmware".to_string(),
            )),
        }
    }
}

/// The QEMU system emulator for `arch`, or the Debian package that provides it.
pub fn qemu_binary(arch: Arch) -> Result<PathBuf> {
    let (program, package) = match arch {
        Arch::X86_64 => ("qemu-system-x86_64", "qemu-system-x86"),
        Arch::Aarch64 => ("qemu-system-aarch64", "qemu-system-arm"),
    };
    find_program(program).ok_or(VmError::ProgramMissing {
        program: program.to_string(),
        package,
    })
}

/// Looks `program` up in `$PATH`.
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_firmware_names_the_package_to_install() {
        let empty = tempfile::tempdir().unwrap();
        let err = Firmware::locate_in(empty.path(), FirmwareKind::Uefi, Arch::X86_64).unwrap_err();
        assert!(matches!(
            err,
            VmError::FirmwareMissing {
                package: "ovmf",
                ..
            }
        ));
        assert!(err.to_string().contains("apt") || err.to_string().contains("`ovmf`"));
        let err = Firmware::locate_in(empty.path(), FirmwareKind::Bios, Arch::X86_64).unwrap_err();
        assert!(matches!(
            err,
            VmError::FirmwareMissing {
                package: "seabios",
                ..
            }
        ));
        let err = Firmware::locate_in(empty.path(), FirmwareKind::Uefi, Arch::Aarch64).unwrap_err();
        assert!(matches!(
            err,
            VmError::FirmwareMissing {
                package: "qemu-efi-aarch64",
                ..
            }
        ));
    }

    #[test]
    fn firmware_present_under_root_is_found() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("usr/share/OVMF");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("OVMF_CODE.fd"), b"c").unwrap();
        std::fs::write(dir.join("OVMF_VARS.fd"), b"v").unwrap();
        let fw = Firmware::locate_in(root.path(), FirmwareKind::Uefi, Arch::X86_64).unwrap();
        assert_eq!(
            fw,
            Firmware::Uefi {
                code: dir.join("OVMF_CODE.fd"),
                vars_template: dir.join("OVMF_VARS.fd"),
            }
        );
    }
}
