//! Keyboard handling: the prefix key, modes, and routing to the focused app.

use choir_proto::{AppKind, Command, WindowId};

use super::{desktop_area, Action, Desktop, Mode};
use crate::input::{Key, KeyCode};

/// The prefix key: C-a.
pub const PREFIX: Key = Key::ctrl('a');

/// The launcher's entries: label, hotkey.
pub const LAUNCHER: &[(&str, char)] = &[
    ("Chat", 'c'),
    ("Event log", 'e'),
    ("Writer", 'w'),
    ("Shell", 's'),
    ("Tile all", 't'),
    ("Help", '?'),
    ("Quit", 'q'),
];

impl Desktop {
    pub(super) fn on_key(&mut self, key: Key, actions: &mut Vec<Action>) {
        match self.mode {
            Mode::Help => match key.code {
                // The help scrolls when the screen is too short for it.
                KeyCode::Down | KeyCode::PageDown | KeyCode::Char('j') => self.help_scroll += 1,
                KeyCode::Up | KeyCode::PageUp | KeyCode::Char('k') => {
                    self.help_scroll = self.help_scroll.saturating_sub(1)
                }
                _ => {
                    self.mode = Mode::Normal;
                    self.help_scroll = 0;
                }
            },
            Mode::Launcher { selected } => self.on_launcher_key(key, selected, actions),
            Mode::Move(id) | Mode::Resize(id) => self.on_geometry_key(key, id, actions),
            Mode::Prefix => {
                self.mode = Mode::Normal;
                self.on_prefixed(key, actions);
            }
            Mode::Normal if key == PREFIX => self.mode = Mode::Prefix,
            Mode::Normal if key.code == KeyCode::F(1) && !self.focused_takes_every_key() => {
                self.mode = Mode::Help
            }
            Mode::Normal => self.on_app_key(key, actions),
        }
    }

    fn on_prefixed(&mut self, key: Key, actions: &mut Vec<Action>) {
        let focused = self.replica.world().desktop.focused;
        match key.code {
            KeyCode::Char(c) if key == PREFIX || c == 'a' && key.mods.ctrl => {
                // C-a C-a: the app gets a literal C-a.
                self.on_app_key(PREFIX, actions);
            }
            KeyCode::Char(c) if !key.mods.ctrl && !key.mods.alt => self.on_command_char(c, actions),
            KeyCode::Tab => self.focus_step(1, actions),
            KeyCode::BackTab => self.focus_step(-1, actions),
            KeyCode::Esc => {}
            _ => {
                if focused.is_some() {
                    self.notify("unknown binding after C-a (F1 lists them)", true);
                }
            }
        }
    }

    /// The desktop command bound to `c` after the prefix (also the launcher's hotkeys).
    pub(super) fn on_command_char(&mut self, c: char, actions: &mut Vec<Action>) {
        let focused = self.replica.world().desktop.focused;
        let send =
            |command: Command, actions: &mut Vec<Action>| actions.push(Action::Send(command));
        match (c, focused) {
            ('c', _) => send(open(AppKind::Chat), actions),
            ('s', _) => send(open(AppKind::Shell), actions),
            ('e', _) => send(open(AppKind::EventLog), actions),
            ('w', _) => send(open(AppKind::Writer), actions),
            (' ' | 'l', _) => self.mode = Mode::Launcher { selected: 0 },
            ('?', _) => self.mode = Mode::Help,
            ('q', _) => actions.push(Action::Quit),
            ('t', _) => {
                let area = desktop_area(self.width, self.height);
                let area = choir_proto::Rect::new(area.x, area.y, area.width, area.height);
                send(Command::TileWindows { area }, actions);
            }
            ('n', _) => self.focus_step(1, actions),
            ('p', _) => self.focus_step(-1, actions),
            ('1'..='9', _) => {
                let index = c as usize - '1' as usize;
                if let Some(window_id) = self
                    .replica
                    .world()
                    .desktop
                    .windows
                    .keys()
                    .nth(index)
                    .copied()
                {
                    send(Command::FocusWindow { window_id }, actions);
                }
            }
            ('x', Some(window_id)) => send(Command::CloseWindow { window_id }, actions),
            ('z', Some(window_id)) => {
                let area = Some(self.area_cells());
                send(Command::ToggleMaximize { window_id, area }, actions)
            }
            ('-', Some(window_id)) => send(Command::MinimizeWindow { window_id }, actions),
            ('m', Some(window_id)) => self.mode = Mode::Move(window_id),
            ('r', Some(window_id)) => self.mode = Mode::Resize(window_id),
            ('y', Some(window_id)) => self.copy_from(window_id, actions),
            ('x' | 'z' | '-' | 'm' | 'r' | 'y', None) => self.notify("no window has focus", true),
            _ => self.notify(
                format!("C-a {c} is not bound (F1 lists the bindings)"),
                true,
            ),
        }
    }

