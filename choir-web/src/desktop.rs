//! The desktop on the terminal's character-cell grid: windows placed by their geometry in
//! cells, title bars to drag, a resize handle, the taskbar with the launcher and the
//! connection state, the help overlay, and the error page.

use choir_desktop::attention::{Attention, Need};
use choir_desktop::Connection;
use choir_desktop::{geometry, Keymap};
use choir_proto::{AppKind, Command, Rect, Window};
use web_sys::PointerEvent;
use yew::prelude::*;

use crate::dom::SignedIn;
use crate::drag::{Drag, DragKind};
use crate::keys::focused_terminal;
use crate::msg::{when, Msg};
use crate::text::css_px;

/// What the desktop draws from.
pub struct Shown<'a> {
    /// What the apps inside the windows draw from (the replica among it).
    pub apps: crate::apps::Shown<'a>,
    pub connection: &'a Connection,
    pub signed_in: Option<&'a SignedIn>,
    /// The desktop area, in cells.
    pub cols_rows: (u16, u16),
    /// A window being dragged, as shown now.
    pub drag: Option<Drag>,
    pub keymap: &'a Keymap,
    pub notice: Option<&'a (String, bool)>,
    /// What needs the user: the taskbar's marks.
    pub attention: &'a Attention,
}

pub fn view(send: &Callback<Msg>, app: &Shown) -> Html {
    // A run of characters in the desktop's font: its width over its length is a cell's width.
    let run = "M".repeat(100);
    let probe = html! { <span id="cell-probe" aria-hidden="true">{ run }</span> };
    let error = match &app.connection {
        Connection::NoToken => Some(
            "This page needs the sandbox's token. Open the URL that `choir web` prints: it ends in ?token=…".to_owned(),
        ),
        Connection::Offline(message) if message.contains("share") => Some(format!(
            "Its owner ended this share ({message}): ask them for a new link."
        )),
        Connection::Offline(message) if app.signed_in.is_some() => {
            Some(format!("Your session ended ({message}). Opening the sign-in page…"))
        }
        Connection::Offline(message) => Some(format!(
            "The sandbox refused this page's token ({message}). The link may be old or mistyped: \
             open the URL that `choir web` prints again."
        )),
        _ => None,
    };
    if let Some(message) = error {
        return html! {
            <main id="error-page" role="alert">
                { probe }
                <h1>{ "ChoirOS cannot open this desktop" }</h1>
                <p>{ message }</p>
                <span id="connection" data-state={ app.connection.state() } hidden=true></span>
            </main>
        };
    }
    let world = app.apps.replica.world();
    let dragging = app.drag.is_some();
    html! {
        <div class={classes!("shell", dragging.then_some("dragging"))}>
            { probe }
            <div id="desktop" role="main" aria-label="desktop"
                data-cell-w={ css_px(app.apps.cell.0) } data-cell-h={ css_px(app.apps.cell.1) }>
                // In a stable order (stacking is z-index): moving a node would take the
                // keyboard focus and the pointer capture from it. A list of its own (`for`
                // would put the windows among their siblings, where Yew matches children by
                // position from the end, not by key: a window opened would draw every other
                // window anew).
                { world.desktop.windows.values().map(|window| frame(send, app, window)).collect::<Html>() }
                if world.desktop.windows.is_empty() && *app.connection == Connection::Live {
                    if app.apps.replica.timeline().is_some() {
                        <p class="empty">{ "No window was open at this moment." }</p>
                    } else {
                        <p class="empty">{ "No windows. Open one from the launcher below, or press Ctrl-a c for a chat." }</p>
                    }
                }
            </div>
            { taskbar(send, app) }
            if app.keymap.help_shown() { { help(send, app.keymap) } }
        </div>
    }
}

/// Where a window is shown, in cells: its own geometry clamped into this tab's desktop (a
/// small window never shrinks the layout others see), or the whole desktop when maximized.
fn shown_rect(app: &Shown, window: &Window) -> Rect {
    let area = Rect::new(0, 0, app.cols_rows.0, app.cols_rows.1);
    match app.drag {
        Some(drag) if drag.window == window.id && !window.maximized => drag.now,
        _ => geometry::placed(window.rect, window.maximized, area),
    }
}

