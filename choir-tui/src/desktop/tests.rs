//! The desktop driven headless: input bytes in, commands out, decided by the same
//! `choir_proto::decide` the daemon runs, events back in; the screen snapshotted.

use choir_proto::{
    decide, AppKind, Command, Event, EventBody, Rect as Cells, ServerFrame, ThreadId, WindowId,
    World,
};
use pretty_assertions::assert_eq;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use super::*;
use crate::input::InputParser;

/// A desktop wired to an in-memory daemon: `decide` + a log.
struct Harness {
    desktop: Desktop,
    server: World,
    log: Vec<Event>,
    parser: InputParser,
    sent: Vec<Command>,
    copied: Vec<String>,
    quit: bool,
}

impl Harness {
    fn new(width: u16, height: u16) -> Self {
        let mut desktop = Desktop::new(Theme::monochrome(), 0);
        desktop.resize(width, height);
        desktop.set_clock("12:00".into());
        desktop.on_frame(ServerFrame::Welcome {
            protocol: 1,
            head: 0,
            snapshot: Some(Box::default()),
            read_only: false,
        });
        Self {
            desktop,
            server: World::default(),
            log: Vec::new(),
            parser: InputParser::new(),
            sent: Vec::new(),
            copied: Vec::new(),
            quit: false,
        }
    }

    /// What the daemon would do with a command from this client.
    fn execute(&mut self, command: &Command) {
        let Ok(bodies) = decide(&self.server, command) else {
            return;
        };
        for body in bodies {
            self.commit(body);
        }
    }

    /// An event from anywhere (another client, the agent) reaching this desktop.
    fn commit(&mut self, body: EventBody) {
        let event = Event {
            seq: self.log.len() as u64 + 1,
            ts: 1_700_000_000_000 + self.log.len() as i64 * 61_000,
            actor: "test".into(),
            correlation: None,
            v: 1,
            body,
        };
        self.server.apply(&event);
        self.log.push(event.clone());
        self.desktop.on_frame(ServerFrame::Event { event });
        for command in self.desktop.take_outbox() {
            self.execute(&command);
            self.sent.push(command);
        }
    }

    fn actions(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::Send(command) => {
                    self.execute(&command);
                    self.sent.push(command);
                }
                Action::Copy(text) => self.copied.push(text),
                Action::Quit => self.quit = true,
            }
        }
    }

    fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        let mut events = self.parser.feed(bytes);
        events.extend(self.parser.flush());
        for event in events {
            let actions = self.desktop.handle_input(event);
            self.actions(actions);
        }
        self
    }

    fn click(&mut self, x: u16, y: u16) -> &mut Self {
        self.bytes(format!("\x1b[<0;{};{}M\x1b[<0;{};{}m", x + 1, y + 1, x + 1, y + 1).as_bytes())
    }

    fn drag(&mut self, from: (u16, u16), to: (u16, u16)) -> &mut Self {
        let (fx, fy, tx, ty) = (from.0 + 1, from.1 + 1, to.0 + 1, to.1 + 1);
        let mid = ((fx + tx) / 2, (fy + ty) / 2);
        self.bytes(
            format!(
                "\x1b[<0;{fx};{fy}M\x1b[<32;{};{}M\x1b[<32;{tx};{ty}M\x1b[<0;{tx};{ty}m",
                mid.0, mid.1
            )
            .as_bytes(),
        )
    }

    fn take_sent(&mut self) -> Vec<Command> {
        std::mem::take(&mut self.sent)
    }

    fn window(&self, id: u64) -> &choir_proto::Window {
        &self.desktop.world().desktop.windows[&WindowId(id)]
    }

    fn screen(&self) -> String {
        let (w, h) = self.desktop.size();
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal.draw(|frame| self.desktop.render(frame)).unwrap();
        terminal.backend().to_string()
    }

    fn open(&mut self, app: AppKind, rect: Cells) -> &mut Self {
        let command = Command::OpenWindow {
            app,
            title: None,
            rect: Some(rect),
        };
        self.execute(&command);
        self
    }
}

const PREFIX: &[u8] = b"\x01";

fn prefixed(key: &str) -> Vec<u8> {
    [PREFIX, key.as_bytes()].concat()
}

#[test]
fn empty_desktop_80x24() {
    let harness = Harness::new(80, 24);
    insta::assert_snapshot!(harness.screen());
}

#[test]
fn overlapping_windows_focused_and_unfocused() {
    let mut h = Harness::new(80, 24);
    h.open(AppKind::EventLog, Cells::new(1, 1, 50, 12))
        .open(AppKind::Writer, Cells::new(30, 6, 40, 10))
        .open(AppKind::Chat, Cells::new(10, 9, 44, 11));
    h.bytes(b"hello");
    insta::assert_snapshot!(h.screen());
    // Focus the bottom window by clicking it: it comes to the top.
    h.click(3, 3);
    assert_eq!(
        h.take_sent(),
        vec![Command::FocusWindow {
            window_id: WindowId(1)
        }]
    );
    assert_eq!(h.desktop.world().desktop.z_order.last(), Some(&WindowId(1)));
    insta::assert_snapshot!("overlapping_windows_after_click", h.screen());
}

#[test]
fn minimized_window_lives_in_the_taskbar() {
    let mut h = Harness::new(80, 24);
    h.open(AppKind::Chat, Cells::new(2, 1, 40, 10))
        .open(AppKind::Writer, Cells::new(20, 5, 40, 10));
    h.bytes(&prefixed("-"));
    assert_eq!(
        h.take_sent(),
        vec![Command::MinimizeWindow {
            window_id: WindowId(2)
        }]
    );
    assert!(h.window(2).minimized);
    assert_eq!(h.desktop.world().desktop.focused, Some(WindowId(1)));
    let screen = h.screen();
    insta::assert_snapshot!(screen);
    // Clicking its taskbar entry restores it.
    let entry = screen.lines().last().unwrap().find("2:(Writer)").unwrap() as u16;
    h.click(entry, 23);
    assert_eq!(
        h.take_sent(),
        vec![Command::FocusWindow {
            window_id: WindowId(2)
        }]
    );
    assert!(!h.window(2).minimized);
    // And clicking the focused entry minimizes it again.
    h.click(entry, 23);
    assert_eq!(
        h.take_sent(),
        vec![Command::MinimizeWindow {
            window_id: WindowId(2)
        }]
    );
}

#[test]
fn help_overlay() {
    let mut h = Harness::new(80, 24);
    h.bytes(b"\x1bOP");
    insta::assert_snapshot!(h.screen());
    // Too tall for 24 rows: it scrolls to the last binding.
    assert!(!h.screen().contains("back to the list"));
    h.bytes(&b"\x1b[B".repeat(8));
    assert!(h.screen().contains("back to the list"));
    h.bytes(b"x");
    assert!(!h.screen().contains("Help"));
    h.bytes(&prefixed("?"));
    assert!(h.screen().contains("Help — ↑↓ scroll"));
    assert!(h.screen().contains("C-a c/e/w/s"), "opens at the top again");
}

#[test]
fn chat_with_long_wrapped_and_wide_messages() {
    let mut h = Harness::new(80, 24);
    h.open(AppKind::Chat, Cells::new(4, 2, 50, 18));
    let thread_id = ThreadId(1);
    h.commit(EventBody::ChatUserMessage {
        thread_id,
        text: "Could you summarise the design of the event store in a few sentences, please?"
            .into(),
    });
    h.commit(EventBody::ChatAssistantMessage {
        thread_id,
        text: "One writer task batches appends into a transaction; subscribers read from disk, then live. 漢字も正しく折り返す。".into(), ending: None, tool_calls: Vec::new() });
    h.desktop.on_frame(ServerFrame::Ephemeral {
        body: choir_proto::EphemeralBody::ChatDelta {
            thread_id,
            text: "Streaming…".into(),
        },
    });
    insta::assert_snapshot!(h.screen());
}

