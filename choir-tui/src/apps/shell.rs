//! The shell app: a terminal in a window. Its screen is the world's fold of the shell's
//! recorded output (`World::shells`), drawn cell by cell; keys, mouse and pastes are encoded
//! as xterm does (`choir_proto::terminal`) and go to the shell's PTY in the sandbox.

use choir_proto::terminal::{
    encode_key, encode_mouse, encode_paste, input_parts, vt100, TermKey, TermMouse, MAX_PASTE,
};
use choir_proto::{Command, Shell, WindowId};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};

use super::{note, App, Context, View};
use crate::input::{Key, KeyCode, Mouse, MouseButton, MouseKind};

pub const HINT: &str = "keys go to the shell · C-a C-a types C-a · C-a ? help";
pub const ENDED_HINT: &str = "the shell ended · Enter starts a new one · C-a x closes the window";

pub struct ShellView {
    window_id: WindowId,
}

impl ShellView {
    pub fn new(window_id: WindowId) -> Self {
        Self { window_id }
    }

    fn send_input(&self, data: String, cx: &mut Context<'_>) {
        for part in input_parts(&data) {
            cx.send(Command::ShellInput {
                window_id: self.window_id,
                data: part.to_owned(),
            });
        }
    }
}

fn shell<'a>(cx: &'a Context<'_>, id: WindowId) -> Option<&'a Shell> {
    cx.world().shells.get(&id)
}

/// A terminal client's key as the emulator's encoder takes it.
fn term_key(key: Key) -> TermKey {
    TermKey {
        code: key.code,
        shift: key.mods.shift,
        alt: key.mods.alt,
        ctrl: key.mods.ctrl,
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
        let Some(shell) = shell(cx, self.window_id) else {
            // Not started yet: the key would go nowhere.
            return true;
        };
        if !shell.is_running() {
            if key.code == KeyCode::Enter {
                cx.send(Command::RestartShell {
                    window_id: self.window_id,
                });
            }
            return true;
        }
        if let Some(data) = encode_key(term_key(key), shell.terminal.screen()) {
            self.send_input(data, cx);
        }
        true
    }

    fn on_paste(&mut self, text: &str, cx: &mut Context<'_>) {
        if text.len() > MAX_PASTE {
            cx.notify(
                format!(
                    "the paste is {}; a shell window takes at most {} at once",
                    bytes(text.len() as u64),
                    bytes(MAX_PASTE as u64)
                ),
                true,
            );
            return;
        }
        let Some(shell) = shell(cx, self.window_id).filter(|shell| shell.is_running()) else {
            return;
        };
        let data = encode_paste(text, shell.terminal.screen());
        self.send_input(data, cx);
    }

    fn on_mouse(&mut self, mouse: Mouse, cx: &mut Context<'_>) {
        let Some(shell) = shell(cx, self.window_id).filter(|shell| shell.is_running()) else {
            return;
        };
        let size = shell.terminal.size();
        if mouse.y >= size.rows || mouse.x >= size.cols {
            return;
        }
        let Some(event) = term_mouse(mouse.kind) else {
            return;
        };
        let mods = (mouse.mods.shift, mouse.mods.alt, mouse.mods.ctrl);
        if let Some(data) = encode_mouse(event, mouse.y, mouse.x, mods, shell.terminal.screen()) {
            self.send_input(data, cx);
        }
    }

    fn draw(&self, view: &View<'_>, area: Rect, buf: &mut Buffer) -> Option<(u16, u16)> {
        let Some(shell) = view.world().shells.get(&self.window_id) else {
            note(buf, area, "starting the shell…", view.theme);
            return None;
        };
        let screen = shell.terminal.screen();
        let size = shell.terminal.size();
        let rows = size.rows.min(area.height);
        let cols = size.cols.min(area.width);
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
        let (row, col) = shell.terminal.cursor()?;
        (view.focused && row < rows && col < cols).then_some((area.x + col, area.y + row))
    }

    fn hint(&self, view: &View<'_>) -> String {
        match view.world().shells.get(&self.window_id) {
            Some(shell) if !shell.is_running() => ENDED_HINT.into(),
            _ => HINT.into(),
        }
    }

    fn status(&self, view: &View<'_>) -> Option<String> {
        let shell = view.world().shells.get(&self.window_id)?;
        if shell.ended.is_some() {
            return Some("ended".into());
        }
        (shell.skipped > 0).then(|| format!("{} skipped", bytes(shell.skipped)))
    }

    fn copy_text(&self, view: &View<'_>) -> Option<String> {
        let text = view.world().shells.get(&self.window_id)?.terminal.text();
        Some(text.trim_end().to_owned())
    }

    fn takes_every_key(&self) -> bool {
        true
    }
}

/// A byte count for people: `512 B`, `3.1 MB`.
fn bytes(count: u64) -> String {
    match count {
        0..=9_999 => format!("{count} B"),
        10_000..=9_999_999 => format!("{:.0} kB", count as f64 / 1e3),
        _ => format!("{:.1} MB", count as f64 / 1e6),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(104_857_600), "104.9 MB");
    }
}
