//! Shell windows: each one's program, whether it runs, and its screen, folded from the
//! `shell.*` events the daemon records from the shell's terminal.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::command::Command;
use crate::event::EventBody;
use crate::ids::WindowId;
use crate::terminal::{
    encode_key, encode_mouse, encode_paste, input_parts, History, TermKey, TermKeyCode, TermMouse,
    TermSize, Terminal, MAX_PASTE,
};

/// The shell of one shell window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shell {
    pub window_id: WindowId,
    /// The program and where it runs, as shown to the user.
    pub program: String,
    /// Why it ended; `None` while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
    pub terminal: Terminal,
    /// Output bytes not recorded as they came (replaced by screen images during floods).
    #[serde(default)]
    pub skipped: u64,
    /// The number of the last output applied (see `EventBody::ShellOutput::chunk`).
    #[serde(default)]
    pub chunk: u64,
}

impl Shell {
    pub fn is_running(&self) -> bool {
        self.ended.is_none()
    }

    /// What a key typed into this shell's window sends: its bytes while the shell runs;
    /// once it ended, Enter starts a new one and other keys do nothing.
    pub fn key_commands(&self, key: TermKey) -> Vec<Command> {
        if !self.is_running() {
            return match key.code {
                TermKeyCode::Enter => vec![Command::RestartShell {
                    window_id: self.window_id,
                }],
                _ => Vec::new(),
            };
        }
        encode_key(key, self.terminal.screen())
            .map(|data| self.input(&data))
            .unwrap_or_default()
    }

    /// What a paste into this shell's window sends (bracketed if the program asked), in
    /// commands of at most `MAX_SHELL_INPUT` bytes; refused beyond [`MAX_PASTE`].
    pub fn paste_commands(&self, text: &str) -> Result<Vec<Command>, PasteTooLarge> {
        if text.len() > MAX_PASTE {
            return Err(PasteTooLarge(text.len()));
        }
        if !self.is_running() || text.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.input(&encode_paste(text, self.terminal.screen())))
    }

    /// What a mouse event at a cell of this shell's screen sends: nothing unless the program
    /// asked for such events, or outside the screen. `mods` is (shift, alt, ctrl).
    pub fn mouse_commands(
        &self,
        event: TermMouse,
        row: u16,
        col: u16,
        mods: (bool, bool, bool),
    ) -> Vec<Command> {
        let size = self.terminal.size();
        if !self.is_running() || row >= size.rows || col >= size.cols {
            return Vec::new();
        }
        encode_mouse(event, row, col, mods, self.terminal.screen())
            .map(|data| self.input(&data))
            .unwrap_or_default()
    }

    /// A word on it for the window's title: ended, or how much output a flood skipped.
    pub fn status(&self) -> Option<String> {
        if self.ended.is_some() {
            return Some("ended".into());
        }
        (self.skipped > 0).then(|| format!("{} skipped", byte_count(self.skipped)))
    }

    fn input(&self, data: &str) -> Vec<Command> {
        input_parts(data)
            .into_iter()
            .map(|part| Command::ShellInput {
                window_id: self.window_id,
                data: part.to_owned(),
            })
            .collect()
    }
}

/// A paste larger than a shell window takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the paste is {}; a shell window takes at most {} at once",
    byte_count(*.0 as u64),
    byte_count(MAX_PASTE as u64)
)]
pub struct PasteTooLarge(pub usize);

/// A byte count for people: `512 B`, `48 kB`, `104.9 MB`.
pub fn byte_count(count: u64) -> String {
    match count {
        0..=9_999 => format!("{count} B"),
        10_000..=9_999_999 => format!("{} kB", (count + 500) / 1_000),
        _ => format!("{} MB", crate::human::one_decimal(count, 1_000_000)),
    }
}