#[test]
fn event_log_window_with_a_type_filter() {
    let mut h = Harness::new(80, 24);
    h.open(AppKind::Chat, Cells::new(0, 0, 30, 8));
    h.bytes(b"first\r");
    h.open(AppKind::EventLog, Cells::new(0, 9, 80, 12));
    insta::assert_snapshot!("event_log_following", h.screen());
    h.bytes(b"/chat\r");
    let screen = h.screen();
    assert!(screen.contains("chat.user_message"), "{screen}");
    assert!(!screen.contains(" window.opened"), "{screen}");
    h.bytes(b"f");
    let before = h.screen();
    h.commit(EventBody::ChatUserMessage {
        thread_id: ThreadId(1),
        text: "later".into(),
    });
    // Paused: the new event does not move the view.
    assert!(!h.screen().contains("\"later\""), "{}", h.screen());
    assert!(h.screen().contains("paused"));
    h.bytes(b"f");
    assert!(h.screen().contains("\"later\""));
    assert_ne!(before, h.screen());
}

#[test]
fn big_and_small_screens_see_the_same_layout_clamped() {
    let mut h = Harness::new(200, 50);
    h.open(AppKind::EventLog, Cells::new(100, 20, 90, 25))
        .open(AppKind::Chat, Cells::new(5, 3, 70, 20));
    insta::assert_snapshot!("layout_200x50", h.screen());
    h.bytes(b"\x1b[8;24;80t"); // ignored garbage-ish sequence
    h.desktop.handle_input(InputEvent::Resize(80, 24));
    insta::assert_snapshot!("layout_80x24", h.screen());
    // Nothing was sent: clamping is a drawing matter.
    assert_eq!(h.take_sent(), vec![]);
}

#[test]
fn typing_in_chat_posts_a_message_and_it_shows() {
    let mut h = Harness::new(80, 24);
    h.bytes(&prefixed("c"));
    // The first window takes the whole desktop area.
    assert_eq!(
        h.take_sent(),
        vec![Command::OpenWindow {
            app: AppKind::Chat,
            title: None,
            rect: Some(choir_proto::Rect::new(0, 0, 80, 22))
        }]
    );
    h.bytes("héllo 漢\x0asecond line\r".as_bytes());
    assert_eq!(
        h.take_sent(),
        vec![Command::PostChat {
            thread_id: ThreadId(1),
            text: "héllo 漢\nsecond line".into()
        }]
    );
    let messages = &h.desktop.world().chats[&ThreadId(1)].messages;
    assert_eq!(messages.len(), 1);
    assert!(h.screen().contains("héllo 漢"));
    // An empty Enter sends nothing; C-a C-a is not a desktop command.
    h.bytes(b"\r\x01\x01");
    assert_eq!(h.take_sent(), vec![]);
    // Copy the newest message.
    h.bytes(&prefixed("y"));
    assert_eq!(h.copied, vec!["héllo 漢\nsecond line".to_owned()]);
}

#[test]
fn drag_title_bar_moves_and_drag_corner_resizes() {
    let mut h = Harness::new(80, 24);
    h.open(AppKind::Writer, Cells::new(10, 5, 30, 10));
    h.drag((20, 5), (26, 8));
    let sent = h.take_sent();
    assert_eq!(
        sent.last(),
        Some(&Command::MoveWindow {
            window_id: WindowId(1),
            x: 16,
            y: 8
        })
    );
    assert_eq!(h.window(1).rect, Cells::new(16, 8, 30, 10));
    // Bottom-right corner is at (16+29, 8+9).
    h.drag((45, 17), (50, 19));
    assert_eq!(h.window(1).rect, Cells::new(16, 8, 35, 12));
    // Top-left corner keeps the bottom-right edge in place.
    h.drag((16, 8), (14, 7));
    assert_eq!(h.window(1).rect, Cells::new(14, 7, 37, 13));
    assert!(h
        .take_sent()
        .iter()
        .all(|c| matches!(c, Command::MoveWindow { .. } | Command::ResizeWindow { .. })));
}

#[test]
fn title_buttons_close_maximize_minimize() {
    let mut h = Harness::new(80, 24);
    h.open(AppKind::Writer, Cells::new(10, 5, 30, 10))
        .open(AppKind::EventLog, Cells::new(40, 2, 30, 10));
    // Maximize button of window 2: x + w - 5.
    h.click(40 + 30 - 5, 2);
    assert!(h.window(2).maximized);
    assert!(h.screen().lines().next().unwrap().contains("2:Event log"));
    h.bytes(&prefixed("z"));
    assert!(!h.window(2).maximized);
    h.click(40 + 30 - 7, 2);
    assert!(h.window(2).minimized);
    h.click(10 + 30 - 3, 5);
    assert!(!h.desktop.world().desktop.windows.contains_key(&WindowId(1)));
}

#[test]
fn keyboard_move_resize_focus_cycle_tile_and_quit() {
    let mut h = Harness::new(80, 24);
    h.open(AppKind::Writer, Cells::new(10, 5, 30, 10))
        .open(AppKind::Writer, Cells::new(12, 6, 30, 10));
    h.bytes(&prefixed("m")).bytes(b"\x1b[C\x1b[C\x1b[1;2B\r");
    assert_eq!(h.window(2).rect, Cells::new(14, 11, 30, 10));
    h.bytes(&prefixed("r")).bytes(b"\x1b[D\x1b[A\x1b");
    assert_eq!(h.window(2).rect, Cells::new(14, 11, 29, 9));
    // Arrows after Esc go to the app, not the window.
    h.bytes(b"\x1b[D");
    assert_eq!(h.window(2).rect, Cells::new(14, 11, 29, 9));
    h.bytes(&prefixed("n"));
    assert_eq!(h.desktop.world().desktop.focused, Some(WindowId(1)));
    h.bytes(&prefixed("t"));
    assert_eq!(h.window(1).rect, Cells::new(0, 0, 40, 22));
    assert_eq!(h.window(2).rect, Cells::new(40, 0, 40, 22));
    h.bytes(&prefixed("x"));
    assert!(!h.desktop.world().desktop.windows.contains_key(&WindowId(1)));
    h.bytes(&prefixed("q"));
    assert!(h.quit);
}

#[test]
fn launcher_opens_apps_by_keyboard_and_mouse() {
    let mut h = Harness::new(80, 24);
    h.bytes(&prefixed(" "));
    insta::assert_snapshot!(h.screen());
    h.bytes(b"\x1b[B\r");
    assert_eq!(
        h.take_sent(),
        vec![Command::OpenWindow {
            app: AppKind::EventLog,
            title: None,
            rect: Some(choir_proto::Rect::new(0, 0, 80, 22))
        }]
    );
    // The taskbar's menu button, then the third entry (Writer): no free space is left, so
    // the daemon cascades it.
    h.click(2, 23);
    let menu = super::render::launcher_rect(80, 24, &choir_desktop::launcher(&Default::default()));
    h.click(menu.x + 3, menu.y + 3);
    assert_eq!(
        h.take_sent(),
        vec![Command::OpenWindow {
            app: AppKind::Writer,
            title: None,
            rect: None
        }]
    );
}

