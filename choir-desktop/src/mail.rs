//! A mail window as every client has it: the rows of its list (the page's messages gathered
//! in threads), which one is selected, and what a key does there. The terminal and the
//! browser draw the same rows and send the same commands.

use choir_proto::mail::{thread_subject, InvitationAnswer, MailHeader, MAIL_PAGE};
use choir_proto::{Command, MailView, WindowId};

pub use crate::handled::Handled;
use crate::key::{Key, KeyCode};

mod date;

pub use date::short_date;

/// The key hints a mail window shows.
pub const HINT: &str =
    "↑↓ select · Enter read · Esc close · / search · [ ] folder · n/p page · c new · r reply · f forward · g refresh · A add account";
/// What the reading pane says under a message's attachments.
pub const ATTACHMENTS_HINT: &str = "s saves them to attachments/ in the workspace";
/// What the reading pane says under an invitation.
pub const INVITATION_HINT: &str = "Y accept · T tentative · N decline (the organizer is told)";
/// The key hints while the search field is open.
pub const SEARCH_HINT: &str =
    "type words to find · Enter search · Esc cancel (an empty search shows the folder)";
/// The key hints while the account form is open.
pub const FORM_HINT: &str = "Tab/↓ next field · Enter on the last adds the account · Esc cancel";

/// A row of the list: a message, and where it stands in its thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row<'a> {
    pub header: &'a MailHeader,
    /// Messages in its thread on this page, on the thread's first row (the newest); 0 on the
    /// thread's other rows, which are drawn indented under it.
    pub thread: usize,
}

impl Row<'_> {
    pub fn in_thread(&self) -> bool {
        self.thread == 0
    }
}

/// The page's messages in threads (by subject, without `Re:` and `Fwd:`), the thread with the
/// newest message first; within a thread, newest first.
pub fn rows(view: &MailView) -> Vec<Row<'_>> {
    let mut threads: Vec<(&str, Vec<&MailHeader>)> = Vec::new();
    for header in &view.headers {
        let subject = thread_subject(&header.subject);
        match threads
            .iter_mut()
            .find(|(key, _)| key.eq_ignore_ascii_case(subject))
        {
            Some((_, members)) => members.push(header),
            None => threads.push((subject, vec![header])),
        }
    }
    let mut rows = Vec::with_capacity(view.headers.len());
    for (_, members) in threads {
        let count = members.len();
        for (index, header) in members.into_iter().enumerate() {
            rows.push(Row {
                header,
                thread: if index == 0 { count } else { 0 },
            });
        }
    }
    rows
}

/// Where a page stands in its folder: `51–100 of 10,000`.
pub fn position(view: &MailView) -> String {
    if view.total == 0 {
        return "empty".into();
    }
    let first = view.offset.saturating_add(1);
    let last = view
        .offset
        .saturating_add(view.headers.len() as u32)
        .max(first);
    format!(
        "{}–{} of {}",
        choir_proto::thousands(u64::from(first)),
        choir_proto::thousands(u64::from(last)),
        choir_proto::thousands(u64::from(view.total))
    )
}

/// A field of the form that adds a mail account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountField {
    /// The setting it fills, as `choir account add --from-env` names it.
    pub setting: &'static str,
    pub label: &'static str,
    /// What it looks like, shown while it is empty.
    pub example: &'static str,
    /// Shown masked.
    pub secret: bool,
}

const fn field(setting: &'static str, label: &'static str, example: &'static str) -> AccountField {
    AccountField {
        setting,
        label,
        example,
        secret: false,
    }
}

/// The account form's fields, in order.
pub const ACCOUNT_FIELDS: &[AccountField] = &[
    field("CHOIR_MAIL_ADDRESS", "Address", "you@example.org"),
    field("CHOIR_MAIL_USER", "User name", "you@example.org"),
    AccountField {
        secret: true,
        ..field(
            choir_proto::mail::PASSWORD_SETTING,
            "Password",
            "an app password",
        )
    },
    field("CHOIR_IMAP_URL", "IMAP server", "imaps://imap.example.org"),
    field("CHOIR_SMTP_URL", "SMTP server", "smtps://smtp.example.org"),
    field(
        "CHOIR_CALDAV_URL",
        "CalDAV (optional)",
        "https://dav.example.org/cal/",
    ),
];

