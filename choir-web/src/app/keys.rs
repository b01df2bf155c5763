//! Keyboard shortcuts: the shared keymap ([`choir_desktop::Keymap`]) decides what a key
//! does, as in the terminal; this carries it out in the page. Keys the keymap leaves to the
//! focused window go to a shell's program, or else stay the page's (text fields, buttons).

use choir_desktop::copy_mode::Click;
use choir_desktop::mail::Handled;
use choir_desktop::replay::{replay_key, ReplayKey, Travel};
use choir_desktop::{Intent, Key, KeyCode, Screen};
use choir_proto::terminal::{vt100::MouseProtocolMode, TermMouse};
use choir_proto::{Command, Rect, WindowId};
use wasm_bindgen::JsCast;
use web_sys::KeyboardEvent;

use super::App;
use crate::apps::{shell, LogEntry};
use crate::keys::{focused_shell, key_of, select_all, write_clipboard, KeyBarInput, KeyBarMods};

impl App {
    /// Handles a key pressed anywhere on the page; true when the page must be drawn again.
    pub(super) fn on_key(&mut self, event: &KeyboardEvent) -> bool {
        if self.replica.timeline().is_some() && !self.keymap.help_shown() {
            // A page has nothing to quit: q and Esc stay the page's.
            if let Some(ReplayKey::Travel(to)) = key_of(event).and_then(replay_key) {
                event.prevent_default();
                self.travel(to);
                return true;
            }
        }
        // Cmd with anything is the browser's or the system's.
        if event.meta_key() {
            return false;
        }
        let Some(key) = key_of(event) else {
            return false;
        };
        let shell = focused_shell(self.replica.world());
        self.press(key, shell, Some(event))
    }

    /// A key from the phone's key bar of shell window `id` (or typed in its text field),
    /// with the bar's Ctrl and Alt if they are held; as if typed while it has focus.
    pub(super) fn on_key_bar(&mut self, id: WindowId, input: KeyBarInput) -> bool {
        let keys: Vec<Key> = match input {
            KeyBarInput::Hold(held) => {
                self.key_bar = self.key_bar.toggled(held);
                return true;
            }
            KeyBarInput::Key(key) => vec![key],
            KeyBarInput::Text(text) => text
                .chars()
                .map(|c| match c {
                    '\n' | '\r' => Key::plain(KeyCode::Enter),
                    '\t' => Key::plain(KeyCode::Tab),
                    c => Key::plain(KeyCode::Char(c)),
                })
                .collect(),
        };
        for key in keys {
            let key = self.key_bar.apply(key);
            self.key_bar = KeyBarMods::default();
            self.press(key, Some(id), None);
        }
        true
    }

    /// What `key` does with `shell` as the shell window it would go to: the desktop's, or
    /// its program's. `event` is the page's key event, if the key came from one (the
    /// browser's own shortcuts stay the browser's).
    fn press(&mut self, key: Key, shell: Option<WindowId>, event: Option<&KeyboardEvent>) -> bool {
        let world = self.replica.world();
        let items = self
            .keymap
            .search_items(world, self.windows.log.iter().map(LogEntry::line));
        let (cols, rows) = self.layout.cols_rows;
        let screen = Screen {
            desktop: &world.desktop,
            area: Rect::new(0, 0, cols, rows),
            focused_takes_every_key: shell.is_some(),
            focused_terminal: shell
                .and_then(|id| world.shells.get(&id))
                .map(|shell| &shell.terminal),
            focused_items: items.as_deref(),
            installed: &world.apps,
        };
        let intents = self.keymap.on_key(key, &screen);
        if intents == [Intent::ToApp(key)] && key != self.keymap.prefix() {
            // Not the desktop's: a shell's program's, or the page's.
            if let Some(id) = shell {
                let commands = match event {
                    Some(event) => shell::key_commands(self.replica.world(), id, event),
                    None => self
                        .replica
                        .world()
                        .shells
                        .get(&id)
                        .map(|running| running.key_commands(key.term())),
                };
                return match commands {
                    Some(commands) => {
                        self.send_all(commands);
                        false
                    }
                    None => true,
                };
            }
            if let Some(handled) = self
                .mail_key(key)
                .or_else(|| self.calendar_key(key))
                .or_else(|| self.app_key(key))
            {
                if handled {
                    if let Some(event) = event {
                        event.prevent_default();
                    }
                }
                return handled;
            }
            if key.code == KeyCode::Esc && self.notice.is_some() {
                self.notice = None;
                return true;
            }
            return false;
        }
        if let Some(event) = event {
            event.prevent_default();
        }
        for intent in intents {
            match intent {
                Intent::Send(command) => {
                    let focuses = matches!(
                        command,
                        Command::OpenWindow { .. } | Command::FocusWindow { .. }
                    );
                    self.send(command);
                    if focuses {
                        self.request_focus_input();
                    }
                }
                // The prefix twice: a shell's program gets the prefix key; a text field
                // selects all, as the browser's own Ctrl-a would.
                Intent::ToApp(prefix) => {
                    match shell.and_then(|id| self.replica.world().shells.get(&id)) {
                        Some(running) => {
                            let commands = running.key_commands(prefix.term());
                            self.send_all(commands);
                        }
                        None => select_all(),
                    }
                }
                Intent::Notice { text, error } => self.notify(text, error),
                Intent::CopyText(text) => write_clipboard(&text),
                // Not bound in the browser (see `choir_desktop::bindings`).
                Intent::Copy(_) | Intent::Quit => {}
            }
        }
        true
    }

