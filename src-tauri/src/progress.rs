//! Progress of long operations, streamed to the window.
//!
//! A long-running command takes a [`ProgressChannel`] argument; the front end creates it with
//! `new Channel<Progress>()` from `@tauri-apps/api/core`, passes it in the `invoke` call and
//! receives one event per update. The events are the engine's own [`genpack_build::Progress`]
//! (tagged by `kind`: `phase`, `step`, `amount`, `log`, `note`), so the studio and the command
//! line report the same thing. The command returns when the work is done (or cancelled), so the
//! final state always comes from the command's result, never from the channel.

use tauri::ipc::Channel;

/// The channel a long command reports through.
pub type ProgressChannel = Channel<genpack_build::Progress>;

#[cfg(test)]
mod tests {
    use genpack_build::{Phase, Progress, Unit};
    use std::time::Duration;

    #[test]
    fn events_serialize_with_the_field_names_the_window_reads() {
        let event = Progress::Amount {
            phase: Phase::Lower,
            unit: Unit::Packages,
            done: 12,
            total: Some(40),
            rate: Some(2.0),
            eta: Some(Duration::from_secs(14)),
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["kind"], "amount");
        assert_eq!(json["phase"], "lower");
        assert_eq!(json["unit"], "packages");
        assert_eq!(json["done"], 12);
        assert_eq!(json["total"], 40);
        assert_eq!(json["eta"]["secs"], 14);

        let step = Progress::Step {
            phase: Phase::Pack,
            name: "mksquashfs".into(),
            index: 1,
            count: 1,
        };
        let json = serde_json::to_value(&step).unwrap();
        assert_eq!(json["kind"], "step");
        assert_eq!(json["name"], "mksquashfs");
    }
}
