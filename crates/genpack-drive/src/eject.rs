//! Ejecting a written drive: UDisks2 `Drive.Eject` and `Drive.PowerOff`, so the user can pull
//! the stick out safely.

use std::collections::HashMap;
use std::path::Path;

use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

use crate::error::EjectError;

const UDISKS: &str = "org.freedesktop.UDisks2";
const MANAGER_PATH: &str = "/org/freedesktop/UDisks2/Manager";
const DRIVE_INTERFACE: &str = "org.freedesktop.UDisks2.Drive";

/// What [`eject`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ejected {
    /// The medium was ejected and the drive powered off: it may be pulled out now.
    PoweredOff,
    /// The medium was ejected; the drive cannot be powered off but may be pulled out now.
    Ejected,
    /// UDisks2 knows no physical drive behind the device (a loop device): nothing to eject.
    NoDrive,
}

/// Ejects the drive behind `device` (e.g. `/dev/sdb`) and powers it off where the hardware
/// allows, through UDisks2 over the system D-Bus. Data must already be flushed (a finished
/// [`crate::Flasher::write_image`] has done that).
pub fn eject(device: &Path) -> Result<Ejected, EjectError> {
    let fail = |step: &'static str, e: zbus::Error| EjectError {
        device: device.to_path_buf(),
        step,
        message: e.to_string(),
    };
    let bus =
        zbus::blocking::Connection::system().map_err(|e| fail("connect to the system bus", e))?;
    let path = device.to_string_lossy().into_owned();
    let mut spec: HashMap<&str, Value> = HashMap::new();
    spec.insert("path", Value::from(path.as_str()));
    let no_options: HashMap<&str, Value> = HashMap::new();
    let objects: Vec<OwnedObjectPath> = bus
        .call_method(
            Some(UDISKS),
            MANAGER_PATH,
            Some("org.freedesktop.UDisks2.Manager"),
            "ResolveDevice",
            &(spec, &no_options),
        )
        .and_then(|reply| reply.body().deserialize())
        .map_err(|e| fail("find the device", e))?;
    let Some(block) = objects.first() else {
        return Err(EjectError {
            device: device.to_path_buf(),
            step: "find the device",
            message: "UDisks2 does not know this device".into(),
        });
    };
    let property = |object: &str, interface: &str, name: &str| -> zbus::Result<OwnedValue> {
        bus.call_method(
            Some(UDISKS),
            object,
            Some("org.freedesktop.DBus.Properties"),
            "Get",
            &(interface, name),
        )
        .and_then(|reply| reply.body().deserialize())
    };
    let drive: OwnedObjectPath = property(block.as_str(), "org.freedesktop.UDisks2.Block", "Drive")
        .and_then(|value| OwnedObjectPath::try_from(value).map_err(zbus::Error::from))
        .map_err(|e| fail("find the drive", e))?;
    if drive.as_str() == "/" {
        return Ok(Ejected::NoDrive);
    }
    let flag = |name: &str| {
        property(drive.as_str(), DRIVE_INTERFACE, name)
            .ok()
            .and_then(|value| bool::try_from(value).ok())
            .unwrap_or(false)
    };
    let call = |method: &str| {
        bus.call_method(
            Some(UDISKS),
            drive.as_str(),
            Some(DRIVE_INTERFACE),
            method,
            &(&no_options,),
        )
        .map(|_| ())
    };
    if flag("Ejectable") {
        call("Eject").map_err(|e| fail("eject the medium", e))?;
    }
    if flag("CanPowerOff") {
        call("PowerOff").map_err(|e| fail("power the drive off", e))?;
        return Ok(Ejected::PoweredOff);
    }
    Ok(Ejected::Ejected)
}
