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

/// Keys are the desktop model's, the same for every client.
pub use choir_desktop::{Key, KeyCode, Mods};

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
