//! Sharing through the hypervisor, against a real `choir-hypervisor serve`: bob mints shares
//! with `choir share` over SSH; a browser without an account opens the read-only link and
//! watches, an SSH client logs in with the share's user name; a share for alice takes alice
//! (signed in, or her key) and nobody else; revoking cuts the browser and the SSH desktop at
//! once. Every way a share could reach further is tried.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write as _;

use choir_test_support::Screen;
use std::sync::Arc;
use std::time::Duration;

use common::browser::{frame_of, next_frame, Browser, Socket};
use common::{exec, Client, Hypervisor, WAIT};
use futures_util::SinkExt;
use russh::client;
use russh::ChannelMsg;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

const CLOSE_UNAUTHORIZED: u16 = choir_proto::CLOSE_UNAUTHORIZED;

struct Minted {
    id: String,
    token: String,
    web: String,
    ssh: String,
}

/// `choir share ARGS` in bob's sandbox, over SSH.
async fn share(hv: &Hypervisor, owner: &str, args: &str) -> Minted {
    let ssh = hv.connect(owner).await;
    let run = exec(&ssh, &format!("choir share {args}")).await;
    assert_eq!(run.status, Some(0), "{run:?}");
    let field = |name: &str| {
        run.out
            .lines()
            .find_map(|line| line.trim().strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {}", run.out))
            .trim()
            .to_owned()
    };
    let token = field("token:");
    let id = field("revoke it with: choir share revoke");
    Minted {
        id,
        web: field("web:"),
        ssh: field("ssh:"),
        token,
    }
}

/// The socket of a share's page, `hello` sent (no token: the hypervisor adds the share's).
async fn watch(browser: &Browser, owner: &str, token: &str) -> Result<Socket, u16> {
    let path = format!("/share/{owner}/{token}/ws");
    let mut socket = browser.websocket_at(&path, &browser.origin).await?;
    let hello =
        json!({ "type": "hello", "protocol": choir_proto::PROTOCOL_VERSION, "client": "watcher" });
    socket.send(Message::text(hello.to_string())).await.unwrap();
    Ok(socket)
}

async fn ssh_none(hv: &Hypervisor, user: &str) -> Option<client::Handle<Client>> {
    let config = Arc::new(client::Config::default());
    let mut session = client::connect(config, hv.addr, Client).await.unwrap();
    let auth = session.authenticate_none(user).await.unwrap();
    auth.success().then_some(session)
}

/// Opens the desktop in an SSH channel; returns the channel.
async fn desktop(session: &client::Handle<Client>) -> russh::Channel<client::Msg> {
    let channel = session.channel_open_session().await.unwrap();
    channel
        .request_pty(true, "xterm-256color", 100, 30, 0, 0, &[])
        .await
        .unwrap();
    channel.request_shell(true).await.unwrap();
    channel
}

/// Reads the channel until the screen it draws (100 × 30), or the text it writes after
/// leaving it, shows `want`; returns all of its output and the exit status if the channel
/// ended.
async fn read_until(
    channel: &mut russh::Channel<client::Msg>,
    want: &str,
) -> (String, Option<u32>) {
    let mut screen = Screen::new(100, 30);
    let mut status = None;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !screen.text().contains(want) && !screen.raw().contains(want) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, channel.wait()).await {
            Ok(Some(ChannelMsg::Data { data })) => screen.write_all(&data).unwrap(),
            Ok(Some(ChannelMsg::ExitStatus { exit_status })) => status = Some(exit_status),
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => {
                panic!("never showed {want:?}:\n{}", screen.text())
            }
        }
    }
    (screen.raw(), status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_only_link_watches_in_a_browser_and_over_ssh_until_revoked() {
    let args = ["--http-listen", "127.0.0.1:0"];
    let hv = Hypervisor::start(&["bob", "alice"], &args);
    let (origin, addr) = hv.web();
    let bob = hv.connect("bob").await;
    let opened = exec(&bob, "choir --exec open_window --arg app=chat").await;
    assert_eq!(opened.status, Some(0), "{opened:?}");

    let minted = share(&hv, "bob", "--read-only --label demo").await;
    assert_eq!(
        minted.web,
        format!("{origin}/share/bob/{}", minted.token),
        "the web link"
    );
    assert!(
        minted.ssh.starts_with("ssh -t -p ")
            && minted
                .ssh
                .ends_with(&format!("bob.{}@localhost", minted.token)),
        "the ssh command: {}",
        minted.ssh
    );

    // A browser with no account opens the link: the page, then the live desktop, read-only.
    let mut stranger = Browser::new(&origin, addr);
    let page = stranger.get(&format!("/share/bob/{}", minted.token)).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains(&format!(
        "<meta name=\"choir-socket\" content=\"/share/bob/{}/ws\">",
        minted.token
    )));
    let mut socket = watch(&stranger, "bob", &minted.token).await.unwrap();
    let welcome = frame_of(&mut socket, "welcome").await.unwrap();
    assert_eq!(welcome["read_only"], true, "{welcome}");
    let open =
        json!({ "type": "command", "id": 7, "command": { "type": "window.open", "app": "chat" } });
    socket.send(Message::text(open.to_string())).await.unwrap();
    let refused = frame_of(&mut socket, "error").await.unwrap();
    assert_eq!(
        (refused["id"].clone(), refused["code"].clone()),
        (json!(7), json!("read_only"))
    );
    // Its API reads, and refuses every change.
    let state = stranger
        .get(&format!("/share/bob/{}/api/state", minted.token))
        .await;
    assert_eq!(state.status, 200, "{state:?}");
    let post = stranger
        .post(
            &format!("/share/bob/{}/api/commands", minted.token),
            json!({ "type": "window.open", "app": "chat" }),
        )
        .await;
    assert_eq!(
        (post.status, post.json()["code"].clone()),
        (403, json!("read_only"))
    );
    for path in ["shares", "activity", "tools/bash"] {
        let answer = stranger
            .post(
                &format!("/share/bob/{}/api/{path}", minted.token),
                json!({}),
            )
            .await;
        assert_eq!(answer.status, 403, "{path}: {answer:?}");
    }

    // The share is bob's only: not alice's sandbox, not with a changed token, not from
    // another site, not outside /api.
    let mut at_alice = watch(&stranger, "alice", &minted.token).await.unwrap();
    let refused = next_frame(&mut at_alice).await;
    assert!(
        matches!(&refused, Err((code, reason)) if *code == CLOSE_UNAUTHORIZED && reason.contains("no such share")),
        "{refused:?}"
    );
    let forged = format!("{}0", minted.token);
    let mut forged_socket = watch(&stranger, "bob", &forged).await.unwrap();
    let refused = next_frame(&mut forged_socket).await;
    assert!(
        matches!(&refused, Err((code, _)) if *code == CLOSE_UNAUTHORIZED),
        "{refused:?}"
    );
    let path = format!("/share/bob/{}/ws", minted.token);
    assert_eq!(
        stranger
            .websocket_at(&path, "http://evil.example")
            .await
            .err(),
        Some(403)
    );
    for path in [
        format!("/share/bob/{}/api/../../api/state", minted.token),
        "/share/bob/not-a-token".to_owned(),
    ] {
        assert_eq!(stranger.get(&path).await.status, 404, "{path}");
    }

    // A user who does not exist is told as a share that does not: nothing tells them apart.
    let mut nobody = watch(&stranger, "nobody", &minted.token).await.unwrap();
    let refused = next_frame(&mut nobody).await;
    assert!(
        matches!(&refused, Err((code, reason)) if *code == CLOSE_UNAUTHORIZED && reason.contains("no such share")),
        "{refused:?}"
    );

    // Over SSH with the share's user name: no key needed; the desktop says it watches.
    let user = format!("bob.{}", minted.token);
    let ssh = ssh_none(&hv, &user).await.expect("the share logs in");
    let mut channel = desktop(&ssh).await;
    read_until(&mut channel, "watching (read-only)").await;
    // It runs no commands.
    let run = exec(&ssh, "choir status").await;
    assert_ne!(run.status, Some(0));
    assert!(run.err.contains("desktop only"), "{run:?}");
    // A made-up share, or a plain user name, gets nothing without a key.
    assert!(ssh_none(&hv, &format!("bob.{forged}")).await.is_none());
    assert!(ssh_none(&hv, "bob").await.is_none());
    assert!(ssh_none(&hv, &format!("alice.{}", minted.token))
        .await
        .is_none());

    // Revoked: both are cut off at once.
    let revoked = exec(&bob, &format!("choir share revoke {}", minted.id)).await;
    assert_eq!(revoked.status, Some(0), "{revoked:?}");
    let started = std::time::Instant::now();
    let closed = loop {
        if let Err(close) = next_frame(&mut socket).await {
            break close;
        }
    };
    assert_eq!(closed.0, choir_proto::CLOSE_REVOKED, "{closed:?}");
    read_until(&mut channel, "choir: this share was revoked").await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // The desktop ends, with a failure status.
    let mut status = None;
    while let Ok(Some(msg)) = tokio::time::timeout(WAIT, channel.wait()).await {
        if let ChannelMsg::ExitStatus { exit_status } = msg {
            status = Some(exit_status);
        }
    }
    assert_eq!(status, Some(1));
    assert!(
        ssh_none(&hv, &user).await.is_none(),
        "a revoked share logs in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_share_for_alice_takes_alice_and_nobody_else() {
    let args = ["--http-listen", "127.0.0.1:0"];
    let hv = Hypervisor::start(&["bob", "alice", "carol"], &args);
    let (origin, addr) = hv.web();
    let minted = share(&hv, "bob", "--read-only --for alice").await;
    let user = format!("bob.{}", minted.token);

    // Over SSH: not without a key, not with carol's, with alice's.
    assert!(ssh_none(&hv, &user).await.is_none());
    assert!(common::connect(hv.addr, &user, hv.key("carol"))
        .await
        .is_none());
    let ssh = common::connect(hv.addr, &user, hv.key("alice"))
        .await
        .expect("alice logs in with the share");
    let mut channel = desktop(&ssh).await;
    read_until(&mut channel, "watching (read-only)").await;

    // In a browser: not signed in, refused; signed in as alice, the desktop.
    let stranger = Browser::new(&origin, addr);
    let mut socket = watch(&stranger, "bob", &minted.token).await.unwrap();
    let refused = next_frame(&mut socket).await;
    assert!(
        matches!(&refused, Err((code, reason)) if *code == CLOSE_UNAUTHORIZED && reason.contains("for alice")),
        "{refused:?}"
    );
    let mut alice = Browser::new(&origin, addr);
    let mut passkey = SoftPasskey::new(true);
    let registered = alice.register(&hv.invite("alice", &[]), &mut passkey).await;
    assert_eq!(registered.status, 200, "{registered:?}");
    let mut socket = watch(&alice, "bob", &minted.token).await.unwrap();
    let welcome = frame_of(&mut socket, "welcome").await.unwrap();
    assert_eq!(welcome["read_only"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn share_requests_from_one_address_are_limited() {
    let args = ["--http-listen", "127.0.0.1:0"];
    let hv = Hypervisor::start(&["bob"], &args);
    let (origin, addr) = hv.web();
    let mut stranger = Browser::new(&origin, addr);
    let token = format!("chs_0123456789_{}", "a".repeat(64));
    let mut statuses = Vec::new();
    for _ in 0..130 {
        let answer = stranger.get(&format!("/share/bob/{token}/api/state")).await;
        statuses.push(answer.status);
    }
    // Each refused as an unknown share, until the address has spent its minute.
    assert!(
        statuses[..100].iter().all(|status| *status == 401),
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
}
