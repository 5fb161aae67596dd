//! Running a VM in the foreground: `genpack vm run` without detach, and `genpack vm service`
//! for a VM folder described by `vm.ini` (systemd runs it as a service).
//!
//! A VM folder holds `vm.ini` and the files it boots:
//! - `system`: the genpack SquashFS image (`type = genpack`) or a disk image (`type = bios`);
//! - `data`: the data disk (optional; without it the guest keeps changes in RAM);
//! - `cdrom`: an ISO attached as CD-ROM and booted when there is no `system`;
//! - `system.ini`: handed to the guest through fw_cfg;
//! - `fs/`: shared with the guest through virtio-fs (tag `fs`) when present.
//!
//! `vm.ini` keys (before any section): `memory` (MiB, 2048), `cpu` (1), `type`
//! (`genpack`|`bios`), `uefi` (yes), `append`, `display` (`none`|`vnc`), `vnc` (any value:
//! VNC display), `accel` (`auto`|`kvm`|`tcg`), `usb` (comma-separated `/dev/bus/usb/B/D` paths
//! or `vendor:product` ids). Section `[net0]`: `interface` (or `bridge`: a host bridge or tap,
//! root only), `hostfwd` (comma-separated forwards such as `2222:22`). Section
//! `[firmware-string]`: each `key = value` becomes fw_cfg `opt/<key>`.

use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use genpack_ini::{parse_bool, Document};
use tokio::signal::unix::{signal, SignalKind};

use crate::accel::AccelPolicy;
use crate::error::{Result, VmError};
use crate::firmware::FirmwareKind;
use crate::network::{Forward, Network};
use crate::spec::{Boot, DataDisk, Display, Share, VmSpec};
use crate::vm::{self, StopOptions};

/// Options of [`run_service`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceOptions {
    /// The VM name; the folder's name when `None`.
    pub name: Option<String>,
    /// Replaces the network of `vm.ini`.
    pub network: Option<Network>,
}

/// Reads `<dir>/vm.ini` and the files next to it into a [`VmSpec`].
pub fn load_service(dir: &Path, options: &ServiceOptions) -> Result<VmSpec> {
    let ini_path = dir.join("vm.ini");
    let text = match std::fs::read_to_string(&ini_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(VmError::io("cannot read", &ini_path, e)),
    };
    let doc = Document::parse_lenient(&text);
    if let Some(problem) = doc.problems().first() {
        return Err(VmError::VmIni {
            path: ini_path.clone(),
            line: 0,
            message: problem.to_string(),
        });
    }
    let ini = VmIni {
        doc: &doc,
        path: &ini_path,
    };

    let name = match &options.name {
        Some(n) => n.clone(),
        None => dir
            .canonicalize()
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .ok_or_else(|| {
                VmError::InvalidSpec(format!("cannot derive a VM name from {}", dir.display()))
            })?,
    };

    let system = dir.join("system");
    let cdrom = dir.join("cdrom");
    let uefi = ini.bool("uefi")?.unwrap_or(true);
    let firmware = if uefi {
        FirmwareKind::Uefi
    } else {
        FirmwareKind::Bios
    };
    let boot = match ini.get("type").as_deref().unwrap_or("genpack") {
        _ if !system.exists() && cdrom.exists() => Boot::Iso {
            image: cdrom,
            firmware,
        },
        "genpack" => Boot::Squashfs { image: system },
        "bios" => Boot::Disk {
            image: system,
            firmware,
            read_only: false,
        },
        other => {
            return Err(ini.error(
                "type",
                format!("unknown type {other:?} (use genpack or bios)"),
            ))
        }
    };

    let mut spec = VmSpec::new(name, boot);
    if let Some(memory) = ini.get("memory") {
        spec.memory_mib = memory
            .parse()
            .map_err(|_| ini.error("memory", format!("{memory:?} is not a number of MiB")))?;
    }
    if let Some(cpu) = ini.get("cpu") {
        spec.cpus = cpu
            .parse()
            .map_err(|_| ini.error("cpu", format!("{cpu:?} is not a number of vCPUs")))?;
    }
    spec.append = ini.get("append");
    spec.display = match (ini.get("display").as_deref(), ini.get("vnc")) {
        (Some("vnc"), _) | (None, Some(_)) => Display::Vnc,
        (Some("none"), _) | (None, None) => Display::None,
        (Some(other), _) => {
            return Err(ini.error(
                "display",
                format!("unknown display {other:?} (use none or vnc)"),
            ))
        }
    };
    spec.accel = match ini.get("accel").as_deref() {
        None | Some("auto") => AccelPolicy::Auto,
        Some("kvm") => AccelPolicy::Kvm,
        Some("tcg") => AccelPolicy::Tcg,
        Some(other) => {
            return Err(ini.error(
                "accel",
                format!("unknown accelerator {other:?} (use auto, kvm or tcg)"),
            ))
        }
    };
    if let Some(usb) = ini.get("usb") {
        spec.usb_devices = resolve_usb(&usb).map_err(|m| ini.error("usb", m))?;
    }

    spec.network = ini.network()?;
    if let Some(network) = &options.network {
        spec.network = network.clone();
    }

    let data = dir.join("data");
    if let Ok(meta) = std::fs::metadata(&data) {
        spec.data = DataDisk::File {
            path: data,
            size_bytes: meta.len(),
        };
    }
    let system_ini = dir.join("system.ini");
    if system_ini.is_file() {
        spec.system_ini = Some(system_ini);
    }
    let fs_dir = dir.join("fs");
    if fs_dir.is_dir() {
        spec.shares.push(Share::Virtiofs {
            path: fs_dir,
            tag: "fs".into(),
        });
    }
    for entry in doc.entries("firmware-string") {
        spec.fw_cfg_strings.push((entry.key, entry.value));
    }
    if uefi && matches!(spec.boot, Boot::Disk { .. } | Boot::Iso { .. }) {
        spec.uefi_vars = Some(dir.join("efivars.fd"));
    }
    Ok(spec)
}

