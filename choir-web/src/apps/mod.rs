//! The apps inside windows: chat, writer, event log, shell. Each draws itself from the replica and
//! its own view state and turns input into messages; the desktop only places them.

mod chat;
mod event_log;
pub mod shell;
mod writer;

use choir_proto::{AppKind, Window, WindowId};
use yew::prelude::*;

use crate::app::App;

pub use chat::{scrolled as chat_scrolled, ChatView};
pub use event_log::LogView;

pub fn view(app: &App, ctx: &Context<App>, window: &Window) -> Html {
    match &window.app {
        AppKind::Chat => chat::view(app, ctx, window),
        AppKind::Writer => writer::view(app, ctx, window),
        AppKind::EventLog => event_log::view(app, ctx, window),
        AppKind::Shell => shell::view(app, ctx, window),
        AppKind::Other(name) => html! {
            <p class="muted">{ format!("“{name}” windows are not shown in the browser yet.") }</p>
        },
    }
}

/// A window's title as shown: a writer showing a document is named after it (as in the
/// terminal).
pub fn title(app: &App, window: &Window) -> String {
    let name = match window
        .doc_id
        .and_then(|doc_id| app.replica.world().docs.get(&doc_id))
    {
        Some(doc) => doc.title.clone(),
        None => window.title.clone(),
    };
    match shell::status(app, window.id) {
        Some(status) => format!("{name} [{status}]"),
        None => name,
    }
}

/// What has to happen to the DOM after it was drawn: chats kept at their bottom or at the
/// message the reader was on while older ones came in, event logs that follow.
pub fn after_render(app: &mut App) {
    chat::after_render(app);
    event_log::after_render(app);
}

/// The windows showing app `kind`.
fn windows_of(app: &App, kind: &AppKind) -> Vec<WindowId> {
    app.replica
        .world()
        .desktop
        .windows
        .values()
        .filter(|window| window.app == *kind)
        .map(|window| window.id)
        .collect()
}
