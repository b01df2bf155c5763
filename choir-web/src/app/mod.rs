//! The root component: the connection, the replica of the world, and the state of each
//! window's app in this tab. Everything shared comes from `choir-proto` (the reducer, the
//! link bookkeeping, the document sync); what is here is the browser's side of it.

mod editors;
mod keys;
mod session;

use editors::Writers;
use session::Session;

use std::collections::HashMap;
use std::time::Duration;

use choir_desktop::attention::Attention;
use choir_desktop::calendar::CalendarCursor;
use choir_desktop::geometry::placed;
use choir_desktop::held::{self, EventLog};
use choir_desktop::mail::MailCursor;
use choir_desktop::prefs::SettingsSeen;
use choir_desktop::Connection;
use choir_desktop::{Front, Keymap, Mode};
use choir_proto::client::Replica;
use choir_proto::{Command, Event, EventBody, Rect, WindowId};
use wasm_bindgen::JsCast;
use web_sys::KeyboardEvent;
use yew::platform::time::sleep;
use yew::prelude::*;

use crate::apps::{ChatView, Drawn, LogEntry, LogView};
use crate::dom;
use crate::drag::{Drag, DragKind};
use crate::keys::KeyBarMods;
use crate::msg::Msg;
use crate::redraw::Revisions;

/// A ping goes out this often; a link silent for `SILENCE_MS` is treated as dead.
const TICK: Duration = Duration::from_secs(10);
/// The replay's clock (`Timeline::tick`).
const TIMELINE_TICK: Duration = Duration::from_secs(1);
const SILENCE_MS: f64 = 35_000.0;
const MAX_BACKOFF_MS: u64 = 5_000;
/// One frame at 60 Hz: frames arriving closer together than this are drawn together.
const FRAME_MS: f64 = 16.0;
/// Renders after a shortcut's window event in which its input is looked for.
const FOCUS_TRIES: u8 = 8;
/// Events kept for the event log windows.
const LOG_CAPACITY: usize = 2_000;
/// Events of history read for the event log after a snapshot.
const LOG_HISTORY: u64 = 200;

pub struct App {
    /// Messages to this component, for the views' callbacks.
    messages: Callback<Msg>,
    /// Served by the hypervisor to a signed-in browser: no token needed.
    signed_in: Option<dom::SignedIn>,
    replica: Replica,
    /// The link to the daemon.
    session: Session,
    /// The writer windows' texts.
    writers: Writers,
    /// Each window's state in this tab, and the events the event logs show.
    windows: Windows,
    layout: Layout,
    /// What keys do, in which mode: the desktop model every client shares.
    keymap: Keymap,
    /// The user's settings this tab took last.
    settings_seen: SettingsSeen,
    /// What needs the user: the taskbar's marks, notifications, the title's count.
    attention: Attention,
    /// Ctrl and Alt as the phone's key bar holds them.
    key_bar: KeyBarMods,
    notice: Option<(String, bool)>,
    /// The browser's time zone, minutes east of UTC (for message times).
    utc_offset_min: i32,
    /// Which windows' contents changed since they were drawn (see [`crate::redraw`]).
    revisions: Revisions,
    drawn: Drawn,
}

/// The chat and event log windows' state in this tab.
struct Windows {
    chats: HashMap<WindowId, ChatView>,
    logs: HashMap<WindowId, LogView>,
    log: EventLog<LogEntry>,
    /// The selected message of each mail window.
    mail: HashMap<WindowId, MailCursor>,
    /// The selected event of each calendar window.
    calendars: HashMap<WindowId, CalendarCursor>,
    /// The focus and typed text of each app window.
    apps: HashMap<WindowId, choir_desktop::app_view::AppView>,
}

/// Where things are on the page, and where the keyboard goes next.
struct Layout {
    /// One character cell, in CSS pixels.
    cell: (f64, f64),
    /// The desktop area, in cells.
    cols_rows: (u16, u16),
    drag: Option<Drag>,
    /// A shortcut opened or focused a window: put the keyboard in it once it is focused.
    focus_input: bool,
    /// Renders left in which to focus the focused window's input (its app may draw the
    /// input only once a later event is in, as a chat's thread after its window).
    focus_now: u8,
}

