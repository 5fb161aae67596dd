//! A small asynchronous QMP client: JSON lines over QEMU's monitor socket, capability
//! negotiation, commands matched to replies by id, and events on a broadcast channel.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::UnixStream;
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;

use crate::error::{Result, VmError};

/// How long a command may take before [`QmpClient::execute`] gives up.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// An asynchronous event from QEMU, e.g. `SHUTDOWN`, `RESET`, `STOP`, `POWERDOWN`.
#[derive(Debug, Clone, PartialEq)]
pub struct QmpEvent {
    /// The event name.
    pub name: String,
    /// The event's `data` member (`null` when absent).
    pub data: Value,
    /// When QEMU emitted it: (seconds, microseconds) since the epoch.
    pub timestamp: (u64, u64),
}

type Reply = std::result::Result<Value, (String, String)>;
type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Reply>>>>;

/// A negotiated QMP session.
#[derive(Debug)]
pub struct QmpClient {
    socket: PathBuf,
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    pending: Pending,
    next_id: AtomicU64,
    events: broadcast::Sender<QmpEvent>,
    greeting: Value,
    reader: JoinHandle<()>,
}

impl QmpClient {
    /// Connects to `socket`, reads the greeting and leaves capabilities negotiation mode.
    pub async fn connect(socket: &Path) -> Result<Self> {
        let fail = |reason: String| VmError::Qmp {
            socket: socket.to_path_buf(),
            reason,
        };
        let stream = UnixStream::connect(socket)
            .await
            .map_err(|e| fail(format!("cannot connect: {e}")))?;
        let (read_half, writer) = stream.into_split();
        let mut lines = BufReader::new(read_half).lines();

        let greeting = tokio::time::timeout(COMMAND_TIMEOUT, lines.next_line())
            .await
            .map_err(|_| fail("no greeting from QEMU".to_string()))?
            .map_err(|e| fail(format!("cannot read greeting: {e}")))?
            .ok_or_else(|| fail("connection closed before the greeting".to_string()))?;
        let greeting: Value =
            serde_json::from_str(&greeting).map_err(|e| fail(format!("bad greeting: {e}")))?;
        if greeting.get("QMP").is_none() {
            return Err(fail(format!("not a QMP greeting: {greeting}")));
        }

        let pending: Pending = Arc::new(Mutex::new(HashMap::new()));
        let (events, _) = broadcast::channel(64);
        let reader = tokio::spawn(read_loop(lines, pending.clone(), events.clone()));
        let client = QmpClient {
            socket: socket.to_path_buf(),
            writer: tokio::sync::Mutex::new(writer),
            pending,
            next_id: AtomicU64::new(1),
            events,
            greeting,
            reader,
        };
        client.execute("qmp_capabilities", None).await?;
        Ok(client)
    }

    /// QEMU's greeting (`{"QMP": {"version": ..., "capabilities": [...]}}`).
    pub fn greeting(&self) -> &Value {
        &self.greeting
    }

    /// Receives every event emitted from now on.
    pub fn events(&self) -> broadcast::Receiver<QmpEvent> {
        self.events.subscribe()
    }

    /// Runs `command` with optional `arguments` and returns its `return` member.
    pub async fn execute(&self, command: &str, arguments: Option<Value>) -> Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({ "execute": command, "id": id });
        if let Some(args) = arguments {
            message["arguments"] = args;
        }
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id, tx);

        let mut line = message.to_string();
        line.push('\n');
        let written = {
            let mut writer = self.writer.lock().await;
            writer.write_all(line.as_bytes()).await
        };
        if let Err(e) = written {
            lock(&self.pending).remove(&id);
            return Err(self.fail(format!("cannot send {command}: {e}")));
        }

        match tokio::time::timeout(COMMAND_TIMEOUT, rx).await {
            Err(_) => {
                lock(&self.pending).remove(&id);
                Err(VmError::Timeout {
                    what: format!("QMP reply to {command}"),
                    seconds: COMMAND_TIMEOUT.as_secs(),
                })
            }
            Ok(Err(_)) => Err(self.fail(format!(
                "QEMU closed the connection before answering {command}"
            ))),
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err((class, desc)))) => Err(VmError::QmpCommand {
                command: command.to_string(),
                class,
                desc,
            }),
        }
    }

    fn fail(&self, reason: String) -> VmError {
        VmError::Qmp {
            socket: self.socket.clone(),
            reason,
        }
    }
}

impl Drop for QmpClient {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn read_loop(
    mut lines: tokio::io::Lines<BufReader<tokio::net::unix::OwnedReadHalf>>,
    pending: Pending,
    events: broadcast::Sender<QmpEvent>,
) {
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if let Some(name) = message.get("event").and_then(Value::as_str) {
            let ts = &message["timestamp"];
            let event = QmpEvent {
                name: name.to_string(),
                data: message.get("data").cloned().unwrap_or(Value::Null),
                timestamp: (
                    ts["seconds"].as_u64().unwrap_or(0),
                    ts["microseconds"].as_u64().unwrap_or(0),
                ),
            };
            // Nobody listening is fine.
            let _ = events.send(event);
            continue;
        }
        let Some(id) = message.get("id").and_then(Value::as_u64) else {
            continue;
        };
        let reply = if let Some(ret) = message.get("return") {
            Ok(ret.clone())
        } else {
            let err = &message["error"];
            Err((
                err["class"].as_str().unwrap_or("Unknown").to_string(),
                err["desc"].as_str().unwrap_or("").to_string(),
            ))
        };
        if let Some(tx) = lock(&pending).remove(&id) {
            let _ = tx.send(reply);
        }
    }
    // Connection closed: dropping the senders wakes every waiter with an error.
    lock(&pending).clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::UnixListener;

    /// A fake QEMU that greets, answers commands by id, and emits an event before a reply.
    async fn fake_qemu(listener: UnixListener) {
        let (stream, _) = listener.accept().await.unwrap();
        let (r, mut w) = stream.into_split();
        w.write_all(b"{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n")
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
                "query-status" => json!({"return": {"status": "running"}, "id": id}),
                other => {
                    json!({"error": {"class": "CommandNotFound", "desc": format!("{other} unknown")}, "id": id})
                }
            };
            w.write_all(format!("{reply}\n").as_bytes()).await.unwrap();
        }
    }

    #[tokio::test]
    async fn commands_get_their_replies_and_events_are_broadcast() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qmp.sock");
        let listener = UnixListener::bind(&path).unwrap();
        tokio::spawn(fake_qemu(listener));

        let qmp = QmpClient::connect(&path).await.unwrap();
        let mut events = qmp.events();
        let status = qmp.execute("query-status", None).await.unwrap();
        assert_eq!(status["status"], "running");
        qmp.execute("system_powerdown", None).await.unwrap();
        let event = events.recv().await.unwrap();
        assert_eq!(event.name, "POWERDOWN");
        assert_eq!(event.timestamp, (5, 6));
        let err = qmp.execute("nonsense", None).await.unwrap_err();
        assert!(matches!(err, VmError::QmpCommand { ref class, .. } if class == "CommandNotFound"));
    }
}
