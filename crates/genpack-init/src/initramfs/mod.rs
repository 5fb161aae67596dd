//! Building the initramfs: our `/init`, the kernel modules it needs (with their
//! dependencies from `modules.dep`) and a load-order list, as a compressed newc cpio.

mod cpio;
mod kmods;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use cpio::CpioWriter;
pub use kmods::{module_name, ModuleDeps};

use crate::boot::kmod::LOAD_ORDER_FILE;

/// Modules the initramfs loads by default: enough for USB sticks (USB 1.1 to 3), SATA in
/// AHCI and legacy IDE mode, NVMe, SD cards, CD and virtual machines, and the filesystems of
/// the boot, image and data partitions. `nls_ascii` is there because vfat loads the kernel's
/// default I/O charset (`ascii` on Debian kernels). `virtiofs`, `9p` and `9pnet_virtio` mount an
/// image tree a virtual machine's host shares. Modules a kernel lacks or has built in
/// are skipped.
pub const DEFAULT_MODULES: &[&str] = &[
    "squashfs",
    "loop",
    "overlay",
    "vfat",
    "nls_cp437",
    "nls_ascii",
    "nls_iso8859_1",
    "nls_utf8",
    "virtio_blk",
    "virtio_pci",
    "virtio_scsi",
    "virtiofs",
    "9p",
    "9pnet_virtio",
    "qemu_fw_cfg",
    "sd_mod",
    "usb_storage",
    "uas",
    "xhci_pci",
    "ehci_pci",
    "ohci_pci",
    "uhci_hcd",
    "ahci",
    "ata_piix",
    "ata_generic",
    "nvme",
    "mmc_block",
    "sdhci_pci",
    "sdhci_acpi",
    "btrfs",
    "ext4",
    "isofs",
    "sr_mod",
];

/// What goes into an initramfs.
#[derive(Clone, Debug)]
pub struct InitramfsSpec {
    /// The `/init` program (a static `genpack-initramfs-init`).
    pub init_binary: PathBuf,
    /// A tree holding `lib/modules/<kernel_version>` (`/` for the host, or an image root).
    pub modules_root: PathBuf,
    /// Kernel release, e.g. `6.1.0-56-amd64`.
    pub kernel_version: String,
    /// Modules to include by name (see [`DEFAULT_MODULES`]); dependencies are added.
    pub module_names: Vec<String>,
    /// Further files: (file on this machine, absolute path in the initramfs).
    pub extra_files: Vec<(PathBuf, String)>,
}

impl InitramfsSpec {
    /// A spec with the default module set.
    pub fn new(init_binary: PathBuf, modules_root: PathBuf, kernel_version: String) -> Self {
        Self {
            init_binary,
            modules_root,
            kernel_version,
            module_names: DEFAULT_MODULES.iter().map(|s| s.to_string()).collect(),
            extra_files: Vec::new(),
        }
    }
}

/// Compression of the cpio archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// zstd (fast to unpack; kernels since 5.9).
    Zstd,
    /// gzip (every kernel).
    Gzip,
    /// xz with CRC32 checks, via the `xz` program.
    Xz,
    /// Uncompressed.
    None,
}

/// What was put in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InitramfsReport {
    /// Module files, relative to the initramfs root, in load order.
    pub modules: Vec<String>,
    /// Requested modules not shipped as files, with the reason (built into the kernel, or
    /// not available).
    pub skipped: Vec<(String, String)>,
    /// Size of the written file in bytes.
    pub size: u64,
}