impl Component for App {
    type Message = Msg;
    type Properties = ();

    fn create(ctx: &Context<Self>) -> Self {
        let token = dom::take_token();
        let signed_in = dom::signed_in();
        let link = ctx.link().clone();
        dom::listen(true, "keydown", move |event: web_sys::Event| {
            if let Ok(event) = event.dyn_into::<KeyboardEvent>() {
                link.send_message(Msg::Key(event));
            }
        });
        for (on_document, name) in [
            (true, "visibilitychange"),
            (false, "pageshow"),
            (false, "online"),
        ] {
            let link = ctx.link().clone();
            dom::listen(on_document, name, move |_: web_sys::Event| {
                link.send_message(Msg::Wake)
            });
        }
        // The phone key bar's field: what is about to be typed there goes to the shell.
        let link = ctx.link().clone();
        dom::listen(true, "beforeinput", move |event: web_sys::Event| {
            let input = event
                .dyn_into::<web_sys::InputEvent>()
                .ok()
                .and_then(|event| crate::apps::shell::key_bar_input(&event));
            if let Some((window, input)) = input {
                link.send_message(Msg::KeyBar(window, input));
            }
        });
        let link = ctx.link().clone();
        dom::listen(false, "resize", move |_: web_sys::Event| {
            link.send_message(Msg::Resized)
        });
        // A drag follows the pointer anywhere on the page and ends wherever it is let go.
        let link = ctx.link().clone();
        dom::listen(true, "pointermove", move |event: web_sys::Event| {
            if let Ok(event) = event.dyn_into::<web_sys::PointerEvent>() {
                link.send_message(Msg::DragMove {
                    x: f64::from(event.client_x()),
                    y: f64::from(event.client_y()),
                });
            }
        });
        for name in ["pointerup", "pointercancel"] {
            let link = ctx.link().clone();
            dom::listen(true, name, move |_: web_sys::Event| {
                link.send_message(Msg::DragEnd)
            });
        }
        let mut app = Self {
            messages: ctx.link().callback(|msg: Msg| msg),
            // A share's page has no token: the hypervisor adds the share's.
            session: Session::new(token, signed_in.is_some()),
            signed_in,
            replica: match dom::replay_point() {
                Some(at) => Replica::replay(at),
                None => Replica::new(),
            },
            writers: Writers::new(),
            windows: Windows {
                chats: HashMap::new(),
                logs: HashMap::new(),
                log: EventLog::new(LOG_CAPACITY),
                mail: HashMap::new(),
                calendars: HashMap::new(),
                apps: HashMap::new(),
            },
            layout: Layout {
                cell: (8.0, 17.0),
                cols_rows: (80, 24),
                drag: None,
                focus_input: false,
                focus_now: 0,
            },
            keymap: Keymap::new(Front::Browser),
            settings_seen: SettingsSeen::default(),
            attention: Attention::default(),
            key_bar: KeyBarMods::default(),
            notice: None,
            // JavaScript counts the offset the other way (minutes west).
            utc_offset_min: -(js_sys::Date::new_0().get_timezone_offset() as i32),
            revisions: Revisions::default(),
            drawn: Drawn::default(),
        };
        app.connect(ctx);
        ctx.link().send_future(async {
            sleep(TICK).await;
            Msg::Tick
        });
        if app.replica.timeline().is_some() {
            ctx.link().send_future(async {
                sleep(TIMELINE_TICK).await;
                Msg::TimelineTick
            });
        }
        app
    }

