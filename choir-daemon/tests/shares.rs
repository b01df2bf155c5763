//! Shares attacked the way their holders might: a read-only share tries every command type
//! over the socket and every writing route over HTTP; a revoked or expired share's open
//! connections and later attempts are cut off; a share for one user is tried without that
//! user; no share manages shares.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "../../choir-proto/tests/samples/mod.rs"]
mod samples;

use std::collections::BTreeSet;
use std::time::Duration;

use choir_daemon::RunningDaemon;
use choir_proto::{
    ClientFrame, Command, ErrorCode, ServerFrame, CLOSE_REVOKED, CLOSE_UNAUTHORIZED,
    KNOWN_COMMAND_TYPES, PROTOCOL_VERSION,
};
use common::Client;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

async fn mint(daemon: &RunningDaemon, request: Value) -> (String, String) {
    let response = reqwest::Client::new()
        .post(format!("{}/api/shares", daemon.url()))
        .bearer_auth(&daemon.token)
        .body(request.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    (
        body["share"]["id"].as_str().unwrap().to_owned(),
        body["token"].as_str().unwrap().to_owned(),
    )
}

/// Connects with `token` in the hello; returns the client and the first frame.
async fn hello(daemon: &RunningDaemon, token: &str) -> (Client, ServerFrame) {
    let mut client = Client::connect(daemon).await;
    client
        .send(&ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            token: Some(token.to_owned()),
            resume_from: None,
            client: Some("watcher".into()),
        })
        .await;
    let first = client.recv().await;
    (client, first)
}

#[tokio::test]
async fn a_read_only_share_watches_and_every_command_type_is_refused() {
    let (_dir, daemon) = common::start().await;
    let (owner, _) = Client::hello(&daemon, None).await;
    let (_, token) = mint(&daemon, json!({ "read_only": true })).await;
    let (mut watcher, welcome) = hello(&daemon, &token).await;
    let ServerFrame::Welcome {
        read_only,
        snapshot,
        ..
    } = welcome
    else {
        panic!("expected a welcome, got {welcome:?}");
    };
    assert!(read_only, "the welcome says the connection is read-only");
    assert!(snapshot.is_some());
    let head = daemon.world().welcome().await.unwrap().head;

    let commands = samples::commands();
    let types: BTreeSet<&str> = commands.iter().map(Command::type_name).collect();
    assert_eq!(
        types,
        KNOWN_COMMAND_TYPES.iter().copied().collect(),
        "a sample of every command type"
    );
    for (id, command) in commands.iter().enumerate() {
        watcher.command(id as u64, command.clone()).await;
        match watcher.recv().await {
            ServerFrame::Error {
                id: Some(got),
                code: ErrorCode::ReadOnly,
                message,
            } if got == id as u64 => assert!(message.contains("read-only"), "{message}"),
            other => panic!("{} was not refused: {other:?}", command.type_name()),
        }
    }
    // Nothing was written, and the watcher still reads.
    assert_eq!(daemon.world().welcome().await.unwrap().head, head);
    let reply = watcher
        .query(
            900,
            choir_proto::Query::Moment {
                at: choir_proto::Seek::Seq { seq: 0 },
            },
        )
        .await;
    assert!(matches!(reply, choir_proto::Reply::Moment { .. }));

    // Over HTTP: reads work, every write is refused.
    let http = reqwest::Client::new();
    let get = |path: &str| {
        http.get(format!("{}{path}", daemon.url()))
            .bearer_auth(&token)
    };
    assert_eq!(get("/api/state").send().await.unwrap().status(), 200);
    assert_eq!(
        get("/api/events?from=1").send().await.unwrap().status(),
        200
    );
    let whoami: Value = get("/api/whoami")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(whoami["owner"], false);
    assert_eq!(whoami["share"]["read_only"], true);
    for (path, body) in [
        (
            "/api/commands",
            json!({"type": "window.open", "app": "chat"}),
        ),
        ("/api/tools/bash", json!({"command": "touch /tmp/pwned"})),
        (
            "/api/tools/write_file",
            json!({"path": "x", "content": "y"}),
        ),
    ] {
        let response = http
            .post(format!("{}{path}", daemon.url()))
            .bearer_auth(&token)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "read_only", "{path}");
    }
    assert_eq!(daemon.world().welcome().await.unwrap().head, head);
    drop(owner);
    daemon.shutdown().await;
}

