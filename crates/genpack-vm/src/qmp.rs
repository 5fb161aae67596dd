//! QEMU's monitor (QMP), through the `qapi` crate: typed commands and events generated from
//! QEMU's own schema, one connection per [`QmpClient`], events on a broadcast channel.
//!
//! The crate's schema is QEMU 9.1's; QEMU 10 answers every command used here the same way.

use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use qapi::futures::{QapiEvents, QapiService, QmpStreamTokio};
use qapi::qmp::QmpCommand;
use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::UnixStream;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::error::{Result, VmError};

pub use qapi::qmp;
/// An asynchronous event from QEMU (`SHUTDOWN`, `RESET`, `POWERDOWN`, `VNC_CONNECTED`...), typed
/// by QEMU's schema.
pub use qapi::qmp::Event as QmpEvent;

/// How long connecting or a command may take before giving up.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

type Reader = QmpStreamTokio<ReadHalf<UnixStream>>;
type Writer = QmpStreamTokio<WriteHalf<UnixStream>>;

/// A negotiated QMP session.
pub struct QmpClient {
    socket: PathBuf,
    service: QapiService<Writer>,
    version: qmp::VersionInfo,
    events: broadcast::Sender<QmpEvent>,
    reader: JoinHandle<()>,
}

impl std::fmt::Debug for QmpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QmpClient")
            .field("socket", &self.socket)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl QmpClient {
    /// Connects to `socket`, reads the greeting and leaves capabilities negotiation mode.
    pub async fn connect(socket: &Path) -> Result<Self> {
        let fail = |reason: String| VmError::Qmp {
            socket: socket.to_path_buf(),
            reason,
        };
        let negotiation = tokio::time::timeout(COMMAND_TIMEOUT, QmpStreamTokio::open_uds(socket))
            .await
            .map_err(|_| fail("no greeting from QEMU".into()))?
            .map_err(|e| fail(format!("cannot connect: {e}")))?;
        let version = negotiation.capabilities.QMP.version.clone();
        let stream = tokio::time::timeout(COMMAND_TIMEOUT, negotiation.negotiate())
            .await
            .map_err(|_| fail("no answer to qmp_capabilities".into()))?
            .map_err(|e| fail(format!("cannot negotiate capabilities: {e}")))?;
        let (service, events) = stream.into_parts();
        let (sender, _) = broadcast::channel(64);
        let reader = tokio::spawn(read_loop(events, sender.clone()));
        Ok(QmpClient {
            socket: socket.to_path_buf(),
            service,
            version,
            events: sender,
            reader,
        })
    }

    /// The QEMU version the greeting announced.
    pub fn version(&self) -> &qmp::VersionInfo {
        &self.version
    }

    /// Receives every event emitted from now on.
    pub fn events(&self) -> broadcast::Receiver<QmpEvent> {
        self.events.subscribe()
    }

    /// Runs a command of QEMU's schema and returns its typed answer.
    pub async fn execute<C: QmpCommand>(&self, command: C) -> Result<C::Ok> {
        let answer = tokio::time::timeout(COMMAND_TIMEOUT, self.service.execute(command)).await;
        match answer {
            Err(_) => Err(VmError::Timeout {
                what: format!("QMP reply to {}", C::NAME),
                seconds: COMMAND_TIMEOUT.as_secs(),
            }),
            Ok(Ok(value)) => Ok(value),
            Ok(Err(qapi::ExecuteError::Qapi(error))) => Err(VmError::QmpCommand {
                command: C::NAME.to_string(),
                class: format!("{:?}", error.class),
                desc: error.desc,
            }),
            Ok(Err(qapi::ExecuteError::Io(error))) => Err(VmError::Qmp {
                socket: self.socket.clone(),
                reason: format!("{}: {error}", C::NAME),
            }),
        }
    }
}

impl Drop for QmpClient {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Reads QEMU's messages: replies go to their commands (inside `qapi`), events to `sender`.
/// Ends when QEMU closes the connection or sends something the schema does not describe.
async fn read_loop(mut events: QapiEvents<Reader>, sender: broadcast::Sender<QmpEvent>) {
    while let Some(message) = events.next().await {
        match message {
            // Nobody listening is fine.
            Ok(event) => {
                let _ = sender.send(event);
            }
            Err(_) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::UnixListener;

    const GREETING: &str = r#"{"QMP": {"version": {"qemu": {"micro": 2, "minor": 0, "major": 10}, "package": "Debian 1:10.0.2"}, "capabilities": ["oob"]}}"#;

    /// A fake QEMU that greets, answers commands by id, and emits an event before a reply.
    async fn fake_qemu(listener: UnixListener) {
        let (stream, _) = listener.accept().await.unwrap();
        let (r, mut w) = stream.into_split();
        w.write_all(format!("{GREETING}\n").as_bytes())
            .await
            .unwrap();
        let mut lines = BufReader::new(r).lines();
        while let Some(line) = lines.next_line().await.unwrap() {
            let msg: Value = serde_json::from_str(&line).unwrap();
            let id = msg["id"].clone();
            let reply = match msg["execute"].as_str().unwrap() {
                "qmp_capabilities" => json!({"return": {}, "id": id}),
                "system_powerdown" => {
                    w.write_all(b"{\"event\": \"POWERDOWN\", \"timestamp\": {\"seconds\": 5, \"microseconds\": 6}}\n")
                        .await
                        .unwrap();
                    json!({"return": {}, "id": id})
                }
                "query-status" => {
                    json!({"return": {"status": "running", "running": true, "singlestep": false}, "id": id})
                }
                other => {
                    json!({"error": {"class": "CommandNotFound", "desc": format!("{other} unknown")}, "id": id})
                }
            };
            w.write_all(format!("{reply}\n").as_bytes()).await.unwrap();
        }
    }

    #[tokio::test]
    async fn commands_get_their_typed_replies_and_events_are_broadcast() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qmp.sock");
        let listener = UnixListener::bind(&path).unwrap();
        tokio::spawn(fake_qemu(listener));

        let client = QmpClient::connect(&path).await.unwrap();
        assert_eq!(client.version().qemu.major, 10);
        let mut events = client.events();
        let status = client.execute(qmp::query_status {}).await.unwrap();
        assert!(status.running);
        assert_eq!(status.status, qmp::RunState::running);
        client.execute(qmp::system_powerdown {}).await.unwrap();
        let event = events.recv().await.unwrap();
        assert!(matches!(event, QmpEvent::POWERDOWN { .. }), "{event:?}");
        let err = client.execute(qmp::system_reset {}).await.unwrap_err();
        assert!(
            matches!(err, VmError::QmpCommand { ref class, ref command, .. } if class == "CommandNotFound" && command == "system_reset"),
            "{err}"
        );
    }
}
