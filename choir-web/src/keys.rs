//! The page's keys as the desktop model reads them, and what the page does with the keys
//! the model leaves to it.

use choir_desktop::Key;
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
