//! A line of a terminal as characters on cells: where each character starts, which
//! characters a span of cells covers, and where a search finds its query.

use choir_proto::terminal::Terminal;

/// A line's characters and the cell each starts at.
pub struct CellText {
    chars: Vec<char>,
    /// `starts[i]` is the cell character `i` starts at; one more entry: the width.
    starts: Vec<u16>,
    /// The line goes on into the next one.
    pub wrapped: bool,
}

impl CellText {
    pub fn new(text: &str, wrapped: bool) -> Self {
        let chars: Vec<char> = text.chars().collect();
        let mut starts = Vec::with_capacity(chars.len() + 1);
        let mut col = 0u16;
        for c in &chars {
            starts.push(col);
            let width = unicode_width::UnicodeWidthChar::width(*c).unwrap_or(0) as u16;
            col = col.saturating_add(width);
        }
        starts.push(col);
        Self {
            chars,
            starts,
            wrapped,
        }
    }

    /// Line `number` of `terminal`; an empty line past its ends.
    pub fn of(terminal: &Terminal, number: u64) -> Self {
        let (text, wrapped) = terminal.line_text(number).unwrap_or_default();
        Self::new(&text, wrapped)
    }

    /// Cells the text takes.
    pub fn width(&self) -> u16 {
        self.starts.last().copied().unwrap_or(0)
    }

    /// The index of the character on cell `col` (the end when past the text).
    fn index_at(&self, col: u16) -> usize {
        match self.starts[..self.chars.len()].binary_search(&col) {
            Ok(index) => index,
            // Inside a wide character: that character.
            Err(next) => next.saturating_sub(1).min(self.chars.len()),
        }
    }

    /// The text on cells `from..=to`, trailing blanks dropped unless the line wraps.
    pub fn between(&self, from: u16, to: u16) -> String {
        let start = self.index_at(from);
        let end = if to >= self.width() {
            self.chars.len()
        } else {
            self.index_at(to) + 1
        };
        let text: String = self.chars[start..end.max(start)].iter().collect();
        if self.wrapped && to >= self.width() {
            text
        } else {
            text.trim_end().to_owned()
        }
    }

    /// The cell of the first character that is not blank.
    pub fn first_word_col(&self) -> u16 {
        self.chars
            .iter()
            .position(|c| !c.is_whitespace())
            .map_or(0, |index| self.starts[index])
    }

    /// The cell of the last character that is not blank.
    pub fn last_col(&self) -> u16 {
        self.chars
            .iter()
            .rposition(|c| !c.is_whitespace())
            .map_or(0, |index| self.starts[index])
    }

    /// The cells of the starts of words (runs of characters that are not blank).
    pub fn word_starts(&self) -> Vec<u16> {
        (0..self.chars.len())
            .filter(|&i| {
                !self.chars[i].is_whitespace() && (i == 0 || self.chars[i - 1].is_whitespace())
            })
            .map(|i| self.starts[i])
            .collect()
    }

    /// Where `query` occurs, as (first cell, last cell), left to right. ASCII letters
    /// match either case unless the query has a capital (as vim's smartcase); other
    /// characters match only themselves (case tables would weigh on the browser's code).
    pub fn find(&self, query: &Query) -> Vec<(u16, u16)> {
        let needle = &query.chars;
        if needle.is_empty() || needle.len() > self.chars.len() {
            return Vec::new();
        }
        let mut found = Vec::new();
        let mut i = 0;
        while i + needle.len() <= self.chars.len() {
            let hit = needle
                .iter()
                .zip(&self.chars[i..])
                .all(|(want, have)| query.same(*want, *have));
            if hit {
                let last = i + needle.len() - 1;
                let end = self.starts[last + 1]
                    .saturating_sub(1)
                    .max(self.starts[last]);
                found.push((self.starts[i], end));
                i += needle.len();
            } else {
                i += 1;
            }
        }
        found
    }
}

/// What a search looks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    chars: Vec<char>,
    ignore_case: bool,
}

impl Query {
    pub fn new(text: &str) -> Self {
        Self {
            chars: text.chars().collect(),
            ignore_case: !text.chars().any(|c| c.is_ascii_uppercase()),
        }
    }

    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    /// Where it occurs in `text`, as byte ranges, left to right.
    pub fn find_in(&self, text: &str) -> Vec<std::ops::Range<usize>> {
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let n = self.chars.len();
        let mut found = Vec::new();
        if n == 0 {
            return found;
        }
        let mut i = 0;
        while i + n <= chars.len() {
            let hit = self
                .chars
                .iter()
                .zip(&chars[i..])
                .all(|(want, (_, have))| self.same(*want, *have));
            if hit {
                let end = chars.get(i + n).map_or(text.len(), |(at, _)| *at);
                found.push(chars[i].0..end);
                i += n;
            } else {
                i += 1;
            }
        }
        found
    }

    fn same(&self, want: char, have: char) -> bool {
        want == have || (self.ignore_case && have.eq_ignore_ascii_case(&want))
    }
}
