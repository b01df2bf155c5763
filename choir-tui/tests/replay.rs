//! `choir replay` as a user drives it: the desktop read-only at a past moment of a
//! 100,000-event history, scrubbed with held-down keys, jumped from chat message to chat
//! message, and back to now, through a real daemon and the real WebSocket client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use choir_daemon::store::{EventStore, StoreOptions};
use choir_proto::{AppKind, EventBody, NewEvent, Rect, Seek, ThreadId, WindowId};
use choir_tui::desktop::Desktop;
use choir_tui::theme::Theme;
use common::{start, Session, WAIT};

/// Events in the history.
const HISTORY: u64 = 100_000;
/// A chat message every this many events.
const MESSAGE_EVERY: u64 = 25_000;

/// A chat window, then window moves, with a chat message every [`MESSAGE_EVERY`] events.
async fn write_history(dir: &std::path::Path) {
    let store = EventStore::open(
        &dir.join("events.db"),
        StoreOptions {
            durable: false,
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap();
    let mut batch = vec![
        NewEvent::new(
            "fill",
            EventBody::ChatThreadCreated {
                thread_id: ThreadId(1),
                title: "Chat".into(),
            },
        ),
        NewEvent::new(
            "fill",
            EventBody::WindowOpened {
                window_id: WindowId(1),
                app: AppKind::Chat,
                title: "Chat".into(),
                rect: Rect::new(2, 1, 50, 12),
            },
        ),
    ];
    for seq in 3..=HISTORY {
        let body = if seq % MESSAGE_EVERY == 0 {
            EventBody::ChatUserMessage {
                thread_id: ThreadId(1),
                text: format!("message {}", seq / MESSAGE_EVERY),
            }
        } else {
            EventBody::WindowMoved {
                window_id: WindowId(1),
                x: (seq % 20) as u16,
                y: 1,
            }
        };
        batch.push(NewEvent::new("fill", body));
        if batch.len() == 5_000 {
            store.append(std::mem::take(&mut batch)).await.unwrap();
        }
    }
    store.append(batch).await.unwrap();
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrubbing_a_100k_event_history_stays_interactive_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write_history(dir.path()).await;
    let daemon = start(dir.path()).await;
    assert_eq!(daemon.store.head(), HISTORY);
    let desktop = Desktop::replay(Theme::monochrome(), 0, Seek::Seq { seq: u64::MAX });
    let mut session = Session::spawn_desktop(dir.path(), "replay-test", desktop);
    let screen = session.screen.clone();
    screen.wait_for("seq 100,000 of 100,000").await;
    screen.wait_for("message 4").await;

    // Hold the left arrow for 300 events: every key is taken at once, the moves collapse
    // into as few queries as the daemon can answer, and the desktop lands where the keys
    // said soon after the last one.
    let started = Instant::now();
    for _ in 0..300 {
        session.type_bytes(b"\x1b[D");
    }
    let typed = started.elapsed();
    screen.wait_for("seq 99,700 of 100,000").await;
    let landed = started.elapsed();
    assert!(
        landed < Duration::from_secs(5),
        "300 steps back took {landed:?} to show (keys sent in {typed:?})"
    );
    // The window is where it was right after each event (moves set x = seq % 20).
    let window_x = || {
        let text = screen.text();
        let row = text.lines().nth(1).unwrap_or_default().to_owned();
        row.chars().position(|c| c == '┏')
    };
    assert_eq!(
        window_x(),
        Some(0),
        "after event 99,700:\n{}",
        screen.text()
    );
    for _ in 0..3 {
        session.type_bytes(b"\x1b[C");
    }
    screen.wait_for("seq 99,703 of 100,000").await;
    assert_eq!(
        window_x(),
        Some(3),
        "after event 99,703:\n{}",
        screen.text()
    );

    // To the start, then from chat message to chat message.
    session.type_bytes(b"g");
    screen.wait_for("seq 0 of 100,000").await;
    session.type_bytes(b"n");
    screen.wait_for("seq 25,000 of").await;
    screen.wait_for("message 1").await;
    assert!(!screen.text().contains("message 2"));
    session.type_bytes(b"n");
    screen.wait_for("seq 50,000 of").await;
    screen.wait_for("message 2").await;
    session.type_bytes(b"p");
    screen.wait_for("seq 25,000 of").await;
    // Shift-arrows step by 100.
    session.type_bytes(b"\x1b[1;2C\x1b[1;2C");
    screen.wait_for("seq 25,200 of").await;

    // Typing is not an edit: the replay says it is read-only and sends nothing.
    session.type_bytes(b"x");
    screen.wait_for("replay is read-only").await;
    // Back to now.
    session.type_bytes(b"G");
    screen.wait_for("seq 100,000 of 100,000").await;

    session.type_bytes(b"q");
    let (end, desktop) = tokio::time::timeout(WAIT, session.task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(end, choir_tui::session::SessionEnd::Quit);
    assert_eq!(desktop.timeline().unwrap().shown().unwrap().0, HISTORY);
    assert_eq!(daemon.store.head(), HISTORY, "the replay wrote nothing");
    daemon.shutdown().await;
}
