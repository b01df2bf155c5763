//! The writer's text editor for one document: a local copy of the text (the committed text
//! plus this client's unconfirmed edits), a cursor and a selection, soft wrap and scrolling,
//! undo and redo. Every change becomes a `doc.edit` through [`DocSync`]; edits of others
//! arrive transformed and move the cursor, selection, scroll position and undo history along
//! with the text they point into.

use choir_proto::client::DocText;
use choir_proto::{Command, Doc, DocId, OpPart, Rope, TextOp};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

use std::cell::RefCell;

use super::layout::{char_width, Layout, WrapCache};
use crate::input::{Key, KeyCode};
use crate::theme::Theme;

/// Most undo steps kept.
const UNDO_LIMIT: usize = 500;
/// Largest paste, in characters: an edit must fit in one protocol frame (1 MiB).
pub const MAX_PASTE_CHARS: usize = 200_000;

/// What the editor asks of the desktop.
#[derive(Debug, Clone, PartialEq)]
pub enum EditorEffect {
    Send(Command),
    /// Put text on the terminal's clipboard (OSC 52) too.
    Copy(String),
    Notice(String),
    /// Go back to the document list.
    Close,
}

#[derive(Debug, Clone)]
pub struct Editor {
    /// The text with this editor's unconfirmed edits.
    doc: DocText,
    cursor: usize,
    /// The other end of the selection, when there is one.
    anchor: Option<usize>,
    /// The first visible row's start (a char position; kept valid as the text changes).
    top: usize,
    /// The display column up and down try to keep.
    goal_col: Option<usize>,
    undo: Vec<TextOp>,
    redo: Vec<TextOp>,
    /// The top undo step is a run of typed characters that the next one may join.
    typing: bool,
    /// Counts changes of `text`, so wrapped lines can be kept until it changes.
    revision: u64,
    wraps: RefCell<WrapCache>,
}

impl Editor {
    /// Opens the committed state of `doc`, if its text is loaded; `tag` names this editor's
    /// edits (unique per client and window).
    pub fn open(doc: &Doc, tag: String) -> Option<Self> {
        Some(Self {
            doc: DocText::open(doc, tag)?,
            cursor: 0,
            anchor: None,
            top: 0,
            goal_col: None,
            undo: Vec::new(),
            redo: Vec::new(),
            typing: false,
            revision: 0,
            wraps: RefCell::default(),
        })
    }

