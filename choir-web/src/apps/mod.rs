//! The apps inside windows: chat, writer, event log, shell. Each draws itself from the replica and
//! its own view state and turns input into messages; the desktop only places them.

mod calendar;
mod chat;
mod event_log;
mod mail;
pub mod shell;
mod user_app;
mod writer;

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use choir_proto::client::Replica;
use choir_proto::{AppKind, Window, WindowId, World};
use yew::prelude::*;

use crate::msg::Msg;
use crate::redraw::Revisions;

pub use calendar::{
    form_day as calendar_form_day, form_input_id as calendar_form_input_id, today as calendar_today,
};
pub use chat::{scrolled as chat_scrolled, ChatView};
pub use event_log::{LogEntry, LogView};
pub use mail::{form_input_id as mail_form_input_id, search_input_id as mail_search_input_id};
pub use writer::Editor;

/// What the apps draw from: the replica, and each window's state in this tab.
pub struct Shown<'a> {
    pub replica: &'a Replica,
    pub chats: &'a HashMap<WindowId, ChatView>,
    pub logs: &'a HashMap<WindowId, LogView>,
    /// The events the event log windows show.
    pub log: &'a VecDeque<LogEntry>,
    pub editors: &'a HashMap<WindowId, Editor>,
    /// The selected message of each mail window.
    pub mail: &'a HashMap<WindowId, choir_desktop::mail::MailCursor>,
    /// The selected event of each calendar window.
    pub calendars: &'a HashMap<WindowId, choir_desktop::calendar::CalendarCursor>,
    /// The focus and typed text of each app window.
    pub apps: &'a HashMap<WindowId, choir_desktop::app_view::AppView>,
    /// One character cell, in CSS pixels.
    pub cell: (f64, f64),
    /// The browser's time zone, minutes east of UTC.
    pub utc_offset_min: i32,
    /// The keys' state: copy mode in a shell window, if this tab is in it.
    pub keymap: &'a choir_desktop::Keymap,
    /// Ctrl and Alt as the phone's key bar holds them.
    pub key_bar: crate::keys::KeyBarMods,
    /// What each window's content is drawn from, and what it was drawn as last.
    pub revisions: &'a Revisions,
    pub drawn: &'a Drawn,
}

/// Each window's content as last drawn, with the revision it was drawn from.
#[derive(Default)]
pub struct Drawn(RefCell<HashMap<WindowId, (u64, Html)>>);

impl Drawn {
    /// Lets go of a closed window's content.
    pub fn forget(&self, window: WindowId) {
        self.0.borrow_mut().remove(&window);
    }

    /// Lets go of every window's content (every revision moved: none of it is drawn again).
    pub fn clear(&self) {
        self.0.borrow_mut().clear();
    }
}

/// Window `window`'s content: drawn again only when its revision moved (see
/// [`crate::redraw`]); otherwise the page keeps it as it is, without comparing.
pub fn content(send: &Callback<Msg>, shown: &Shown, window: &Window) -> Html {
    let revision = shown.revisions.of(window.id);
    let kept = shown
        .drawn
        .0
        .borrow()
        .get(&window.id)
        .filter(|(drawn_from, _)| *drawn_from == revision)
        .map(|(_, html)| html.clone());
    let html = kept.unwrap_or_else(|| {
        let html = view(send, shown, window);
        shown
            .drawn
            .0
            .borrow_mut()
            .insert(window.id, (revision, html.clone()));
        html
    });
    let part = Part::Drawn { revision, html };
    html! { <PartView part={ part } /> }
}

/// A part of the page Yew draws again only when it changed: a window's content, or an item
/// of a list that grows with the log (drawn when it comes in or changes, not again for the
/// items after it). One component for all, as each kind of component costs the page's code.
#[derive(Properties, PartialEq)]
struct PartProps {
    part: Part,
}

enum Part {
    /// A window's content, drawn from `revision`.
    Drawn {
        revision: u64,
        html: Html,
    },
    Item(Item),
}

/// Window contents are the same when drawn from the same revision; items when they hold the
/// same.
impl PartialEq for Part {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Part::Drawn { revision: a, .. }, Part::Drawn { revision: b, .. }) => a == b,
            (Part::Item(a), Part::Item(b)) => a == b,
            _ => false,
        }
    }
}

