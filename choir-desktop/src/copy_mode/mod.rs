//! Copy mode (`C-a [`, as in tmux): a shell window's scrollback and screen held still, to
//! move through with the keys, the wheel and the mouse, to select and copy from, and to
//! search (`/`, `?`, `n`, `N`). It belongs to one client: looking back changes nothing for
//! anyone else, and the shell's output goes on underneath.

mod text;

pub use text::Query;

use std::ops::Range;

use choir_proto::terminal::Terminal;
use choir_proto::{thousands, WindowId};

use crate::key::{Key, KeyCode};
use text::CellText;

/// Lines one turn of the wheel scrolls.
pub const WHEEL_LINES: u64 = 3;

/// A place among a terminal's lines: a line number (see [`Terminal::first_line`]) and a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: u64,
    pub col: u16,
}

/// What a key or a click in copy mode comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Stay,
    /// Copy mode ends.
    Leave,
    /// This text goes to the clipboard, and copy mode ends.
    Copy(String),
    /// This text goes to the clipboard; copy mode goes on (a selection made with the mouse).
    CopyAndStay(String),
}

/// What the mouse did, on a cell of the window's screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Click {
    Down,
    Drag,
    Up,
}

/// How a client draws a window in copy mode.
#[derive(Debug)]
pub struct CopyView {
    /// The lines in view, as a screen without a cursor.
    pub screen: Terminal,
    /// Cells to show as selected or found, row by row.
    pub marks: Vec<Mark>,
    /// The copy-mode cursor, as (row, column) of the view.
    pub cursor: (u16, u16),
}

/// Cells of one row of a [`CopyView`] shown apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub row: u16,
    pub cols: Range<u16>,
    pub kind: MarkKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkKind {
    Selection,
    Found,
}

/// A search being typed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Prompt {
    backward: bool,
    text: String,
}

/// One client's copy mode in one shell window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyMode {
    window_id: WindowId,
    /// The line at the top of the view.
    top: u64,
    cursor: Pos,
    /// Where the selection began; none while nothing is selected.
    anchor: Option<Pos>,
    /// The last search, and its direction.
    search: Option<(Query, bool)>,
    prompt: Option<Prompt>,
    /// Entered with the wheel: scrolling back down to the bottom leaves.
    by_wheel: bool,
    /// A word for the hint line: how a search went.
    said: Option<String>,
}

impl CopyMode {
    /// Copy mode in window `window_id`, its view where the screen is, its cursor on the
    /// terminal's.
    pub fn new(window_id: WindowId, terminal: &Terminal) -> Self {
        let (row, col) = terminal.screen().cursor_position();
        Self {
            window_id,
            top: terminal.screen_start(),
            cursor: Pos {
                line: terminal.screen_start() + u64::from(row),
                col,
            },
            anchor: None,
            search: None,
            prompt: None,
            by_wheel: false,
            said: None,
        }
    }

    /// Copy mode entered by turning the wheel up.
    pub fn by_wheel(window_id: WindowId, terminal: &Terminal) -> Self {
        Self {
            by_wheel: true,
            ..Self::new(window_id, terminal)
        }
    }

    pub fn window_id(&self) -> WindowId {
        self.window_id
    }

    /// Lines between the view's bottom and the screen's.
    pub fn back(&self, terminal: &Terminal) -> u64 {
        let top = self
            .top
            .clamp(terminal.first_line(), terminal.screen_start());
        terminal.screen_start() - top
    }