    /// `key` in the focused window when it is a mail window: `None` when it is not one (or
    /// the key is typed into a field of the page), else whether to draw again.
    fn mail_key(&mut self, key: Key) -> Option<bool> {
        if crate::keys::typing_in_field() {
            return None;
        }
        let world = self.replica.world();
        let id = world.desktop.focused?;
        let view = world.mail.get(&id)?;
        let cursor = self.windows.mail.entry(id).or_default();
        let handled = cursor.key(key, id, view);
        // `/` puts the keyboard in the window's search field.
        if std::mem::take(&mut cursor.searching) {
            if let Some(field) = crate::dom::by_id(&crate::apps::mail_search_input_id(id))
                .and_then(|element| element.dyn_into::<web_sys::HtmlElement>().ok())
            {
                let _ = field.focus();
            }
        }
        Some(self.carry_out(handled))
    }

    /// `key` in the focused window when it is a calendar window: `None` when it is not one
    /// (or the key is typed into a field of the page), else whether to draw again.
    fn calendar_key(&mut self, key: Key) -> Option<bool> {
        if crate::keys::typing_in_field() {
            return None;
        }
        let world = self.replica.world();
        let id = world.desktop.focused?;
        let view = world.calendars.get(&id)?;
        let today = crate::apps::calendar_today(self.utc_offset_min);
        let cursor = self.windows.calendars.entry(id).or_default();
        let handled = cursor.key(key, id, view, today, self.utc_offset_min * 60);
        Some(self.carry_out(handled))
    }

    /// `key` in the focused window when it is an app window: `None` when it is not one (or
    /// the key is typed into a field of the page), else whether to draw again. What the app
    /// waits on the user for (a capability, a tool call) is answered first (`y`, `n`).
    fn app_key(&mut self, key: Key) -> Option<bool> {
        if crate::keys::typing_in_field() {
            return None;
        }
        let world = self.replica.world();
        let id = world.desktop.focused?;
        let shown = world.app_windows.get(&id)?;
        let tree = shown.view.clone();
        let ask = choir_desktop::app_view::Ask::of(world, id);
        let state = self.windows.apps.entry(id).or_default();
        if let Some(ask) = ask {
            let answered = state.answer_key(tree.as_ref(), &ask, key, crate::dom::now_ms() as i64);
            if answered != Handled::No {
                return Some(self.carry_out(answered));
            }
        }
        let tree = tree?;
        let handled = state.on_key(id, &tree, key);
        Some(self.carry_out(handled))
    }

    /// Carries out what a key did in an app's window; whether to draw again.
    fn carry_out(&mut self, handled: Handled) -> bool {
        match handled {
            Handled::No => false,
            Handled::Yes => true,
            Handled::Send(command) => {
                self.send(command);
                true
            }
            Handled::Notice(text) => {
                self.notify(text, false);
                true
            }
        }
    }

    /// The wheel, a press, a drag or a release on shell window `id`: in copy mode they
    /// scroll and select; the wheel over a program that did not ask for the mouse enters
    /// it. `None` when the event is the program's as usual; else whether to draw again.
    pub(super) fn copy_mode_mouse(
        &mut self,
        id: WindowId,
        event: TermMouse,
        cell: (u16, u16),
    ) -> Option<bool> {
        let shell = self.replica.world().shells.get(&id)?;
        let in_copy_mode = self.keymap.copy_mode(id).is_some();
        let intents = match event {
            TermMouse::WheelUp | TermMouse::WheelDown => {
                let asked =
                    shell.terminal.screen().mouse_protocol_mode() != MouseProtocolMode::None;
                if asked && !in_copy_mode {
                    return None;
                }
                self.keymap
                    .wheel(id, &shell.terminal, event == TermMouse::WheelUp)
            }
            TermMouse::Press { button: 0 } => {
                self.keymap
                    .copy_click(id, &shell.terminal, cell, Click::Down)?
            }
            TermMouse::Drag { button: 0 } => {
                self.keymap
                    .copy_click(id, &shell.terminal, cell, Click::Drag)?
            }
            TermMouse::Release { button: 0 } => {
                self.keymap
                    .copy_click(id, &shell.terminal, cell, Click::Up)?
            }
            // Motion with the button held is only copy mode's.
            _ if !in_copy_mode => return None,
            _ => Vec::new(),
        };
        if self.keymap.copy_mode(id).is_some() && self.replica.world().desktop.focused != Some(id) {
            self.send(Command::FocusWindow { window_id: id });
        }
        for intent in intents {
            match intent {
                Intent::CopyText(text) => write_clipboard(&text),
                Intent::Notice { text, error } => self.notify(text, error),
                _ => {}
            }
        }
        Some(true)
    }

    /// Moves through a replay's time and asks for the moment.
    pub(super) fn travel(&mut self, to: Travel) {
        self.replica.travel(|timeline| to.apply(timeline));
        self.flush_queries();
    }
}
