//! The SSH server with a real SSH client (russh): public-key auth accepted and refused, the
//! desktop in a pty (parsed with vt100), resize, typing a chat message, and `choir` over exec
//! with stdout and the exit status carried back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::num::NonZeroU16;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hypervisor::sandbox::Sandboxes;
use hypervisor::ssh::{self, Shared};
use hypervisor::users::UserStore;
use russh::client;
use russh::keys::{Algorithm, PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::ChannelMsg;

const WAIT: Duration = Duration::from_secs(15);

/// The binaries built next to this crate's (cargo test --workspace builds them all).
fn program(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_BIN_EXE_choir-hypervisor"))
        .parent()
        .unwrap()
        .to_owned();
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the workspace first (cargo build --workspace)",
        path.display()
    );
    path
}

struct Fixture {
    dir: tempfile::TempDir,
    addr: std::net::SocketAddr,
    alice: PrivateKey,
}

async fn start() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let users = UserStore::open(&dir.path().join("users.db")).await.unwrap();
    let alice = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).unwrap();
    users
        .add("alice", &alice.public_key().to_openssh().unwrap())
        .await
        .unwrap();
    let host_key = hypervisor::hostkey::load_or_create(&dir.path().join("host_key")).unwrap();
    let shared = Arc::new(Shared {
        users,
        sandboxes: Sandboxes::new(&dir.path().join("sandboxes"), &program("choir-daemon")),
        choir: program("choir"),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(ssh::serve(listener, host_key, shared));
    Fixture { dir, addr, alice }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // Stop the sandbox daemons this test started.
        for entry in std::fs::read_dir(self.dir.path().join("sandboxes"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(text) = std::fs::read_to_string(entry.path().join("daemon.json")) {
                if let Ok(endpoint) = serde_json::from_str::<choir_proto::Endpoint>(&text) {
                    let _ = std::process::Command::new("kill")
                        .arg(endpoint.pid.to_string())
                        .status();
                }
            }
        }
    }
}

struct Client;

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        _key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

async fn connect(
    fixture: &Fixture,
    user: &str,
    key: &PrivateKey,
) -> Option<client::Handle<Client>> {
    let config = Arc::new(client::Config {
        inactivity_timeout: Some(WAIT),
        ..Default::default()
    });
    let mut session = tokio::time::timeout(WAIT, client::connect(config, fixture.addr, Client))
        .await
        .unwrap()
        .unwrap();
    let key = PrivateKeyWithHashAlg::new(Arc::new(key.clone()), None);
    let auth = session.authenticate_publickey(user, key).await.unwrap();
    auth.success().then_some(session)
}

/// Runs an exec request; returns stdout, stderr and the exit status.
async fn exec(session: &client::Handle<Client>, command: &str) -> (String, String, Option<u32>) {
    let mut channel = session.channel_open_session().await.unwrap();
    channel.exec(true, command).await.unwrap();
    channel.eof().await.unwrap();
    let (mut out, mut err, mut status) = (Vec::new(), Vec::new(), None);
    loop {
        let Ok(Some(msg)) = tokio::time::timeout(WAIT, channel.wait()).await else {
            break;
        };
        match msg {
            ChannelMsg::Data { data } => out.extend_from_slice(&data),
            ChannelMsg::ExtendedData { data, ext: 1 } => err.extend_from_slice(&data),
            ChannelMsg::ExitStatus { exit_status } => status = Some(exit_status),
            ChannelMsg::Close => break,
            _ => {}
        }
    }
    (
        String::from_utf8_lossy(&out).into(),
        String::from_utf8_lossy(&err).into(),
        status,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_registered_keys_get_in() {
    let fixture = start().await;
    let stranger = PrivateKey::random(&mut rand::rng(), Algorithm::Ed25519).unwrap();
    assert!(connect(&fixture, "alice", &fixture.alice).await.is_some());
    assert!(
        connect(&fixture, "alice", &stranger).await.is_none(),
        "a wrong key is refused"
    );
    assert!(
        connect(&fixture, "bob", &fixture.alice).await.is_none(),
        "an unknown user is refused"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exec_runs_choir_against_the_users_sandbox() {
    let fixture = start().await;
    let session = connect(&fixture, "alice", &fixture.alice).await.unwrap();
    let (out, err, status) = exec(&session, "choir --exec bash --arg 'cmd=echo hi; exit 3'").await;
    assert_eq!(status, Some(3), "stderr: {err}");
    let result: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(result["output"], serde_json::json!("hi\n"));
    let (out, _, status) = exec(&session, "choir events").await;
    assert_eq!(status, Some(0));
    assert_eq!(
        out.lines().count(),
        2,
        "tool.started and tool.finished: {out}"
    );
    let (_, err, status) = exec(&session, "ls /").await;
    assert_eq!(status, Some(127));
    assert!(err.contains("only `choir` commands"), "{err}");
    let (_, err, status) = exec(&session, "choir --data-dir /tmp status").await;
    assert_eq!(status, Some(2));
    assert!(err.contains("not allowed"), "{err}");
    // The sandbox lives in alice's own directory.
    assert!(fixture
        .dir
        .path()
        .join("sandboxes/alice/events.db")
        .exists());
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
    let fixture = start().await;
    let session = connect(&fixture, "alice", &fixture.alice).await.unwrap();
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
            "no taskbar on row 40"
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
    let (out, _, _) = exec(&session, "choir events").await;
    assert!(out.contains("hello over ssh"));
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
    let fixture = start().await;
    let first = connect(&fixture, "alice", &fixture.alice).await.unwrap();
    let second = connect(&fixture, "alice", &fixture.alice).await.unwrap();
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
    let endpoint = fixture.dir.path().join("sandboxes/alice/daemon.json");
    assert!(
        endpoint.exists(),
        "the sandbox stopped with its last session"
    );
    let again = connect(&fixture, "alice", &fixture.alice).await.unwrap();
    let (mut channel, mut screen) = desktop(&again, 100, 30).await;
    screen.wait_for(&mut channel, "1:Event log").await;
}
