//! `GET /term`: the desktop the daemon draws for a terminal at the far end of a byte stream
//! (what the hypervisor carries for an SSH channel). A real daemon, the client library's
//! `transport::terminal`, and the screen folded by a terminal emulator, as a user's terminal
//! would.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use choir_daemon::RunningDaemon;
use choir_proto::term_stream::TermControl;
use choir_proto::Endpoint;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(15);

type Stream = tokio_tungstenite::WebSocketStream<choir_client::transport::DaemonStream>;

fn endpoint(daemon: &RunningDaemon, token: &str) -> Endpoint {
    Endpoint {
        url: daemon.url(),
        token: token.to_owned(),
        pid: std::process::id(),
        viewer: None,
    }
}

/// A terminal at the far end: the stream and the screen it shows.
struct Far {
    stream: Stream,
    screen: vt100::Parser,
    /// The exit status the stream ended with, once it has.
    exit: Option<u32>,
    closed: bool,
}

impl Far {
    async fn open(daemon: &RunningDaemon, token: &str, cols: u16, rows: u16) -> Far {
        let stream = choir_client::transport::terminal(
            &endpoint(daemon, token),
            (cols, rows),
            "xterm-256color",
            WAIT,
        )
        .await
        .unwrap();
        Far {
            stream,
            screen: vt100::Parser::new(nonzero(rows), nonzero(cols), 0),
            exit: None,
            closed: false,
        }
    }

    /// Reads until `done` holds of the screen (or the stream ends); panics after `WAIT`.
    async fn until(&mut self, what: &str, done: impl Fn(&vt100::Screen) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !done(self.screen.screen()) {
            assert!(
                !self.closed,
                "the stream ended before {what}:\n{}",
                self.screen.screen().contents()
            );
            let message = tokio::time::timeout_at(deadline, self.stream.next()).await;
            let Ok(message) = message else {
                panic!(
                    "no {what} within {WAIT:?}:\n{}",
                    self.screen.screen().contents()
                );
            };
            match message {
                Some(Ok(Message::Binary(bytes))) => self.screen.process(&bytes),
                Some(Ok(Message::Text(text))) => {
                    if let Ok(TermControl::Exit(status)) = serde_json::from_str(&text) {
                        self.exit = Some(status);
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => self.closed = true,
                Some(Ok(_)) => {}
            }
        }
    }

    async fn shows(&mut self, text: &str) {
        let wanted = text.to_owned();
        self.until(&format!("{text:?} on the screen"), move |screen| {
            screen.contents().contains(&wanted)
        })
        .await;
    }

    async fn keys(&mut self, bytes: &[u8]) {
        self.stream
            .send(Message::Binary(bytes.to_vec().into()))
            .await
            .unwrap();
    }

    async fn ended(&mut self) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !self.closed {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Ok(Some(Ok(Message::Binary(bytes)))) => self.screen.process(&bytes),
                Ok(Some(Ok(Message::Text(text)))) => {
                    if let Ok(TermControl::Exit(status)) = serde_json::from_str(&text) {
                        self.exit = Some(status);
                    }
                }
                Ok(Some(Ok(Message::Close(_))) | None | Some(Err(_))) => self.closed = true,
                Ok(Some(Ok(_))) => {}
                Err(_) => panic!("the stream did not end within {WAIT:?}"),
            }
        }
    }
}

fn nonzero(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n).unwrap()
}

