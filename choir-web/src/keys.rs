//! Keyboard shortcuts: the shared keymap ([`choir_desktop::Keymap`]) decides what a key
//! does, as in the terminal; this carries it out in the page. Keys the keymap leaves to the
//! focused window go to a shell's program, or else stay the page's (text fields, buttons).

use choir_desktop::{Intent, Key, KeyCode, Screen, PREFIX};
use choir_proto::{AppKind, Command, Rect, WindowId};
use web_sys::KeyboardEvent;
use yew::prelude::*;

use crate::app::App;

/// Handles a key pressed anywhere on the page; true when the page must be drawn again.
pub fn on_key(app: &mut App, _ctx: &Context<App>, event: &KeyboardEvent) -> bool {
    if app.replica.timeline().is_some()
        && !app.keymap.help_shown()
        && crate::timeline::on_key(app, event)
    {
        return true;
    }
    // Cmd with anything is the browser's or the system's.
    if event.meta_key() {
        return false;
    }
    let Some(key) = key_of(event) else {
        return false;
    };
    let shell = focused_shell(app);
    let world = app.replica.world();
    let (cols, rows) = app.cols_rows;
    let screen = Screen {
        desktop: &world.desktop,
        area: Rect::new(0, 0, cols, rows),
        focused_takes_every_key: shell.is_some(),
    };
    let intents = app.keymap.on_key(key, &screen);
    if intents == [Intent::ToApp(key)] && key != PREFIX {
        // Not the desktop's: a shell's program's, or the page's.
        if let Some(id) = shell {
            return !crate::apps::shell::on_key(app, id, event);
        }
        if key.code == KeyCode::Esc && app.notice.is_some() {
            app.notice = None;
            return true;
        }
        return false;
    }
    event.prevent_default();
    for intent in intents {
        match intent {
            Intent::Send(command) => {
                let focuses = matches!(
                    command,
                    Command::OpenWindow { .. } | Command::FocusWindow { .. }
                );
                app.send(command);
                if focuses {
                    app.request_focus_input();
                }
            }
            // C-a C-a: a shell's program gets C-a; a text field selects all, as the
            // browser's own Ctrl-a would.
            Intent::ToApp(_) => match shell {
                Some(window_id) => app.send(Command::ShellInput {
                    window_id,
                    data: "\u{1}".into(),
                }),
                None => select_all(),
            },
            Intent::Notice { text, error } => app.notify(text, error),
            // Not bound in the browser (see `choir_desktop::bindings`).
            Intent::Copy(_) | Intent::Quit => {}
        }
    }
    true
}

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
fn focused_shell(app: &App) -> Option<WindowId> {
    let world = app.replica.world();
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
fn select_all() {
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
