//! The daemon's side of mail windows. It follows the log and does what the events ask of
//! the mail servers, recording what they answered:
//!
//! - a mail window opened, or a folder opened in one: the page of headers is fetched
//!   (`mail.page_shown`, or `mail.failed` saying why);
//! - a message opened: its text is fetched, bounded (`mail.message_shown`);
//! - each folder some window shows is watched with IMAP IDLE, and what comes in is recorded
//!   once for all windows (`mail.arrived`);
//! - a message written in the writer and sent: it goes out through the account's SMTP
//!   server (`mail.sent`, or `mail.send_failed`);
//! - attachments saved: each goes to `attachments/NAME` in the workspace (`mail.done`);
//! - an invitation answered: the organizer is told, an accepted event kept in the calendar
//!   (`mail.done`, or `mail.failed`).
//!
//! Each request opens its own connection, so a slow server holds up only its own window. A
//! window's answer is recorded only if it is still the latest thing the window asked for.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, PoisonError};

use choir_mail::{Answer, Mailbox, MessageId, Outgoing};
use choir_proto::mail::{
    Draft, InvitationAnswer, MailAttachment, MailHeader, MailMessage, DRAFT_TITLE, MAIL_PAGE,
};
use choir_proto::{AppKind, Command, DocId, EventBody, MailView, WindowId};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::requests::{account, append, Kind, Request, Requests, ACTOR};
use super::MailAccounts;
use crate::actors::WorldHandle;
use crate::store::EventStore;
use crate::store::{Follow, Step};
use crate::tools::Workspace;

/// The folder a new mail window shows.
const INBOX: &str = "INBOX";

/// Starts following the log from `head + 1`; `views` are the mail windows open at `head`.
pub fn spawn(
    store: EventStore,
    accounts: MailAccounts,
    world: WorldHandle,
    workspace: Workspace,
    views: &BTreeMap<WindowId, MailView>,
    head: u64,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let mut windows = MailWindows {
        store: store.clone(),
        accounts,
        world,
        workspace,
        open: views.keys().copied().collect(),
        shown: BTreeMap::new(),
        latest: Arc::default(),
        watches: HashMap::new(),
    };
    for view in views.values() {
        windows.shown.insert(
            view.window_id,
            Shown {
                account: view.account.clone(),
                folder: view.folder.clone(),
                validity: view.validity,
                newest: newest_of_folder(&view.headers, view.offset, &view.query),
            },
        );
        if let Some(uid) = view.opening.filter(|_| !view.loading) {
            windows.show_message(view.window_id, uid, head);
        }
        // A request the daemon stopped in the middle of is asked again.
        if view.loading {
            let folder = if view.folder.is_empty() {
                INBOX
            } else {
                &view.folder
            };
            windows.show_page(
                view.window_id,
                &view.account,
                folder,
                view.offset,
                &view.query,
                head,
            );
        }
    }
    windows.watch_what_is_shown();
    tokio::spawn(windows.run(store, head, shutdown))
}

/// What a mail window shows, as far as this needs to know.
#[derive(Debug, Clone)]
struct Shown {
    account: String,
    folder: String,
    validity: u32,
    /// The highest uid it has seen in the folder.
    newest: u32,
}

struct MailWindows {
    store: EventStore,
    accounts: MailAccounts,
    world: WorldHandle,
    workspace: Workspace,
    /// The mail windows open.
    open: HashSet<WindowId>,
    shown: BTreeMap<WindowId, Shown>,
    latest: Requests,
    /// The IDLE watch of each (account, folder) some window shows.
    watches: HashMap<(String, String), JoinHandle<()>>,
}

impl MailWindows {
    async fn run(mut self, store: EventStore, head: u64, shutdown: CancellationToken) {
        let mut follow = Follow::<()>::new("the mail windows", store.subscribe(head + 1), shutdown);
        while let Some(step) = follow.next().await {
            if let Step::Event(event) = step {
                self.apply(event.seq, &event.body);
            }
        }
        for (_, watch) in self.watches.drain() {
            watch.abort();
        }
    }

