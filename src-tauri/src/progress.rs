//! Progress of long operations (build, pack, flash, verify, VM start), streamed to the window.
//!
//! A long-running command takes a [`ProgressChannel`] argument; the front end creates it with
//! `new Channel<ProgressEvent>()` from `@tauri-apps/api/core`, passes it in the `invoke` call and
//! receives one [`ProgressEvent`] per update. The command returns when the work is done (or
//! cancelled), so the final state always comes from the command's result, never from the channel.
//!
//! ```ignore
//! #[tauri::command]
//! async fn build_image(project: PathBuf, progress: ProgressChannel) -> CommandResult<PathBuf> {
//!     progress.send(ProgressEvent::phase("lower", 1, 3))?;
//!     // ...
//! }
//! ```
//!
//! No command uses it yet: Define and Configure are quick, synchronous edits. Build, Flash and
//! Run will.

use serde::Serialize;
use tauri::ipc::Channel;

/// The channel a long command reports through.
#[allow(dead_code)] // The Build, Flash and Run commands are its users.
pub type ProgressChannel = Channel<ProgressEvent>;

/// One update of a long operation. Fields that do not apply are `None`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProgressEvent {
    /// What is happening now, in words a user understands ("Installing packages").
    pub phase: String,
    /// Which step of the phase is running, counting from 1.
    pub step: Option<u32>,
    /// How many steps the phase has.
    pub of: Option<u32>,
    /// Bytes processed so far.
    pub bytes_done: Option<u64>,
    /// Bytes to process in total, when known.
    pub bytes_total: Option<u64>,
    /// Current speed in bytes per second.
    pub rate: Option<f64>,
    /// Estimated seconds left.
    pub eta_secs: Option<u64>,
    /// One line of the live log, shown behind the progress bar.
    pub log_line: Option<String>,
}

#[allow(dead_code)] // The Build, Flash and Run commands are its users.
impl ProgressEvent {
    /// The start of a phase: "step `step` of `of`".
    pub fn phase(phase: impl Into<String>, step: u32, of: u32) -> Self {
        ProgressEvent {
            phase: phase.into(),
            step: Some(step),
            of: Some(of),
            ..ProgressEvent::default()
        }
    }

    /// A line for the live log within the current phase.
    pub fn log(phase: impl Into<String>, line: impl Into<String>) -> Self {
        ProgressEvent {
            phase: phase.into(),
            log_line: Some(line.into()),
            ..ProgressEvent::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_with_the_field_names_the_window_reads() {
        let event = ProgressEvent {
            bytes_done: Some(512),
            bytes_total: Some(1024),
            ..ProgressEvent::phase("Writing the stick", 2, 3)
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["phase"], "Writing the stick");
        assert_eq!(json["step"], 2);
        assert_eq!(json["of"], 3);
        assert_eq!(json["bytes_done"], 512);
        assert_eq!(json["bytes_total"], 1024);
        assert!(json["eta_secs"].is_null());
        assert!(json["log_line"].is_null());
    }
}
