//! Terminal input, whatever its source: raw bytes from an SSH channel ([`InputParser`]) or
//! crossterm events from the local terminal ([`from_crossterm`]). Both produce [`InputEvent`]s,
//! which are all the desktop ever sees.

mod crossterm_input;
mod parser;

pub use crossterm_input::from_crossterm;
pub use parser::InputParser;

/// One thing the user did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputEvent {
    Key(Key),
    Mouse(Mouse),
    /// Bracketed paste: the text arrives whole, never as keys.
    Paste(String),
    /// The terminal is now this many columns and rows.
    Resize(u16, u16),
}

/// A key press with its modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub mods: Mods,
}

impl Key {
    pub const fn plain(code: KeyCode) -> Self {
        Self {
            code,
            mods: Mods::NONE,
        }
    }

    pub const fn ctrl(c: char) -> Self {
        Self {
            code: KeyCode::Char(c),
            mods: Mods::CTRL,
        }
    }

    pub const fn alt(code: KeyCode) -> Self {
        Self {
            code,
            mods: Mods::ALT,
        }
    }
}

/// A key, the same as a shell window's terminal encodes (`choir_proto::terminal`).
pub use choir_proto::terminal::TermKeyCode as KeyCode;

/// Modifier keys held with a key or mouse event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mods {
    pub shift: bool,
    pub alt: bool,
    pub ctrl: bool,
}

impl Mods {
    pub const NONE: Mods = Mods {
        shift: false,
        alt: false,
        ctrl: false,
    };
    pub const SHIFT: Mods = Mods {
        shift: true,
        alt: false,
        ctrl: false,
    };
    pub const ALT: Mods = Mods {
        shift: false,
        alt: true,
        ctrl: false,
    };
    pub const CTRL: Mods = Mods {
        shift: false,
        alt: false,
        ctrl: true,
    };

    /// From the xterm modifier parameter (`1 + shift + 2*alt + 4*ctrl`).
    pub fn from_xterm(param: u16) -> Self {
        let bits = param.saturating_sub(1);
        Mods {
            shift: bits & 1 != 0,
            alt: bits & 2 != 0,
            ctrl: bits & 4 != 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MouseButton {
    Left,
    Middle,
    Right,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MouseKind {
    Down(MouseButton),
    Up(MouseButton),
    Drag(MouseButton),
    Moved,
    ScrollUp,
    ScrollDown,
}

/// A mouse event at a 0-based cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mouse {
    pub kind: MouseKind,
    pub x: u16,
    pub y: u16,
    pub mods: Mods,
}
