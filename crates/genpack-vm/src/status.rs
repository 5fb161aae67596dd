//! What the studio and `genpack vm list/show` display about a VM.

use serde::{Deserialize, Serialize};

use crate::input::InputDevices;

/// How QEMU executes guest code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    /// Hardware virtualisation through /dev/kvm.
    Kvm,
    /// QEMU's software emulator (multi-threaded TCG).
    Tcg,
}

impl std::fmt::Display for Accel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        })
    }
}

/// The life-cycle state of a VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    /// QEMU was spawned and its monitor is not ready yet.
    Starting,
    /// QEMU is running the guest.
    Running,
    /// A stop was requested and QEMU has not exited yet.
    Stopping,
    /// QEMU is gone.
    Stopped,
}

/// A snapshot of a VM's state, cheap to poll (no QMP round trip).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct VmStatus {
    /// Life-cycle state.
    pub state: RunState,
    /// Accelerator, once known.
    pub accel: Option<Accel>,
    /// Guest memory in MiB, once known.
    pub memory_mib: Option<u32>,
    /// vCPUs, once known.
    pub cpus: Option<u32>,
    /// Start time, seconds since the Unix epoch.
    pub started_at: Option<u64>,
    /// Seconds since start.
    pub uptime_secs: Option<u64>,
    /// The screen's keyboard and pointer, once known (`keyboard: None`: keys typed on the
    /// screen cannot reach the guest).
    #[serde(default)]
    pub input: Option<InputDevices>,
    /// Text put in the viewer's clipboard reaches the guest's clipboard (spice-vdagent).
    #[serde(default)]
    pub clipboard: bool,
}

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
