//! What each key does, in each mode of the desktop: the prefix key and the commands after it,
//! moving and resizing with the arrows, the launcher, the help. The same for every client;
//! what differs between them is only which bindings they have ([`crate::bindings`]).

use choir_proto::terminal::Terminal;
use choir_proto::{AppKind, Command, Desktop, Rect, WindowId};

use crate::bindings::{self, Front};
use crate::copy_mode::CopyMode;
use crate::find::{Find, FindOutcome};
use crate::geometry::{self, Edges, Reshape};
use crate::key::{Key, KeyCode};
use crate::prefs::{key_label, Prefs};

/// The prefix key unless the settings choose another: C-a.
pub const PREFIX: Key = Key::ctrl('a');

/// The launcher's entries: label, and the key after the prefix that does the same.
pub const LAUNCHER: &[(&str, char)] = &[
    ("Chat", 'c'),
    ("Event log", 'e'),
    ("Writer", 'w'),
    ("Shell", 's'),
    ("Mail", 'i'),
    ("Calendar", 'a'),
    ("Tile all", 't'),
    ("Help", '?'),
    ("Quit", 'q'),
];

/// An entry of the launcher: a desktop command by its key after the prefix, or an app the
/// user or the agent wrote, by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    Key(char),
    App(String),
}

/// The launcher's entries, as (label, what it does): the built-in apps, the installed apps
/// by name, then the desktop's commands.
pub fn launcher(installed: &Installed) -> Vec<(String, Launch)> {
    let apps_end = LAUNCHER
        .iter()
        .position(|(_, key)| *key == 't')
        .unwrap_or(LAUNCHER.len());
    let builtin = |entries: &[(&str, char)]| -> Vec<(String, Launch)> {
        entries
            .iter()
            .map(|(label, key)| ((*label).to_owned(), Launch::Key(*key)))
            .collect()
    };
    let mut entries = builtin(&LAUNCHER[..apps_end]);
    entries.extend(
        installed
            .keys()
            .map(|name| (name.clone(), Launch::App(name.clone()))),
    );
    entries.extend(builtin(&LAUNCHER[apps_end..]));
    entries
}

/// The apps the user or the agent wrote that are installed, by name.
pub type Installed = std::collections::BTreeMap<String, choir_proto::InstalledApp>;

/// Cells a move or resize key goes, and with Shift.
const STEP: (i32, i32) = (1, 5);

/// Input modes beyond plain typing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// The prefix key was pressed; the next key is a desktop command.
    Prefix,
    /// The arrows move this window.
    Move(WindowId),
    /// The arrows resize this window.
    Resize(WindowId),
    Launcher {
        selected: usize,
    },
    /// The help is shown, scrolled by this many rows.
    Help {
        scroll: usize,
    },
    /// Copy mode in this shell window: keys move through its scrollback ([`CopyMode`]).
    Copy(WindowId),
    /// Search in this chat window, with copy mode's keys ([`Find`]).
    Find(WindowId),
}

/// What a key asks of the client, beyond the mode it leaves the keymap in.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    /// Send this command to the daemon.
    Send(Command),
    /// The key is for the focused window's app (after C-a C-a: a literal C-a). If the app
    /// has no use for it, the client says so with [`Keymap::unused_by_app`].
    ToApp(Key),
    /// Copy what window shows that is worth copying (C-a y).
    Copy(WindowId),
    /// Put this text on the clipboard (copy mode's selection).
    CopyText(String),
    /// Leave the desktop (the sandbox keeps running).
    Quit,
    /// Show a message on the hint line.
    Notice { text: String, error: bool },
}

/// What the keymap reads of the client's desktop.
#[derive(Debug, Clone, Copy)]
pub struct Screen<'a> {
    pub desktop: &'a Desktop,
    /// The part of this client's screen windows live in, in cells.
    pub area: Rect,
    /// Whether the focused window's app takes every key (a shell: F1 is its program's).
    pub focused_takes_every_key: bool,
    /// The focused window's terminal, when it is a shell window whose shell started.
    pub focused_terminal: Option<&'a Terminal>,
    /// The focused window's items to search, oldest first, as (key, text): a chat's
    /// messages (by seq).
    pub focused_items: Option<&'a [(u64, String)]>,
    /// The installed apps, which the launcher lists.
    pub installed: &'a Installed,
}

