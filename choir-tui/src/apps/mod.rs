//! The apps drawn inside windows, and the contract between them and the desktop (as gitui's
//! components have): each app owns its state, handles its keys, mouse and pastes, follows the
//! log for what concerns it, and draws itself; what it wants done comes back as
//! [`Effect`]s. The desktop only routes: it owns the windows, the prefix key and the chrome.
//!
//! What an app shows comes from the shared `World` and the event stream; an app keeps only
//! this client's state (input, scroll, selection, an editor's cursor and unconfirmed edits).

pub mod calendar;
pub mod chat;
pub mod event_log;
mod form;
pub mod mail;
pub mod shell;
mod text_input;
mod unknown;
pub mod user_app;
pub mod writer;

pub use text_input::TextInput;

use std::collections::VecDeque;
use std::sync::Arc;

use choir_proto::client::Replica;
use choir_proto::{AppKind, Command, DocId, Event, Window, WindowId, World};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use crate::input::{Key, Mouse};
use crate::theme::Theme;

/// Lines one wheel notch scrolls.
pub const WHEEL_LINES: isize = 3;

/// What an app asks the desktop to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send a command to the daemon.
    Send(Command),
    /// Put text on the system clipboard (OSC 52).
    Copy(String),
    /// Show a message on the hint line.
    Notice { text: String, error: bool },
}

/// Something that happened that apps may care about; every app hears every signal, and
/// picks what concerns it.
#[derive(Debug, Clone, Copy)]
pub enum Signal<'a> {
    /// A welcome was applied; `fresh` when it carried a new snapshot (after a reconnect).
    Welcome { fresh: bool },
    /// An event was folded into the world.
    Event(&'a Event),
    /// A document's text arrived.
    DocLoaded(DocId),
    /// The daemon refused an edit of a document (it could not be merged).
    EditRefused(DocId),
}

/// What an app works with while it handles input or a signal.
pub struct Context<'a> {
    /// The shared state, and the queries for what it does not hold yet.
    pub replica: &'a mut Replica,
    pub window_id: WindowId,
    /// The window's inner area on this screen.
    pub area: Rect,
    /// The events the event log windows show.
    pub log: &'a VecDeque<Arc<Event>>,
    pub utc_offset: i32,
    /// The desktop's own clipboard (C-c, C-x, C-v in the writer).
    pub clipboard: &'a mut String,
    /// Makes edit tags unique to this desktop.
    pub tags: &'a mut Tags,
    pub effects: Vec<Effect>,
}

impl Context<'_> {
    pub fn world(&self) -> &World {
        self.replica.world()
    }

    pub fn send(&mut self, command: Command) {
        self.effects.push(Effect::Send(command));
    }

    pub fn notify(&mut self, text: impl Into<String>, error: bool) {
        self.effects.push(Effect::Notice {
            text: text.into(),
            error,
        });
    }

    /// Carries out what a key did in a window whose keys `choir-desktop` holds; whether the
    /// key was the window's.
    pub fn carry_out(&mut self, handled: choir_desktop::Handled) -> bool {
        match handled {
            choir_desktop::Handled::No => false,
            choir_desktop::Handled::Yes => true,
            choir_desktop::Handled::Send(command) => {
                self.send(command);
                true
            }
            choir_desktop::Handled::Notice(text) => {
                self.notify(text, false);
                true
            }
        }
    }
}

/// What an app reads while it draws.
pub struct View<'a> {
    pub replica: &'a Replica,
    pub window: &'a Window,
    pub focused: bool,
    pub log: &'a VecDeque<Arc<Event>>,
    pub utc_offset: i32,
    pub theme: &'a Theme,
    /// This client's copy mode in the window, if it is in it.
    pub copy: Option<&'a choir_desktop::CopyMode>,
    /// This client's search in the window (a chat), if it is searching there.
    pub find: Option<&'a choir_desktop::find::Find>,
}

impl View<'_> {
    pub fn world(&self) -> &World {
        self.replica.world()
    }
}

/// Tags for a desktop's edits: a prefix no other desktop uses, and a counter.
#[derive(Debug, Clone)]
pub struct Tags {
    base: String,
    issued: u64,
}

impl Tags {
    pub fn new(base: String) -> Self {
        Self { base, issued: 0 }
    }

