//! An event log window: the log as it grows, filtered by type or text, following the end or
//! paused.

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use choir_desktop::find::Find;
use choir_proto::{AppKind, Event, Window, WindowId, World};
use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::Item;
use crate::dom;
use crate::msg::{when, Msg};

/// Rows drawn at most (the newest that pass the filter).
const SHOWN: usize = 300;

/// An event as the event log windows show it (cheap to clone: a row holds it).
#[derive(Clone)]
pub struct LogEntry(Rc<Logged>);

struct Logged {
    event: Event,
    /// Its data as JSON text, as the daemon wrote it (cut).
    data: String,
    /// Its data, in short (made once, not at every render).
    preview: String,
}

impl AsRef<Event> for LogEntry {
    fn as_ref(&self) -> &Event {
        &self.0.event
    }
}

/// The same entry: a row holding it shows the same.
impl PartialEq for LogEntry {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl LogEntry {
    /// Characters of an event's data shown.
    const PREVIEW: usize = 160;

    /// `event`, with its data as the daemon wrote it (the text it came in: see
    /// [`crate::log_text`]); the first [`crate::log_text::KEPT`] bytes are kept.
    pub fn new(event: Event, data: &str) -> Self {
        let data = crate::log_text::kept(data).to_owned();
        let preview = match data.char_indices().nth(Self::PREVIEW) {
            Some((cut, _)) => format!("{}…", &data[..cut]),
            None => data.clone(),
        };
        Self(Rc::new(Logged {
            event,
            data,
            preview,
        }))
    }

    pub fn event(&self) -> &Event {
        &self.0.event
    }

    /// Its line for a search (see `choir_desktop::find::log_line`).
    pub fn line(&self) -> (u64, String) {
        choir_desktop::find::log_line(&self.0.event, Some(&self.0.data))
    }
}

#[derive(Debug, Clone)]
pub struct LogView {
    pub filter: String,
    pub follow: bool,
}

impl Default for LogView {
    fn default() -> Self {
        Self {
            filter: String::new(),
            follow: true,
        }
    }
}

fn matches(event: &Event, filter: &str) -> bool {
    filter.is_empty() || event.body.type_name().contains(filter) || event.actor.contains(filter)
}

pub fn view(
    send: &Callback<Msg>,
    log: &VecDeque<LogEntry>,
    view: Option<&LogView>,
    find: Option<&Find>,
    window: &Window,
) -> Html {
    let id = window.id;
    let view = view.cloned().unwrap_or_default();
    let at = find.and_then(Find::at);
    let query = find.and_then(Find::query);
    // The newest SHOWN events, or, while a search is on an older one, those around it.
    let matching: Vec<&LogEntry> = log
        .iter()
        .filter(|entry| matches(entry.event(), &view.filter))
        .collect();
    let end = at
        .and_then(|seq| matching.iter().position(|entry| entry.event().seq == seq))
        .map_or(matching.len(), |index| {
            (index + SHOWN / 2).min(matching.len())
        });
    let shown: Vec<&LogEntry> = matching[..end].iter().rev().take(SHOWN).copied().collect();
    let onfilter = when(send, move |event: InputEvent| {
        let input: HtmlInputElement = event.target()?.dyn_into().ok()?;
        Some(Msg::LogFilter(id, input.value()))
    });
    let onfollow = when(send, move |event: web_sys::Event| {
        let input: HtmlInputElement = event.target()?.dyn_into().ok()?;
        Some(Msg::LogFollow(id, input.checked()))
    });
    html! {
        <div class="log-window">
            <div class="log-bar">
                <input class="event-filter" type="search" placeholder="filter by type or actor" aria-label="filter"
                    value={ view.filter.clone() } oninput={ onfilter } />
                <label><input class="event-follow" type="checkbox" checked={ view.follow } onchange={ onfollow } />{ " follow" }</label>
            </div>
            <div class="event-log" id={ format!("log-{}", id.0) } role="log" aria-label="events" tabindex="0">
                { shown.iter().rev().map(|entry| {
                    let seq = entry.event().seq;
                    let found = query.as_ref().is_some_and(|query| !query.find_in(&entry.0.preview).is_empty());
                    let item = Item::Event { entry: (*entry).clone(), found, current: at == Some(seq) };
                    item.view(seq)
                }).collect::<Html>() }
            </div>
        </div>
    }
}

/// One event's row: drawn when it comes in, not again for the events after it (see
/// [`super::Item`]).
pub(super) fn row(entry: &LogEntry, found: bool, current: bool) -> Html {
    let Logged { event, preview, .. } = &*entry.0;
    let class = classes!(
        "event",
        found.then_some("found"),
        current.then_some("found-current")
    );
    html! {
        <div class={ class } data-seq={ event.seq.to_string() } data-type={ event.body.type_name().to_owned() }>
            <span class="seq">{ format!("#{}", event.seq) }</span>
            <span class="type">{ event.body.type_name().to_owned() }</span>
            <span class="actor muted">{ event.actor.clone() }</span>
            <span class="data">{ preview.clone() }</span>
        </div>
    }
}

/// Windows that follow the end are scrolled to it.
pub fn after_render(world: &World, logs: &HashMap<WindowId, LogView>) {
    let follows = super::windows_of(world, &AppKind::EventLog)
        .filter(|id| logs.get(id).is_none_or(|view| view.follow));
    for id in follows {
        if let Some(element) = dom::by_id(&format!("log-{}", id.0)) {
            element.set_scroll_top(element.scroll_height());
        }
    }
}