/// The desktop's keyboard state machine for one client.
#[derive(Debug, Clone)]
pub struct Keymap {
    front: Front,
    mode: Mode,
    /// Copy mode's state while the mode is [`Mode::Copy`].
    copy: Option<CopyMode>,
    /// A search's state while the mode is [`Mode::Find`].
    find: Option<Find>,
    /// The prefix key and the keys after it, as the settings have them.
    prefs: Prefs,
}

impl Keymap {
    pub fn new(front: Front) -> Self {
        Self {
            front,
            mode: Mode::Normal,
            copy: None,
            find: None,
            prefs: Prefs::default(),
        }
    }

    /// Takes the keys the user's settings choose (see [`Prefs`]).
    pub fn set_prefs(&mut self, prefs: Prefs) {
        self.prefs = prefs;
    }

    /// The prefix key.
    pub fn prefix(&self) -> Key {
        self.prefs.prefix
    }

    /// How this client writes the prefix key: `C-a` in a terminal, `Ctrl-a` in a browser.
    pub fn prefix_label(&self) -> String {
        key_label(self.prefs.prefix, self.front == Front::Terminal)
    }

    /// This client's help: each binding with its own prefix, then the commands the user
    /// put on keys of their choosing.
    pub fn help(&self) -> Vec<(String, String)> {
        let prefix = self.prefix_label();
        let mut rows: Vec<(String, String)> = bindings::help(self.front)
            .map(|(keys, what)| {
                let usual = self.front.prefix_name();
                (keys.replace(usual, &prefix), what.replace(usual, &prefix))
            })
            .collect();
        for (name, key) in self.prefs.custom() {
            rows.push((format!("{prefix} {key}"), format!("{name} (your settings)")));
        }
        rows
    }

