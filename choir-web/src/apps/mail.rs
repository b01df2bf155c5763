//! A mail window: the account, folder and where the page stands; the folders; the page's
//! messages in threads; the open message. The rows and what a key does are
//! `choir_desktop::mail`'s, as in the terminal; clicks send the same commands.

use choir_desktop::mail::{self, MailCursor};
use choir_proto::mail::InvitationAnswer;
use choir_proto::{Command, MailView, Window, WindowId, World};
use yew::prelude::*;

use crate::msg::Msg;

pub fn view(
    send: &Callback<Msg>,
    world: &World,
    cursor: Option<&MailCursor>,
    utc_offset_min: i32,
    window: &Window,
) -> Html {
    let id = window.id;
    let Some(view) = world.mail.get(&id) else {
        return html! { <p class="muted">{ "this mail window is not known here" }</p> };
    };
    let default_cursor = MailCursor::default();
    let cursor = cursor.unwrap_or(&default_cursor);
    let command = |command: Command| {
        let send = send.clone();
        Callback::from(move |_: MouseEvent| send.emit(Msg::Send(command.clone())))
    };
    let head = if view.account.is_empty() {
        "Mail".to_owned()
    } else {
        format!(
            "{} · {} · {}",
            view.account,
            view.folder,
            mail::found_position(view)
        )
    };
    let message_open = view.message.is_some();
    html! {
        <div class="mail" data-loading={ view.loading.to_string() }>
            <div class="mail-bar">
                <span class="mail-head">{ head }</span>
                <input id={ search_input_id(id) } class="mail-search" type="search" placeholder="search (/)"
                    aria-label="search this folder" value={ view.query.clone() }
                    onkeydown={ search_key(send, id) } />
                <span class="mail-actions">
                    <button data-action="newer" disabled={ view.offset == 0 }
                        onclick={ command(page(id, view, false)) }>{ "Newer" }</button>
                    <button data-action="older" disabled={ !has_older(view) }
                        onclick={ command(page(id, view, true)) }>{ "Older" }</button>
                    <button data-action="refresh" onclick={ command(refresh(id, view)) }>{ "Refresh" }</button>
                    <button data-action="add-account" onclick={ send.reform(move |_: MouseEvent| Msg::MailForm(id, true)) }>{ "Account…" }</button>
                    <button data-action="compose" onclick={ command(compose(id, false, false)) }>{ "New" }</button>
                    <button data-action="reply" disabled={ !message_open }
                        onclick={ command(compose(id, true, false)) }>{ "Reply" }</button>
                    <button data-action="forward" disabled={ !message_open }
                        onclick={ command(compose(id, false, true)) }>{ "Forward" }</button>
                </span>
            </div>
            if cursor.form {
                { form(send, id) }
            } else {
                <div class="mail-body">
                    { folders(send, id, view) }
                    <div class="mail-main">
                        { list(send, id, view, cursor, utc_offset_min) }
                        { message(send, id, view) }
                    </div>
                </div>
            }
        </div>
    }
}

/// The id of window `id`'s search field.
pub fn search_input_id(id: WindowId) -> String {
    format!("mail-search-{}", id.0)
}

/// Enter in the search field searches (an empty field shows the folder as it is); Esc leaves it.
fn search_key(send: &Callback<Msg>, id: WindowId) -> Callback<KeyboardEvent> {
    crate::msg::when(send, move |event: KeyboardEvent| {
        use wasm_bindgen::JsCast;
        let input: web_sys::HtmlInputElement = event.target()?.dyn_into().ok()?;
        match event.key().as_str() {
            "Enter" => {
                event.prevent_default();
                Some(Msg::MailSearch(id, input.value()))
            }
            "Escape" => {
                let _ = input.blur();
                None
            }
            _ => None,
        }
    })
}

/// The id of the account form's input for `setting` in window `id`.
pub fn form_input_id(id: WindowId, setting: &str) -> String {
    format!("mail-{}-{}", id.0, setting)
}

