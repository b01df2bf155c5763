//! The SSH server with a real SSH client (russh): public-key auth accepted and refused, the
//! desktop in a pty (parsed with vt100), resize, typing a chat message, and `choir` over exec
//! with stdout and the exit status carried back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::num::NonZeroU16;
use std::time::Duration;

use common::{connect, exec, Client, Hypervisor, WAIT};
use russh::client;
use russh::keys::{Algorithm, PrivateKey};
use russh::ChannelMsg;

fn start() -> Hypervisor {
    Hypervisor::start(&["alice"], &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_registered_keys_get_in() {
    let fixture = start();
    let alice = fixture.key("alice");
    let stranger = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).unwrap();
    assert!(connect(fixture.addr, "alice", alice).await.is_some());
    assert!(
        connect(fixture.addr, "alice", &stranger).await.is_none(),
        "a wrong key is refused"
    );
    assert!(
        connect(fixture.addr, "bob", alice).await.is_none(),
        "an unknown user is refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exec_runs_choir_against_the_users_sandbox() {
    let fixture = start();
    let session = fixture.connect("alice").await;
    let run = exec(&session, "choir --exec bash --arg 'cmd=echo hi; exit 3'").await;
    assert_eq!(run.status, Some(3), "stderr: {}", run.err);
    assert_eq!(run.result()["output"], serde_json::json!("hi\n"));
    let run = exec(&session, "choir events").await;
    assert_eq!(run.status, Some(0));
    assert_eq!(
        run.out.lines().count(),
        2,
        "tool.started and tool.finished: {}",
        run.out
    );
    let run = exec(&session, "ls /").await;
    assert_eq!(run.status, Some(127));
    assert!(run.err.contains("only `choir` commands"), "{}", run.err);
    let run = exec(&session, "choir --data-dir /tmp status").await;
    assert_eq!(run.status, Some(2));
    assert!(run.err.contains("not allowed"), "{}", run.err);
    // The sandbox lives in alice's own directory.
    assert!(fixture.sandbox_dir("alice").join("events.db").exists());
}

struct Screen {
    parser: vt100::Parser,
}

impl Screen {
    fn new(cols: u16, rows: u16) -> Self {
        Self {
            parser: vt100::Parser::new(
                NonZeroU16::new(rows).unwrap(),
                NonZeroU16::new(cols).unwrap(),
                0,
            ),
        }
    }

    /// Reads channel data until the screen shows `needle`.
    async fn wait_for(&mut self, channel: &mut russh::Channel<client::Msg>, needle: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !self.parser.screen().contents().contains(needle) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, channel.wait()).await {
                Ok(Some(ChannelMsg::Data { data })) => self.parser.process(&data),
                Ok(Some(_)) => {}
                _ => panic!(
                    "never showed {needle:?}:\n{}",
                    self.parser.screen().contents()
                ),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_desktop_over_a_pty_types_resizes_and_quits_cleanly() {
    let fixture = start();
    let session = fixture.connect("alice").await;
    let mut channel = session.channel_open_session().await.unwrap();
    channel
        .request_pty(true, "xterm-256color", 80, 24, 0, 0, &[])
        .await
        .unwrap();
    channel.request_shell(true).await.unwrap();
    let mut screen = Screen::new(80, 24);
    screen.wait_for(&mut channel, "● live").await;
    assert!(
        screen.parser.screen().alternate_screen(),
        "the desktop uses the alternate screen"
    );

    channel.data_bytes(&b"\x01c"[..]).await.unwrap();
    screen.wait_for(&mut channel, "1:Chat").await;
    channel
        .data_bytes("hello over ssh\r".as_bytes())
        .await
        .unwrap();
    screen.wait_for(&mut channel, "hello over ssh").await;

    // A bigger window: the taskbar moves to the new last row.
    channel.window_change(120, 40, 0, 0).await.unwrap();
    screen
        .parser
        .screen_mut()
        .set_size(NonZeroU16::new(40).unwrap(), NonZeroU16::new(120).unwrap());
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let last = screen
            .parser
            .screen()
            .rows(0, 120)
            .nth(39)
            .unwrap_or_default();
        if last.contains("● live") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no taskbar on row 40:\n{}\nthe sandbox's log:\n{}",
            screen.parser.screen().contents(),
            sandbox_logs(&fixture),
        );
        if let Ok(Some(ChannelMsg::Data { data })) =
            tokio::time::timeout(WAIT, channel.wait()).await
        {
            screen.parser.process(&data);
        }
    }

    // Quit: the terminal is restored and the channel ends with status 0.
    channel.data_bytes(&b"\x01q"[..]).await.unwrap();
    let mut status = None;
    loop {
        match tokio::time::timeout(WAIT, channel.wait()).await.unwrap() {
            Some(ChannelMsg::Data { data }) => screen.parser.process(&data),
            Some(ChannelMsg::ExitStatus { exit_status }) => status = Some(exit_status),
            Some(ChannelMsg::Close) | None => break,
            Some(_) => {}
        }
    }
    assert_eq!(status, Some(0));
    assert!(
        !screen.parser.screen().alternate_screen(),
        "the alternate screen was left"
    );

    // The message is in the sandbox, for every client.
    let run = exec(&session, "choir events").await;
    assert!(run.out.contains("hello over ssh"));
}

/// What the sandboxes wrote to their logs (the desktop is drawn there: its errors are too).
fn sandbox_logs(fixture: &Hypervisor) -> String {
    let logs = fixture.sandbox_dir("alice").join("../../state/logs");
    let mut all = String::new();
    for entry in std::fs::read_dir(&logs).into_iter().flatten().flatten() {
        all.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
    }
    all
}

/// Opens a desktop channel of the given size and waits until it is live.
async fn desktop(
    session: &client::Handle<Client>,
    cols: u16,
    rows: u16,
) -> (russh::Channel<client::Msg>, Screen) {
    let mut channel = session.channel_open_session().await.unwrap();
    channel
        .request_pty(
            true,
            "xterm-256color",
            u32::from(cols),
            u32::from(rows),
            0,
            0,
            &[],
        )
        .await
        .unwrap();
    channel.request_shell(true).await.unwrap();
    let mut screen = Screen::new(cols, rows);
    screen.wait_for(&mut channel, "● live").await;
    (channel, screen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sessions_share_one_desktop_each_at_its_size_and_it_outlives_them() {
    let fixture = start();
    let first = fixture.connect("alice").await;
    let second = fixture.connect("alice").await;
    let (mut small, mut small_screen) = desktop(&first, 80, 24).await;
    let (mut big, mut big_screen) = desktop(&second, 140, 45).await;

    // A window opened in the small session appears in the big one, each drawn at its size.
    small.data_bytes(&b"\x01e"[..]).await.unwrap();
    small_screen.wait_for(&mut small, "1:Event log").await;
    big_screen.wait_for(&mut big, "1:Event log").await;
    let taskbar = |screen: &Screen, rows: u16, cols: u16| {
        screen
            .parser
            .screen()
            .rows(0, cols)
            .nth(usize::from(rows) - 1)
            .unwrap_or_default()
    };
    assert!(taskbar(&small_screen, 24, 80).contains("1:Event log"));
    assert!(taskbar(&big_screen, 45, 140).contains("1:Event log"));

    // Both disconnect; the sandbox keeps running, and a new session finds the window.
    drop((small, big));
    first
        .disconnect(russh::Disconnect::ByApplication, "", "")
        .await
        .unwrap();
    second
        .disconnect(russh::Disconnect::ByApplication, "", "")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        fixture.sandbox("alice")["state"],
        "running",
        "the sandbox stopped with its last session"
    );
    let again = fixture.connect("alice").await;
    let (mut channel, mut screen) = desktop(&again, 100, 30).await;
    screen.wait_for(&mut channel, "1:Event log").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_user_has_at_most_the_configured_number_of_channels_open() {
    let fixture = Hypervisor::start(&["alice"], &["--limit-channels", "2"]);
    let first = fixture.connect("alice").await;
    let second = fixture.connect("alice").await;
    let a = first.channel_open_session().await.unwrap();
    let _b = second.channel_open_session().await.unwrap();
    assert!(
        first.channel_open_session().await.is_err(),
        "a third channel, over two connections, is refused"
    );
    a.close().await.unwrap();
    // The closed channel's place is free again (its close reaches the server first).
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(channel) = second.channel_open_session().await {
            drop(channel);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the place never came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
