//! Soft wrap of a rope for the editor: each logical line breaks into rows at spaces (inside a
//! word only when the word is longer than a row). Only the lines being looked at are wrapped,
//! so the cost of a frame follows the window's size, not the document's.

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
pub fn line_chars(rope: &Rope, line: usize) -> Vec<char> {
    let mut chars: Vec<char> = rope.line(line).chars().collect();
    while matches!(chars.last(), Some('\n' | '\r')) {
        chars.pop();
    }
    chars
}

/// Where each row of a line starts (char offsets within the line); never empty.
pub fn row_starts(chars: &[char], width: usize) -> Vec<usize> {
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

/// The row holding char `pos`, and the display column of `pos` in it.
pub fn locate(rope: &Rope, pos: usize, width: usize) -> (RowRef, usize) {
    let pos = pos.min(rope.len_chars());
    let line = rope.char_to_line(pos);
    let line_start = rope.line_to_char(line);
    let chars = line_chars(rope, line);
    let starts = row_starts(&chars, width);
    let offset = (pos - line_start).min(chars.len());
    let row = starts
        .iter()
        .rposition(|start| *start <= offset)
        .unwrap_or(0);
    let col = chars[starts[row]..offset]
        .iter()
        .map(|c| char_width(*c))
        .sum();
    (
        RowRef {
            line,
            row,
            start: line_start + starts[row],
        },
        col,
    )
}

/// The row `n` rows after `from` (or the last row of the text). Each line on the way is
/// wrapped once.
pub fn rows_after(rope: &Rope, from: RowRef, mut n: usize, width: usize) -> RowRef {
    let lines = rope.len_lines();
    let (mut line, mut row) = (from.line, from.row);
    let mut starts = row_starts(&line_chars(rope, line), width);
    while n > 0 {
        if row + 1 < starts.len() {
            row += 1;
        } else if line + 1 < lines {
            line += 1;
            row = 0;
            starts = row_starts(&line_chars(rope, line), width);
        } else {
            break;
        }
        n -= 1;
    }
    let row = row.min(starts.len() - 1);
    RowRef {
        line,
        row,
        start: rope.line_to_char(line) + starts[row],
    }
}

/// The row `n` rows before `from` (or the first row).
pub fn rows_before(rope: &Rope, from: RowRef, mut n: usize, width: usize) -> RowRef {
    let (mut line, mut row) = (from.line, from.row);
    let mut starts = row_starts(&line_chars(rope, line), width);
    while n > 0 {
        if row > 0 {
            row -= 1;
        } else if line > 0 {
            line -= 1;
            starts = row_starts(&line_chars(rope, line), width);
            row = starts.len() - 1;
        } else {
            break;
        }
        n -= 1;
    }
    let row = row.min(starts.len() - 1);
    RowRef {
        line,
        row,
        start: rope.line_to_char(line) + starts[row],
    }
}

/// The chars of one row and where it ends (exclusive), given its start.
pub fn row_text(rope: &Rope, row: RowRef, width: usize) -> (Vec<char>, usize) {
    let chars = line_chars(rope, row.line);
    let starts = row_starts(&chars, width);
    let from = starts[row.row.min(starts.len() - 1)];
    let to = starts.get(row.row + 1).copied().unwrap_or(chars.len());
    let line_start = rope.line_to_char(row.line);
    (chars[from..to].to_vec(), line_start + to)
}

/// The char position in `row` closest to display column `col`.
pub fn position_at(rope: &Rope, row: RowRef, col: usize, width: usize) -> usize {
    let (chars, end) = row_text(rope, row, width);
    let mut x = 0;
    for (i, c) in chars.iter().enumerate() {
        let w = char_width(*c);
        if x + w > col {
            return row.start + i;
        }
        x += w;
    }
    // Past the end: the row's end, but a wrapped row's end is the next row's start, so stay
    // before its last char unless this is the line's last row.
    let line_rows = row_starts(&line_chars(rope, row.line), width).len();
    if row.row + 1 < line_rows && end > row.start {
        end - 1
    } else {
        end
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
        let (row, col) = locate(&rope, 9, 8);
        assert_eq!((row.line, row.row, row.start, col), (0, 1, 8, 1));
        let next = rows_after(&rope, row, 1, 8);
        assert_eq!((next.line, next.row, next.start), (1, 0, 14));
        assert_eq!(rows_before(&rope, next, 2, 8).start, 0);
        assert_eq!(
            rows_after(&rope, next, 10, 8).line,
            2,
            "stops at the last row"
        );
        assert_eq!(position_at(&rope, next, 99, 8), 18);
        assert_eq!(
            position_at(
                &rope,
                RowRef {
                    line: 0,
                    row: 0,
                    start: 0
                },
                99,
                8
            ),
            7
        );
    }
}
