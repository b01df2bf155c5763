//! Time travel: the world at a past moment, built from a past snapshot and the events after
//! it, equals the live world right after that event; seeks by time and to chat messages or
//! tool calls land where they should; a client gets moments over `/ws` and `/api/moment`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use choir_daemon::actors::{Past, Snapshots};
use choir_daemon::store::{EventStore, StoreOptions};
use choir_proto::{
    decide, AppKind, CallId, Command, DocId, Event, EventBody, NewEvent, Query, Rect, Reply, Seek,
    TextOp, ThreadId, WindowId, World,
};
use proptest::prelude::*;
use proptest::test_runner::Config;

fn command() -> impl Strategy<Value = Command> {
    let window = (1u64..6).prop_map(WindowId);
    let rect =
        (0u16..100, 0u16..40, 12u16..80, 4u16..30).prop_map(|(x, y, w, h)| Rect::new(x, y, w, h));
    let app = prop_oneof![
        Just(AppKind::Chat),
        Just(AppKind::Writer),
        Just(AppKind::EventLog)
    ];
    prop_oneof![
        2 => (app, prop::option::of(rect)).prop_map(|(app, rect)| Command::OpenWindow { app, title: None, rect }),
        2 => (window.clone(), 0u16..200, 0u16..60).prop_map(|(window_id, x, y)| Command::MoveWindow { window_id, x, y }),
        1 => window.clone().prop_map(|window_id| Command::FocusWindow { window_id }),
        1 => window.clone().prop_map(|window_id| Command::MinimizeWindow { window_id }),
        1 => window.clone().prop_map(|window_id| Command::CloseWindow { window_id }),
        4 => ((1u64..6).prop_map(ThreadId), "[a-z ]{0,12}").prop_map(|(thread_id, text)| Command::PostChat { thread_id, text }),
        1 => ("[a-z]{0,6}", "[a-z\n]{0,12}", any::<bool>()).prop_map(|(title, content, open)| Command::CreateDoc { title, content, open, window_id: None }),
        2 => (1u64..4, 0u64..6, 0usize..8, "[a-z]{0,3}").prop_map(|(doc, base_version, at, text)| Command::EditDoc {
            doc_id: DocId(doc),
            base_version,
            op: TextOp::splice(at, at, at, &text),
            edit_id: None,
        }),
        1 => (1u64..4).prop_map(|id| Command::DeleteDoc { doc_id: DocId(id) }),
    ]
}

/// A step of a generated history: a client's command, or the agent's work on a tool call
/// (which no command makes).
#[derive(Debug, Clone)]
enum Step {
    Command(Command),
    Tool(EventBody),
}

