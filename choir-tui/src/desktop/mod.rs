//! The desktop: a protocol client's view of the world, a window manager over
//! `World.desktop`, and the apps inside the windows.
//!
//! It never changes shared state itself: input becomes [`Action::Send`] of a `Command`, and
//! the change arrives back as an event, as it does for every other client. It renders to any
//! ratatui backend and reads [`InputEvent`]s from any source, so the local terminal and an SSH
//! channel run the very same desktop.

mod geometry;
mod keys;
mod loading;
mod mouse;
mod render;
mod timeline;

use std::sync::Arc;

use choir_desktop::attention::{terminal_bell, Attention};
use choir_desktop::held::{self, EventLog};
use choir_desktop::prefs::{Prefs, SettingsSeen};
pub use choir_desktop::Connection;
use choir_desktop::{Front, Keymap, Mode};
use choir_proto::client::{Applied, Replica};
use choir_proto::{Command, Event, EventBody, ServerFrame, ThemeChoice, WindowId, World};
use ratatui::layout::Rect;
use std::collections::HashMap;

use crate::apps::{self, App, Context, Effect, Signal, Tags, View};
use crate::input::InputEvent;
use crate::theme::Theme;

pub use geometry::desktop_area;

/// Events kept for the event log windows.
const LOG_CAPACITY: usize = 10_000;

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
    log: EventLog<Arc<Event>>,
    /// The app of each window, created on first use.
    apps: HashMap<WindowId, Box<dyn App>>,
    /// Apps whose window closed but that still have work (unconfirmed edits): they hear
    /// signals until they are done.
    closing: Vec<(WindowId, Box<dyn App>)>,
    width: u16,
    height: u16,
    connection: Connection,
    clock: String,
    utc_offset: i32,
    /// What keys do, in which mode: the desktop model every client shares.
    keymap: Keymap,
    drag: Option<Drag>,
    /// The window a mouse press in content began in: its drags and release go there too.
    pressed: Option<WindowId>,
    notice: Option<Notice>,
    theme: Theme,
    /// What C-c / C-x put here; C-v pastes it.
    clipboard: String,
    /// Commands the desktop produced on its own (edits that waited, resends after a
    /// reconnect); the host sends them.
    outbox: Vec<Command>,
    /// Makes this desktop's edit tags unique.
    tags: Tags,
    /// The settings this desktop took last.
    settings_seen: SettingsSeen,
    /// Colours, as the terminal's environment allows (`NO_COLOR`).
    color_allowed: bool,
    /// Whether a window that needs the user rings the bell (a setting).
    notifications: bool,
    /// What needs the user: the taskbar's marks.
    attention: Attention,
    /// Bells and notifications to write to the terminal (see [`Desktop::take_bells`]).
    bells: Vec<String>,
    /// The last input changed nothing shown (see [`Desktop::last_input_quiet`]).
    quiet_input: bool,
}

