//! Keyboard shortcuts, as close to the terminal desktop's as a browser allows: the same
//! Ctrl-a prefix and the same keys after it.

use choir_proto::{AppKind, Command, Rect, WindowId};
use web_sys::KeyboardEvent;
use yew::prelude::*;

use crate::app::App;
use crate::desktop::DragKind;

pub const BINDINGS: &[(&str, &str)] = &[
    (
        "Ctrl-a c / e / w / s",
        "new chat / event log / writer / shell window",
    ),
    ("Ctrl-a n, Ctrl-a Tab", "focus next window"),
    ("Ctrl-a p", "focus previous window"),
    ("Ctrl-a 1..9", "focus window by taskbar number"),
    (
        "Ctrl-a m",
        "move mode: arrows (Shift: by 5), Enter/Esc done",
    ),
    (
        "Ctrl-a r",
        "resize mode: arrows (Shift: by 5), Enter/Esc done",
    ),
    ("Ctrl-a z", "maximize / restore"),
    ("Ctrl-a -", "minimize (click it in the taskbar to restore)"),
    ("Ctrl-a t", "tile all windows"),
    ("Ctrl-a x", "close window"),
    ("Ctrl-a Ctrl-a", "select all in the focused text field"),
    ("F1, Ctrl-a ?", "this help; Esc closes it"),
    (
        "mouse / touch",
        "click focuses, drag the title moves, drag the corner resizes",
    ),
    (
        "chat",
        "Enter sends, Shift+Enter newline; scroll up for older messages",
    ),
    (
        "shell",
        "keys go to the program (Ctrl-a Ctrl-a types Ctrl-a); Ctrl-Shift-V pastes",
    ),
    ("Tab", "moves between buttons and fields, as everywhere"),
];

/// Handles a key pressed anywhere on the page; true when the page must be drawn again.
pub fn on_key(app: &mut App, ctx: &Context<App>, event: &KeyboardEvent) -> bool {
    let key = event.key();
    if app.replica.timeline().is_some() && !app.help && crate::timeline::on_key(app, event) {
        return true;
    }
    if let Some((window, kind)) = app.key_mode {
        return key_mode(app, event, &key, window, kind);
    }
    if app.prefix {
        app.prefix = false;
        event.prevent_default();
        after_prefix(app, ctx, &key, event.ctrl_key());
        return true;
    }
    if event.ctrl_key() && !event.alt_key() && !event.meta_key() && key.eq_ignore_ascii_case("a") {
        event.prevent_default();
        app.prefix = true;
        return true;
    }
    // A focused shell window takes every other key (F1 too), unless a field has focus.
    if let Some(id) = focused_shell(app) {
        if !app.help && crate::apps::shell::on_key(app, id, event) {
            return false;
        }
    }
    match key.as_str() {
        "F1" => {
            event.prevent_default();
            app.help = !app.help;
            true
        }
        "Escape" if app.help || app.notice.is_some() => {
            app.help = false;
            app.notice = None;
            true
        }
        _ => false,
    }
}

fn after_prefix(app: &mut App, ctx: &Context<App>, key: &str, ctrl: bool) {
    let world = app.replica.world();
    let focused = world.desktop.focused;
    let order: Vec<WindowId> = world.desktop.windows.keys().copied().collect();
    let open = |app: &mut App, kind: AppKind| {
        app.send(Command::OpenWindow {
            app: kind,
            title: None,
            rect: None,
        });
        app.request_focus_input();
    };
    let on_focused = |app: &mut App, make: fn(WindowId) -> Command| {
        if let Some(id) = focused {
            app.send(make(id));
        }
    };
    match key {
        "a" | "A" if ctrl => match focused_shell(app) {
            Some(window_id) => app.send(Command::ShellInput {
                window_id,
                data: "\u{1}".into(),
            }),
            None => select_all(),
        },
        "c" => open(app, AppKind::Chat),
        "e" => open(app, AppKind::EventLog),
        "w" => open(app, AppKind::Writer),
        "s" => open(app, AppKind::Shell),
        "n" | "Tab" | "p" => {
            let at = focused.and_then(|id| order.iter().position(|other| *other == id));
            let len = order.len();
            if len > 0 {
                let next = match (at, key) {
                    (Some(at), "p") => (at + len - 1) % len,
                    (Some(at), _) => (at + 1) % len,
                    (None, _) => 0,
                };
                app.send(Command::FocusWindow {
                    window_id: order[next],
                });
                app.request_focus_input();
            }
        }
        digit if digit.len() == 1 && digit.as_bytes()[0].is_ascii_digit() && digit != "0" => {
            let n = usize::from(digit.as_bytes()[0] - b'1');
            if let Some(id) = order.get(n) {
                app.send(Command::FocusWindow { window_id: *id });
                app.request_focus_input();
            }
        }
        "z" => {
            if let Some(window_id) = focused {
                let (w, h) = app.cols_rows;
                app.send(Command::ToggleMaximize {
                    window_id,
                    area: Some(Rect::new(0, 0, w, h)),
                });
            }
        }
        "-" => on_focused(app, |window_id| Command::MinimizeWindow { window_id }),
        "x" => on_focused(app, |window_id| Command::CloseWindow { window_id }),
        "t" => {
            let (w, h) = app.cols_rows;
            app.send(Command::TileWindows {
                area: Rect::new(0, 0, w, h),
            });
        }
        "m" | "r" => {
            if let Some(id) = focused {
                let kind = if key == "m" {
                    DragKind::Move
                } else {
                    DragKind::Resize
                };
                app.key_mode = Some((id, kind));
                app.notify(
                    if key == "m" {
                        "move: arrows (Shift: by 5), Enter or Esc when done"
                    } else {
                        "resize: arrows (Shift: by 5), Enter or Esc when done"
                    },
                    false,
                );
            }
        }
        "?" => app.help = true,
        "Escape" => {}
        other => app.notify(
            format!("Ctrl-a {other}: no such shortcut (F1 lists them)"),
            true,
        ),
    }
    let _ = ctx;
}

fn key_mode(
    app: &mut App,
    event: &KeyboardEvent,
    key: &str,
    window: WindowId,
    kind: DragKind,
) -> bool {
    event.prevent_default();
    let step: i32 = if event.shift_key() { 5 } else { 1 };
    let (dx, dy) = match key {
        "ArrowLeft" => (-step, 0),
        "ArrowRight" => (step, 0),
        "ArrowUp" => (0, -step),
        "ArrowDown" => (0, step),
        "Enter" | "Escape" => {
            app.key_mode = None;
            app.notice = None;
            return true;
        }
        _ => return false,
    };
    let Some(shown) = app.replica.world().desktop.window(window) else {
        app.key_mode = None;
        return true;
    };
    let rect = shown.rect;
    let moved = |value: u16, by: i32, low: u16, high: u16| {
        (i32::from(value) + by).clamp(i32::from(low), i32::from(high)) as u16
    };
    let command = match kind {
        DragKind::Move => Command::MoveWindow {
            window_id: window,
            x: moved(rect.x, dx, 0, choir_proto::MAX_WINDOW_COORD),
            y: moved(rect.y, dy, 0, choir_proto::MAX_WINDOW_COORD),
        },
        DragKind::Resize => Command::ResizeWindow {
            window_id: window,
            w: moved(
                rect.w,
                dx,
                choir_proto::MIN_WINDOW_W,
                choir_proto::MAX_WINDOW_SIZE,
            ),
            h: moved(
                rect.h,
                dy,
                choir_proto::MIN_WINDOW_H,
                choir_proto::MAX_WINDOW_SIZE,
            ),
        },
    };
    app.send(command);
    false
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