    pub fn issue(&mut self) -> String {
        self.issued += 1;
        format!("{}-{}", self.base, self.issued)
    }
}

/// The component contract every app keeps.
pub trait App: Send {
    /// A key while the window has focus; `false` when the app has no use for it.
    fn on_key(&mut self, key: Key, cx: &mut Context<'_>) -> bool;

    /// A paste while the window has focus.
    fn on_paste(&mut self, _text: &str, _cx: &mut Context<'_>) {}

    /// A mouse event inside the window's content, at a cell counted from its top left.
    fn on_mouse(&mut self, _mouse: Mouse, _cx: &mut Context<'_>) {}

    /// Something happened (see [`Signal`]).
    fn on_signal(&mut self, _signal: Signal<'_>, _cx: &mut Context<'_>) {}

    /// Draws the content into `area` (the window's inner area); returns where the terminal's
    /// cursor belongs when the window has focus.
    fn draw(&self, view: &View<'_>, area: Rect, buf: &mut Buffer) -> Option<(u16, u16)>;

    /// The key hints shown on the hint line while the window has focus.
    fn hint(&self, view: &View<'_>) -> String;

    /// Something waiting on the user, shown in place of the hints (an approval).
    fn prompt(&self, _view: &View<'_>) -> Option<String> {
        None
    }

    /// A word on the app's state for the window's title.
    fn status(&self, _view: &View<'_>) -> Option<String> {
        None
    }

    /// What C-a y copies.
    fn copy_text(&self, _view: &View<'_>) -> Option<String> {
        None
    }

    /// Whether its reader is back among older content (a chat scrolled up): the desktop
    /// then keeps what it shows rather than letting old messages go.
    fn reading_back(&self) -> bool {
        false
    }

    /// Whether every key but the prefix goes to the app (F1 and `?` too): a terminal's.
    fn takes_every_key(&self) -> bool {
        false
    }

    /// After its window closed: whether it is done. An app that is not (a writer with edits
    /// the daemon has not confirmed) keeps hearing signals until it is.
    fn is_done(&self) -> bool {
        true
    }

    /// The writer's editor, for tests that look inside it.
    #[cfg(test)]
    fn editor(&self) -> Option<&writer::Editor> {
        None
    }
}

/// A new app for a window of `app`.
pub fn open(app: &AppKind, window_id: WindowId) -> Box<dyn App> {
    match app {
        AppKind::Chat => Box::new(chat::ChatView::default()),
        AppKind::EventLog => Box::new(event_log::EventLogView::default()),
        AppKind::Writer => Box::new(writer::Writer::new(window_id)),
        AppKind::Shell => Box::new(shell::ShellView::new(window_id)),
        AppKind::Mail => Box::new(mail::MailApp::new(window_id)),
        AppKind::Calendar => Box::new(calendar::CalendarApp::new(window_id)),
        AppKind::App(_) => Box::new(user_app::UserApp::new(window_id)),
        AppKind::Other(_) => Box::new(unknown::Unknown),
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

/// Marks what a search's `query` finds in `line`, drawn from the left of `area` at row `y`.
pub fn mark_found(
    buf: &mut Buffer,
    area: Rect,
    y: u16,
    line: &str,
    query: &choir_desktop::copy_mode::Query,
    theme: &Theme,
) {
    for range in query.find_in(line) {
        let from = crate::wrap::display_width(&line[..range.start]) as u16;
        let width = crate::wrap::display_width(&line[range]) as u16;
        let marked = Rect::new(area.x + from, y, width, 1).intersection(area);
        buf.set_style(marked, theme.found());
    }
}

/// A line of muted text at the top of an app's area (loading, unknown app).
pub fn note(buf: &mut Buffer, area: Rect, text: &str, theme: &Theme) {
    buf.set_stringn(area.x, area.y, text, usize::from(area.width), theme.muted());
}

/// `text` wrapped in the error colour from the top of `area`; the rows it took.
pub fn problem(buf: &mut Buffer, area: Rect, text: &str, theme: &Theme) -> u16 {
    let lines = crate::wrap::wrap(text, area.width.into());
    let shown = lines.len().min(area.height.into());
    for (row, line) in lines.iter().take(shown).enumerate() {
        buf.set_stringn(
            area.x,
            area.y + row as u16,
            line,
            area.width.into(),
            theme.error(),
        );
    }
    shown as u16
}
