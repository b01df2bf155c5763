//! A share sees the present, attacked the way its holder might: a read-only share made after
//! a secret was printed and after a full share's token was printed tries every road into the
//! past (the events, a past moment, `world.at`, `doc.at`, a thread's pages, `resume_from: 0`);
//! tokens printed anywhere are looked for in the log; a full share's holder who read the
//! sandbox's local token keeps nothing once that share is revoked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use choir_daemon::{Daemon, DaemonConfig, RunningDaemon};
use choir_proto::{
    AppKind, ClientFrame, Command, ErrorCode, Query, Reply, Seek, ServerFrame, ThreadId,
    CLOSE_TOKEN_REPLACED, PROTOCOL_VERSION,
};
use common::Client;
use serde_json::{json, Value};

const SECRET: &str = "MY-SECRET-API-KEY=7f3a9c";

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn post(daemon: &RunningDaemon, token: &str, path: &str, body: Value) -> (u16, Value) {
    let response = http()
        .post(format!("{}{path}", daemon.url()))
        .bearer_auth(token)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn get(daemon: &RunningDaemon, token: &str, path: &str) -> (u16, String) {
    let response = http()
        .get(format!("{}{path}", daemon.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn mint(daemon: &RunningDaemon, token: &str, request: Value) -> Value {
    let (status, body) = post(daemon, token, "/api/shares", request).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn command(daemon: &RunningDaemon, command: Command) {
    let (status, body) = post(
        daemon,
        &daemon.token,
        "/api/commands",
        serde_json::to_value(command).unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

/// Opens a chat window (the daemon's first: thread 1) and posts `text` in it.
async fn chat(daemon: &RunningDaemon, text: &str) -> ThreadId {
    let window = Command::OpenWindow {
        app: AppKind::Chat,
        title: None,
        rect: None,
    };
    command(daemon, window).await;
    let thread_id = ThreadId(1);
    let text = text.to_owned();
    command(daemon, Command::PostChat { thread_id, text }).await;
    thread_id
}

async fn bash(daemon: &RunningDaemon, token: &str, cmd: &str) -> Value {
    let (status, body) = post(daemon, token, "/api/tools/bash", json!({ "cmd": cmd })).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Hello with `token` and `resume_from`; every frame until the welcome and a query reply.
async fn watch(
    daemon: &RunningDaemon,
    token: &str,
    resume_from: Option<u64>,
) -> (Client, ServerFrame) {
    let mut client = Client::connect(daemon).await;
    client
        .send(&ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            token: Some(token.to_owned()),
            resume_from,
            client: Some("watcher".into()),
        })
        .await;
    let welcome = client.recv().await;
    (client, welcome)
}

#[tokio::test]
async fn a_read_only_share_reads_nothing_from_before_it_was_made() {
    let (_dir, daemon) = common::start().await;
    // The past: a chat with a message, a tool that printed a secret, a document, and a full
    // share whose token a tool printed.
    let thread = chat(&daemon, &format!("remember {SECRET}")).await;
    bash(&daemon, &daemon.token, &format!("echo {SECRET}")).await;
    let draft = format!("first draft with {SECRET}");
    command(
        &daemon,
        Command::CreateDoc {
            title: "notes".into(),
            content: draft.clone(),
            open: false,
            window_id: None,
        },
    )
    .await;
    let full = mint(&daemon, &daemon.token, json!({ "read_only": false })).await;
    let full_token = full["token"].as_str().unwrap().to_owned();
    bash(&daemon, &daemon.token, &format!("echo share: {full_token}")).await;
    // The document as it is now holds no secret.
    let doc_id = 1;
    let (_, doc) = get(&daemon, &daemon.token, "/api/docs/1").await;
    let version = serde_json::from_str::<Value>(&doc).unwrap()["version"]
        .as_u64()
        .unwrap();
    command(
        &daemon,
        Command::EditDoc {
            doc_id: choir_proto::DocId(doc_id),
            base_version: version,
            op: choir_proto::TextOp::new()
                .delete(draft.chars().count())
                .insert("clean now"),
            edit_id: None,
        },
    )
    .await;

    let share = mint(&daemon, &daemon.token, json!({})).await;
    let token = share["token"].as_str().unwrap().to_owned();
    let since = share["share"]["since"].as_u64().unwrap();
    assert_eq!(since, daemon.store.head() + 1);
    assert_eq!(share["share"]["history"], Value::Null);
    let leaked = |text: &str| text.contains(SECRET) || text.contains(&full_token);

    // The events: only those since.
    let (status, events) = get(&daemon, &token, "/api/events?from=1").await;
    assert_eq!(status, 200);
    assert!(!leaked(&events), "{events}");
    let events: Value = serde_json::from_str(&events).unwrap();
    assert!(events["events"].as_array().unwrap().is_empty());
    // A past moment: the one it was made at, without the chat before it.
    for path in ["/api/moment?seq=1", "/api/moment?ts=0", "/api/state"] {
        let (status, body) = get(&daemon, &token, path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(!leaked(&body), "{path}: {body}");
    }
    let (_, moment) = get(&daemon, &token, "/api/moment?seq=1&world=false").await;
    let moment: Value = serde_json::from_str(&moment).unwrap();
    assert_eq!(moment["seq"].as_u64(), Some(since - 1));
    // A thread's pages.
    let (status, page) = get(&daemon, &token, "/api/threads/1/messages").await;
    assert_eq!(status, 200);
    assert!(!leaked(&page), "{page}");
    let page: Value = serde_json::from_str(&page).unwrap();
    assert!(page["messages"].as_array().unwrap().is_empty());
    assert_eq!(page["more"], false);

    // The socket: a resume from the start gets a welcome of now instead.
    let (mut watcher, welcome) = watch(&daemon, &token, Some(0)).await;
    let ServerFrame::Welcome { snapshot, .. } = &welcome else {
        panic!("{welcome:?}");
    };
    assert!(
        snapshot.is_some(),
        "a resume from before the share is a fresh welcome"
    );
    assert!(!leaked(&serde_json::to_string(&welcome).unwrap()));
    for (id, query) in [
        (
            1,
            Query::Moment {
                at: Seek::Seq { seq: 1 },
            },
        ),
        (
            2,
            Query::ThreadMessages {
                thread_id: thread,
                before: None,
                limit: 50,
            },
        ),
    ] {
        let reply = watcher.query(id, query).await;
        assert!(
            !leaked(&serde_json::to_string(&reply).unwrap()),
            "{reply:?}"
        );
        if let Reply::Moment { moment } = reply {
            assert_eq!(moment.seq, since - 1);
        }
    }
    watcher
        .send(&ClientFrame::Query {
            id: 3,
            query: Query::DocAt {
                doc_id: choir_proto::DocId(doc_id),
                version: 1,
                seq: 3,
            },
        })
        .await;
    loop {
        match watcher.recv().await {
            ServerFrame::Error {
                id: Some(3),
                code: ErrorCode::Unauthorized,
                message,
            } => {
                assert!(message.contains("since it was made"), "{message}");
                break;
            }
            ServerFrame::Reply { id: 3, reply } => panic!("an old text was given: {reply:?}"),
            _ => {}
        }
    }
    // What happens now, it sees.
    command(
        &daemon,
        Command::PostChat {
            thread_id: thread,
            text: "said after the share".into(),
        },
    )
    .await;
    let frames = watcher
        .recv_while(|frames| {
            !frames.iter().any(|frame| {
                serde_json::to_string(frame)
                    .unwrap()
                    .contains("said after the share")
            })
        })
        .await;
    assert!(!frames
        .iter()
        .any(|frame| leaked(&serde_json::to_string(frame).unwrap())));

    // A share made with its history sees the past, but no token: it never reached the log.
    let history = mint(&daemon, &daemon.token, json!({ "history": true })).await;
    assert_eq!(history["share"]["since"], 1);
    let history_token = history["token"].as_str().unwrap();
    let (_, events) = get(&daemon, history_token, "/api/events?from=1").await;
    assert!(events.contains(SECRET), "the history share sees the past");
    assert!(
        !events.contains(&full_token),
        "a share token reached the log"
    );
    assert!(events.contains("chs_[removed]"));
}

#[tokio::test]
async fn tokens_printed_anywhere_never_reach_the_log() {
    let (dir, daemon) = common::start().await;
    let share = mint(&daemon, &daemon.token, json!({})).await;
    let share_token = share["token"].as_str().unwrap().to_owned();
    let local = choir_daemon::datadir::read_endpoint(dir.path())
        .unwrap()
        .token;
    // A tool's output, the sandbox token read from its file, a chat message.
    bash(
        &daemon,
        &daemon.token,
        &format!("echo {share_token}; cat ../daemon.json"),
    )
    .await;
    chat(&daemon, &format!("here: {share_token} and {local}")).await;
    // In the live stream, in the log read back, and in the file itself.
    let (_, events) = get(&daemon, &daemon.token, "/api/events?from=1").await;
    assert!(!events.contains(&share_token), "{events}");
    assert!(!events.contains(&local), "{events}");
    assert!(events.contains("chs_[removed]"));
    assert!(events.contains("[sandbox token removed]"));
    let database = std::fs::read(dir.path().join("events.db")).unwrap();
    let database = String::from_utf8_lossy(&database);
    assert!(!database.contains(&share_token[15..]));
    assert!(!database.contains(&local));
}

#[tokio::test]
async fn revoking_a_full_share_replaces_the_local_token_and_ends_what_was_minted_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let host = "h".repeat(40);
    let daemon = Daemon::start(DaemonConfig {
        token: Some(host.clone()),
        ..DaemonConfig::local(dir.path())
    })
    .await
    .unwrap();
    let local = choir_daemon::datadir::read_endpoint(dir.path())
        .unwrap()
        .token;
    assert_ne!(
        local, host,
        "daemon.json holds the local token, never the host's"
    );

    let before = mint(&daemon, &host, json!({})).await;
    let full = mint(&daemon, &host, json!({ "read_only": false })).await;
    // What a full share's holder could do: read the local token in the sandbox, keep a
    // connection open with it, mint a share with it.
    let (full_status, _) = get(&daemon, full["token"].as_str().unwrap(), "/api/state").await;
    assert_eq!(full_status, 200);
    let (mut kept, welcome) = watch(&daemon, &local, None).await;
    assert!(matches!(welcome, ServerFrame::Welcome { .. }));
    let minted_inside = mint(&daemon, &local, json!({})).await;
    let by_owner = mint(&daemon, &host, json!({})).await;

    let id = full["share"]["id"].as_str().unwrap();
    let response = http()
        .delete(format!("{}/api/shares/{id}", daemon.url()))
        .bearer_auth(&host)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let revoked: Value = response.json().await.unwrap();
    assert_eq!(revoked["token_replaced"], true);
    assert_eq!(revoked["also"][0]["id"], minted_inside["share"]["id"]);
    assert_eq!(revoked["also"].as_array().unwrap().len(), 1);

    // The connection made with the old local token is told to go.
    let (_, code) = kept.recv_until_close().await;
    assert_eq!(code, Some(CLOSE_TOKEN_REPLACED));
    let works = |token: String| {
        let daemon = &daemon;
        async move { get(daemon, &token, "/api/state").await.0 }
    };
    assert_eq!(works(local.clone()).await, 401, "the old local token");
    assert_eq!(works(full["token"].as_str().unwrap().into()).await, 401);
    assert_eq!(
        works(minted_inside["token"].as_str().unwrap().into()).await,
        401
    );
    // The owner's: the host token, the new local token, shares made before or by the owner.
    assert_eq!(works(host.clone()).await, 200);
    let new_local = choir_daemon::datadir::read_endpoint(dir.path())
        .unwrap()
        .token;
    assert_ne!(new_local, local);
    assert_eq!(works(new_local).await, 200);
    assert_eq!(works(before["token"].as_str().unwrap().into()).await, 200);
    assert_eq!(works(by_owner["token"].as_str().unwrap().into()).await, 200);
    daemon.shutdown().await;
}
