//! The boot side of an image:
//!
//! - `/boot/kernel`: a relative symlink to the kernel the base installed;
//! - `/usr/bin/genpack-init`: the PID-1 provisioner that applies system.ini, then starts
//!   systemd (static build from the genpack-init crate);
//! - `/usr/share/genpack/system-ini.schema.json`: the keys that provisioner understands, as
//!   printed by the shipped binary itself;
//! - `/boot/initramfs`: genpack's own initramfs (`/init` finds the boot partition or the
//!   virtual disk, loops the image, sets up the overlay root) with the kernel modules it
//!   needs taken from the image's own `/lib/modules/<version>`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use genpack_init::{build_initramfs, BootBinaries, Compression, InitramfsSpec};
use sha2::{Digest, Sha256};

use crate::command::Runner;
use crate::error::{BuildError, Result};
use crate::fsutil::write_atomic;

/// Where the provisioner goes in the image.
pub const GENPACK_INIT_PATH: &str = "usr/bin/genpack-init";
/// Where the system.ini schema goes in the image (read by genpack-image and the studio).
pub const SYSTEM_INI_SCHEMA_PATH: &str = "usr/share/genpack/system-ini.schema.json";

/// Modules added to the initramfs builder's defaults: Debian kernels mount vfat with the
/// `ascii` I/O charset (CONFIG_FAT_DEFAULT_IOCHARSET), which is a module there.
pub const EXTRA_INITRAMFS_MODULES: [&str; 1] = ["nls_ascii"];

/// What the boot step produced.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BootReport {
    /// The kernel `/boot/kernel` points at, inside the image.
    pub kernel: Option<PathBuf>,
    /// Kernel release the initramfs modules come from.
    pub kernel_version: Option<String>,
    /// `/boot/initramfs` was written.
    pub initramfs: bool,
    /// Kernel modules put into the initramfs.
    pub initramfs_modules: usize,
    /// Size of the initramfs in bytes.
    pub initramfs_bytes: u64,
    /// What is missing for the image to boot, in words (empty when complete).
    pub missing: Vec<String>,
}

/// An installed genpack's prebuilt boot programs for `arch` images, if this is one.
fn installed_boot_programs(arch: &str) -> Option<BootBinaries> {
    let program = std::env::current_exe().ok()?;
    genpack_init::binaries::installed_boot_binaries_for(&program, arch)
        .ok()
        .flatten()
}

/// Which boot programs go into images of `arch` (Rust's name, `x86_64`): a digest of an
/// installed genpack's prebuilt programs for it
/// ([`genpack_init::binaries::installed_boot_binaries_for`]), else of the sources
/// [`genpack_init::binaries::source_paths`] names (read, not built: cheap enough for every
/// up-to-date check). Missing paths count as empty.
pub fn boot_programs_identity(arch: &str) -> String {
    let mut hasher = Sha256::new();
    if let Some(installed) = installed_boot_programs(arch) {
        hasher.update(b"prebuilt\0");
        for file in [&installed.initramfs_init, &installed.genpack_init] {
            if let Ok(bytes) = std::fs::read(file) {
                hasher.update(file.to_string_lossy().as_bytes());
                hasher.update([0]);
                hasher.update(Sha256::digest(&bytes));
            }
        }
        return crate::fsutil::hex(&hasher.finalize());
    }
    for root in genpack_init::binaries::source_paths() {
        let mut files = Vec::new();
        collect_files(&root, &mut files);
        files.sort();
        for file in files {
            if let Ok(bytes) = std::fs::read(&file) {
                let rel = file.strip_prefix(&root).unwrap_or(&file);
                hasher.update(rel.to_string_lossy().as_bytes());
                hasher.update([0]);
                hasher.update(Sha256::digest(&bytes));
            }
        }
    }
    crate::fsutil::hex(&hasher.finalize())
}

/// Says where the boot programs of `arch` images come from, for the build log.
pub(crate) fn boot_programs_origin(arch: &str) -> String {
    match installed_boot_programs(arch) {
        Some(_) => format!(
            "the static boot programs for {arch}: the prebuilt ones this genpack was installed with"
        ),
        None => format!(
            "building the static boot programs for {arch} from source (cached after the first build)"
        ),
    }
}

/// The static boot programs for `arch` images (installed, else built from source).
pub(crate) fn boot_programs(arch: &str) -> Result<BootBinaries> {
    genpack_init::boot_binaries_for_arch(arch).map_err(|e| BuildError::Boot(e.to_string()))
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) {
    match std::fs::read_dir(path) {
        Ok(entries) => {
            for entry in entries.flatten() {
                collect_files(&entry.path(), out);
            }
        }
        Err(_) if path.is_file() => out.push(path.to_path_buf()),
        Err(_) => {}
    }
}

