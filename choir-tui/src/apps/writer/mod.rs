//! The writer app. A writer window shows either the document list (open, create, rename,
//! delete) or one document in an [`Editor`]. Which one is shared state (`writer.doc_shown`), so
//! every client shows the same document in the same window; the editor state (cursor,
//! selection, undo) is this client's own.

mod app;
mod editor;
mod layout;

pub use app::Writer;
pub use editor::{Editor, EditorEffect};

use choir_proto::{Command, DocId, WindowId, World};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

use super::TextInput;
use crate::input::{Key, KeyCode};
use crate::theme::Theme;

pub const LIST_HINT: &str = "↑↓ choose · Enter open · n new · r rename · d delete · C-a ? help";
pub const EDITOR_HINT: &str =
    "Shift-arrows select · C-c/x/v copy/cut/paste · C-z/y undo/redo · C-o documents";
pub const PROMPT_HINT: &str = "Enter confirm · Esc cancel";

/// A question the list asks at its bottom row.
#[derive(Debug, Clone)]
enum Prompt {
    New(TextInput),
    Rename(DocId, TextInput),
    Delete(DocId),
}

/// The document list's state in one window.
#[derive(Debug, Clone, Default)]
pub struct WriterView {
    selected: usize,
    prompt: Option<Prompt>,
}

impl WriterView {
    pub fn hint(&self, editing: bool) -> &'static str {
        match (&self.prompt, editing) {
            (_, true) => EDITOR_HINT,
            (Some(_), false) => PROMPT_HINT,
            (None, false) => LIST_HINT,
        }
    }

    /// A key for the document list; `None` when the list has no use for it.
    pub fn handle_list_key(
        &mut self,
        key: Key,
        world: &World,
        window_id: WindowId,
    ) -> Option<Vec<Command>> {
        let ids: Vec<DocId> = world.docs.keys().copied().collect();
        self.selected = self.selected.min(ids.len().saturating_sub(1));
        let chosen = ids.get(self.selected).copied();
        if let Some(prompt) = &mut self.prompt {
            return Some(match (prompt, key.code) {
                (_, KeyCode::Esc) => {
                    self.prompt = None;
                    Vec::new()
                }
                (Prompt::Delete(doc_id), KeyCode::Char('y')) => {
                    let doc_id = *doc_id;
                    self.prompt = None;
                    vec![Command::DeleteDoc { doc_id }]
                }
                (Prompt::Delete(_), _) => {
                    self.prompt = None;
                    Vec::new()
                }
                (Prompt::New(input), KeyCode::Enter) => {
                    let title = input.take();
                    self.prompt = None;
                    vec![Command::CreateDoc {
                        title,
                        content: String::new(),
                        open: false,
                        window_id: Some(window_id),
                    }]
                }
                (Prompt::Rename(doc_id, input), KeyCode::Enter) => {
                    let command = Command::RenameDoc {
                        doc_id: *doc_id,
                        title: input.take(),
                    };
                    self.prompt = None;
                    vec![command]
                }
                (Prompt::New(input) | Prompt::Rename(_, input), _) => {
                    input.edit(key);
                    Vec::new()
                }
            });
        }
        if key.mods.ctrl || key.mods.alt {
            return None;
        }
        let commands = match (key.code, chosen) {
            (KeyCode::Up | KeyCode::Char('k'), _) => {
                self.selected = self.selected.saturating_sub(1);
                Vec::new()
            }
            (KeyCode::Down | KeyCode::Char('j'), _) => {
                self.selected = (self.selected + 1).min(ids.len().saturating_sub(1));
                Vec::new()
            }
            (KeyCode::Home, _) => {
                self.selected = 0;
                Vec::new()
            }
            (KeyCode::End, _) => {
                self.selected = ids.len().saturating_sub(1);
                Vec::new()
            }
            (KeyCode::Enter, Some(doc_id)) => vec![Command::ShowDoc {
                window_id,
                doc_id: Some(doc_id),
            }],
            (KeyCode::Char('n'), _) => {
                self.prompt = Some(Prompt::New(TextInput::default()));
                Vec::new()
            }
            (KeyCode::Char('r'), Some(doc_id)) => {
                let mut input = TextInput::default();
                input.insert_str(&world.docs[&doc_id].title);
                self.prompt = Some(Prompt::Rename(doc_id, input));
                Vec::new()
            }
            (KeyCode::Char('d') | KeyCode::Delete, Some(doc_id)) => {
                self.prompt = Some(Prompt::Delete(doc_id));
                Vec::new()
            }
            _ => return None,
        };
        Some(commands)
    }

    /// Draws the document list; returns the cursor's place when a prompt is open.
    pub fn render_list(
        &self,
        world: &World,
        area: Rect,
        buf: &mut Buffer,
        theme: &Theme,
    ) -> Option<(u16, u16)> {
        let width = usize::from(area.width);
        if area.height == 0 || width == 0 {
            return None;
        }
        let list_rows = usize::from(area.height.saturating_sub(1)).max(1);
        if world.docs.is_empty() {
            buf.set_stringn(
                area.x,
                area.y,
                "No documents yet — press n to create one.",
                width,
                theme.muted(),
            );
        }
        let selected = self.selected.min(world.docs.len().saturating_sub(1));
        let first = selected.saturating_sub(list_rows - 1);
        for (row, (index, doc)) in world
            .docs
            .values()
            .enumerate()
            .skip(first)
            .take(list_rows)
            .enumerate()
        {
            let size = format!("{} chars", doc.len_chars());
            let title_width = width.saturating_sub(size.len() + 7);
            let title: String = doc.title.chars().take(title_width).collect();
            let line = format!("{:>3}  {title:<title_width$}  {size}", doc.id);
            let style = if index == selected {
                theme.selected()
            } else {
                Style::new()
            };
            buf.set_stringn(area.x, area.y + row as u16, line, width, style);
        }
        if area.height < 2 {
            return None;
        }
        let y = area.y + area.height - 1;
        let (label, input) = match &self.prompt {
            None => return None,
            Some(Prompt::Delete(doc_id)) => {
                let title = world.docs.get(doc_id).map_or("?", |doc| doc.title.as_str());
                let question = format!("Delete “{title}”? y deletes, any other key keeps it");
                buf.set_stringn(area.x, y, question, width, theme.warn());
                return None;
            }
            Some(Prompt::New(input)) => ("New document title: ", input),
            Some(Prompt::Rename(_, input)) => ("Rename to: ", input),
        };
        buf.set_stringn(area.x, y, label, width, theme.muted());
        let x = label.chars().count();
        buf.set_stringn(
            area.x + x as u16,
            y,
            input.text(),
            width.saturating_sub(x),
            Style::new(),
        );
        let (_, (col, _)) = input.layout(u16::MAX);
        Some((
            (area.x + (x as u16).saturating_add(col)).min(area.x + area.width - 1),
            y,
        ))
    }
}