    fn apply(&mut self, seq: u64, body: &EventBody) {
        match body {
            EventBody::WindowOpened {
                window_id,
                app: AppKind::Mail,
                ..
            } => {
                self.open.insert(*window_id);
                self.show_page(*window_id, "", INBOX, 0, "", seq);
            }
            EventBody::WindowClosed { window_id } => {
                self.open.remove(window_id);
                // What it asked for and has not got is not recorded.
                self.latest
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .retain(|(window, _), _| window != window_id);
                let was_shown = self.shown.remove(window_id).is_some();
                if was_shown {
                    self.watch_what_is_shown();
                }
            }
            EventBody::MailFolderOpened {
                window_id,
                account,
                folder,
                offset,
                query,
            } => {
                // A message still coming from the folder it showed is not shown over this one.
                self.latest
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert((*window_id, Kind::Message), seq);
                self.show_page(*window_id, account, folder, *offset, query, seq);
            }
            EventBody::MailPageShown {
                window_id,
                account,
                folder,
                validity,
                headers,
                offset,
                query,
                ..
            } if self.open.contains(window_id) => {
                self.shown.insert(
                    *window_id,
                    Shown {
                        account: account.clone(),
                        folder: folder.clone(),
                        validity: *validity,
                        newest: newest_of_folder(headers, *offset, query),
                    },
                );
                self.watch_what_is_shown();
            }
            EventBody::MailArrived {
                account,
                folder,
                headers,
                ..
            } => {
                for shown in self.shown.values_mut() {
                    if shown.account == *account && shown.folder == *folder {
                        shown.newest = shown.newest.max(newest(headers));
                    }
                }
            }
            EventBody::MailMessageOpened {
                window_id,
                uid: Some(uid),
            } => self.show_message(*window_id, *uid, seq),
            EventBody::MailMessageOpened {
                window_id,
                uid: None,
            } => {
                self.latest
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert((*window_id, Kind::Message), seq);
            }
            EventBody::MailSendRequested { doc_id } => self.send(*doc_id),
            EventBody::MailAttachmentsSaving {
                window_id,
                uid,
                names,
            } => self.save(*window_id, *uid, names.clone()),
            EventBody::MailInvitationAnswered {
                window_id,
                uid,
                answer,
            } => self.answer(*window_id, *uid, *answer),
            _ => {}
        }
    }

    /// Fetches a page of `folder` for `window_id` (`account` empty: the first account).
    fn show_page(
        &self,
        window_id: WindowId,
        account: &str,
        folder: &str,
        offset: u32,
        query: &str,
        seq: u64,
    ) {
        let request = Request::new(&self.latest, window_id, Kind::Page, seq);
        let (accounts, store) = (self.accounts.clone(), self.store.clone());
        let (account, folder, query) = (account.to_owned(), folder.to_owned(), query.to_owned());
        tokio::spawn(async move {
            let body = page(&accounts, window_id, &account, &folder, offset, &query)
                .await
                .unwrap_or_else(|error| EventBody::MailFailed { window_id, error });
            request.record(&store, body).await;
        });
    }

    /// Fetches message `uid` of the folder `window_id` shows.
    fn show_message(&self, window_id: WindowId, uid: u32, seq: u64) {
        let request = Request::new(&self.latest, window_id, Kind::Message, seq);
        let Some(shown) = self.shown.get(&window_id).cloned() else {
            return;
        };
        let (accounts, store) = (self.accounts.clone(), self.store.clone());
        tokio::spawn(async move {
            let body = message(&accounts, window_id, &shown, uid)
                .await
                .unwrap_or_else(|error| EventBody::MailFailed { window_id, error });
            request.record(&store, body).await;
        });
    }

    /// Answers the invitation in message `uid` of the folder `window_id` shows.
    fn answer(&self, window_id: WindowId, uid: u32, answer: InvitationAnswer) {
        let Some(shown) = self.shown.get(&window_id).cloned() else {
            return;
        };
        let (accounts, store) = (self.accounts.clone(), self.store.clone());
        tokio::spawn(async move {
            let id = MessageId {
                folder: shown.folder.clone(),
                validity: shown.validity,
                uid,
            };
            let answered = async {
                let (account, invitation, _) =
                    super::invitations::find(&accounts, &id, Some(&shown.account)).await?;
                let answer = match answer {
                    InvitationAnswer::Accept => Answer::Accept,
                    InvitationAnswer::Tentative => Answer::Tentative,
                    InvitationAnswer::Decline => Answer::Decline,
                };
                super::invitations::answer(&account, &invitation, answer).await
            };
            let body = match answered.await {
                Ok(said) => EventBody::MailDone { window_id, said },
                Err(error) => EventBody::MailFailed { window_id, error },
            };
            append(&store, body).await;
        });
    }

