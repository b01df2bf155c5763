//! A parser of the bytes a terminal sends: UTF-8 text, control keys, CSI and SS3 sequences,
//! SGR mouse reports and bracketed paste. One read may hold several events, and one event may
//! be split across reads; the parser keeps what it has not finished.

use super::{InputEvent, Key, KeyCode, Mods, Mouse, MouseButton, MouseKind};

/// Longest escape sequence kept while waiting for its end; longer garbage is dropped.
const MAX_SEQUENCE: usize = 64;
/// Largest paste kept; the rest is dropped (a paste is not a file transfer).
const MAX_PASTE: usize = 1 << 20;

const PASTE_START: &[u8] = b"\x1b[200~";
const PASTE_END: &[u8] = b"\x1b[201~";

#[derive(Debug, Default)]
pub struct InputParser {
    pending: Vec<u8>,
    paste: Option<Vec<u8>>,
}

enum Step {
    /// An event (or nothing, for sequences that mean nothing to us) and the bytes it used.
    Done(Option<InputEvent>, usize),
    /// The bytes so far may be the start of a longer sequence.
    NeedMore,
}

impl InputParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes and returns every event they complete.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<InputEvent> {
        self.pending.extend_from_slice(bytes);
        let mut events = Vec::new();
        let mut start = 0;
        while start < self.pending.len() {
            if let Some(paste) = self.paste.as_mut() {
                let rest = &self.pending[start..];
                match find(rest, PASTE_END) {
                    Some(end) => {
                        if paste.len() < MAX_PASTE {
                            paste.extend_from_slice(&rest[..end]);
                        }
                        let text = String::from_utf8_lossy(paste)
                            .replace("\r\n", "\n")
                            .replace('\r', "\n");
                        events.push(InputEvent::Paste(text));
                        self.paste = None;
                        start += end + PASTE_END.len();
                    }
                    None => {
                        // Keep a possible partial end marker for the next read.
                        let keep = PASTE_END.len() - 1;
                        let take = rest.len().saturating_sub(keep);
                        if paste.len() < MAX_PASTE {
                            paste.extend_from_slice(&rest[..take]);
                        }
                        start += take;
                        break;
                    }
                }
                continue;
            }
            let rest = &self.pending[start..];
            if rest.starts_with(PASTE_START) {
                self.paste = Some(Vec::new());
                start += PASTE_START.len();
                continue;
            }
            match parse_one(rest) {
                Step::Done(event, used) => {
                    events.extend(event);
                    start += used.max(1);
                }
                Step::NeedMore if rest.len() > MAX_SEQUENCE => start += 1,
                Step::NeedMore => break,
            }
        }
        self.pending.drain(..start.min(self.pending.len()));
        events
    }

    /// Called when no byte arrived for a short while: a lone ESC waiting for more is the Esc
    /// key after all, and an unfinished sequence is dropped.
    pub fn flush(&mut self) -> Vec<InputEvent> {
        if self.paste.is_some() {
            return Vec::new();
        }
        let lone_esc = self.pending.first() == Some(&0x1b);
        let mut events = Vec::new();
        if lone_esc {
            events.push(InputEvent::Key(Key::plain(KeyCode::Esc)));
            let rest = self.pending.split_off(1);
            self.pending.clear();
            events.extend(self.feed(&rest));
        }
        self.pending.clear();
        events
    }

    /// Whether bytes are waiting for more (the caller then arms a short flush timer).
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty() && self.paste.is_none()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn key(code: KeyCode, mods: Mods) -> Option<InputEvent> {
    Some(InputEvent::Key(Key { code, mods }))
}

fn parse_one(bytes: &[u8]) -> Step {
    let first = bytes[0];
    match first {
        0x1b => parse_escape(bytes),
        b'\r' => Step::Done(key(KeyCode::Enter, Mods::NONE), 1),
        b'\t' => Step::Done(key(KeyCode::Tab, Mods::NONE), 1),
        0x7f | 0x08 => Step::Done(key(KeyCode::Backspace, Mods::NONE), 1),
        0x00 => Step::Done(key(KeyCode::Char(' '), Mods::CTRL), 1),
        0x01..=0x1a => {
            let letter = char::from(b'a' + first - 1);
            Step::Done(key(KeyCode::Char(letter), Mods::CTRL), 1)
        }
        0x1c..=0x1f => Step::Done(None, 1),
        _ => parse_utf8(bytes),
    }
}

fn parse_utf8(bytes: &[u8]) -> Step {
    let width = match bytes[0] {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => return Step::Done(None, 1),
    };
    if bytes.len() < width {
        return Step::NeedMore;
    }
    match std::str::from_utf8(&bytes[..width])
        .ok()
        .and_then(|s| s.chars().next())
    {
        Some(c) => Step::Done(key(KeyCode::Char(c), Mods::NONE), width),
        None => Step::Done(None, 1),
    }
}