    pub fn front(&self) -> Front {
        self.front
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Puts the keymap in `mode`: a click on the launcher's button, on the help's, or
    /// anywhere while a menu is open.
    pub fn set_mode(&mut self, mode: Mode) {
        if !matches!(mode, Mode::Copy(_)) {
            self.copy = None;
        }
        if !matches!(mode, Mode::Find(_)) {
            self.find = None;
        }
        self.mode = mode;
    }

    /// Whether the help is shown.
    pub fn help_shown(&self) -> bool {
        matches!(self.mode, Mode::Help { .. })
    }

    /// A window closed: a move or resize of it ends, and so does copy mode in it.
    pub fn window_closed(&mut self, id: WindowId) {
        if matches!(self.mode, Mode::Move(moving) | Mode::Resize(moving) | Mode::Copy(moving) | Mode::Find(moving) if moving == id)
        {
            self.leave_copy_mode();
        }
    }

    /// The focused app had no use for `key` (see [`Intent::ToApp`]).
    pub fn unused_by_app(&mut self, key: Key) {
        if key.code == KeyCode::Char('?') && !key.mods.ctrl && !key.mods.alt {
            self.mode = Mode::Help { scroll: 0 };
        }
    }

    /// What the hint line says in this mode; `None` in normal mode, where the focused app
    /// has its say. In copy mode it reads the window's terminal.
    pub fn hint(&self, focused_terminal: Option<&Terminal>) -> Option<String> {
        Some(match self.mode {
            Mode::Copy(_) => match (&self.copy, focused_terminal) {
                (Some(copy), Some(terminal)) => copy.hint(terminal),
                _ => return None,
            },
            Mode::Find(_) => self.find.as_ref()?.hint(),
            Mode::Normal => return None,
            Mode::Prefix => prefix_hint(self.front, &self.prefs, &self.prefix_label()),
            Mode::Move(_) => "move: arrows (Shift: by 5) · Enter/Esc done".into(),
            Mode::Resize(_) => "resize: arrows (Shift: by 5) · Enter/Esc done".into(),
            Mode::Launcher { .. } => "↑/↓ choose · Enter open · Esc close".into(),
            Mode::Help { .. } => "↑↓ scroll the help · any other key closes it".into(),
        })
    }

    /// Handles one key.
    pub fn on_key(&mut self, key: Key, screen: &Screen<'_>) -> Vec<Intent> {
        let mut intents = Vec::new();
        match self.mode {
            // The prefix still works: it leaves copy mode for the desktop's command.
            Mode::Copy(_) | Mode::Find(_) if key == self.prefs.prefix => {
                self.leave_copy_mode();
                self.mode = Mode::Prefix;
            }
            Mode::Copy(id) => match (&mut self.copy, screen.focused_terminal) {
                (Some(copy), Some(terminal)) if screen.desktop.focused == Some(id) => {
                    let outcome = copy.on_key(key, terminal);
                    intents = self.copy_outcome(outcome);
                }
                // The window lost focus or its shell: copy mode is over.
                _ => {
                    self.leave_copy_mode();
                    intents.push(Intent::ToApp(key));
                }
            },
            Mode::Find(id) => match &mut self.find {
                Some(find) if screen.desktop.focused == Some(id) => {
                    let items = screen.focused_items.unwrap_or(&[]);
                    if find.on_key(key, items) == FindOutcome::Leave {
                        self.leave_copy_mode();
                    }
                }
                _ => {
                    self.leave_copy_mode();
                    intents.push(Intent::ToApp(key));
                }
            },
            Mode::Help { scroll } => match key.code {
                // The help scrolls when the screen is too short for it.
                KeyCode::Down | KeyCode::PageDown | KeyCode::Char('j') => {
                    self.mode = Mode::Help { scroll: scroll + 1 }
                }
                KeyCode::Up | KeyCode::PageUp | KeyCode::Char('k') => {
                    self.mode = Mode::Help {
                        scroll: scroll.saturating_sub(1),
                    }
                }
                _ => self.mode = Mode::Normal,
            },
            Mode::Launcher { selected } => {
                self.on_launcher_key(key, selected, screen, &mut intents)
            }
            Mode::Move(id) | Mode::Resize(id) => self.on_reshape_key(key, id, screen, &mut intents),
            Mode::Prefix => {
                self.mode = Mode::Normal;
                self.on_prefixed(key, screen, &mut intents);
            }
            Mode::Normal if key == self.prefs.prefix => self.mode = Mode::Prefix,
            Mode::Normal if key.code == KeyCode::F(1) && !screen.focused_takes_every_key => {
                self.mode = Mode::Help { scroll: 0 }
            }
            Mode::Normal if screen.desktop.focused.is_none() && self.front == Front::Terminal => {
                // Nothing to type into: the terminal's empty desktop answers a few keys.
                match key.code {
                    KeyCode::Enter | KeyCode::Char(' ') => {
                        self.mode = Mode::Launcher { selected: 0 }
                    }
                    KeyCode::Char('?') => self.mode = Mode::Help { scroll: 0 },
                    _ => {}
                }
            }
            Mode::Normal => intents.push(Intent::ToApp(key)),
        }
        intents
    }

    fn on_prefixed(&mut self, key: Key, screen: &Screen<'_>, intents: &mut Vec<Intent>) {
        match key.code {
            // The prefix twice: the app gets the prefix key itself.
            _ if key == self.prefs.prefix => intents.push(Intent::ToApp(key)),
            KeyCode::Char(c) if !key.mods.ctrl && !key.mods.alt => match self.prefs.command(c) {
                Some(usual) => intents.extend(self.on_command(usual, screen)),
                None => intents.push(self.not_bound(&c.to_string())),
            },
            KeyCode::Tab => focus_step(screen.desktop, 1, intents),
            KeyCode::BackTab => focus_step(screen.desktop, -1, intents),
            KeyCode::Esc => {}
            _ => intents.push(self.not_bound("that key")),
        }
    }

    /// What a launcher entry does, chosen by key or by a click.
    pub fn launch(&mut self, launch: &Launch, screen: &Screen<'_>) -> Vec<Intent> {
        self.mode = Mode::Normal;
        match launch {
            Launch::Key(c) => self.on_command(*c, screen),
            Launch::App(name) => vec![Intent::Send(open(AppKind::App(name.clone()), screen))],
        }
    }

    /// What `c` after the prefix does (also a launcher entry's and a click's).
    pub fn on_command(&mut self, c: char, screen: &Screen<'_>) -> Vec<Intent> {
        let mut intents = Vec::new();
        if !bindings::is_bound(self.front, c) {
            intents.push(self.not_bound(&c.to_string()));
            return intents;
        }
        let desktop = screen.desktop;
        let focused = desktop.focused;
        let mut send = |command: Command| intents.push(Intent::Send(command));
        let open = |app| open(app, screen);
        match (c, focused) {
            ('c', _) => send(open(AppKind::Chat)),
            ('s', _) => send(open(AppKind::Shell)),
            ('e', _) => send(open(AppKind::EventLog)),
            ('w', _) => send(open(AppKind::Writer)),
            ('i', _) => send(open(AppKind::Mail)),
            ('a', _) => send(open(AppKind::Calendar)),
            ('%' | '"', Some(window_id)) => send(Command::SplitWindow {
                window_id,
                stacked: c == '"',
                area: screen.area,
            }),
            ('t', _) => send(Command::TileWindows { area: screen.area }),
            ('1'..='9', _) => {
                let index = c as usize - '1' as usize;
                if let Some(window_id) = desktop.windows.keys().nth(index).copied() {
                    send(Command::FocusWindow { window_id });
                }
            }
            ('n', _) => focus_step(desktop, 1, &mut intents),
            ('p', _) => focus_step(desktop, -1, &mut intents),
            (' ' | 'l', _) => self.mode = Mode::Launcher { selected: 0 },
            ('?', _) => self.mode = Mode::Help { scroll: 0 },
            ('q', _) => intents.push(Intent::Quit),
            ('x', Some(window_id)) => send(Command::CloseWindow { window_id }),
            ('z', Some(window_id)) => send(Command::ToggleMaximize {
                window_id,
                area: Some(screen.area),
            }),
            ('-', Some(window_id)) => send(Command::MinimizeWindow { window_id }),
            ('m', Some(window_id)) => self.mode = Mode::Move(window_id),
            ('r', Some(window_id)) => self.mode = Mode::Resize(window_id),
            ('y', Some(window_id)) => intents.push(Intent::Copy(window_id)),
            ('M', Some(window_id)) => match desktop.window(window_id) {
                Some(window) if window.app == AppKind::Writer && window.doc_id.is_some() => {
                    if let Some(doc_id) = window.doc_id {
                        send(Command::SendMail { doc_id });
                    }
                }
                _ => intents.push(Intent::Notice {
                    text: format!(
                        "{} M sends the message written in a writer window (r or c in a mail window writes one)",
                        self.prefix_label()
                    ),
                    error: true,
                }),
            },
            ('[', Some(window_id)) => match (screen.focused_terminal, screen.focused_items) {
                (Some(terminal), _) => {
                    self.copy = Some(CopyMode::new(window_id, terminal));
                    self.mode = Mode::Copy(window_id);
                }
                (None, Some(_)) => {
                    self.find = Some(Find::new(window_id));
                    self.mode = Mode::Find(window_id);
                }
                (None, None) => intents.push(Intent::Notice {
                    text: "copy mode is for shell windows, search for chat windows".into(),
                    error: true,
                }),
            },
            (_, None) => intents.push(Intent::Notice {
                text: "no window has focus".into(),
                error: true,
            }),
            // The bindings table names a key this match does not: a test catches it.
            (_, Some(_)) => intents.push(self.not_bound(&c.to_string())),
        }
        intents
    }

    fn not_bound(&self, what: &str) -> Intent {
        Intent::Notice {
            text: format!(
                "{} {what} is not bound (F1 lists the bindings)",
                self.prefix_label()
            ),
            error: true,
        }
    }

    fn on_launcher_key(
        &mut self,
        key: Key,
        selected: usize,
        screen: &Screen<'_>,
        intents: &mut Vec<Intent>,
    ) {
        let entries = launcher(screen.installed);
        let last = entries.len().saturating_sub(1);
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
                if let Some((_, launch)) = entries.get(selected) {
                    intents.extend(self.launch(launch, screen));
                }
            }
            KeyCode::Char(c) if LAUNCHER.iter().any(|(_, hotkey)| *hotkey == c) => {
                self.mode = Mode::Normal;
                intents.extend(self.on_command(c, screen));
            }
            _ => self.mode = Mode::Normal,
        }
    }

    fn on_reshape_key(
        &mut self,
        key: Key,
        id: WindowId,
        screen: &Screen<'_>,
        intents: &mut Vec<Intent>,
    ) {
        let Some(window) = screen.desktop.window(id) else {
            self.mode = Mode::Normal;
            return;
        };
        let step = if key.mods.shift { STEP.1 } else { STEP.0 };
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
        // From where this client shows it, in the area's own coordinates.
        let shown = geometry::placed(window.rect, window.maximized, screen.area);
        let start = Rect::new(
            shown.x - screen.area.x,
            shown.y - screen.area.y,
            shown.w,
            shown.h,
        );
        let command = match self.mode {
            Mode::Move(window_id) => {
                let to = geometry::reshaped(start, Reshape::Move, dx, dy);
                Command::MoveWindow {
                    window_id,
                    x: to.x,
                    y: to.y,
                }
            }
            _ => {
                let to = geometry::reshaped(start, Reshape::Resize(Edges::BOTTOM_RIGHT), dx, dy);
                Command::ResizeWindow {
                    window_id: id,
                    w: to.w,
                    h: to.h,
                }
            }
        };
        intents.push(Intent::Send(command));
    }
}