    /// Saves attachments `names` of message `uid` of the folder `window_id` shows, each to
    /// `attachments/NAME` in the workspace.
    fn save(&self, window_id: WindowId, uid: u32, names: Vec<String>) {
        let Some(shown) = self.shown.get(&window_id).cloned() else {
            return;
        };
        let (accounts, store, workspace) = (
            self.accounts.clone(),
            self.store.clone(),
            self.workspace.clone(),
        );
        tokio::spawn(async move {
            let id = MessageId {
                folder: shown.folder.clone(),
                validity: shown.validity,
                uid,
            };
            let (mut saved, mut failed) = (Vec::new(), Vec::new());
            for name in &names {
                let path = super::attachments::default_path(name);
                let account = Some(shown.account.as_str());
                match super::attachments::save(&accounts, &workspace, &id, name, &path, account)
                    .await
                {
                    Ok(said) => saved.push(said),
                    Err(why) => failed.push(format!("{name}: {why}")),
                }
            }
            let body = if failed.is_empty() {
                EventBody::MailDone {
                    window_id,
                    said: saved.join("; "),
                }
            } else {
                saved.extend(failed.iter().map(|why| format!("not saved: {why}")));
                EventBody::MailFailed {
                    window_id,
                    error: saved.join("; "),
                }
            };
            append(&store, body).await;
        });
    }

    /// Sends the message written in `doc_id`.
    fn send(&self, doc_id: DocId) {
        let (accounts, store, world) = (
            self.accounts.clone(),
            self.store.clone(),
            self.world.clone(),
        );
        tokio::spawn(async move {
            let body = send(&accounts, &world, doc_id)
                .await
                .unwrap_or_else(|error| EventBody::MailSendFailed { doc_id, error });
            let sent = matches!(body, EventBody::MailSent { .. });
            append(&store, body).await;
            if sent {
                put_away(&world, doc_id).await;
            }
        });
    }

    /// Starts a watch for each folder a window shows that has none, and stops those no window
    /// shows any more.
    fn watch_what_is_shown(&mut self) {
        let mut wanted: HashMap<(String, String), u32> = HashMap::new();
        for shown in self.shown.values() {
            if shown.account.is_empty() {
                continue;
            }
            let newest = wanted
                .entry((shown.account.clone(), shown.folder.clone()))
                .or_default();
            *newest = (*newest).max(shown.newest);
        }
        self.watches.retain(|key, watch| {
            let keep = wanted.contains_key(key) && !watch.is_finished();
            if !keep {
                watch.abort();
            }
            keep
        });
        for (key, newest) in wanted {
            if self.watches.contains_key(&key) {
                continue;
            }
            let watch = tokio::spawn(super::watch::watch(
                self.store.clone(),
                self.accounts.clone(),
                key.clone(),
                newest,
            ));
            self.watches.insert(key, watch);
        }
    }
}

fn newest(headers: &[MailHeader]) -> u32 {
    headers.iter().map(|header| header.uid).max().unwrap_or(0)
}

/// The newest uid of the folder that `headers` tell: only the folder's first page as it is
/// does (0, unknown: a watch then asks the server).
fn newest_of_folder(headers: &[MailHeader], offset: u32, query: &str) -> u32 {
    if offset == 0 && query.is_empty() {
        newest(headers)
    } else {
        0
    }
}

async fn page(
    accounts: &MailAccounts,
    window_id: WindowId,
    asked: &str,
    folder: &str,
    offset: u32,
    query: &str,
) -> Result<EventBody, String> {
    let account = account(accounts, asked)?;
    let mut mailbox = Mailbox::open(&account).await.map_err(|e| e.to_string())?;
    let folders = mailbox.folders().await.map_err(|e| e.to_string())?;
    let page = mailbox
        .search_page(folder, query, offset as usize, MAIL_PAGE as usize)
        .await
        .map_err(|e| e.to_string())?;
    mailbox.close().await;
    Ok(EventBody::MailPageShown {
        window_id,
        account: account.address.clone(),
        accounts: accounts.all().into_iter().map(|a| a.address).collect(),
        folders,
        folder: folder.to_owned(),
        validity: page.validity,
        total: page.total,
        offset,
        headers: page.headers.into_iter().map(header).collect(),
        query: query.to_owned(),
    })
}