#[test]
fn the_launcher_lists_installed_apps_and_opens_them_by_keyboard_and_mouse() {
    let mut h = Harness::new(80, 24);
    for name in ["timer", "tool-dashboard"] {
        h.commit(EventBody::AppBuilt {
            name: name.into(),
            version: "0123456789abcdef".into(),
            bytes: 1,
        });
    }
    h.bytes(&prefixed(" "));
    let screen = h.screen();
    assert!(screen.contains("▸  timer"), "{screen}");
    assert!(screen.contains("▸  tool-dashboard"), "{screen}");
    // After the six built-in apps: the seventh entry is the first installed app.
    h.bytes(b"\x1b[B\x1b[B\x1b[B\x1b[B\x1b[B\x1b[B\r");
    assert_eq!(
        h.take_sent(),
        vec![Command::OpenWindow {
            app: AppKind::App("timer".into()),
            title: None,
            rect: Some(choir_proto::Rect::new(0, 0, 80, 22))
        }]
    );
    h.bytes(&prefixed(" "));
    let entries = choir_desktop::launcher(&h.desktop.world().apps);
    let menu = super::render::launcher_rect(80, 24, &entries);
    assert!(menu.width > 18, "wide enough for tool-dashboard: {menu:?}");
    // The eighth entry; the timer's window fills the screen, so the daemon cascades it.
    h.click(menu.x + 3, menu.y + 8);
    assert_eq!(
        h.take_sent(),
        vec![Command::OpenWindow {
            app: AppKind::App("tool-dashboard".into()),
            title: None,
            rect: None
        }]
    );
    // Removed, it is no longer offered.
    h.commit(EventBody::AppRemoved {
        name: "timer".into(),
    });
    h.bytes(&prefixed(" "));
    let screen = h.screen();
    assert!(screen.contains("▸  tool-dashboard"), "{screen}");
    assert!(!screen.contains("▸  timer"), "{screen}");
}

#[test]
fn a_launcher_longer_than_the_screen_scrolls_to_what_is_chosen() {
    let mut h = Harness::new(80, 16);
    for n in 0..20 {
        h.commit(EventBody::AppBuilt {
            name: format!("app-{n:02}"),
            version: "0123456789abcdef".into(),
            bytes: 1,
        });
    }
    h.bytes(&prefixed(" "));
    assert!(h.screen().contains("c  Chat"), "{}", h.screen());
    assert!(!h.screen().contains("q  Quit"), "{}", h.screen());
    // Down to the last entry: the list follows, Quit in sight, Chat scrolled away.
    for _ in 0..40 {
        h.bytes(b"\x1b[B");
    }
    let screen = h.screen();
    assert!(screen.contains("q  Quit"), "{screen}");
    assert!(!screen.contains("c  Chat"), "{screen}");
    // A click on the row above Quit chooses what is drawn there: Help.
    let entries = choir_desktop::launcher(&h.desktop.world().apps);
    let menu = super::render::launcher_rect(80, 16, &entries);
    h.click(menu.x + 3, menu.y + menu.height - 3);
    assert!(h.take_sent().is_empty());
    assert!(
        matches!(h.desktop.keymap.mode(), choir_desktop::Mode::Help { .. }),
        "{}",
        h.screen()
    );
}

#[test]
fn wheel_and_page_keys_scroll_the_chat() {
    let mut h = Harness::new(80, 24);
    h.open(AppKind::Chat, Cells::new(0, 0, 40, 12));
    for n in 0..40 {
        h.commit(EventBody::ChatUserMessage {
            thread_id: ThreadId(1),
            text: format!("message {n}"),
        });
    }
    assert!(h.screen().contains("message 39"));
    h.bytes(b"\x1b[5~");
    assert!(!h.screen().contains("message 39"));
    assert!(h.screen().contains("more lines"));
    h.bytes(b"\x1b[<65;5;5M\x1b[<65;5;5M\x1b[<65;5;5M\x1b[<65;5;5M");
    assert!(h.screen().contains("message 39"));
    // Far past the top stops at the first message.
    for _ in 0..100 {
        h.bytes(b"\x1b[<64;5;5M");
    }
    assert!(
        h.screen().contains("message 0\n") || h.screen().contains("message 0 "),
        "{}",
        h.screen()
    );
}

#[test]
fn server_errors_show_on_the_hint_line_and_reconnects_resume() {
    let mut h = Harness::new(80, 24);
    h.desktop.on_frame(ServerFrame::Error {
        id: Some(3),
        code: choir_proto::ErrorCode::NotFound,
        message: "no window with id 9".into(),
    });
    assert!(h.screen().contains("not_found: no window with id 9"));
    h.open(AppKind::Writer, Cells::new(0, 0, 20, 5));
    assert_eq!(h.desktop.head(), 1);
    // The same event again (a snapshot overlapping the stream) changes nothing.
    let again = h.log[0].clone();
    h.desktop.on_frame(ServerFrame::Event { event: again });
    assert_eq!(h.desktop.world().desktop.windows.len(), 1);
    h.desktop.set_connection(Connection::Reconnecting {
        attempt: 2,
        reason: None,
    });
    assert!(h.screen().contains("reconnecting (2)"));
}

#[test]
fn history_fills_the_event_log_behind_live_events() {
    let mut h = Harness::new(80, 24);
    h.open(AppKind::Writer, Cells::new(0, 0, 20, 5))
        .open(AppKind::EventLog, Cells::new(0, 6, 80, 10));
    let live: Vec<u64> = h.desktop.log.iter().map(|e| e.seq).collect();
    assert_eq!(live, vec![1, 2]);
    // History up to seq 2 arrives while seq 2 is already in the log: the older event goes in
    // front and nothing appears twice.
    let mut older = Vec::new();
    for seq in 1..=2 {
        older.push(h.log[seq - 1].clone());
    }
    h.desktop.log.clear();
    h.desktop.log.push(Arc::new(h.log[1].clone()));
    h.desktop.add_history(older);
    let seqs: Vec<u64> = h.desktop.log.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![1, 2]);
}

#[test]
fn tool_cards_in_chat_and_approve_deny_cancel_keys() {
    use choir_proto::CallId;
    let mut h = Harness::new(80, 24);
    h.open(AppKind::Chat, Cells::new(2, 1, 70, 20));
    let thread_id = ThreadId(1);
    h.bytes(b"list the files\r");
    h.commit(EventBody::ChatTurnStarted { thread_id });
    h.commit(EventBody::ToolStarted {
        call_id: CallId("c1".into()),
        tool: "list_files".into(),
        args: serde_json::json!({"recursive": true}),
        thread_id: Some(thread_id),
    });
    h.commit(EventBody::ToolFinished {
        call_id: CallId("c1".into()),
        ok: true,
        exit_code: None,
        output: "a.md\nb.md\nc.md\nd.md\ne.md".into(),
        duration_ms: 3,
    });
    h.commit(EventBody::ToolRequested {
        call_id: CallId("c2".into()),
        tool: "bash".into(),
        args: serde_json::json!({"cmd": "rm a.md"}),
        thread_id: Some(thread_id),
        needs_approval: true,
        preview: None,
    });
    let screen = h.screen();
    insta::assert_snapshot!(screen);
    assert!(screen.contains("bash wants to run"), "{screen}");
    // The taskbar marks the chat that waits for an approval.
    let taskbar = screen.lines().last().unwrap_or_default().to_owned();
    assert!(taskbar.contains(" 1:Chat ! "), "{taskbar}");
    h.take_sent();
    // Alt-y approves the waiting call; the card then runs.
    h.bytes(b"\x1by");
    assert_eq!(
        h.take_sent(),
        vec![Command::ApproveTool {
            call_id: CallId("c2".into())
        }]
    );
    h.commit(EventBody::ToolApproved {
        call_id: CallId("c2".into()),
    });
    assert!(h.screen().contains("running…"));
    let taskbar = h.screen().lines().last().unwrap_or_default().to_owned();
    assert!(
        taskbar.contains(" 1:Chat ") && !taskbar.contains("Chat !"),
        "{taskbar}"
    );
    // Nothing waits any more: Alt-n does nothing; Esc cancels the running turn.
    h.bytes(b"\x1bn");
    assert_eq!(h.take_sent(), vec![]);
    h.bytes(b"\x1b");
    assert_eq!(h.take_sent(), vec![Command::CancelTurn { thread_id }]);
}