fn frame(send: &Callback<Msg>, app: &Shown, window: &Window) -> Html {
    let id = window.id;
    let focused = app.apps.replica.world().desktop.focused == Some(id);
    let rect = shown_rect(app, window);
    let (cw, ch) = app.apps.cell;
    let stacking = app
        .apps
        .replica
        .world()
        .desktop
        .z_order
        .iter()
        .position(|other| *other == id)
        .unwrap_or(0);
    let style = format!(
        "left:{}px;top:{}px;width:{}px;height:{}px;z-index:{}",
        css_px(f64::from(rect.x) * cw),
        css_px(f64::from(rect.y) * ch),
        css_px(f64::from(rect.w) * cw),
        css_px(f64::from(rect.h) * ch),
        stacking + 1
    );
    let press = |kind: DragKind| {
        when(send, move |event: PointerEvent| {
            if event.button() != 0 {
                return None;
            }
            // Buttons in the title bar are clicked, not dragged.
            let on_button = event
                .target()
                .and_then(|target| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(target).ok())
                .is_some_and(|element| element.closest("button").ok().flatten().is_some());
            if on_button {
                return None;
            }
            event.prevent_default();
            if let Some(element) = event
                .current_target()
                .and_then(|target| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(target).ok())
            {
                let _ = element.set_pointer_capture(event.pointer_id());
            }
            Some(Msg::DragStart {
                window: id,
                kind,
                x: f64::from(event.client_x()),
                y: f64::from(event.client_y()),
            })
        })
    };
    let command = |command: Command| send.reform(move |_: MouseEvent| Msg::Send(command.clone()));
    let onfocus = (!focused).then(|| command(Command::FocusWindow { window_id: id }));
    let title = crate::apps::title(app.apps.replica.world(), window);
    let app_name = window.app.to_string();
    html! {
        <section key={ id.0 } id={ format!("window-{}", id.0) } class={classes!("window", focused.then_some("focused"))}
            role="dialog" aria-label={ title.clone() }
            style={ style }
            data-window-id={ id.0.to_string() } data-app={ app_name }
            data-x={ rect.x.to_string() } data-y={ rect.y.to_string() }
            data-w={ rect.w.to_string() } data-h={ rect.h.to_string() }
            data-focused={ focused.to_string() } data-minimized={ window.minimized.to_string() }
            data-maximized={ window.maximized.to_string() } hidden={ window.minimized }
            onmousedown={ onfocus }>
            <header class="titlebar" onpointerdown={ press(DragKind::Move) }>
                <span class="title">{ title }</span>
                <span class="buttons">
                    <button data-action="minimize" aria-label="minimize" title="minimize (Ctrl-a -)"
                        onclick={ command(Command::MinimizeWindow { window_id: id }) }>{ "_" }</button>
                    <button data-action="maximize" aria-label="maximize or restore" title="maximize / restore (Ctrl-a z)"
                        onclick={ command(Command::ToggleMaximize { window_id: id, area: Some(Rect::new(0, 0, app.cols_rows.0, app.cols_rows.1)) }) }>{ "□" }</button>
                    <button data-action="close" aria-label="close" title="close (Ctrl-a x)"
                        onclick={ command(Command::CloseWindow { window_id: id }) }>{ "×" }</button>
                </span>
            </header>
            <div class="content" data-revision={ app.apps.revisions.of(id).to_string() }>{ crate::apps::content(send, &app.apps, window) }</div>
            if !window.maximized {
                <div class="resize-handle" aria-hidden="true" onpointerdown={ press(DragKind::Resize) }></div>
            }
        </section>
    }
}

