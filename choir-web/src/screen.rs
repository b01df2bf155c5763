//! A shell window's screen as the browser draws it: each row as runs of cells that look the
//! same, with their CSS; and a key from the page as the terminal encoder takes it. Pure, so
//! they are tested on the host.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use choir_desktop::copy_mode::{Mark, MarkKind};
use choir_proto::terminal::vt100;

/// Cells of one row that look the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub text: String,
    /// Inline CSS for its colours and attributes (empty for the defaults).
    pub css: String,
    /// The cursor is on this run (a run of one cell).
    pub cursor: bool,
    /// Copy mode shows these cells as selected or found.
    pub mark: Option<MarkKind>,
}

impl Run {
    /// The run's CSS classes.
    pub fn classes(&self) -> Vec<&'static str> {
        let mark = self.mark.map(|kind| match kind {
            MarkKind::Selection => "selected",
            MarkKind::Found => "found",
        });
        [self.cursor.then_some("cursor"), mark]
            .into_iter()
            .flatten()
            .collect()
    }
}

/// The rows of `screen`, as runs; `cursor` (row, column) gets a run of its own, and the
/// cells `marks` name are marked.
pub fn rows(screen: &vt100::Screen, cursor: Option<(u16, u16)>, marks: &[Mark]) -> Vec<Vec<Run>> {
    let (rows, cols) = screen.size();
    (0..rows.get())
        .map(|row| {
            let mark_at = |col: u16| {
                // A selection shows over what was found.
                let mut kinds = marks
                    .iter()
                    .filter(|mark| mark.row == row && mark.cols.contains(&col))
                    .map(|mark| mark.kind);
                let first = kinds.next()?;
                Some(
                    if first == MarkKind::Selection || kinds.any(|kind| kind == MarkKind::Selection)
                    {
                        MarkKind::Selection
                    } else {
                        first
                    },
                )
            };
            let mut runs: Vec<Run> = Vec::new();
            for col in 0..cols.get() {
                let Some(cell) = screen.cell(row, col) else {
                    continue;
                };
                if cell.is_wide_continuation() {
                    continue;
                }
                let text = if cell.has_contents() {
                    cell.contents()
                } else {
                    " "
                };
                let css = css(cell);
                let on_cursor = cursor == Some((row, col));
                let mark = mark_at(col);
                match runs.last_mut() {
                    Some(last)
                        if last.css == css && !last.cursor && !on_cursor && last.mark == mark =>
                    {
                        last.text.push_str(text)
                    }
                    _ => runs.push(Run {
                        text: text.to_owned(),
                        css,
                        cursor: on_cursor,
                        mark,
                    }),
                }
            }
            // Trailing blanks in the default look need not be drawn.
            if let Some(last) = runs.last_mut() {
                if last.css.is_empty() && !last.cursor && last.mark.is_none() {
                    let kept = last.text.trim_end().len();
                    last.text.truncate(kept);
                }
            }
            runs.retain(|run| !run.text.is_empty() || run.cursor);
            runs
        })
        .collect()
}

fn css(cell: &vt100::Cell) -> String {
    let (mut fg, mut bg) = (color(cell.fgcolor()), color(cell.bgcolor()));
    if cell.inverse() {
        std::mem::swap(&mut fg, &mut bg);
        fg.get_or_insert_with(|| "var(--bg)".to_owned());
        bg.get_or_insert_with(|| "var(--fg)".to_owned());
    }
    let mut css = String::new();
    if let Some(fg) = fg {
        css.push_str(&format!("color:{fg};"));
    }
    if let Some(bg) = bg {
        css.push_str(&format!("background:{bg};"));
    }
    if cell.bold() {
        css.push_str("font-weight:bold;");
    }
    if cell.dim() {
        css.push_str("opacity:0.6;");
    }
    if cell.italic() {
        css.push_str("font-style:italic;");
    }
    if cell.underline() {
        css.push_str("text-decoration:underline;");
    }
    css
}

/// A colour as CSS; `None` for the default.
fn color(color: vt100::Color) -> Option<String> {
    let (r, g, b) = match color {
        vt100::Color::Default => return None,
        vt100::Color::Rgb(r, g, b) => (r, g, b),
        vt100::Color::Idx(index) => palette(index),
    };
    Some(format!("#{r:02x}{g:02x}{b:02x}"))
}

/// xterm's 256 colours: 16 named, a 6x6x6 cube, 24 greys.
fn palette(index: u8) -> (u8, u8, u8) {
    const NAMED: [(u8, u8, u8); 16] = [
        (0x00, 0x00, 0x00),
        (0xcd, 0x31, 0x31),
        (0x0d, 0xbc, 0x79),
        (0xe5, 0xe5, 0x10),
        (0x24, 0x72, 0xc8),
        (0xbc, 0x3f, 0xbc),
        (0x11, 0xa8, 0xcd),
        (0xe5, 0xe5, 0xe5),
        (0x66, 0x66, 0x66),
        (0xf1, 0x4c, 0x4c),
        (0x23, 0xd1, 0x8b),
        (0xf5, 0xf5, 0x43),
        (0x3b, 0x8e, 0xea),
        (0xd6, 0x70, 0xd6),
        (0x29, 0xb8, 0xdb),
        (0xff, 0xff, 0xff),
    ];
    match index {
        0..=15 => NAMED[usize::from(index)],
        16..=231 => {
            let n = index - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            (level(n / 36), level(n / 6 % 6), level(n % 6))
        }
        _ => {
            let grey = 8 + (index - 232) * 10;
            (grey, grey, grey)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use choir_proto::terminal::{TermSize, Terminal};

    #[test]
    fn rows_are_runs_of_one_look_with_the_cursor_apart() {
        let mut terminal = Terminal::new(TermSize::new(3, 20));
        terminal.feed(b"ab\x1b[31mred\x1b[0m\r\n\x1b[7mrev\x1b[0m  ");
        let rows = rows(terminal.screen(), terminal.cursor(), &[]);
        assert_eq!(rows[0][0].text, "ab");
        assert_eq!(rows[0][1].text, "red");
        assert_eq!(rows[0][1].css, "color:#cd3131;");
        assert_eq!(rows[0].len(), 2, "trailing blanks are not drawn");
        assert_eq!(rows[1][0].css, "color:var(--bg);background:var(--fg);");
        assert_eq!(rows[1][1].text, "  ");
        assert!(rows[1][2].cursor);
        assert!(rows[2].is_empty());
    }

    #[test]
    fn marked_cells_are_runs_of_their_own_and_a_selection_wins() {
        let mut terminal = Terminal::new(TermSize::new(2, 20));
        terminal.feed(b"find the word here");
        let marks = [
            Mark {
                row: 0,
                cols: 5..8,
                kind: MarkKind::Found,
            },
            Mark {
                row: 0,
                cols: 7..13,
                kind: MarkKind::Selection,
            },
        ];
        let rows = rows(terminal.screen(), None, &marks);
        let runs: Vec<(&str, Option<&str>)> = rows[0]
            .iter()
            .map(|run| (run.text.as_str(), run.classes().first().copied()))
            .collect();
        assert_eq!(
            runs,
            [
                ("find ", None),
                ("th", Some("found")),
                ("e word", Some("selected")),
                (" here", None),
            ]
        );
    }

    #[test]
    fn the_palette_is_xterms() {
        assert_eq!(palette(16), (0, 0, 0));
        assert_eq!(palette(196), (255, 0, 0));
        assert_eq!(palette(231), (255, 255, 255));
        assert_eq!(palette(232), (8, 8, 8));
        assert_eq!(palette(255), (238, 238, 238));
    }
}
