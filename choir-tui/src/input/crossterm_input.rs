//! crossterm's events, for the local terminal.

use crossterm::event::{
    Event, KeyCode as CtCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton as CtButton,
    MouseEvent, MouseEventKind,
};

use super::{InputEvent, Key, KeyCode, Mods, Mouse, MouseButton, MouseKind};

/// Converts a crossterm event; key releases and events the desktop does not use give `None`.
pub fn from_crossterm(event: Event) -> Option<InputEvent> {
    match event {
        Event::Key(key) => convert_key(key).map(InputEvent::Key),
        Event::Mouse(mouse) => convert_mouse(mouse).map(InputEvent::Mouse),
        Event::Paste(text) => Some(InputEvent::Paste(
            text.replace("\r\n", "\n").replace('\r', "\n"),
        )),
        Event::Resize(w, h) => Some(InputEvent::Resize(w, h)),
        Event::FocusGained | Event::FocusLost => None,
    }
}

fn mods(modifiers: KeyModifiers) -> Mods {
    Mods {
        shift: modifiers.contains(KeyModifiers::SHIFT),
        alt: modifiers.contains(KeyModifiers::ALT),
        ctrl: modifiers.contains(KeyModifiers::CONTROL),
    }
}

fn convert_key(event: KeyEvent) -> Option<Key> {
    if event.kind == KeyEventKind::Release {
        return None;
    }
    let mut mods = mods(event.modifiers);
    let code = match event.code {
        CtCode::Char(c) => {
            // Shift is already in the character.
            mods.shift = false;
            KeyCode::Char(if mods.ctrl { c.to_ascii_lowercase() } else { c })
        }
        CtCode::Enter => KeyCode::Enter,
        CtCode::Tab => KeyCode::Tab,
        CtCode::BackTab => KeyCode::BackTab,
        CtCode::Backspace => KeyCode::Backspace,
        CtCode::Delete => KeyCode::Delete,
        CtCode::Insert => KeyCode::Insert,
        CtCode::Esc => KeyCode::Esc,
        CtCode::Up => KeyCode::Up,
        CtCode::Down => KeyCode::Down,
        CtCode::Left => KeyCode::Left,
        CtCode::Right => KeyCode::Right,
        CtCode::Home => KeyCode::Home,
        CtCode::End => KeyCode::End,
        CtCode::PageUp => KeyCode::PageUp,
        CtCode::PageDown => KeyCode::PageDown,
        CtCode::F(n) => KeyCode::F(n),
        _ => return None,
    };
    Some(Key { code, mods })
}

fn convert_mouse(event: MouseEvent) -> Option<Mouse> {
    let button = |button: CtButton| match button {
        CtButton::Left => MouseButton::Left,
        CtButton::Middle => MouseButton::Middle,
        CtButton::Right => MouseButton::Right,
    };
    let kind = match event.kind {
        MouseEventKind::Down(b) => MouseKind::Down(button(b)),
        MouseEventKind::Up(b) => MouseKind::Up(button(b)),
        MouseEventKind::Drag(b) => MouseKind::Drag(button(b)),
        MouseEventKind::Moved => MouseKind::Moved,
        MouseEventKind::ScrollUp => MouseKind::ScrollUp,
        MouseEventKind::ScrollDown => MouseKind::ScrollDown,
        MouseEventKind::ScrollLeft | MouseEventKind::ScrollRight => return None,
    };
    Some(Mouse {
        kind,
        x: event.column,
        y: event.row,
        mods: mods(event.modifiers),
    })
}
