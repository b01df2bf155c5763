use super::*;
use crate::command::Command;
use crate::frame::{Reply, PROTOCOL_VERSION};
use crate::world::ThreadPage;

use crate::testing::Daemon;

fn welcome(daemon: &Daemon) -> ServerFrame {
    ServerFrame::Welcome {
        protocol: PROTOCOL_VERSION,
        head: daemon.world.head,
        snapshot: Some(Box::new(daemon.world.welcome())),
        read_only: false,
    }
}

fn open_chat(daemon: &mut Daemon) -> ThreadId {
    daemon.run(&Command::OpenWindow {
        app: AppKind::Chat,
        title: None,
        rect: None,
    });
    ThreadId(daemon.world.desktop.focused.unwrap().0)
}

#[test]
fn a_document_a_window_shows_is_asked_for_once_and_again_only_after_a_new_welcome() {
    let mut daemon = Daemon::default();
    daemon.run(&Command::CreateDoc {
        title: "notes".into(),
        content: "hello".into(),
        open: true,
        window_id: None,
    });
    let doc_id = *daemon.world.docs.keys().next().unwrap();
    let mut replica = Replica::new();
    assert_eq!(
        replica.on_frame(welcome(&daemon)),
        Applied::Welcome { fresh: true }
    );
    assert!(!replica.world().docs[&doc_id].is_loaded());
    assert_eq!(replica.take_queries(), vec![Query::Doc { doc_id }]);
    // Other frames do not ask again while it is on its way.
    replica.on_frame(ServerFrame::Pong { nonce: 1 });
    assert!(replica.take_queries().is_empty());
    // The link broke before the reply: the next welcome asks again.
    replica.on_frame(ServerFrame::Welcome {
        protocol: PROTOCOL_VERSION,
        head: daemon.world.head,
        snapshot: None,
        read_only: false,
    });
    assert_eq!(replica.take_queries(), vec![Query::Doc { doc_id }]);
    let doc = daemon.world.docs[&doc_id].clone();
    assert_eq!(
        replica.on_frame(ServerFrame::Reply {
            id: 1,
            reply: Reply::Doc { doc }
        }),
        Applied::DocLoaded(doc_id)
    );
    assert_eq!(
        replica.world().docs[&doc_id]
            .content
            .as_ref()
            .unwrap()
            .to_string(),
        "hello"
    );
    replica.on_frame(ServerFrame::Pong { nonce: 2 });
    assert!(replica.take_queries().is_empty());
}

#[test]
fn events_apply_once_and_streaming_text_lasts_until_the_answer_is_committed() {
    let mut daemon = Daemon::default();
    let thread_id = open_chat(&mut daemon);
    let mut replica = Replica::new();
    replica.on_frame(welcome(&daemon));
    let posted = daemon.run(&Command::PostChat {
        thread_id,
        text: "hi".into(),
    });
    for event in posted.iter().chain(&posted) {
        replica.on_frame(ServerFrame::Event {
            event: event.clone(),
        });
    }
    assert_eq!(replica.world(), &daemon.world.welcome());
    assert_eq!(replica.world().chats[&thread_id].messages.len(), 1);
    for text in ["he", "llo"] {
        replica.on_frame(ServerFrame::Ephemeral {
            body: EphemeralBody::ChatDelta {
                thread_id,
                text: text.into(),
            },
        });
    }
    assert_eq!(replica.streaming(thread_id), Some("hello"));
    let answer = Event {
        seq: daemon.world.head + 1,
        ts: 0,
        actor: "agent".into(),
        correlation: None,
        v: 1,
        body: EventBody::ChatAssistantMessage {
            thread_id,
            text: "hello".into(),
            ending: None,
            tool_calls: Vec::new(),
        },
    };
    assert!(matches!(
        replica.on_frame(ServerFrame::Event { event: answer }),
        Applied::Event(_)
    ));
    assert_eq!(replica.streaming(thread_id), None);
}

