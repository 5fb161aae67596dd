//! Host USB devices available for passthrough, read from sysfs.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Result, VmError};

/// One USB device of the host (root hubs and interfaces are left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsbDevice {
    /// The sysfs name, i.e. the port path such as `1-2.3`.
    pub port_path: String,
    /// Bus number.
    pub bus: u32,
    /// Device number on the bus.
    pub device: u32,
    /// Vendor id, four hex digits.
    pub vendor_id: String,
    /// Product id, four hex digits.
    pub product_id: String,
    /// Manufacturer string, when the device reports one.
    pub manufacturer: Option<String>,
    /// Product string, when the device reports one.
    pub product: Option<String>,
    /// Device class, two hex digits.
    pub class: String,
    /// Speed in Mbit/s as sysfs reports it.
    pub speed: Option<String>,
    /// The node to hand to QEMU: `/dev/bus/usb/BBB/DDD`.
    pub dev_path: PathBuf,
}

/// Lists the host's USB devices.
pub fn list() -> Result<Vec<UsbDevice>> {
    list_in(Path::new("/sys/bus/usb/devices"))
}

/// Lists the USB devices described under a sysfs `devices` folder.
pub fn list_in(sysfs: &Path) -> Result<Vec<UsbDevice>> {
    let entries = match fs::read_dir(sysfs) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(VmError::io("cannot list", sysfs, e)),
    };
    let mut devices = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // "usbN" are root hubs, "1-2:1.0" are interfaces.
        if name.starts_with("usb") || name.contains(':') {
            continue;
        }
        let dir = entry.path();
        let attr = |a: &str| {
            fs::read_to_string(dir.join(a))
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let (Some(bus), Some(device)) = (
            attr("busnum").and_then(|s| s.parse::<u32>().ok()),
            attr("devnum").and_then(|s| s.parse::<u32>().ok()),
        ) else {
            continue;
        };
        devices.push(UsbDevice {
            port_path: name,
            bus,
            device,
            vendor_id: attr("idVendor").unwrap_or_default(),
            product_id: attr("idProduct").unwrap_or_default(),
            manufacturer: attr("manufacturer"),
            product: attr("product"),
            class: attr("bDeviceClass").unwrap_or_default(),
            speed: attr("speed"),
            dev_path: PathBuf::from(format!("/dev/bus/usb/{bus:03}/{device:03}")),
        });
    }
    devices.sort_by_key(|d| (d.bus, d.device));
    Ok(devices)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(root: &Path, name: &str, attrs: &[(&str, &str)]) {
        let dir = root.join(name);
        fs::create_dir_all(&dir).unwrap();
        for (k, v) in attrs {
            fs::write(dir.join(k), format!("{v}\n")).unwrap();
        }
    }

    #[test]
    fn lists_devices_but_not_root_hubs_or_interfaces() {
        let root = tempfile::tempdir().unwrap();
        device(root.path(), "usb1", &[("busnum", "1"), ("devnum", "1")]);
        device(root.path(), "1-1:1.0", &[("bInterfaceClass", "08")]);
        device(
            root.path(),
            "1-1",
            &[
                ("busnum", "1"),
                ("devnum", "4"),
                ("idVendor", "0781"),
                ("idProduct", "5581"),
                ("manufacturer", "SanDisk"),
                ("product", "Ultra"),
                ("bDeviceClass", "00"),
                ("speed", "480"),
            ],
        );
        let list = list_in(root.path()).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].port_path, "1-1");
        assert_eq!(list[0].vendor_id, "0781");
        assert_eq!(list[0].product.as_deref(), Some("Ultra"));
        assert_eq!(list[0].dev_path, PathBuf::from("/dev/bus/usb/001/004"));
    }
}