    fn update(&mut self, ctx: &Context<Self>, msg: Msg) -> bool {
        // Frames say what they change as they are taken in (`on_frame`).
        self.revisions.touch(msg.touch(), []);
        match msg {
            Msg::Net(generation, event) => {
                if generation != self.session.generation {
                    return false;
                }
                return self.on_net(ctx, event);
            }
            Msg::TakeFrames => self.take_frames(ctx),
            Msg::Retry => {
                self.session.retry_pending = false;
                if self.session.socket.is_none() {
                    self.connect(ctx);
                }
            }
            Msg::Tick => {
                ctx.link().send_future(async {
                    sleep(TICK).await;
                    Msg::Tick
                });
                if self.session.connection == Connection::Live {
                    if dom::now_ms() - self.session.last_heard > SILENCE_MS {
                        self.lost(ctx, "the sandbox stopped answering".into());
                    } else if let Some(socket) = &self.session.socket {
                        socket.send(&self.session.link.ping());
                    }
                }
                return false;
            }
            Msg::TimelineTick => {
                ctx.link().send_future(async {
                    sleep(TIMELINE_TICK).await;
                    Msg::TimelineTick
                });
                self.replica.tick();
                self.flush_queries();
                return self
                    .replica
                    .timeline()
                    .is_some_and(choir_proto::client::Timeline::is_waiting);
            }
            Msg::Wake => {
                // A frame scheduled while visible may wait for a repaint that never comes.
                self.take_frames(ctx);
                // A frozen tab's socket may be dead without a close event: check now.
                if dom::is_visible() && self.may_connect() {
                    if self.session.socket.is_none() {
                        self.connect(ctx);
                    } else if let Some(socket) = &self.session.socket {
                        socket.send(&self.session.link.ping());
                    }
                }
            }
            Msg::Resized => {
                self.measure();
                // A split layout follows the page's size.
                let (cols, rows) = self.layout.cols_rows;
                let area = Rect::new(0, 0, cols, rows);
                let fit = choir_desktop::geometry::fit_layout(&self.replica.world().desktop, area);
                if let Some(command) = fit.filter(|_| self.replica.timeline().is_none()) {
                    self.send(command);
                }
            }
            Msg::Send(command) => self.send(command),
            Msg::Key(event) => {
                if self.replica.world().settings.notifications {
                    crate::notify::ask_once();
                }
                return self.on_key(&event);
            }
            Msg::DragStart { window, kind, x, y } => self.drag_start(window, kind, x, y),
            Msg::DragMove { x, y } => return self.drag_move(x, y),
            Msg::DragEnd => return self.drag_end(),
            // Drawn again, so the text area's value stays the one the page knows.
            Msg::ChatInput(window, text) => {
                self.windows.chats.entry(window).or_default().input = text
            }
            Msg::ChatSend(window) => {
                let view = self.windows.chats.entry(window).or_default();
                let text = std::mem::take(&mut view.input);
                if !text.trim().is_empty() {
                    view.stick = true;
                    self.send(Command::PostChat {
                        thread_id: choir_proto::ThreadId(window.0),
                        text,
                    });
                }
            }
            Msg::ChatScrolled {
                window,
                at_top,
                at_bottom,
            } => {
                let view = self.windows.chats.entry(window).or_default();
                let more =
                    crate::apps::chat_scrolled(&mut self.replica, view, window, at_top, at_bottom);
                if more {
                    self.flush_queries();
                }
                return more;
            }
            Msg::WriterInput(window) => {
                self.writer_input(window);
                return false;
            }
            Msg::ShellPaste(window, text) => {
                match crate::apps::shell::paste_commands(self.replica.world(), window, &text) {
                    Ok(commands) => self.send_all(commands),
                    Err(too_large) => self.notify(too_large, true),
                }
            }
            Msg::KeyBar(window, input) => return self.on_key_bar(window, input),
            Msg::ShellMouse(window, event, row, col, mods) => {
                if let Some(redraw) = self.copy_mode_mouse(window, event, (row, col)) {
                    return redraw;
                }
                let commands = crate::apps::shell::mouse_commands(
                    self.replica.world(),
                    window,
                    event,
                    row,
                    col,
                    mods,
                );
                self.send_all(commands);
                return false;
            }
            Msg::LogFilter(window, filter) => {
                self.windows.logs.entry(window).or_default().filter = filter
            }
            Msg::MailOpen(window, uid) => {
                self.windows.mail.entry(window).or_default().selected = Some(uid);
                self.send(Command::OpenMailMessage {
                    window_id: window,
                    uid: Some(uid),
                });
            }
            Msg::MailForm(window, open) => self.windows.mail.entry(window).or_default().form = open,
            Msg::MailAddAccount(window) => {
                let values: Vec<String> = choir_desktop::mail::ACCOUNT_FIELDS
                    .iter()
                    .map(|field| {
                        dom::by_id(&crate::apps::mail_form_input_id(window, field.setting))
                            .and_then(|element| {
                                element.dyn_into::<web_sys::HtmlInputElement>().ok()
                            })
                            .map(|input| input.value())
                            .unwrap_or_default()
                    })
                    .collect();
                let values: Vec<&str> = values.iter().map(String::as_str).collect();
                self.send(choir_desktop::mail::add_account(window, &values));
                self.notify("checking the account with its servers…", false);
                self.windows.mail.entry(window).or_default().form = false;
            }
            Msg::MailSearch(window, words) => {
                if let Some(view) = self.replica.world().mail.get(&window) {
                    let command = choir_desktop::mail::search(window, view, &words);
                    self.windows.mail.entry(window).or_default().selected = None;
                    self.send(command);
                }
            }
            Msg::CalendarSelect(window, uid) => {
                self.windows.calendars.entry(window).or_default().selected = Some(uid)
            }
            Msg::CalendarForm(window, open) => {
                self.windows.calendars.entry(window).or_default().form = open
            }
            Msg::CalendarAdd(window) => self.add_calendar_event(window),
            Msg::AppClick(window, node, item) => {
                let tree = app_view_of(self.replica.world(), window);
                if let Some(tree) = tree {
                    let state = self.windows.apps.entry(window).or_default();
                    if let choir_desktop::Handled::Send(command) =
                        state.click(window, &tree, node, item)
                    {
                        self.send(command);
                    }
                }
            }
            Msg::AppAnswer(window, yes) => {
                if let Some(ask) = choir_desktop::app_view::Ask::of(self.replica.world(), window) {
                    let state = self.windows.apps.entry(window).or_default();
                    match state.answer_click(&ask, yes, crate::dom::now_ms() as i64) {
                        choir_desktop::Handled::Send(command) => self.send(command),
                        choir_desktop::Handled::Notice(text) => self.notify(text, false),
                        choir_desktop::Handled::No | choir_desktop::Handled::Yes => {}
                    }
                }
            }
            Msg::AppDraft(window, field, text) => {
                self.windows
                    .apps
                    .entry(window)
                    .or_default()
                    .set_draft(&field, &text);
            }
            Msg::AppSubmit(window, field) => {
                let tree = app_view_of(self.replica.world(), window);
                if let Some(tree) = tree {
                    let state = self.windows.apps.entry(window).or_default();
                    // Enter with the field focused, as in the terminal.
                    if let Some(index) = app_view_node(&tree, &field) {
                        state.click(window, &tree, index, None);
                    }
                    let handled = state.on_key(
                        window,
                        &tree,
                        choir_desktop::Key::plain(choir_desktop::KeyCode::Enter),
                    );
                    if let choir_desktop::Handled::Send(command) = handled {
                        self.send(command);
                    }
                }
            }
            Msg::LogFollow(window, follow) => {
                self.windows.logs.entry(window).or_default().follow = follow
            }
            Msg::LogHistory(events) => {
                let head = self.replica.world().head;
                self.windows.log.add_history(
                    events
                        .into_iter()
                        .map(|(event, data)| LogEntry::new(event, &data)),
                    head,
                );
            }
            Msg::Travel(to) => self.travel(to),
            Msg::ToggleHelp => self.keymap.set_mode(if self.keymap.help_shown() {
                Mode::Normal
            } else {
                Mode::Help { scroll: 0 }
            }),
            Msg::Dismiss => {
                if self.keymap.help_shown() {
                    self.keymap.set_mode(Mode::Normal);
                }
                self.notice = None;
            }
        }
        true
    }

