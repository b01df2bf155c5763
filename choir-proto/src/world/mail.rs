//! Mail windows: what each shows of its account, folded from the `mail.*` events.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::event::{Event, EventBody};
use crate::ids::WindowId;
use crate::mail::{MailHeader, MailMessage, MAIL_PAGE};

/// What one mail window shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailView {
    pub window_id: WindowId,
    /// The account's name (its address); empty until the first page came.
    #[serde(default)]
    pub account: String,
    /// Every account the user has, to switch between.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub folders: Vec<String>,
    #[serde(default)]
    pub folder: String,
    /// What the page was searched for (empty: the folder as it is).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub query: String,
    /// The folder's UIDVALIDITY: a message is named by folder, validity and uid.
    #[serde(default)]
    pub validity: u32,
    /// Messages in the folder.
    #[serde(default)]
    pub total: u32,
    /// How many of the newest messages come before this page.
    #[serde(default)]
    pub offset: u32,
    /// The page, newest first (at most [`MAIL_PAGE`]).
    #[serde(default)]
    pub headers: Vec<MailHeader>,
    /// The seq that showed this page (a share made later does not see it).
    #[serde(default)]
    pub shown_at: u64,
    /// A page was asked for and has not come yet.
    /// The headers that came live after the page was shown, each with the seq that brought it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arrivals: Vec<(u32, u64)>,
    #[serde(default)]
    pub loading: bool,
    /// The message asked for and not shown yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opening: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<MailMessage>,
    #[serde(default)]
    pub message_at: u64,
    /// What went wrong with the last request (wrong password, server gone, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl MailView {
    /// A window that waits for its first page.
    pub fn new(window_id: WindowId) -> Self {
        Self {
            window_id,
            account: String::new(),
            accounts: Vec::new(),
            folders: Vec::new(),
            folder: String::new(),
            query: String::new(),
            validity: 0,
            total: 0,
            offset: 0,
            headers: Vec::new(),
            shown_at: 0,
            arrivals: Vec::new(),
            loading: true,
            opening: None,
            message: None,
            message_at: 0,
            problem: None,
        }
    }

    /// Hides what was shown before seq `since` (a share made then).
    pub(crate) fn since(&mut self, since: u64) {
        if self.shown_at < since {
            // What was searched for, and what went wrong, before it began.
            self.query.clear();
            self.problem = None;
            let arrivals = &self.arrivals;
            self.headers.retain(|header| {
                arrivals
                    .iter()
                    .any(|(uid, seq)| *uid == header.uid && *seq >= since)
            });
        }
        if self.message_at < since {
            self.message = None;
        }
    }
}