/// The command that adds the account the form's `values` (one per field, in order) name;
/// empty values are left out, so the daemon names what is missing.
pub fn add_account(window_id: WindowId, values: &[&str]) -> Command {
    let settings = ACCOUNT_FIELDS
        .iter()
        .zip(values)
        .filter(|(_, value)| !value.trim().is_empty())
        .map(|(field, value)| (field.setting.to_owned(), value.trim().to_owned()))
        .collect();
    Command::AddMailAccount {
        window_id,
        settings: choir_proto::mail::AccountSettings(settings),
    }
}

/// The command that shows what a search of the window's folder for `query` finds (the folder
/// as it is, when `query` is empty).
pub fn search(window_id: WindowId, view: &MailView, query: &str) -> Command {
    Command::OpenMailFolder {
        window_id,
        account: None,
        folder: if view.folder.is_empty() {
            "INBOX".into()
        } else {
            view.folder.clone()
        },
        offset: 0,
        query: query.trim().to_owned(),
    }
}

/// Where a page stands, and what it searched for: `1–3 of 3 found for “lunch”`.
pub fn found_position(view: &MailView) -> String {
    if view.query.is_empty() {
        position(view)
    } else {
        format!("{} found for “{}”", position(view), view.query)
    }
}

/// What a client says when a message written in the writer went out, or did not: the
/// notice's text, and whether it is an error.
pub fn said(body: &choir_proto::EventBody) -> Option<(String, bool)> {
    match body {
        choir_proto::EventBody::MailSent { to, subject, .. } => {
            Some((format!("sent “{subject}” to {to}"), false))
        }
        choir_proto::EventBody::MailDone { said, .. } => Some((said.clone(), false)),
        choir_proto::EventBody::MailSendFailed { error, .. } => {
            Some((format!("not sent: {error}"), true))
        }
        _ => None,
    }
}

/// This client's place in a mail window: the selected message, by uid, so that mail coming
/// in above it does not move it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailCursor {
    pub selected: Option<u32>,
    /// The form that adds an account is open (`A`).
    pub form: bool,
    /// The search field is open (`/`).
    pub searching: bool,
}

