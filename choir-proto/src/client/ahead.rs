//! Shell output drawn ahead of its commit. The daemon sends each piece of a shell's output to
//! its clients as it reads it (`EphemeralBody::ShellOutput`), then commits it as a
//! `shell.output` event with the same number. A client draws the committed screen with the
//! pieces not committed yet fed on top, so an echo shows without waiting for the log's
//! fsync; each piece is let go when its event comes. Nothing drawn ahead is ever the only
//! copy: a piece whose event never comes (the daemon died before the commit) is dropped with
//! the screen it was drawn on at the next welcome.
//!
//! The copy of the committed screen that the next piece is fed onto is made when the last
//! piece drawn ahead is committed, not when the next piece comes: a key's echo is drawn
//! without first copying the screen. Pieces committed as they were drawn (same numbers, same
//! text, in order) are let go without a new copy; anything else (a piece missed, its text
//! changed) makes one.

use std::collections::{HashMap, VecDeque};

use crate::event::EventBody;
use crate::ids::WindowId;
use crate::terminal::Terminal;
use crate::world::World;

/// Pieces one window may hold ahead; past this, it draws the committed screen until the log
/// catches up.
const MAX_AHEAD: usize = 256;

#[derive(Debug, Clone, Default)]
pub(super) struct Ahead {
    windows: HashMap<WindowId, Pending>,
}

#[derive(Debug, Clone)]
struct Pending {
    /// Pieces not committed yet, oldest first, with their numbers (none: `screen` is a
    /// copy of the committed screen, ready for the next piece).
    chunks: VecDeque<(u64, String)>,
    /// The committed screen with them fed on top.
    screen: Terminal,
}

impl Pending {
    /// Lets go of the oldest piece if `chunk` commits it as it was drawn: the screen is then
    /// still the committed one with the rest on top.
    fn commit_in_step(&mut self, chunk: u64, data: &str) -> bool {
        let in_step = self
            .chunks
            .front()
            .is_some_and(|(c, drawn)| *c == chunk && drawn == data);
        if in_step {
            self.chunks.pop_front();
        }
        in_step
    }
}

impl Ahead {
    /// A piece of window `window_id`'s output, not committed yet.
    pub(super) fn on_output(
        &mut self,
        world: &World,
        window_id: WindowId,
        chunk: u64,
        data: String,
    ) {
        let Some(shell) = world
            .shells
            .get(&window_id)
            .filter(|shell| shell.is_running())
        else {
            return;
        };
        // Committed already (its event came first), or a piece seen before.
        if chunk <= shell.chunk {
            return;
        }
        let pending = self.windows.entry(window_id).or_insert_with(|| Pending {
            chunks: VecDeque::new(),
            screen: committed(world, window_id).unwrap_or_else(|| shell.terminal.clone()),
        });
        if pending
            .chunks
            .back()
            .is_some_and(|(last, _)| *last >= chunk)
        {
            return;
        }
        if pending.chunks.len() >= MAX_AHEAD {
            self.windows.remove(&window_id);
            return;
        }
        pending.screen.feed(data.as_bytes());
        pending.chunks.push_back((chunk, data));
    }

    /// An event, applied to `world` already: a committed piece is let go; anything else that
    /// changes a shell's screen drops what was drawn ahead of it. True when the event was a
    /// piece drawn ahead: the screen shown does not change.
    pub(super) fn on_event(&mut self, world: &World, body: &EventBody) -> bool {
        match body {
            EventBody::ShellOutput {
                window_id,
                chunk,
                data,
            } => {
                let Some(pending) = self.windows.get_mut(window_id) else {
                    return false;
                };
                let in_step = pending.commit_in_step(*chunk, data);
                let drawn = in_step || pending.chunks.iter().any(|(c, _)| c == chunk);
                while pending.chunks.front().is_some_and(|(c, _)| c <= chunk) {
                    pending.chunks.pop_front();
                }
                if in_step && !pending.chunks.is_empty() {
                    return true;
                }
                // A new copy: for the pieces still ahead, or ready for the next one.
                match committed(world, *window_id) {
                    Some(mut screen) => {
                        for (_, data) in &pending.chunks {
                            screen.feed(data.as_bytes());
                        }
                        pending.screen = screen;
                    }
                    None => {
                        self.windows.remove(window_id);
                    }
                }
                drawn
            }
            EventBody::ShellStarted { window_id, .. }
            | EventBody::ShellResized { window_id, .. }
            | EventBody::ShellScreen { window_id, .. }
            | EventBody::ShellEnded { window_id, .. }
            | EventBody::WindowClosed { window_id } => {
                self.windows.remove(window_id);
                false
            }
            _ => false,
        }
    }

    /// The screen to draw for window `window_id`, when output is drawn ahead there.
    pub(super) fn screen(&self, window_id: WindowId) -> Option<&Terminal> {
        self.windows
            .get(&window_id)
            .filter(|pending| !pending.chunks.is_empty())
            .map(|pending| &pending.screen)
    }

    pub(super) fn clear(&mut self) {
        self.windows.clear();
    }
}

/// Window `window_id`'s committed screen, without its scrollback (what is drawn ahead is a
/// screen to show, and copying the scrollback for each keystroke would cost more than the
/// commit it saves waiting for).
fn committed(world: &World, window_id: WindowId) -> Option<Terminal> {
    let terminal = &world.shells.get(&window_id)?.terminal;
    Some(Terminal::from_image(terminal.size(), &terminal.image()))
}
