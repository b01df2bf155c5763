//! Documents end to end: clients editing one document at once over real WebSockets converge;
//! documents are mirrored as markdown files in the workspace and edits made to those files
//! from outside become `doc.edited` events.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use choir_daemon::RunningDaemon;
use choir_proto::{
    Command, DocId, DocSync, Event, EventBody, OpPart, Query, Reply, Rope, ServerFrame, TextOp,
    World,
};
use common::{Client, WAIT};
use pretty_assertions::assert_eq;

async fn world(daemon: &RunningDaemon) -> World {
    World::replay(&daemon.store.read(1, 100_000).await.unwrap())
}

/// Creates a document through a command and returns its id.
async fn create(client: &mut Client, title: &str, content: &str) -> DocId {
    client
        .command(
            1,
            Command::CreateDoc {
                title: title.into(),
                content: content.into(),
                open: false,
                window_id: None,
            },
        )
        .await;
    loop {
        if let ServerFrame::Event { event } = client.recv().await {
            if let EventBody::DocCreated { doc_id, .. } = event.body {
                return doc_id;
            }
        }
    }
}

/// A client with its own copy of the text, as the TUI editor keeps it.
struct Editor {
    client: Client,
    text: Rope,
    sync: DocSync,
    next_id: u64,
    inserts: usize,
    deletes: usize,
}

impl Editor {
    async fn send(&mut self, command: Option<Command>) {
        if let Some(command) = command {
            self.next_id += 1;
            self.client.command(self.next_id, command).await;
        }
    }

    async fn handle(&mut self, frame: ServerFrame) {
        match frame {
            ServerFrame::Event { event } => {
                if let EventBody::DocEdited {
                    version,
                    op,
                    edit_id,
                    ..
                } = &event.body
                {
                    let synced = self
                        .sync
                        .committed(*version, op, edit_id.as_deref())
                        .unwrap();
                    if let Some(op) = synced.apply {
                        op.apply_rope(&mut self.text).unwrap();
                    }
                    self.send(synced.send).await;
                }
            }
            ServerFrame::Error { message, .. } => panic!("an edit was refused: {message}"),
            _ => {}
        }
    }

    /// Types `count` characters (and deletes some) at pseudo-random places, reading frames
    /// as they come, like a person typing while someone else does too.
    async fn type_along(mut self, seed: u64, count: usize, letter: char) -> Editor {
        let mut state = seed;
        for _ in 0..count {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = self.text.len_chars();
            let at = (state >> 33) as usize % (len + 1);
            let op = if state.is_multiple_of(5) && at < len {
                self.deletes += 1;
                TextOp::splice(len, at, at + 1, "")
            } else {
                self.inserts += 1;
                TextOp::splice(len, at, at, &letter.to_string())
            };
            op.apply_rope(&mut self.text).unwrap();
            let command = self.sync.local(op).unwrap();
            self.send(command).await;
            // Whatever has arrived meanwhile.
            while let Ok(frame) =
                tokio::time::timeout(Duration::from_millis(1), self.client.recv()).await
            {
                self.handle(frame).await;
            }
        }
        while !self.sync.is_saved() {
            let frame = self.client.recv().await;
            self.handle(frame).await;
        }
        self
    }

    async fn catch_up(&mut self, version: u64) {
        while self.sync.version() < version {
            let frame = self.client.recv().await;
            self.handle(frame).await;
        }
    }
}