#[test]
fn an_edit_waiting_for_approval_shows_its_diff_and_cut_off_answers_say_so() {
    use choir_proto::{CallId, MessageEnding};
    let mut h = Harness::new(80, 24);
    h.open(AppKind::Chat, Cells::new(2, 1, 70, 20));
    let thread_id = ThreadId(1);
    h.bytes(b"fix the typo\r");
    h.commit(EventBody::ChatTurnStarted { thread_id });
    h.commit(EventBody::ChatAssistantMessage {
        thread_id,
        text: "Fixing it, and then I will explain at".into(),
        tool_calls: Vec::new(),
        ending: Some(MessageEnding::CutOff),
    });
    h.commit(EventBody::ToolRequested {
        call_id: CallId("e1".into()),
        tool: "edit_file".into(),
        args: serde_json::json!({"path": "a.md", "old": "teh", "new": "the"}),
        thread_id: Some(thread_id),
        needs_approval: true,
        preview: Some("--- a/a.md\n+++ b/a.md\n@@ -1 +1 @@\n-teh cat\n+the cat\n".into()),
    });
    let screen = h.screen();
    assert!(
        screen.contains("cut off: the answer reached its length limit"),
        "{screen}"
    );
    assert!(screen.contains("  -teh cat"), "{screen}");
    assert!(screen.contains("  +the cat"), "{screen}");
    // Once decided, the card no longer shows the diff.
    h.commit(EventBody::ToolApproved {
        call_id: CallId("e1".into()),
    });
    assert!(!h.screen().contains("-teh cat"));
}

fn doc_created(title: &str, content: &str, id: u64) -> EventBody {
    EventBody::DocCreated {
        doc_id: choir_proto::DocId(id),
        title: title.into(),
        content: content.into(),
    }
}

#[test]
fn writer_lists_documents_and_creates_renames_deletes() {
    let mut h = Harness::new(80, 24);
    h.open(AppKind::Writer, Cells::new(4, 2, 60, 12));
    h.commit(doc_created("Trip plan", "day one\n", 1));
    h.commit(doc_created("Shopping", "milk\neggs\n", 2));
    h.commit(doc_created("Otters", "", 3));
    h.bytes(b"j");
    insta::assert_snapshot!("writer_document_list", h.screen());

    // r renames the chosen one (its title is offered for editing).
    h.bytes(b"r\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f")
        .bytes(b"Groceries\r");
    assert_eq!(
        h.take_sent(),
        vec![Command::RenameDoc {
            doc_id: choir_proto::DocId(2),
            title: "Groceries".into()
        }]
    );
    // d asks first; anything but y keeps it.
    h.bytes(b"dn");
    assert!(h.take_sent().is_empty());
    h.bytes(b"dy");
    assert_eq!(
        h.take_sent(),
        vec![Command::DeleteDoc {
            doc_id: choir_proto::DocId(2)
        }]
    );
    // n creates a document and shows it in this window, ready to type into.
    h.bytes(b"nMinutes\r");
    assert!(matches!(
        &h.take_sent()[..],
        [Command::CreateDoc { title, window_id: Some(WindowId(1)), .. }] if title == "Minutes"
    ));
    assert_eq!(h.window(1).doc_id, Some(choir_proto::DocId(4)));
    h.bytes(b"# Minutes");
    assert_eq!(
        h.desktop.world().docs[&choir_proto::DocId(4)]
            .text()
            .unwrap(),
        "# Minutes"
    );
    // C-o goes back to the list.
    h.bytes(b"\x0f");
    assert_eq!(h.window(1).doc_id, None);
}

#[test]
fn writer_editor_wraps_selects_and_shows_its_state() {
    let mut h = Harness::new(80, 24);
    h.open(AppKind::Writer, Cells::new(2, 1, 44, 12));
    let text = "# Otters\n\nOtters hold hands while they sleep so that they do not drift apart.\n\n- playful\n- clever\n";
    h.commit(doc_created("Otters", text, 1));
    h.execute(&Command::ShowDoc {
        window_id: WindowId(1),
        doc_id: Some(choir_proto::DocId(1)),
    });
    // Down twice, then select a word with Shift-Ctrl-Right.
    h.bytes(b"\x1b[B\x1b[B\x1b[1;6C");
    insta::assert_snapshot!("writer_editor", h.screen());
    h.bytes(b"\x03");
    assert_eq!(h.copied, vec!["Otters".to_owned()]);
}

#[test]
fn another_clients_edit_shows_live_without_moving_the_cursor_off_its_text() {
    let mut h = Harness::new(80, 24);
    h.open(AppKind::Writer, Cells::new(0, 0, 50, 10));
    h.commit(doc_created("Notes", "alpha\nbeta\n", 1));
    h.execute(&Command::ShowDoc {
        window_id: WindowId(1),
        doc_id: Some(choir_proto::DocId(1)),
    });
    h.bytes(b"\x1b[B\x1b[C\x1b[C"); // line 2, after "be"
                                    // The agent inserts a line at the top.
    h.commit(EventBody::DocEdited {
        doc_id: choir_proto::DocId(1),
        version: 1,
        op: choir_proto::TextOp::new().insert("# Title\n").retain(11),
        edit_id: None,
    });
    h.bytes(b"X");
    assert_eq!(
        h.desktop.world().docs[&choir_proto::DocId(1)]
            .text()
            .unwrap(),
        "# Title\nalpha\nbeXta\n"
    );
    assert!(h.screen().contains("Ln 3, Col 4"), "{}", h.screen());
}

/// Several desktops on one in-memory daemon (`decide` + a log), with the network between them
/// under the test's control: commands and events are delivered when the test says.
struct Room {
    server: World,
    log: Vec<Event>,
    peers: Vec<Peer>,
}

struct Peer {
    desktop: Desktop,
    parser: InputParser,
    /// Sent, not yet read by the daemon.
    outgoing: Vec<Command>,
    /// Log events delivered so far.
    received: usize,
}

impl Room {
    /// A writer window showing a document with `text`, seen by `peers` desktops.
    fn new(peers: usize, text: &str) -> Room {
        let mut room = Room {
            server: World::default(),
            log: Vec::new(),
            peers: Vec::new(),
        };
        room.commit(&Command::OpenWindow {
            app: AppKind::Writer,
            title: None,
            rect: Some(Cells::new(0, 0, 60, 12)),
        });
        room.commit(&Command::CreateDoc {
            title: "Shared".into(),
            content: text.into(),
            open: false,
            window_id: Some(WindowId(1)),
        });
        for who in 0..peers {
            let mut desktop = Desktop::new(Theme::monochrome(), 0);
            desktop.on_frame(ServerFrame::Welcome {
                protocol: 1,
                head: room.server.head,
                snapshot: Some(Box::new(room.server.welcome())),
                read_only: false,
            });
            room.peers.push(Peer {
                desktop,
                parser: InputParser::new(),
                outgoing: Vec::new(),
                received: room.log.len(),
            });
            room.answer_queries(who);
        }
        room
    }

