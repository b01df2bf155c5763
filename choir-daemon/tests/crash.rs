//! A daemon process is killed with SIGKILL while clients stream commands into it. After a
//! restart every acknowledged event is in the log, unchanged, and the seqs have no holes; a
//! document edited up to the kill comes back whole, and its workspace file catches up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command as Process, Stdio};
use std::time::Duration;

use choir_proto::{
    AppKind, ClientFrame, Command, DocId, Event, EventBody, ServerFrame, TextOp, WindowId, World,
    PROTOCOL_VERSION,
};
use common::WAIT;
use futures_util::{SinkExt, StreamExt};
use pretty_assertions::assert_eq;
use tokio_tungstenite::tungstenite::Message;

const CLIENTS: u16 = 6;

/// Starts `choir-daemon` and returns it with the URL (with token) it printed.
fn spawn_daemon(data_dir: &std::path::Path) -> (Child, String, String) {
    let mut child = Process::new(env!("CARGO_BIN_EXE_choir-daemon"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("CHOIR_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        // Keep draining so the daemon never writes into a closed pipe.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    let line = rx.recv_timeout(WAIT).expect("daemon printed no URL");
    let url = line.trim().rsplit(' ').next().unwrap().to_owned();
    let (base, token) = url.split_once("/?token=").expect("URL with token");
    (child, base.to_owned(), token.to_owned())
}

/// Streams moves of window 1 until the connection dies; returns what was acked: seq → x.
async fn stream_moves(base: String, token: String, client: u16) -> BTreeMap<u64, u16> {
    let ws_url = format!("{}/ws", base.replace("http://", "ws://"));
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    let hello = ClientFrame::Hello {
        protocol: PROTOCOL_VERSION,
        token: Some(token),
        resume_from: Some(0),
        client: Some(format!("crash-{client}")),
    };
    ws.send(Message::text(serde_json::to_string(&hello).unwrap()))
        .await
        .unwrap();
    let mut pending: BTreeMap<u64, u16> = BTreeMap::new();
    let mut acked = BTreeMap::new();
    let mut id = 0u64;
    loop {
        id += 1;
        // Distinct positions per client and request, so every move is a real change.
        let x = (client * 300 + (id % 300) as u16) % 2000;
        let command = ClientFrame::Command {
            id,
            command: Command::MoveWindow {
                window_id: WindowId(1),
                x,
                y: client,
            },
        };
        pending.insert(id, x);
        if ws
            .send(Message::text(serde_json::to_string(&command).unwrap()))
            .await
            .is_err()
        {
            return acked;
        }
        // Wait for this command's ack (events from other clients arrive in between).
        loop {
            match tokio::time::timeout(WAIT, ws.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    match serde_json::from_str::<ServerFrame>(&text).unwrap() {
                        ServerFrame::Ack { id: acked_id, seqs } => {
                            let x = pending.remove(&acked_id).unwrap();
                            for seq in seqs {
                                acked.insert(seq, x);
                            }
                            break;
                        }
                        ServerFrame::Error { message, .. } => panic!("command refused: {message}"),
                        _ => continue,
                    }
                }
                Ok(Some(Ok(_))) => continue,
                // Killed: the connection ends; unacknowledged commands may or may not be in.
                _ => return acked,
            }
        }
    }
}

async fn all_events(base: &str, token: &str) -> Vec<Event> {
    let mut events: Vec<Event> = Vec::new();
    loop {
        let from = events.last().map_or(1, |event| event.seq + 1);
        let body: serde_json::Value = reqwest::Client::new()
            .get(format!("{base}/api/events?from={from}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let page: Vec<Event> = serde_json::from_value(body["events"].clone()).unwrap();
        if page.is_empty() {
            return events;
        }
        events.extend(page);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_event_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base, token) = spawn_daemon(dir.path());
    let open = Command::OpenWindow {
        app: AppKind::EventLog,
        title: None,
        rect: None,
    };
    let status = reqwest::Client::new()
        .post(format!("{base}/api/commands"))
        .bearer_auth(&token)
        .body(serde_json::to_string(&open).unwrap())
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);

    let streams: Vec<_> = (0..CLIENTS)
        .map(|client| tokio::spawn(stream_moves(base.clone(), token.clone(), client)))
        .collect();
    tokio::time::sleep(Duration::from_millis(800)).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let mut acked = BTreeMap::new();
    for stream in streams {
        acked.extend(stream.await.unwrap());
    }
    eprintln!("{} moves acknowledged before SIGKILL", acked.len());
    assert!(
        acked.len() > 20,
        "only {} moves were acknowledged before the kill",
        acked.len()
    );

    let (mut restarted, base, token) = spawn_daemon(dir.path());
    let events = all_events(&base, &token).await;
    let seqs: Vec<u64> = events.iter().map(|event| event.seq).collect();
    assert_eq!(
        seqs,
        (1..=events.len() as u64).collect::<Vec<_>>(),
        "seqs have holes"
    );
    for (seq, x) in &acked {
        let event = &events[*seq as usize - 1];
        assert_eq!(
            event.body,
            EventBody::WindowMoved {
                window_id: WindowId(1),
                x: *x,
                y: match &event.body {
                    EventBody::WindowMoved { y, .. } => *y,
                    other => panic!("seq {seq} is {other:?}"),
                }
            },
            "acknowledged seq {seq}"
        );
    }
    // The log goes on from its head.
    let reply: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/api/commands"))
        .bearer_auth(&token)
        .body(serde_json::to_string(&open).unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["seqs"], serde_json::json!([events.len() as u64 + 1]));
    restarted.kill().unwrap();
    restarted.wait().unwrap();
}

#[tokio::test]
async fn a_closed_stdout_does_not_kill_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Process::new(env!("CARGO_BIN_EXE_choir-daemon"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let endpoint = dir.path().join("daemon.json");
    let deadline = std::time::Instant::now() + WAIT;
    while !endpoint.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "daemon never wrote daemon.json"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let endpoint: choir_proto::Endpoint =
        serde_json::from_str(&std::fs::read_to_string(&endpoint).unwrap()).unwrap();
    let health = reqwest::get(format!("{}/health", endpoint.url))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(child.try_wait().unwrap().is_none(), "daemon exited");
    child.kill().unwrap();
    child.wait().unwrap();
}

async fn post(base: &str, token: &str, command: &Command) -> serde_json::Value {
    let response = reqwest::Client::new()
        .post(format!("{base}/api/commands"))
        .bearer_auth(token)
        .body(serde_json::to_string(command).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_document_survives_sigkill_intact() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base, token) = spawn_daemon(dir.path());
    let create = Command::CreateDoc {
        title: "Journal".into(),
        content: "# Journal\n".into(),
        open: true,
        window_id: None,
    };
    post(&base, &token, &create).await;
    let mut expected = String::from("# Journal\n");
    for n in 0..200u64 {
        let line = format!("entry {n}: ünïcode ✓\n");
        let len = expected.chars().count();
        let edit = Command::EditDoc {
            doc_id: DocId(1),
            base_version: n,
            op: TextOp::splice(len, len, len, &line),
            edit_id: None,
        };
        post(&base, &token, &edit).await;
        expected.push_str(&line);
    }
    // Killed right after the last acknowledgement: the file may lag, the log may not.
    child.kill().unwrap();
    child.wait().unwrap();

    let (mut restarted, base, token) = spawn_daemon(dir.path());
    let world = World::replay(&all_events(&base, &token).await);
    let doc = &world.docs[&DocId(1)];
    assert_eq!((doc.version, doc.text().unwrap()), (200, expected.clone()));
    assert!(
        world
            .desktop
            .windows
            .values()
            .any(|w| w.doc_id == Some(DocId(1))),
        "the writer window still shows it"
    );
    // The workspace file catches up with the log.
    let file = dir.path().join("workspace/docs/1-journal.md");
    let deadline = std::time::Instant::now() + WAIT;
    while std::fs::read_to_string(&file).ok().as_deref() != Some(expected.as_str()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the file never caught up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    restarted.kill().unwrap();
    restarted.wait().unwrap();
}