async fn editor(daemon: &RunningDaemon, doc_id: DocId, tag: &str) -> Editor {
    let (mut client, welcome) = Client::hello(daemon, None).await;
    let ServerFrame::Welcome {
        snapshot: Some(world),
        ..
    } = welcome
    else {
        panic!("no snapshot in {welcome:?}")
    };
    assert!(
        !world.docs[&doc_id].is_loaded(),
        "a welcome carries no text"
    );
    // The text comes on demand, as a writer window asks for it.
    let Reply::Doc { doc } = client.query(99, Query::Doc { doc_id }).await else {
        panic!("not a document")
    };
    let doc = &doc;
    Editor {
        client,
        text: doc.content.clone().unwrap(),
        sync: DocSync::new(doc_id, doc.version, tag),
        next_id: 100,
        inserts: 0,
        deletes: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_clients_typing_into_one_document_converge() {
    let (_dir, daemon) = common::start().await;
    let (mut setup, _) = Client::hello(&daemon, None).await;
    let doc_id = create(&mut setup, "Shared", "start\n").await;
    let a = editor(&daemon, doc_id, "a").await;
    let b = editor(&daemon, doc_id, "b").await;

    let (a, b) = tokio::join!(
        tokio::spawn(a.type_along(7, 150, 'a')),
        tokio::spawn(b.type_along(11, 150, 'b'))
    );
    let (mut a, mut b) = (a.unwrap(), b.unwrap());
    let doc = world(&daemon).await.docs[&doc_id].clone();
    a.catch_up(doc.version).await;
    b.catch_up(doc.version).await;

    let text = doc.text().unwrap();
    assert_eq!(a.text.to_string(), text);
    assert_eq!(b.text.to_string(), text);
    // Every insert is there and every delete removed at most one character: nothing was
    // dropped (two deletes of one character count once, so the length may be longer).
    let (inserts, deletes) = (a.inserts + b.inserts, a.deletes + b.deletes);
    let len = text.chars().count();
    assert!(
        len >= "start\n".len() + inserts - deletes && len <= "start\n".len() + inserts,
        "{len} characters after {inserts} inserts and {deletes} deletes: {text}"
    );
    let edits = daemon
        .store
        .read(1, 100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.body, EventBody::DocEdited { .. }))
        .count();
    assert!(
        edits > 2,
        "only {edits} edits: the clients never overlapped"
    );
    daemon.shutdown().await;
}

async fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

async fn events_of(daemon: &RunningDaemon) -> Vec<Event> {
    daemon.store.read(1, 100_000).await.unwrap()
}

#[tokio::test]
async fn documents_are_files_and_outside_edits_become_events() {
    let (dir, daemon) = common::start().await;
    let (mut client, _) = Client::hello(&daemon, None).await;
    let doc_id = create(&mut client, "Trip plan", "day one\nday two\n").await;
    let file = dir.path().join("workspace/docs/1-trip-plan.md");
    wait_for("the document's file", || {
        read(&file).filter(|text| text == "day one\nday two\n")
    })
    .await;

    // An editor changes the file: the change becomes an edit by `file`.
    std::fs::write(&file, "day one\nday one and a half\nday two\n").unwrap();
    let edited = loop {
        let events = events_of(&daemon).await;
        if let Some(event) = events
            .iter()
            .find(|e| matches!(e.body, EventBody::DocEdited { .. }))
        {
            break event.clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(edited.actor, "file");
    let EventBody::DocEdited {
        doc_id: id,
        version: 1,
        op,
        ..
    } = &edited.body
    else {
        panic!("{edited:?}")
    };
    assert_eq!(*id, doc_id);
    assert_eq!(
        op.apply("day one\nday two\n").unwrap(),
        "day one\nday one and a half\nday two\n"
    );
    assert!(
        !op.parts()
            .iter()
            .any(|part| matches!(part, OpPart::Delete(_))),
        "an added line deletes nothing (so it merges with edits around it): {op:?}"
    );

    // A client edit lands in the file.
    client
        .command(
            2,
            Command::EditDoc {
                doc_id,
                base_version: 1,
                op: TextOp::new().insert("# ").retain(35),
                edit_id: None,
            },
        )
        .await;
    wait_for("the client's edit in the file", || {
        read(&file).filter(|text| text.starts_with("# day one\n"))
    })
    .await;

    // Renaming moves the file; deleting removes it. The log has the final text.
    client
        .command(
            3,
            Command::RenameDoc {
                doc_id,
                title: "Road trip".into(),
            },
        )
        .await;
    let renamed = dir.path().join("workspace/docs/1-road-trip.md");
    wait_for("the renamed file", || read(&renamed)).await;
    assert!(!file.exists(), "the old name is gone");
    assert_eq!(
        world(&daemon).await.docs[&doc_id].text().unwrap(),
        "# day one\nday one and a half\nday two\n"
    );
    client.command(4, Command::DeleteDoc { doc_id }).await;
    wait_for("the deleted file to go", || {
        (!renamed.exists()).then_some(())
    })
    .await;
    daemon.shutdown().await;
}

#[tokio::test]
async fn a_file_edited_while_the_daemon_was_down_is_taken_in_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = common::start_in(dir.path()).await;
    let (mut client, _) = Client::hello(&daemon, None).await;
    let doc_id = create(&mut client, "Notes", "a\n").await;
    let file = dir.path().join("workspace/docs/1-notes.md");
    wait_for("the file", || read(&file)).await;
    drop(client);
    daemon.shutdown().await;

    std::fs::write(&file, "a\nb\n").unwrap();
    let daemon = common::start_in(dir.path()).await;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let doc = world(&daemon).await.docs[&doc_id].clone();
        if doc.text().as_deref() == Some("a\nb\n") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never taken in: {doc:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    daemon.shutdown().await;
}

/// The daemon died after committing an edit but before writing the file, and the file was then
/// edited: merging against text it no longer has could undo the committed edit, so the edited
/// file is kept beside the document and the document's file shows the log's text.
#[tokio::test]
async fn a_file_edited_after_a_lost_write_is_kept_beside_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = common::start_in(dir.path()).await;
    let (mut client, _) = Client::hello(&daemon, None).await;
    let doc_id = create(&mut client, "Log", "v0\n").await;
    client
        .command(
            2,
            Command::EditDoc {
                doc_id,
                base_version: 0,
                op: TextOp::new().retain(3).insert("v1\n"),
                edit_id: None,
            },
        )
        .await;
    let file = dir.path().join("workspace/docs/1-log.md");
    wait_for("the edit in the file", || {
        read(&file).filter(|text| text == "v0\nv1\n")
    })
    .await;
    drop(client);
    daemon.shutdown().await;
    // As if the last write had not happened: the record says version 0, the file is edited.
    let state_path = dir.path().join("docfiles.json");
    let state = std::fs::read_to_string(&state_path).unwrap();
    std::fs::write(
        &state_path,
        state.replace("\"version\": 1", "\"version\": 0"),
    )
    .unwrap();
    std::fs::write(&file, "v0\nmine\n").unwrap();

    let daemon = common::start_in(dir.path()).await;
    wait_for("the log's text in the file", || {
        read(&file).filter(|text| text == "v0\nv1\n")
    })
    .await;
    let kept: Vec<String> = std::fs::read_dir(dir.path().join("workspace/docs"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("conflict"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        read(&dir.path().join("workspace/docs").join(&kept[0])).unwrap(),
        "v0\nmine\n"
    );
    assert_eq!(
        world(&daemon).await.docs[&doc_id].text().unwrap(),
        "v0\nv1\n",
        "the log is unchanged"
    );
    daemon.shutdown().await;
}

#[tokio::test]
async fn bad_edits_get_clear_errors_and_change_nothing() {
    let (_dir, daemon) = common::start().await;
    let (mut client, _) = Client::hello(&daemon, None).await;
    let doc_id = create(&mut client, "Notes", "abc").await;
    let cases = [
        (
            Command::EditDoc {
                doc_id,
                base_version: 0,
                op: TextOp::new().retain(10).insert("x"),
                edit_id: None,
            },
            "invalid_command",
            "expects a text of 10 characters",
        ),
        (
            Command::EditDoc {
                doc_id,
                base_version: 7,
                op: TextOp::new().retain(3),
                edit_id: None,
            },
            "invalid_command",
            "cannot be rebased",
        ),
        (
            Command::EditDoc {
                doc_id: DocId(42),
                base_version: 0,
                op: TextOp::new(),
                edit_id: None,
            },
            "not_found",
            "no document with id 42",
        ),
        (
            Command::RenameDoc {
                doc_id,
                title: "   ".into(),
            },
            "invalid_command",
            "title cannot be empty",
        ),
    ];
    for (n, (command, code, text)) in cases.into_iter().enumerate() {
        let id = 10 + n as u64;
        client.command(id, command).await;
        let frames = client
            .recv_while(|f| !matches!(f.last(), Some(ServerFrame::Error { .. })))
            .await;
        assert!(
            !frames
                .iter()
                .any(|f| matches!(f, ServerFrame::Event { .. })),
            "{frames:?}"
        );
        let Some(ServerFrame::Error {
            id: Some(got),
            code: got_code,
            message,
        }) = frames.last()
        else {
            panic!("{frames:?}")
        };
        assert_eq!(*got, id);
        assert_eq!(got_code.as_str(), code);
        assert!(message.contains(text), "{message}");
    }
    // A raw frame with an op that is not an operation.
    client
        .send_text(
            r#"{"type":"command","id":99,"command":{"type":"doc.edit","doc_id":1,"base_version":0,"op":[{"retain":-1}]}}"#
                .into(),
        )
        .await;
    assert!(matches!(
        client.recv().await,
        ServerFrame::Error { id: Some(99), .. }
    ));
    // The connection and the document are as they were.
    assert_eq!(world(&daemon).await.docs[&doc_id].text().unwrap(), "abc");
    client
        .command(
            100,
            Command::EditDoc {
                doc_id,
                base_version: 0,
                op: TextOp::new().retain(3).insert("d"),
                edit_id: None,
            },
        )
        .await;
    let frames = client
        .recv_while(|f| {
            !f.iter()
                .any(|f| matches!(f, ServerFrame::Ack { id: 100, .. }))
        })
        .await;
    assert!(frames
        .iter()
        .any(|f| matches!(f, ServerFrame::Event { .. })));
    assert_eq!(world(&daemon).await.docs[&doc_id].text().unwrap(), "abcd");
    daemon.shutdown().await;
}