#[test]
fn a_chat_scrolled_back_pages_in_each_older_message_once() {
    let mut daemon = Daemon::default();
    let thread_id = open_chat(&mut daemon);
    for n in 0..(WELCOME_MESSAGES + 2 * PAGE as usize + 7) {
        daemon.run(&Command::PostChat {
            thread_id,
            text: format!("message {n}"),
        });
    }
    let mut replica = Replica::new();
    replica.on_frame(welcome(&daemon));
    // The welcome carried a full page, so nothing is asked for until the reader scrolls.
    assert!(replica.take_queries().is_empty());
    let total = daemon.world.chats[&thread_id].messages.len();
    let mut rounds = 0;
    loop {
        replica.request_page(thread_id);
        replica.request_page(thread_id);
        let queries = replica.take_queries();
        if queries.is_empty() {
            break;
        }
        assert_eq!(queries.len(), 1, "asked twice: {queries:?}");
        assert!(replica.is_paging(thread_id));
        let Query::ThreadMessages { before, limit, .. } = queries[0] else {
            panic!()
        };
        let held = &daemon.world.chats[&thread_id];
        let older: Vec<_> = held
            .messages
            .iter()
            .filter(|message| message.seq < before.unwrap())
            .cloned()
            .collect();
        let page_messages = older[older.len().saturating_sub(limit as usize)..].to_vec();
        let page = ThreadPage {
            thread_id,
            messages: page_messages,
            tools: Vec::new(),
            more: older.len() > limit as usize,
        };
        replica.on_frame(ServerFrame::Reply {
            id: rounds,
            reply: Reply::ThreadMessages { page },
        });
        rounds += 1;
        assert!(rounds < 100);
    }
    let texts: Vec<_> = replica.world().chats[&thread_id]
        .messages
        .iter()
        .map(|message| message.text.clone())
        .collect();
    let expected: Vec<_> = (0..total).map(|n| format!("message {n}")).collect();
    assert_eq!(texts, expected);
}

#[test]
fn a_query_not_sent_is_asked_again_and_a_failed_page_may_be_asked_again() {
    let mut daemon = Daemon::default();
    let thread_id = open_chat(&mut daemon);
    for n in 0..(WELCOME_MESSAGES + 5) {
        daemon.run(&Command::PostChat {
            thread_id,
            text: format!("m{n}"),
        });
    }
    let mut replica = Replica::new();
    replica.on_frame(welcome(&daemon));
    replica.request_page(thread_id);
    let query = replica.take_queries().pop().unwrap();
    replica.query_not_sent(query.clone());
    replica.request_page(thread_id);
    assert_eq!(replica.take_queries(), vec![query.clone()]);
    replica.query_failed(&query);
    assert!(!replica.is_paging(thread_id));
}

#[test]
fn a_replaying_replica_shows_moments_reads_texts_of_their_version_and_only_counts_live_events() {
    let mut daemon = Daemon::default();
    daemon.run(&Command::CreateDoc {
        title: "notes".into(),
        content: "hello".into(),
        open: true,
        window_id: None,
    });
    let doc_id = *daemon.world.docs.keys().next().unwrap();
    let then = daemon.world.welcome();
    let mut replica = Replica::replay(Seek::Seq { seq: then.head });
    // The welcome (the live world) is not shown; the moment asked for is.
    daemon.run(&Command::EditDoc {
        doc_id,
        base_version: 0,
        op: crate::TextOp::splice(5, 5, 5, "!"),
        edit_id: None,
    });
    assert_eq!(
        replica.on_frame(welcome(&daemon)),
        Applied::Welcome { fresh: false }
    );
    assert!(replica.world().desktop.windows.is_empty());
    assert_eq!(
        replica.take_queries(),
        vec![Query::Moment {
            at: Seek::Seq { seq: then.head }
        }]
    );
    let moment = crate::frame::Moment {
        seq: then.head,
        ts: 0,
        head: daemon.world.head,
        world: Box::new(then.clone()),
        at: Some(Seek::Seq { seq: then.head }),
    };
    assert_eq!(
        replica.on_frame(ServerFrame::Reply {
            id: 1,
            reply: Reply::Moment { moment }
        }),
        Applied::Welcome { fresh: true }
    );
    assert_eq!(replica.world(), &then);
    // The document shown is read as it was then.
    assert_eq!(
        replica.take_queries(),
        vec![Query::DocAt {
            doc_id,
            version: then.docs[&doc_id].version,
            seq: then.head,
        }]
    );
    // A reply for another version (a move made since) is not taken.
    let mut later = daemon.world.docs[&doc_id].clone();
    later.version += 1;
    replica.on_frame(ServerFrame::Reply {
        id: 2,
        reply: Reply::Doc { doc: later },
    });
    assert!(!replica.world().docs[&doc_id].is_loaded());
    // A live event moves the head, not the world.
    let event = crate::Event {
        seq: daemon.world.head + 1,
        ts: 0,
        actor: "t".into(),
        correlation: None,
        v: 1,
        body: EventBody::WindowFocused {
            window_id: crate::WindowId(1),
        },
    };
    assert_eq!(
        replica.on_frame(ServerFrame::Event { event }),
        Applied::Quiet
    );
    assert_eq!(replica.world(), &then);
    assert_eq!(
        replica.timeline().map(Timeline::head),
        Some(daemon.world.head + 1)
    );
    // A move whose query was lost with the link is asked again.
    replica.travel(|timeline| timeline.step(-1));
    let asked = replica.take_queries();
    assert_eq!(asked.len(), 1);
    replica.query_not_sent(asked[0].clone());
    assert_eq!(replica.take_queries(), asked);
    // ... and so is one whose link just went, once the next welcome comes.
    assert_eq!(replica.take_queries(), vec![]);
    replica.on_frame(welcome(&daemon));
    assert_eq!(replica.take_queries(), asked);
}

