//! History that scales, against a real daemon: a welcome that does not grow with the log,
//! pages of a thread read back while messages arrive, documents loaded on demand, snapshots
//! that make a restart replay only the tail (and are rebuilt when they cannot be trusted),
//! and edits made against versions long gone.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use choir_daemon::RunningDaemon;
use choir_proto::{
    AppKind, ClientFrame, Command, DocId, EventBody, Query, Rect, Reply, ServerFrame, TextOp,
    ThreadId, WindowId, World, WELCOME_MESSAGES,
};
use common::{fill, Client, WAIT};
use pretty_assertions::assert_eq;
use proptest::prelude::*;

fn thread_created(thread: u64) -> EventBody {
    EventBody::ChatThreadCreated {
        thread_id: ThreadId(thread),
        title: format!("Chat {thread}"),
    }
}

fn message(thread: u64, n: usize) -> EventBody {
    EventBody::ChatUserMessage {
        thread_id: ThreadId(thread),
        text: format!("message {n} of thread {thread}"),
    }
}

/// The log of `daemon` folded whole: every message and text.
async fn full(daemon: &RunningDaemon) -> World {
    World::replay(&daemon.store.read(1, usize::MAX >> 1).await.unwrap())
}

fn welcome_world(frame: &ServerFrame) -> World {
    match frame {
        ServerFrame::Welcome {
            snapshot: Some(world),
            ..
        } => (**world).clone(),
        other => panic!("no snapshot in {other:?}"),
    }
}

/// A history of `messages` chat messages over 10 threads (1 and 2 shown in chat windows)
/// and `docs` documents, each edited `edits` times.
fn history(messages: usize, docs: u64, edits: u64) -> Vec<EventBody> {
    let mut bodies: Vec<EventBody> = (1..=2)
        .map(|id| EventBody::WindowOpened {
            window_id: WindowId(id),
            app: AppKind::Chat,
            title: format!("Thread {id}"),
            rect: Rect::new(0, 0, 60, 20),
        })
        .collect();
    bodies.extend((1..=10).map(thread_created));
    bodies.extend((0..messages).map(|n| message(1 + n as u64 % 10, n)));
    for doc in 1..=docs {
        bodies.push(EventBody::DocCreated {
            doc_id: DocId(doc),
            title: format!("Doc {doc}"),
            content: "x".repeat(100),
        });
        for version in 1..=edits {
            let len = 100 + version as usize - 1;
            bodies.push(EventBody::DocEdited {
                doc_id: DocId(doc),
                version,
                op: TextOp::new().retain(len).insert("y"),
                edit_id: None,
            });
        }
    }
    bodies
}

