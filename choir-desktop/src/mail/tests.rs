use super::*;
use choir_proto::mail::MailMessage;

fn header(uid: u32, subject: &str) -> MailHeader {
    MailHeader {
        uid,
        from: "bob@example.test".into(),
        to: String::new(),
        subject: subject.into(),
        date: String::new(),
        message_id: String::new(),
        size: 1,
        seen: false,
    }
}

fn view(headers: Vec<MailHeader>, offset: u32, total: u32) -> MailView {
    let mut view = MailView::new(WindowId(1));
    view.loading = false;
    view.account = "alice@example.test".into();
    view.accounts = vec!["alice@example.test".into(), "work@example.test".into()];
    view.folders = vec!["Archive".into(), "INBOX".into(), "Sent".into()];
    view.folder = "INBOX".into();
    view.headers = headers;
    view.offset = offset;
    view.total = total;
    view
}

fn key(code: KeyCode) -> Key {
    Key::plain(code)
}

fn sent(handled: Handled) -> Command {
    match handled {
        Handled::Send(command) => command,
        other => panic!("expected a command, got {other:?}"),
    }
}

#[test]
fn answers_are_gathered_under_the_newest_of_their_thread() {
    let view = view(
        vec![
            header(9, "Re: lunch"),
            header(8, "report"),
            header(7, "RE: Lunch"),
            header(6, "lunch"),
        ],
        0,
        4,
    );
    let rows = rows(&view);
    let shown: Vec<(u32, usize)> = rows.iter().map(|r| (r.header.uid, r.thread)).collect();
    assert_eq!(shown, vec![(9, 3), (7, 0), (6, 0), (8, 1)]);
    assert!(rows[1].in_thread() && !rows[0].in_thread());
}

#[test]
fn the_selection_stays_on_its_message_when_mail_comes_in_above_it() {
    let mut cursor = MailCursor::default();
    let mut shown = view(vec![header(3, "c"), header(2, "b"), header(1, "a")], 0, 3);
    assert_eq!(
        cursor.key(key(KeyCode::Down), WindowId(1), &shown),
        Handled::Yes
    );
    assert_eq!(cursor.selected, Some(2));
    shown.headers.insert(0, header(4, "d"));
    assert_eq!(cursor.index(&rows(&shown)), 2, "still on message 2");
    let open = sent(cursor.key(key(KeyCode::Enter), WindowId(1), &shown));
    assert_eq!(
        open,
        Command::OpenMailMessage {
            window_id: WindowId(1),
            uid: Some(2)
        }
    );
}

#[test]
fn moving_past_the_page_asks_for_the_next_or_the_previous_page() {
    let mut cursor = MailCursor::default();
    let headers = (1..=MAIL_PAGE)
        .rev()
        .map(|uid| header(uid + 100, "s"))
        .collect();
    let page = view(headers, 50, 200);
    cursor.key(key(KeyCode::End), WindowId(1), &page);
    let next = sent(cursor.key(key(KeyCode::Down), WindowId(1), &page));
    assert_eq!(
        next,
        Command::OpenMailFolder {
            window_id: WindowId(1),
            account: None,
            folder: "INBOX".into(),
            offset: 100,
            query: Default::default(),
        }
    );
    cursor.key(key(KeyCode::Home), WindowId(1), &page);
    let previous = sent(cursor.key(key(KeyCode::Char('k')), WindowId(1), &page));
    assert!(matches!(
        previous,
        Command::OpenMailFolder { offset: 0, .. }
    ));
    // On the last page, Down stops at the last message.
    let last = view(vec![header(2, "a"), header(1, "b")], 198, 200);
    cursor.key(key(KeyCode::End), WindowId(1), &last);
    assert_eq!(
        cursor.key(key(KeyCode::Down), WindowId(1), &last),
        Handled::Yes
    );
    assert_eq!(
        cursor.key(key(KeyCode::Char('n')), WindowId(1), &last),
        Handled::Yes
    );
    assert_eq!(position(&last), "199–200 of 200");
}

#[test]
fn folders_and_accounts_are_stepped_through_in_a_ring() {
    let mut cursor = MailCursor::default();
    let shown = view(vec![header(1, "a")], 0, 1);
    let next = sent(cursor.key(key(KeyCode::Char(']')), WindowId(1), &shown));
    assert!(
        matches!(next, Command::OpenMailFolder { ref folder, offset: 0, .. } if folder == "Sent")
    );
    let previous = sent(cursor.key(key(KeyCode::BackTab), WindowId(1), &shown));
    assert!(matches!(previous, Command::OpenMailFolder { ref folder, .. } if folder == "Archive"));
    let account = sent(cursor.key(key(KeyCode::Char('a')), WindowId(1), &shown));
    assert!(matches!(
        account,
        Command::OpenMailFolder { account: Some(ref a), .. } if a == "work@example.test"
    ));
}

