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
        query: Default::default(),
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
    // ] shows the next folder.
    h.bytes(b"]");
    assert_eq!(
        h.take_sent(),
        vec![Command::OpenMailFolder {
            window_id: MAIL,
            account: None,
            folder: "Sent".into(),
            offset: 0,
            query: Default::default(),
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

#[test]
fn the_account_form_sends_what_was_typed_and_masks_the_password() {
    let mut h = Harness::new(100, 16);
    h.open(AppKind::Mail, Cells::new(0, 0, 100, 14));
    h.commit(EventBody::MailFailed {
        window_id: MAIL,
        error: "no mail account is set up (choir account add --from-env)".into(),
    });
    assert!(
        h.screen().contains("press A to add one here"),
        "{}",
        h.screen()
    );
    h.bytes(b"A");
    assert!(
        h.screen().contains("imaps://imap.example.org"),
        "{}",
        h.screen()
    );
    h.bytes(b"alice@example.test\t");
    h.bytes(b"alice\r");
    h.bytes(b"s3cret-pw\r");
    h.bytes(b"imap://127.0.0.1:1143\r");
    h.bytes(b"smtp://127.0.0.1:1025");
    let screen = h.screen();
    assert!(screen.contains("•••••••••"), "{screen}");
    assert!(!screen.contains("s3cret"), "{screen}");
    assert_eq!(h.take_sent(), vec![], "nothing is sent while typing");
    h.bytes(b"\r\r");
    let sent = h.take_sent();
    let [Command::AddMailAccount {
        window_id,
        settings,
    }] = &sent[..]
    else {
        panic!("{sent:?}");
    };
    assert_eq!(*window_id, MAIL);
    let setting = |name: &str| settings.0.get(name).cloned().unwrap_or_default();
    assert_eq!(setting("CHOIR_MAIL_ADDRESS"), "alice@example.test");
    assert_eq!(setting("CHOIR_MAIL_PASSWORD"), "s3cret-pw");
    assert_eq!(setting("CHOIR_SMTP_URL"), "smtp://127.0.0.1:1025");
    assert!(!settings.0.contains_key("CHOIR_CALDAV_URL"));
    assert!(
        h.screen().contains("checking the account"),
        "{}",
        h.screen()
    );
    // Esc leaves the form without sending.
    h.bytes(b"A");
    h.bytes(b"x\x1b");
    assert_eq!(h.take_sent(), vec![]);
    assert!(!h.screen().contains("imaps://imap.example.org"));
}

#[test]
fn slash_searches_the_folder_and_the_header_says_what_was_found() {
    let mut h = with_page();
    h.bytes(b"/lunch");
    assert!(h.screen().contains("search: lunch"), "{}", h.screen());
    assert_eq!(h.take_sent(), vec![], "nothing is sent while typing");
    h.bytes(b"\r");
    assert_eq!(
        h.take_sent(),
        vec![Command::OpenMailFolder {
            window_id: MAIL,
            account: None,
            folder: "INBOX".into(),
            offset: 0,
            query: "lunch".into(),
        }]
    );
    h.commit(EventBody::MailPageShown {
        window_id: MAIL,
        account: "alice@example.test".into(),
        accounts: vec!["alice@example.test".into()],
        folders: vec!["INBOX".into()],
        folder: "INBOX".into(),
        validity: 1,
        total: 2,
        offset: 0,
        headers: vec![
            header(4, "bob@example.test", "Re: Lunch?", false),
            header(2, "alice@example.test", "Lunch?", true),
        ],
        query: "lunch".into(),
    });
    assert!(
        h.screen().contains("1–2 of 2 found for “lunch”"),
        "{}",
        h.screen()
    );
}