impl MailCursor {
    /// The selected row's index in `rows` (the first row when the selected message is not
    /// on the page).
    pub fn index(&self, rows: &[Row<'_>]) -> usize {
        self.selected
            .and_then(|uid| rows.iter().position(|row| row.header.uid == uid))
            .unwrap_or(0)
    }

    /// Selects the row at `index` (clamped to the rows).
    pub fn select(&mut self, rows: &[Row<'_>], index: usize) {
        self.selected = rows
            .get(index.min(rows.len().saturating_sub(1)))
            .map(|row| row.header.uid);
    }

    /// What `key` does in mail window `window_id` showing `view`: the command to send, if
    /// any. `None` with `handled` false: the key is not the mail window's.
    pub fn key(&mut self, key: Key, window_id: WindowId, view: &MailView) -> Handled {
        if key.mods.ctrl || key.mods.alt {
            return Handled::No;
        }
        let rows = rows(view);
        let index = self.index(&rows);
        // Another page of what the window shows (the search's, if it searched).
        let folder = |folder: &str, offset: u32| Command::OpenMailFolder {
            window_id,
            account: None,
            folder: folder.to_owned(),
            offset,
            query: view.query.clone(),
        };
        // Another folder: as it is, not searched.
        let other = |folder: &str| Command::OpenMailFolder {
            window_id,
            account: None,
            folder: folder.to_owned(),
            offset: 0,
            query: String::new(),
        };
        let command = match key.code {
            KeyCode::Up | KeyCode::Char('k') => {
                if index == 0 && view.offset > 0 {
                    self.selected = None;
                    folder(&view.folder, view.offset.saturating_sub(MAIL_PAGE))
                } else {
                    self.select(&rows, index.saturating_sub(1));
                    return Handled::Yes;
                }
            }
            KeyCode::Down | KeyCode::Char('j') => {
                let last = index + 1 >= rows.len();
                if last && self.has_next_page(view) {
                    self.selected = None;
                    folder(&view.folder, view.offset.saturating_add(MAIL_PAGE))
                } else {
                    self.select(&rows, index + 1);
                    return Handled::Yes;
                }
            }
            KeyCode::Home => {
                self.select(&rows, 0);
                return Handled::Yes;
            }
            KeyCode::End => {
                self.select(&rows, rows.len());
                return Handled::Yes;
            }
            KeyCode::PageDown | KeyCode::Char('n') if self.has_next_page(view) => {
                self.selected = None;
                folder(&view.folder, view.offset.saturating_add(MAIL_PAGE))
            }
            KeyCode::PageUp | KeyCode::Char('p') if view.offset > 0 => {
                self.selected = None;
                folder(&view.folder, view.offset.saturating_sub(MAIL_PAGE))
            }
            KeyCode::PageDown | KeyCode::PageUp | KeyCode::Char('n') | KeyCode::Char('p') => {
                return Handled::Yes
            }
            KeyCode::Enter => match rows.get(index) {
                Some(row) => Command::OpenMailMessage {
                    window_id,
                    uid: Some(row.header.uid),
                },
                None => return Handled::Yes,
            },
            KeyCode::Esc | KeyCode::Char('q') if view.message.is_some() => {
                Command::OpenMailMessage {
                    window_id,
                    uid: None,
                }
            }
            KeyCode::Char(']') | KeyCode::Tab => match step(&view.folders, &view.folder, 1) {
                Some(next) => {
                    self.selected = None;
                    other(next)
                }
                None => return Handled::Yes,
            },
            KeyCode::Char('[') | KeyCode::BackTab => match step(&view.folders, &view.folder, -1) {
                Some(previous) => {
                    self.selected = None;
                    other(previous)
                }
                None => return Handled::Yes,
            },
            KeyCode::Char('/') => {
                self.searching = true;
                return Handled::Yes;
            }
            // Esc leaves a search once no message is open.
            KeyCode::Esc if view.message.is_none() && !view.query.is_empty() => {
                self.selected = None;
                other(&view.folder)
            }
            KeyCode::Char('a') => match step(&view.accounts, &view.account, 1) {
                Some(account) if account != view.account => {
                    self.selected = None;
                    Command::OpenMailFolder {
                        window_id,
                        account: Some(account.to_owned()),
                        folder: "INBOX".into(),
                        offset: 0,
                        query: String::new(),
                    }
                }
                _ => return Handled::Yes,
            },
            KeyCode::Char('g') => folder(
                if view.folder.is_empty() {
                    "INBOX"
                } else {
                    &view.folder
                },
                view.offset,
            ),
            KeyCode::Char(c @ ('Y' | 'T' | 'N'))
                if view
                    .message
                    .as_ref()
                    .is_some_and(|message| !message.invitations.is_empty()) =>
            {
                Command::AnswerInvitation {
                    window_id,
                    answer: match c {
                        'Y' => InvitationAnswer::Accept,
                        'T' => InvitationAnswer::Tentative,
                        _ => InvitationAnswer::Decline,
                    },
                }
            }
            KeyCode::Char('s')
                if view
                    .message
                    .as_ref()
                    .is_some_and(|message| !message.attachments.is_empty()) =>
            {
                Command::SaveAttachments { window_id }
            }
            KeyCode::Char('A') => {
                self.form = true;
                return Handled::Yes;
            }
            KeyCode::Char('c') => Command::ComposeMail {
                window_id,
                reply: false,
                forward: false,
            },
            KeyCode::Char('r') | KeyCode::Char('f') if view.message.is_none() => {
                return Handled::Notice(
                    "open a message first (Enter), then r answers it and f forwards it".into(),
                )
            }
            KeyCode::Char('r') => Command::ComposeMail {
                window_id,
                reply: true,
                forward: false,
            },
            KeyCode::Char('f') => Command::ComposeMail {
                window_id,
                reply: false,
                forward: true,
            },
            _ => return Handled::No,
        };
        Handled::Send(command)
    }

    fn has_next_page(&self, view: &MailView) -> bool {
        view.offset.saturating_add(view.headers.len() as u32) < view.total
    }
}

/// The name `by` places after `current` in `names` (wrapping), `None` when there is none.
fn step<'a>(names: &'a [String], current: &str, by: isize) -> Option<&'a str> {
    if names.is_empty() {
        return None;
    }
    let at = names.iter().position(|name| name == current).unwrap_or(0) as isize;
    let next = (at + by).rem_euclid(names.len() as isize) as usize;
    Some(names[next].as_str())
}

#[cfg(test)]
mod tests;