fn parse_escape(bytes: &[u8]) -> Step {
    let Some(&second) = bytes.get(1) else {
        return Step::NeedMore;
    };
    match second {
        b'[' => parse_csi(bytes),
        b'O' => {
            let Some(&third) = bytes.get(2) else {
                return Step::NeedMore;
            };
            Step::Done(final_key(third).and_then(|code| key(code, Mods::NONE)), 3)
        }
        0x1b => Step::Done(key(KeyCode::Esc, Mods::NONE), 1),
        _ => {
            // Alt + key: ESC followed by the key's own bytes.
            match parse_one(&bytes[1..]) {
                Step::Done(Some(InputEvent::Key(mut inner)), used) => {
                    inner.mods.alt = true;
                    Step::Done(Some(InputEvent::Key(inner)), used + 1)
                }
                Step::Done(_, used) => Step::Done(None, used + 1),
                Step::NeedMore => Step::NeedMore,
            }
        }
    }
}

fn parse_csi(bytes: &[u8]) -> Step {
    // ESC [ params final, where final is 0x40..=0x7e.
    let Some(end) = bytes[2..].iter().position(|b| (0x40..=0x7e).contains(b)) else {
        return Step::NeedMore;
    };
    let end = end + 2;
    let used = end + 1;
    let params = &bytes[2..end];
    let final_byte = bytes[end];
    if params.first() == Some(&b'<') {
        return Step::Done(parse_sgr_mouse(&params[1..], final_byte), used);
    }
    let numbers: Vec<u16> = std::str::from_utf8(params)
        .unwrap_or("")
        .split(';')
        .map(|part| part.parse().unwrap_or(0))
        .collect();
    let mods = Mods::from_xterm(numbers.get(1).copied().unwrap_or(1));
    let code = match final_byte {
        b'Z' => KeyCode::BackTab,
        b'~' => match numbers.first().copied().unwrap_or(0) {
            1 | 7 => KeyCode::Home,
            2 => KeyCode::Insert,
            3 => KeyCode::Delete,
            4 | 8 => KeyCode::End,
            5 => KeyCode::PageUp,
            6 => KeyCode::PageDown,
            n @ 11..=15 => KeyCode::F((n - 10) as u8),
            n @ 17..=21 => KeyCode::F((n - 11) as u8),
            n @ 23..=24 => KeyCode::F((n - 12) as u8),
            _ => return Step::Done(None, used),
        },
        other => match final_key(other) {
            Some(code) => code,
            // Focus reports and anything else we do not use.
            None => return Step::Done(None, used),
        },
    };
    Step::Done(key(code, mods), used)
}

/// The key a sequence's final byte names, after `ESC O` (SS3) or `ESC [` (CSI) alike.
fn final_key(byte: u8) -> Option<KeyCode> {
    Some(match byte {
        b'A' => KeyCode::Up,
        b'B' => KeyCode::Down,
        b'C' => KeyCode::Right,
        b'D' => KeyCode::Left,
        b'H' => KeyCode::Home,
        b'F' => KeyCode::End,
        b'P' => KeyCode::F(1),
        b'Q' => KeyCode::F(2),
        b'R' => KeyCode::F(3),
        b'S' => KeyCode::F(4),
        _ => return None,
    })
}

fn parse_sgr_mouse(params: &[u8], final_byte: u8) -> Option<InputEvent> {
    let text = std::str::from_utf8(params).ok()?;
    let mut parts = text.split(';').map(|part| part.parse::<u16>().ok());
    let (code, x, y) = (parts.next()??, parts.next()??, parts.next()??);
    let mods = Mods {
        shift: code & 4 != 0,
        alt: code & 8 != 0,
        ctrl: code & 16 != 0,
    };
    let button = match code & 3 {
        0 => Some(MouseButton::Left),
        1 => Some(MouseButton::Middle),
        2 => Some(MouseButton::Right),
        _ => None,
    };
    let kind = if code & 64 != 0 {
        if code & 1 == 0 {
            MouseKind::ScrollUp
        } else {
            MouseKind::ScrollDown
        }
    } else if code & 32 != 0 {
        match button {
            Some(button) => MouseKind::Drag(button),
            None => MouseKind::Moved,
        }
    } else if final_byte == b'm' {
        MouseKind::Up(button.unwrap_or(MouseButton::Left))
    } else {
        MouseKind::Down(button?)
    };
    Some(InputEvent::Mouse(Mouse {
        kind,
        x: x.saturating_sub(1),
        y: y.saturating_sub(1),
        mods,
    }))
}

#[cfg(test)]
mod tests;