/// Building the initramfs failed.
#[derive(Debug, thiserror::Error)]
pub enum InitramfsError {
    /// A file could not be read or written.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The kernel's modules directory is missing.
    #[error("no kernel modules for {version} under {path} (is the kernel package installed?)")]
    NoModules { version: String, path: PathBuf },
    /// A compressor failed.
    #[error("compressing with {tool}: {detail}")]
    Compress { tool: &'static str, detail: String },
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> InitramfsError {
    let path = path.to_path_buf();
    move |source| InitramfsError::Io {
        action,
        path,
        source,
    }
}

/// Writes the initramfs to `out` (atomically) and reports what it holds.
pub fn build_initramfs(
    spec: &InitramfsSpec,
    out: &Path,
    compression: Compression,
) -> Result<InitramfsReport, InitramfsError> {
    let module_dir_rel = format!("lib/modules/{}", spec.kernel_version);
    let module_dir = spec.modules_root.join(&module_dir_rel);
    let dep_path = module_dir.join("modules.dep");
    let dep_text = if spec.module_names.is_empty() {
        String::new()
    } else {
        fs::read_to_string(&dep_path).map_err(|_| InitramfsError::NoModules {
            version: spec.kernel_version.clone(),
            path: module_dir.clone(),
        })?
    };
    let softdep = fs::read_to_string(module_dir.join("modules.softdep")).unwrap_or_default();
    let alias = fs::read_to_string(module_dir.join("modules.alias")).unwrap_or_default();
    let deps = ModuleDeps::parse(&dep_text).with_soft_dependencies(&softdep, &alias);
    let builtin = fs::read_to_string(module_dir.join("modules.builtin")).unwrap_or_default();
    let builtin: Vec<String> = builtin.lines().map(module_name).collect();

    let mut report = InitramfsReport::default();
    let mut order: Vec<String> = Vec::new();
    for name in &spec.module_names {
        match deps.path_of(name) {
            Some(path) => deps.resolve_into(path, &mut order),
            None if builtin.contains(&kmods::normalize(name)) => report
                .skipped
                .push((name.clone(), "built into the kernel".into())),
            None => report
                .skipped
                .push((name.clone(), "not available for this kernel".into())),
        }
    }

    let mut archive = CpioWriter::new(Vec::new());
    let add = |r: std::io::Result<()>| r.map_err(io("building the archive for", out));
    for dir in [
        "dev",
        "proc",
        "sys",
        "run",
        "sysroot",
        "bin",
        "lib",
        "lib/modules",
    ] {
        add(archive.dir(dir, 0o755))?;
    }
    add(archive.char_device("dev/console", 0o600, 5, 1))?;
    let init = fs::read(&spec.init_binary).map_err(io("reading", &spec.init_binary))?;
    add(archive.file("init", 0o755, &init))?;

    let mut made_dirs: Vec<String> = vec!["lib".into(), "lib/modules".into()];
    let mut ensure_dirs = |archive: &mut CpioWriter<Vec<u8>>, path: &str| -> std::io::Result<()> {
        let mut prefix = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            if !made_dirs.contains(&prefix) {
                archive.dir(&prefix, 0o755)?;
                made_dirs.push(prefix.clone());
            }
        }
        Ok(())
    };
    for rel in &order {
        let source = module_dir.join(rel);
        let data = fs::read(&source).map_err(io("reading", &source))?;
        let dest = format!("{module_dir_rel}/{rel}");
        add(ensure_dirs(&mut archive, &dest))?;
        add(archive.file(&dest, 0o644, &data))?;
        report.modules.push(dest);
    }
    let list: String = report.modules.iter().map(|m| format!("{m}\n")).collect();
    add(archive.file(LOAD_ORDER_FILE, 0o644, list.as_bytes()))?;
    for (source, dest) in &spec.extra_files {
        let dest = dest.trim_start_matches('/');
        let meta = fs::metadata(source).map_err(io("reading", source))?;
        let data = fs::read(source).map_err(io("reading", source))?;
        add(ensure_dirs(&mut archive, dest))?;
        add(archive.file(dest, meta.permissions().mode(), &data))?;
    }
    let raw = archive
        .finish()
        .map_err(io("building the archive for", out))?;
    let bytes = compress(raw, compression)?;
    report.size = bytes.len() as u64;
    write_atomic(out, &bytes)?;
    Ok(report)
}

fn compress(raw: Vec<u8>, compression: Compression) -> Result<Vec<u8>, InitramfsError> {
    match compression {
        Compression::None => Ok(raw),
        #[cfg(not(feature = "compression"))]
        Compression::Zstd | Compression::Gzip => Err(InitramfsError::Compress {
            tool: if compression == Compression::Zstd {
                "zstd"
            } else {
                "gzip"
            },
            detail: "this build has no compression support (feature `compression`)".into(),
        }),
        #[cfg(feature = "compression")]
        Compression::Zstd => zstd::bulk::compress(&raw, 10).map_err(|e| InitramfsError::Compress {
            tool: "zstd",
            detail: e.to_string(),
        }),
        #[cfg(feature = "compression")]
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            enc.write_all(&raw)
                .and_then(|()| enc.finish())
                .map_err(|e| InitramfsError::Compress {
                    tool: "gzip",
                    detail: e.to_string(),
                })
        }
        Compression::Xz => {
            let fail = |detail: String| InitramfsError::Compress { tool: "xz", detail };
            let mut child = Command::new("xz")
                .args(["--check=crc32", "--stdout", "-"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| fail(format!("cannot run xz ({e}); install xz-utils")))?;
            let mut stdin = child.stdin.take().ok_or_else(|| fail("no stdin".into()))?;
            let writer = std::thread::spawn(move || stdin.write_all(&raw));
            let output = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
            writer
                .join()
                .map_err(|_| fail("writer thread failed".into()))?
                .map_err(|e| fail(e.to_string()))?;
            if !output.status.success() {
                return Err(fail(
                    String::from_utf8_lossy(&output.stderr).trim().to_string(),
                ));
            }
            Ok(output.stdout)
        }
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), InitramfsError> {
    genpack_util::write_atomic(path, bytes).map_err(|source| InitramfsError::Io {
        action: "writing",
        path: path.to_path_buf(),
        source,
    })
}
