//! The desktop: a protocol client's view of the world, a window manager over
//! `World.desktop`, and the apps inside the windows.
//!
//! It never changes shared state itself: input becomes [`Action::Send`] of a `Command`, and
//! the change arrives back as an event, as it does for every other client. It renders to any
//! ratatui backend and reads [`InputEvent`]s from any source, so the local terminal and an SSH
//! channel run the very same desktop.

mod editors;
mod geometry;
mod help;
mod keys;
mod loading;
mod mouse;
mod render;

use std::collections::VecDeque;
use std::sync::Arc;

use choir_proto::client::{Applied, Replica};
use choir_proto::{Command, Event, EventBody, ServerFrame, ThreadId, WindowId, World};
use ratatui::layout::Rect;
use std::collections::HashMap;

use crate::apps::chat::ChatContent;
use crate::apps::writer::Editor;
use crate::apps::AppView;
use crate::input::InputEvent;
use crate::theme::Theme;

pub use geometry::desktop_area;
pub use help::BINDINGS;

/// Events kept for the event log windows.
const LOG_CAPACITY: usize = 10_000;
/// Messages a thread may hold before the oldest are let go (they can be paged back in), and
/// how many it keeps then: a session left open for months stays small.
const HELD_MESSAGES: (usize, usize) = (2_000, 1_000);

/// What the desktop asks its host to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send a command to the daemon.
    Send(Command),
    /// Put text on the clipboard (OSC 52).
    Copy(String),
    /// Leave the desktop (the sandbox keeps running).
    Quit,
}

/// The link to the daemon, as shown in the taskbar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Live,
    Reconnecting { attempt: u32 },
    Offline(String),
}

/// Input modes beyond plain typing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    /// The prefix key (Ctrl-a) was pressed; the next key is a desktop command.
    Prefix,
    Move(WindowId),
    Resize(WindowId),
    Launcher {
        selected: usize,
    },
    Help,
}

/// A mouse drag in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Drag {
    window: WindowId,
    /// The window's placed rectangle and the pointer when the drag began.
    start: Rect,
    from: (u16, u16),
    edges: Option<geometry::Edges>,
    /// The geometry last asked for, so repeated motion to the same cell sends nothing.
    sent: choir_proto::Rect,
}

/// A message on the hint line that outlives a few frames.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Notice {
    text: String,
    error: bool,
}

pub struct Desktop {
    /// The world as this desktop holds it, and what it still has to read.
    replica: Replica,
    log: VecDeque<Arc<Event>>,
    views: HashMap<WindowId, AppView>,
    width: u16,
    height: u16,
    connection: Connection,
    clock: String,
    utc_offset: i32,
    mode: Mode,
    drag: Option<Drag>,
    notice: Option<Notice>,
    theme: Theme,
    /// The editor of each writer window that shows a document (created on first use).
    editors: HashMap<WindowId, Editor>,
    /// Editors whose window closed or moved on while their edits were still unconfirmed:
    /// they follow the log until every edit is in.
    retired: Vec<Editor>,
    /// What C-c / C-x put here; C-v pastes it.
    clipboard: String,
    /// Commands the desktop produced on its own (edits that waited, resends after a
    /// reconnect); the host sends them.
    outbox: Vec<Command>,
    /// Makes this desktop's edit tags unique.
    tag_base: String,
    editors_opened: u64,
    /// Lines the help overlay is scrolled by.
    help_scroll: usize,
}

impl Desktop {
    pub fn new(theme: Theme, utc_offset: i32) -> Self {
        Self {
            replica: Replica::new(),
            log: VecDeque::new(),
            views: HashMap::new(),
            width: 80,
            height: 24,
            connection: Connection::Connecting,
            clock: String::new(),
            utc_offset,
            mode: Mode::Normal,
            drag: None,
            notice: None,
            theme,
            editors: HashMap::new(),
            retired: Vec::new(),
            clipboard: String::new(),
            outbox: Vec::new(),
            tag_base: tag_base(),
            editors_opened: 0,
            help_scroll: 0,
        }
    }

    /// Commands to send that did not come from an input (see [`Desktop::on_frame`]).
    pub fn take_outbox(&mut self) -> Vec<Command> {
        std::mem::take(&mut self.outbox)
    }

    /// A command that could not be sent now; it comes back from the next `take_outbox`.
    pub fn defer(&mut self, command: Command) {
        self.outbox.push(command);
    }

    pub fn world(&self) -> &World {
        self.replica.world()
    }

    /// The seq of the last event applied: what to resume from after a reconnect.
    pub fn head(&self) -> u64 {
        self.replica.head()
    }

    pub fn size(&self) -> (u16, u16) {
        (self.width, self.height)
    }

    /// The terminal's size; a zero size is treated as 1x1 and an absurd one is capped.
    pub fn resize(&mut self, width: u16, height: u16) {
        self.width = width.clamp(1, 1000);
        self.height = height.clamp(1, 500);
    }

    pub fn set_clock(&mut self, clock: String) {
        self.clock = clock;
    }

    pub fn set_connection(&mut self, connection: Connection) {
        self.connection = connection;
    }

    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    /// Shows a message on the hint line until the next key.
    pub fn notify(&mut self, text: impl Into<String>, error: bool) {
        self.notice = Some(Notice {
            text: text.into(),
            error,
        });
    }