fn form(send: &Callback<Msg>, id: WindowId) -> Html {
    let onsubmit = send.reform(move |event: SubmitEvent| {
        event.prevent_default();
        Msg::MailAddAccount(id)
    });
    let cancel = send.reform(move |_: MouseEvent| Msg::MailForm(id, false));
    html! {
        <form class="mail-form" { onsubmit } aria-label="add a mail account" autocomplete="off">
            <p class="muted">{ "Add a mail account: it is checked with its servers, and kept in the sandbox, never in the log." }</p>
            { for mail::ACCOUNT_FIELDS.iter().map(|field| {
                let input_id = form_input_id(id, field.setting);
                html! {
                    <label class="mail-field">
                        <span>{ field.label }</span>
                        <input id={ input_id } name={ field.setting } placeholder={ field.example }
                            type={ if field.secret { "password" } else { "text" } } spellcheck="false" />
                    </label>
                }
            }) }
            <span class="mail-form-actions">
                <button type="submit" data-action="add-account-submit">{ "Add account" }</button>
                <button type="button" onclick={ cancel }>{ "Cancel" }</button>
            </span>
        </form>
    }
}

fn has_older(view: &MailView) -> bool {
    view.offset.saturating_add(view.headers.len() as u32) < view.total
}

fn page(window_id: WindowId, view: &MailView, older: bool) -> Command {
    let step = choir_proto::mail::MAIL_PAGE;
    Command::OpenMailFolder {
        window_id,
        account: None,
        folder: view.folder.clone(),
        offset: if older {
            view.offset.saturating_add(step)
        } else {
            view.offset.saturating_sub(step)
        },
        query: Default::default(),
    }
}

fn refresh(window_id: WindowId, view: &MailView) -> Command {
    Command::OpenMailFolder {
        window_id,
        account: None,
        folder: if view.folder.is_empty() {
            "INBOX".into()
        } else {
            view.folder.clone()
        },
        offset: view.offset,
        query: Default::default(),
    }
}

fn compose(window_id: WindowId, reply: bool, forward: bool) -> Command {
    Command::ComposeMail {
        window_id,
        reply,
        forward,
    }
}

fn folders(send: &Callback<Msg>, id: WindowId, view: &MailView) -> Html {
    if view.folders.is_empty() {
        return Html::default();
    }
    html! {
        <nav class="mail-folders" aria-label="folders">
            { view.folders.iter().map(|folder| {
                let send = send.clone();
                let command = Command::OpenMailFolder {
                    window_id: id,
                    account: None,
                    folder: folder.clone(),
                    offset: 0,
                    query: Default::default(),
                };
                let onclick = Callback::from(move |_: MouseEvent| send.emit(Msg::Send(command.clone())));
                let current = *folder == view.folder;
                html! {
                    <button key={ folder.clone() } class={ classes!("mail-folder", current.then_some("current")) }
                        aria-current={ current.then_some("true") } { onclick }>{ folder.clone() }</button>
                }
            }).collect::<Html>() }
        </nav>
    }
}

