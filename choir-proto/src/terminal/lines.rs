//! A terminal as numbered lines: its scrollback, then its screen's rows. Copy mode moves,
//! searches and selects over them, and draws any stretch of them as a screen.

use std::fmt::Write as _;

use unicode_width::UnicodeWidthChar;

use super::Terminal;

impl Terminal {
    /// The number of the screen's top row: the scrollback's lines come before it.
    pub fn screen_start(&self) -> u64 {
        self.history().first() + self.history().len() as u64
    }

    /// The number after the screen's last row.
    pub fn end(&self) -> u64 {
        self.screen_start() + u64::from(self.size().rows)
    }

    /// The number of the oldest line kept.
    pub fn first_line(&self) -> u64 {
        self.history().first()
    }

    /// Line `number`'s text without colours, and whether it goes on into the next line.
    pub fn line_text(&self, number: u64) -> Option<(String, bool)> {
        if let Some(line) = self.history().get(number) {
            return Some((line.text(), line.wrapped));
        }
        let row = u16::try_from(number.checked_sub(self.screen_start())?).ok()?;
        let screen = self.screen();
        let (_, cols) = screen.size();
        let text = screen.rows(0, cols.get()).nth(usize::from(row))?;
        Some((text, screen.row_wrapped(row)))
    }

    /// A terminal of the same size showing lines `top..top + rows` in their colours, without
    /// a cursor or scrollback: what a client draws while its user looks back.
    pub fn scrolled(&self, top: u64) -> Terminal {
        let size = self.size();
        let top = top.clamp(self.first_line(), self.screen_start());
        let back = self.screen_start() - top;
        let mut view = if back >= u64::from(size.rows) {
            Terminal::new(size)
        } else {
            Terminal::from_image(size, &self.image())
        };
        let from_history = back.min(u64::from(size.rows)) as u16;
        let mut out = String::from("\x1b[r\x1b[m");
        if from_history > 0 && back < u64::from(size.rows) {
            // The screen's rows move down to make room above them.
            let _ = write!(out, "\x1b[H\x1b[{from_history}L");
        }
        for row in 0..from_history {
            let Some(line) = self.history().get(top + u64::from(row)) else {
                continue;
            };
            let _ = write!(out, "\x1b[{};1H\x1b[m", row + 1);
            clip(&line.styled, size.cols, &mut out);
        }
        out.push_str("\x1b[m\x1b[?25l");
        view.feed(out.as_bytes());
        view
    }
}

/// Writes `styled` (text with SGR sequences) to `out`, cut to `cols` cells: a line kept from
/// when the terminal was wider must not wrap onto the next row.
fn clip(styled: &str, cols: u16, out: &mut String) {
    let mut width = 0usize;
    let mut chars = styled.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            out.push(c);
            for c in chars.by_ref() {
                out.push(c);
                if c == 'm' {
                    break;
                }
            }
            continue;
        }
        let w = c.width().unwrap_or(0);
        if width + w > usize::from(cols) {
            break;
        }
        width += w;
        out.push(c);
    }
}
