//! A shell window: the terminal screen folded from the shell's recorded output (the same
//! fold as in the terminal clients), drawn row by row on the cell grid. Keys typed while the
//! window has focus, pastes and (when the program asks) mouse events go to the shell.

use choir_desktop::{Key, KeyCode};
use choir_proto::terminal::TermMouse;
use choir_proto::{Command, Window, WindowId, World};
use wasm_bindgen::JsCast;
use web_sys::{ClipboardEvent, InputEvent, KeyboardEvent, PointerEvent, WheelEvent};
use yew::prelude::*;

use crate::keys::{Held, KeyBarInput, KeyBarMods};
use crate::msg::{when, Msg};
use crate::screen::rows;

pub fn view(send: &Callback<Msg>, world: &World, shown: &super::Shown, window: &Window) -> Html {
    let id = window.id;
    let (cell, copy) = (shown.cell, shown.keymap.copy_mode(id));
    let prefix = shown.keymap.prefix();
    let key_bar = key_bar(
        send,
        id,
        shown.key_bar,
        prefix,
        &shown.keymap.prefix_label(),
    );
    let Some(shell) = world.shells.get(&id) else {
        return html! { <p class="muted" aria-busy="true">{ "starting the shell…" }</p> };
    };
    let focused = world.desktop.focused == Some(id);
    let rows = match copy {
        // Copy mode: the lines this tab looks back at, what is selected or found.
        Some(copy) => {
            let shown = copy.view(&shell.terminal);
            rows(shown.screen.screen(), Some(shown.cursor), &shown.marks)
        }
        None => {
            // The screen with the output not committed yet drawn ahead (a key's echo).
            let drawn = shown.replica.shell_screen(id).unwrap_or(&shell.terminal);
            let cursor = drawn.cursor().filter(|_| focused && shell.is_running());
            rows(drawn.screen(), cursor, &[])
        }
    };
    let onpaste = send.reform(move |event: Event| {
        event.prevent_default();
        let text = event
            .dyn_ref::<ClipboardEvent>()
            .and_then(ClipboardEvent::clipboard_data)
            .and_then(|data| data.get_data("text").ok())
            .unwrap_or_default();
        Msg::ShellPaste(id, text)
    });
    // The cell under the pointer, from the terminal's own box (the event's target may be
    // any of its rows or runs; Yew delegates events, so the current target is not it).
    let at = move |event: &MouseEvent| {
        let rect = event
            .target()
            .and_then(|target| target.dyn_into::<web_sys::Element>().ok())
            .and_then(|element| element.closest(".terminal").ok().flatten())
            .map(|element| element.get_bounding_client_rect());
        let (left, top) = rect.map_or((0.0, 0.0), |rect| (rect.left(), rect.top()));
        let col = ((f64::from(event.client_x()) - left) / cell.0)
            .floor()
            .max(0.0) as u16;
        let row = ((f64::from(event.client_y()) - top) / cell.1)
            .floor()
            .max(0.0) as u16;
        (row, col)
    };
    let mouse = |make: fn(u16) -> Option<TermMouse>| {
        when(send, move |event: PointerEvent| {
            let (row, col) = at(&event);
            let button = u16::try_from(event.button()).unwrap_or(0);
            let kind = make(button)?;
            let mods = (event.shift_key(), event.alt_key(), event.ctrl_key());
            Some(Msg::ShellMouse(id, kind, row, col, mods))
        })
    };
    let onpointerdown = mouse(|button| {
        Some(TermMouse::Press {
            button: u8::try_from(button).ok()?,
        })
    });
    let onpointerup = mouse(|button| {
        Some(TermMouse::Release {
            button: u8::try_from(button).ok()?,
        })
    });
    // Motion with the main button held: a drag (copy mode selects with it).
    let onpointermove = when(send, move |event: PointerEvent| {
        if event.buttons() & 1 == 0 {
            return None;
        }
        let (row, col) = at(&event);
        let mods = (event.shift_key(), event.alt_key(), event.ctrl_key());
        Some(Msg::ShellMouse(
            id,
            TermMouse::Drag { button: 0 },
            row,
            col,
            mods,
        ))
    });
    let onwheel = when(send, move |event: WheelEvent| {
        let (row, col) = at(&event);
        let kind = if event.delta_y() < 0.0 {
            TermMouse::WheelUp
        } else {
            TermMouse::WheelDown
        };
        let mods = (event.shift_key(), event.alt_key(), event.ctrl_key());
        Some(Msg::ShellMouse(id, kind, row, col, mods))
    });
    let restart =
        send.reform(move |_: MouseEvent| Msg::Send(Command::RestartShell { window_id: id }));
    let state = if shell.is_running() {
        "running"
    } else {
        "ended"
    };
    // Whether the program asked for the mouse (clicks then go to it).
    let mouse_mode = shell.terminal.screen().mouse_protocol_mode()
        != choir_proto::terminal::vt100::MouseProtocolMode::None;
    html! {
        <div class="shell">
            <div class="terminal" tabindex="0" role="log" aria-label="terminal"
                data-shell-state={ state } data-mouse={ mouse_mode.to_string() }
                data-rows={ shell.terminal.size().rows.to_string() }
                data-cols={ shell.terminal.size().cols.to_string() }
                data-copy-mode={ copy.is_some().to_string() }
                data-scrollback={ shell.terminal.history().len().to_string() }
                onpaste={ onpaste } onpointerdown={ onpointerdown } onpointerup={ onpointerup }
                onpointermove={ onpointermove } onwheel={ onwheel }>
                { for rows.into_iter().map(|runs| html! {
                    <div class="term-row">
                        { for runs.into_iter().map(|run| {
                            let class = run.classes();
                            html! { <span class={ classes!(class) } style={ run.css }>{ run.text }</span> }
                        }) }
                    </div>
                }) }
            </div>
            { key_bar }
            if let Some(reason) = &shell.ended {
                <div class="shell-ended" role="status">
                    <span>{ reason.clone() }</span>
                    <button data-action="restart-shell" onclick={ restart }>{ "New shell (Enter)" }</button>
                </div>
            }
        </div>
    }
}