fn list(
    send: &Callback<Msg>,
    id: WindowId,
    view: &MailView,
    cursor: &MailCursor,
    utc_offset_min: i32,
) -> Html {
    if let Some(problem) = &view.problem {
        let add = send.reform(move |_: MouseEvent| Msg::MailForm(id, true));
        return html! {
            <div class="mail-list">
                <p class="mail-problem" role="alert">{ problem.clone() }</p>
                if view.account.is_empty() {
                    <button data-action="add-account" onclick={ add }>{ "Add an account here" }</button>
                }
            </div>
        };
    }
    let rows = mail::rows(view);
    if rows.is_empty() {
        let text = if view.loading {
            "loading…"
        } else {
            "no messages"
        };
        return html! { <p class="mail-list muted">{ text }</p> };
    }
    let selected = cursor.index(&rows);
    html! {
        <div class="mail-list" role="listbox" aria-label="messages">
            { rows.iter().enumerate().map(|(index, row)| {
                let header = row.header;
                let uid = header.uid;
                let send = send.clone();
                let onclick = Callback::from(move |_: MouseEvent| send.emit(Msg::MailOpen(id, uid)));
                let class = classes!(
                    "mail-row",
                    (!header.seen).then_some("unseen"),
                    row.in_thread().then_some("in-thread"),
                    (index == selected).then_some("selected"),
                    (view.message.as_ref().is_some_and(|m| m.header.uid == uid)).then_some("open"),
                );
                let count = (row.thread > 1).then(|| format!(" ({})", row.thread));
                html! {
                    <div key={ uid.to_string() } { class } role="option" data-uid={ uid.to_string() }
                        aria-selected={ (index == selected).to_string() } { onclick }>
                        <span class="mail-from">{ header.from.clone() }</span>
                        <span class="mail-subject">{ header.subject.clone() }{ count }</span>
                        <span class="mail-date">{ mail::short_date(&header.date, utc_offset_min * 60) }</span>
                    </div>
                }
            }).collect::<Html>() }
        </div>
    }
}

fn answer(send: &Callback<Msg>, id: WindowId, answer: InvitationAnswer) -> Callback<MouseEvent> {
    send.reform(move |_: MouseEvent| {
        Msg::Send(Command::AnswerInvitation {
            window_id: id,
            answer,
        })
    })
}

fn message(send: &Callback<Msg>, id: WindowId, view: &MailView) -> Html {
    let Some(message) = &view.message else {
        return match view.opening {
            Some(_) => html! { <p class="mail-message muted">{ "opening…" }</p> },
            None => Html::default(),
        };
    };
    let header = &message.header;
    let close = {
        let send = send.clone();
        Callback::from(move |_: MouseEvent| {
            send.emit(Msg::Send(Command::OpenMailMessage {
                window_id: id,
                uid: None,
            }))
        })
    };
    let field = |name: &str, value: &str| {
        if value.is_empty() {
            return Html::default();
        }
        html! { <><dt>{ name.to_owned() }</dt><dd>{ value.to_owned() }</dd></> }
    };
    html! {
        <article class="mail-message" aria-label="message">
            <dl class="mail-fields">
                { field("From", &header.from) }
                { field("To", &header.to) }
                { field("Cc", &message.cc) }
                { field("Date", &header.date) }
                { field("Subject", &header.subject) }
            </dl>
            { for message.attachments.iter().map(|attachment| html! {
                <p class="mail-attachment">{ format!("attachment: {} ({}, {} bytes)", attachment.name, attachment.content_type, attachment.size) }</p>
            }) }
            if !message.attachments.is_empty() {
                <button data-action="save-attachments" onclick={ send.reform(move |_: MouseEvent| Msg::Send(Command::SaveAttachments { window_id: id })) }>
                    { "Save to attachments/" }
                </button>
            }
            { for message.invitations.iter().map(|invitation| html! {
                <p class="mail-invitation">{ format!("invitation: {invitation}") }</p>
            }) }
            if !message.invitations.is_empty() {
                <p class="mail-invitation-answers">
                    <button data-action="accept" onclick={ answer(send, id, InvitationAnswer::Accept) }>{ "Accept" }</button>
                    <button data-action="tentative" onclick={ answer(send, id, InvitationAnswer::Tentative) }>{ "Tentative" }</button>
                    <button data-action="decline" onclick={ answer(send, id, InvitationAnswer::Decline) }>{ "Decline" }</button>
                </p>
            }
            <pre class="mail-text">{ message.text.clone() }</pre>
            if message.cut {
                <p class="muted">{ "The rest of this message is on the server: only its first 64 KiB are shown." }</p>
            }
            <button data-action="close-message" onclick={ close }>{ "Close" }</button>
        </article>
    }
}