    /// Applies a frame from the daemon.
    pub fn on_frame(&mut self, frame: ServerFrame) {
        match self.replica.on_frame(frame) {
            Applied::Welcome { fresh } => {
                if fresh {
                    self.reload_editors();
                }
                // Edits in flight when the link broke may be lost: send them again (the
                // daemon skips any it already has).
                let resends = self
                    .editors
                    .values()
                    .chain(&self.retired)
                    .filter_map(Editor::resend);
                self.outbox.extend(resends);
                self.connection = Connection::Live;
            }
            Applied::Event(event) => self.on_event(event),
            Applied::DocLoaded(doc_id) => self.catch_up_editors(doc_id),
            Applied::Error { code, message } => {
                self.notify(format!("{}: {message}", code.as_str()), true);
            }
            Applied::Quiet => {}
        }
    }

    /// Reacts to an event the replica just folded in.
    fn on_event(&mut self, event: Event) {
        match &event.body {
            EventBody::ChatAssistantMessage { thread_id, .. }
            | EventBody::ChatUserMessage { thread_id, .. } => {
                self.let_go_of_old_messages(*thread_id);
            }
            EventBody::WindowClosed { window_id } => {
                self.views.remove(window_id);
                self.retire_editor(*window_id);
                if matches!(self.mode, Mode::Move(id) | Mode::Resize(id) if id == *window_id) {
                    self.mode = Mode::Normal;
                }
            }
            EventBody::DocEdited {
                doc_id,
                version,
                op,
                edit_id,
            } => {
                for editor in self.editors.values_mut().chain(self.retired.iter_mut()) {
                    if editor.doc_id() == *doc_id {
                        let next = editor.committed(*version, op, edit_id.as_deref());
                        self.outbox.extend(next);
                    }
                }
                self.retired.retain(|editor| !editor.is_saved());
            }
            EventBody::WriterDocShown { window_id, doc_id } => {
                let stale = self
                    .editors
                    .get(window_id)
                    .is_some_and(|editor| Some(editor.doc_id()) != *doc_id);
                if stale {
                    self.retire_editor(*window_id);
                }
            }
            EventBody::DocDeleted { doc_id } => {
                self.editors.retain(|_, editor| editor.doc_id() != *doc_id);
                self.retired.retain(|editor| editor.doc_id() != *doc_id);
            }
            _ => {}
        }
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(Arc::new(event));
    }

    /// Adds events from before the snapshot to the event log (they are already in the world).
    pub fn add_history(&mut self, events: Vec<Event>) {
        let first_live = self.log.front().map_or(u64::MAX, |event| event.seq);
        let older: Vec<Arc<Event>> = events
            .into_iter()
            .filter(|event| event.seq < first_live && event.seq <= self.replica.world().head)
            .map(Arc::new)
            .collect();
        let room = LOG_CAPACITY.saturating_sub(self.log.len());
        for event in older.into_iter().rev().take(room) {
            self.log.push_front(event);
        }
    }

    /// Handles one input event and returns what the host should do.
    pub fn handle_input(&mut self, input: InputEvent) -> Vec<Action> {
        let mut actions = Vec::new();
        match input {
            InputEvent::Key(key) => {
                self.notice = None;
                self.on_key(key, &mut actions);
            }
            InputEvent::Mouse(mouse) => self.on_mouse(mouse, &mut actions),
            InputEvent::Paste(text) => self.on_paste(&text, &mut actions),
            InputEvent::Resize(width, height) => self.resize(width, height),
        }
        actions
    }

    fn on_paste(&mut self, text: &str, actions: &mut Vec<Action>) {
        let Some(id) = self.replica.world().desktop.focused else {
            return;
        };
        if let Some(editor) = self.editor_mut(id) {
            let effects = editor.paste(text);
            self.apply_editor_effects(id, effects, actions);
            return;
        }
        if let Some(AppView::Chat(view)) = self.view_mut(id) {
            view.input.insert_str(text);
        }
    }

    /// Trims a thread that holds too many messages, unless its window is scrolled back
    /// (its reader may be among the old ones).
    fn let_go_of_old_messages(&mut self, thread_id: ThreadId) {
        let (most, keep) = HELD_MESSAGES;
        let reading = matches!(
            self.views.get(&WindowId(thread_id.0)),
            Some(AppView::Chat(view)) if view.scroll > 0 || view.selected.is_some()
        );
        if !reading {
            self.replica.let_go_of_old_messages(thread_id, most, keep);
        }
    }

    /// The app state of a window, created on first use.
    fn view_mut(&mut self, id: WindowId) -> Option<&mut AppView> {
        let app = &self.replica.world().desktop.window(id)?.app;
        Some(
            self.views
                .entry(id)
                .or_insert_with(|| AppView::for_app(app)),
        )
    }

    fn area(&self) -> Rect {
        desktop_area(self.width, self.height)
    }

    /// The focused window's inner area on this screen.
    fn inner_area(&self, id: WindowId) -> Option<Rect> {
        let window = self.replica.world().desktop.window(id)?;
        let rect = geometry::placed(window.rect, window.maximized, self.area());
        Some(Rect::new(
            rect.x + 1,
            rect.y + 1,
            rect.width.saturating_sub(2),
            rect.height.saturating_sub(2),
        ))
    }

    fn chat_content(&self, id: WindowId) -> ChatContent<'_> {
        chat_content(&self.replica, self.utc_offset, id)
    }
}

/// A prefix for edit tags that no other desktop uses: the process and the time it started.
fn tag_base() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{:x}.{:x}", std::process::id(), nanos & 0xffff_ffff_ffff)
}

/// What the chat window `id` shows (its thread has the window's id). A free function, so
/// callers that borrow a window's view mutably can still borrow these fields.
fn chat_content(replica: &Replica, utc_offset: i32, id: WindowId) -> ChatContent<'_> {
    let thread_id = ThreadId(id.0);
    ChatContent {
        thread: replica.world().chats.get(&thread_id),
        streaming: replica.streaming(thread_id),
        utc_offset,
    }
}

#[cfg(test)]
mod tests;