    fn layout(&self, width: usize) -> Layout<'_> {
        Layout::new(self.doc.text(), width, self.revision, &self.wraps)
    }

    pub fn doc_id(&self) -> DocId {
        self.doc.doc_id()
    }

    /// The last committed version this editor has seen.
    pub fn version(&self) -> u64 {
        self.doc.version()
    }

    pub fn text(&self) -> &Rope {
        self.doc.text()
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn selection(&self) -> Option<(usize, usize)> {
        let anchor = self.anchor?;
        (anchor != self.cursor).then(|| (anchor.min(self.cursor), anchor.max(self.cursor)))
    }

    /// Every local edit is committed.
    pub fn is_saved(&self) -> bool {
        self.doc.is_saved()
    }

    /// A committed edit of this document arrived. Returns a command to send (edits that
    /// waited for this client's previous one).
    pub fn committed(
        &mut self,
        version: u64,
        op: &TextOp,
        edit_id: Option<&str>,
    ) -> Option<Command> {
        let merged = match self.doc.committed(version, op, edit_id) {
            Ok(merged) => merged,
            Err(err) => {
                tracing::warn!(%err, "a committed edit does not fit this editor's text");
                return None;
            }
        };
        if let Some(theirs) = merged.remote {
            self.follow_remote(&theirs);
        }
        merged.send
    }

    /// Moves every position into the text over someone else's edit, just applied.
    fn follow_remote(&mut self, op: &TextOp) {
        self.revision += 1;
        self.cursor = op.transform_position(self.cursor);
        self.anchor = self.anchor.map(|at| op.transform_position(at));
        self.top = op.transform_position(self.top);
        self.typing = false;
        for stack in [&mut self.undo, &mut self.redo] {
            if !transform_stack(stack, op) {
                stack.clear();
            }
        }
    }

    /// The edit in flight, to send again after a reconnect.
    pub fn resend(&self) -> Option<Command> {
        self.doc.resend()
    }

    /// The daemon refused this editor's edit: start over from the committed `doc` (whose text
    /// must be loaded). Returns the text as it was here, so it is not lost.
    pub fn refused(&mut self, doc: &Doc) -> String {
        let lost = self.doc.refused(doc);
        self.revision += 1;
        let len = self.doc.text().len_chars();
        self.cursor = self.cursor.min(len);
        self.anchor = None;
        self.top = self.top.min(len);
        self.undo.clear();
        self.redo.clear();
        lost
    }

    /// Replaces `start..end` with `inserted` as one local edit.
    fn replace(&mut self, start: usize, end: usize, inserted: &str, out: &mut Vec<EditorEffect>) {
        let op = TextOp::splice(self.doc.text().len_chars(), start, end, inserted);
        if op.is_noop() {
            return;
        }
        let typed = start == end && is_word_char(inserted);
        let Ok(inverse) = op.invert(self.doc.text()) else {
            return;
        };
        match self.undo.last_mut() {
            // Typing on joins the run of typed characters before it.
            Some(top) if typed && self.typing => {
                if let Ok(joined) = inverse.compose(top) {
                    *top = joined;
                } else {
                    self.undo.push(inverse);
                }
            }
            _ => self.undo.push(inverse),
        }
        if self.undo.len() > UNDO_LIMIT {
            self.undo.remove(0);
        }
        self.typing = typed;
        self.redo.clear();
        self.commit_local(op, out);
        self.cursor = start + inserted.chars().count();
        self.anchor = None;
        self.goal_col = None;
    }

    fn commit_local(&mut self, op: TextOp, out: &mut Vec<EditorEffect>) {
        match self.doc.edit(op) {
            Ok(send) => {
                self.revision += 1;
                out.extend(send.map(EditorEffect::Send));
            }
            Err(err) => tracing::warn!(%err, "a local edit does not fit this editor's text"),
        }
    }

    fn undo_or_redo(&mut self, undo: bool, out: &mut Vec<EditorEffect>) {
        let step = if undo {
            self.undo.pop()
        } else {
            self.redo.pop()
        };
        let Some(op) = step else {
            out.push(EditorEffect::Notice(
                if undo {
                    "nothing to undo"
                } else {
                    "nothing to redo"
                }
                .into(),
            ));
            return;
        };
        let Ok(inverse) = op.invert(self.doc.text()) else {
            return;
        };
        if undo {
            self.redo.push(inverse);
        } else {
            self.undo.push(inverse);
        }
        self.cursor = end_of_change(&op);
        self.commit_local(op, out);
        self.anchor = None;
        self.goal_col = None;
        self.typing = false;
    }

    /// Inserts pasted text (replacing the selection).
    pub fn paste(&mut self, text: &str) -> Vec<EditorEffect> {
        let mut out = Vec::new();
        if text.chars().count() > MAX_PASTE_CHARS {
            out.push(EditorEffect::Notice(format!(
                "not pasted: more than {MAX_PASTE_CHARS} characters at once (put large texts \
                 in the document's file under workspace/docs instead)"
            )));
            return out;
        }
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        let (start, end) = self.selection().unwrap_or((self.cursor, self.cursor));
        self.typing = false;
        self.replace(start, end, &text, &mut out);
        out
    }

    /// Handles a key; `false` when the editor has no use for it. `size` is the text area's
    /// width and height; `clipboard` is the desktop's.
    pub fn handle_key(
        &mut self,
        key: Key,
        size: (u16, u16),
        clipboard: &mut String,
        out: &mut Vec<EditorEffect>,
    ) -> bool {
        let width = usize::from(size.0.max(1));
        let height = usize::from(size.1.max(1));
        let len = self.doc.text().len_chars();
        let ctrl = key.mods.ctrl;
        let shift = key.mods.shift;
        match key.code {
            KeyCode::Char(c) if ctrl => match c {
                'a' => {
                    self.anchor = Some(0);
                    self.cursor = len;
                }
                'c' | 'x' => {
                    let Some((start, end)) = self.selection() else {
                        out.push(EditorEffect::Notice(
                            "select text first (Shift-arrows)".into(),
                        ));
                        return true;
                    };
                    let text = self.doc.text().slice(start..end).to_string();
                    *clipboard = text.clone();
                    out.push(EditorEffect::Copy(text));
                    if c == 'x' {
                        self.typing = false;
                        self.replace(start, end, "", out);
                    }
                }
                'v' => {
                    if clipboard.is_empty() {
                        out.push(EditorEffect::Notice("the clipboard is empty".into()));
                    } else {
                        let text = clipboard.clone();
                        out.extend(self.paste(&text));
                    }
                }
                'z' => self.undo_or_redo(true, out),
                'y' => self.undo_or_redo(false, out),
                's' => out.push(EditorEffect::Notice(
                    if self.is_saved() {
                        "saved: every change is in the log"
                    } else {
                        "saving… (changes are sent as you type)"
                    }
                    .into(),
                )),
                'o' => out.push(EditorEffect::Close),
                _ => return false,
            },
            KeyCode::Char(_) if key.mods.alt => return false,
            KeyCode::Char(c) => self.type_text(&c.to_string(), out),
            KeyCode::Enter => self.type_text("\n", out),
            KeyCode::Tab => self.type_text("    ", out),
            KeyCode::Backspace | KeyCode::Delete => {
                let range = self.selection().or_else(|| {
                    if key.code == KeyCode::Backspace {
                        (self.cursor > 0).then(|| (self.cursor - 1, self.cursor))
                    } else {
                        (self.cursor < len).then(|| (self.cursor, self.cursor + 1))
                    }
                });
                if let Some((start, end)) = range {
                    self.typing = false;
                    self.replace(start, end, "", out);
                }
            }
            KeyCode::Esc if self.anchor.is_some() => self.anchor = None,
            KeyCode::Left | KeyCode::Right | KeyCode::Up | KeyCode::Down => {
                self.select_or_clear(shift);
                let target = match key.code {
                    KeyCode::Left if ctrl => self.word_boundary(false),
                    KeyCode::Right if ctrl => self.word_boundary(true),
                    KeyCode::Left => self.cursor.saturating_sub(1),
                    KeyCode::Right => (self.cursor + 1).min(len),
                    KeyCode::Up => self.vertical(-1, width),
                    _ => self.vertical(1, width),
                };
                if !matches!(key.code, KeyCode::Up | KeyCode::Down) {
                    self.goal_col = None;
                }
                self.cursor = target;
            }
            KeyCode::Home | KeyCode::End => {
                self.select_or_clear(shift);
                self.goal_col = None;
                self.cursor = match (key.code, ctrl) {
                    (KeyCode::Home, true) => 0,
                    (KeyCode::End, true) => len,
                    (KeyCode::Home, false) => {
                        let line = self.doc.text().char_to_line(self.cursor);
                        self.doc.text().line_to_char(line)
                    }
                    _ => {
                        let line = self.doc.text().char_to_line(self.cursor);
                        self.doc.text().line_to_char(line)
                            + self.layout(width).line(line).chars.len()
                    }
                };
            }
            KeyCode::PageUp | KeyCode::PageDown => {
                self.select_or_clear(shift);
                let step = height.saturating_sub(1).max(1) as isize;
                let step = if key.code == KeyCode::PageUp {
                    -step
                } else {
                    step
                };
                self.cursor = self.vertical(step, width);
                let layout = self.layout(width);
                let (top, _) = layout.locate(self.top);
                self.top = if step < 0 {
                    layout.rows_before(top, step.unsigned_abs()).start
                } else {
                    layout.rows_after(top, step as usize).start
                };
            }
            _ => return false,
        }
        self.top = self.visible_top(width, height);
        true
    }

    /// A click at `col`, `row` of the text area: the cursor goes there.
    pub fn click(&mut self, col: u16, row: u16, size: (u16, u16)) {
        let (width, height) = (usize::from(size.0.max(1)), usize::from(size.1.max(1)));
        let row = usize::from(row);
        if row >= height {
            return;
        }
        let layout = self.layout(width);
        let top = layout.locate(self.visible_top(width, height)).0;
        let target = layout.rows_after(top, row);
        let below_text = target.line == top.line && target.row == top.row && row > 0;
        self.cursor = if below_text {
            self.doc.text().len_chars()
        } else {
            layout.position_at(target, usize::from(col))
        };
        self.top = top.start;
        self.anchor = None;
        self.goal_col = None;
        self.typing = false;
    }

    /// The wheel: the view moves `rows` rows up (down when negative), the cursor with it.
    pub fn scroll(&mut self, rows: isize, size: (u16, u16)) {
        let (width, height) = (usize::from(size.0.max(1)), usize::from(size.1.max(1)));
        let layout = self.layout(width);
        let top = layout.locate(self.visible_top(width, height)).0;
        self.top = if rows > 0 {
            layout.rows_before(top, rows.unsigned_abs()).start
        } else {
            layout.rows_after(top, rows.unsigned_abs()).start
        };
        self.cursor = self.vertical(-rows, width);
        self.anchor = None;
        self.typing = false;
        self.top = self.visible_top(width, height);
    }

    fn type_text(&mut self, text: &str, out: &mut Vec<EditorEffect>) {
        let (start, end) = self.selection().unwrap_or((self.cursor, self.cursor));
        if start != end {
            self.typing = false;
        }
        self.replace(start, end, text, out);
    }

    /// Before a cursor movement: Shift extends the selection, anything else ends it. Typing
    /// after a move starts a new undo step.
    fn select_or_clear(&mut self, shift: bool) {
        self.typing = false;
        if shift {
            self.anchor.get_or_insert(self.cursor);
        } else {
            self.anchor = None;
        }
    }

    /// The cursor moved `rows` visual rows down (up when negative), keeping its column.
    fn vertical(&mut self, rows: isize, width: usize) -> usize {
        let layout = Layout::new(self.doc.text(), width, self.revision, &self.wraps);
        let (row, col) = layout.locate(self.cursor);
        let goal = *self.goal_col.get_or_insert(col);
        let target = if rows < 0 {
            let back = layout.rows_before(row, rows.unsigned_abs());
            if back == row {
                return 0;
            }
            back
        } else {
            let on = layout.rows_after(row, rows as usize);
            if on == row {
                return self.doc.text().len_chars();
            }
            on
        };
        layout.position_at(target, goal)
    }

    /// The start of the next word (or the start of this/previous one going back).
    fn word_boundary(&self, forward: bool) -> usize {
        let len = self.doc.text().len_chars();
        let mut at = self.cursor;
        let char_at = |i: usize| self.doc.text().char(i);
        if forward {
            while at < len && !char_at(at).is_alphanumeric() {
                at += 1;
            }
            while at < len && char_at(at).is_alphanumeric() {
                at += 1;
            }
        } else {
            while at > 0 && !char_at(at - 1).is_alphanumeric() {
                at -= 1;
            }
            while at > 0 && char_at(at - 1).is_alphanumeric() {
                at -= 1;
            }
        }
        at
    }

    /// The first visible row's start such that the cursor is in view: the stored one when
    /// the cursor is already visible from it, else the nearest that shows it.
    pub fn visible_top(&self, width: usize, height: usize) -> usize {
        let layout = self.layout(width);
        let (cursor_row, _) = layout.locate(self.cursor);
        let (top, _) = layout.locate(self.top);
        if cursor_row.start < top.start {
            return cursor_row.start;
        }
        // Far below: no need to walk every row in between.
        if cursor_row.line > top.line + height {
            return layout.rows_before(cursor_row, height - 1).start;
        }
        let last_visible = layout.rows_after(top, height - 1);
        if cursor_row.start <= last_visible.start {
            top.start
        } else {
            layout.rows_before(cursor_row, height - 1).start
        }
    }

    /// Draws the text into `area` (a status line takes its last row); returns the cursor's
    /// screen position.
    pub fn render(
        &self,
        title: &str,
        area: Rect,
        buf: &mut Buffer,
        theme: &Theme,
        focused: bool,
    ) -> Option<(u16, u16)> {
        if area.width == 0 || area.height == 0 {
            return None;
        }
        let width = usize::from(area.width);
        let text_rows = usize::from(area.height.saturating_sub(1)).max(1);
        let selection = self.selection();
        let layout = self.layout(width);
        let top = layout.locate(self.visible_top(width, text_rows)).0;
        let mut cursor_at = None;
        let mut y = 0;
        // Each visible line is wrapped once and all of its rows drawn from that.
        for line in top.line..self.doc.text().len_lines() {
            if y >= text_rows {
                break;
            }
            let wrapped = layout.line(line);
            let (chars, starts) = (&wrapped.chars, &wrapped.starts);
            let line_start = self.doc.text().line_to_char(line);
            let first_row = if line == top.line { top.row } else { 0 };
            for row in first_row..starts.len() {
                if y >= text_rows {
                    break;
                }
                let from = starts[row];
                let to = starts.get(row + 1).copied().unwrap_or(chars.len());
                let screen_y = area.y + y as u16;
                let mut x = 0usize;
                for (i, c) in chars[from..to].iter().enumerate() {
                    let pos = line_start + from + i;
                    if pos == self.cursor {
                        cursor_at = Some((area.x + x as u16, screen_y));
                    }
                    let w = char_width(*c);
                    if x + w > width {
                        break;
                    }
                    let style = match selection {
                        Some((start, end)) if pos >= start && pos < end => theme.selected(),
                        _ => Style::new(),
                    };
                    let at = (area.x + x as u16, screen_y);
                    match buf.cell_mut(at) {
                        Some(cell) if w == 1 => {
                            cell.set_char(*c).set_style(style);
                        }
                        _ => {
                            let shown = if *c == '\t' {
                                "    ".to_owned()
                            } else {
                                c.to_string()
                            };
                            buf.set_stringn(at.0, at.1, shown, w, style);
                        }
                    }
                    x += w;
                }
                // The cursor after the last character of a line.
                if row + 1 == starts.len() && self.cursor == line_start + to && cursor_at.is_none()
                {
                    cursor_at = Some((area.x + (x as u16).min(area.width - 1), screen_y));
                }
                y += 1;
            }
        }
        if area.height > 1 {
            self.render_status(title, area, buf, theme);
        }
        cursor_at.filter(|_| focused)
    }

    fn render_status(&self, title: &str, area: Rect, buf: &mut Buffer, theme: &Theme) {
        let y = area.y + area.height - 1;
        let line = self.doc.text().char_to_line(self.cursor);
        let col = self.cursor - self.doc.text().line_to_char(line) + 1;
        let (state, style) = if self.is_saved() {
            ("saved", theme.ok())
        } else {
            ("saving…", theme.warn())
        };
        let left = format!("{title} · ");
        let width = usize::from(area.width);
        buf.set_stringn(area.x, y, &left, width, theme.muted());
        let used = left.chars().count();
        buf.set_stringn(
            area.x + used as u16,
            y,
            state,
            width.saturating_sub(used),
            style,
        );
        let right = format!("Ln {}, Col {col}", line + 1);
        let right_width = right.chars().count();
        if used + state.chars().count() + 2 + right_width <= width {
            buf.set_string(
                area.x + (width - right_width) as u16,
                y,
                right,
                theme.muted(),
            );
        }
    }
}

/// Transforms a stack of undo (or redo) steps over a concurrent `op` against the current text:
/// the top step is against the current text, each one below against the text the step above
/// it undoes to. `false` when the stack no longer fits.
fn transform_stack(stack: &mut [TextOp], op: &TextOp) -> bool {
    let mut theirs = op.clone();
    for step in stack.iter_mut().rev() {
        match TextOp::transform(step, &theirs) {
            Ok((mine, next)) => {
                *step = mine;
                theirs = next;
            }
            Err(_) => return false,
        }
    }
    true
}

/// Where the cursor goes after `op`: just after its last change.
fn end_of_change(op: &TextOp) -> usize {
    let (mut at, mut end) = (0, 0);
    for part in op.parts() {
        match part {
            OpPart::Retain(n) => at += n,
            OpPart::Insert(text) => {
                at += text.chars().count();
                end = at;
            }
            OpPart::Delete(_) => end = at,
        }
    }
    end
}

fn is_word_char(text: &str) -> bool {
    let mut chars = text.chars();
    matches!((chars.next(), chars.next()), (Some(c), None) if !c.is_whitespace())
}

#[cfg(test)]
mod tests;