/// Runs the VM described by `<dir>/vm.ini` in the foreground until it stops.
pub async fn run_service(dir: &Path, options: &ServiceOptions) -> Result<ExitStatus> {
    let spec = load_service(dir, options)?;
    run_foreground(&spec).await
}

/// Starts `spec` and waits until QEMU exits. SIGINT and SIGTERM press the power button and
/// quit QEMU if the guest does not power off within [`vm::DEFAULT_STOP_TIMEOUT`].
pub async fn run_foreground(spec: &VmSpec) -> Result<ExitStatus> {
    let mut sigint = signal(SignalKind::interrupt())
        .map_err(|e| VmError::io("cannot handle SIGINT for", &spec.name, e))?;
    let mut sigterm = signal(SignalKind::terminate())
        .map_err(|e| VmError::io("cannot handle SIGTERM for", &spec.name, e))?;
    let handle = vm::launch(spec).await?;
    let name = handle.name().to_string();
    let wait = handle.wait();
    tokio::pin!(wait);
    tokio::select! {
        status = &mut wait => return status,
        _ = sigint.recv() => {},
        _ = sigterm.recv() => {},
    }
    let stopper = vm::stop(&name, StopOptions::default());
    let (status, stopped) = tokio::join!(wait, stopper);
    stopped?;
    status
}

/// Accessors that turn bad values into errors pointing at the line.
struct VmIni<'a> {
    doc: &'a Document,
    path: &'a Path,
}

impl VmIni<'_> {
    fn get(&self, key: &str) -> Option<String> {
        self.get_in("_default", key)
    }

    fn get_in(&self, section: &str, key: &str) -> Option<String> {
        self.doc
            .get(section, key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => parse_bool(&v)
                .map(Some)
                .ok_or_else(|| self.error(key, format!("{v:?} is not yes or no"))),
        }
    }

    fn error(&self, key: &str, message: String) -> VmError {
        self.error_in("_default", key, message)
    }

    fn error_in(&self, section: &str, key: &str, message: String) -> VmError {
        VmError::VmIni {
            path: self.path.to_path_buf(),
            line: self.doc.line_of(section, key).unwrap_or(0),
            message: format!("{key}: {message}"),
        }
    }

    fn network(&self) -> Result<Network> {
        for section in self.doc.sections() {
            if section.starts_with("net") && section != "net0" {
                return Err(VmError::VmIni {
                    path: self.path.to_path_buf(),
                    line: 0,
                    message: format!(
                        "[{section}]: only one network interface ([net0]) is supported"
                    ),
                });
            }
        }
        let interface = self
            .get_in("net0", "interface")
            .or_else(|| self.get_in("net0", "bridge"));
        let forwards = match self.get_in("net0", "hostfwd") {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .map(|f| f.parse::<Forward>())
                .collect::<Result<Vec<_>>>()
                .map_err(|e| self.error_in("net0", "hostfwd", e.to_string()))?,
            None => Vec::new(),
        };
        Ok(match interface {
            Some(ifname) if is_bridge(&ifname) => Network::Bridge { bridge: ifname },
            Some(ifname) => Network::Tap { ifname },
            None if forwards.is_empty() && !self.doc.has_section("net0") => {
                Network::user_with_ssh()
            }
            None => Network::User { forwards },
        })
    }
}

