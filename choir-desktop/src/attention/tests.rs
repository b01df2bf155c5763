use choir_proto::{decide, CallId, Command, Rect};
use serde_json::json;

use super::*;

struct Room {
    world: World,
    attention: Attention,
    seq: u64,
}

impl Room {
    /// Two chat windows (1 and 2); 2 is focused.
    fn new() -> Self {
        let mut room = Room {
            world: World::default(),
            attention: Attention::default(),
            seq: 0,
        };
        for _ in 0..2 {
            room.run(&Command::OpenWindow {
                app: AppKind::Chat,
                title: None,
                rect: Some(Rect::new(0, 0, 40, 10)),
            });
        }
        room
    }

    fn run(&mut self, command: &Command) {
        for body in decide(&self.world, command).unwrap() {
            self.apply(body, None);
        }
    }

    fn apply(&mut self, body: EventBody, looking_at: Option<WindowId>) -> Option<Alert> {
        self.seq += 1;
        let event = Event {
            seq: self.seq,
            ts: 0,
            actor: "test".into(),
            correlation: None,
            v: 1,
            body,
        };
        self.world.apply(&event);
        self.attention.on_event(&self.world, &event, looking_at, 0)
    }
}

const ONE: WindowId = WindowId(1);
const TWO: WindowId = WindowId(2);

#[test]
fn a_turn_that_ends_out_of_sight_is_marked_until_looked_at() {
    let mut room = Room::new();
    // Window 1's turn ends while the user looks at window 2.
    let alert = room
        .apply(
            EventBody::ChatTurnCompleted {
                thread_id: ThreadId(1),
            },
            Some(TWO),
        )
        .unwrap();
    assert_eq!(alert.window_id, ONE);
    assert!(alert.title.ends_with(": done"), "{alert:?}");
    assert_eq!(room.attention.need(&room.world, ONE), Some(Need::Finished));
    assert_eq!(room.attention.count(&room.world), 1);
    // Ending while looked at: nothing to say.
    assert_eq!(
        room.apply(
            EventBody::ChatTurnCompleted {
                thread_id: ThreadId(2)
            },
            Some(TWO)
        ),
        None
    );
    assert_eq!(room.attention.need(&room.world, TWO), None);
    // Looking at window 1 clears its mark.
    room.attention.seen(Some(ONE));
    assert_eq!(room.attention.need(&room.world, ONE), None);
    // While this client is not in front (another tab, another program), nothing is looked
    // at: a failed turn is marked too, and says why.
    let alert = room
        .apply(
            EventBody::ChatTurnFailed {
                thread_id: ThreadId(2),
                error: "the provider is down".into(),
            },
            None,
        )
        .unwrap();
    assert_eq!(alert.body, "the turn failed: the provider is down");
    assert_eq!(room.attention.need(&room.world, TWO), Some(Need::Finished));
    // A closed window is no longer counted.
    room.run(&Command::CloseWindow { window_id: TWO });
    assert_eq!(room.attention.count(&room.world), 0);
}

#[test]
fn an_approval_is_asked_for_out_loud_and_marked_while_it_waits() {
    let mut room = Room::new();
    let alert = room
        .apply(
            EventBody::ToolRequested {
                call_id: CallId("c1".into()),
                tool: "bash".into(),
                args: json!({"cmd": "ls"}),
                thread_id: Some(ThreadId(1)),
                needs_approval: true,
                preview: None,
            },
            Some(ONE),
        )
        .unwrap();
    assert_eq!(alert.body, "the agent asks to run bash");
    assert_eq!(room.attention.need(&room.world, ONE), Some(Need::Approval));
    // A call that needs no approval rings nothing.
    let quiet = room.apply(
        EventBody::ToolRequested {
            call_id: CallId("c2".into()),
            tool: "read_file".into(),
            args: json!({}),
            thread_id: Some(ThreadId(2)),
            needs_approval: false,
            preview: None,
        },
        None,
    );
    assert_eq!(quiet, None);
}

#[test]
fn old_news_marks_but_rings_nothing() {
    let mut room = Room::new();
    let event = Event {
        seq: 99,
        ts: 1_000,
        actor: "test".into(),
        correlation: None,
        v: 1,
        body: EventBody::ChatTurnCompleted {
            thread_id: ThreadId(1),
        },
    };
    room.world.apply(&event);
    let later = 1_000 + ALERT_WITHIN_MS + 1;
    assert_eq!(
        room.attention.on_event(&room.world, &event, None, later),
        None
    );
    assert_eq!(room.attention.need(&room.world, ONE), Some(Need::Finished));
}

#[test]
fn the_terminal_bell_rings_and_notifies_without_letting_text_end_the_sequence() {
    let alert = Alert {
        window_id: ONE,
        title: "Chat 1: done".into(),
        body: "evil\x1b]0;pwned\x07; more".into(),
    };
    let bell = terminal_bell(&alert);
    assert!(bell.starts_with('\x07'));
    assert!(
        bell.contains("\x1b]9;Chat 1: done: evil]0pwned more\x1b\\"),
        "{bell:?}"
    );
    assert!(
        bell.ends_with("\x1b]777;notify;Chat 1: done;evil]0pwned more\x1b\\"),
        "{bell:?}"
    );
}

#[test]
fn new_mail_out_of_sight_marks_the_windows_that_show_its_folder() {
    use choir_proto::mail::MailHeader;
    let mut room = Room::new();
    room.run(&Command::OpenWindow {
        app: AppKind::Mail,
        title: None,
        rect: Some(Rect::new(0, 0, 40, 10)),
    });
    let mail = WindowId(3);
    let header = |uid: u32, subject: &str| MailHeader {
        uid,
        from: "bob@example.test".into(),
        to: String::new(),
        subject: subject.into(),
        date: String::new(),
        message_id: String::new(),
        size: 1,
        seen: false,
    };
    room.apply(
        EventBody::MailPageShown {
            window_id: mail,
            account: "alice@example.test".into(),
            accounts: Vec::new(),
            folders: vec!["INBOX".into()],
            folder: "INBOX".into(),
            validity: 1,
            total: 1,
            offset: 0,
            headers: vec![header(1, "old")],
            query: String::new(),
        },
        None,
    );
    let arrived = |headers| EventBody::MailArrived {
        account: "alice@example.test".into(),
        folder: "INBOX".into(),
        total: 3,
        headers,
    };
    // Looked at: nothing to say.
    assert_eq!(
        room.apply(arrived(vec![header(2, "lunch?")]), Some(mail)),
        None
    );
    assert_eq!(room.attention.need(&room.world, mail), None);
    // Out of sight: marked, and said.
    let alert = room
        .apply(arrived(vec![header(3, "a"), header(4, "b")]), Some(ONE))
        .unwrap();
    assert_eq!(alert.window_id, mail);
    assert_eq!(alert.title, "Mail from bob@example.test");
    assert_eq!(alert.body, "2 new messages, the newest: b");
    assert_eq!(room.attention.need(&room.world, mail), Some(Need::Mail));
    // Another folder's mail does not mark it; looking at it takes the mark away.
    room.attention.seen(Some(mail));
    let other = EventBody::MailArrived {
        account: "alice@example.test".into(),
        folder: "Archive".into(),
        total: 1,
        headers: vec![header(9, "x")],
    };
    assert_eq!(room.apply(other, Some(ONE)), None);
    assert_eq!(room.attention.need(&room.world, mail), None);
}