    /// The daemon answers what `who` asked to read: a document's text as it stands now (at
    /// least as new as every event delivered to `who`, as a daemon's reply is).
    fn answer_queries(&mut self, who: usize) {
        loop {
            let queries = self.peers[who].desktop.take_queries();
            if queries.is_empty() {
                return;
            }
            for query in queries {
                let reply = match query {
                    choir_proto::Query::Doc { doc_id } => match self.server.docs.get(&doc_id) {
                        Some(doc) => choir_proto::Reply::Doc { doc: doc.clone() },
                        None => continue,
                    },
                    choir_proto::Query::ThreadMessages { .. }
                    | choir_proto::Query::DocAt { .. }
                    | choir_proto::Query::Moment { .. } => continue,
                };
                let peer = &mut self.peers[who];
                peer.desktop.on_frame(ServerFrame::Reply { id: 0, reply });
                let outbox = peer.desktop.take_outbox();
                peer.outgoing.extend(outbox);
            }
        }
    }

    fn commit(&mut self, command: &Command) {
        for body in decide(&self.server, command).unwrap_or_default() {
            let event = Event {
                seq: self.log.len() as u64 + 1,
                ts: 0,
                actor: "t".into(),
                correlation: None,
                v: 1,
                body,
            };
            self.server.apply(&event);
            self.log.push(event);
        }
    }

    fn keys(&mut self, who: usize, bytes: &[u8]) {
        let peer = &mut self.peers[who];
        let mut events = peer.parser.feed(bytes);
        events.extend(peer.parser.flush());
        for event in events {
            for action in peer.desktop.handle_input(event) {
                if let Action::Send(command) = action {
                    peer.outgoing.push(command);
                }
            }
        }
    }

    /// The daemon reads what `who` sent.
    fn deliver_commands(&mut self, who: usize) {
        for command in std::mem::take(&mut self.peers[who].outgoing) {
            self.commit(&command);
        }
        self.answer_queries(who);
    }

    /// `who` receives up to `n` more events.
    fn deliver_events(&mut self, who: usize, n: usize) {
        let peer = &mut self.peers[who];
        let upto = peer.received.saturating_add(n).min(self.log.len());
        while peer.received < upto {
            let event = self.log[peer.received].clone();
            peer.received += 1;
            peer.desktop.on_frame(ServerFrame::Event { event });
            let outbox = peer.desktop.take_outbox();
            peer.outgoing.extend(outbox);
        }
    }

    /// `who`'s link broke: what it sent and the daemon had not read is lost. It reconnects,
    /// resuming the event stream, or (`fresh`) from a snapshot of the daemon's world.
    fn reconnect(&mut self, who: usize, fresh: bool) {
        let snapshot = fresh.then(|| Box::new(self.server.welcome()));
        let peer = &mut self.peers[who];
        peer.outgoing.clear();
        if fresh {
            peer.received = self.log.len();
        }
        peer.desktop.on_frame(ServerFrame::Welcome {
            protocol: 1,
            head: self.server.head,
            snapshot,
            read_only: false,
        });
        let outbox = peer.desktop.take_outbox();
        peer.outgoing.extend(outbox);
        // What it asks for again is answered on the new link.
        self.answer_queries(who);
    }

    /// Lets everything through until nothing moves.
    fn settle(&mut self) {
        loop {
            let before = (
                self.log.len(),
                self.peers.iter().map(|p| p.received).sum::<usize>(),
            );
            for who in 0..self.peers.len() {
                self.deliver_commands(who);
            }
            for who in 0..self.peers.len() {
                self.deliver_events(who, usize::MAX);
            }
            let quiet = self.peers.iter().all(|p| p.outgoing.is_empty());
            let after = (
                self.log.len(),
                self.peers.iter().map(|p| p.received).sum::<usize>(),
            );
            if quiet && before == after {
                return;
            }
        }
    }

    fn committed(&self) -> String {
        self.server.docs[&choir_proto::DocId(1)].text().unwrap()
    }

    /// Every peer's editor (if it opened one) shows the committed text with nothing unsaved.
    fn assert_converged(&self) {
        let committed = self.committed();
        for peer in &self.peers {
            assert_eq!(
                peer.desktop.world().docs[&choir_proto::DocId(1)]
                    .text()
                    .unwrap(),
                committed
            );
            if let Some(editor) = peer.desktop.editor(WindowId(1)) {
                assert!(editor.is_saved());
                assert_eq!(editor.text().to_string(), committed);
            }
        }
    }
}

/// Two desktops edit one document; their commands and the events reach each other in a
/// scrambled order. Once everything is delivered, both show the committed text.
#[test]
fn two_desktops_typing_at_once_converge() {
    let mut room = Room::new(2, "one\ntwo\n");
    let keys: [&[&[u8]]; 2] = [
        &[b"a", b"b", b"\x1b[B", b"c", b"\r", b"d", b"\x7f", b"e"],
        &[
            b"\x1b[F", b"X", b"Y", b"\x1b[A", b"Z", b"\x1b[D", b"W", b"V",
        ],
    ];
    for step in 0..8 {
        for (who, keys) in keys.iter().enumerate() {
            room.keys(who, keys[step]);
        }
        // One side's commands now, the other's later; events lag behind.
        room.deliver_commands(step % 2);
        for who in 0..2 {
            let lag = room.log.len().saturating_sub(1);
            let behind = lag.saturating_sub(room.peers[who].received);
            room.deliver_events(who, behind);
        }
    }
    room.settle();
    room.assert_converged();
    let committed = room.committed();
    for typed in ["a", "b", "c", "e", "X", "Y", "Z", "W", "V"] {
        assert!(
            committed.contains(typed),
            "{typed} is missing from {committed:?}"
        );
    }
}

