//! The screen of a shell window: a terminal emulator (the `vt100` crate) fed with the shell's
//! recorded output. The daemon, the terminal clients and the browser all fold the same
//! `shell.*` events through it, so they show the same screen; a client that connects later
//! gets the screen itself (an [image](Terminal::image)) and its scrollback, not the output
//! that made them.

mod history;
mod input;
mod lines;

use std::fmt;
use std::num::NonZeroU16;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::grid::Rect;
use crate::world::Window;

pub use history::{History, Line, DEFAULT_SCROLLBACK, MAX_SCROLLBACK};
pub use input::{
    encode_key, encode_mouse, encode_paste, input_parts, TermKey, TermKeyCode, TermMouse, MAX_PASTE,
};
/// The emulator's own types (cells, colours, modes), for drawing a screen.
pub use vt100;

/// Switches to the alternate screen (saving the cursor), as full-screen programs do.
const ENTER_ALTERNATE: &str = "\x1b[?1049h";
/// Erases the scrollback (ED 3).
const ERASE_SCROLLBACK: &[u8] = b"\x1b[3J";

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Most rows a shell window's terminal has (a taller window shows it at its top).
pub const MAX_TERM_ROWS: u16 = 200;
/// Most columns a shell window's terminal has.
pub const MAX_TERM_COLS: u16 = 400;

/// A terminal's size in cells. Never zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TermSize {
    pub rows: u16,
    pub cols: u16,
}

impl TermSize {
    /// A size, each side at least one cell and at most [`MAX_TERM_ROWS`] by
    /// [`MAX_TERM_COLS`].
    pub fn new(rows: u16, cols: u16) -> Self {
        Self {
            rows: rows.clamp(1, MAX_TERM_ROWS),
            cols: cols.clamp(1, MAX_TERM_COLS),
        }
    }

    /// The terminal inside a window of geometry `rect`: the window less its border.
    pub fn inside(rect: Rect) -> Self {
        Self::new(rect.h.saturating_sub(2), rect.w.saturating_sub(2))
    }

    /// The terminal of shell window `window`: inside its geometry, or, maximized by a client
    /// that said its desktop area, inside that area.
    pub fn of_window(window: &Window) -> Self {
        match (window.maximized, window.maximized_area) {
            (true, Some(area)) => Self::inside(area),
            _ => Self::inside(window.rect),
        }
    }

    fn nonzero(self) -> (NonZeroU16, NonZeroU16) {
        let side = |n: u16| NonZeroU16::new(n.max(1)).unwrap_or(NonZeroU16::MIN);
        (side(self.rows), side(self.cols))
    }
}

/// A terminal screen, the state that decides how its input is encoded (cursor keys, mouse
/// reporting, bracketed paste), and the lines that scrolled off its top ([`History`]).
pub struct Terminal {
    /// The emulator keeps no scrollback of its own: it hands each line that leaves the
    /// screen to the history.
    parser: vt100::Parser<History>,
}

impl Terminal {
    /// A blank terminal without scrollback.
    pub fn new(size: TermSize) -> Self {
        Self::with_history(size, History::new(0))
    }

    /// A blank terminal that keeps `history` and adds to it.
    pub fn with_history(size: TermSize, history: History) -> Self {
        let (rows, cols) = size.nonzero();
        Self {
            parser: vt100::Parser::new_with_callbacks(rows, cols, 0, history),
        }
    }

    /// A terminal showing what `image` (from [`Terminal::image`]) describes, without
    /// scrollback.
    pub fn from_image(size: TermSize, image: &str) -> Self {
        let mut terminal = Self::new(size);
        terminal.feed(image.as_bytes());
        terminal
    }

    /// Shows what `image` describes instead of the screen, keeping the scrollback. When
    /// `skipped` bytes of output were not recorded before it, the rows the screen showed
    /// go to the scrollback first, then a line that says so.
    pub fn show_image(&mut self, size: TermSize, image: &str, skipped: u64) {
        if skipped > 0 && !self.screen().alternate_screen() {
            self.push_screen_to_history();
            self.parser
                .callbacks_mut()
                .push(history::skipped_line(skipped));
        }
        let history = std::mem::take(self.parser.callbacks_mut());
        *self = Self::with_history(size, history);
        self.feed(image.as_bytes());
    }