#[test]
fn answering_needs_an_open_message() {
    let mut cursor = MailCursor::default();
    let mut shown = view(vec![header(1, "a")], 0, 1);
    assert!(matches!(
        cursor.key(key(KeyCode::Char('r')), WindowId(1), &shown),
        Handled::Notice(_)
    ));
    assert_eq!(
        cursor.key(key(KeyCode::Esc), WindowId(1), &shown),
        Handled::No,
        "Esc with nothing open is not the mail window's"
    );
    shown.message = Some(MailMessage {
        header: header(1, "a"),
        cc: String::new(),
        text: "hi".into(),
        cut: false,
        attachments: Vec::new(),
        invitations: Vec::new(),
    });
    let reply = sent(cursor.key(key(KeyCode::Char('r')), WindowId(1), &shown));
    assert!(matches!(
        reply,
        Command::ComposeMail {
            reply: true,
            forward: false,
            ..
        }
    ));
    let close = sent(cursor.key(key(KeyCode::Esc), WindowId(1), &shown));
    assert!(matches!(close, Command::OpenMailMessage { uid: None, .. }));
    assert_eq!(
        cursor.key(Key::ctrl('r'), WindowId(1), &shown),
        Handled::No,
        "modified keys are the desktop's"
    );
}

#[test]
fn dates_read_at_the_viewers_offset() {
    assert_eq!(
        short_date("2026-12-05T23:30:00+00:00", 3600),
        "Dec 06 00:30"
    );
    assert_eq!(short_date("2024-02-29T12:00:00.5-05:00", 0), "Feb 29 17:00");
    assert_eq!(short_date("not a date", 0), "");
    assert_eq!(short_date("", 0), "");
}

#[test]
fn a_search_keeps_to_its_results_until_esc_leaves_it() {
    let mut cursor = MailCursor::default();
    let mut shown = view(
        (1..=50).rev().map(|uid| header(uid, "lunch")).collect(),
        0,
        120,
    );
    assert_eq!(
        cursor.key(key(KeyCode::Char('/')), WindowId(1), &shown),
        Handled::Yes
    );
    assert!(cursor.searching);
    let search = search(WindowId(1), &shown, "  lunch friday ");
    assert!(
        matches!(search, Command::OpenMailFolder { ref query, offset: 0, .. } if query == "lunch friday")
    );
    shown.query = "lunch".into();
    assert_eq!(found_position(&shown), "1–50 of 120 found for “lunch”");
    let next = sent(cursor.key(key(KeyCode::Char('n')), WindowId(1), &shown));
    assert!(
        matches!(next, Command::OpenMailFolder { ref query, offset: 50, .. } if query == "lunch")
    );
    let other_folder = sent(cursor.key(key(KeyCode::Char(']')), WindowId(1), &shown));
    assert!(matches!(other_folder, Command::OpenMailFolder { ref query, .. } if query.is_empty()));
    let left = sent(cursor.key(key(KeyCode::Esc), WindowId(1), &shown));
    assert!(
        matches!(left, Command::OpenMailFolder { ref query, ref folder, .. } if query.is_empty() && folder == "INBOX")
    );
}

#[test]
fn an_invitation_is_answered_with_capital_y_t_or_n() {
    let mut cursor = MailCursor::default();
    let mut shown = view(vec![header(1, "Invitation: Planning")], 0, 1);
    let mut message = MailMessage {
        header: header(1, "Invitation: Planning"),
        cc: String::new(),
        text: "Planning?".into(),
        cut: false,
        attachments: Vec::new(),
        invitations: Vec::new(),
    };
    shown.message = Some(message.clone());
    assert_eq!(
        cursor.key(key(KeyCode::Char('Y')), WindowId(1), &shown),
        Handled::No,
        "nothing to answer"
    );
    message.invitations = vec!["REQUEST: Planning".into()];
    shown.message = Some(message);
    for (c, answer) in [
        ('Y', InvitationAnswer::Accept),
        ('T', InvitationAnswer::Tentative),
        ('N', InvitationAnswer::Decline),
    ] {
        assert_eq!(
            cursor.key(key(KeyCode::Char(c)), WindowId(1), &shown),
            Handled::Send(Command::AnswerInvitation {
                window_id: WindowId(1),
                answer
            })
        );
    }
}