    /// Handles a key.
    pub fn on_key(&mut self, key: Key, terminal: &Terminal) -> Outcome {
        self.keep_within(terminal);
        self.said = None;
        if let Some(mut prompt) = self.prompt.take() {
            match key.code {
                KeyCode::Esc => {}
                KeyCode::Enter => {
                    if !prompt.text.is_empty() {
                        self.search = Some((Query::new(&prompt.text), prompt.backward));
                    }
                    self.find_next(terminal, false);
                }
                // Backspace on an empty search gives it up, as Esc does.
                KeyCode::Backspace if prompt.text.is_empty() => {}
                KeyCode::Backspace => {
                    prompt.text.pop();
                    self.prompt = Some(prompt);
                }
                KeyCode::Char(c) if !key.mods.ctrl && !key.mods.alt => {
                    prompt.text.push(c);
                    self.prompt = Some(prompt);
                }
                _ => self.prompt = Some(prompt),
            }
            return Outcome::Stay;
        }
        let rows = u64::from(terminal.size().rows);
        let ctrl = key.mods.ctrl;
        match key.code {
            KeyCode::Char('q') if !ctrl => return Outcome::Leave,
            KeyCode::Esc if self.anchor.is_some() => self.anchor = None,
            KeyCode::Esc => return Outcome::Leave,
            KeyCode::Char('c') if ctrl => return Outcome::Leave,
            KeyCode::Up | KeyCode::Char('k') if !ctrl => self.move_lines(terminal, -1),
            KeyCode::Down | KeyCode::Char('j') if !ctrl => self.move_lines(terminal, 1),
            KeyCode::Left | KeyCode::Char('h') if !ctrl => {
                self.cursor.col = self.cursor.col.saturating_sub(1)
            }
            KeyCode::Right | KeyCode::Char('l') if !ctrl => {
                self.cursor.col = (self.cursor.col + 1).min(terminal.size().cols - 1)
            }
            KeyCode::PageUp | KeyCode::Char('b') if key.code == KeyCode::PageUp || ctrl => {
                self.scroll(terminal, -(rows as i64))
            }
            KeyCode::PageDown | KeyCode::Char('f') if key.code == KeyCode::PageDown || ctrl => {
                self.scroll(terminal, rows as i64)
            }
            KeyCode::Char('u') if ctrl => self.scroll(terminal, -(rows as i64 / 2)),
            KeyCode::Char('d') if ctrl => self.scroll(terminal, rows as i64 / 2),
            KeyCode::Char('g') => self.go_to(terminal, terminal.first_line(), 0),
            KeyCode::Char('G') => {
                let last = terminal.end() - 1;
                self.go_to(terminal, last, 0)
            }
            KeyCode::Home | KeyCode::Char('0') => self.cursor.col = 0,
            KeyCode::Char('^') => {
                self.cursor.col = CellText::of(terminal, self.cursor.line).first_word_col()
            }
            KeyCode::End | KeyCode::Char('$') => {
                self.cursor.col = CellText::of(terminal, self.cursor.line).last_col()
            }
            KeyCode::Char('w') => self.word(terminal, true),
            KeyCode::Char('b') => self.word(terminal, false),
            KeyCode::Char('v' | ' ') => {
                self.anchor = match self.anchor {
                    Some(_) => None,
                    None => Some(self.cursor),
                }
            }
            KeyCode::Char('y') | KeyCode::Enter => return Outcome::Copy(self.selected(terminal)),
            KeyCode::Char('/') => {
                self.prompt = Some(Prompt {
                    backward: false,
                    text: String::new(),
                })
            }
            KeyCode::Char('?') => {
                self.prompt = Some(Prompt {
                    backward: true,
                    text: String::new(),
                })
            }
            KeyCode::Char('n') => self.find_next(terminal, false),
            KeyCode::Char('N') => self.find_next(terminal, true),
            _ => {}
        }
        Outcome::Stay
    }

    /// The wheel turned `lines` lines (up when negative). Scrolling down past the bottom
    /// leaves copy mode when the wheel began it.
    pub fn wheel(&mut self, terminal: &Terminal, lines: i64) -> Outcome {
        self.keep_within(terminal);
        if lines > 0 && self.by_wheel && self.back(terminal) <= lines as u64 {
            return Outcome::Leave;
        }
        self.scroll(terminal, lines);
        Outcome::Stay
    }