fn last_row(screen: &vt100::Screen) -> String {
    let (rows, cols) = screen.size();
    screen
        .rows(0, cols.get())
        .nth(usize::from(rows.get()) - 1)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_stream_draws_the_desktop_types_resizes_and_ends_with_a_status() {
    let (_dir, daemon) = common::start().await;
    let mut far = Far::open(&daemon, &daemon.token, 80, 24).await;
    far.shows("● live").await;
    assert!(far.screen.screen().alternate_screen());

    // Keys are the terminal's bytes: C-a c opens a chat, typed text posts to it.
    far.keys(b"\x01c").await;
    far.shows("1:Chat").await;
    far.keys(b"over the stream\r").await;
    far.shows("over the stream").await;

    // A resize: the taskbar moves to the new last row.
    let resize = serde_json::to_string(&TermControl::Resize(120, 40)).unwrap();
    far.stream.send(Message::text(resize)).await.unwrap();
    far.screen.screen_mut().set_size(nonzero(40), nonzero(120));
    far.until("the taskbar on row 40", |screen| {
        last_row(screen).contains("● live")
    })
    .await;

    // Quit: the screen is given back and the last message is the exit status.
    far.keys(b"\x01q").await;
    far.ended().await;
    assert_eq!(far.exit, Some(0));
    assert!(!far.screen.screen().alternate_screen());

    // The message is in the log, for every client.
    let events = reqwest::Client::new()
        .get(format!("{}/api/events?from=1", daemon.url()))
        .bearer_auth(&daemon.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(events.contains("over the stream"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_stream_needs_a_good_token_and_a_share_sees_only_what_it_allows() {
    let (_dir, daemon) = common::start().await;
    // No token, a wrong one, one in the wrong place: no desktop.
    for token in ["", "wrong-token", "chs_0_ffff"] {
        let refused =
            choir_client::transport::terminal(&endpoint(&daemon, token), (80, 24), "xterm", WAIT)
                .await;
        assert!(refused.is_err(), "{token:?} opened a desktop");
    }
    // A read-only share's desktop shows the desktop and refuses every change.
    let minted: Value = reqwest::Client::new()
        .post(format!("{}/api/shares", daemon.url()))
        .bearer_auth(&daemon.token)
        .body(json!({ "read_only": true }).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = minted["token"].as_str().unwrap();
    let mut far = Far::open(&daemon, token, 100, 30).await;
    far.shows("watching (read-only)").await;
    far.keys(b"\x01c").await;
    far.shows("read_only").await;
    let state: Value = common::get_json(&daemon, "/api/state").await;
    assert_eq!(
        state["world"]["desktop"]["windows"],
        json!([]),
        "the share opened a window"
    );

    // The share revoked: its desktop ends, saying why, with status 1.
    let id = minted["share"]["id"].as_str().unwrap();
    let revoked = reqwest::Client::new()
        .delete(format!("{}/api/shares/{id}", daemon.url()))
        .bearer_auth(&daemon.token)
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success());
    far.ended().await;
    assert_eq!(far.exit, Some(1));
    assert!(
        far.screen.screen().contents().contains("choir: "),
        "{}",
        far.screen.screen().contents()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_on_a_terminal_stream_loses_nothing() {
    let (_dir, daemon) = common::start().await;
    let mut far = Far::open(&daemon, &daemon.token, 80, 24).await;
    far.shows("● live").await;
    // Text that is no control, an absurd size, bytes that are no key: the desktop goes on.
    for text in ["{", "{\"resize\":[1]}", "{\"exit\":0}", "hello"] {
        far.stream.send(Message::text(text)).await.unwrap();
    }
    let huge = serde_json::to_string(&TermControl::Resize(u32::MAX, u32::MAX)).unwrap();
    far.stream.send(Message::text(huge)).await.unwrap();
    far.keys(b"\x1b[999;999;999M\x1b[<\xff\xfe").await;
    far.stream
        .send(Message::text(
            serde_json::to_string(&TermControl::Resize(80, 24)).unwrap(),
        ))
        .await
        .unwrap();
    far.keys(b"\x01e").await;
    far.shows("1:Event log").await;
    // A message past the limit ends the stream, saying why and with a failing status, and
    // only that stream.
    let _ = far
        .stream
        .send(Message::Binary(vec![b'a'; 2 << 20].into()))
        .await;
    far.ended().await;
    assert_eq!(far.exit, Some(1));
    assert!(
        far.screen
            .screen()
            .contents()
            .contains("choir: a message from the terminal was over 1 MiB; the desktop ended"),
        "{}",
        far.screen.screen().contents()
    );
    let mut again = Far::open(&daemon, &daemon.token, 80, 24).await;
    again.shows("1:Event log").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_terminal_gets_a_desktop() {
    let (_dir, daemon) = common::start().await;
    let mut far = Far::open(&daemon, &daemon.token, 1000, 500).await;
    far.shows("● live").await;
    far.keys(b"\x01c").await;
    far.shows("1:Chat").await;
}
