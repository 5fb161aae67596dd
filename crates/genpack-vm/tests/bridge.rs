//! The viewer bridge against a fake VNC server (no QEMU needed).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use genpack_vm::ViewerBridge;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

async fn connect(
    url: &str,
    protocol: Option<&str>,
) -> Result<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>, WsError> {
    let mut request = url.into_client_request()?;
    if let Some(p) = protocol {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", p.parse().unwrap());
    }
    let port = request.uri().port_u16().unwrap();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(WsError::Io)?;
    tokio_tungstenite::client_async(request, tcp)
        .await
        .map(|(ws, _)| ws)
}

fn status_of(result: Result<impl Sized, WsError>) -> Option<u16> {
    match result {
        Err(WsError::Http(response)) => Some(response.status().as_u16()),
        _ => None,
    }
}

#[tokio::test]
async fn relays_one_session_with_the_token_and_refuses_everything_else() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("vnc.sock");
    let vnc = UnixListener::bind(&socket).unwrap();
    // A fake VNC server: greets, echoes what it receives with a prefix, hangs up when told.
    let (hang_up, hang_up_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut conn, _) = vnc.accept().await.unwrap();
        conn.write_all(b"RFB 003.008\n").await.unwrap();
        let mut buf = [0u8; 64];
        let n = conn.read(&mut buf).await.unwrap();
        let mut reply = b"got:".to_vec();
        reply.extend_from_slice(&buf[..n]);
        conn.write_all(&reply).await.unwrap();
        let _ = hang_up_rx.await;
    });

    let mut bridge = ViewerBridge::start(&socket).await.unwrap();
    let addr = bridge.local_addr();
    assert!(addr.ip().is_loopback());
    assert_eq!(
        status_of(connect(&format!("ws://{addr}/"), None).await),
        Some(403)
    );
    let wrong = format!("ws://{addr}/vnc/{}", "f".repeat(48));
    assert_eq!(status_of(connect(&wrong, None).await), Some(403));

    let mut ws = connect(bridge.url(), Some("binary")).await.unwrap();
    let greeting = ws.next().await.unwrap().unwrap().into_data();
    assert_eq!(&greeting[..], b"RFB 003.008\n");
    ws.send(Message::binary(b"RFB 003.008\n".to_vec()))
        .await
        .unwrap();
    let echoed = ws.next().await.unwrap().unwrap().into_data();
    assert_eq!(&echoed[..], b"got:RFB 003.008\n");

    let reuse = format!("ws://{addr}/websockify?token={}", bridge.token());
    assert_eq!(status_of(connect(&reuse, None).await), Some(403));

    // The server hangs up: the session is over and the port is closed.
    hang_up.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), bridge.finished())
        .await
        .unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn dropping_the_bridge_closes_its_port() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("vnc.sock");
    let _vnc = UnixListener::bind(&socket).unwrap();
    let bridge = ViewerBridge::start(&socket).await.unwrap();
    let addr = bridge.local_addr();
    assert!(tokio::net::TcpStream::connect(addr).await.is_ok());
    drop(bridge);
    // Aborting the server task releases the listener on the runtime's next turn.
    let mut closed = false;
    for _ in 0..50 {
        tokio::task::yield_now().await;
        if tokio::net::TcpStream::connect(addr).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(closed, "the bridge port is still open after drop");
}