fn is_bridge(ifname: &str) -> bool {
    Path::new("/sys/class/net")
        .join(ifname)
        .join("bridge")
        .is_dir()
}

/// Resolves `usb = ...`: `/dev/bus/usb/...` paths as they are, `vendor:product` ids through sysfs.
fn resolve_usb(list: &str) -> std::result::Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut devices = None;
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if item.starts_with('/') {
            out.push(PathBuf::from(item));
            continue;
        }
        let Some((vendor, product)) = item.split_once(':') else {
            return Err(format!(
                "{item:?}: use /dev/bus/usb/BBB/DDD or vendor:product"
            ));
        };
        if devices.is_none() {
            devices = Some(crate::usb::list().map_err(|e| e.to_string())?);
        }
        let found = devices
            .iter()
            .flatten()
            .find(|d| {
                d.vendor_id.eq_ignore_ascii_case(vendor)
                    && d.product_id.eq_ignore_ascii_case(product)
            })
            .ok_or_else(|| format!("no USB device {item} is connected"))?;
        out.push(found.dev_path.clone());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(ini: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("vm.ini"), ini).unwrap();
        std::fs::write(dir.path().join("system"), b"").unwrap();
        dir
    }

    #[test]
    fn vm_ini_maps_to_a_spec() {
        let dir = folder(
            "memory = 1024\ncpu = 2\nappend = quiet\nvnc = 1\n\n[net0]\nhostfwd = 2222:22, tcp::8080-:80\n\n[firmware-string]\nrole = web\n",
        );
        std::fs::write(dir.path().join("system.ini"), "[_default]\n").unwrap();
        std::fs::create_dir(dir.path().join("fs")).unwrap();
        let spec = load_service(
            dir.path(),
            &ServiceOptions {
                name: Some("web".into()),
                network: None,
            },
        )
        .unwrap();
        assert_eq!(spec.name, "web");
        assert_eq!(spec.memory_mib, 1024);
        assert_eq!(spec.cpus, 2);
        assert_eq!(spec.append.as_deref(), Some("quiet"));
        assert_eq!(spec.display, Display::Vnc);
        assert_eq!(
            spec.boot,
            Boot::Squashfs {
                image: dir.path().join("system")
            }
        );
        assert_eq!(spec.data, DataDisk::Volatile);
        assert_eq!(spec.system_ini, Some(dir.path().join("system.ini")));
        assert_eq!(
            spec.fw_cfg_strings,
            vec![("role".to_string(), "web".to_string())]
        );
        assert_eq!(spec.shares.len(), 1);
        let Network::User { forwards } = &spec.network else {
            panic!()
        };
        assert_eq!(forwards.len(), 2);
        assert_eq!(forwards[1].host_port, 8080);
    }

    #[test]
    fn bad_values_point_at_their_line() {
        let dir = folder("cpu = 1\nmemory = lots\n");
        let err = load_service(dir.path(), &ServiceOptions::default()).unwrap_err();
        assert!(matches!(err, VmError::VmIni { line: 2, .. }), "{err}");
        let dir = folder("type = floppy\n");
        assert!(load_service(dir.path(), &ServiceOptions::default()).is_err());
        let dir = folder("[net1]\ninterface = br0\n");
        assert!(load_service(dir.path(), &ServiceOptions::default()).is_err());
    }

    #[test]
    fn name_defaults_to_the_folder_and_data_file_is_used() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("db");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("system"), b"").unwrap();
        std::fs::write(dir.join("data"), vec![0u8; 4096]).unwrap();
        let spec = load_service(&dir, &ServiceOptions::default()).unwrap();
        assert_eq!(spec.name, "db");
        assert_eq!(spec.display, Display::None);
        assert_eq!(
            spec.data,
            DataDisk::File {
                path: dir.join("data"),
                size_bytes: 4096
            }
        );
    }
}
