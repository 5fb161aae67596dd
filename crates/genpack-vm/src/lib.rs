//! The VM engine of genpack: boots built images in QEMU for "Run in VM" and `genpack vm`.
//!
//! - [`launch`] starts a [`VmSpec`] in the background: a `.squashfs` boots directly (kernel and
//!   initramfs read out of the image, `root=block:`), a disk image or ISO through OVMF or
//!   SeaBIOS. KVM is used only after a trial boot proves it works ([`accel`]).
//! - Each VM has a private runtime folder ([`RuntimeDir`]) with its QMP, serial console and VNC
//!   sockets and `vm.json`; [`list`], [`show`], [`status`], [`stop`], [`screenshot`], [`expand`]
//!   and [`cid`] work from the name alone, from any process.
//! - [`console::attach`] relays a terminal to the serial console, [`ConsoleLog`] follows its
//!   output and [`ConsoleInput`] types into it; [`ViewerBridge`] relays one
//!   noVNC session over a loopback WebSocket guarded by a one-time token.
//! - A build's image tree boots without packing ([`Boot::Tree`], [`tree`]): its kernel and
//!   initramfs directly, the tree shared read-only over virtio-fs or 9p.
//! - [`connect()`] tells how to reach a running VM: the SSH command, its web pages on forwarded
//!   host ports (the definition's declared services, [`Guest`]) and how to log in on its
//!   console.
//! - [`run_service`] runs a VM folder described by `vm.ini` in the foreground.

pub mod accel;
pub mod boot_files;
pub mod bridge;
pub mod command;
pub mod connect;
pub mod console;
pub mod disk;
mod error;
pub mod firmware;
pub mod input;
mod name;
pub mod network;
pub mod qmp;
pub mod runtime;
pub mod screen;
pub mod service;
pub mod spec;
pub mod status;
pub mod tree;
pub mod usb;
mod vm;
pub mod vsock;

pub use accel::{AccelPolicy, AccelVerdict};
pub use boot_files::Arch;
pub use bridge::ViewerBridge;
pub use connect::{connect, connect_info, Account, ConnectInfo, Guest};
pub use console::{ConsoleInput, ConsoleLog};
pub use disk::{allocate, Allocation};
pub use error::{Result, VmError};
pub use firmware::{Firmware, FirmwareKind};
pub use input::{InputBus, InputDevices};
pub use name::{name_for_image, name_for_tree};
pub use network::{Forward, Network, Protocol};
pub use qmp::{QmpClient, QmpEvent};
pub use runtime::{RuntimeDir, VmState};
pub use screen::{ScreenSession, Screenshot};
pub use service::{load_service, run_foreground, run_service, ServiceOptions};
pub use spec::{Boot, DataDisk, Display, Share, VmSpec};
pub use status::{Accel, RunState, VmStatus};
pub use vm::{
    cid, connect_qmp, expand, launch, launch_with_progress, list, reset, screen, screenshot, show,
    status, stop, ResizedDisk, StartEvent, StartPhase, StopOptions, StopOutcome, VmHandle, VmInfo,
    DEFAULT_STOP_TIMEOUT, MONITOR_TIMEOUT,
};
