//! Mail windows' commands: which folder and message a window shows, and messages written in
//! the writer.

use super::{existing, open_window, Rejection};
use crate::app_kind::AppKind;
use crate::event::EventBody;
use crate::ids::{DocId, WindowId};
use crate::mail::{Draft, MAX_FOLDER_CHARS};
use crate::world::{MailView, World};

/// The view of mail window `window_id`.
fn mail_window(world: &World, window_id: WindowId) -> Result<&MailView, Rejection> {
    if existing(&world.desktop, window_id)?.app != AppKind::Mail {
        return Err(Rejection::NotAMailWindow(window_id));
    }
    world
        .mail
        .get(&window_id)
        .ok_or(Rejection::NotAMailWindow(window_id))
}

pub(super) fn open_folder(
    world: &World,
    window_id: WindowId,
    account: Option<&str>,
    folder: &str,
    offset: u32,
    query: &str,
) -> Result<Vec<EventBody>, Rejection> {
    let view = mail_window(world, window_id)?;
    if query.chars().count() > MAX_FOLDER_CHARS {
        return Err(Rejection::BadFolder);
    }
    if folder.trim().is_empty() || folder.chars().count() > MAX_FOLDER_CHARS {
        return Err(Rejection::BadFolder);
    }
    let account = account.unwrap_or(&view.account);
    if account.chars().count() > MAX_FOLDER_CHARS {
        return Err(Rejection::BadFolder);
    }
    Ok(vec![EventBody::MailFolderOpened {
        window_id,
        account: account.to_owned(),
        folder: folder.to_owned(),
        offset,
        query: query.trim().to_owned(),
    }])
}

pub(super) fn open_message(
    world: &World,
    window_id: WindowId,
    uid: Option<u32>,
) -> Result<Vec<EventBody>, Rejection> {
    let view = mail_window(world, window_id)?;
    if let Some(uid) = uid {
        if !view.headers.iter().any(|header| header.uid == uid) {
            return Err(Rejection::UnknownMessage(uid));
        }
    } else if view.message.is_none() && view.opening.is_none() {
        return Ok(Vec::new());
    }
    Ok(vec![EventBody::MailMessageOpened { window_id, uid }])
}

pub(super) fn compose(
    world: &World,
    window_id: WindowId,
    reply: bool,
    forward: bool,
) -> Result<Vec<EventBody>, Rejection> {
    let view = mail_window(world, window_id)?;
    let draft = if reply || forward {
        let message = view.message.as_ref().ok_or(Rejection::NoMessageOpen)?;
        if reply {
            Draft::reply(&view.account, message)
        } else {
            Draft::forward(&view.account, message)
        }
    } else {
        Draft::new(&view.account)
    };
    let doc_id = DocId(world.next_doc_id.max(1));
    let title = draft.title();
    let new_window = WindowId(world.desktop.next_window_id);
    let mut events = vec![EventBody::DocCreated {
        doc_id,
        title: title.clone(),
        content: draft.to_text(),
    }];
    events.extend(open_window(
        &world.desktop,
        &AppKind::Writer,
        Some(title),
        None,
    )?);
    events.push(EventBody::WriterDocShown {
        window_id: new_window,
        doc_id: Some(doc_id),
    });
    Ok(events)
}

pub(super) fn answer_invitation(
    world: &World,
    window_id: WindowId,
    answer: crate::mail::InvitationAnswer,
) -> Result<Vec<EventBody>, Rejection> {
    let view = mail_window(world, window_id)?;
    let message = view.message.as_ref().ok_or(Rejection::NoMessageOpen)?;
    if message.invitations.is_empty() {
        return Err(Rejection::NoInvitation(window_id));
    }
    Ok(vec![EventBody::MailInvitationAnswered {
        window_id,
        uid: message.header.uid,
        answer,
    }])
}

pub(super) fn save_attachments(
    world: &World,
    window_id: WindowId,
) -> Result<Vec<EventBody>, Rejection> {
    let view = mail_window(world, window_id)?;
    let message = view.message.as_ref().ok_or(Rejection::NoMessageOpen)?;
    if message.attachments.is_empty() {
        return Err(Rejection::NoAttachments(window_id));
    }
    Ok(vec![EventBody::MailAttachmentsSaving {
        window_id,
        uid: message.header.uid,
        names: message
            .attachments
            .iter()
            .map(|attachment| attachment.name.clone())
            .collect(),
    }])
}

pub(super) fn add_account(world: &World, window_id: WindowId) -> Result<Vec<EventBody>, Rejection> {
    mail_window(world, window_id)?;
    Ok(Vec::new())
}

pub(super) fn send(world: &World, doc_id: DocId) -> Result<Vec<EventBody>, Rejection> {
    world
        .docs
        .get(&doc_id)
        .ok_or(Rejection::UnknownDoc(doc_id))?;
    Ok(vec![EventBody::MailSendRequested { doc_id }])
}