    fn view(&self, _ctx: &Context<Self>) -> Html {
        let shown = crate::desktop::Shown {
            apps: crate::apps::Shown {
                replica: &self.replica,
                chats: &self.windows.chats,
                logs: &self.windows.logs,
                log: &self.windows.log,
                editors: &self.writers.editors,
                mail: &self.windows.mail,
                calendars: &self.windows.calendars,
                apps: &self.windows.apps,
                cell: self.layout.cell,
                utc_offset_min: self.utc_offset_min,
                keymap: &self.keymap,
                key_bar: self.key_bar,
                revisions: &self.revisions,
                drawn: &self.drawn,
            },
            connection: &self.session.connection,
            signed_in: self.signed_in.as_ref(),
            cols_rows: self.layout.cols_rows,
            drag: self.layout.drag,
            keymap: &self.keymap,
            notice: self.notice.as_ref(),
            attention: &self.attention,
        };
        crate::desktop::view(&self.messages, &shown)
    }

    fn rendered(&mut self, _ctx: &Context<Self>, first_render: bool) {
        self.session.last_render = dom::now_ms();
        if crate::notify::looking() {
            self.attention.seen(self.replica.world().desktop.focused);
        }
        crate::notify::title_count(self.attention.count(self.replica.world()));
        if first_render {
            self.measure();
        }
        self.sync_text_areas();
        crate::apps::after_render(&self.replica, &mut self.windows.chats, &self.windows.logs);
        // A search in a chat shows the message it is on (after the chats kept their place).
        if let Mode::Find(window) = self.keymap.mode() {
            crate::apps::show_found(window);
        }
        if self.layout.focus_now > 0 {
            self.layout.focus_now -= 1;
            let focused = self
                .replica
                .world()
                .desktop
                .focused
                .and_then(|id| dom::by_id(&format!("window-{}", id.0)))
                .is_some_and(|element| {
                    // The app's own field first, in that order; never the title bar's buttons.
                    [
                        ".content .terminal",
                        ".content textarea",
                        ".content input",
                        ".content button",
                    ]
                    .iter()
                    .any(|selector| dom::focus_in(&element, selector))
                });
            if focused {
                self.layout.focus_now = 0;
            }
        }
        if self.session.welcomed_once {
            dom::set_ready();
        }
    }
}

