//! A shell window's scrollback: the lines that scrolled off the top of its main screen,
//! oldest first, kept with their colours, bounded. The emulator reports each line as it
//! leaves the screen ([`vt100::Callbacks::on_scroll`]), so every fold of the same output
//! (daemon, terminal clients, browser, a replay) holds the same history.

use std::collections::VecDeque;
use std::fmt::{self, Write as _};

use serde::{Deserialize, Serialize};
use vt100::capture::{basic_formatted_to_plain, BasicFormattedCaptureState, RowContents};

/// Lines a shell window keeps when nothing says otherwise.
pub const DEFAULT_SCROLLBACK: u32 = 10_000;
/// Most lines a shell window keeps, whatever the settings say.
pub const MAX_SCROLLBACK: u32 = 1_000_000;

/// One line of scrollback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Its text with SGR sequences for colours and attributes, from the default look on
    /// (`vt100`'s "basic formatted" form).
    #[serde(rename = "s")]
    pub styled: String,
    /// The line went on into the next one (the program wrote past the right edge).
    #[serde(rename = "w", default, skip_serializing_if = "std::ops::Not::not")]
    pub wrapped: bool,
}

impl Line {
    /// A line of plain text in the default look.
    pub fn plain(text: &str) -> Self {
        Self {
            styled: text.to_owned(),
            wrapped: false,
        }
    }

    /// Its text without colours.
    pub fn text(&self) -> String {
        basic_formatted_to_plain(&self.styled).collect()
    }
}

/// The scrollback of one terminal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct History {
    lines: VecDeque<Line>,
    limit: usize,
    /// Lines dropped from the front to keep within the limit, since the terminal began: a
    /// line's number (see [`History::first`]) stays the same while it is kept.
    dropped: u64,
}

impl History {
    /// An empty history that keeps at most `limit` lines (none: no history).
    pub fn new(limit: u32) -> Self {
        Self {
            lines: VecDeque::new(),
            limit: limit.min(MAX_SCROLLBACK) as usize,
            dropped: 0,
        }
    }

    pub fn limit(&self) -> u32 {
        self.limit as u32
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The number of the oldest line kept: lines are numbered from the first that ever
    /// scrolled off, so a number names the same line while it is kept.
    pub fn first(&self) -> u64 {
        self.dropped
    }

    /// The line numbered `number`, if it is kept.
    pub fn get(&self, number: u64) -> Option<&Line> {
        let index = number.checked_sub(self.dropped)?;
        self.lines.get(usize::try_from(index).ok()?)
    }

    pub fn lines(&self) -> impl DoubleEndedIterator<Item = &Line> + ExactSizeIterator {
        self.lines.iter()
    }

    /// Lets every line go (`clear`), their numbers with them.
    pub fn clear(&mut self) {
        self.dropped += self.lines.len() as u64;
        self.lines.clear();
    }

    /// Adds a line at the end, dropping the oldest beyond the limit.
    pub fn push(&mut self, line: Line) {
        if self.limit == 0 {
            self.dropped += 1;
            return;
        }
        if self.lines.len() == self.limit {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back(line);
    }
}

impl vt100::Callbacks for History {
    fn on_scroll(&mut self, contents: RowContents<'_>, alternate_screen: bool) {
        // A full-screen program's scrolling is not the shell's history (tmux and xterm
        // keep none for the alternate screen either).
        if alternate_screen {
            return;
        }
        if self.limit == 0 {
            self.dropped += 1;
            return;
        }
        let mut state = BasicFormattedCaptureState::new();
        let mut styled = String::new();
        // Writing into a String cannot fail.
        let _ = contents.write_formatted_basic(&mut styled, &mut state);
        // The state now says whether a newline would come before the next row: none when
        // this one wrapped. The probe stops at the first character written.
        let mut probe = FirstChar(None);
        let _ = contents.write_formatted_basic(&mut probe, &mut state);
        let wrapped = probe.0 != Some('\n');
        self.push(Line { styled, wrapped });
    }
}

/// A writer that keeps the first character written and refuses the rest.
struct FirstChar(Option<char>);

impl fmt::Write for FirstChar {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        match s.chars().next() {
            Some(c) => {
                self.0.get_or_insert(c);
                Err(fmt::Error)
            }
            None => Ok(()),
        }
    }
}

/// On the wire and on disk: the limit, how many were dropped, and the lines.
#[derive(Serialize, Deserialize)]
pub(super) struct Stored {
    limit: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    dropped: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    lines: Vec<Line>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl From<&History> for Stored {
    fn from(history: &History) -> Self {
        Stored {
            limit: history.limit(),
            dropped: history.dropped,
            lines: history.lines.iter().cloned().collect(),
        }
    }
}

impl From<Stored> for History {
    fn from(stored: Stored) -> Self {
        let mut history = History::new(stored.limit);
        history.dropped = stored.dropped;
        let skip = stored.lines.len().saturating_sub(history.limit);
        history.dropped += skip as u64;
        history.lines.extend(stored.lines.into_iter().skip(skip));
        history
    }
}

/// A line that says `count` bytes of output were not recorded here.
pub(super) fn skipped_line(count: u64) -> Line {
    let mut styled = String::new();
    let _ = write!(
        styled,
        "\x1b[2m⋯ {} of output skipped ⋯\x1b[m",
        crate::world::byte_count(count)
    );
    Line {
        styled,
        wrapped: false,
    }
}
