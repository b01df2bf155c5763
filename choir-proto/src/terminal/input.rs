//! What a shell window's program reads when the user types, clicks or pastes: xterm's
//! encodings, chosen by the modes the program set on its screen. The terminal clients and the
//! browser encode with these, so a key means the same bytes wherever it was pressed.

use vt100::{MouseProtocolEncoding, MouseProtocolMode, Screen};

/// A key, as every client can describe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermKeyCode {
    Char(char),
    Enter,
    Tab,
    BackTab,
    Backspace,
    Delete,
    Insert,
    Esc,
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    PageUp,
    PageDown,
    F(u8),
}

/// A key press with its modifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermKey {
    pub code: TermKeyCode,
    pub shift: bool,
    pub alt: bool,
    pub ctrl: bool,
}

impl TermKey {
    pub fn plain(code: TermKeyCode) -> Self {
        Self {
            code,
            shift: false,
            alt: false,
            ctrl: false,
        }
    }

    /// xterm's modifier parameter: 1 + shift + 2·alt + 4·ctrl.
    fn modifier(self) -> u8 {
        1 + u8::from(self.shift) + 2 * u8::from(self.alt) + 4 * u8::from(self.ctrl)
    }
}

/// The bytes a key sends to a program showing `screen` (application cursor mode changes the
/// arrows), or `None` for a key that sends nothing.
pub fn encode_key(key: TermKey, screen: &Screen) -> Option<String> {
    let modifier = key.modifier();
    let modified = modifier > 1;
    // A CSI key with a final letter: `ESC [ 1 ; m X` when modified, else `ESC [ X`, or in
    // application cursor mode `ESC O X`.
    let letter = |final_byte: char, app: bool| {
        if modified {
            format!("\x1b[1;{modifier}{final_byte}")
        } else if app {
            format!("\x1bO{final_byte}")
        } else {
            format!("\x1b[{final_byte}")
        }
    };
    let tilde = |number: u8| {
        if modified {
            format!("\x1b[{number};{modifier}~")
        } else {
            format!("\x1b[{number}~")
        }
    };
    let app_cursor = screen.application_cursor();
    let text = match key.code {
        TermKeyCode::Char(c) => {
            let base = if key.ctrl { control(c)? } else { c.to_string() };
            if key.alt {
                format!("\x1b{base}")
            } else {
                base
            }
        }
        TermKeyCode::Enter => alt_prefixed(key, "\r"),
        TermKeyCode::Tab if key.shift => "\x1b[Z".into(),
        TermKeyCode::Tab => alt_prefixed(key, "\t"),
        TermKeyCode::BackTab => "\x1b[Z".into(),
        TermKeyCode::Backspace if key.ctrl => alt_prefixed(key, "\x08"),
        TermKeyCode::Backspace => alt_prefixed(key, "\x7f"),
        TermKeyCode::Esc => alt_prefixed(key, "\x1b"),
        TermKeyCode::Up => letter('A', app_cursor),
        TermKeyCode::Down => letter('B', app_cursor),
        TermKeyCode::Right => letter('C', app_cursor),
        TermKeyCode::Left => letter('D', app_cursor),
        TermKeyCode::Home => letter('H', app_cursor),
        TermKeyCode::End => letter('F', app_cursor),
        TermKeyCode::Insert => tilde(2),
        TermKeyCode::Delete => tilde(3),
        TermKeyCode::PageUp => tilde(5),
        TermKeyCode::PageDown => tilde(6),
        TermKeyCode::F(n @ 1..=4) => {
            let final_byte = char::from(b'P' + (n - 1));
            if modified {
                format!("\x1b[1;{modifier}{final_byte}")
            } else {
                format!("\x1bO{final_byte}")
            }
        }
        TermKeyCode::F(n @ 5..=12) => tilde([15, 17, 18, 19, 20, 21, 23, 24][usize::from(n - 5)]),
        TermKeyCode::F(_) => return None,
    };
    Some(text)
}

fn alt_prefixed(key: TermKey, text: &str) -> String {
    if key.alt {
        format!("\x1b{text}")
    } else {
        text.to_owned()
    }
}

/// The control character Ctrl plus `c` types, if there is one.
fn control(c: char) -> Option<String> {
    let byte = match c.to_ascii_lowercase() {
        letter @ 'a'..='z' => letter as u8 - b'a' + 1,
        ' ' | '@' | '2' => 0,
        '[' | '3' => 0x1b,
        '\\' | '4' => 0x1c,
        ']' | '5' => 0x1d,
        '^' | '6' => 0x1e,
        '_' | '-' | '7' => 0x1f,
        '?' | '8' => 0x7f,
        _ => return None,
    };
    Some(char::from(byte).to_string())
}

