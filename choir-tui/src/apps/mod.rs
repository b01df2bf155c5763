//! The apps drawn inside windows. Each keeps only UI state (input, scroll, selection); what
//! it shows comes from the shared `World` and the event stream.

pub mod chat;
pub mod event_log;
mod text_input;
pub mod writer;

pub use text_input::TextInput;

use choir_proto::AppKind;

/// One window's app state.
#[derive(Debug, Clone)]
pub enum AppView {
    Chat(chat::ChatView),
    EventLog(event_log::EventLogView),
    Writer(writer::WriterView),
    Other,
}

impl AppView {
    pub fn for_app(app: &AppKind) -> Self {
        match app {
            AppKind::Chat => AppView::Chat(chat::ChatView::default()),
            AppKind::EventLog => AppView::EventLog(event_log::EventLogView::default()),
            AppKind::Writer => AppView::Writer(writer::WriterView::default()),
            AppKind::Other(_) => AppView::Other,
        }
    }

    /// The key hints shown for this app when its window has focus; `editing` when a writer
    /// window shows a document.
    pub fn hint(&self, editing: bool) -> &'static str {
        match self {
            AppView::Chat(_) => chat::HINT,
            AppView::EventLog(view) if view.editing_filter => event_log::FILTER_HINT,
            AppView::EventLog(_) => event_log::HINT,
            AppView::Writer(view) => view.hint(editing),
            AppView::Other => "this app is not known to this client",
        }
    }
}

/// Formats a Unix-ms timestamp as `HH:MM` (or `HH:MM:SS`) at a fixed UTC offset.
pub fn clock(ts_ms: i64, utc_offset_secs: i32, seconds: bool) -> String {
    let secs = ts_ms.div_euclid(1000) + i64::from(utc_offset_secs);
    let day = secs.rem_euclid(86_400);
    let (h, m, s) = (day / 3600, day / 60 % 60, day % 60);
    if seconds {
        format!("{h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}")
    }
}