impl App {
    fn on_event(&mut self, event: Event) {
        let world = self.replica.world();
        let looking_at = world.desktop.focused.filter(|_| crate::notify::looking());
        let alert = self
            .attention
            .on_event(world, &event, looking_at, dom::now_ms() as i64);
        if let Some(alert) =
            alert.filter(|_| world.settings.notifications && self.replica.timeline().is_none())
        {
            crate::notify::show(&alert);
        }
        if let Some((text, error)) = choir_desktop::mail::said(&event.body) {
            if self.replica.timeline().is_none() {
                self.notify(text, error);
            }
        }
        let chats = &self.windows.chats;
        held::let_go_of_old_messages(&mut self.replica, &event, |window| {
            chats.get(&window).is_some_and(|view| !view.stick)
        });
        match &event.body {
            EventBody::WindowClosed { window_id } => {
                self.windows.chats.remove(window_id);
                self.windows.logs.remove(window_id);
                self.keymap.window_closed(*window_id);
                self.drawn.forget(*window_id);
                self.retire(*window_id);
            }
            EventBody::WindowFocused { .. }
            | EventBody::WindowRestored { .. }
            | EventBody::WindowOpened { .. }
                if self.layout.focus_input =>
            {
                self.layout.focus_input = false;
                self.layout.focus_now = FOCUS_TRIES;
            }
            EventBody::DocEdited {
                doc_id,
                version,
                op,
                edit_id,
            } => self.merge(*doc_id, *version, op, edit_id.as_deref()),
            EventBody::WriterDocShown { window_id, doc_id } => {
                let stale = self
                    .writers
                    .editors
                    .get(window_id)
                    .is_some_and(|editor| Some(editor.doc.doc_id()) != *doc_id);
                if stale {
                    self.retire(*window_id);
                }
            }
            EventBody::DocDeleted { doc_id } => {
                self.writers
                    .editors
                    .retain(|_, editor| editor.doc.doc_id() != *doc_id);
                self.writers.retired.retain(|doc| doc.doc_id() != *doc_id);
            }
            _ => {}
        }
        let data = std::mem::take(&mut self.session.event_data);
        self.windows.log.push(LogEntry::new(event, &data));
    }

