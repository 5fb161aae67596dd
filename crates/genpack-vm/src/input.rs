//! Which keyboard and pointer a guest gets, from the drivers its kernel has.
//!
//! QEMU sends keys to the keyboard added last as soon as it exists (a USB keyboard takes every
//! key from the start, driver or not), but to a virtio keyboard or tablet, or a USB tablet,
//! only once the guest's driver uses it. So the keyboard offered is one the image's kernel can
//! drive, and a guest whose kernel drives none is reported as unable to receive keys.
//!
//! On x86 the machine's PS/2 keyboard comes first: a VNC viewer sends each key's press and
//! release separately, and a virtio (or USB) keyboard lets the guest repeat a held key by
//! itself, so a release that a busy host delays past the repeat delay types the key several
//! times ("viaview-----42"). QEMU's PS/2 keyboard repeats nothing on its own; holding a key in
//! the viewer still repeats it, because the viewer sends the presses.

use genpack_image::KernelDrivers;
use serde::{Deserialize, Serialize};

use crate::boot_files::Arch;

/// The kind of an input device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum InputBus {
    /// The PS/2 keyboard and mouse of the x86 machine (always present on q35).
    Ps2,
    /// virtio-keyboard / virtio-tablet.
    Virtio,
    /// USB keyboard / tablet on an xHCI controller.
    Usb,
}

/// The keyboard and pointer of a VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct InputDevices {
    /// What the guest reads keys from; `None` when its kernel has no driver for any keyboard
    /// QEMU can offer (keys typed on the screen cannot reach it).
    pub keyboard: Option<InputBus>,
    /// What the guest reads the pointer from (absolute tablets before the relative PS/2
    /// mouse); `None` when no pointer reaches it.
    pub pointer: Option<InputBus>,
}

impl InputDevices {
    /// The devices for a guest of `arch` whose kernel has `drivers`. When the image does not
    /// say (disk images, ISOs, images without a module list), what firmware and common
    /// kernels drive: the PS/2 keyboard and a USB tablet on x86, USB on ARM.
    pub fn for_kernel(drivers: &KernelDrivers, arch: Arch) -> Self {
        let x86 = arch == Arch::X86_64;
        if !drivers.is_known() {
            return InputDevices {
                keyboard: Some(if x86 { InputBus::Ps2 } else { InputBus::Usb }),
                pointer: Some(InputBus::Usb),
            };
        }
        let virtio = drivers.has("virtio_input");
        let usb = drivers.has("usbhid")
            && drivers.has("hid_generic")
            && (drivers.has("xhci_pci") || drivers.has("xhci_hcd"));
        let ps2_keyboard = x86 && drivers.has("i8042") && drivers.has("atkbd");
        let ps2_mouse = x86 && drivers.has("i8042") && drivers.has("psmouse");
        let keyboard = if ps2_keyboard {
            Some(InputBus::Ps2)
        } else if virtio {
            Some(InputBus::Virtio)
        } else if usb {
            Some(InputBus::Usb)
        } else {
            None
        };
        let pointer = if virtio {
            Some(InputBus::Virtio)
        } else if usb {
            Some(InputBus::Usb)
        } else if ps2_mouse {
            Some(InputBus::Ps2)
        } else {
            None
        };
        InputDevices { keyboard, pointer }
    }

    /// Whether the VM needs a USB controller for these devices.
    pub(crate) fn need_usb(&self) -> bool {
        self.keyboard == Some(InputBus::Usb) || self.pointer == Some(InputBus::Usb)
    }

    /// QEMU `-device` values for these devices (the PS/2 ones are part of the machine).
    pub(crate) fn qemu_devices(&self) -> Vec<&'static str> {
        let mut devices = Vec::new();
        match self.keyboard {
            Some(InputBus::Virtio) => devices.push("virtio-keyboard-pci"),
            Some(InputBus::Usb) => devices.push("usb-kbd,bus=xhci.0"),
            Some(InputBus::Ps2) | None => {}
        }
        match self.pointer {
            Some(InputBus::Virtio) => devices.push("virtio-tablet-pci"),
            Some(InputBus::Usb) => devices.push("usb-tablet,bus=xhci.0"),
            Some(InputBus::Ps2) | None => {}
        }
        devices
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drivers(names: &[&str]) -> KernelDrivers {
        KernelDrivers::from_names(names)
    }

    #[test]
    fn debian_cloud_kernel_gets_ps2_keys_a_virtio_tablet_and_no_usb() {
        // linux-image-cloud-amd64: i8042 and atkbd built in, virtio_input a module, no USB.
        let cloud = drivers(&["i8042", "atkbd", "virtio_input", "evdev", "hid_generic"]);
        let devices = InputDevices::for_kernel(&cloud, Arch::X86_64);
        assert_eq!(devices.keyboard, Some(InputBus::Ps2));
        assert_eq!(devices.pointer, Some(InputBus::Virtio));
        assert!(!devices.need_usb());
        assert_eq!(devices.qemu_devices(), ["virtio-tablet-pci"]);
    }

    #[test]
    fn without_ps2_a_virtio_keyboard_takes_the_keys() {
        let arm = drivers(&["virtio_input", "usbhid", "hid_generic", "xhci_pci"]);
        let devices = InputDevices::for_kernel(&arm, Arch::Aarch64);
        assert_eq!(devices.keyboard, Some(InputBus::Virtio));
        assert_eq!(
            devices.qemu_devices(),
            ["virtio-keyboard-pci", "virtio-tablet-pci"]
        );
        let x86 = InputDevices::for_kernel(&drivers(&["virtio_input"]), Arch::X86_64);
        assert_eq!(x86.keyboard, Some(InputBus::Virtio));
    }

    #[test]
    fn a_kernel_with_only_ps2_keeps_the_machine_keyboard_and_mouse() {
        let devices =
            InputDevices::for_kernel(&drivers(&["i8042", "atkbd", "psmouse"]), Arch::X86_64);
        assert_eq!(devices.keyboard, Some(InputBus::Ps2));
        assert_eq!(devices.pointer, Some(InputBus::Ps2));
        assert!(devices.qemu_devices().is_empty());
    }

    #[test]
    fn usb_only_when_the_kernel_drives_usb_keyboards() {
        let usb = drivers(&["usbhid", "hid_generic", "xhci_pci", "xhci_hcd"]);
        let devices = InputDevices::for_kernel(&usb, Arch::Aarch64);
        assert_eq!(devices.keyboard, Some(InputBus::Usb));
        assert!(devices.need_usb());
        // usbhid without a controller driver cannot see the keyboard.
        let devices = InputDevices::for_kernel(&drivers(&["usbhid", "hid_generic"]), Arch::Aarch64);
        assert_eq!(devices.keyboard, None, "keys cannot reach this guest");
        assert!(devices.qemu_devices().is_empty());
    }

    #[test]
    fn an_image_that_does_not_say_gets_what_firmware_drives() {
        let unknown = KernelDrivers::default();
        let x86 = InputDevices::for_kernel(&unknown, Arch::X86_64);
        assert_eq!(x86.keyboard, Some(InputBus::Ps2));
        assert_eq!(x86.qemu_devices(), ["usb-tablet,bus=xhci.0"]);
        let arm = InputDevices::for_kernel(&unknown, Arch::Aarch64);
        assert_eq!(arm.keyboard, Some(InputBus::Usb));
    }
}
