//! A form of one-line fields inside an app's window (a mail account, a calendar event): Tab
//! and the arrows move between the fields, Enter goes to the next one and sends the form from
//! the last, Esc cancels it. It takes every key while it is open.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

use super::TextInput;
use crate::input::{Key, KeyCode};
use crate::theme::Theme;
use crate::wrap::display_width;

/// How a form's field is shown.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    pub label: &'a str,
    /// Shown, muted, while the field is empty.
    pub example: &'a str,
    /// Shown as dots (a password).
    pub secret: bool,
}

/// What a key did to a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKey {
    /// Esc: close it, sending nothing.
    Cancel,
    /// Enter on the last field: send it.
    Submit,
    /// Typed, or moved between fields.
    Stay,
}

#[derive(Debug, Clone, Default)]
pub struct Form {
    fields: Vec<TextInput>,
    focus: usize,
}

impl Form {
    /// A form of `count` empty fields, the first one focused.
    pub fn new(count: usize) -> Self {
        Self {
            fields: vec![TextInput::default(); count],
            focus: 0,
        }
    }

    /// Field `index`, to fill it in before the user types.
    pub fn field_mut(&mut self, index: usize) -> Option<&mut TextInput> {
        self.fields.get_mut(index)
    }

    /// What each field holds, in order.
    pub fn values(&self) -> Vec<&str> {
        self.fields.iter().map(TextInput::text).collect()
    }

    pub fn key(&mut self, key: Key) -> FormKey {
        let count = self.fields.len().max(1);
        match key.code {
            KeyCode::Esc => return FormKey::Cancel,
            KeyCode::Tab | KeyCode::Down => self.focus = (self.focus + 1) % count,
            KeyCode::BackTab | KeyCode::Up => self.focus = (self.focus + count - 1) % count,
            KeyCode::Enter if self.focus + 1 < count => self.focus += 1,
            KeyCode::Enter => return FormKey::Submit,
            _ => {
                if let Some(input) = self.fields.get_mut(self.focus) {
                    input.edit(key);
                }
            }
        }
        FormKey::Stay
    }

    /// A paste goes into the focused field, trimmed.
    pub fn paste(&mut self, text: &str) {
        if let Some(input) = self.fields.get_mut(self.focus) {
            input.insert_str(text.trim());
        }
    }

    /// Draws `title` on the first row of `rect`, then a row per field from the third:
    /// `label: value`. Returns where the cursor goes, in the focused field.
    pub fn draw(
        &self,
        buf: &mut Buffer,
        rect: Rect,
        title: &str,
        fields: &[Field<'_>],
        theme: &Theme,
    ) -> Option<(u16, u16)> {
        if rect.height == 0 || rect.width == 0 {
            return None;
        }
        buf.set_stringn(rect.x, rect.y, title, rect.width.into(), theme.muted());
        let label_width = fields
            .iter()
            .map(|field| display_width(field.label))
            .max()
            .unwrap_or(0)
            + 2;
        let mut cursor = None;
        for (index, field) in fields.iter().enumerate() {
            let y = rect.y + 2 + index as u16;
            if y >= rect.y + rect.height {
                break;
            }
            let focused = index == self.focus;
            let style = if focused {
                theme.selected()
            } else {
                Style::default()
            };
            buf.set_stringn(rect.x, y, format!("{}:", field.label), label_width, style);
            let x = rect.x + (label_width as u16).min(rect.width);
            let width = usize::from(rect.width).saturating_sub(label_width);
            let text = self.fields.get(index).map_or("", TextInput::text);
            let typed = if text.is_empty() {
                buf.set_stringn(x, y, field.example, width, theme.muted());
                0
            } else if field.secret {
                let dots = text.chars().count();
                buf.set_stringn(x, y, "•".repeat(dots), width, Style::default());
                dots
            } else {
                buf.set_stringn(x, y, text, width, Style::default());
                display_width(text)
            };
            if focused {
                cursor = Some((x + typed.min(width.saturating_sub(1)) as u16, y));
            }
        }
        cursor
    }
}
