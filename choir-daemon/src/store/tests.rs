use super::*;
use choir_proto::{AppKind, Rect, WindowId};
use pretty_assertions::assert_eq;
use serde_json::json;

fn opened(id: u64) -> NewEvent {
    NewEvent::new(
        "test",
        EventBody::WindowOpened {
            window_id: WindowId(id),
            app: AppKind::Chat,
            title: format!("w{id}"),
            rect: Rect::new(0, 0, 20, 5),
        },
    )
}

async fn open(dir: &tempfile::TempDir) -> EventStore {
    EventStore::open(&dir.path().join("events.db"), StoreOptions::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn append_assigns_consecutive_seqs_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    assert_eq!(store.head(), 0);
    assert!(store.append(vec![]).await.unwrap().is_empty());
    let first = store.append(vec![opened(1), opened(2)]).await.unwrap();
    let second = store
        .append(vec![opened(3).with_correlation("abc")])
        .await
        .unwrap();
    assert_eq!(first.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(second[0].seq, 3);
    assert_eq!(second[0].correlation.as_deref(), Some("abc"));
    assert_eq!(store.head(), 3);
    let all = store.read(1, 100).await.unwrap();
    let appended: Vec<Event> = [first, second]
        .concat()
        .into_iter()
        .map(|e| (*e).clone())
        .collect();
    assert_eq!(all, appended);
    assert_eq!(store.read(2, 1).await.unwrap()[0].seq, 2);
    assert!(store.read(4, 10).await.unwrap().is_empty());
    store.shutdown().await;
}

#[tokio::test]
async fn events_survive_reopening_and_unknown_types_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let future = EventBody::Unknown {
        type_name: "future.thing".into(),
        data: json!({"n": 1}),
    };
    let written = store
        .append(vec![opened(1), NewEvent::new("agent", future)])
        .await
        .unwrap();
    store.shutdown().await;
    assert!(matches!(
        store.append(vec![opened(9)]).await,
        Err(StoreError::Closed)
    ));

    let reopened = open(&dir).await;
    assert_eq!(reopened.head(), 2);
    let written: Vec<Event> = written.into_iter().map(|e| (*e).clone()).collect();
    assert_eq!(reopened.read(1, 10).await.unwrap(), written);
    let next = reopened.append(vec![opened(2)]).await.unwrap();
    assert_eq!(next[0].seq, 3);
    reopened.shutdown().await;
}

#[tokio::test]
async fn a_foreign_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE invoices (id INTEGER PRIMARY KEY); INSERT INTO invoices VALUES (7);",
        )
        .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = EventStore::open(&path, StoreOptions::default())
        .await
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::Foreign { .. }), "{err}");
    assert!(err.to_string().contains("not a ChoirOS event log"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[tokio::test]
async fn a_corrupt_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    std::fs::write(&path, vec![0x5a; 8192]).unwrap();
    let err = EventStore::open(&path, StoreOptions::default())
        .await
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), vec![0x5a; 8192]);
}

#[tokio::test]
async fn an_empty_file_becomes_a_new_log() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("events.db"), b"").unwrap();
    let store = open(&dir).await;
    assert_eq!(store.append(vec![opened(1)]).await.unwrap()[0].seq, 1);
    store.shutdown().await;
}

#[tokio::test]
async fn subscribe_catches_up_then_follows_live() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    store
        .append(vec![opened(1), opened(2), opened(3)])
        .await
        .unwrap();
    let mut from_two = store.subscribe(2);
    let mut from_zero = store.subscribe(0);
    assert_eq!(from_two.next().await.unwrap().unwrap().seq, 2);
    assert_eq!(from_two.next().await.unwrap().unwrap().seq, 3);
    store.append(vec![opened(4)]).await.unwrap();
    assert_eq!(from_two.next().await.unwrap().unwrap().seq, 4);
    for seq in 1..=4 {
        assert_eq!(from_zero.next().await.unwrap().unwrap().seq, seq);
    }
    store.shutdown().await;
    assert!(from_two.next().await.unwrap().is_none());
}

