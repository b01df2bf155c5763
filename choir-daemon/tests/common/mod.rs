//! A daemon started in-process on 127.0.0.1:0 and a WebSocket client that speaks the frames.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use choir_daemon::store::StoreOptions;
use choir_daemon::{Daemon, DaemonConfig, RunningDaemon};
use choir_proto::{ClientFrame, Command, Query, Reply, ServerFrame, PROTOCOL_VERSION};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(10);

/// Runs `command` as the user; the seqs of the events it recorded.
pub async fn run(daemon: &RunningDaemon, command: Command) -> Vec<u64> {
    daemon
        .world()
        .execute(command, "user".into(), None)
        .await
        .unwrap()
}

/// The world once `ready` holds of it, waiting up to `within`; a failure shows `show` of the
/// last world seen.
pub async fn world_when<T: std::fmt::Debug>(
    daemon: &RunningDaemon,
    within: Duration,
    what: &str,
    ready: impl Fn(&choir_proto::World) -> bool,
    show: impl Fn(&choir_proto::World) -> T,
) -> choir_proto::World {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let world = daemon.world().welcome().await.unwrap();
        if ready(&world) {
            return world;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} did not happen; {:#?}",
            show(&world)
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The events of type `kind` in the log (its first `limit`).
pub async fn bodies_of(
    daemon: &RunningDaemon,
    kind: &str,
    limit: usize,
) -> Vec<choir_proto::EventBody> {
    daemon
        .store
        .read(1, limit)
        .await
        .unwrap()
        .into_iter()
        .map(|event| event.body)
        .filter(|body| body.type_name() == kind)
        .collect()
}

pub async fn start_in(dir: &std::path::Path) -> RunningDaemon {
    Daemon::start(DaemonConfig::local(dir)).await.unwrap()
}

pub async fn start() -> (tempfile::TempDir, RunningDaemon) {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start_in(dir.path()).await;
    (dir, daemon)
}

/// `GET PATH` with the daemon's own token, its JSON answer.
pub async fn get_json(daemon: &RunningDaemon, path: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(format!("{}{path}", daemon.url()))
        .bearer_auth(&daemon.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    /// Connects without a token on the upgrade request.
    pub async fn connect(daemon: &RunningDaemon) -> Client {
        Self::connect_url(&format!("ws://{}/ws", daemon.addr))
            .await
            .unwrap()
    }

    pub async fn connect_url(url: &str) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
        let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect timed out")?;
        Ok(Client { ws })
    }

    /// Connects and completes the handshake; returns the welcome.
    pub async fn hello(daemon: &RunningDaemon, resume_from: Option<u64>) -> (Client, ServerFrame) {
        let mut client = Self::connect(daemon).await;
        client
            .send(&ClientFrame::Hello {
                protocol: PROTOCOL_VERSION,
                token: Some(daemon.token.clone()),
                resume_from,
                client: Some("test".into()),
            })
            .await;
        let welcome = client.recv().await;
        assert!(
            matches!(welcome, ServerFrame::Welcome { .. }),
            "{welcome:?}"
        );
        (client, welcome)
    }

    pub async fn send(&mut self, frame: &ClientFrame) {
        self.send_text(serde_json::to_string(frame).unwrap()).await;
    }

    pub async fn send_text(&mut self, text: String) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    pub async fn send_raw(
        &mut self,
        message: Message,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        self.ws.send(message).await
    }

    pub async fn command(&mut self, id: u64, command: Command) {
        self.send(&ClientFrame::Command { id, command }).await;
    }

    /// Asks `query` and waits for its reply; frames before it (events, which the reply is at
    /// least as new as) are dropped. Panics on an error frame for it.
    pub async fn query(&mut self, id: u64, query: Query) -> Reply {
        self.send(&ClientFrame::Query { id, query }).await;
        loop {
            match self.recv().await {
                ServerFrame::Reply { id: got, reply } if got == id => return reply,
                ServerFrame::Error {
                    id: Some(got),
                    code,
                    message,
                } if got == id => {
                    panic!("query {id} failed: {}: {message}", code.as_str())
                }
                _ => {}
            }
        }
    }

    /// The next frame; panics on a timeout or a close.
    pub async fn recv(&mut self) -> ServerFrame {
        loop {
            let message = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("no frame within the timeout")
                .expect("connection ended")
                .expect("websocket error");
            match message {
                Message::Text(text) => return serde_json::from_str(&text).unwrap(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected message {other:?}"),
            }
        }
    }

    /// Frames until the server closes; returns them and the close code.
    pub async fn recv_until_close(&mut self) -> (Vec<ServerFrame>, Option<u16>) {
        let mut frames = Vec::new();
        loop {
            let next = tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("no close within the timeout");
            match next {
                Some(Ok(Message::Text(text))) => frames.push(serde_json::from_str(&text).unwrap()),
                Some(Ok(Message::Close(frame))) => {
                    return (frames, frame.map(|frame| u16::from(frame.code)))
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return (frames, None),
            }
        }
    }

    /// Collects frames until `done` says enough.
    pub async fn recv_while(
        &mut self,
        mut more: impl FnMut(&[ServerFrame]) -> bool,
    ) -> Vec<ServerFrame> {
        let mut frames = Vec::new();
        while more(&frames) {
            frames.push(self.recv().await);
        }
        frames
    }
}

/// The event seqs among `frames`.
pub fn event_seqs(frames: &[ServerFrame]) -> Vec<u64> {
    frames
        .iter()
        .filter_map(|frame| match frame {
            ServerFrame::Event { event } => Some(event.seq),
            _ => None,
        })
        .collect()
}

/// Writes `bodies` as events straight into the log at `dir` (no daemon running), fast: in
/// large transactions, without fsync.
pub async fn fill(dir: &std::path::Path, bodies: impl IntoIterator<Item = choir_proto::EventBody>) {
    let store = choir_daemon::store::EventStore::open(
        &dir.join("events.db"),
        StoreOptions {
            durable: false,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut batch = Vec::new();
    for body in bodies {
        batch.push(choir_proto::NewEvent::new("fill", body));
        if batch.len() == 5000 {
            store.append(std::mem::take(&mut batch)).await.unwrap();
        }
    }
    store.append(batch).await.unwrap();
    store.shutdown().await;
}