    /// The mouse on cell (`row`, `col`) of the view: a press puts the cursor there, a drag
    /// selects from the press, and letting go copies what was selected.
    pub fn click(&mut self, terminal: &Terminal, row: u16, col: u16, click: Click) -> Outcome {
        self.keep_within(terminal);
        let size = terminal.size();
        let at = Pos {
            line: (self.top + u64::from(row.min(size.rows - 1))).min(terminal.end() - 1),
            col: col.min(size.cols - 1),
        };
        match click {
            Click::Down => {
                self.cursor = at;
                self.anchor = None;
            }
            Click::Drag => {
                self.anchor.get_or_insert(self.cursor);
                self.cursor = at;
            }
            Click::Up if self.anchor.is_some_and(|anchor| anchor != at) => {
                self.cursor = at;
                return Outcome::CopyAndStay(self.selected(terminal));
            }
            Click::Up => {}
        }
        Outcome::Stay
    }

    /// What the client draws.
    pub fn view(&self, terminal: &Terminal) -> CopyView {
        let mut this = self.clone();
        this.keep_within(terminal);
        let rows = terminal.size().rows;
        let mut marks = Vec::new();
        let selection = this.anchor.map(|anchor| {
            if anchor <= this.cursor {
                (anchor, this.cursor)
            } else {
                (this.cursor, anchor)
            }
        });
        let query = this.query();
        for row in 0..rows {
            let line = this.top + u64::from(row);
            if line >= terminal.end() {
                break;
            }
            if let Some((from, to)) =
                selection.filter(|(from, to)| (from.line..=to.line).contains(&line))
            {
                let start = if line == from.line { from.col } else { 0 };
                let end = if line == to.line {
                    to.col + 1
                } else {
                    terminal.size().cols
                };
                marks.push(Mark {
                    row,
                    cols: start..end.max(start + 1),
                    kind: MarkKind::Selection,
                });
            }
            if let Some(query) = &query {
                for (start, end) in CellText::of(terminal, line).find(query) {
                    marks.push(Mark {
                        row,
                        cols: start..end + 1,
                        kind: MarkKind::Found,
                    });
                }
            }
        }
        CopyView {
            screen: terminal.scrolled(this.top),
            marks,
            cursor: ((this.cursor.line - this.top) as u16, this.cursor.col),
        }
    }

    /// What the hint line says: the keys, or the search being typed, and where the view is.
    pub fn hint(&self, terminal: &Terminal) -> String {
        if let Some(prompt) = &self.prompt {
            let sign = if prompt.backward { '?' } else { '/' };
            return format!("{sign}{}▏ Enter search · Esc cancel", prompt.text);
        }
        let back = self.back(terminal);
        let kept = terminal.screen_start() - terminal.first_line();
        let place = format!("[{}/{}]", thousands(back), thousands(kept));
        let keys = if self.anchor.is_some() {
            "selecting: move · y/Enter copy · Esc clear · q leave"
        } else {
            "copy mode: ↑↓ PgUp/PgDn g/G move · v select · y copy · / ? search · n/N · q leave"
        };
        match &self.said {
            Some(said) => format!("{place} {said} · {keys}"),
            None => format!("{place} {keys}"),
        }
    }

    /// The search in force: the one being typed, else the last one.
    fn query(&self) -> Option<Query> {
        match &self.prompt {
            Some(prompt) if !prompt.text.is_empty() => Some(Query::new(&prompt.text)),
            Some(_) => None,
            None => self.search.as_ref().map(|(query, _)| query.clone()),
        }
    }

    /// Brings the view and the cursor back among the lines the terminal keeps (old lines
    /// are dropped, the window may have been resized).
    fn keep_within(&mut self, terminal: &Terminal) {
        let first = terminal.first_line();
        let last = terminal.end() - 1;
        let rows = u64::from(terminal.size().rows);
        self.top = self.top.clamp(first, terminal.screen_start());
        self.cursor.line = self.cursor.line.clamp(first, last);
        self.cursor.col = self.cursor.col.min(terminal.size().cols - 1);
        if let Some(anchor) = &mut self.anchor {
            anchor.line = anchor.line.clamp(first, last);
        }
        if self.cursor.line < self.top {
            self.top = self.cursor.line;
        } else if self.cursor.line >= self.top + rows {
            self.top = self.cursor.line + 1 - rows;
        }
    }