async fn welcome_bytes(dir: &std::path::Path) -> (usize, World) {
    let daemon = common::start_in(dir).await;
    let (_client, welcome) = Client::hello(&daemon, None).await;
    let bytes = serde_json::to_string(&welcome).unwrap().len();
    let world = welcome_world(&welcome);
    daemon.shutdown().await;
    (bytes, world)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_welcome_does_not_grow_with_the_history() {
    let small = tempfile::tempdir().unwrap();
    fill(small.path(), history(2_000, 1_000, 3)).await;
    let big = tempfile::tempdir().unwrap();
    fill(big.path(), history(100_000, 1_000, 3)).await;
    let (small_bytes, _) = welcome_bytes(small.path()).await;
    let (big_bytes, world) = welcome_bytes(big.path()).await;
    // 1,000 documents' metadata and 10 threads' latest messages: a fixed bound.
    assert!(big_bytes < 128 * 1024, "{big_bytes} bytes");
    // 98,000 more messages change only counters and the width of seq numbers.
    assert!(
        big_bytes < small_bytes * 105 / 100,
        "{small_bytes} → {big_bytes} bytes"
    );
    assert_eq!(world.docs.len(), 1_000);
    assert!(world
        .docs
        .values()
        .all(|doc| !doc.is_loaded() && doc.recent.is_empty()));
    let thread = &world.chats[&ThreadId(1)];
    assert_eq!(thread.messages.len(), WELCOME_MESSAGES);
    assert_eq!(thread.total, 10_000);
    assert_eq!(
        thread.messages.last().unwrap().text,
        "message 99990 of thread 1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_and_pages_come_on_demand_over_http_too() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), history(300, 3, 400)).await;
    let daemon = common::start_in(dir.path()).await;
    let http = reqwest::Client::new();
    let get = |path: String| {
        let request = http
            .get(format!("{}{path}", daemon.url()))
            .bearer_auth(&daemon.token);
        async move {
            let response = request.send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    let (status, state) = get("/api/state".into()).await;
    assert_eq!(status, 200);
    assert!(state["world"]["docs"][0].get("content").is_none());

    let (status, doc) = get("/api/docs/2".into()).await;
    assert_eq!(status, 200);
    assert_eq!(doc["version"], 400);
    assert_eq!(
        doc["content"].as_str().unwrap(),
        format!("{}{}", "x".repeat(100), "y".repeat(400))
    );
    // Pages walk back through thread 3: 30 messages, 7 at a time, each once.
    let mut seen = Vec::new();
    let mut before = None::<u64>;
    loop {
        let query = before.map_or(String::new(), |seq| format!("&before={seq}"));
        let (status, page) = get(format!("/api/threads/3/messages?limit=7{query}")).await;
        assert_eq!(status, 200, "{page}");
        let messages = page["messages"].as_array().unwrap();
        for message in messages.iter().rev() {
            seen.push(message["text"].as_str().unwrap().to_owned());
        }
        before = messages.first().map(|m| m["seq"].as_u64().unwrap());
        if !page["more"].as_bool().unwrap() {
            break;
        }
    }
    seen.reverse();
    let expected: Vec<String> = (0..300)
        .filter(|n| n % 10 == 2)
        .map(|n| format!("message {n} of thread 3"))
        .collect();
    assert_eq!(seen, expected);

    for (path, code) in [
        ("/api/docs/99", 404),
        ("/api/threads/99/messages", 404),
        ("/api/threads/3/messages?limit=0", 400),
        ("/api/threads/3/messages?limit=100000", 400),
        ("/api/threads/x/messages", 400),
    ] {
        let response = http
            .get(format!("{}{path}", daemon.url()))
            .bearer_auth(&daemon.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), code, "{path}");
    }
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_made_5000_versions_ago_is_rebased_and_converges() {
    let dir = tempfile::tempdir().unwrap();
    // "base" then 5,000 edits, each adding a character at the end.
    let mut bodies = vec![EventBody::DocCreated {
        doc_id: DocId(1),
        title: "Long lived".into(),
        content: "base".into(),
    }];
    for version in 1..=5_000u64 {
        bodies.push(EventBody::DocEdited {
            doc_id: DocId(1),
            version,
            op: TextOp::new().retain(4 + version as usize - 1).insert("."),
            edit_id: None,
        });
    }
    fill(dir.path(), bodies).await;
    let daemon = common::start_in(dir.path()).await;
    // A client that went offline at version 0 and put "> " before "base".
    let offline = TextOp::new().insert("> ").retain(4);
    let seqs = daemon
        .world()
        .execute(
            Command::EditDoc {
                doc_id: DocId(1),
                base_version: 0,
                op: offline.clone(),
                edit_id: Some("offline-1".into()),
            },
            "test".into(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(seqs.len(), 1);
    let expected = format!("> base{}", ".".repeat(5_000));
    assert_eq!(
        full(&daemon).await.docs[&DocId(1)].text().unwrap(),
        expected
    );
    // Sent again (the client did not see the ack): nothing more.
    let again = daemon
        .world()
        .execute(
            Command::EditDoc {
                doc_id: DocId(1),
                base_version: 0,
                op: offline,
                edit_id: Some("offline-1".into()),
            },
            "test".into(),
            None,
        )
        .await
        .unwrap();
    assert!(again.is_empty(), "the resend was applied twice");
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_older_or_foreign_snapshot_is_rebuilt_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), history(500, 20, 30)).await;
    let expected = {
        let daemon = common::start_in(dir.path()).await;
        let world = full(&daemon).await;
        daemon.shutdown().await;
        world
    };
    let snapshot = dir.path().join("snapshot.db");
    assert!(snapshot.exists(), "a snapshot is written at shutdown");
    {
        // As it was written, it is used.
        let daemon = common::start_in(dir.path()).await;
        assert_eq!(daemon.replayed, 0);
        daemon.shutdown().await;
    }

    let expected = &expected;
    let all = expected.head;
    let check = |daemon: RunningDaemon| async move {
        assert_eq!(daemon.replayed, all, "rebuilt from the whole log");
        assert_eq!(daemon.world().welcome().await.unwrap(), expected.welcome());
        for (id, doc) in &expected.docs {
            let loaded = daemon.world().doc(*id).await.unwrap().unwrap();
            assert_eq!(loaded.text(), doc.text(), "{id}");
        }
        daemon.shutdown().await;
    };
    // Not a database at all: a new file in its place, without the old WAL. (Written in place,
    // the file could be restored by the stopped daemon's SQLite folding its WAL back into it
    // late, or read through a WAL still there: page 1 comes from the WAL.)
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", snapshot.display()));
    }
    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, b"this is not a snapshot").unwrap();
    std::fs::rename(&garbage, &snapshot).unwrap();
    check(common::start_in(dir.path()).await).await;
    // An older format.
    {
        let conn = rusqlite::Connection::open(&snapshot).unwrap();
        conn.execute("UPDATE snapshot SET format = 0", []).unwrap();
        // And a checkpoint that does not fit the log.
        conn.execute("UPDATE doc_texts SET text = 'garbage', version = 3", [])
            .unwrap();
    }
    check(common::start_in(dir.path()).await).await;
    // Taken from another log: the head event's time does not match.
    {
        let conn = rusqlite::Connection::open(&snapshot).unwrap();
        conn.execute("UPDATE snapshot SET head_ts = head_ts + 1", [])
            .unwrap();
    }
    check(common::start_in(dir.path()).await).await;
}

/// One step of the paging property: a message arrives live, or the client asks for the page
/// before what it holds.
#[derive(Debug, Clone)]
enum Step {
    Live,
    Page(u32),
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![Just(Step::Live), (1u32..40).prop_map(Step::Page)],
        0..40,
    )
}

async fn paging_case(initial: usize, steps: Vec<Step>) {
    let dir = tempfile::tempdir().unwrap();
    fill(
        dir.path(),
        std::iter::once(thread_created(1)).chain((0..initial).map(|n| message(1, n))),
    )
    .await;
    let daemon = common::start_in(dir.path()).await;
    let (mut client, welcome) = Client::hello(&daemon, None).await;
    let mut world = welcome_world(&welcome);
    let mut posted = initial;
    let mut id = 0;
    for step in steps {
        match step {
            Step::Live => {
                // As another client's or the agent's message would (not a user's, which the
                // agent would answer after this test has stopped looking).
                let body = EventBody::ChatAssistantMessage {
                    thread_id: ThreadId(1),
                    text: format!("live {posted}"),
                    ending: None,
                    tool_calls: Vec::new(),
                };
                daemon
                    .store
                    .append(vec![choir_proto::NewEvent::new("test", body)])
                    .await
                    .unwrap();
                posted += 1;
            }
            Step::Page(limit) => {
                id += 1;
                let before = world.chats[&ThreadId(1)].page_before();
                client
                    .send(&ClientFrame::Query {
                        id,
                        query: Query::ThreadMessages {
                            thread_id: ThreadId(1),
                            before: Some(before),
                            limit,
                        },
                    })
                    .await;
                // Events keep coming while the page loads: apply them as a client does.
                loop {
                    match client.recv().await {
                        ServerFrame::Event { event } => world.apply(&event),
                        ServerFrame::Reply {
                            id: got,
                            reply: Reply::ThreadMessages { page },
                        } if got == id => {
                            world.prepend_page(page);
                            break;
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    // Everything committed arrives; then the rest of the history, a page at a time.
    let head = daemon.store.head();
    while world.head < head {
        if let ServerFrame::Event { event } = client.recv().await {
            world.apply(&event);
        }
    }
    while world.chats[&ThreadId(1)].older() > 0 {
        id += 1;
        let before = world.chats[&ThreadId(1)].page_before();
        let Reply::ThreadMessages { page } = client
            .query(
                id,
                Query::ThreadMessages {
                    thread_id: ThreadId(1),
                    before: Some(before),
                    limit: 25,
                },
            )
            .await
        else {
            panic!("not a page")
        };
        world.prepend_page(page);
    }
    let all = full(&daemon).await.chats[&ThreadId(1)].messages.clone();
    assert_eq!(world.chats[&ThreadId(1)].messages, all);
    assert_eq!(all.len(), posted, "every message posted is there");
    daemon.shutdown().await;
}

/// Runs one property case on a runtime of its own, with a time limit.
fn run_case(case: impl std::future::Future<Output = ()>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime
        .block_on(async { tokio::time::timeout(WAIT * 6, case).await })
        .unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Paging back through a thread over a real socket, while messages are committed, gives
    /// every message exactly once and in order.
    #[test]
    fn paging_while_messages_arrive_gives_each_message_once(
        initial in 0usize..250,
        steps in steps(),
    ) {
        run_case(paging_case(initial, steps));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_from_the_snapshot_and_equals_the_full_replay() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), history(1_000, 10, 20)).await;
    let daemon = common::start_in(dir.path()).await;
    daemon.shutdown().await;
    // The tail: committed after the snapshot (as if the daemon had been killed before its
    // next one).
    let mut tail: Vec<EventBody> = (1_000..1_300).map(|n| message(2, n)).collect();
    for version in 21..=60 {
        tail.push(EventBody::DocEdited {
            doc_id: DocId(4),
            version,
            op: TextOp::new().retain(100 + version as usize - 1).insert("z"),
            edit_id: None,
        });
    }
    tail.push(EventBody::DocDeleted { doc_id: DocId(5) });
    tail.push(EventBody::DocCreated {
        doc_id: DocId(11),
        title: "New".into(),
        content: "fresh".into(),
    });
    let tail_len = tail.len() as u64;
    fill(dir.path(), tail).await;

    let started = std::time::Instant::now();
    let daemon = common::start_in(dir.path()).await;
    let took = started.elapsed();
    assert_eq!(daemon.replayed, tail_len, "only the tail was replayed");
    assert_holds_the_full_replay(&daemon).await;
    assert!(took < Duration::from_secs(10));
    daemon.shutdown().await;
}

/// The head of the snapshot stored in `dir`, read the way any SQLite reader would.
fn stored_head(dir: &std::path::Path) -> Option<u64> {
    let conn = rusqlite::Connection::open(dir.join("snapshot.db")).ok()?;
    conn.query_row("SELECT head FROM snapshot WHERE id = 1", [], |row| {
        row.get::<_, i64>(0)
    })
    .ok()
    .map(|head| head as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_daemon_stores_a_snapshot_every_so_many_events() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = common::start_in(dir.path()).await;
    assert_eq!(stored_head(dir.path()), Some(0), "the empty log's world");
    let every = choir_daemon::actors::SNAPSHOT_EVERY as usize;
    // The agent's messages: a user's would start turns, adding events of their own.
    let bodies: Vec<EventBody> = std::iter::once(thread_created(1))
        .chain((0..every + 500).map(|n| EventBody::ChatAssistantMessage {
            thread_id: ThreadId(1),
            text: format!("answer {n}"),
            ending: None,
            tool_calls: Vec::new(),
        }))
        .collect();
    for batch in bodies.chunks(1000) {
        let events = batch
            .iter()
            .map(|body| choir_proto::NewEvent::new("test", body.clone()))
            .collect();
        daemon.store.append(events).await.unwrap();
    }
    // Stored while the daemon runs (as if it were then killed: no clean stop).
    let deadline = tokio::time::Instant::now() + WAIT;
    let head = loop {
        if let Some(head) = stored_head(dir.path()).filter(|head| *head >= every as u64) {
            break head;
        }
        assert!(tokio::time::Instant::now() < deadline, "no snapshot stored");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(head <= daemon.store.head());
    // The daemon kept answering meanwhile.
    assert_eq!(
        daemon.world().welcome().await.unwrap().chats[&ThreadId(1)].total,
        (every + 500) as u64
    );
    daemon.shutdown().await;
    assert_eq!(stored_head(dir.path()), Some((every + 501) as u64));
}

/// One user action of a generated history.
#[derive(Debug, Clone)]
enum Act {
    OpenChat,
    Post(u64, usize),
    OpenWriter,
    CreateDoc(usize),
    Edit(u64, usize, usize, String),
    Rename(u64),
    DeleteDoc(u64),
    Show(u64, u64),
    Close(u64),
}

fn acts() -> impl Strategy<Value = Vec<Act>> {
    let act = prop_oneof![
        1 => Just(Act::OpenChat),
        6 => (1u64..8, 1usize..400).prop_map(|(thread, len)| Act::Post(thread, len)),
        1 => Just(Act::OpenWriter),
        3 => (0usize..300).prop_map(Act::CreateDoc),
        8 => (1u64..24, 0usize..400, 0usize..20, "[a-z \n]{0,12}")
            .prop_map(|(doc, at, delete, text)| Act::Edit(doc, at, delete, text)),
        1 => (1u64..24).prop_map(Act::Rename),
        1 => (1u64..24).prop_map(Act::DeleteDoc),
        2 => (1u64..8, 1u64..24).prop_map(|(window, doc)| Act::Show(window, doc)),
        1 => (1u64..8).prop_map(Act::Close),
    ];
    prop::collection::vec(act, 1..400)
}

/// The events `acts` make, decided as the daemon would (refused ones make none).
fn decided(acts: &[Act]) -> Vec<EventBody> {
    let mut world = World::default();
    let mut bodies = Vec::new();
    for act in acts {
        let command = match act {
            Act::OpenChat | Act::OpenWriter => Command::OpenWindow {
                app: if matches!(act, Act::OpenChat) {
                    AppKind::Chat
                } else {
                    AppKind::Writer
                },
                title: None,
                rect: None,
            },
            Act::Post(thread, len) => Command::PostChat {
                thread_id: ThreadId(*thread),
                text: "w ".repeat(len / 2 + 1),
            },
            Act::CreateDoc(len) => Command::CreateDoc {
                title: format!("Doc {}", world.next_doc_id),
                content: "c".repeat(*len),
                open: false,
                window_id: None,
            },
            Act::Edit(doc, at, delete, text) => {
                let Some(meta) = world.docs.get(&DocId(*doc)) else {
                    continue;
                };
                let len = meta.len as usize;
                let start = (*at).min(len);
                Command::EditDoc {
                    doc_id: DocId(*doc),
                    base_version: meta.version,
                    op: TextOp::splice(len, start, start + delete, text),
                    edit_id: None,
                }
            }
            Act::Rename(doc) => Command::RenameDoc {
                doc_id: DocId(*doc),
                title: format!("Renamed {doc}"),
            },
            Act::DeleteDoc(doc) => Command::DeleteDoc {
                doc_id: DocId(*doc),
            },
            Act::Show(window, doc) => Command::ShowDoc {
                window_id: WindowId(*window),
                doc_id: Some(DocId(*doc)),
            },
            Act::Close(window) => Command::CloseWindow {
                window_id: WindowId(*window),
            },
        };
        let Ok(made) = choir_proto::decide(&world, &command) else {
            continue;
        };
        for body in made {
            let event = choir_proto::Event {
                seq: world.head + 1,
                ts: 0,
                actor: "test".into(),
                correlation: None,
                v: 1,
                body: body.clone(),
            };
            world.apply(&event);
            bodies.push(body);
        }
    }
    bodies
}

/// What `daemon` holds and reads back equals the full replay of its log: its welcome, every
/// document's text, every thread's messages.
async fn assert_holds_the_full_replay(daemon: &RunningDaemon) {
    let expected = full(daemon).await;
    assert_eq!(daemon.world().welcome().await.unwrap(), expected.welcome());
    for (id, doc) in &expected.docs {
        let loaded = daemon.world().doc(*id).await.unwrap().unwrap();
        assert_eq!(
            (loaded.version, loaded.text()),
            (doc.version, doc.text()),
            "{id}"
        );
    }
    for (id, thread) in &expected.chats {
        let page = daemon
            .store
            .thread_page(*id, daemon.store.head() + 1, thread.messages.len().max(1))
            .await
            .unwrap();
        assert_eq!(page.messages, thread.messages, "thread {id}");
    }
}

/// Fills a log with the first `split` events, lets a daemon store its snapshot, adds the rest
/// and starts again: the daemon replays only those, and holds what the full replay gives.
async fn snapshot_case(bodies: Vec<EventBody>, split: usize) {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), bodies[..split].to_vec()).await;
    common::start_in(dir.path()).await.shutdown().await;
    fill(dir.path(), bodies[split..].to_vec()).await;
    let daemon = common::start_in(dir.path()).await;
    assert_eq!(daemon.replayed, (bodies.len() - split) as u64);
    assert_holds_the_full_replay(&daemon).await;
    daemon.shutdown().await;
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// For generated histories of chats, documents (more than are kept in memory) and
    /// windows: the snapshot plus the tail gives what the full replay gives.
    #[test]
    fn a_snapshot_plus_the_tail_equals_the_full_replay(
        acts in acts(),
        split in any::<prop::sample::Index>(),
    ) {
        let bodies = decided(&acts);
        let split = split.index(bodies.len() + 1);
        run_case(snapshot_case(bodies, split));
    }
}

/// Checkpoints that came with a snapshot of another log never lend their text to a document
/// of this one, even one created after the snapshot was rebuilt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_snapshots_checkpoints_are_not_used() {
    let other = tempfile::tempdir().unwrap();
    fill(
        other.path(),
        [EventBody::DocCreated {
            doc_id: DocId(1),
            title: "Theirs".into(),
            content: "from the other log".into(),
        }],
    )
    .await;
    common::start_in(other.path()).await.shutdown().await;

    let dir = tempfile::tempdir().unwrap();
    fill(dir.path(), [thread_created(1), thread_created(2)]).await;
    for suffix in ["", "-wal", "-shm"] {
        let name = format!("snapshot.db{suffix}");
        if other.path().join(&name).exists() {
            std::fs::copy(other.path().join(&name), dir.path().join(&name)).unwrap();
        }
    }
    common::start_in(dir.path()).await.shutdown().await;
    // Created after that start's snapshot, as if the daemon had been killed before the next.
    fill(
        dir.path(),
        [EventBody::DocCreated {
            doc_id: DocId(1),
            title: "Ours".into(),
            content: "from this log".into(),
        }],
    )
    .await;
    let daemon = common::start_in(dir.path()).await;
    let doc = daemon.world().doc(DocId(1)).await.unwrap().unwrap();
    assert_eq!(doc.text().unwrap(), "from this log");
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_world_holds_a_bounded_number_of_each_threads_messages() {
    let (_dir, daemon) = common::start().await;
    let mut bodies = vec![thread_created(1), thread_created(2)];
    bodies.extend((0..1_500).map(|n| EventBody::ChatAssistantMessage {
        thread_id: ThreadId(1 + n as u64 % 2),
        text: format!("answer {n}"),
        ending: None,
        tool_calls: Vec::new(),
    }));
    for batch in bodies.chunks(7) {
        let events = batch
            .iter()
            .map(|body| choir_proto::NewEvent::new("test", body.clone()))
            .collect();
        daemon.store.append(events).await.unwrap();
    }
    let held = daemon
        .world()
        .query(|world| {
            world
                .chats
                .values()
                .map(|thread| (thread.messages.len(), thread.total))
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
    for (messages, total) in held {
        assert_eq!(total, 750);
        assert!(
            messages <= choir_daemon::actors::KEEP_MESSAGES + 64,
            "{messages} held"
        );
    }
    daemon.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_other_actors_commit_while_commands_run_all_reach_the_world() {
    let (_dir, daemon) = common::start().await;
    let http = reqwest::Client::new();
    let url = daemon.url();
    let post = |command: Command| {
        http.post(format!("{url}/api/commands"))
            .bearer_auth(&daemon.token)
            .json(&command)
            .send()
    };
    let opened = post(Command::OpenWindow {
        app: AppKind::Chat,
        title: None,
        rect: None,
    })
    .await
    .unwrap();
    assert!(opened.status().is_success());
    // The agent (another actor) appends to the log directly while commands go through the
    // world: each of its events must reach the world, whatever the interleaving.
    let store = daemon.store.clone();
    let agent = tokio::spawn(async move {
        for n in 0..300 {
            let body = EventBody::ChatAssistantMessage {
                thread_id: ThreadId(1),
                text: format!("answer {n}"),
                ending: None,
                tool_calls: Vec::new(),
            };
            store
                .append(vec![choir_proto::NewEvent {
                    actor: "agent".into(),
                    correlation: None,
                    body,
                }])
                .await
                .unwrap();
        }
    });
    for n in 0..300u16 {
        let moved = post(Command::MoveWindow {
            window_id: WindowId(1),
            x: n % 50,
            y: n % 20,
        })
        .await
        .unwrap();
        assert!(moved.status().is_success());
    }
    agent.await.unwrap();
    // The world's view (what a welcome and /api/state give) equals the log folded whole.
    let expected = full(&daemon).await.welcome();
    let state: serde_json::Value = http
        .get(format!("{url}/api/state"))
        .bearer_auth(&daemon.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let world: World = serde_json::from_value(state["world"].clone()).unwrap();
    assert_eq!(world.head, expected.head);
    assert_eq!(world, expected);
}
