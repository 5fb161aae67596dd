//! The viewer bridge: a loopback WebSocket that relays one noVNC session to QEMU's private VNC
//! socket.
//!
//! The bridge listens on 127.0.0.1 only, on a port the kernel picks. It accepts exactly one
//! WebSocket connection, and only one that presents the bridge's one-time token (in the path
//! `/vnc/<token>` or as `?token=<token>`). Everything else gets HTTP 403, including a second
//! use of the token. When the session ends, or when nobody used the token within
//! [`UNUSED_TOKEN_LIFETIME`], the listener closes; dropping the bridge closes everything.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{header, StatusCode};
use tokio_tungstenite::tungstenite::Message;

use crate::error::{Result, VmError};

/// How long the token stays valid when nobody uses it; then the listener closes.
pub const UNUSED_TOKEN_LIFETIME: Duration = Duration::from_secs(120);
/// How long a client may take to complete the WebSocket handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A running bridge. See the module documentation.
#[derive(Debug)]
pub struct ViewerBridge {
    url: String,
    token: String,
    addr: SocketAddr,
    finished: watch::Receiver<bool>,
    task: JoinHandle<()>,
}

impl ViewerBridge {
    /// Starts a bridge to the VNC server listening on `vnc_socket` (a VM's `vnc.sock`).
    pub async fn start(vnc_socket: &Path) -> Result<ViewerBridge> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| VmError::io("cannot listen on 127.0.0.1 for", vnc_socket, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| VmError::io("cannot read the bridge address for", vnc_socket, e))?;
        let token = new_token()?;
        let url = format!("ws://{addr}/vnc/{token}");
        let (done_tx, finished) = watch::channel(false);
        let task = tokio::spawn(serve(
            listener,
            token.clone(),
            vnc_socket.to_path_buf(),
            done_tx,
        ));
        Ok(ViewerBridge {
            url,
            token,
            addr,
            finished,
            task,
        })
    }

    /// Starts a bridge to the VNC display of the running VM `name`.
    pub async fn for_vm(name: &str) -> Result<ViewerBridge> {
        let runtime = crate::runtime::RuntimeDir::for_name(name)?;
        if runtime.live_pid().is_none() {
            return Err(VmError::NotRunning { name: name.into() });
        }
        Self::start(&runtime.vnc_socket()).await
    }

    /// The URL for noVNC: `ws://127.0.0.1:<port>/vnc/<token>`.
    pub fn url(&self) -> &str {
        &self.url
    }
    /// The one-time token.
    pub fn token(&self) -> &str {
        &self.token
    }
    /// The loopback address the bridge listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
    /// Whether the session ended and the listener is closed.
    pub fn is_finished(&self) -> bool {
        *self.finished.borrow()
    }
    /// Waits until the session ended and the listener is closed.
    pub async fn finished(&mut self) {
        let _ = self.finished.wait_for(|done| *done).await;
    }
}

impl Drop for ViewerBridge {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn new_token() -> Result<String> {
    let mut bytes = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| VmError::io("cannot read", "/dev/urandom", e))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Accepts connections until the one session ends; refuses all others.
async fn serve(
    listener: TcpListener,
    token: String,
    vnc_socket: PathBuf,
    done: watch::Sender<bool>,
) {
    let used = Arc::new(AtomicBool::new(false));
    let token = Arc::new(token);
    // Connections in progress; dropping the set (bridge dropped or closed) aborts them all.
    let mut connections = JoinSet::new();
    let expiry = tokio::time::sleep(UNUSED_TOKEN_LIFETIME);
    tokio::pin!(expiry);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) if peer.ip().is_loopback() => stream,
                Ok(_) => continue,
                Err(_) => break,
            },
            Some(finished) = connections.join_next() => {
                if finished.unwrap_or(false) {
                    break;
                }
                continue;
            }
            _ = &mut expiry, if !used.load(Ordering::SeqCst) => break,
        };
        let (used, token, vnc) = (used.clone(), token.clone(), vnc_socket.clone());
        connections.spawn(async move { handle(stream, &token, &used, &vnc).await });
    }
    drop(listener);
    drop(connections);
    let _ = done.send(true);
}

/// Serves one connection; `true` when it was the (now finished) session.
// The handshake callback's error type is tungstenite's HTTP response.
#[allow(clippy::result_large_err)]
async fn handle(stream: TcpStream, token: &str, used: &AtomicBool, vnc_socket: &Path) -> bool {
    let mut accepted = false;
    let check = |request: &Request, mut response: Response| {
        let presented = presented_token(request.uri().path(), request.uri().query());
        let valid = presented.is_some_and(|t| constant_time_eq(t.as_bytes(), token.as_bytes()));
        if !valid || used.swap(true, Ordering::SeqCst) {
            let mut refusal = ErrorResponse::new(Some("forbidden\n".to_string()));
            *refusal.status_mut() = StatusCode::FORBIDDEN;
            return Err(refusal);
        }
        // noVNC asks for the "binary" subprotocol.
        let wants_binary = request
            .headers()
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|p| p.trim() == "binary");
        if wants_binary {
            response.headers_mut().insert(
                header::SEC_WEBSOCKET_PROTOCOL,
                header::HeaderValue::from_static("binary"),
            );
        }
        Ok(response)
    };
    let handshake = tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        tokio_tungstenite::accept_hdr_async(stream, |req: &Request, resp: Response| {
            let r = check(req, resp);
            if r.is_ok() {
                accepted = true;
            }
            r
        }),
    )
    .await;
    let ws = match handshake {
        Ok(Ok(ws)) => ws,
        // A refused or broken handshake: if it had been accepted, the token is spent anyway.
        _ => return accepted,
    };

    let Ok(vnc) = UnixStream::connect(vnc_socket).await else {
        let (mut sink, _) = ws.split();
        let _ = sink.close().await;
        return true;
    };
    relay(ws, vnc).await;
    true
}

async fn relay(ws: tokio_tungstenite::WebSocketStream<TcpStream>, vnc: UnixStream) {
    let (mut ws_tx, mut ws_rx) = ws.split();
    let (mut vnc_rx, mut vnc_tx) = vnc.into_split();
    let to_vnc = async {
        while let Some(Ok(message)) = ws_rx.next().await {
            let data = match message {
                Message::Binary(data) => data,
                Message::Close(_) => break,
                _ => continue,
            };
            if vnc_tx.write_all(&data).await.is_err() {
                break;
            }
        }
    };
    let to_ws = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match vnc_rx.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if ws_tx
                        .send(Message::binary(buf[..n].to_vec()))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
        let _ = ws_tx.close().await;
    };
    tokio::select! {
        _ = to_vnc => {},
        _ = to_ws => {},
    }
}

/// The token in `/vnc/<token>` or in the query `token=<token>`.
fn presented_token<'a>(path: &'a str, query: Option<&'a str>) -> Option<&'a str> {
    if let Some(t) = path.strip_prefix("/vnc/").filter(|t| !t.is_empty()) {
        return Some(t.trim_end_matches('/'));
    }
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_read_from_path_or_query() {
        assert_eq!(presented_token("/vnc/abc", None), Some("abc"));
        assert_eq!(
            presented_token("/websockify", Some("x=1&token=abc")),
            Some("abc")
        );
        assert_eq!(presented_token("/vnc/", None), None);
        assert_eq!(presented_token("/", None), None);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