    fn move_lines(&mut self, terminal: &Terminal, by: i64) {
        let line = self.cursor.line.saturating_add_signed(by);
        self.go_to(terminal, line, self.cursor.col);
    }

    /// Moves the view `by` lines, the cursor with it.
    fn scroll(&mut self, terminal: &Terminal, by: i64) {
        let top = self
            .top
            .saturating_add_signed(by)
            .clamp(terminal.first_line(), terminal.screen_start());
        let moved = top as i64 - self.top as i64;
        self.top = top;
        self.cursor.line = self.cursor.line.saturating_add_signed(moved);
        self.keep_within(terminal);
    }

    fn go_to(&mut self, terminal: &Terminal, line: u64, col: u16) {
        self.cursor = Pos { line, col };
        self.keep_within(terminal);
    }

    /// To the start of the next word (or the previous), across lines.
    fn word(&mut self, terminal: &Terminal, forward: bool) {
        let mut line = self.cursor.line;
        let mut first = true;
        loop {
            let starts = CellText::of(terminal, line).word_starts();
            let found = if forward {
                starts
                    .into_iter()
                    .find(|col| !first || *col > self.cursor.col)
            } else {
                starts
                    .into_iter()
                    .rev()
                    .find(|col| !first || *col < self.cursor.col)
            };
            if let Some(col) = found {
                return self.go_to(terminal, line, col);
            }
            first = false;
            line = match forward {
                true if line + 1 < terminal.end() => line + 1,
                false if line > terminal.first_line() => line - 1,
                _ => return,
            };
        }
    }

    /// Moves to the next match of the search (`reverse`: the other way), wrapping around,
    /// and says which of how many it is.
    fn find_next(&mut self, terminal: &Terminal, reverse: bool) {
        let Some((query, backward)) = self.search.clone() else {
            self.said = Some("no search yet: / or ?".into());
            return;
        };
        let backward = backward != reverse;
        let mut all = Vec::new();
        for line in terminal.first_line()..terminal.end() {
            all.extend(
                CellText::of(terminal, line)
                    .find(&query)
                    .into_iter()
                    .map(|(col, _)| Pos { line, col }),
            );
        }
        let next = if backward {
            all.iter()
                .rev()
                .find(|at| **at < self.cursor)
                .or(all.last())
        } else {
            all.iter().find(|at| **at > self.cursor).or(all.first())
        };
        match next.copied() {
            Some(at) => {
                let index = all.iter().position(|other| *other == at).unwrap_or(0);
                self.go_to(terminal, at.line, at.col);
                self.said = Some(format!(
                    "match {} of {}",
                    thousands((index + 1) as u64),
                    thousands(all.len() as u64)
                ));
            }
            None => self.said = Some(format!("“{}” not found", query.text())),
        }
    }

    /// The selection's text (the cursor's line when nothing is selected): lines that wrap
    /// join their next without a newline.
    fn selected(&self, terminal: &Terminal) -> String {
        let (from, to) = match self.anchor {
            Some(anchor) if anchor <= self.cursor => (anchor, self.cursor),
            Some(anchor) => (self.cursor, anchor),
            None => (
                Pos {
                    line: self.cursor.line,
                    col: 0,
                },
                Pos {
                    line: self.cursor.line,
                    col: u16::MAX,
                },
            ),
        };
        let mut out = String::new();
        for line in from.line..=to.line {
            let text = CellText::of(terminal, line);
            let start = if line == from.line { from.col } else { 0 };
            let end = if line == to.line { to.col } else { u16::MAX };
            out.push_str(&text.between(start, end));
            if line != to.line && !(text.wrapped && end == u16::MAX) {
                out.push('\n');
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