impl Desktop {
    pub fn new(theme: Theme, utc_offset: i32) -> Self {
        Self {
            color_allowed: theme.color,
            replica: Replica::new(),
            log: EventLog::new(LOG_CAPACITY),
            apps: HashMap::new(),
            closing: Vec::new(),
            width: 80,
            height: 24,
            connection: Connection::Connecting,
            clock: String::new(),
            utc_offset,
            keymap: Keymap::new(Front::Terminal),
            drag: None,
            pressed: None,
            notice: None,
            theme,
            clipboard: String::new(),
            outbox: Vec::new(),
            tags: Tags::new(tag_base()),
            settings_seen: SettingsSeen::default(),
            notifications: true,
            attention: Attention::default(),
            bells: Vec::new(),
            quiet_input: false,
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

    /// Sets the taskbar's clock; returns whether it changed.
    pub fn set_clock(&mut self, clock: String) -> bool {
        let changed = self.clock != clock;
        self.clock = clock;
        changed
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

    /// Applies a frame from the daemon; returns whether it may change what is shown (an ack
    /// or a pong does not, so it need not cost a frame).
    pub fn on_frame(&mut self, frame: ServerFrame) -> bool {
        let mut shown = !matches!(frame, ServerFrame::Ack { .. } | ServerFrame::Pong { .. });
        match self.replica.on_frame(frame) {
            Applied::Welcome { fresh } => {
                self.signal(Signal::Welcome { fresh });
                self.connection = Connection::Live;
            }
            Applied::Event(event) => self.on_event(event),
            // Drawn already, ahead of its commit: a frame for it would only hold back the next.
            Applied::Confirmed(event) => {
                self.on_event(event);
                shown = false;
            }
            Applied::DocLoaded(doc_id) => self.signal(Signal::DocLoaded(doc_id)),
            Applied::Error { code, message } => {
                self.notify(format!("{}: {message}", code.as_str()), true);
            }
            Applied::Quiet => {}
        }
        self.follow_settings();
        shown
    }

    /// Takes the user's settings when they change: keys, colours, notifications.
    fn follow_settings(&mut self) {
        let world = self.replica.world();
        if let Some(settings) = self.settings_seen.new_settings(world) {
            self.keymap.set_prefs(Prefs::new(&settings).0);
            self.theme.color = self.color_allowed && settings.theme != ThemeChoice::Mono;
            self.notifications = settings.notifications;
        }
        if let Some(problem) = self.settings_seen.new_problem(self.replica.world()) {
            self.notify(problem, true);
        }
    }

    /// The daemon refused an edit of `doc_id` (it could not be merged).
    pub fn on_edit_refused(&mut self, doc_id: choir_proto::DocId, message: &str) {
        self.signal(Signal::EditRefused(doc_id));
        self.notify(
            format!("{message} — your text before the reload is on the clipboard (C-v)"),
            true,
        );
    }

    /// Whether the last input changed nothing shown (a key for a shell's program): no frame
    /// need be drawn for it, and the echo's frame is not held back by one.
    pub fn last_input_quiet(&self) -> bool {
        self.quiet_input
    }

    /// What to write to the terminal to ring it: BEL and a notification (OSC 9 / 777) for
    /// each window that came to need the user, unless the settings turned them off.
    pub fn take_bells(&mut self) -> Vec<String> {
        std::mem::take(&mut self.bells)
    }

    /// Reacts to an event the replica just folded in.
    fn on_event(&mut self, event: Event) {
        self.signal(Signal::Event(&event));
        if let Some((text, error)) = choir_desktop::mail::said(&event.body) {
            if self.replica.timeline().is_none() {
                self.notify(text, error);
            }
        }
        let world = self.replica.world();
        let focused = world.desktop.focused;
        if let Some(alert) = self
            .attention
            .on_event(world, &event, focused, choir_proto::now_ms())
        {
            if self.notifications && self.replica.timeline().is_none() {
                self.bells.push(terminal_bell(&alert));
            }
        }
        self.attention.seen(self.replica.world().desktop.focused);
        let apps = &self.apps;
        held::let_go_of_old_messages(&mut self.replica, &event, |window| {
            apps.get(&window).is_some_and(|app| app.reading_back())
        });
        if let EventBody::WindowClosed { window_id } = &event.body {
            if let Some(app) = self.apps.remove(window_id) {
                if !app.is_done() {
                    self.closing.push((*window_id, app));
                }
            }
            self.keymap.window_closed(*window_id);
        }
        self.log.push(Arc::new(event));
    }

    /// Tells every app, those of closed windows still at work included; what they ask for
    /// goes to the outbox.
    fn signal(&mut self, signal: Signal<'_>) {
        // Every window has its app from the start, so that it hears everything.
        for window in self.replica.world().desktop.windows.values() {
            self.apps
                .entry(window.id)
                .or_insert_with(|| apps::open(&window.app, window.id));
        }
        let gone: Vec<WindowId> = self
            .apps
            .keys()
            .filter(|id| self.replica.world().desktop.window(**id).is_none())
            .copied()
            .collect();
        for id in gone {
            if let Some(app) = self.apps.remove(&id) {
                if !app.is_done() {
                    self.closing.push((id, app));
                }
            }
        }
        let ids: Vec<WindowId> = self.apps.keys().copied().collect();
        for id in ids {
            let area = self.inner_area(id).unwrap_or_default();
            if let Some(mut app) = self.apps.remove(&id) {
                let effects = self
                    .with_context(id, area, |cx| app.on_signal(signal, cx))
                    .1;
                self.apps.insert(id, app);
                self.apply_effects(effects, None);
            }
        }
        let mut closing = std::mem::take(&mut self.closing);
        for (id, app) in &mut closing {
            let effects = self
                .with_context(*id, Rect::default(), |cx| app.on_signal(signal, cx))
                .1;
            self.apply_effects(effects, None);
        }
        closing.retain(|(_, app)| !app.is_done());
        self.closing = closing;
    }

    /// Runs `work` with a context for window `id`'s app; returns what it returned and the
    /// effects the app asked for.
    fn with_context<R>(
        &mut self,
        id: WindowId,
        area: Rect,
        work: impl FnOnce(&mut Context<'_>) -> R,
    ) -> (R, Vec<Effect>) {
        let mut cx = Context {
            replica: &mut self.replica,
            window_id: id,
            area,
            log: &self.log,
            utc_offset: self.utc_offset,
            clipboard: &mut self.clipboard,
            tags: &mut self.tags,
            effects: Vec::new(),
        };
        let result = work(&mut cx);
        (result, cx.effects)
    }

    /// Runs `work` on the app of window `id` (created on first use), with its context;
    /// applies its effects (commands become `actions`). `None` when there is no such window.
    fn with_app<R>(
        &mut self,
        id: WindowId,
        actions: &mut Vec<Action>,
        work: impl FnOnce(&mut dyn App, &mut Context<'_>) -> R,
    ) -> Option<R> {
        let area = self.inner_area(id)?;
        let mut app = match self.apps.remove(&id) {
            Some(app) => app,
            None => apps::open(&self.replica.world().desktop.window(id)?.app, id),
        };
        let (result, effects) = self.with_context(id, area, |cx| work(app.as_mut(), cx));
        self.apps.insert(id, app);
        self.apply_effects(effects, Some(actions));
        Some(result)
    }

    /// Carries out what apps asked for: commands go with the input's actions, or else to the
    /// outbox.
    fn apply_effects(&mut self, effects: Vec<Effect>, mut actions: Option<&mut Vec<Action>>) {
        for effect in effects {
            match (effect, actions.as_deref_mut()) {
                (Effect::Send(command), Some(actions)) => actions.push(Action::Send(command)),
                (Effect::Send(command), None) => self.outbox.push(command),
                (Effect::Copy(text), Some(actions)) => actions.push(Action::Copy(text)),
                (Effect::Copy(_), None) => {}
                (Effect::Notice { text, error }, _) => self.notify(text, error),
            }
        }
    }

    /// What an app reads to draw window `window`.
    fn view<'a>(&'a self, window: &'a choir_proto::Window) -> View<'a> {
        View {
            replica: &self.replica,
            window,
            focused: self.replica.world().desktop.focused == Some(window.id),
            log: &self.log,
            utc_offset: self.utc_offset,
            theme: &self.theme,
            copy: self.keymap.copy_mode(window.id),
            find: self.keymap.find(window.id),
        }
    }

    /// The writer editor of window `id`, for tests that look inside it.
    #[cfg(test)]
    fn editor(&self, id: WindowId) -> Option<&crate::apps::writer::Editor> {
        self.apps.get(&id)?.editor()
    }

    /// Adds events from before the snapshot to the event log (they are already in the world).
    /// Roughly the bytes of the daemon's data this desktop holds: its replica and the event
    /// log's events, as JSON. It walks all of them: ask it now and then, not per frame.
    pub fn held_bytes(&self) -> usize {
        self.replica.held_bytes()
            + self
                .log
                .iter()
                .map(|event| choir_proto::encoded_len(event.as_ref()))
                .sum::<usize>()
    }

    pub fn add_history(&mut self, events: Vec<Event>) {
        let head = self.replica.world().head;
        self.log.add_history(events.into_iter().map(Arc::new), head);
    }

    /// Handles one input event and returns what the host should do.
    pub fn handle_input(&mut self, input: InputEvent) -> Vec<Action> {
        let mut actions = Vec::new();
        let replaying = self.replica.timeline().is_some();
        self.quiet_input = false;
        match input {
            InputEvent::Key(key) if replaying => {
                self.notice = None;
                self.on_timeline_key(key, &mut actions);
            }
            InputEvent::Key(key) => {
                let before = (self.notice.take().is_some(), self.keymap.mode());
                self.on_key(key, &mut actions);
                // A key typed into a shell changes nothing here: its echo comes as output.
                self.quiet_input = before == (false, Mode::Normal)
                    && self.keymap.mode() == Mode::Normal
                    && self.notice.is_none()
                    && !actions.is_empty()
                    && actions
                        .iter()
                        .all(|action| matches!(action, Action::Send(Command::ShellInput { .. })));
            }
            InputEvent::Mouse(mouse) if replaying => self.on_timeline_mouse(mouse),
            InputEvent::Mouse(mouse) => self.on_mouse(mouse, &mut actions),
            InputEvent::Paste(_) if replaying => {}
            InputEvent::Paste(text) => self.on_paste(&text, &mut actions),
            InputEvent::Resize(width, height) => {
                self.resize(width, height);
                // A split layout follows the screen's size.
                let fit = choir_desktop::geometry::fit_layout(
                    &self.replica.world().desktop,
                    self.area_cells(),
                );
                if let Some(command) = fit.filter(|_| !replaying) {
                    actions.push(Action::Send(command));
                }
            }
        }
        actions
    }

    fn on_paste(&mut self, text: &str, actions: &mut Vec<Action>) {
        if let Some(id) = self.replica.world().desktop.focused {
            self.with_app(id, actions, |app, cx| app.on_paste(text, cx));
        }
    }

    fn area(&self) -> Rect {
        desktop_area(self.width, self.height)
    }

    /// This client's desktop area, as the protocol says it.
    fn area_cells(&self) -> choir_proto::Rect {
        let area = self.area();
        choir_proto::Rect::new(area.x, area.y, area.width, area.height)
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
}

/// A prefix for edit tags that no other desktop uses: the process and the time it started.
fn tag_base() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{:x}.{:x}", std::process::id(), nanos & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod tests;
