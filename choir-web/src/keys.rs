//! The page's keys as the desktop model reads them, and what the page does with the keys
//! the model leaves to it.

use choir_desktop::Key;
use choir_proto::terminal::Terminal;
use choir_proto::{AppKind, WindowId, World};
use web_sys::KeyboardEvent;

/// The desktop's key for a page's key event; `None` for keys that type nothing. AltGr
/// (reported as Ctrl+Alt on some systems) types the character it shows.
pub fn key_of(event: &KeyboardEvent) -> Option<Key> {
    let alt_graph = event.get_modifier_state("AltGraph");
    Key::from_dom(
        &event.key(),
        event.shift_key(),
        event.alt_key() && !alt_graph,
        event.ctrl_key() && !alt_graph,
    )
}

/// The focused window when it is a shell window and no text field has the keyboard.
pub fn focused_shell(world: &World) -> Option<WindowId> {
    let id = world.desktop.focused?;
    if world.desktop.window(id)?.app != AppKind::Shell {
        return None;
    }
    let typing = crate::dom::document()
        .and_then(|document| document.active_element())
        .is_some_and(|element| matches!(element.tag_name().as_str(), "INPUT" | "TEXTAREA"));
    (!typing).then_some(id)
}

/// What the phone's key bar of a shell window sends.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyBarInput {
    /// A key button: Esc, Tab, an arrow, the prefix.
    Key(Key),
    /// Text typed in the bar's field.
    Text(String),
    /// Ctrl or Alt held (or let go) for the next key.
    Hold(Held),
}

/// A modifier the key bar holds for the next key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    Ctrl,
    Alt,
}

/// The modifiers the key bar holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyBarMods {
    pub ctrl: bool,
    pub alt: bool,
}

impl KeyBarMods {
    pub fn toggled(self, held: Held) -> Self {
        match held {
            Held::Ctrl => Self {
                ctrl: !self.ctrl,
                ..self
            },
            Held::Alt => Self {
                alt: !self.alt,
                ..self
            },
        }
    }

    /// `key` with the held modifiers (Ctrl with a letter as a terminal has it: lower case).
    pub fn apply(self, mut key: Key) -> Key {
        key.mods.ctrl |= self.ctrl;
        key.mods.alt |= self.alt;
        if let (true, choir_desktop::KeyCode::Char(c)) = (self.ctrl, key.code) {
            key.code = choir_desktop::KeyCode::Char(c.to_ascii_lowercase());
        }
        key
    }
}

/// The focused window's terminal, when it is a shell window whose shell started.
pub fn focused_terminal(world: &World) -> Option<&Terminal> {
    let id = world.desktop.focused?;
    world.shells.get(&id).map(|shell| &shell.terminal)
}

/// Puts `text` on the system clipboard (the page must be a secure context: https, or
/// loopback).
pub fn write_clipboard(text: &str) {
    if let Some(window) = web_sys::window() {
        // The promise settles on its own; a refusal leaves the clipboard as it was.
        let _ = window.navigator().clipboard().write_text(text);
    }
}

/// Selects all of the focused text field (Ctrl-a Ctrl-a, as in the terminal).
pub fn select_all() {
    use wasm_bindgen::JsCast;
    let active = crate::dom::document().and_then(|document| document.active_element());
    if let Some(area) = active
        .clone()
        .and_then(|element| element.dyn_into::<web_sys::HtmlTextAreaElement>().ok())
    {
        area.select();
    } else if let Some(input) =
        active.and_then(|element| element.dyn_into::<web_sys::HtmlInputElement>().ok())
    {
        input.select();
    }
}

/// Whether the keyboard is in a field of the page (an input, a text area): its keys are its.
pub fn typing_in_field() -> bool {
    crate::dom::document()
        .and_then(|document| document.active_element())
        .is_some_and(|element| {
            let tag = element.tag_name();
            tag.eq_ignore_ascii_case("input")
                || tag.eq_ignore_ascii_case("textarea")
                || element.has_attribute("contenteditable")
        })
}