/// A shell window (1) whose shell started, and a replica that has it.
fn shell_room() -> (Daemon, Replica) {
    let mut daemon = Daemon::default();
    daemon.run(&Command::OpenWindow {
        app: AppKind::Shell,
        title: None,
        rect: Some(crate::Rect::new(0, 0, 22, 6)),
    });
    daemon.record(EventBody::ShellStarted {
        window_id: WindowId(1),
        program: "sh".into(),
        rows: 4,
        cols: 20,
        scrollback: 10,
    });
    let mut replica = Replica::new();
    replica.on_frame(welcome(&daemon));
    (daemon, replica)
}

fn ahead(window: u64, chunk: u64, data: &str) -> ServerFrame {
    ServerFrame::Ephemeral {
        body: EphemeralBody::ShellOutput {
            window_id: WindowId(window),
            chunk,
            data: data.into(),
        },
    }
}

fn output(daemon: &mut Daemon, chunk: u64, data: &str) -> ServerFrame {
    ServerFrame::Event {
        event: daemon.record(EventBody::ShellOutput {
            window_id: WindowId(1),
            data: data.into(),
            chunk,
        }),
    }
}

fn drawn(replica: &Replica) -> String {
    replica.shell_screen(WindowId(1)).unwrap().text()
}

#[test]
fn shell_output_is_drawn_ahead_of_its_commit_and_let_go_when_it_comes() {
    let (mut daemon, mut replica) = shell_room();
    replica.on_frame(ahead(1, 1, "$ l"));
    replica.on_frame(ahead(1, 2, "s"));
    assert_eq!(drawn(&replica), "$ ls\n\n\n");
    // The world holds only what is committed.
    assert_eq!(
        replica.world().shells[&WindowId(1)].terminal.text(),
        "\n\n\n"
    );
    // Its event shows nothing new: a client need not draw for it.
    let applied = replica.on_frame(output(&mut daemon, 1, "$ l"));
    assert!(matches!(applied, Applied::Confirmed(_)), "{applied:?}");
    assert_eq!(
        drawn(&replica),
        "$ ls\n\n\n",
        "the second piece is still drawn ahead"
    );
    replica.on_frame(output(&mut daemon, 2, "s"));
    assert_eq!(drawn(&replica), "$ ls\n\n\n");
    assert_eq!(
        replica.world().shells[&WindowId(1)].terminal.text(),
        "$ ls\n\n\n"
    );
    // A piece that comes after its event (the two travel apart) is not drawn twice; the
    // event, drawn by no piece ahead, is news.
    let applied = replica.on_frame(output(&mut daemon, 3, "x"));
    assert!(matches!(applied, Applied::Event(_)), "{applied:?}");
    replica.on_frame(ahead(1, 3, "x"));
    assert_eq!(drawn(&replica), "$ lsx\n\n\n");
}

#[test]
fn what_was_drawn_ahead_goes_with_a_new_screen_or_a_new_welcome() {
    let (mut daemon, mut replica) = shell_room();
    replica.on_frame(ahead(1, 1, "never committed"));
    assert!(drawn(&replica).starts_with("never committed"));
    // The daemon died before the commit: the welcome of the next link is the truth.
    replica.on_frame(welcome(&daemon));
    assert_eq!(drawn(&replica), "\n\n\n");
    // A new screen (a flood's image) replaces what was drawn ahead.
    replica.on_frame(ahead(1, 1, "abc"));
    replica.on_frame(ServerFrame::Event {
        event: daemon.record(EventBody::ShellScreen {
            window_id: WindowId(1),
            rows: 4,
            cols: 20,
            image: "img".into(),
            skipped: 9,
        }),
    });
    assert_eq!(drawn(&replica), "img\n\n\n");
    // Output for a window without a shell is nothing to draw.
    replica.on_frame(ahead(9, 1, "ghost"));
    assert!(replica.shell_screen(WindowId(9)).is_none());
}