#[tokio::test]
async fn no_share_manages_shares_reads_the_activity_report_or_touches_the_settings_file() {
    let (_dir, daemon) = common::start().await;
    let (id, full) = mint(&daemon, json!({ "read_only": false })).await;
    let http = reqwest::Client::new();
    let attempts = [
        http.post(format!("{}/api/shares", daemon.url())).body("{}"),
        http.get(format!("{}/api/shares", daemon.url())),
        http.delete(format!("{}/api/shares/{id}", daemon.url())),
        http.get(format!("{}/api/activity", daemon.url())),
        // Where the owner's settings file is, and having it read again, are the owner's.
        http.get(format!("{}/api/settings", daemon.url())),
        http.post(format!("{}/api/settings/reload", daemon.url())),
    ];
    for attempt in attempts {
        let response = attempt.bearer_auth(&full).send().await.unwrap();
        assert_eq!(response.status(), 403);
    }
    // The full share works otherwise, and what it does is recorded as the share's.
    let response = http
        .post(format!("{}/api/commands", daemon.url()))
        .bearer_auth(&full)
        .body(json!({"type": "window.open", "app": "chat"}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = common::get_json(&daemon, "/api/events?from=1").await;
    assert_eq!(body["events"][0]["actor"], format!("share:{id}"));
    // Made-up and altered tokens get nothing.
    for token in [
        "chs_0000000000_00".to_owned(),
        format!("{full}0"),
        full.replace("chs_", "chs_x"),
    ] {
        let response = http
            .get(format!("{}/api/state", daemon.url()))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{token}");
    }
    daemon.shutdown().await;
}

#[tokio::test]
async fn revoking_a_share_cuts_its_connections_at_once_and_refuses_it_later() {
    let (_dir, daemon) = common::start().await;
    let (id, token) = mint(&daemon, json!({ "read_only": true })).await;
    let (_, other) = mint(&daemon, json!({ "read_only": true })).await;
    let (mut first, _) = hello(&daemon, &token).await;
    let (mut second, _) = hello(&daemon, &token).await;
    let (mut bystander, _) = hello(&daemon, &other).await;

    let started = std::time::Instant::now();
    let response = reqwest::Client::new()
        .delete(format!("{}/api/shares/{id}", daemon.url()))
        .bearer_auth(&daemon.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    for client in [&mut first, &mut second] {
        let (frames, code) = client.recv_until_close().await;
        assert_eq!(code, Some(CLOSE_REVOKED));
        assert!(frames.iter().any(|frame| matches!(
            frame,
            ServerFrame::Error { message, .. } if message == "this share was revoked"
        )));
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "cut off in {:?}",
        started.elapsed()
    );
    // The other share's connection is untouched.
    bystander.send(&ClientFrame::Ping { nonce: 7 }).await;
    assert_eq!(bystander.recv().await, ServerFrame::Pong { nonce: 7 });

    // Later attempts: refused on the socket and over HTTP.
    let (mut again, first_frame) = hello(&daemon, &token).await;
    assert!(matches!(
        first_frame,
        ServerFrame::Error {
            code: ErrorCode::Unauthorized,
            ..
        }
    ));
    assert_eq!(again.recv_until_close().await.1, Some(CLOSE_UNAUTHORIZED));
    let status = reqwest::Client::new()
        .get(format!("{}/api/state", daemon.url()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
    let url = format!("ws://{}/ws?token={token}", daemon.addr);
    assert!(Client::connect_url(&url).await.is_err());
    daemon.shutdown().await;
}

#[tokio::test]
async fn an_expiring_share_is_cut_off_when_it_expires() {
    let (_dir, daemon) = common::start().await;
    let (_, token) = mint(&daemon, json!({ "read_only": true, "expires_in": 1 })).await;
    let (mut watcher, welcome) = hello(&daemon, &token).await;
    assert!(matches!(welcome, ServerFrame::Welcome { .. }));
    let (frames, code) = watcher.recv_until_close().await;
    assert_eq!(code, Some(CLOSE_REVOKED));
    assert!(frames.iter().any(|frame| matches!(
        frame,
        ServerFrame::Error { message, .. } if message == "this share expired"
    )));
    let (_, refused) = hello(&daemon, &token).await;
    assert!(
        matches!(&refused, ServerFrame::Error { message, .. } if message.contains("expired")),
        "{refused:?}"
    );
    daemon.shutdown().await;
}

#[tokio::test]
async fn a_share_for_one_user_needs_the_hypervisor_to_say_that_user_is_there() {
    let (_dir, daemon) = common::start().await;
    let (_, token) = mint(&daemon, json!({ "read_only": true, "viewer": "alice" })).await;
    let connect_as = |viewer: Option<&'static str>| {
        let mut request = format!("ws://{}/ws?token={token}", daemon.addr)
            .into_client_request()
            .unwrap();
        if let Some(viewer) = viewer {
            request
                .headers_mut()
                .insert("x-choir-viewer", viewer.parse().unwrap());
        }
        tokio_tungstenite::connect_async(request)
    };
    assert!(connect_as(None).await.is_err(), "nobody named");
    assert!(connect_as(Some("mallory")).await.is_err(), "another user");
    let (ws, _) = connect_as(Some("alice")).await.unwrap();
    drop(ws);
    // A share may not bind itself to a made-up user name.
    let response = reqwest::Client::new()
        .post(format!("{}/api/shares", daemon.url()))
        .bearer_auth(&daemon.token)
        .body(json!({ "viewer": "alice\nbob" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    daemon.shutdown().await;
}
