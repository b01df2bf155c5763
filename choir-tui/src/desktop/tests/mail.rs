//! Mail windows in the desktop: the page folded from `mail.*` events drawn as threads beside
//! the folders, the open message below, and the shared mail keys sending commands.

use super::*;
use choir_proto::mail::{MailAttachment, MailHeader, MailMessage};
use pretty_assertions::assert_eq;

const MAIL: WindowId = WindowId(1);

fn header(uid: u32, from: &str, subject: &str, seen: bool) -> MailHeader {
    MailHeader {
        uid,
        from: from.into(),
        to: "alice@example.test".into(),
        subject: subject.into(),
        date: format!("2026-12-0{uid}T09:1{uid}:00+00:00"),
        message_id: format!("<{uid}@example.test>"),
        size: 100,
        seen,
    }
}

fn with_page() -> Harness {
    let mut h = Harness::new(90, 24);
    h.open(AppKind::Mail, Cells::new(0, 0, 90, 22));
    h.commit(EventBody::MailPageShown {
        window_id: MAIL,
        account: "alice@example.test".into(),
        accounts: vec!["alice@example.test".into()],
        folders: vec!["Archive".into(), "INBOX".into(), "Sent".into()],
        folder: "INBOX".into(),
        validity: 1,
        total: 4,
        offset: 0,
        headers: vec![
            header(4, "bob@example.test", "Re: Lunch?", false),
            header(3, "carol@example.test", "Quarterly report", true),
            header(2, "alice@example.test", "Lunch?", true),
            header(1, "dave@example.test", "Welcome", true),
        ],
    });
    h
}

#[test]
fn a_page_shows_as_threads_beside_the_folders() {
    let h = with_page();
    insta::assert_snapshot!(h.screen());
}

#[test]
fn keys_select_and_open_messages_and_the_message_shows_below() {
    let mut h = with_page();
    h.bytes(b"j");
    assert_eq!(
        h.take_sent(),
        vec![],
        "moving the selection is this client's"
    );
    h.bytes(b"\r");
    assert_eq!(
        h.take_sent(),
        vec![Command::OpenMailMessage {
            window_id: MAIL,
            uid: Some(2)
        }],
        "the second row is the first message's answer, in its thread"
    );
    h.commit(EventBody::MailMessageOpened {
        window_id: MAIL,
        uid: Some(2),
    });
    h.commit(EventBody::MailMessageShown {
        window_id: MAIL,
        message: Box::new(MailMessage {
            header: header(2, "alice@example.test", "Lunch?", true),
            cc: String::new(),
            text: "Noon at the usual place?\n\nAlice".into(),
            cut: false,
            attachments: vec![MailAttachment {
                name: "menu.pdf".into(),
                content_type: "application/pdf".into(),
                size: 52_428_800,
            }],
            invitations: Vec::new(),
        }),
    });
    insta::assert_snapshot!(h.screen());
    h.bytes(b"]");
    assert_eq!(
        h.take_sent(),
        vec![Command::OpenMailFolder {
            window_id: MAIL,
            account: None,
            folder: "Sent".into(),
            offset: 0
        }]
    );
    // The answer is written in a writer window, which then has the keys.
    h.bytes(b"r");
    assert_eq!(
        h.take_sent(),
        vec![Command::ComposeMail {
            window_id: MAIL,
            reply: true,
            forward: false
        }]
    );
    let writer = h.desktop.world().desktop.focused.unwrap();
    assert_eq!(h.window(writer.0).app, AppKind::Writer);
    assert!(
        h.screen().contains("To: alice@example.test"),
        "{}",
        h.screen()
    );
    // Back in the mail window, Esc closes the message.
    h.bytes(&prefixed("1"));
    h.take_sent();
    h.bytes(b"\x1b");
    assert_eq!(
        h.take_sent(),
        vec![Command::OpenMailMessage {
            window_id: MAIL,
            uid: None
        }]
    );
}

#[test]
fn a_problem_is_shown_in_the_window() {
    let mut h = Harness::new(60, 12);
    h.open(AppKind::Mail, Cells::new(0, 0, 60, 10));
    h.commit(EventBody::MailFailed {
        window_id: MAIL,
        error: "no mail account is set up (choir account add --from-env)".into(),
    });
    let screen = h.screen();
    assert!(screen.contains("no mail account is set up"), "{screen}");
}