mod drawn_ahead {
    //! Whatever order a shell's pieces and their events come in (a piece before its event,
    //! after it, or never; a resize between), the screen drawn is the committed screen with
    //! the pieces taken and not committed yet on top, and an event is news exactly when no
    //! piece drew it.

    use std::collections::VecDeque;

    use super::*;
    use proptest::prelude::*;

    /// Output whose whole effect is on the screen (an image copies it exactly).
    const PIECES: &[&str] = &[
        "x",
        "ab ",
        "\r\n",
        "\x1b[31m",
        "\x1b[0m",
        "\x1b[H",
        "\x1b[2J",
        "\x08",
        "\x1b[K",
        "0123456789abcdefghij\r\n",
    ];

    #[derive(Debug, Clone)]
    enum Fate {
        /// Its piece comes (before or after its event, as the schedule says).
        Ahead,
        /// Its piece is lost (the client lagged): only its event comes.
        Lost,
        /// Not output: the shell is resized.
        Resize(u16),
    }

    fn fate() -> impl Strategy<Value = Fate> {
        prop_oneof![
            8 => Just(Fate::Ahead),
            1 => Just(Fate::Lost),
            1 => (3u16..6).prop_map(Fate::Resize),
        ]
    }

    proptest! {
        #[test]
        fn the_screen_drawn_is_the_committed_one_with_the_pieces_ahead_on_top(
            steps in proptest::collection::vec((0..PIECES.len(), fate()), 1..40),
            schedule in proptest::collection::vec(any::<bool>(), 80),
        ) {
            let (mut daemon, mut replica) = shell_room();
            // What comes, in the order the daemon sends each kind.
            let mut pieces = VecDeque::new();
            let mut events = VecDeque::new();
            let mut chunk = 0;
            for (piece, fate) in &steps {
                let body = match fate {
                    Fate::Resize(rows) => EventBody::ShellResized {
                        window_id: WindowId(1),
                        rows: *rows,
                        cols: 20,
                    },
                    Fate::Ahead | Fate::Lost => {
                        chunk += 1;
                        if matches!(fate, Fate::Ahead) {
                            pieces.push_back(ahead(1, chunk, PIECES[*piece]));
                        }
                        EventBody::ShellOutput {
                            window_id: WindowId(1),
                            data: PIECES[*piece].into(),
                            chunk,
                        }
                    }
                };
                events.push_back(daemon.record(body));
            }
            // The pieces taken and not committed yet, as the model has them.
            let mut taken: Vec<(u64, String)> = Vec::new();
            let mut schedule = schedule.into_iter().chain(std::iter::repeat(true));
            while !pieces.is_empty() || !events.is_empty() {
                let piece_first = schedule.next().unwrap_or(true);
                if piece_first && !pieces.is_empty() || events.is_empty() {
                    let frame = pieces.pop_front().unwrap();
                    if let ServerFrame::Ephemeral {
                        body: EphemeralBody::ShellOutput { chunk, data, .. },
                    } = &frame
                    {
                        let committed = replica.world().shells[&WindowId(1)].chunk;
                        if *chunk > committed {
                            taken.push((*chunk, data.clone()));
                        }
                    }
                    replica.on_frame(frame);
                } else {
                    let event = events.pop_front().unwrap();
                    let news = match &event.body {
                        EventBody::ShellOutput { chunk, .. } => {
                            let drew = taken.iter().any(|(c, _)| c == chunk);
                            taken.retain(|(c, _)| c > chunk);
                            !drew
                        }
                        _ => {
                            taken.clear();
                            true
                        }
                    };
                    let applied = replica.on_frame(ServerFrame::Event { event });
                    prop_assert_eq!(
                        matches!(applied, Applied::Event(_)),
                        news,
                        "{:?}",
                        applied
                    );
                }
                let mut expected = replica.world().shells[&WindowId(1)].terminal.clone();
                for (_, data) in &taken {
                    expected.feed(data.as_bytes());
                }
                let shown = replica.shell_screen(WindowId(1)).unwrap();
                prop_assert_eq!(shown.image(), expected.image());
            }
            // Everything committed: the committed screen itself.
            prop_assert_eq!(
                replica.shell_screen(WindowId(1)).unwrap().image(),
                daemon.world.shells[&WindowId(1)].terminal.image()
            );
        }
    }
}
