//! A shell window: the terminal screen folded from the shell's recorded output (the same
//! fold as in the terminal clients), drawn row by row on the cell grid. Keys typed while the
//! window has focus, pastes and (when the program asks) mouse events go to the shell.

use choir_proto::terminal::TermMouse;
use choir_proto::{Command, Window, WindowId};
use wasm_bindgen::JsCast;
use web_sys::{ClipboardEvent, KeyboardEvent, PointerEvent, WheelEvent};
use yew::prelude::*;

use crate::app::{App, Msg};
use crate::screen::rows;

pub fn view(app: &App, ctx: &Context<App>, window: &Window) -> Html {
    let id = window.id;
    let world = app.replica.world();
    let Some(shell) = world.shells.get(&id) else {
        return html! { <p class="muted" aria-busy="true">{ "starting the shell…" }</p> };
    };
    let focused = world.desktop.focused == Some(id);
    let cursor = shell
        .terminal
        .cursor()
        .filter(|_| focused && shell.is_running());
    let rows = rows(shell.terminal.screen(), cursor);
    let onpaste = ctx.link().callback(move |event: Event| {
        event.prevent_default();
        let text = event
            .dyn_ref::<ClipboardEvent>()
            .and_then(ClipboardEvent::clipboard_data)
            .and_then(|data| data.get_data("text").ok())
            .unwrap_or_default();
        Msg::ShellPaste(id, text)
    });
    let cell = app.cell;
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
        ctx.link().batch_callback(move |event: PointerEvent| {
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
    let onwheel = ctx.link().batch_callback(move |event: WheelEvent| {
        let (row, col) = at(&event);
        let kind = if event.delta_y() < 0.0 {
            TermMouse::WheelUp
        } else {
            TermMouse::WheelDown
        };
        let mods = (event.shift_key(), event.alt_key(), event.ctrl_key());
        Some(Msg::ShellMouse(id, kind, row, col, mods))
    });
    let restart = ctx
        .link()
        .callback(move |_: MouseEvent| Msg::Send(Command::RestartShell { window_id: id }));
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
                onpaste={ onpaste } onpointerdown={ onpointerdown } onpointerup={ onpointerup }
                onwheel={ onwheel }>
                { for rows.into_iter().map(|runs| html! {
                    <div class="term-row">
                        { for runs.into_iter().map(|run| html! {
                            <span style={ run.css } class={ classes!(run.cursor.then_some("cursor")) }>{ run.text }</span>
                        }) }
                    </div>
                }) }
            </div>
            if let Some(reason) = &shell.ended {
                <div class="shell-ended" role="status">
                    <span>{ reason.clone() }</span>
                    <button data-action="restart-shell" onclick={ restart }>{ "New shell (Enter)" }</button>
                </div>
            }
        </div>
    }
}

/// A key pressed while shell window `id` has focus: its bytes go to the shell (Enter
/// restarts an ended one). True when the key was the shell's.
pub fn on_key(app: &mut App, id: WindowId, event: &KeyboardEvent) -> bool {
    // The browser's own paste (Ctrl-Shift-V, Cmd-V) and copy (Cmd-C) stay the browser's.
    if event.meta_key() || (event.ctrl_key() && event.shift_key()) {
        return false;
    }
    let Some(shell) = app.replica.world().shells.get(&id) else {
        return false;
    };
    let Some(key) = crate::keys::key_of(event) else {
        return false;
    };
    event.prevent_default();
    let commands = shell.key_commands(key.term());
    send(app, commands);
    true
}

/// A paste into shell window `id`.
pub fn paste(app: &mut App, id: WindowId, text: &str) {
    let Some(shell) = app.replica.world().shells.get(&id) else {
        return;
    };
    match shell.paste_commands(text) {
        Ok(commands) => send(app, commands),
        Err(too_large) => app.notify(too_large.to_string(), true),
    }
}

/// A mouse event on shell window `id`'s screen, sent when the program asked for it.
pub fn mouse(
    app: &mut App,
    id: WindowId,
    event: TermMouse,
    row: u16,
    col: u16,
    mods: (bool, bool, bool),
) {
    let Some(shell) = app.replica.world().shells.get(&id) else {
        return;
    };
    let commands = shell.mouse_commands(event, row, col, mods);
    send(app, commands);
}

fn send(app: &mut App, commands: Vec<Command>) {
    for command in commands {
        app.send(command);
    }
}

/// What the title says besides the name: an ended shell, or output skipped during a flood.
pub fn status(app: &App, id: WindowId) -> Option<String> {
    app.replica.world().shells.get(&id)?.status()
}