#[derive(PartialEq)]
enum Item {
    /// A chat's message, with where a search matches it and whether the search is on it.
    Message {
        message: choir_proto::ChatMessage,
        utc_offset_min: i32,
        marks: Vec<std::ops::Range<usize>>,
        current: bool,
    },
    /// A chat's tool call card.
    Card {
        card: choir_proto::ToolCard,
        send: Callback<Msg>,
    },
    /// An event log's row.
    Event {
        entry: LogEntry,
        found: bool,
        current: bool,
    },
}

impl Item {
    /// The item as a part of the page, under `key` among its list.
    fn view(self, key: impl Into<yew::virtual_dom::Key>) -> Html {
        let part = Part::Item(self);
        html! { <PartView key={ key } part={ part } /> }
    }
}

#[function_component]
fn PartView(props: &PartProps) -> Html {
    match &props.part {
        Part::Drawn { html, .. } => html.clone(),
        Part::Item(Item::Message {
            message,
            utc_offset_min,
            marks,
            current,
        }) => chat::message(message, *utc_offset_min, marks, *current),
        Part::Item(Item::Card { card, send }) => chat::tool_card(send, card),
        Part::Item(Item::Event {
            entry,
            found,
            current,
        }) => event_log::row(entry, *found, *current),
    }
}

fn view(send: &Callback<Msg>, shown: &Shown, window: &Window) -> Html {
    let id = window.id;
    let world = shown.replica.world();
    match &window.app {
        AppKind::Chat => chat::view(
            send,
            shown.replica,
            shown.chats.get(&id),
            shown.utc_offset_min,
            shown.keymap.find(id),
            window,
        ),
        AppKind::Writer => writer::view(send, world, shown.editors.get(&id), window),
        AppKind::EventLog => event_log::view(
            send,
            shown.log,
            shown.logs.get(&id),
            shown.keymap.find(id),
            window,
        ),
        AppKind::Shell => shell::view(send, world, shown, window),
        AppKind::Calendar => calendar::view(
            send,
            world,
            shown.calendars.get(&id),
            shown.utc_offset_min,
            window,
        ),
        AppKind::Mail => mail::view(
            send,
            world,
            shown.mail.get(&id),
            shown.utc_offset_min,
            window,
        ),
        AppKind::App(_) => user_app::view(send, world, shown.apps.get(&id), window),
        AppKind::Other(name) => html! {
            <p class="muted">{ format!("“{name}” windows are not shown in the browser yet.") }</p>
        },
    }
}

/// A window's title as shown: a writer showing a document is named after it (as in the
/// terminal).
pub fn title(world: &World, window: &Window) -> String {
    let name = match window.doc_id.and_then(|doc_id| world.docs.get(&doc_id)) {
        Some(doc) => doc.title.clone(),
        None => window.title.clone(),
    };
    match shell::status(world, window.id) {
        Some(status) => format!("{name} [{status}]"),
        None => name,
    }
}

/// What has to happen to the DOM after it was drawn: chats kept at their bottom or at the
/// message the reader was on while older ones came in, event logs that follow.
pub fn after_render(
    replica: &Replica,
    chats: &mut HashMap<WindowId, ChatView>,
    logs: &HashMap<WindowId, LogView>,
) {
    chat::after_render(replica, chats);
    event_log::after_render(replica.world(), logs);
}

/// Scrolls window `window` (a chat, an event log) to the item its search is on.
pub fn show_found(window: WindowId) {
    let selector = format!(".window[data-window-id=\"{}\"] .found-current", window.0);
    let found = crate::dom::document()
        .and_then(|document| document.query_selector(&selector).ok().flatten());
    if let Some(message) = found {
        message.scroll_into_view();
    }
}

/// The windows showing app `kind`.
pub fn windows_of<'a>(world: &'a World, kind: &'a AppKind) -> impl Iterator<Item = WindowId> + 'a {
    world
        .desktop
        .windows
        .values()
        .filter(move |window| window.app == *kind)
        .map(|window| window.id)
}