#[tokio::test]
async fn a_lagging_subscriber_recovers_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let store = EventStore::open(
        &dir.path().join("events.db"),
        StoreOptions {
            durable: false,
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap();
    let mut sub = store.subscribe(1);
    store.append(vec![opened(1)]).await.unwrap();
    assert_eq!(sub.next().await.unwrap().unwrap().seq, 1);
    // Far more than the live channel holds, while the subscriber is not reading.
    let total = LIVE_CAPACITY as u64 * 2 + 10;
    for chunk in (2..=total).collect::<Vec<_>>().chunks(500) {
        store
            .append(chunk.iter().map(|id| opened(*id)).collect())
            .await
            .unwrap();
    }
    for seq in 2..=total {
        assert_eq!(sub.next().await.unwrap().unwrap().seq, seq);
    }
    store.shutdown().await;
}

#[tokio::test]
async fn a_corrupt_row_is_reported_with_its_seq() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    store.append(vec![opened(1), opened(2)]).await.unwrap();
    store.shutdown().await;
    {
        let conn = rusqlite::Connection::open(dir.path().join("events.db")).unwrap();
        conn.execute(
            "UPDATE events SET data = '{\"window_id\":' WHERE seq = 2",
            [],
        )
        .unwrap();
    }
    let store = open(&dir).await;
    assert_eq!(store.read(1, 1).await.unwrap()[0].seq, 1);
    let err = store.read(1, 10).await.unwrap_err();
    assert!(
        matches!(err, StoreError::CorruptEvent { seq: 2, .. }),
        "{err}"
    );
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_commits_every_queued_append_and_refuses_later_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let appends: Vec<_> = (0..200)
        .map(|id| {
            let store = store.clone();
            tokio::spawn(async move { store.append(vec![opened(id)]).await })
        })
        .collect();
    tokio::task::yield_now().await;
    store.shutdown().await;
    let mut acked = Vec::new();
    for append in appends {
        match append.await.unwrap() {
            Ok(events) => acked.push(events[0].seq),
            Err(StoreError::Closed) => {}
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    let reopened = open(&dir).await;
    let stored: Vec<u64> = reopened
        .read(1, 1000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    acked.sort_unstable();
    assert_eq!(stored, acked, "exactly the acknowledged appends are stored");
    reopened.shutdown().await;
}

/// Relaxed and ordinary appends share one sequence, whichever way each commit is synced,
/// and all of them are there after the store is closed and opened again.
#[tokio::test]
async fn relaxed_appends_keep_the_order_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    let mut seqs = Vec::new();
    for n in 0..6u64 {
        let committed = if n % 2 == 0 {
            store.append_relaxed(vec![opened(n + 1)]).await.unwrap()
        } else {
            store.append(vec![opened(n + 1)]).await.unwrap()
        };
        seqs.extend(committed.iter().map(|event| event.seq));
    }
    // Several queued at once, relaxed and not, go into one commit, synced.
    let (a, b) = tokio::join!(
        store.append_relaxed(vec![opened(7)]),
        store.append(vec![opened(8)])
    );
    seqs.extend(
        a.unwrap()
            .iter()
            .chain(b.unwrap().iter())
            .map(|event| event.seq),
    );
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=8).collect::<Vec<u64>>());
    store.shutdown().await;
    let store = open(&dir).await;
    assert_eq!(store.head(), 8);
    let events = store.read(1, 100).await.unwrap();
    assert_eq!(events.len(), 8);
    store.shutdown().await;
}

#[tokio::test]
async fn a_commit_that_fails_writes_nothing_and_the_next_one_follows_without_a_hole() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    store.append(vec![opened(1)]).await.unwrap();
    // Another connection makes SQLite refuse one row, as a full disk or a broken file would.
    let other = rusqlite::Connection::open(dir.path().join("events.db")).unwrap();
    other
        .execute_batch(
            "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.data LIKE '%w66%' \
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
    let refused = store.append(vec![opened(2), opened(66), opened(3)]).await;
    assert!(
        matches!(refused, Err(StoreError::CommitFailed(ref message)) if message.contains("refused")),
        "{refused:?}"
    );
    assert_eq!(
        store.head(),
        1,
        "nothing of the refused append is committed"
    );
    // The refused transaction was rolled back: the next append commits, right after.
    let next = store.append(vec![opened(4)]).await.unwrap();
    assert_eq!(next[0].seq, 2);
    let seqs: Vec<u64> = store
        .read(1, 100)
        .await
        .unwrap()
        .iter()
        .map(|event| event.seq)
        .collect();
    assert_eq!(seqs, vec![1, 2]);
    drop(other);
    store.shutdown().await;
}