    /// Sends a command, or says it could not be.
    fn send(&mut self, command: Command) {
        if self.replica.timeline().is_some() {
            self.notify(
                "a replay is read-only: ← → move by event, [ ] by minute, n p to the next message or tool call",
                false,
            );
            return;
        }
        let sent = match (
            &self.session.socket,
            self.session.connection == Connection::Live,
        ) {
            (Some(socket), true) => socket.send(&self.session.link.command(command)),
            _ => false,
        };
        if !sent {
            self.notify("not connected: the action was not sent", true);
        }
    }

    fn send_all(&mut self, commands: Vec<Command>) {
        for command in commands {
            self.send(command);
        }
    }

    /// Adds the event a calendar window's form names (its day, when left empty, the one it
    /// shows as its placeholder).
    fn add_calendar_event(&mut self, window: WindowId) {
        let Some(view) = self.replica.world().calendars.get(&window) else {
            return;
        };
        let default_day = crate::apps::calendar_form_day(view, self.utc_offset_min);
        let values: Vec<String> = (0..choir_desktop::calendar::EVENT_FIELDS.len())
            .map(|index| {
                let value = dom::by_id(&crate::apps::calendar_form_input_id(window, index))
                    .and_then(|element| element.dyn_into::<web_sys::HtmlInputElement>().ok())
                    .map(|input| input.value())
                    .unwrap_or_default();
                if index == 1 && value.trim().is_empty() {
                    default_day.clone()
                } else {
                    value
                }
            })
            .collect();
        let values: Vec<&str> = values.iter().map(String::as_str).collect();
        match choir_desktop::calendar::add_event(window, &values, self.utc_offset_min * 60) {
            Ok(command) => {
                self.send(command);
                self.windows.calendars.entry(window).or_default().form = false;
            }
            Err(problem) => self.notify(problem, true),
        }
    }

    fn notify(&mut self, text: impl Into<String>, error: bool) {
        self.notice = Some((text.into(), error));
    }

    /// Measures the character cell and the desktop area in cells.
    fn measure(&mut self) {
        if let Some(cell) = dom::cell_size() {
            self.layout.cell = cell;
        }
        if let Some((w, h)) = dom::desktop_px() {
            let cols = (w / self.layout.cell.0).floor().clamp(1.0, 1000.0) as u16;
            let rows = (h / self.layout.cell.1).floor().clamp(1.0, 500.0) as u16;
            self.layout.cols_rows = (cols, rows);
        }
    }

    fn request_focus_input(&mut self) {
        self.layout.focus_input = true;
    }

    fn drag_start(&mut self, window: WindowId, kind: DragKind, x: f64, y: f64) {
        let Some(shown) = self.replica.world().desktop.window(window) else {
            return;
        };
        if shown.maximized {
            return;
        }
        // From where this tab shows it.
        let (cols, rows) = self.layout.cols_rows;
        let rect = placed(shown.rect, false, Rect::new(0, 0, cols, rows));
        if self.replica.world().desktop.focused != Some(window) {
            self.send(Command::FocusWindow { window_id: window });
        }
        self.layout.drag = Some(Drag {
            window,
            kind,
            from: (x, y),
            start: rect,
            now: rect,
        });
    }

    fn drag_move(&mut self, x: f64, y: f64) -> bool {
        let (cw, ch) = self.layout.cell;
        let Some(drag) = &mut self.layout.drag else {
            return false;
        };
        let next = drag.moved_to(x, y, cw, ch);
        let changed = next != drag.now;
        drag.now = next;
        changed
    }

    fn drag_end(&mut self) -> bool {
        let Some(drag) = self.layout.drag.take() else {
            return false;
        };
        if let Some(command) = drag.command() {
            self.send(command);
        }
        true
    }
}

/// What app window `window` shows, if it shows anything.
fn app_view_of(
    world: &choir_proto::World,
    window: WindowId,
) -> Option<choir_proto::apps::ViewTree> {
    world
        .app_windows
        .get(&window)
        .and_then(|shown| shown.view.clone())
}

/// The index of the text field `field` in an app's view.
fn app_view_node(tree: &choir_proto::apps::ViewTree, field: &str) -> Option<u32> {
    tree.nodes
        .iter()
        .position(
            |node| matches!(node, choir_proto::apps::ViewNode::Input { id, .. } if id == field),
        )
        .and_then(|index| u32::try_from(index).ok())
}
