//! The Run step: boots the project's built image in QEMU through `genpack-vm` and shows its
//! screen and serial console.

use crate::commands::build::image_path;
use crate::error::{CommandError, CommandResult};
use base64::Engine as _;
use genpack_vm::{Boot, DataDisk, RuntimeDir, StopOptions, VmError, VmSpec, VmStatus};
use serde::Serialize;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Size of the per-project data disk made on first start.
const DATA_DISK_BYTES: u64 = 4 << 30;

/// What "Run in VM" would boot for a project, architecture and variant.
#[derive(Debug, Serialize)]
pub struct VmTarget {
    /// The VM's name (its runtime folder and QEMU `-name`), from the image file name.
    pub name: String,
    /// The image to boot.
    pub image: PathBuf,
    /// Whether the image has been built.
    pub built: bool,
    /// The project's system.ini handed to the guest, when the project has one.
    pub system_ini: Option<PathBuf>,
    /// The data disk kept between runs unless changes are thrown away.
    pub data_disk: PathBuf,
}

/// What a started VM reports at once.
#[derive(Debug, Serialize)]
pub struct VmStarted {
    /// The VM's name.
    pub name: String,
    /// Why this accelerator was chosen ("no /dev/kvm: using TCG").
    pub accel_reason: String,
}

fn vm_error(error: VmError) -> CommandError {
    CommandError::Vm(error.to_string())
}

/// A VM name from an image file name: `demo-x86_64.squashfs` → `demo-x86_64`.
fn vm_name_for(image: &Path) -> String {
    let stem = image
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name: String = stem
        .trim_start_matches('.')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() {
        "genpack".to_string()
    } else {
        name
    }
}

fn target(dir: &Path, arch: &str, variant: Option<String>) -> CommandResult<VmTarget> {
    let image = image_path(dir, arch, variant)?;
    let project_dir = image.parent().unwrap_or(dir).to_path_buf();
    let system_ini = Some(project_dir.join("system.ini")).filter(|path| path.is_file());
    Ok(VmTarget {
        name: vm_name_for(&image),
        built: image.is_file(),
        data_disk: project_dir.join("work").join("vm-data.img"),
        system_ini,
        image,
    })
}

/// What "Run in VM" boots for `dir`, `arch` and `variant`.
#[tauri::command]
pub fn vm_target(dir: PathBuf, arch: String, variant: Option<String>) -> CommandResult<VmTarget> {
    target(&dir, &arch, variant)
}

/// Boots the built image of `dir` with the project's system.ini; returns once QEMU's monitor
/// answers. `volatile` keeps the guest's changes in memory only, else they go to the project's
/// data disk.
#[tauri::command]
pub async fn vm_start(
    dir: PathBuf,
    arch: String,
    variant: Option<String>,
    volatile: bool,
) -> CommandResult<VmStarted> {
    let target = target(&dir, &arch, variant)?;
    if !target.built {
        return Err(CommandError::Vm(format!(
            "{} is not built yet: build it in the Build step first",
            target.image.display()
        )));
    }
    let mut spec = VmSpec::new(
        &target.name,
        Boot::Squashfs {
            image: target.image.clone(),
        },
    );
    spec.system_ini = target.system_ini.clone();
    if !volatile {
        if let Some(parent) = target.data_disk.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|source| CommandError::io("create", parent, source))?;
        }
        spec.data = DataDisk::File {
            path: target.data_disk.clone(),
            size_bytes: DATA_DISK_BYTES,
        };
    }
    let handle = genpack_vm::launch(&spec).await.map_err(vm_error)?;
    // Dropping the handle leaves QEMU running in its own process group: Stop ends it.
    Ok(VmStarted {
        name: handle.name().to_string(),
        accel_reason: handle.accel().reason.clone(),
    })
}

/// The VM's state, accelerator, memory and uptime (cheap: no monitor round trip).
#[tauri::command]
pub fn vm_status(name: String) -> CommandResult<VmStatus> {
    genpack_vm::status(&name).map_err(vm_error)
}

