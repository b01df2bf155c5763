//! An event log window: the log as it grows, filtered by type or text, following the end or
//! paused.

use choir_proto::{Event, Window, WindowId};
use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::app::{App, LogEntry, Msg};
use crate::dom;

/// Rows drawn at most (the newest that pass the filter).
const SHOWN: usize = 300;

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

pub fn view(app: &App, ctx: &Context<App>, window: &Window) -> Html {
    let id = window.id;
    let view = app.logs.get(&id).cloned().unwrap_or_default();
    let shown: Vec<&LogEntry> = app
        .log
        .iter()
        .rev()
        .filter(|entry| matches(&entry.event, &view.filter))
        .take(SHOWN)
        .collect();
    let onfilter = ctx.link().batch_callback(move |event: InputEvent| {
        let input: HtmlInputElement = event.target()?.dyn_into().ok()?;
        Some(Msg::LogFilter(id, input.value()))
    });
    let onfollow = ctx.link().batch_callback(move |event: web_sys::Event| {
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
                { for shown.iter().rev().map(|entry| {
                    let event = &entry.event;
                    html! {
                        <div key={ event.seq } class="event" data-seq={ event.seq.to_string() } data-type={ event.body.type_name().to_owned() }>
                            <span class="seq">{ format!("#{}", event.seq) }</span>
                            <span class="type">{ event.body.type_name().to_owned() }</span>
                            <span class="actor muted">{ event.actor.clone() }</span>
                            <span class="data">{ entry.preview.clone() }</span>
                        </div>
                    }
                }) }
            </div>
        </div>
    }
}

pub fn after_render(app: &mut App) {
    let follows: Vec<WindowId> = super::windows_of(app, &choir_proto::AppKind::EventLog)
        .into_iter()
        .filter(|id| app.logs.get(id).is_none_or(|view| view.follow))
        .collect();
    for id in follows {
        if let Some(element) = dom::by_id(&format!("log-{}", id.0)) {
            element.set_scroll_top(element.scroll_height());
        }
    }
}
