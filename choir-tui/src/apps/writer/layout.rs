//! Soft wrap of a rope for the editor: each logical line breaks into rows at spaces (inside a
//! word only when the word is longer than a row). Only the lines being looked at are wrapped,
//! so the cost of a frame follows the window's size, not the document's.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use choir_proto::Rope;
use unicode_width::UnicodeWidthChar;

/// A place on screen, in rows counted through the whole text: which logical line, which of
/// its rows, and the char offset where that row starts in the rope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowRef {
    pub line: usize,
    pub row: usize,
    pub start: usize,
}

pub fn char_width(c: char) -> usize {
    if c == '\t' {
        return 4;
    }
    c.width().unwrap_or(0)
}

/// The chars of logical line `line`, without its line break.
fn line_chars(rope: &Rope, line: usize) -> Vec<char> {
    let mut chars: Vec<char> = rope.line(line).chars().collect();
    while matches!(chars.last(), Some('\n' | '\r')) {
        chars.pop();
    }
    chars
}

/// Where each row of a line starts (char offsets within the line); never empty.
fn row_starts(chars: &[char], width: usize) -> Vec<usize> {
    let width = width.max(1);
    let mut starts = vec![0];
    let mut row_start = 0;
    let mut col = 0;
    // The char after the last space of the current row: the preferred break.
    let mut after_space = None;
    for (i, c) in chars.iter().enumerate() {
        let w = char_width(*c);
        if col + w > width && i > row_start {
            let at = match after_space {
                Some(at) if at > row_start && at <= i => at,
                _ => i,
            };
            starts.push(at);
            row_start = at;
            col = chars[at..i].iter().map(|c| char_width(*c)).sum();
            after_space = None;
        }
        col += w;
        if *c == ' ' {
            after_space = Some(i + 1);
        }
    }
    starts
}

/// One logical line, wrapped: its chars (without the line break) and where each row starts.
#[derive(Debug)]
pub struct Line {
    pub chars: Vec<char>,
    pub starts: Vec<usize>,
}

/// Most wrapped lines kept: a screenful several times over.
const CACHE_LINES: usize = 1024;

/// Wrapped lines kept between calls, for one revision of the text at one width. Wrapping a
/// long paragraph is the costly part of a frame, and a keystroke asks for the cursor's line
/// several times (to find the cursor, keep it in view, draw).
#[derive(Debug, Default, Clone)]
pub struct WrapCache {
    key: (u64, usize),
    lines: HashMap<usize, Arc<Line>>,
}

/// The wrapped view of a rope at one width.
pub struct Layout<'a> {
    rope: &'a Rope,
    width: usize,
    revision: u64,
    cache: &'a RefCell<WrapCache>,
}

impl<'a> Layout<'a> {
    /// `revision` must change whenever the rope does.
    pub fn new(rope: &'a Rope, width: usize, revision: u64, cache: &'a RefCell<WrapCache>) -> Self {
        Self {
            rope,
            width: width.max(1),
            revision,
            cache,
        }
    }

    /// Logical line `index`, wrapped.
    pub fn line(&self, index: usize) -> Arc<Line> {
        let mut cache = self.cache.borrow_mut();
        let key = (self.revision, self.width);
        if cache.key != key || cache.lines.len() >= CACHE_LINES {
            cache.key = key;
            cache.lines.clear();
        }
        cache
            .lines
            .entry(index)
            .or_insert_with(|| {
                let chars = line_chars(self.rope, index);
                let starts = row_starts(&chars, self.width);
                Arc::new(Line { chars, starts })
            })
            .clone()
    }

    fn row_ref(&self, line: usize, row: usize, starts: &[usize]) -> RowRef {
        let row = row.min(starts.len() - 1);
        RowRef {
            line,
            row,
            start: self.rope.line_to_char(line) + starts[row],
        }
    }

    /// The row holding char `pos`, and the display column of `pos` in it.
    pub fn locate(&self, pos: usize) -> (RowRef, usize) {
        let pos = pos.min(self.rope.len_chars());
        let line = self.rope.char_to_line(pos);
        let wrapped = self.line(line);
        let offset = (pos - self.rope.line_to_char(line)).min(wrapped.chars.len());
        let row = wrapped
            .starts
            .iter()
            .rposition(|start| *start <= offset)
            .unwrap_or(0);
        let col = wrapped.chars[wrapped.starts[row]..offset]
            .iter()
            .map(|c| char_width(*c))
            .sum();
        (self.row_ref(line, row, &wrapped.starts), col)
    }

