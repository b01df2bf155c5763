//! The shell app: a terminal in a window. Its screen is the world's fold of the shell's
//! recorded output (`World::shells`), drawn cell by cell; keys, mouse and pastes are encoded
//! as xterm does (`choir_proto::terminal`) and go to the shell's PTY in the sandbox.

use choir_proto::terminal::{vt100, TermMouse};
use choir_proto::{Command, Shell, WindowId};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};

use choir_desktop::copy_mode::MarkKind;

use super::{note, App, Context, View};
use crate::input::{Key, Mouse, MouseButton, MouseKind};

pub const HINT: &str = "keys go to the shell · C-a C-a types C-a · C-a ? help";
pub const ENDED_HINT: &str = "the shell ended · Enter starts a new one · C-a x closes the window";

pub struct ShellView {
    window_id: WindowId,
}

impl ShellView {
    pub fn new(window_id: WindowId) -> Self {
        Self { window_id }
    }
}

fn shell<'a>(cx: &'a Context<'_>, id: WindowId) -> Option<&'a Shell> {
    cx.world().shells.get(&id)
}

fn send(commands: Vec<Command>, cx: &mut Context<'_>) {
    for command in commands {
        cx.send(command);
    }
}

fn term_mouse(kind: MouseKind) -> Option<TermMouse> {
    let button = |button: MouseButton| match button {
        MouseButton::Left => 0,
        MouseButton::Middle => 1,
        MouseButton::Right => 2,
    };
    Some(match kind {
        MouseKind::Down(b) => TermMouse::Press { button: button(b) },
        MouseKind::Up(b) => TermMouse::Release { button: button(b) },
        MouseKind::Drag(b) => TermMouse::Drag { button: button(b) },
        MouseKind::Moved => TermMouse::Moved,
        MouseKind::ScrollUp => TermMouse::WheelUp,
        MouseKind::ScrollDown => TermMouse::WheelDown,
    })
}

impl App for ShellView {
    fn on_key(&mut self, key: Key, cx: &mut Context<'_>) -> bool {
        // Before the shell started, a key goes nowhere; it is still the shell window's.
        if let Some(shell) = shell(cx, self.window_id) {
            send(shell.key_commands(key.term()), cx);
        }
        true
    }

    fn on_paste(&mut self, text: &str, cx: &mut Context<'_>) {
        let Some(shell) = shell(cx, self.window_id) else {
            return;
        };
        match shell.paste_commands(text) {
            Ok(commands) => send(commands, cx),
            Err(too_large) => cx.notify(too_large.to_string(), true),
        }
    }

    fn on_mouse(&mut self, mouse: Mouse, cx: &mut Context<'_>) {
        let (Some(shell), Some(event)) = (shell(cx, self.window_id), term_mouse(mouse.kind)) else {
            return;
        };
        let mods = (mouse.mods.shift, mouse.mods.alt, mouse.mods.ctrl);
        send(shell.mouse_commands(event, mouse.y, mouse.x, mods), cx);
    }

    fn draw(&self, view: &View<'_>, area: Rect, buf: &mut Buffer) -> Option<(u16, u16)> {
        let Some(shell) = view.world().shells.get(&self.window_id) else {
            note(buf, area, "starting the shell…", view.theme);
            return None;
        };
        let size = shell.terminal.size();
        let rows = size.rows.min(area.height);
        let cols = size.cols.min(area.width);
        if let Some(copy) = view.copy {
            // Copy mode: the lines this client looks back at, what is selected or found.
            let shown = copy.view(&shell.terminal);
            draw_cells(shown.screen.screen(), area, (rows, cols), buf);
            for mark in &shown.marks {
                let style = match mark.kind {
                    MarkKind::Selection => Style::new().add_modifier(Modifier::REVERSED),
                    MarkKind::Found => view.theme.found(),
                };
                for col in mark.cols.clone().filter(|col| *col < cols) {
                    if mark.row < rows {
                        buf[(area.x + col, area.y + mark.row)].set_style(style);
                    }
                }
            }
            let (row, col) = shown.cursor;
            return (view.focused && row < rows && col < cols)
                .then_some((area.x + col, area.y + row));
        }
        // The screen with the output not committed yet drawn ahead (the echo of a key).
        let drawn = view
            .replica
            .shell_screen(self.window_id)
            .unwrap_or(&shell.terminal);
        draw_cells(drawn.screen(), area, (rows, cols), buf);
        if let Some(reason) = &shell.ended {
            // At the bottom: why it ended, and what to do.
            let lines = [
                format!(" {reason} "),
                " Enter starts a new shell ".to_owned(),
            ];
            let top = area.y + area.height.saturating_sub(lines.len() as u16);
            for (y, line) in (top..area.y + area.height).zip(lines) {
                buf.set_stringn(area.x, y, line, usize::from(area.width), view.theme.warn());
            }
            return None;
        }
        let (row, col) = drawn.cursor()?;
        (view.focused && row < rows && col < cols).then_some((area.x + col, area.y + row))
    }

    fn hint(&self, view: &View<'_>) -> String {
        match view.world().shells.get(&self.window_id) {
            Some(shell) if !shell.is_running() => ENDED_HINT.into(),
            Some(_) if view.copy.is_some() => String::new(),
            _ => HINT.into(),
        }
    }

    fn status(&self, view: &View<'_>) -> Option<String> {
        view.world().shells.get(&self.window_id)?.status()
    }

    fn copy_text(&self, view: &View<'_>) -> Option<String> {
        let text = view.world().shells.get(&self.window_id)?.terminal.text();
        Some(text.trim_end().to_owned())
    }

    fn takes_every_key(&self) -> bool {
        true
    }
}

/// Draws the top left `rows` by `cols` cells of `screen` at `area`.
fn draw_cells(screen: &vt100::Screen, area: Rect, (rows, cols): (u16, u16), buf: &mut Buffer) {
    for row in 0..rows {
        for col in 0..cols {
            let Some(cell) = screen.cell(row, col) else {
                continue;
            };
            if cell.is_wide_continuation() {
                continue;
            }
            let target = &mut buf[(area.x + col, area.y + row)];
            if cell.has_contents() {
                target.set_symbol(cell.contents());
            } else {
                target.set_symbol(" ");
            }
            target.set_style(style(cell));
            // A wide character whose second half is past the edge is not drawn.
            if cell.is_wide() && col + 1 >= cols {
                target.set_symbol(" ");
            }
        }
    }
}

fn style(cell: &vt100::Cell) -> Style {
    let mut style = Style::new()
        .fg(color(cell.fgcolor()))
        .bg(color(cell.bgcolor()));
    let mut modifier = Modifier::empty();
    if cell.bold() {
        modifier |= Modifier::BOLD;
    }
    if cell.dim() {
        modifier |= Modifier::DIM;
    }
    if cell.italic() {
        modifier |= Modifier::ITALIC;
    }
    if cell.underline() {
        modifier |= Modifier::UNDERLINED;
    }
    if cell.inverse() {
        modifier |= Modifier::REVERSED;
    }
    style = style.add_modifier(modifier);
    style
}

fn color(color: vt100::Color) -> Color {
    match color {
        vt100::Color::Default => Color::Reset,
        vt100::Color::Idx(index) => Color::Indexed(index),
        vt100::Color::Rgb(r, g, b) => Color::Rgb(r, g, b),
    }
}
