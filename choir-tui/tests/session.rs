//! The whole desktop session against a real daemon: keys in, escape sequences out (parsed by
//! vt100 into a screen), commands through the real WebSocket client, and a reconnect across a
//! daemon restart with nothing lost or repeated.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use choir_proto::{EventBody, ThreadId};

mod common;

use common::{start, Session, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_a_message_survive_a_daemon_restart_and_quit() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path()).await;
    let mut session = Session::spawn(dir.path(), "session-test");
    let screen = session.screen.clone();
    let mut type_bytes = |bytes: &[u8]| session.type_bytes(bytes);

    screen.wait_for("● live").await;
    type_bytes(b"\x01c");
    screen.wait_for("1:Chat").await;
    type_bytes("hi from the session 漢字\r".as_bytes());
    screen.wait_for("hi from the session").await;
    let events = daemon.store.read(1, 10).await.unwrap();
    assert!(
        matches!(&events[2].body, EventBody::ChatUserMessage { text, .. } if text == "hi from the session 漢字")
    );

    // Restart the daemon (another port); the client finds it through the data dir and resumes.
    daemon.shutdown().await;
    screen.wait_for("reconnecting").await;
    let daemon = start(dir.path()).await;
    screen.wait_for("● live").await;
    daemon
        .store
        .append(vec![choir_proto::NewEvent::new(
            "agent",
            EventBody::ChatAssistantMessage {
                thread_id: ThreadId(1),
                text: "welcome back".into(),
                ending: None,
                tool_calls: Vec::new(),
            },
        )])
        .await
        .unwrap();
    screen.wait_for("welcome back").await;

    // C-a y copies the newest message through OSC 52.
    type_bytes(b"\x01y");
    let osc52 = format!(
        "\x1b]52;c;{}\x07",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "welcome back")
    );
    let deadline = tokio::time::Instant::now() + WAIT;
    while !screen.raw().contains(&osc52) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no OSC 52 sequence was written"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let desktop = session.quit().await;
    // Every message exactly once (the offline agent's answer among them), nothing missed.
    let messages = &desktop.world().chats[&ThreadId(1)].messages;
    let count = |text: &str| messages.iter().filter(|m| m.text == text).count();
    assert_eq!(count("hi from the session 漢字"), 1);
    assert_eq!(count("welcome back"), 1);
    let seqs: Vec<u64> = messages.iter().map(|m| m.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(desktop.head(), daemon.store.head());
    // What the desktop holds is what a fold of the whole log shows (as far as a summary
    // shows: the desktop holds only the latest messages it was sent).
    let full = full_world(&daemon).await;
    let keep = choir_proto::WELCOME_MESSAGES;
    assert_eq!(desktop.world().summary(keep), full.summary(keep));
    daemon.shutdown().await;
}

/// Two desktop sessions, each through its own WebSocket client, type into one document at the
/// same time; both end with the daemon's text, and every typed character is in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sessions_type_into_one_document_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = start(dir.path()).await;
    let mut a = Session::spawn(dir.path(), "writer-a");
    let mut b = Session::spawn(dir.path(), "writer-b");
    a.screen.wait_for("● live").await;
    b.screen.wait_for("● live").await;
    a.type_bytes(b"\x01w");
    a.screen.wait_for("press n to create one").await;
    a.type_bytes(b"nShared\r");
    a.screen.wait_for("Shared · saved").await;
    b.screen.wait_for("Shared · saved").await;

    // Interleaved keystrokes (b starts with a line break).
    b.type_bytes(b"\r");
    for (x, y) in "abcdefghijklmnopqrst"
        .chars()
        .zip("ABCDEFGHIJKLMNOPQRST".chars())
    {
        a.type_bytes(x.to_string().as_bytes());
        b.type_bytes(y.to_string().as_bytes());
    }
    let doc_id = choir_proto::DocId(1);
    let deadline = tokio::time::Instant::now() + WAIT;
    let committed = loop {
        let world = full_world(&daemon).await;
        let text = world.docs[&doc_id].text().unwrap();
        if text.chars().filter(|c| c.is_alphabetic()).count() == 40 {
            break text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not all typed: {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for c in "abcdefghijklmnopqrstABCDEFGHIJKLMNOPQRST".chars() {
        assert_eq!(committed.matches(c).count(), 1, "{c} in {committed:?}");
    }
    // Each cursor stayed with its own text: both runs are whole, in order.
    assert!(committed.contains("abcdefghijklmnopqrst"), "{committed:?}");
    assert!(committed.contains("ABCDEFGHIJKLMNOPQRST"), "{committed:?}");
    // Each screen shows the whole committed text with nothing left to save.
    let mut lines: Vec<&str> = committed.lines().collect();
    lines.push("Shared · saved");
    a.screen.wait_for_all(&lines).await;
    b.screen.wait_for_all(&lines).await;
    let (a, b) = (a.quit().await, b.quit().await);
    for desktop in [a, b] {
        assert_eq!(desktop.world().docs[&doc_id].text().unwrap(), committed);
    }
    daemon.shutdown().await;
}

/// The whole log folded, every text and message in it.
async fn full_world(daemon: &choir_daemon::RunningDaemon) -> choir_proto::World {
    choir_proto::World::replay(&daemon.store.read(1, usize::MAX >> 1).await.unwrap())
}