    /// The row `n` rows after `from` (or the last row of the text).
    pub fn rows_after(&self, from: RowRef, mut n: usize) -> RowRef {
        let lines = self.rope.len_lines();
        let (mut line, mut row) = (from.line, from.row);
        let mut wrapped = self.line(line);
        while n > 0 {
            if row + 1 < wrapped.starts.len() {
                row += 1;
            } else if line + 1 < lines {
                line += 1;
                row = 0;
                wrapped = self.line(line);
            } else {
                break;
            }
            n -= 1;
        }
        self.row_ref(line, row, &wrapped.starts)
    }

    /// The row `n` rows before `from` (or the first row).
    pub fn rows_before(&self, from: RowRef, mut n: usize) -> RowRef {
        let (mut line, mut row) = (from.line, from.row);
        let mut wrapped = self.line(line);
        while n > 0 {
            if row > 0 {
                row -= 1;
            } else if line > 0 {
                line -= 1;
                wrapped = self.line(line);
                row = wrapped.starts.len() - 1;
            } else {
                break;
            }
            n -= 1;
        }
        self.row_ref(line, row, &wrapped.starts)
    }

    /// The char position in `row` closest to display column `col`.
    pub fn position_at(&self, row: RowRef, col: usize) -> usize {
        let wrapped = self.line(row.line);
        let index = row.row.min(wrapped.starts.len() - 1);
        let from = wrapped.starts[index];
        let last_row = index + 1 == wrapped.starts.len();
        let to = wrapped
            .starts
            .get(index + 1)
            .copied()
            .unwrap_or(wrapped.chars.len());
        let mut x = 0;
        for (i, c) in wrapped.chars[from..to].iter().enumerate() {
            let w = char_width(*c);
            if x + w > col {
                return row.start + i;
            }
            x += w;
        }
        // Past the end: the row's end, but a wrapped row's end is the next row's start, so
        // stay before its last char unless this is the line's last row.
        let end = row.start + (to - from);
        if !last_row && end > row.start {
            end - 1
        } else {
            end
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_break_at_spaces_and_inside_long_words() {
        let chars: Vec<char> = "the quick brown fox".chars().collect();
        assert_eq!(row_starts(&chars, 10), vec![0, 10]);
        let long: Vec<char> = "abcdefghij".chars().collect();
        assert_eq!(row_starts(&long, 4), vec![0, 4, 8]);
        let wide: Vec<char> = "漢字漢字".chars().collect();
        assert_eq!(row_starts(&wide, 5), vec![0, 2]);
        assert_eq!(row_starts(&[], 5), vec![0]);
    }

    #[test]
    fn locate_and_walk_rows() {
        let rope = Rope::from_str("one two three\nfour\n");
        let cache = RefCell::default();
        let layout = Layout::new(&rope, 8, 0, &cache);
        let (row, col) = layout.locate(9);
        assert_eq!((row.line, row.row, row.start, col), (0, 1, 8, 1));
        let next = layout.rows_after(row, 1);
        assert_eq!((next.line, next.row, next.start), (1, 0, 14));
        assert_eq!(layout.rows_before(next, 2).start, 0);
        assert_eq!(layout.rows_after(next, 10).line, 2, "stops at the last row");
        assert_eq!(layout.position_at(next, 99), 18);
        let first = RowRef {
            line: 0,
            row: 0,
            start: 0,
        };
        assert_eq!(layout.position_at(first, 99), 7);
    }

    #[test]
    fn the_cache_follows_the_revision_and_the_width() {
        let mut rope = Rope::from_str("aaaa bbbb");
        let cache = RefCell::default();
        assert_eq!(Layout::new(&rope, 5, 0, &cache).line(0).starts, vec![0, 5]);
        assert_eq!(Layout::new(&rope, 20, 0, &cache).line(0).starts, vec![0]);
        rope.insert(0, "cccc ");
        assert_eq!(
            Layout::new(&rope, 5, 1, &cache).line(0).starts,
            vec![0, 5, 10]
        );
    }
}
