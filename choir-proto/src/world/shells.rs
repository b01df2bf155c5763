//! Shell windows: each one's program, whether it runs, and its screen, folded from the
//! `shell.*` events the daemon records from the shell's terminal.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::event::EventBody;
use crate::ids::WindowId;
use crate::terminal::{TermSize, Terminal};

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
}

impl Shell {
    pub fn is_running(&self) -> bool {
        self.ended.is_none()
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
        } => {
            shells.insert(
                *window_id,
                Shell {
                    window_id: *window_id,
                    program: program.clone(),
                    ended: None,
                    terminal: Terminal::new(TermSize::new(*rows, *cols)),
                    skipped: 0,
                },
            );
        }
        EventBody::ShellOutput { window_id, data } => {
            if let Some(shell) = shells.get_mut(window_id) {
                shell.terminal.feed(data.as_bytes());
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
                shell.terminal = Terminal::from_image(TermSize::new(*rows, *cols), image);
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