fn taskbar(send: &Callback<Msg>, app: &Shown) -> Html {
    let world = app.apps.replica.world();
    let launch = |kind: AppKind, label: &'static str, name: &'static str| {
        let onclick = send.reform(move |_: MouseEvent| {
            Msg::Send(Command::OpenWindow {
                app: kind.clone(),
                title: None,
                rect: None,
            })
        });
        html! { <button data-launch={ name } aria-label={ format!("new {label} window") } onclick={ onclick }>{ format!("+ {label}") }</button> }
    };
    let read_only = app.apps.replica.is_read_only();
    let (state_text, _) = app.connection.label(read_only);
    let state_title = match app.connection {
        Connection::Live if read_only => {
            "a read-only share: you see everything live, and can change nothing".to_owned()
        }
        Connection::Reconnecting {
            reason: Some(why), ..
        }
        | Connection::Offline(why) => why.clone(),
        _ => String::new(),
    };
    let help = send.reform(|_: MouseEvent| Msg::ToggleHelp);
    html! {
        <nav id="taskbar" role="toolbar" aria-label="taskbar">
            if let Some(timeline) = app.apps.replica.timeline() {
                { crate::timeline::bar(send, timeline, app.apps.utc_offset_min) }
            } else {
            <span class="launcher">
                { launch(AppKind::Chat, "chat", "chat") }
                { launch(AppKind::Writer, "writer", "writer") }
                { launch(AppKind::EventLog, "log", "event_log") }
                { launch(AppKind::Shell, "shell", "shell") }
                { launch(AppKind::Mail, "mail", "mail") }
                { launch(AppKind::Calendar, "calendar", "calendar") }
                // The apps the user or the agent wrote, as the terminal's launcher lists them.
                { for world.apps.keys().map(|name| {
                    let app = AppKind::App(name.clone());
                    let onclick = send.reform(move |_: MouseEvent| Msg::Send(Command::OpenWindow {
                        app: app.clone(),
                        title: None,
                        rect: None,
                    }));
                    html! { <button data-launch={ format!("app:{name}") } aria-label={ format!("new {name} window") } onclick={ onclick }>{ format!("+ {name}") }</button> }
                }) }
            </span>
            <span class="windows">
                { for world.desktop.windows.values().enumerate().map(|(n, window)| {
                    let id = window.id;
                    let focused = world.desktop.focused == Some(id) && !window.minimized;
                    let onclick = send.reform(move |_: MouseEvent| Msg::Send(if focused {
                        Command::MinimizeWindow { window_id: id }
                    } else {
                        Command::FocusWindow { window_id: id }
                    }));
                    // A chat waiting for an approval, or whose turn ended out of sight, is
                    // marked, whichever window is in front.
                    let need = app.attention.need(world, id);
                    let need_name = need.map(|need| match need {
                        Need::Approval => "approval",
                        Need::Finished => "finished",
                        Need::Mail => "mail",
                    });
                    html! {
                        <button class={classes!("taskbar-window", focused.then_some("focused"), window.minimized.then_some("minimized"), need.is_some().then_some("attention"))}
                            data-window-id={ id.0.to_string() } aria-pressed={ focused.to_string() } onclick={ onclick }
                            data-attention={ need.is_some().to_string() } data-need={ need_name }
                            title={ need.map(Need::describe) }>
                            { format!("{}:{}{}", n + 1, crate::apps::title(world, window), need.map_or("", Need::mark)) }
                        </button>
                    }
                }) }
            </span>
            }
            if let Some((text, error)) = app.notice {
                <span id="notice" class={classes!("notice", error.then_some("error"))} role="status">{ text.clone() }</span>
            }
            if let (None, Some(hint)) = (app.notice, app.keymap.hint(focused_terminal(world))) {
                <span id="mode-hint" class="notice" role="status">{ hint }</span>
            }
            <button data-action="help" aria-label="keyboard shortcuts" onclick={ help }>{ "?" }</button>
            if let Some(usage) = app.apps.replica.model_usage() {
                <span id="model-usage" data-exhausted={ usage.exhausted().to_string() }
                    title={ format!("{} model requests today (UTC); {} tokens a day at most", usage.requests_today, choir_proto::thousands(usage.tokens_per_day)) }>
                    { usage.label() }</span>
            }
            <span id="connection" data-state={ app.connection.state() } data-read-only={ app.apps.replica.is_read_only().to_string() }
                title={ state_title } role="status" aria-live="polite">{ state_text }</span>
            if let Some(signed_in) = app.signed_in {
                if let Some(account) = &signed_in.account {
                    <a id="account" class="taskbar-account" href={ account.clone() } title="passkeys and sign-out">{ signed_in.user.clone() }</a>
                }
            }
        </nav>
    }
}

fn help(send: &Callback<Msg>, keymap: &Keymap) -> Html {
    let close = send.reform(|_: MouseEvent| Msg::Dismiss);
    html! {
        <div id="help" role="dialog" aria-label="keyboard shortcuts">
            <h2>{ "Keyboard" }</h2>
            <dl>
                { for keymap.help().into_iter().map(|(keys, what)| html! { <><dt>{ keys }</dt><dd>{ what }</dd></> }) }
            </dl>
            <button onclick={ close }>{ "Close (Esc)" }</button>
        </div>
    }
}