    fn copy_from(&mut self, window_id: WindowId, actions: &mut Vec<Action>) {
        let text = self
            .replica
            .world()
            .desktop
            .window(window_id)
            .and_then(|window| {
                let app = self.apps.get(&window_id)?;
                app.copy_text(&self.view(window))
            });
        match text {
            Some(text) => {
                actions.push(Action::Copy(text));
                self.notify("copied to the clipboard", false);
            }
            None => self.notify("nothing to copy here", true),
        }
    }

    /// Whether the focused window's app takes every key (a shell: F1 is for its program).
    fn focused_takes_every_key(&self) -> bool {
        let Some(id) = self.replica.world().desktop.focused else {
            return false;
        };
        match self.apps.get(&id) {
            Some(app) => app.takes_every_key(),
            None => self
                .replica
                .world()
                .desktop
                .window(id)
                .is_some_and(|window| window.app == AppKind::Shell),
        }
    }

    /// Focuses the next (or previous) visible or minimized window in id order.
    fn focus_step(&mut self, step: isize, actions: &mut Vec<Action>) {
        let ids: Vec<WindowId> = self
            .replica
            .world()
            .desktop
            .windows
            .keys()
            .copied()
            .collect();
        if ids.is_empty() {
            return;
        }
        let current = self
            .replica
            .world()
            .desktop
            .focused
            .and_then(|id| ids.iter().position(|other| *other == id));
        let next = match current {
            Some(i) => (i as isize + step).rem_euclid(ids.len() as isize) as usize,
            None => 0,
        };
        actions.push(Action::Send(Command::FocusWindow {
            window_id: ids[next],
        }));
    }

    fn on_launcher_key(&mut self, key: Key, selected: usize, actions: &mut Vec<Action>) {
        let last = LAUNCHER.len() - 1;
        match key.code {
            KeyCode::Up => {
                self.mode = Mode::Launcher {
                    selected: selected.saturating_sub(1),
                }
            }
            KeyCode::Down => {
                self.mode = Mode::Launcher {
                    selected: (selected + 1).min(last),
                }
            }
            KeyCode::Enter => {
                self.mode = Mode::Normal;
                self.on_command_char(LAUNCHER[selected].1, actions);
            }
            KeyCode::Char(c) if LAUNCHER.iter().any(|(_, hotkey)| *hotkey == c) => {
                self.mode = Mode::Normal;
                self.on_command_char(c, actions);
            }
            _ => self.mode = Mode::Normal,
        }
    }

    fn on_geometry_key(&mut self, key: Key, id: WindowId, actions: &mut Vec<Action>) {
        let Some(window) = self.replica.world().desktop.window(id) else {
            self.mode = Mode::Normal;
            return;
        };
        let step: i32 = if key.mods.shift { 5 } else { 1 };
        let (dx, dy) = match key.code {
            KeyCode::Left => (-step, 0),
            KeyCode::Right => (step, 0),
            KeyCode::Up => (0, -step),
            KeyCode::Down => (0, step),
            KeyCode::Enter | KeyCode::Esc => {
                self.mode = Mode::Normal;
                return;
            }
            _ => return,
        };
        let area = desktop_area(self.width, self.height);
        let start = super::geometry::placed(window.rect, window.maximized, area);
        let moved = |v: u16, d: i32| u16::try_from((i32::from(v) + d).max(0)).unwrap_or(u16::MAX);
        let command = match self.mode {
            Mode::Move(window_id) => Command::MoveWindow {
                window_id,
                x: moved(start.x, dx),
                y: moved(start.y, dy),
            },
            _ => Command::ResizeWindow {
                window_id: id,
                w: moved(start.width, dx).max(choir_proto::MIN_WINDOW_W),
                h: moved(start.height, dy).max(choir_proto::MIN_WINDOW_H),
            },
        };
        actions.push(Action::Send(command));
    }

    fn on_app_key(&mut self, key: Key, actions: &mut Vec<Action>) {
        let Some(id) = self.replica.world().desktop.focused else {
            if matches!(key.code, KeyCode::Enter | KeyCode::Char(' ')) {
                self.mode = Mode::Launcher { selected: 0 };
            } else if key.code == KeyCode::Char('?') {
                self.mode = Mode::Help;
            }
            return;
        };
        let used = self
            .with_app(id, actions, |app, cx| app.on_key(key, cx))
            .unwrap_or(false);
        if !used && key.code == KeyCode::Char('?') {
            self.mode = Mode::Help;
        }
    }
}

fn open(app: AppKind) -> Command {
    Command::OpenWindow {
        app,
        title: None,
        rect: None,
    }
}