/// The key bar touch screens show under a shell window (no keyboard of theirs has Esc, Tab,
/// Ctrl or the arrows), and a text field that brings up the on-screen keyboard: what is
/// typed there goes to the shell at once.
fn key_bar(
    send: &Callback<Msg>,
    id: WindowId,
    held: KeyBarMods,
    prefix: Key,
    prefix_label: &str,
) -> Html {
    let key = |key: Key| send.reform(move |_: MouseEvent| Msg::KeyBar(id, KeyBarInput::Key(key)));
    let hold =
        |which: Held| send.reform(move |_: MouseEvent| Msg::KeyBar(id, KeyBarInput::Hold(which)));
    // Text, line breaks and deletions come before they land (see `key_bar_input`); composed
    // text (a word an on-screen keyboard builds) lands, and is taken from the field.
    let oninput = when(send, move |event: InputEvent| {
        if event.is_composing() {
            return None;
        }
        let field = event
            .target()?
            .dyn_into::<web_sys::HtmlInputElement>()
            .ok()?;
        let text = field.value();
        field.set_value("");
        (!text.is_empty()).then_some(Msg::KeyBar(id, KeyBarInput::Text(text)))
    });
    let arrows = [
        ("←", KeyCode::Left, "left"),
        ("↑", KeyCode::Up, "up"),
        ("↓", KeyCode::Down, "down"),
        ("→", KeyCode::Right, "right"),
    ];
    html! {
        <div class="key-bar" role="toolbar" aria-label="keys for the shell">
            <button data-key="esc" onclick={ key(Key::plain(KeyCode::Esc)) }>{ "Esc" }</button>
            <button data-key="tab" onclick={ key(Key::plain(KeyCode::Tab)) }>{ "Tab" }</button>
            <button data-key="ctrl" aria-pressed={ held.ctrl.to_string() } onclick={ hold(Held::Ctrl) }>{ "Ctrl" }</button>
            <button data-key="alt" aria-pressed={ held.alt.to_string() } onclick={ hold(Held::Alt) }>{ "Alt" }</button>
            { for arrows.into_iter().map(|(label, code, name)| html! {
                <button data-key={ name } aria-label={ name } onclick={ key(Key::plain(code)) }>{ label }</button>
            }) }
            <button data-key="prefix" onclick={ key(prefix) }>{ prefix_label.to_owned() }</button>
            <input class="key-bar-input" type="text" aria-label="type to the shell" placeholder="type here"
                autocomplete="off" autocapitalize="off" spellcheck="false"
                oninput={ oninput } />
        </div>
    }
}

/// What an edit about to be made in a key bar's field sends its shell window: text, a line
/// break, a deletion (the page listens for `beforeinput`, which Yew does not bind, and asks
/// here). The edit is then cancelled, so the field stays empty.
pub fn key_bar_input(event: &InputEvent) -> Option<(WindowId, KeyBarInput)> {
    let field = event.target()?.dyn_into::<web_sys::Element>().ok()?;
    if !field.matches(".key-bar-input").unwrap_or(false) {
        return None;
    }
    let id = field
        .closest(".window")
        .ok()
        .flatten()?
        .get_attribute("data-window-id")?
        .parse()
        .ok()
        .map(WindowId)?;
    let input = match event.input_type().as_str() {
        "insertText" | "insertReplacementText" => KeyBarInput::Text(event.data()?),
        "insertLineBreak" | "insertParagraph" => KeyBarInput::Key(Key::plain(KeyCode::Enter)),
        "deleteContentBackward" => KeyBarInput::Key(Key::plain(KeyCode::Backspace)),
        _ => return None,
    };
    event.prevent_default();
    Some((id, input))
}

/// What a key pressed while shell window `id` has focus sends its shell (Enter restarts an
/// ended one); `None` when the key stays the page's.
pub fn key_commands(world: &World, id: WindowId, event: &KeyboardEvent) -> Option<Vec<Command>> {
    // The browser's own paste (Ctrl-Shift-V, Cmd-V) and copy (Cmd-C) stay the browser's.
    if event.meta_key() || (event.ctrl_key() && event.shift_key()) {
        return None;
    }
    let shell = world.shells.get(&id)?;
    let key = crate::keys::key_of(event)?;
    event.prevent_default();
    Some(shell.key_commands(key.term()))
}

/// What a paste into shell window `id` sends, or why it cannot be sent.
pub fn paste_commands(world: &World, id: WindowId, text: &str) -> Result<Vec<Command>, String> {
    match world.shells.get(&id) {
        Some(shell) => shell
            .paste_commands(text)
            .map_err(|too_large| too_large.to_string()),
        None => Ok(Vec::new()),
    }
}

/// What a mouse event on shell window `id`'s screen sends (nothing unless the program asked
/// for the mouse).
pub fn mouse_commands(
    world: &World,
    id: WindowId,
    event: TermMouse,
    row: u16,
    col: u16,
    mods: (bool, bool, bool),
) -> Vec<Command> {
    world
        .shells
        .get(&id)
        .map(|shell| shell.mouse_commands(event, row, col, mods))
        .unwrap_or_default()
}

/// What the title says besides the name: an ended shell, or output skipped during a flood.
pub fn status(world: &World, id: WindowId) -> Option<String> {
    world.shells.get(&id)?.status()
}