/// One step of the random editing sessions below.
#[derive(Debug, Clone)]
enum Step {
    Keys(usize, &'static [u8]),
    DeliverCommands(usize),
    DeliverEvents(usize, usize),
    Reconnect(usize, bool),
}

/// The keys a random session presses: typing, deleting, moving, selecting, cut/copy/paste,
/// undo and redo, select-all.
const RANDOM_KEYS: &[&[u8]] = &[
    b"a",
    b"b",
    b" ",
    b"\xe6\xbc\xa2",
    b"\r",
    b"\x7f",
    b"\x1b[3~",
    b"\x1b[D",
    b"\x1b[C",
    b"\x1b[A",
    b"\x1b[B",
    b"\x1b[H",
    b"\x1b[F",
    b"\x1b[1;2D",
    b"\x1b[1;2C",
    b"\x1b[1;5D",
    b"\x18",
    b"\x03",
    b"\x16",
    b"\x1a",
    b"\x19",
    b"\x01\x01",
];

fn random_steps() -> impl proptest::strategy::Strategy<Value = Vec<Step>> {
    use proptest::prelude::*;
    let step = prop_oneof![
        6 => (0..3usize, 0..RANDOM_KEYS.len()).prop_map(|(who, key)| Step::Keys(who, RANDOM_KEYS[key])),
        2 => (0..3usize).prop_map(Step::DeliverCommands),
        2 => (0..3usize, 1..4usize).prop_map(|(who, n)| Step::DeliverEvents(who, n)),
        1 => (0..3usize, any::<bool>()).prop_map(|(who, fresh)| Step::Reconnect(who, fresh)),
    ];
    proptest::collection::vec(step, 1..150)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Only typing and moving, each typed character unique: after random delivery and broken
    /// links, every character typed is in the document exactly once.
    #[test]
    fn random_typing_loses_nothing(steps in random_steps()) {
        let mut room = Room::new(3, "");
        let mut typed = Vec::new();
        for step in steps {
            match step {
                Step::Keys(who, keys) if keys.len() == 1 && keys[0].is_ascii_alphabetic() => {
                    let unique = char::from_u32(0x4E00 + typed.len() as u32).unwrap();
                    typed.push(unique);
                    room.keys(who, unique.to_string().as_bytes());
                }
                // Plain moves only: no selecting (typing would replace it), deleting, cutting
                // or undoing here.
                Step::Keys(who, keys) if keys.len() == 3 && keys.starts_with(b"\x1b[") => {
                    room.keys(who, keys)
                }
                Step::Keys(..) => {}
                Step::DeliverCommands(who) => room.deliver_commands(who),
                Step::DeliverEvents(who, n) => room.deliver_events(who, n),
                Step::Reconnect(who, fresh) => room.reconnect(who, fresh),
            }
        }
        room.settle();
        room.assert_converged();
        let committed = room.committed();
        proptest::prop_assert_eq!(committed.chars().count(), typed.len());
        for c in typed {
            proptest::prop_assert_eq!(committed.matches(c).count(), 1);
        }
    }

    /// Three desktops press random editing keys (undo and redo included) while commands and
    /// events travel at random and links break (losing what was in transit) and come back,
    /// resumed or from a fresh snapshot: once everything is delivered, every editor shows the
    /// committed text and nothing is unsaved.
    #[test]
    fn random_editing_sessions_converge(steps in random_steps()) {
        let mut room = Room::new(3, "alpha beta\ngamma\n");
        for step in steps {
            match step {
                Step::Keys(who, keys) => room.keys(who, keys),
                Step::DeliverCommands(who) => room.deliver_commands(who),
                Step::DeliverEvents(who, n) => room.deliver_events(who, n),
                Step::Reconnect(who, fresh) => room.reconnect(who, fresh),
            }
        }
        room.settle();
        room.assert_converged();
    }
}

/// The link broke with an edit in flight (lost) and more typed behind it; meanwhile someone
/// else edited. A fresh snapshot arrives: the editor catches up from the document's recent
/// edits, resends its own, and ends on the same text as the daemon with nothing lost.
#[test]
fn typing_survives_a_reconnect_with_a_fresh_snapshot() {
    let mut h = Harness::new(80, 24);
    h.open(AppKind::Writer, Cells::new(0, 0, 50, 10));
    h.commit(doc_created("Notes", "base\n", 1));
    h.execute(&Command::ShowDoc {
        window_id: WindowId(1),
        doc_id: Some(choir_proto::DocId(1)),
    });
    // Typed while the daemon cannot hear: the commands go nowhere.
    let mut lost = Vec::new();
    let mut events = h.parser.feed(b"\x1b[F>>");
    events.extend(h.parser.flush());
    for event in events {
        lost.extend(h.desktop.handle_input(event));
    }
    assert!(matches!(&lost[..], [Action::Send(Command::EditDoc { .. })]));
    // Someone else's edit, which this desktop does not see either.
    let theirs = Event {
        seq: h.log.len() as u64 + 1,
        ts: 0,
        actor: "other".into(),
        correlation: None,
        v: 1,
        body: EventBody::DocEdited {
            doc_id: choir_proto::DocId(1),
            version: 1,
            op: choir_proto::TextOp::new().insert("# ").retain(5),
            edit_id: Some("other-1".into()),
        },
    };
    h.server.apply(&theirs);
    h.log.push(theirs);
    // Reconnected from scratch: a snapshot.
    h.desktop.on_frame(ServerFrame::Welcome {
        protocol: 1,
        head: h.server.head,
        snapshot: Some(Box::new(h.server.clone())),
        read_only: false,
    });
    for command in h.desktop.take_outbox() {
        h.execute(&command);
    }
    let editor = h.desktop.editor(WindowId(1)).unwrap();
    let committed = h.server.docs[&choir_proto::DocId(1)].text().unwrap();
    assert_eq!(committed, "# base>>\n");
    assert_eq!(editor.text().to_string(), committed);
    assert!(editor.is_saved());
}

/// A chat whose thread is longer than what a welcome carries: scrolling back asks for the
/// page before what is held, the page slides in above, and nothing is shown twice.
#[test]
fn scrolling_a_chat_back_loads_older_pages() {
    let mut h = Harness::new(80, 24);
    h.open(AppKind::Chat, Cells::new(0, 0, 60, 20));
    for n in 0..100 {
        h.commit(EventBody::ChatUserMessage {
            thread_id: ThreadId(1),
            text: format!("message {n}"),
        });
    }
    // Reconnected from scratch: the welcome holds the latest messages only.
    h.desktop.on_frame(ServerFrame::Welcome {
        protocol: choir_proto::PROTOCOL_VERSION,
        head: h.server.head,
        snapshot: Some(Box::new(h.server.welcome())),
        read_only: false,
    });
    let held = &h.desktop.world().chats[&ThreadId(1)];
    assert_eq!(held.messages.len(), choir_proto::WELCOME_MESSAGES);
    assert_eq!(held.older(), 80);
    assert!(
        h.desktop.take_queries().is_empty(),
        "nothing asked before scrolling"
    );
    let screen = h.screen();
    assert!(screen.contains("message 99"), "{screen}");

    // PgUp until the top of what is held is in view: the page before it is asked for.
    let mut asked = Vec::new();
    for _ in 0..20 {
        h.bytes(b"\x1b[5~");
        asked.extend(h.desktop.take_queries());
        if !asked.is_empty() {
            break;
        }
    }
    assert!(h.screen().contains("80 earlier messages"), "{}", h.screen());
    let [choir_proto::Query::ThreadMessages {
        thread_id,
        before: Some(before),
        limit,
    }] = asked[..]
    else {
        panic!("asked {asked:?}")
    };
    assert_eq!(thread_id, ThreadId(1));
    assert_eq!(before, h.desktop.world().chats[&ThreadId(1)].page_before());
    // Asked once, however often PgUp is pressed meanwhile.
    h.bytes(b"\x1b[5~");
    assert!(h.desktop.take_queries().is_empty());

    // The daemon's page: the messages before `before`, from its log.
    let older: Vec<_> = h.log.iter().filter(|e| e.seq < before).cloned().collect();
    let mut thread = World::replay(&older).chats[&ThreadId(1)].clone();
    thread.trim(limit as usize);
    let page = choir_proto::ThreadPage {
        thread_id,
        messages: thread.messages,
        tools: Vec::new(),
        more: true,
    };
    h.desktop.on_frame(ServerFrame::Reply {
        id: 1,
        reply: choir_proto::Reply::ThreadMessages { page },
    });
    let held = &h.desktop.world().chats[&ThreadId(1)];
    assert_eq!(
        held.messages.len(),
        choir_proto::WELCOME_MESSAGES + limit as usize
    );
    let texts: Vec<&str> = held.messages.iter().map(|m| m.text.as_str()).collect();
    let expected: Vec<String> = (100 - texts.len()..100)
        .map(|n| format!("message {n}"))
        .collect();
    assert_eq!(texts, expected);
    // Further back, the older messages show.
    for _ in 0..6 {
        h.bytes(b"\x1b[5~");
    }
    let screen = h.screen();
    let loaded = 100 - choir_proto::WELCOME_MESSAGES - limit as usize..80;
    assert!(
        loaded
            .clone()
            .any(|n| screen.contains(&format!("message {n}\u{20}"))
                || screen.contains(&format!("message {n}┃"))),
        "{screen}"
    );
}

/// A chat whose messages are too long for the welcome's budget holds fewer than a welcome
/// can: the desktop asks for the page before them at once, and only once on this link.
#[test]
fn a_chat_shown_short_of_its_latest_messages_asks_for_them_at_once() {
    let mut h = Harness::new(80, 24);
    h.open(AppKind::Chat, Cells::new(0, 0, 60, 20));
    for n in 0..30 {
        h.commit(EventBody::ChatUserMessage {
            thread_id: ThreadId(1),
            text: format!("long message {n} {}", "x".repeat(3000)),
        });
    }
    h.desktop.on_frame(ServerFrame::Welcome {
        protocol: choir_proto::PROTOCOL_VERSION,
        head: h.server.head,
        snapshot: Some(Box::new(h.server.welcome())),
        read_only: false,
    });
    let held = h.desktop.world().chats[&ThreadId(1)].messages.len();
    assert!(held < choir_proto::WELCOME_MESSAGES, "{held} held");
    let before = h.desktop.world().chats[&ThreadId(1)].page_before();
    let asked = h.desktop.take_queries();
    assert!(
        matches!(
            asked[..],
            [choir_proto::Query::ThreadMessages { thread_id: ThreadId(1), before: Some(b), .. }] if b == before
        ),
        "{asked:?}"
    );
    // The page failed: not asked again at every frame.
    h.desktop
        .on_query_failed(asked[0].clone(), "the daemon is busy");
    h.commit(EventBody::ChatAssistantMessage {
        thread_id: ThreadId(1),
        text: "short".into(),
        ending: None,
        tool_calls: Vec::new(),
    });
    assert!(h.desktop.take_queries().is_empty());
    // A new link asks again.
    h.desktop.on_frame(ServerFrame::Welcome {
        protocol: choir_proto::PROTOCOL_VERSION,
        head: h.server.head,
        snapshot: Some(Box::new(h.server.welcome())),
        read_only: false,
    });
    assert_eq!(h.desktop.take_queries().len(), 1);
}

/// A session that stays open while a chat grows lets go of the oldest messages (they can be
/// paged back), but not while its reader is scrolled back among them.
#[test]
fn a_long_lived_chat_lets_go_of_old_messages_unless_scrolled_back() {
    let mut h = Harness::new(80, 24);
    h.open(AppKind::Chat, Cells::new(0, 0, 60, 20));
    let post = |h: &mut Harness, n: usize| {
        h.commit(EventBody::ChatUserMessage {
            thread_id: ThreadId(1),
            text: format!("message {n}"),
        })
    };
    for n in 0..2_000 {
        post(&mut h, n);
    }
    assert_eq!(h.desktop.world().chats[&ThreadId(1)].messages.len(), 2_000);
    post(&mut h, 2_000);
    let thread = &h.desktop.world().chats[&ThreadId(1)];
    assert_eq!((thread.messages.len(), thread.total), (1_000, 2_001));
    assert_eq!(thread.messages.last().unwrap().text, "message 2000");
    assert!(h.screen().contains("message 2000"), "{}", h.screen());

    // Scrolled back: everything stays while the thread grows.
    h.bytes(b"\x1b[5~");
    for n in 2_001..3_100 {
        post(&mut h, n);
    }
    assert_eq!(h.desktop.world().chats[&ThreadId(1)].messages.len(), 2_099);
}

/// A query the host could not send (its queue was full) is asked again with a later frame.
#[test]
fn a_query_that_could_not_be_sent_is_asked_again() {
    let mut h = Harness::new(80, 24);
    h.open(AppKind::Chat, Cells::new(0, 0, 60, 20));
    for n in 0..30 {
        h.commit(EventBody::ChatUserMessage {
            thread_id: ThreadId(1),
            text: format!("long message {n} {}", "x".repeat(3000)),
        });
    }
    h.desktop.on_frame(ServerFrame::Welcome {
        protocol: choir_proto::PROTOCOL_VERSION,
        head: h.server.head,
        snapshot: Some(Box::new(h.server.welcome())),
        read_only: false,
    });
    let asked = h.desktop.take_queries();
    assert_eq!(asked.len(), 1, "{asked:?}");
    h.desktop.on_query_not_sent(asked[0].clone());
    h.commit(EventBody::ChatAssistantMessage {
        thread_id: ThreadId(1),
        text: "short".into(),
        ending: None,
        tool_calls: Vec::new(),
    });
    assert_eq!(h.desktop.take_queries().len(), 1);
}

mod both_fronts;
mod calendar;
mod mail;
mod shell;
mod user_app;

#[test]
fn the_taskbar_shows_the_days_model_use_and_when_it_is_used_up() {
    let mut h = Harness::new(100, 24);
    assert!(!h.screen().contains("model "));
    let usage = |tokens_today| ServerFrame::Ephemeral {
        body: choir_proto::EphemeralBody::ModelUsage(choir_proto::ModelUsage {
            requests_today: 4,
            tokens_today,
            tokens_per_day: 1_000_000,
        }),
    };
    h.desktop.on_frame(usage(12_840));
    let screen = h.screen();
    let taskbar = screen.lines().last().unwrap();
    assert!(taskbar.contains("model 12.8k/1M today"), "{taskbar}");
    assert!(taskbar.contains("12:00"), "{taskbar}");
    h.desktop.on_frame(usage(1_000_000));
    assert!(h.screen().contains("model 1M/1M today"));
    // On a narrow screen the window buttons keep their room.
    let mut narrow = Harness::new(40, 12);
    narrow.desktop.on_frame(usage(5));
    assert!(!narrow.screen().contains("model "));
}

#[test]
fn a_replay_waiting_on_the_daemon_says_so_and_asks_again() {
    let mut h = Harness::new(100, 24);
    h.desktop = Desktop::replay(Theme::monochrome(), 0, choir_proto::Seek::Seq { seq: 7 });
    h.desktop.resize(100, 24);
    h.desktop.on_frame(ServerFrame::Welcome {
        protocol: choir_proto::PROTOCOL_VERSION,
        head: 10,
        snapshot: None,
        read_only: true,
    });
    let asked = vec![choir_proto::Query::Moment {
        at: choir_proto::Seek::Seq { seq: 7 },
    }];
    assert_eq!(h.desktop.take_queries(), asked);
    assert!(!h.screen().contains("loading…"), "{}", h.screen());
    assert!(h.desktop.tick(), "a tick of waiting is drawn");
    assert!(h.screen().contains("→ 7 · loading…"), "{}", h.screen());
    h.desktop.tick();
    h.desktop.tick();
    assert_eq!(
        h.desktop.take_queries(),
        asked,
        "asked again after three ticks"
    );
}

#[test]
fn the_settings_choose_the_prefix_key_the_bindings_and_the_colours() {
    let mut h = Harness::new(80, 24);
    h.desktop.theme.color = true;
    h.desktop.color_allowed = true;
    h.commit(EventBody::SettingsChanged {
        settings: choir_proto::Settings {
            prefix: "C-b".into(),
            bindings: [("new-shell".to_owned(), "S".to_owned())].into(),
            theme: choir_proto::ThemeChoice::Mono,
            ..Default::default()
        },
        problem: Some("config.toml line 9: bindings.close: \"kk\" is not one key".into()),
    });
    // The problem is said once, on the hint line.
    assert!(
        h.screen().contains("settings: config.toml line 9"),
        "{}",
        h.screen()
    );
    assert!(!h.desktop.theme.color, "mono: no colours");
    // C-b S opens a shell; C-b s, no longer bound, says so; C-a is nothing special.
    h.bytes(b"\x02S");
    assert!(matches!(
        h.take_sent()[..],
        [Command::OpenWindow {
            app: AppKind::Shell,
            ..
        }]
    ));
    h.bytes(b"\x02s");
    assert!(h.take_sent().is_empty());
    assert!(h.screen().contains("C-b s is not bound"), "{}", h.screen());
    h.bytes(b"\x01c");
    assert!(h
        .take_sent()
        .iter()
        .all(|command| !matches!(command, Command::OpenWindow { .. })));
    // The help writes the prefix as set, and lists the binding of one's own.
    h.bytes(b"\x02?");
    let help = h.screen();
    assert!(help.contains("C-b c/e/w/s"), "{help}");
    // (The help scrolls on 24 rows: its last rows, as the keymap has them.)
    assert!(h
        .desktop
        .keymap
        .help()
        .contains(&("C-b S".to_owned(), "new-shell (your settings)".to_owned())));
}

#[test]
fn a_chat_that_finishes_out_of_sight_is_marked_and_rings_the_terminal() {
    let mut h = Harness::new(80, 24);
    h.open(AppKind::Chat, Cells::new(0, 0, 30, 10));
    h.open(AppKind::Chat, Cells::new(30, 0, 30, 10));
    let now = |h: &Harness| Event {
        seq: h.log.len() as u64 + 1,
        ts: choir_proto::now_ms(),
        actor: "agent".into(),
        correlation: None,
        v: 1,
        body: EventBody::ChatTurnCompleted {
            thread_id: choir_proto::ThreadId(1),
        },
    };
    // Window 2 is in front; window 1's turn ends.
    let event = now(&h);
    h.log.push(event.clone());
    h.desktop.on_frame(ServerFrame::Event { event });
    let taskbar = h.screen().lines().last().unwrap().to_owned();
    assert!(taskbar.contains(" 1:Chat • "), "{taskbar}");
    let bells = h.desktop.take_bells();
    assert_eq!(bells.len(), 1);
    assert!(
        bells[0].starts_with("\x07\x1b]9;Chat: done: the agent finished its turn"),
        "{bells:?}"
    );
    assert!(
        bells[0].contains("\x1b]777;notify;Chat: done;"),
        "{bells:?}"
    );
    // Looking at it clears the mark.
    h.bytes(&prefixed("1"));
    let taskbar = h.screen().lines().last().unwrap().to_owned();
    assert!(!taskbar.contains('•'), "{taskbar}");
    // With notifications off in the settings, the mark stays but nothing rings.
    h.commit(EventBody::SettingsChanged {
        settings: choir_proto::Settings {
            notifications: false,
            ..Default::default()
        },
        problem: None,
    });
    h.bytes(&prefixed("2"));
    let event = now(&h);
    h.log.push(event.clone());
    h.desktop.on_frame(ServerFrame::Event { event });
    assert!(h.desktop.take_bells().is_empty());
    assert!(h.screen().lines().last().unwrap().contains(" 1:Chat • "));
}

#[test]
fn splits_side_by_side_and_stacked_follow_the_screen() {
    let mut h = Harness::new(80, 24);
    h.bytes(&prefixed("s"));
    // C-a %: a shell beside it; C-a ": another under that one.
    h.bytes(&prefixed("%"));
    h.bytes(&prefixed("\""));
    let rect = |h: &Harness, id: u64| h.window(id).rect;
    assert_eq!(rect(&h, 1), choir_proto::Rect::new(0, 0, 40, 22));
    assert_eq!(rect(&h, 2), choir_proto::Rect::new(40, 0, 40, 11));
    assert_eq!(rect(&h, 3), choir_proto::Rect::new(40, 11, 40, 11));
    assert_eq!(h.window(3).app, AppKind::Shell);
    // The terminal grows: the layout follows.
    h.take_sent();
    let actions = h
        .desktop
        .handle_input(crate::input::InputEvent::Resize(120, 35));
    h.actions(actions);
    assert_eq!(
        h.take_sent(),
        vec![Command::FitLayout {
            area: choir_proto::Rect::new(0, 0, 120, 33)
        }]
    );
    assert_eq!(rect(&h, 1), choir_proto::Rect::new(0, 0, 60, 33));
    assert_eq!(rect(&h, 3), choir_proto::Rect::new(60, 17, 60, 16));
    // Closing one gives its half back.
    h.bytes(&prefixed("x"));
    assert_eq!(rect(&h, 2), choir_proto::Rect::new(60, 0, 60, 33));
}

#[test]
fn a_chat_is_searched_with_copy_modes_keys() {
    let mut h = Harness::new(80, 24);
    h.open(AppKind::Chat, Cells::new(0, 0, 60, 12));
    let thread_id = ThreadId(1);
    h.commit(EventBody::ChatUserMessage {
        thread_id,
        text: "the needle is in the first message".into(),
    });
    for n in 0..20 {
        h.commit(EventBody::ChatUserMessage {
            thread_id,
            text: format!("filler {n}"),
        });
    }
    h.commit(EventBody::ChatUserMessage {
        thread_id,
        text: "another needle, near the end".into(),
    });
    h.commit(EventBody::ChatUserMessage {
        thread_id,
        text: "the last one".into(),
    });
    // C-a [ opens a search back; the newest match first, then n goes older.
    h.bytes(&prefixed("["));
    h.bytes(b"needle\r");
    let screen = h.screen();
    assert!(screen.contains("match 2 of 2"), "{screen}");
    assert!(screen.contains("another needle"), "{screen}");
    h.bytes(b"n");
    let screen = h.screen();
    assert!(screen.contains("match 1 of 2"), "{screen}");
    assert!(
        screen.contains("the needle is in the first message"),
        "scrolled back to it:\n{screen}"
    );
    // Keys are the search's: nothing was typed into the chat's input; q leaves.
    assert!(h.take_sent().is_empty());
    h.bytes(b"q");
    h.bytes(b"hi\r");
    assert!(matches!(
        &h.take_sent()[..],
        [Command::PostChat { text, .. }] if text == "hi"
    ));
}

#[test]
fn the_event_log_is_searched_with_the_same_keys() {
    let mut h = Harness::new(100, 24);
    h.open(AppKind::EventLog, Cells::new(0, 0, 100, 12));
    let say = |h: &mut Harness, text: &str| {
        h.commit(EventBody::ChatUserMessage {
            thread_id: ThreadId(7),
            text: text.into(),
        })
    };
    say(&mut h, "a haystack with one needle");
    for n in 0..30 {
        say(&mut h, &format!("hay {n}"));
    }
    say(&mut h, "the second needle");
    say(&mut h, "more hay");
    h.bytes(&prefixed("["));
    h.bytes(b"needle\r");
    let screen = h.screen();
    assert!(screen.contains("match 2 of 2"), "{screen}");
    assert!(screen.contains("the second needle"), "{screen}");
    h.bytes(b"n");
    let screen = h.screen();
    assert!(screen.contains("match 1 of 2"), "{screen}");
    assert!(
        screen.contains("a haystack with one needle"),
        "the older event, brought into view:\n{screen}"
    );
    h.bytes(b"q");
    assert!(!h.screen().contains("match 1 of 2"));
}