/// A mouse event at a cell of the terminal (0-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermMouse {
    /// Button 0 (left), 1 (middle) or 2 (right) went down.
    Press {
        button: u8,
    },
    Release {
        button: u8,
    },
    /// The pointer moved with a button down.
    Drag {
        button: u8,
    },
    /// The pointer moved with no button down.
    Moved,
    WheelUp,
    WheelDown,
}

/// The bytes a mouse event at (`row`, `col`) sends to a program showing `screen`, or `None`
/// when the program did not ask for such events. `mods` is (shift, alt, ctrl).
pub fn encode_mouse(
    event: TermMouse,
    row: u16,
    col: u16,
    mods: (bool, bool, bool),
    screen: &Screen,
) -> Option<String> {
    let mode = screen.mouse_protocol_mode();
    let wanted = match event {
        TermMouse::Press { .. } => mode != MouseProtocolMode::None,
        TermMouse::Release { .. } | TermMouse::WheelUp | TermMouse::WheelDown => matches!(
            mode,
            MouseProtocolMode::PressRelease
                | MouseProtocolMode::ButtonMotion
                | MouseProtocolMode::AnyMotion
        ),
        TermMouse::Drag { .. } => matches!(
            mode,
            MouseProtocolMode::ButtonMotion | MouseProtocolMode::AnyMotion
        ),
        TermMouse::Moved => mode == MouseProtocolMode::AnyMotion,
    };
    if !wanted {
        return None;
    }
    let (shift, alt, ctrl) = mods;
    let modifiers = 4 * u16::from(shift) + 8 * u16::from(alt) + 16 * u16::from(ctrl);
    let sgr = screen.mouse_protocol_encoding() == MouseProtocolEncoding::Sgr;
    let code = modifiers
        + match event {
            TermMouse::Press { button } => u16::from(button.min(2)),
            // The old encodings cannot say which button went up.
            TermMouse::Release { button } if sgr => u16::from(button.min(2)),
            TermMouse::Release { .. } => 3,
            TermMouse::Drag { button } => 32 + u16::from(button.min(2)),
            TermMouse::Moved => 35,
            TermMouse::WheelUp => 64,
            TermMouse::WheelDown => 65,
        };
    let (x, y) = (u32::from(col) + 1, u32::from(row) + 1);
    match screen.mouse_protocol_encoding() {
        MouseProtocolEncoding::Sgr => {
            let end = if matches!(event, TermMouse::Release { .. }) {
                'm'
            } else {
                'M'
            };
            Some(format!("\x1b[<{code};{x};{y}{end}"))
        }
        MouseProtocolEncoding::Default => {
            // One byte each: positions past 223 cannot be said.
            let byte = |n: u32| u8::try_from(n + 32).ok().map(char::from);
            let mut text = String::from("\x1b[M");
            text.push(byte(u32::from(code))?);
            // Bytes above 127 are sent as themselves, which a UTF-8 string cannot hold.
            for n in [x, y] {
                let c = byte(n)?;
                if !c.is_ascii() {
                    return None;
                }
                text.push(c);
            }
            Some(text)
        }
        MouseProtocolEncoding::Utf8 => {
            let mut text = String::from("\x1b[M");
            for n in [u32::from(code), x, y] {
                text.push(char::from_u32(n + 32)?);
            }
            Some(text)
        }
    }
}

/// Most bytes one paste into a shell window may carry.
pub const MAX_PASTE: usize = 1 << 20;

/// The bytes a paste of `text` sends: wrapped in bracketed-paste markers when the program
/// asked for them, line ends as Enter. Inside the markers there is no ESC at all (a paste
/// holding an end marker, however it is split, would end itself early and type the rest).
pub fn encode_paste(text: &str, screen: &Screen) -> String {
    let text = text.replace("\r\n", "\r").replace('\n', "\r");
    if screen.bracketed_paste() {
        format!("\x1b[200~{}\x1b[201~", text.replace('\x1b', ""))
    } else {
        text
    }
}

/// `data` in parts that each fit one `shell.input` command (at most
/// [`MAX_SHELL_INPUT`](crate::MAX_SHELL_INPUT) bytes), cut between characters.
pub fn input_parts(data: &str) -> Vec<&str> {
    let most = crate::MAX_SHELL_INPUT;
    let mut parts = Vec::new();
    let mut rest = data;
    while rest.len() > most {
        let mut cut = most;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = rest.split_at(cut);
        parts.push(head);
        rest = tail;
    }
    if !rest.is_empty() {
        parts.push(rest);
    }
    parts
}
