//! A browser for the web benchmarks: signs in by invite and soft passkey, opens the desktop's
//! WebSocket, and times a command's round trip (`window.move` sent, its `ack` back).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use webauthn_authenticator_rs::prelude::{Url, WebauthnAuthenticator};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

use super::Server;

const WAIT: Duration = Duration::from_secs(30);

pub type Socket = tokio_tungstenite::WebSocketStream<Box<dyn choir_client::transport::Io>>;

/// A signed-in browser's cookie for alice, by an invite of `server`'s, registered through the
/// web server at `addr` (reached by browsers at `origin`).
pub async fn sign_in(
    server: &Server,
    http: &reqwest::Client,
    origin: &str,
    addr: SocketAddr,
) -> String {
    let out = std::process::Command::new(server.bins.join("choir-hypervisor"))
        .arg("--data-dir")
        .arg(&server.dir)
        .args(["user", "invite", "alice"])
        .envs(server.env.iter().map(|(name, value)| (name, value)))
        .output()
        .unwrap();
    let link = String::from_utf8(out.stdout).unwrap();
    let invite = link.trim().split_once('#').unwrap().1.to_owned();
    let post = |path: &str, body: Value| {
        http.post(format!("http://{addr}{path}"))
            .header("origin", origin)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let start: Value = post("/auth/register/start", json!({ "invite": invite }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let credential = SoftPasskey::new(true)
        .do_registration(
            Url::parse(origin).unwrap(),
            serde_json::from_value(start["options"].clone()).unwrap(),
        )
        .unwrap();
    let done = post(
        "/auth/register/finish",
        json!({ "ceremony": start["ceremony"], "credential": credential }),
    )
    .await
    .unwrap();
    assert!(done.status().is_success());
    let cookie = done.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

/// The desktop's socket at the web server `addr` (or a balancer in front of it), welcomed.
pub async fn socket_at(addr: SocketAddr, origin: &str, cookie: &str) -> Socket {
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    request
        .headers_mut()
        .insert("origin", origin.parse().unwrap());
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    let stream: Box<dyn choir_client::transport::Io> = Box::new(tcp);
    let (mut socket, _) = tokio_tungstenite::client_async(request, stream)
        .await
        .unwrap();
    hello(&mut socket).await;
    socket
}

pub async fn hello(socket: &mut Socket) {
    let hello =
        json!({ "type": "hello", "protocol": choir_proto::PROTOCOL_VERSION, "client": "bench" });
    socket.send(Message::text(hello.to_string())).await.unwrap();
    until(socket, |frame| frame["type"] == "welcome").await;
}

pub async fn until(socket: &mut Socket, wanted: impl Fn(&Value) -> bool) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next()).await.unwrap();
        if let Some(Ok(Message::Text(text))) = message {
            let frame: Value = serde_json::from_str(&text).unwrap();
            if wanted(&frame) {
                return frame;
            }
        } else if !matches!(message, Some(Ok(_))) {
            panic!("the socket closed: {message:?}");
        }
    }
}

pub fn move_window(id: u64, window: &Value, x: u64, y: u64) -> Message {
    Message::text(
        json!({ "type": "command", "id": id,
            "command": { "type": "window.move", "window_id": window, "x": x, "y": y } })
        .to_string(),
    )
}

/// Opens a writer window over `socket`: its id.
pub async fn open_window(socket: &mut Socket) -> Value {
    socket
        .send(Message::text(
            json!({ "type": "command", "id": 1_000_000, "command": { "type": "window.open", "app": "writer" } })
                .to_string(),
        ))
        .await
        .unwrap();
    let opened = until(socket, |frame| frame.to_string().contains("window.opened")).await;
    let window = opened["event"]["data"]["window_id"].clone();
    assert!(!window.is_null(), "{opened}");
    window
}

/// One `window.move` (to a new place, so that it appends an event) and its `ack`.
pub async fn round_trip(socket: &mut Socket, id: u64, window: &Value) -> Duration {
    let started = Instant::now();
    socket
        .send(move_window(id, window, 1 + id % 7, 1))
        .await
        .unwrap();
    until(socket, |frame| frame["type"] == "ack" && frame["id"] == id).await;
    started.elapsed()
}
