//! A key press as the desktop sees it, whichever client read it: the terminal parses bytes
//! or crossterm events into it, the browser a `KeyboardEvent` ([`Key::from_dom`]).

use choir_proto::terminal::TermKey;

/// A key, the same as a shell window's terminal encodes (`choir_proto::terminal`).
pub use choir_proto::terminal::TermKeyCode as KeyCode;

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

    /// A key as a page names it (`KeyboardEvent.key`) with its modifiers; `None` for keys
    /// that type nothing (Shift alone, media keys, dead keys).
    pub fn from_dom(key: &str, shift: bool, alt: bool, ctrl: bool) -> Option<Key> {
        let code = match key {
            "Enter" => KeyCode::Enter,
            "Tab" if shift => KeyCode::BackTab,
            "Tab" => KeyCode::Tab,
            "Backspace" => KeyCode::Backspace,
            "Delete" => KeyCode::Delete,
            "Insert" => KeyCode::Insert,
            "Escape" => KeyCode::Esc,
            "ArrowUp" => KeyCode::Up,
            "ArrowDown" => KeyCode::Down,
            "ArrowLeft" => KeyCode::Left,
            "ArrowRight" => KeyCode::Right,
            "Home" => KeyCode::Home,
            "End" => KeyCode::End,
            "PageUp" => KeyCode::PageUp,
            "PageDown" => KeyCode::PageDown,
            function if function.len() > 1 && function.starts_with('F') => {
                KeyCode::F(function[1..].parse().ok()?)
            }
            text => {
                let mut chars = text.chars();
                let c = chars.next()?;
                if chars.next().is_some() {
                    return None;
                }
                KeyCode::Char(c)
            }
        };
        // Ctrl+Alt with a character that is not a letter is AltGr typing that character.
        let (alt, ctrl) = match code {
            KeyCode::Char(c) if ctrl && alt && !c.is_ascii_alphabetic() => (false, false),
            _ => (alt, ctrl),
        };
        let code = match code {
            // A terminal cannot tell Ctrl+Shift+a from Ctrl+a: neither does the desktop.
            KeyCode::Char(c) if ctrl && c.is_ascii_uppercase() => {
                KeyCode::Char(c.to_ascii_lowercase())
            }
            other => other,
        };
        Some(Key {
            code,
            mods: Mods {
                // The shift of a character is in the character itself (and BackTab's in it).
                shift: shift && !matches!(code, KeyCode::Char(_) | KeyCode::BackTab),
                alt,
                ctrl,
            },
        })
    }

    /// The key as a shell window's terminal encoder takes it.
    pub fn term(self) -> TermKey {
        TermKey {
            code: self.code,
            shift: self.mods.shift,
            alt: self.mods.alt,
            ctrl: self.mods.ctrl,
        }
    }
}

/// Modifier keys held with a key or a mouse event.
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

#[cfg(test)]
mod tests {
    use super::*;
    use choir_proto::terminal::{encode_key, TermSize, Terminal};

    #[test]
    fn page_keys_become_desktop_keys() {
        assert_eq!(Key::from_dom("a", false, false, true), Some(Key::ctrl('a')));
        assert_eq!(
            Key::from_dom("A", true, false, true),
            Some(Key::ctrl('a')),
            "Ctrl+Shift+a is Ctrl+a, as in a terminal"
        );
        assert_eq!(
            Key::from_dom("A", true, false, false),
            Some(Key::plain(KeyCode::Char('A')))
        );
        assert_eq!(
            Key::from_dom("Tab", true, false, false),
            Some(Key::plain(KeyCode::BackTab))
        );
        assert_eq!(
            Key::from_dom("ArrowLeft", true, false, false),
            Some(Key {
                code: KeyCode::Left,
                mods: Mods::SHIFT
            })
        );
        assert_eq!(
            Key::from_dom("F12", false, false, false),
            Some(Key::plain(KeyCode::F(12)))
        );
        assert_eq!(
            Key::from_dom("@", false, true, true),
            Some(Key::plain(KeyCode::Char('@'))),
            "AltGr typing @"
        );
        for silent in ["Shift", "Control", "Dead", "AudioVolumeUp", "Fx", ""] {
            assert_eq!(Key::from_dom(silent, false, false, false), None, "{silent}");
        }
    }

    #[test]
    fn page_keys_encode_as_terminal_keys() {
        let screen = Terminal::new(TermSize::new(2, 2));
        let bytes = |key: &str, shift, alt, ctrl| {
            Key::from_dom(key, shift, alt, ctrl)
                .and_then(|key| encode_key(key.term(), screen.screen()))
        };
        assert_eq!(bytes("a", false, false, false).as_deref(), Some("a"));
        assert_eq!(bytes("A", true, false, false).as_deref(), Some("A"));
        assert_eq!(bytes("c", false, false, true).as_deref(), Some("\x03"));
        assert_eq!(bytes("C", true, false, true).as_deref(), Some("\x03"));
        assert_eq!(bytes("Enter", false, false, false).as_deref(), Some("\r"));
        assert_eq!(
            bytes("ArrowUp", false, false, false).as_deref(),
            Some("\x1b[A")
        );
        assert_eq!(bytes("Tab", true, false, false).as_deref(), Some("\x1b[Z"));
        assert_eq!(
            bytes("F5", false, false, false).as_deref(),
            Some("\x1b[15~")
        );
        assert_eq!(bytes("Shift", true, false, false), None);
        assert_eq!(bytes("Dead", false, false, false), None);
        // AltGr on a German layout: Ctrl+Alt and the character.
        assert_eq!(bytes("@", false, true, true).as_deref(), Some("@"));
        assert_eq!(bytes("x", false, true, true).as_deref(), Some("\x1b\x18"));
    }

    #[test]
    fn xterm_modifier_parameters() {
        assert_eq!(Mods::from_xterm(1), Mods::NONE);
        assert_eq!(Mods::from_xterm(2), Mods::SHIFT);
        assert_eq!(Mods::from_xterm(5), Mods::CTRL);
        assert_eq!(
            Mods::from_xterm(8),
            Mods {
                shift: true,
                alt: true,
                ctrl: true
            }
        );
    }
}
