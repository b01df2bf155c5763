//! A multi-line text field with a cursor.

use unicode_width::UnicodeWidthChar;

use crate::input::{Key, KeyCode};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TextInput {
    text: String,
    /// Byte offset of the cursor, always on a char boundary.
    cursor: usize,
}

impl TextInput {
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    pub fn take(&mut self) -> String {
        self.cursor = 0;
        std::mem::take(&mut self.text)
    }

    pub fn insert_str(&mut self, text: &str) {
        self.text.insert_str(self.cursor, text);
        self.cursor += text.len();
    }

    /// Applies an editing key; `false` if the key is not an editing key.
    pub fn edit(&mut self, key: Key) -> bool {
        match key.code {
            KeyCode::Char(c) if !key.mods.ctrl && !key.mods.alt => {
                self.insert_str(c.encode_utf8(&mut [0; 4]));
            }
            KeyCode::Char('j') if key.mods.ctrl => self.insert_str("\n"),
            KeyCode::Enter if key.mods.alt => self.insert_str("\n"),
            KeyCode::Backspace => {
                if let Some(c) = self.text[..self.cursor].chars().next_back() {
                    self.cursor -= c.len_utf8();
                    self.text.remove(self.cursor);
                }
            }
            KeyCode::Delete => {
                if self.cursor < self.text.len() {
                    self.text.remove(self.cursor);
                }
            }
            KeyCode::Left => {
                if let Some(c) = self.text[..self.cursor].chars().next_back() {
                    self.cursor -= c.len_utf8();
                }
            }
            KeyCode::Right => {
                if let Some(c) = self.text[self.cursor..].chars().next() {
                    self.cursor += c.len_utf8();
                }
            }
            KeyCode::Home => {
                self.cursor = self.text[..self.cursor].rfind('\n').map_or(0, |i| i + 1)
            }
            KeyCode::End => {
                self.cursor += self.text[self.cursor..]
                    .find('\n')
                    .unwrap_or(self.text.len() - self.cursor)
            }
            KeyCode::Char('u') if key.mods.ctrl => {
                self.text.drain(..self.cursor);
                self.cursor = 0;
            }
            _ => return false,
        }
        true
    }

    /// The text laid out in rows of `width` cells (hard wrap, so the cursor maps exactly),
    /// and the cursor's (column, row).
    pub fn layout(&self, width: u16) -> (Vec<String>, (u16, u16)) {
        let width = usize::from(width.max(1));
        let mut rows = vec![String::new()];
        let mut col = 0;
        let mut cursor = (0, 0);
        for (i, c) in self.text.char_indices() {
            if i == self.cursor {
                cursor = (col, rows.len() - 1);
            }
            if c == '\n' {
                rows.push(String::new());
                col = 0;
                continue;
            }
            let w = c.width().unwrap_or(0);
            if col + w > width {
                rows.push(String::new());
                col = 0;
            }
            if let Some(row) = rows.last_mut() {
                row.push(c);
            }
            col += w;
        }
        if self.cursor >= self.text.len() {
            if col >= width {
                rows.push(String::new());
                col = 0;
            }
            cursor = (col, rows.len() - 1);
        }
        let to_u16 = |v: usize| u16::try_from(v).unwrap_or(u16::MAX);
        (rows, (to_u16(cursor.0), to_u16(cursor.1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::Mods;

    fn typed(keys: &[Key]) -> TextInput {
        let mut input = TextInput::default();
        for key in keys {
            input.edit(*key);
        }
        input
    }

    #[test]
    fn editing_keys() {
        let c = |c| Key::plain(KeyCode::Char(c));
        let input = typed(&[
            c('a'),
            c('漢'),
            c('b'),
            Key::plain(KeyCode::Left),
            Key::plain(KeyCode::Backspace),
            Key::ctrl('j'),
            c('z'),
        ]);
        assert_eq!(input.text(), "a\nzb");
        assert_eq!(input.layout(10), (vec!["a".into(), "zb".into()], (1, 1)));
        let mut input = input;
        assert!(input.edit(Key::plain(KeyCode::Home)));
        assert!(input.edit(Key {
            code: KeyCode::Char('u'),
            mods: Mods::CTRL
        }));
        assert_eq!(input.text(), "zb");
        assert!(!input.edit(Key::plain(KeyCode::PageUp)));
    }

    #[test]
    fn layout_wraps_wide_characters_and_places_the_cursor_after_the_end() {
        let mut input = TextInput::default();
        input.insert_str("漢字漢");
        assert_eq!(input.layout(4), (vec!["漢字".into(), "漢".into()], (2, 1)));
        input.insert_str("x");
        assert_eq!(input.layout(4), (vec!["漢字".into(), "漢x".into()], (3, 1)));
        input.insert_str("y");
        assert_eq!(input.layout(4).1, (0, 2));
    }
}