/// Folds a `mail.*` event (and a mail window's opening and closing) into the views.
pub(crate) fn apply(views: &mut BTreeMap<WindowId, MailView>, event: &Event) {
    match &event.body {
        EventBody::WindowOpened {
            window_id,
            app: crate::AppKind::Mail,
            ..
        } => {
            views.insert(*window_id, MailView::new(*window_id));
        }
        EventBody::WindowClosed { window_id } => {
            views.remove(window_id);
        }
        EventBody::MailFolderOpened {
            window_id,
            account,
            folder,
            offset,
            query,
        } => {
            if let Some(view) = views.get_mut(window_id) {
                view.query = query.clone();
                // Another folder's message is not left open beside this one's list.
                let account_changes = !account.is_empty() && *account != view.account;
                if account_changes || *folder != view.folder {
                    view.message = None;
                    view.opening = None;
                }
                if !account.is_empty() {
                    view.account = account.clone();
                }
                view.folder = folder.clone();
                view.offset = *offset;
                view.loading = true;
                view.problem = None;
            }
        }
        EventBody::MailPageShown {
            window_id,
            account,
            accounts,
            folders,
            folder,
            validity,
            total,
            offset,
            headers,
            query,
        } => {
            if let Some(view) = views.get_mut(window_id) {
                view.query = query.clone();
                if view.account != *account || view.folder != *folder {
                    view.message = None;
                    view.opening = None;
                }
                view.account = account.clone();
                view.accounts = accounts.clone();
                view.folders = folders.clone();
                view.folder = folder.clone();
                view.validity = *validity;
                view.total = *total;
                view.offset = *offset;
                view.headers = headers.clone();
                view.shown_at = event.seq;
                view.arrivals.clear();
                view.loading = false;
                view.problem = None;
            }
        }
        EventBody::MailMessageOpened { window_id, uid } => {
            if let Some(view) = views.get_mut(window_id) {
                view.opening = *uid;
                view.problem = None;
                if uid.is_none() {
                    view.message = None;
                }
            }
        }
        EventBody::MailMessageShown { window_id, message } => {
            // Only the message the window is waiting for (not one it closed or left since).
            let view = views
                .get_mut(window_id)
                .filter(|view| view.opening == Some(message.header.uid));
            if let Some(view) = view {
                view.opening = None;
                if let Some(header) = view
                    .headers
                    .iter_mut()
                    .find(|header| header.uid == message.header.uid)
                {
                    header.seen = true;
                }
                view.message = Some(MailMessage::clone(message));
                view.message_at = event.seq;
            }
        }
        EventBody::MailArrived {
            account,
            folder,
            total,
            headers,
        } => {
            for view in views.values_mut() {
                // A search shows what it found when it ran; the folder as it is shows arrivals.
                if view.account != *account
                    || view.folder != *folder
                    || view.loading
                    || !view.query.is_empty()
                {
                    continue;
                }
                view.total = *total;
                if view.offset == 0 {
                    let mut page: Vec<MailHeader> = headers
                        .iter()
                        .filter(|new| view.headers.iter().all(|held| held.uid != new.uid))
                        .cloned()
                        .collect();
                    page.sort_by_key(|header| std::cmp::Reverse(header.uid));
                    view.arrivals
                        .extend(page.iter().map(|header| (header.uid, event.seq)));
                    page.append(&mut view.headers);
                    page.truncate(MAIL_PAGE as usize);
                    view.headers = page;
                    let kept = &view.headers;
                    view.arrivals
                        .retain(|(uid, _)| kept.iter().any(|header| header.uid == *uid));
                }
            }
        }
        EventBody::MailInvitationAnswered { window_id, .. }
        | EventBody::MailAttachmentsSaving { window_id, .. } => {
            if let Some(view) = views.get_mut(window_id) {
                view.problem = None;
            }
        }
        EventBody::MailFailed { window_id, error } => {
            if let Some(view) = views.get_mut(window_id) {
                view.loading = false;
                view.opening = None;
                view.problem = Some(error.clone());
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app_kind::AppKind;
    use crate::decide::decide;
    use crate::grid::Rect;
    use crate::world::World;
    use crate::Command;

    fn header(uid: u32) -> MailHeader {
        MailHeader {
            uid,
            from: format!("sender{uid}@example.test"),
            to: "alice@example.test".into(),
            subject: format!("message {uid}"),
            date: String::new(),
            message_id: format!("<{uid}@example.test>"),
            size: 10,
            seen: false,
        }
    }

    struct Log {
        world: World,
        seq: u64,
    }

    impl Log {
        fn new() -> Self {
            let mut log = Log {
                world: World::default(),
                seq: 0,
            };
            log.push(EventBody::WindowOpened {
                window_id: WindowId(1),
                app: AppKind::Mail,
                title: "Mail".into(),
                rect: Rect::new(0, 0, 80, 20),
            });
            log
        }

        fn push(&mut self, body: EventBody) -> u64 {
            self.seq += 1;
            self.world.apply(&Event {
                seq: self.seq,
                ts: 0,
                actor: "test".into(),
                correlation: None,
                v: 1,
                body,
            });
            self.seq
        }

        fn run(&mut self, command: Command) {
            for body in decide(&self.world, &command).unwrap() {
                self.push(body);
            }
        }

        fn page(&mut self, folder: &str, offset: u32, uids: impl Iterator<Item = u32>) -> u64 {
            self.push(EventBody::MailPageShown {
                window_id: WindowId(1),
                account: "alice@example.test".into(),
                accounts: vec!["alice@example.test".into()],
                folders: vec!["INBOX".into(), "Archive".into()],
                folder: folder.into(),
                validity: 9,
                total: 120,
                offset,
                headers: uids.map(header).collect(),
                query: Default::default(),
            })
        }

        fn view(&self) -> &MailView {
            &self.world.mail[&WindowId(1)]
        }

        fn uids(&self) -> Vec<u32> {
            self.view().headers.iter().map(|h| h.uid).collect()
        }
    }

    fn arrived(folder: &str, total: u32, uids: &[u32]) -> EventBody {
        EventBody::MailArrived {
            account: "alice@example.test".into(),
            folder: folder.into(),
            total,
            headers: uids.iter().copied().map(header).collect(),
        }
    }

    #[test]
    fn a_new_mail_window_waits_for_its_first_page() {
        let mut log = Log::new();
        assert!(log.view().loading);
        log.page("INBOX", 0, (71..=120).rev());
        let view = log.view();
        assert!(!view.loading);
        assert_eq!(
            (view.total, view.validity, view.headers.len()),
            (120, 9, 50)
        );
        assert_eq!(view.headers[0].uid, 120, "newest first");
    }

    #[test]
    fn mail_that_arrives_goes_on_top_of_the_first_page_only() {
        let mut log = Log::new();
        log.page("INBOX", 0, (71..=120).rev());
        log.push(arrived("INBOX", 122, &[121, 122, 120]));
        assert_eq!(
            log.uids()[..4],
            [122, 121, 120, 119],
            "once each, newest first"
        );
        assert_eq!(
            log.uids().len(),
            MAIL_PAGE as usize,
            "the page stays a page"
        );
        assert_eq!(log.view().total, 122);
        // Another folder's mail does not show here.
        log.push(arrived("Archive", 5, &[200]));
        assert_eq!(log.uids()[0], 122);
        // A page further back only counts it.
        log.page("INBOX", 50, (21..=70).rev());
        log.push(arrived("INBOX", 123, &[123]));
        assert_eq!(log.uids()[0], 70);
        assert_eq!(log.view().total, 123);
    }

    #[test]
    fn opening_and_closing_a_message() {
        let mut log = Log::new();
        log.page("INBOX", 0, (1..=3).rev());
        let refused = decide(
            &log.world,
            &Command::OpenMailMessage {
                window_id: WindowId(1),
                uid: Some(99),
            },
        );
        assert_eq!(refused, Err(crate::Rejection::UnknownMessage(99)));
        log.run(Command::OpenMailMessage {
            window_id: WindowId(1),
            uid: Some(2),
        });
        assert_eq!(log.view().opening, Some(2));
        let message = MailMessage {
            header: header(2),
            cc: String::new(),
            text: "hello".into(),
            cut: false,
            attachments: Vec::new(),
            invitations: Vec::new(),
        };
        log.push(EventBody::MailMessageShown {
            window_id: WindowId(1),
            message: Box::new(message.clone()),
        });
        assert_eq!(log.view().message.as_ref(), Some(&message));
        assert!(
            log.view().headers[1].seen,
            "an opened message counts as read"
        );
        log.run(Command::OpenMailMessage {
            window_id: WindowId(1),
            uid: None,
        });
        assert_eq!(log.view().message, None);
        // Closing nothing changes nothing.
        let none = decide(
            &log.world,
            &Command::OpenMailMessage {
                window_id: WindowId(1),
                uid: None,
            },
        );
        assert_eq!(none, Ok(Vec::new()));
    }

    #[test]
    fn a_message_is_shown_only_while_the_window_waits_for_it() {
        let mut log = Log::new();
        log.page("INBOX", 0, (1..=3).rev());
        let shown = |uid: u32| EventBody::MailMessageShown {
            window_id: WindowId(1),
            message: Box::new(MailMessage {
                header: header(uid),
                cc: String::new(),
                text: format!("text {uid}"),
                cut: false,
                attachments: Vec::new(),
                invitations: Vec::new(),
            }),
        };
        // Opened, then closed before it came: it stays closed.
        log.run(Command::OpenMailMessage {
            window_id: WindowId(1),
            uid: Some(2),
        });
        log.run(Command::OpenMailMessage {
            window_id: WindowId(1),
            uid: None,
        });
        log.push(shown(2));
        assert_eq!(log.view().message, None);
        // Open in one folder, then another folder opened: it is closed at once.
        log.run(Command::OpenMailMessage {
            window_id: WindowId(1),
            uid: Some(3),
        });
        log.push(shown(3));
        assert!(log.view().message.is_some());
        log.run(Command::OpenMailFolder {
            window_id: WindowId(1),
            account: None,
            folder: "Archive".into(),
            offset: 0,
            query: String::new(),
        });
        assert_eq!(log.view().message, None);
        assert!(
            decide(
                &log.world,
                &Command::ComposeMail {
                    window_id: WindowId(1),
                    reply: true,
                    forward: false
                }
            )
            .is_err(),
            "nothing left to answer in the other folder"
        );
    }

    #[test]
    fn a_failure_is_shown_until_the_next_request() {
        let mut log = Log::new();
        log.push(EventBody::MailFailed {
            window_id: WindowId(1),
            error: "the IMAP server refused the login".into(),
        });
        assert!(!log.view().loading);
        assert!(log.view().problem.is_some());
        log.run(Command::OpenMailFolder {
            window_id: WindowId(1),
            account: None,
            folder: "INBOX".into(),
            offset: 0,
            query: Default::default(),
        });
        assert!(log.view().loading);
        assert_eq!(log.view().problem, None);
    }

    #[test]
    fn a_reply_is_written_in_a_new_writer_window() {
        let mut log = Log::new();
        log.page("INBOX", 0, (1..=3).rev());
        let refused = decide(
            &log.world,
            &Command::ComposeMail {
                window_id: WindowId(1),
                reply: true,
                forward: false,
            },
        );
        assert_eq!(refused, Err(crate::Rejection::NoMessageOpen));
        log.push(EventBody::MailMessageOpened {
            window_id: WindowId(1),
            uid: Some(3),
        });
        log.push(EventBody::MailMessageShown {
            window_id: WindowId(1),
            message: Box::new(MailMessage {
                header: header(3),
                cc: String::new(),
                text: "are you in?".into(),
                cut: false,
                attachments: Vec::new(),
                invitations: Vec::new(),
            }),
        });
        log.run(Command::ComposeMail {
            window_id: WindowId(1),
            reply: true,
            forward: false,
        });
        let writer = log.world.desktop.window(WindowId(2)).unwrap();
        assert_eq!(writer.app, AppKind::Writer);
        let doc = &log.world.docs[&writer.doc_id.unwrap()];
        assert_eq!(doc.title, "Mail: Re: message 3");
        let draft = crate::mail::Draft::parse(&doc.text().unwrap()).unwrap();
        assert_eq!(draft.to, "sender3@example.test");
        assert_eq!(draft.from, "alice@example.test");
        assert!(draft.text.contains("> are you in?"));
    }

    #[test]
    fn a_share_sees_only_what_was_shown_after_it_began() {
        let mut log = Log::new();
        log.page("INBOX", 0, (1..=3).rev());
        log.push(EventBody::MailMessageOpened {
            window_id: WindowId(1),
            uid: Some(3),
        });
        log.push(EventBody::MailMessageShown {
            window_id: WindowId(1),
            message: Box::new(MailMessage {
                header: header(3),
                cc: String::new(),
                text: "private".into(),
                cut: false,
                attachments: Vec::new(),
                invitations: Vec::new(),
            }),
        });
        let share_began = log.seq + 1;
        let arrival = log.push(arrived("INBOX", 4, &[4]));
        assert_eq!(arrival, share_began);
        let shared = log.world.clone().since(share_began);
        let view = &shared.mail[&WindowId(1)];
        assert_eq!(
            view.headers.iter().map(|h| h.uid).collect::<Vec<_>>(),
            vec![4],
            "only the message that came after the share began"
        );
        assert_eq!(view.message, None);
        // The next page shown is seen whole.
        log.page("INBOX", 0, (1..=4).rev());
        let shared = log.world.clone().since(share_began);
        assert_eq!(shared.mail[&WindowId(1)].headers.len(), 4);
    }
}