/// Stops the VM: the power button, then quit after a timeout; at once when `force`.
#[tauri::command]
pub async fn vm_stop(name: String, force: bool) -> CommandResult<genpack_vm::StopOutcome> {
    let options = StopOptions {
        force,
        ..StopOptions::default()
    };
    genpack_vm::stop(&name, options).await.map_err(vm_error)
}

/// The guest's screen as a `data:image/png;base64,…` URL.
#[tauri::command]
pub async fn vm_screenshot(name: String) -> CommandResult<String> {
    let png = genpack_vm::screenshot(&name).await.map_err(vm_error)?;
    Ok(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    ))
}

/// The last `kib` KiB of the VM's serial console log (empty before the guest writes anything).
#[tauri::command]
pub fn vm_console_tail(name: String, kib: u64) -> CommandResult<String> {
    let runtime = RuntimeDir::for_name(&name).map_err(vm_error)?;
    tail(&runtime.console_log(), kib.saturating_mul(1024))
}

/// Types `text` on the VM's serial console.
#[tauri::command]
pub fn vm_console_send(name: String, text: String) -> CommandResult<()> {
    let runtime = RuntimeDir::for_name(&name).map_err(vm_error)?;
    let socket = runtime.console_socket();
    let mut stream = std::os::unix::net::UnixStream::connect(&socket).map_err(|source| {
        CommandError::Vm(format!(
            "cannot reach the console of {name} at {}: {source}; is the VM running?",
            socket.display()
        ))
    })?;
    stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .and_then(|()| stream.write_all(text.as_bytes()))
        .and_then(|()| stream.flush())
        .map_err(|source| CommandError::io("write to", &socket, source))
}

/// The last `bytes` of `file` as text; a missing file reads as empty.
fn tail(file: &Path, bytes: u64) -> CommandResult<String> {
    let mut handle = match std::fs::File::open(file) {
        Ok(handle) => handle,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(source) => return Err(CommandError::io("read", file, source)),
    };
    let length = handle
        .metadata()
        .map_err(|source| CommandError::io("read", file, source))?
        .len();
    let start = length.saturating_sub(bytes);
    handle
        .seek(SeekFrom::Start(start))
        .map_err(|source| CommandError::io("read", file, source))?;
    let mut buffer = Vec::new();
    handle
        .read_to_end(&mut buffer)
        .map_err(|source| CommandError::io("read", file, source))?;
    Ok(String::from_utf8_lossy(&buffer).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vm_is_named_after_the_image() {
        assert_eq!(
            vm_name_for(Path::new("/p/demo-small-x86_64.squashfs")),
            "demo-small-x86_64"
        );
        assert_eq!(vm_name_for(Path::new("/p/my app.squashfs")), "my-app");
        assert!(
            genpack_vm::runtime::validate_name(&vm_name_for(Path::new("/p/.x.squashfs"))).is_ok()
        );
    }

    #[test]
    fn target_finds_the_image_system_ini_and_data_disk() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("genpack.json5"),
            r#"{ name: "demo", base: "debian:bookworm" }"#,
        )
        .unwrap();
        let found = target(dir.path(), "x86_64", None).unwrap();
        assert_eq!(found.name, "demo-x86_64");
        assert!(!found.built);
        assert!(found.system_ini.is_none());
        assert_eq!(found.data_disk, dir.path().join("work/vm-data.img"));

        std::fs::write(dir.path().join("system.ini"), "hostname=demo\n").unwrap();
        std::fs::write(dir.path().join("demo-x86_64.squashfs"), b"hsqs").unwrap();
        let found = target(dir.path(), "x86_64", None).unwrap();
        assert!(found.built);
        assert_eq!(found.system_ini, Some(dir.path().join("system.ini")));
    }

    #[test]
    fn tail_reads_the_end_of_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("console.log");
        assert_eq!(tail(&log, 1024).unwrap(), "", "no log yet");
        std::fs::write(&log, "first line\nDebian login: ").unwrap();
        assert_eq!(tail(&log, 7).unwrap(), "login: ");
        assert_eq!(tail(&log, 1024).unwrap(), "first line\nDebian login: ");
    }
}
