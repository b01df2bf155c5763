//! The keymap in copy mode: entering it with the wheel, the mouse in it, and what its keys
//! come to (see [`crate::copy_mode`] for the mode itself); and a chat's search
//! ([`crate::find`]), which has copy mode's keys.

use choir_proto::terminal::Terminal;
use choir_proto::{WindowId, World};

use super::{Intent, Keymap, Mode};
use crate::copy_mode::{Click, CopyMode, CopyView, Outcome, WHEEL_LINES};
use crate::find::Find;

impl Keymap {
    /// Copy mode in window `id`, if this client is in it.
    pub fn copy_mode(&self, id: WindowId) -> Option<&CopyMode> {
        self.copy.as_ref().filter(|copy| copy.window_id() == id)
    }

    /// What window `id` shows in copy mode, if this client is in it there.
    pub fn copy_view(&self, id: WindowId, terminal: &Terminal) -> Option<CopyView> {
        Some(self.copy_mode(id)?.view(terminal))
    }

    /// The wheel turned over shell window `id` whose program did not ask for the mouse:
    /// up enters copy mode and scrolls back; down scrolls forward, and leaves copy mode at
    /// the bottom when the wheel began it.
    pub fn wheel(&mut self, id: WindowId, terminal: &Terminal, up: bool) -> Vec<Intent> {
        let lines = if up {
            -(WHEEL_LINES as i64)
        } else {
            WHEEL_LINES as i64
        };
        if self.copy_mode(id).is_none() {
            if !up || terminal.first_line() == terminal.screen_start() {
                return Vec::new();
            }
            self.copy = Some(CopyMode::by_wheel(id, terminal));
            self.mode = Mode::Copy(id);
        }
        let outcome = match &mut self.copy {
            Some(copy) => copy.wheel(terminal, lines),
            None => Outcome::Stay,
        };
        self.copy_outcome(outcome)
    }

    /// The mouse on cell (`row`, `col`) of shell window `id` while it is in copy mode;
    /// `None` when it is not (the click is the window's as usual).
    pub fn copy_click(
        &mut self,
        id: WindowId,
        terminal: &Terminal,
        (row, col): (u16, u16),
        click: Click,
    ) -> Option<Vec<Intent>> {
        self.copy_mode(id)?;
        let outcome = self.copy.as_mut()?.click(terminal, row, col, click);
        Some(self.copy_outcome(outcome))
    }

    pub(super) fn copy_outcome(&mut self, outcome: Outcome) -> Vec<Intent> {
        match outcome {
            Outcome::Stay => Vec::new(),
            Outcome::Leave => {
                self.leave_copy_mode();
                Vec::new()
            }
            Outcome::Copy(text) => {
                self.leave_copy_mode();
                copied(text)
            }
            Outcome::CopyAndStay(text) => copied(text),
        }
    }

    /// What the focused window's search looks through (see [`crate::find::items`]), made
    /// only when a key may use it: after the prefix, or while searching (typing in a chat
    /// must not copy its messages at every key).
    pub fn search_items(
        &self,
        world: &World,
        log: impl Iterator<Item = (u64, String)>,
    ) -> Option<Vec<(u64, String)>> {
        if !matches!(self.mode, Mode::Prefix | Mode::Find(_)) {
            return None;
        }
        crate::find::items(world, world.desktop.focused?, log)
    }

    /// The search in chat window `id`, if this client is searching there.
    pub fn find(&self, id: WindowId) -> Option<&Find> {
        self.find.as_ref().filter(|find| find.window_id() == id)
    }

    /// Leaves copy mode or search.
    pub(super) fn leave_copy_mode(&mut self) {
        self.find = None;
        self.copy = None;
        self.mode = Mode::Normal;
    }
}

/// The clipboard gets `text`, and the user hears of it.
fn copied(text: String) -> Vec<Intent> {
    let lines = text.lines().count().max(1);
    let notice = Intent::Notice {
        text: match lines {
            1 => "copied 1 line".to_owned(),
            n => format!("copied {n} lines"),
        },
        error: false,
    };
    vec![Intent::CopyText(text), notice]
}