async fn message(
    accounts: &MailAccounts,
    window_id: WindowId,
    shown: &Shown,
    uid: u32,
) -> Result<EventBody, String> {
    let account = account(accounts, &shown.account)?;
    let mut mailbox = Mailbox::open(&account).await.map_err(|e| e.to_string())?;
    let id = MessageId {
        folder: shown.folder.clone(),
        validity: shown.validity,
        uid,
    };
    let read = mailbox.read(&id).await.map_err(|e| e.to_string())?;
    mailbox.close().await;
    let message = MailMessage {
        header: header(read.header),
        cc: read.cc,
        // Lines as every client draws them.
        text: read.text.replace("\r\n", "\n"),
        cut: false,
        attachments: read
            .attachments
            .into_iter()
            .map(|attachment| MailAttachment {
                name: attachment.name,
                content_type: attachment.content_type,
                size: attachment.size as u64,
            })
            .collect(),
        invitations: read
            .invitations
            .iter()
            .map(|invitation| {
                format!(
                    "{}: {}, {} to {}",
                    invitation.method,
                    invitation.event.title,
                    invitation.event.start,
                    invitation.event.end
                )
            })
            .collect(),
    };
    Ok(EventBody::MailMessageShown {
        window_id,
        message: Box::new(message.bound()),
    })
}

async fn send(
    accounts: &MailAccounts,
    world: &WorldHandle,
    doc_id: DocId,
) -> Result<EventBody, String> {
    let doc = world
        .doc(doc_id)
        .await
        .map_err(|err| err.to_string())?
        .ok_or_else(|| format!("document {doc_id} is gone"))?;
    let text = doc
        .text()
        .ok_or_else(|| format!("document {doc_id} could not be read"))?;
    let draft = Draft::parse(&text).map_err(|err| err.to_string())?;
    let account = account(accounts, &draft.from)?;
    let list = |field: &str| -> Vec<String> {
        field
            .split(',')
            .map(str::trim)
            .filter(|address| !address.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let outgoing = Outgoing {
        to: list(&draft.to),
        cc: list(&draft.cc),
        subject: draft.subject.clone(),
        body: draft.text,
        in_reply_to: (!draft.in_reply_to.is_empty()).then_some(draft.in_reply_to),
    };
    choir_mail::send(&account, &outgoing)
        .await
        .map_err(|err| err.to_string())?;
    Ok(EventBody::MailSent {
        doc_id,
        account: account.address,
        to: outgoing.to.join(", "),
        subject: draft.subject,
    })
}

/// Once its message went out, a draft's writer windows close, as a mail client's compose
/// window does, and the document (kept, as a record) is named for what it was.
async fn put_away(world: &WorldHandle, doc_id: DocId) {
    let Some(shown) = world.welcome().await else {
        return;
    };
    let windows: Vec<WindowId> = shown
        .desktop
        .windows
        .values()
        .filter(|window| window.app == AppKind::Writer && window.doc_id == Some(doc_id))
        .map(|window| window.id)
        .collect();
    let title = shown.docs.get(&doc_id).map(|doc| {
        let subject = doc.title.strip_prefix(DRAFT_TITLE).unwrap_or(&doc.title);
        format!("Sent: {subject}")
    });
    for window_id in windows {
        let close = Command::CloseWindow { window_id };
        // Closed by the user meanwhile: nothing to do.
        let _ = world.execute(close, ACTOR.into(), None).await;
    }
    if let Some(title) = title {
        let rename = Command::RenameDoc { doc_id, title };
        let _ = world.execute(rename, ACTOR.into(), None).await;
    }
}

pub(super) fn header(header: choir_mail::Header) -> MailHeader {
    MailHeader {
        uid: header.id.uid,
        from: header.from,
        to: header.to,
        subject: header.subject,
        date: header.date,
        message_id: header.message_id,
        size: header.size,
        seen: header.seen,
    }
}