/// Installs kernel link, boot programs for `arch` (Rust's name), schema and initramfs into
/// `upper`. `kernel` is the kernel's path inside the image (it was copied up with its package).
pub(crate) fn install_boot_side(
    upper: &Path,
    kernel: Option<&Path>,
    arch: &str,
    runner: &Runner,
    step: &str,
) -> Result<BootReport> {
    let boot = upper.join("boot");
    std::fs::create_dir_all(&boot).map_err(BuildError::io("creating", &boot))?;
    let mut report = BootReport {
        kernel: None,
        kernel_version: None,
        initramfs: false,
        initramfs_modules: 0,
        initramfs_bytes: 0,
        missing: Vec::new(),
    };
    let kernel = kernel.filter(|k| upper.join(k.strip_prefix("/").unwrap_or(k)).is_file());
    let Some(kernel) = kernel else {
        report
            .missing
            .push("no kernel is installed in the image".into());
        runner.log_line(step, "warning: no kernel is installed in the image")?;
        return Ok(report);
    };
    let link = boot.join("kernel");
    let _ = std::fs::remove_file(&link);
    let target = match kernel.parent() {
        Some(parent) if parent == Path::new("/boot") => {
            PathBuf::from(kernel.file_name().unwrap_or_default())
        }
        _ => kernel.to_path_buf(),
    };
    std::os::unix::fs::symlink(&target, &link).map_err(BuildError::io("creating", &link))?;
    runner.log_line(step, &format!("/boot/kernel -> {}", target.display()))?;
    report.kernel = Some(kernel.to_path_buf());
    let version = kernel_version(kernel);
    report.kernel_version = version.clone();

    runner.log_line(step, &boot_programs_origin(arch))?;
    let binaries = boot_programs(arch)?;
    install_binaries(upper, &binaries, runner, step)?;

    let Some(version) = version else {
        report.missing.push(format!(
            "cannot tell the kernel version from {}",
            kernel.display()
        ));
        return Ok(report);
    };
    let mut spec = InitramfsSpec::new(
        binaries.initramfs_init.clone(),
        upper.to_path_buf(),
        version,
    );
    for module in EXTRA_INITRAMFS_MODULES {
        if !spec.module_names.iter().any(|m| m == module) {
            spec.module_names.push(module.to_string());
        }
    }
    let out = boot.join("initramfs");
    let built = build_initramfs(&spec, &out, Compression::Zstd)
        .map_err(|e| BuildError::Boot(e.to_string()))?;
    for (module, why) in &built.skipped {
        runner.log_line(step, &format!("initramfs: {module} not included: {why}"))?;
    }
    runner.log_line(
        step,
        &format!(
            "/boot/initramfs: {} modules, {} bytes",
            built.modules.len(),
            built.size
        ),
    )?;
    report.initramfs = true;
    report.initramfs_modules = built.modules.len();
    report.initramfs_bytes = built.size;
    Ok(report)
}

fn install_binaries(
    upper: &Path,
    binaries: &BootBinaries,
    runner: &Runner,
    step: &str,
) -> Result<()> {
    let dest = upper.join(GENPACK_INIT_PATH);
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(BuildError::io("creating", parent))?;
    }
    std::fs::copy(&binaries.genpack_init, &dest).map_err(BuildError::io("installing", &dest))?;
    std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o755))
        .map_err(BuildError::io("changing mode of", &dest))?;
    // The schema comes from the very binary that goes into the image.
    let mut cmd = Command::new(&binaries.genpack_init);
    cmd.arg("schema");
    let mut schema = String::new();
    runner.run(step, &mut cmd, "genpack-init", |line| {
        schema.push_str(line);
        schema.push('\n');
    })?;
    let schema_path = upper.join(SYSTEM_INI_SCHEMA_PATH);
    if let Some(parent) = schema_path.parent() {
        std::fs::create_dir_all(parent).map_err(BuildError::io("creating", parent))?;
    }
    write_atomic(&schema_path, schema.as_bytes())?;
    runner.log_line(
        step,
        &format!("/{GENPACK_INIT_PATH} and /{SYSTEM_INI_SCHEMA_PATH} installed"),
    )
}

/// `6.1.0-50-cloud-amd64` from `/boot/vmlinuz-6.1.0-50-cloud-amd64`.
/// The kernel release, from the file name (`/boot/vmlinuz-<release>`, Debian and Gentoo's
/// installkernel) or from the folder (`/lib/modules/<release>/vmlinuz`, Gentoo's dist-kernels).
fn kernel_version(kernel: &Path) -> Option<String> {
    let name = kernel.file_name()?.to_string_lossy();
    if let Some(release) = ["vmlinuz-", "vmlinux-", "kernel-"]
        .iter()
        .find_map(|prefix| name.strip_prefix(prefix))
    {
        return Some(release.to_string());
    }
    let folder = kernel.parent()?;
    let in_modules = folder.parent()?.file_name()? == "modules";
    let release = folder.file_name()?.to_string_lossy();
    (in_modules && !release.is_empty()).then(|| release.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_version_comes_from_the_file_name() {
        assert_eq!(
            kernel_version(Path::new("/boot/vmlinuz-6.1.0-50-cloud-amd64")).as_deref(),
            Some("6.1.0-50-cloud-amd64")
        );
        assert_eq!(
            kernel_version(Path::new("/lib/modules/6.6.52-gentoo-dist/vmlinuz")).as_deref(),
            Some("6.6.52-gentoo-dist")
        );
        assert_eq!(kernel_version(Path::new("/boot/bzImage")), None);
        assert_eq!(kernel_version(Path::new("/usr/src/linux/vmlinuz")), None);
    }
}