/// The hint line after the prefix: the commands this client has, in short, on the keys
/// the settings put them.
fn prefix_hint(front: Front, prefs: &Prefs, prefix: &str) -> String {
    const SHORT: &[(char, &str)] = &[
        ('c', "chat"),
        ('s', "shell"),
        ('e', "events"),
        ('w', "writer"),
        ('n', "next"),
        ('p', "prev"),
        ('m', "move"),
        ('r', "resize"),
        ('z', "max"),
        ('-', "min"),
        ('t', "tile"),
        ('%', "split"),
        ('[', "copy mode"),
        ('x', "close"),
        ('q', "quit"),
        ('?', "help"),
    ];
    let shown: Vec<String> = SHORT
        .iter()
        .filter(|(usual, _)| bindings::is_bound(front, *usual))
        .filter_map(|(usual, word)| Some(format!("{} {word}", prefs.key_of(*usual)?)))
        .collect();
    format!("{prefix} … {}", shown.join(" · "))
}

/// Opens an `app` window in the largest free space of this client's screen (cascaded over
/// the others when there is none worth it).
fn open(app: AppKind, screen: &Screen<'_>) -> Command {
    Command::OpenWindow {
        app,
        title: None,
        rect: geometry::free_space(screen.desktop, screen.area),
    }
}

/// Focuses the next (or previous) window in id order, minimized ones included.
fn focus_step(desktop: &Desktop, step: isize, intents: &mut Vec<Intent>) {
    let ids: Vec<WindowId> = desktop.windows.keys().copied().collect();
    if ids.is_empty() {
        return;
    }
    let current = desktop
        .focused
        .and_then(|id| ids.iter().position(|other| *other == id));
    let next = match current {
        Some(i) => (i as isize + step).rem_euclid(ids.len() as isize) as usize,
        None => 0,
    };
    intents.push(Intent::Send(Command::FocusWindow {
        window_id: ids[next],
    }));
}

mod copy;

#[cfg(test)]
mod tests;