/// Applies a `shell.*` event. A shell exists from its `shell.started` until its window
/// closes; events for a window without one change nothing.
pub(super) fn apply(shells: &mut BTreeMap<WindowId, Shell>, body: &EventBody) {
    match body {
        EventBody::ShellStarted {
            window_id,
            program,
            rows,
            cols,
            scrollback,
        } => {
            shells.insert(
                *window_id,
                Shell {
                    window_id: *window_id,
                    program: program.clone(),
                    ended: None,
                    terminal: Terminal::with_history(
                        TermSize::new(*rows, *cols),
                        History::new(*scrollback),
                    ),
                    skipped: 0,
                    chunk: 0,
                },
            );
        }
        EventBody::ShellOutput {
            window_id,
            data,
            chunk,
        } => {
            if let Some(shell) = shells.get_mut(window_id) {
                shell.terminal.feed(data.as_bytes());
                shell.chunk = shell.chunk.max(*chunk);
            }
        }
        EventBody::ShellResized {
            window_id,
            rows,
            cols,
        } => {
            if let Some(shell) = shells.get_mut(window_id) {
                shell.terminal.resize(TermSize::new(*rows, *cols));
            }
        }
        EventBody::ShellScreen {
            window_id,
            rows,
            cols,
            image,
            skipped,
        } => {
            if let Some(shell) = shells.get_mut(window_id) {
                shell
                    .terminal
                    .show_image(TermSize::new(*rows, *cols), image, *skipped);
                shell.skipped = shell.skipped.saturating_add(*skipped);
            }
        }
        EventBody::ShellEnded {
            window_id, reason, ..
        } => {
            if let Some(shell) = shells.get_mut(window_id) {
                shell.ended = Some(reason.clone());
            }
        }
        EventBody::WindowClosed { window_id } => {
            shells.remove(window_id);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shell(ended: Option<&str>) -> Shell {
        Shell {
            window_id: WindowId(2),
            program: "sh".into(),
            ended: ended.map(str::to_owned),
            terminal: Terminal::new(TermSize::new(4, 10)),
            skipped: 0,
            chunk: 0,
        }
    }

    fn input(commands: Vec<Command>) -> Vec<String> {
        commands
            .into_iter()
            .map(|command| match command {
                Command::ShellInput { data, .. } => data,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn keys_type_while_it_runs_and_enter_restarts_it_once_ended() {
        let running = shell(None);
        assert_eq!(
            input(running.key_commands(TermKey::plain(TermKeyCode::Char('x')))),
            ["x"]
        );
        let ended = shell(Some("exited"));
        assert!(ended
            .key_commands(TermKey::plain(TermKeyCode::Char('x')))
            .is_empty());
        assert_eq!(
            ended.key_commands(TermKey::plain(TermKeyCode::Enter)),
            [Command::RestartShell {
                window_id: WindowId(2)
            }]
        );
    }

    #[test]
    fn pastes_are_cut_into_commands_and_refused_when_too_large() {
        let running = shell(None);
        let text = "y".repeat(crate::MAX_SHELL_INPUT + 10);
        assert_eq!(input(running.paste_commands(&text).unwrap()).concat(), text);
        let huge = "z".repeat(MAX_PASTE + 1);
        let err = running.paste_commands(&huge).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the paste is 1049 kB; a shell window takes at most 1049 kB at once"
        );
        assert!(shell(Some("exited"))
            .paste_commands("ls")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn clicks_outside_the_screen_or_unasked_for_send_nothing() {
        let mut running = shell(None);
        let press = TermMouse::Press { button: 0 };
        let none = (false, false, false);
        assert!(running.mouse_commands(press, 1, 1, none).is_empty());
        running.terminal.feed(b"\x1b[?1000h\x1b[?1006h");
        assert_eq!(
            input(running.mouse_commands(press, 1, 2, none)),
            ["\x1b[<0;3;2M"]
        );
        assert!(running.mouse_commands(press, 4, 2, none).is_empty());
    }

    #[test]
    fn byte_counts_read_well() {
        assert_eq!(byte_count(512), "512 B");
        assert_eq!(byte_count(48_000), "48 kB");
        assert_eq!(byte_count(104_857_600), "104.9 MB");
        let mut flooded = shell(None);
        flooded.skipped = 104_857_600;
        assert_eq!(flooded.status().as_deref(), Some("104.9 MB skipped"));
        assert_eq!(shell(Some("x")).status().as_deref(), Some("ended"));
    }
}