fn tool_event() -> impl Strategy<Value = EventBody> {
    let call = (0u8..6).prop_map(|n| CallId(format!("call_{n}")));
    let thread = (1u64..6).prop_map(|id| Some(ThreadId(id)));
    prop_oneof![
        (call.clone(), thread.clone(), any::<bool>()).prop_map(
            |(call_id, thread_id, needs_approval)| {
                EventBody::ToolRequested {
                    call_id,
                    tool: "bash".into(),
                    args: serde_json::json!({ "command": "ls" }),
                    thread_id,
                    needs_approval,
                    preview: None,
                }
            }
        ),
        (call.clone(), thread).prop_map(|(call_id, thread_id)| EventBody::ToolStarted {
            call_id,
            tool: "bash".into(),
            args: serde_json::json!({}),
            thread_id,
        }),
        (call, "[a-z]{0,8}").prop_map(|(call_id, output)| EventBody::ToolFinished {
            call_id,
            ok: true,
            exit_code: Some(0),
            output,
            duration_ms: 3,
        }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => command().prop_map(Step::Command),
        // Long threads: more messages than a welcome shows.
        3 => ((1u64..3).prop_map(ThreadId), "[a-z ]{0,12}")
            .prop_map(|(thread_id, text)| Step::Command(Command::PostChat { thread_id, text })),
        2 => tool_event().prop_map(Step::Tool),
    ]
}

/// Appends what each step makes (a command what it decides, as the daemon would); returns
/// every event.
async fn write_history(store: &EventStore, steps: &[Step]) -> Vec<Event> {
    let mut world = World::default();
    let mut log = Vec::new();
    for step in steps {
        let bodies = match step {
            Step::Command(command) => match decide(&world, command) {
                Ok(bodies) => bodies,
                Err(_) => continue,
            },
            Step::Tool(body) => vec![body.clone()],
        };
        let news = bodies
            .into_iter()
            .map(|body| NewEvent::new("test", body))
            .collect();
        for event in store.append(news).await.unwrap() {
            world.apply(&event);
            log.push((*event).clone());
        }
    }
    log
}

async fn open(dir: &std::path::Path) -> (EventStore, Snapshots) {
    let store = EventStore::open(
        &dir.join("events.db"),
        StoreOptions {
            durable: false,
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap();
    let snapshots = Snapshots::open(&dir.join("snapshot.db")).await.unwrap();
    (store, snapshots)
}

proptest! {
    #![proptest_config(Config { cases: 24, ..Config::default() })]

    /// For generated histories, the moment right after event N equals the live world right
    /// after event N (as a welcome carries it), whichever way the moments are visited: from
    /// nothing, from past snapshots the folds stored, stepping forward from the last moment
    /// built, and jumping back.
    #[test]
    fn the_world_at_seq_n_equals_the_live_world_right_after_event_n(
        steps in prop::collection::vec(step(), 1..240),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 1..12),
        every in 3u64..30,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let (store, snapshots) = open(dir.path()).await;
            let log = write_history(&store, &steps).await;
            // The live world right after each event.
            let mut live = World::default();
            let mut after = vec![live.welcome()];
            for event in &log {
                live.apply(event);
                after.push(live.welcome());
            }
            let past = Past::with_interval(store.clone(), snapshots.clone(), every);
            let head = log.len() as u64;
            let mut seqs: Vec<u64> = picks.iter().map(|pick| pick.index(log.len() + 1) as u64).collect();
            seqs.extend([head, 0]);
            let mut forward = seqs.clone();
            forward.sort_unstable();
            for round in [seqs, forward.clone(), forward.into_iter().rev().collect()] {
                for seq in round {
                    let world = past.world_at(seq).await.unwrap();
                    prop_assert_eq!(&world, &after[seq as usize], "the world at seq {}", seq);
                }
            }
            // A second handle (a restarted daemon) starts from the past snapshots stored.
            let again = Past::with_interval(store.clone(), snapshots, every);
            let seq = head / 2;
            prop_assert_eq!(&again.world_at(seq).await.unwrap(), &after[seq as usize]);
            store.shutdown().await;
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn seeks_by_time_and_to_messages_and_tool_calls_land_on_the_right_event() {
    let dir = tempfile::tempdir().unwrap();
    let (store, snapshots) = open(dir.path()).await;
    let commands = [
        Command::OpenWindow {
            app: AppKind::Chat,
            title: None,
            rect: None,
        },
        Command::MoveWindow {
            window_id: WindowId(1),
            x: 3,
            y: 3,
        },
        Command::PostChat {
            thread_id: ThreadId(1),
            text: "first".into(),
        },
        Command::MoveWindow {
            window_id: WindowId(1),
            x: 5,
            y: 5,
        },
        Command::MoveWindow {
            window_id: WindowId(1),
            x: 6,
            y: 6,
        },
        Command::PostChat {
            thread_id: ThreadId(1),
            text: "second".into(),
        },
    ];
    let steps: Vec<Step> = commands.into_iter().map(Step::Command).collect();
    let log = write_history(&store, &steps).await;
    let message_seqs: Vec<u64> = log
        .iter()
        .filter(|event| matches!(event.body, EventBody::ChatUserMessage { .. }))
        .map(|event| event.seq)
        .collect();
    assert_eq!(message_seqs.len(), 2);
    let past = Past::new(store.clone(), snapshots);
    let head = store.head();

    let next = past
        .resolve(Seek::Mark {
            from: 0,
            forward: true,
        })
        .await
        .unwrap();
    assert_eq!(next, message_seqs[0]);
    let next = past
        .resolve(Seek::Mark {
            from: next,
            forward: true,
        })
        .await
        .unwrap();
    assert_eq!(next, message_seqs[1]);
    let back = past
        .resolve(Seek::Mark {
            from: next,
            forward: false,
        })
        .await
        .unwrap();
    assert_eq!(back, message_seqs[0]);
    // Past the last mark: the head; before the first: the start.
    let end = Seek::Mark {
        from: message_seqs[1],
        forward: true,
    };
    assert_eq!(past.resolve(end).await.unwrap(), head);
    let start = Seek::Mark {
        from: message_seqs[0],
        forward: false,
    };
    assert_eq!(past.resolve(start).await.unwrap(), 0);

    // By time: the last event at or before it.
    for event in &log {
        let seq = past.resolve(Seek::Time { ts: event.ts }).await.unwrap();
        let last_at_that_time = log.iter().rfind(|e| e.ts == event.ts).unwrap().seq;
        assert_eq!(seq, last_at_that_time);
    }
    assert_eq!(past.resolve(Seek::Time { ts: 0 }).await.unwrap(), 0);
    assert_eq!(
        past.resolve(Seek::Time { ts: i64::MAX }).await.unwrap(),
        head
    );
    // Beyond the head is the head.
    let moment = past.moment(Seek::Seq { seq: head + 50 }).await.unwrap();
    assert_eq!((moment.seq, moment.head), (head, head));
    assert_eq!(moment.ts, log.last().unwrap().ts);
    store.shutdown().await;
}

#[tokio::test]
async fn a_client_travels_over_the_socket_and_over_http() {
    let (_dir, daemon) = common::start().await;
    let (mut client, _) = common::Client::hello(&daemon, None).await;
    client
        .command(
            1,
            Command::OpenWindow {
                app: AppKind::Writer,
                title: None,
                rect: None,
            },
        )
        .await;
    client
        .recv_while(|frames| {
            !frames
                .iter()
                .any(|f| matches!(f, choir_proto::ServerFrame::Ack { .. }))
        })
        .await;
    client
        .command(
            2,
            Command::CreateDoc {
                title: "notes".into(),
                content: "one".into(),
                open: false,
                window_id: None,
            },
        )
        .await;
    client
        .recv_while(|frames| {
            !frames
                .iter()
                .any(|f| matches!(f, choir_proto::ServerFrame::Ack { id: 2, .. }))
        })
        .await;
    let at_one = daemon.world().welcome().await.unwrap();
    client
        .command(
            3,
            Command::EditDoc {
                doc_id: DocId(1),
                base_version: 0,
                op: TextOp::splice(3, 3, 3, " two"),
                edit_id: None,
            },
        )
        .await;
    client
        .recv_while(|frames| {
            !frames
                .iter()
                .any(|f| matches!(f, choir_proto::ServerFrame::Ack { id: 3, .. }))
        })
        .await;

    let Reply::Moment { moment } = client
        .query(
            10,
            Query::Moment {
                at: Seek::Seq { seq: at_one.head },
            },
        )
        .await
    else {
        panic!("expected a moment");
    };
    assert_eq!(moment.seq, at_one.head);
    assert_eq!(*moment.world, at_one);
    // The document's text then, and now.
    let Reply::Doc { doc } = client
        .query(
            11,
            Query::DocAt {
                doc_id: DocId(1),
                version: 0,
                seq: at_one.head,
            },
        )
        .await
    else {
        panic!("expected a document");
    };
    assert_eq!((doc.version, doc.text().as_deref()), (0, Some("one")));

    let http = reqwest::Client::new();
    let url = format!("{}/api/moment?seq={}", daemon.url(), at_one.head);
    let body: serde_json::Value = http
        .get(&url)
        .bearer_auth(&daemon.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["seq"], at_one.head);
    let world: World = serde_json::from_value(body["world"].clone()).unwrap();
    assert_eq!(world, at_one);
    // Neither or both of seq and ts: a clear error.
    let response = http
        .get(format!("{}/api/moment", daemon.url()))
        .bearer_auth(&daemon.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let text = response.text().await.unwrap();
    assert!(text.contains("exactly one of seq= and ts="), "{text}");
    daemon.shutdown().await;
}

#[tokio::test]
async fn a_daemon_that_rebuilds_its_world_from_the_log_stores_the_past_snapshots_on_the_way() {
    let dir = tempfile::tempdir().unwrap();
    common::fill(
        dir.path(),
        (0..25_000u64).map(|i| EventBody::ChatThreadCreated {
            thread_id: ThreadId(i % 7 + 1),
            title: format!("t{i}"),
        }),
    )
    .await;
    let daemon = common::start_in(dir.path()).await;
    let heads = || -> Vec<i64> {
        let db = rusqlite::Connection::open(dir.path().join("snapshot.db")).unwrap();
        let mut query = db.prepare("SELECT head FROM past ORDER BY head").unwrap();
        query
            .query_map([], |row| row.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let deadline = std::time::Instant::now() + common::WAIT;
    while !heads().starts_with(&[10_000, 20_000]) {
        assert!(
            std::time::Instant::now() < deadline,
            "past snapshots: {:?}",
            heads()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    daemon.shutdown().await;
}

#[tokio::test]
async fn a_documents_text_at_every_past_version_is_right_from_the_checkpoints_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (store, snapshots) = open(dir.path()).await;
    let mut steps = vec![Step::Command(Command::CreateDoc {
        title: "notes".into(),
        content: String::new(),
        open: false,
        window_id: None,
    })];
    for (version, c) in "abcdefghijkl".chars().enumerate() {
        steps.push(Step::Command(Command::EditDoc {
            doc_id: DocId(1),
            base_version: version as u64,
            op: TextOp::splice(version, version, version, &c.to_string()),
            edit_id: None,
        }));
    }
    let log = write_history(&store, &steps).await;
    // The text and seq of each version, as a fold of the log has them.
    let mut world = World::default();
    let mut versions = Vec::new();
    for event in &log {
        world.apply(event);
        let doc = &world.docs[&DocId(1)];
        if versions.len() as u64 == doc.version {
            versions.push((event.seq, doc.text().unwrap()));
        }
    }
    let past = Past::new(store.clone(), snapshots.clone());
    let meta = world.docs[&DocId(1)].summary();
    let check = |past: Past, meta: choir_proto::Doc, versions: Vec<(u64, String)>| async move {
        for (version, (seq, text)) in versions.iter().enumerate() {
            let read = past.doc_text(&meta, version as u64, *seq).await.unwrap();
            assert_eq!(read.as_deref(), Some(text.as_str()), "version {version}");
        }
    };
    check(past.clone(), meta.clone(), versions.clone()).await;
    // With checkpoints kept at versions 4 and 9 and the current one at 12: the same texts.
    for version in [4usize, 9, 12] {
        let (seq, text) = versions[version].clone();
        let checkpoint = choir_daemon::actors::Checkpoint {
            version: version as u64,
            seq,
            text,
        };
        snapshots
            .save_checkpoint(DocId(1), &checkpoint)
            .await
            .unwrap();
    }
    check(past, meta, versions).await;
    store.shutdown().await;
}