    /// Scrolls the screen's rows, down to its last that is not blank, off the top.
    fn push_screen_to_history(&mut self) {
        let (rows, cols) = self.parser.screen().size();
        let used = self
            .parser
            .screen()
            .rows(0, cols.get())
            .enumerate()
            .filter(|(_, row)| !row.trim_end().is_empty())
            .map(|(index, _)| index + 1)
            .last()
            .unwrap_or(0);
        if used > 0 {
            let scroll = format!("\x1b[r\x1b[{};1H{}", rows.get(), "\n".repeat(used));
            self.parser.process(scroll.as_bytes());
        }
    }

    /// The lines that scrolled off the top.
    pub fn history(&self) -> &History {
        self.parser.callbacks()
    }

    pub fn size(&self) -> TermSize {
        let (rows, cols) = self.parser.screen().size();
        TermSize {
            rows: rows.get(),
            cols: cols.get(),
        }
    }

    /// Takes in output, as the program wrote it (escape sequences may be cut anywhere).
    pub fn feed(&mut self, output: &[u8]) {
        // `CSI 3 J` (what `clear` writes after clearing the screen) erases the scrollback, as
        // in xterm and tmux; the emulator keeps none of its own, so it does not tell.
        let mut rest = output;
        while let Some(at) = find(rest, ERASE_SCROLLBACK) {
            let (head, tail) = rest.split_at(at + ERASE_SCROLLBACK.len());
            self.parser.process(head);
            self.parser.callbacks_mut().clear();
            rest = tail;
        }
        self.parser.process(rest);
    }

    /// Changes the size; text beyond the new edges is cut, as xterm does.
    pub fn resize(&mut self, size: TermSize) {
        let (rows, cols) = size.nonzero();
        self.parser.set_size(rows, cols);
    }

    pub fn screen(&self) -> &vt100::Screen {
        self.parser.screen()
    }

    /// Escape sequences that draw this screen on a blank terminal of the same size: its
    /// text and colours, the cursor, the input modes, and whether it is the alternate screen
    /// (a client that starts from an image taken while a full-screen program runs does not
    /// hold the screen under it: the daemon sends a new image when the program leaves).
    pub fn image(&self) -> String {
        let screen = self.parser.screen();
        let state = screen.state_formatted();
        if screen.alternate_screen() {
            let mut image = String::with_capacity(ENTER_ALTERNATE.len() + state.len());
            image.push_str(ENTER_ALTERNATE);
            image.push_str(&state);
            image
        } else {
            state
        }
    }

    /// The screen's text, one line per row, trailing blanks trimmed.
    pub fn text(&self) -> String {
        let (_, cols) = self.parser.screen().size();
        self.parser
            .screen()
            .rows(0, cols.get())
            .map(|row| row.trim_end().to_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The cursor as (row, column) from the top left, when it is shown.
    pub fn cursor(&self) -> Option<(u16, u16)> {
        let screen = self.parser.screen();
        (!screen.hide_cursor()).then(|| screen.cursor_position())
    }
}

impl Clone for Terminal {
    fn clone(&self) -> Self {
        let mut copy = Self::with_history(self.size(), self.history().clone());
        copy.feed(self.image().as_bytes());
        copy
    }
}

/// Two terminals are equal when they show the same: same size, the same image and the same
/// scrollback.
impl PartialEq for Terminal {
    fn eq(&self, other: &Self) -> bool {
        self.size() == other.size()
            && self.image() == other.image()
            && self.history() == other.history()
    }
}

impl fmt::Debug for Terminal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Terminal")
            .field("size", &self.size())
            .field("text", &self.text())
            .field("history", &self.history().len())
            .finish()
    }
}

/// On the wire and on disk a terminal is its size, its image and its scrollback.
#[derive(Serialize, Deserialize)]
struct Stored {
    rows: u16,
    cols: u16,
    image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    history: Option<history::Stored>,
}

impl Serialize for Terminal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let size = self.size();
        Stored {
            rows: size.rows,
            cols: size.cols,
            image: self.image(),
            history: (self.history().limit() > 0).then(|| self.history().into()),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Terminal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = Stored::deserialize(deserializer)?;
        let history = stored.history.map(History::from).unwrap_or_default();
        let mut terminal = Terminal::with_history(TermSize::new(stored.rows, stored.cols), history);
        terminal.feed(stored.image.as_bytes());
        Ok(terminal)
    }
}

#[cfg(test)]
mod tests;
