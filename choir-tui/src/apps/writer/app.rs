//! The writer app in its window: the document list, or the editor of the document the window
//! shows. The editor's lifecycle lives here: opened when the document's text is at hand, kept
//! in step with committed edits, caught up (or started over) when the text comes back after a
//! reconnect, and retired (still following the log) while its edits are unconfirmed after
//! the window moved on to another document or closed.

use choir_proto::{Command, DocId, EventBody, WindowId};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::{Editor, EditorEffect, WriterView};
use crate::apps::{note, App, Context, Effect, Signal, View, WHEEL_LINES};
use crate::input::{Key, Mouse, MouseButton, MouseKind};

pub struct Writer {
    window_id: WindowId,
    list: WriterView,
    editor: Option<Editor>,
    /// Editors whose window moved on while their edits were unconfirmed: they follow the log
    /// until every edit is in.
    retired: Vec<Editor>,
}

impl Writer {
    pub fn new(window_id: WindowId) -> Self {
        Self {
            window_id,
            list: WriterView::default(),
            editor: None,
            retired: Vec::new(),
        }
    }

    /// The editor, when the window shows a document whose text is here (opened on first
    /// use); a document whose text is not here yet is asked for.
    fn editor_mut(&mut self, cx: &mut Context<'_>) -> Option<&mut Editor> {
        let shown = cx
            .world()
            .desktop
            .window(self.window_id)
            .and_then(|window| window.doc_id);
        let Some(doc) = shown.and_then(|doc_id| cx.world().docs.get(&doc_id)) else {
            self.retire();
            return None;
        };
        let (doc_id, loaded) = (doc.id, doc.is_loaded());
        if self.editor.as_ref().is_some_and(|e| e.doc_id() != doc_id) {
            self.retire();
        }
        if self.editor.is_none() {
            if !loaded {
                cx.replica.request_doc(doc_id);
                return None;
            }
            let tag = cx.tags.issue();
            self.editor = Editor::open(cx.world().docs.get(&doc_id)?, tag);
        }
        self.editor.as_mut()
    }

    fn retire(&mut self) {
        if let Some(editor) = self.editor.take() {
            if !editor.is_saved() {
                self.retired.push(editor);
            }
        }
    }

    fn editors_mut(&mut self) -> impl Iterator<Item = &mut Editor> {
        self.editor.iter_mut().chain(self.retired.iter_mut())
    }

    fn apply(&self, effects: Vec<EditorEffect>, cx: &mut Context<'_>) {
        for effect in effects {
            match effect {
                EditorEffect::Send(command) => cx.send(command),
                EditorEffect::Copy(text) => cx.effects.push(Effect::Copy(text)),
                EditorEffect::Notice(text) => cx.notify(text, false),
                EditorEffect::Close => cx.send(Command::ShowDoc {
                    window_id: self.window_id,
                    doc_id: None,
                }),
            }
        }
    }

    /// After a fresh snapshot: each editor catches up with its document once its text is
    /// here; a document the snapshot carries without its text is asked for.
    fn reload(&mut self, cx: &mut Context<'_>) {
        let world = cx.replica.world();
        if self
            .editor
            .as_ref()
            .is_some_and(|editor| !world.docs.contains_key(&editor.doc_id()))
        {
            self.editor = None;
        }
        self.retired
            .retain(|editor| world.docs.contains_key(&editor.doc_id()) && !editor.is_saved());
        let wanted: Vec<DocId> = self.editors_mut().map(|editor| editor.doc_id()).collect();
        for doc_id in wanted {
            if cx
                .world()
                .docs
                .get(&doc_id)
                .is_some_and(|doc| doc.is_loaded())
            {
                self.catch_up(doc_id, cx);
            } else {
                cx.replica.request_doc(doc_id);
            }
        }
    }

    /// A document's text arrived: its editors catch up with the edits they missed (the copy
    /// carries its recent edits), so their own unconfirmed edits survive; one too far behind
    /// starts over from the document, its text going to the clipboard.
    fn catch_up(&mut self, doc_id: DocId, cx: &mut Context<'_>) {
        let Some(doc) = cx.replica.world().docs.get(&doc_id) else {
            return;
        };
        let mut lost = None;
        let mut sends = Vec::new();
        for editor in self.editor.iter_mut().chain(self.retired.iter_mut()) {
            if editor.doc_id() != doc_id || editor.version() >= doc.version {
                continue;
            }
            match doc.edits_since(editor.version()) {
                Some(missed) => {
                    for edit in missed {
                        let version = editor.version() + 1;
                        sends.extend(editor.committed(version, &edit.op, edit.edit_id.as_deref()));
                    }
                }
                None => lost = Some(editor.refused(doc)),
            }
        }
        self.retired.retain(|editor| !editor.is_saved());
        for command in sends {
            cx.send(command);
        }
        if let Some(text) = lost {
            *cx.clipboard = text;
            cx.notify(
                "reloaded a document that changed too much while offline; your text is on the clipboard (C-v)",
                true,
            );
        }
    }

    /// The daemon refused an edit of `doc_id`: the editor starts over from the document (its
    /// text goes to the clipboard), or, without the text to start from, closes and asks for it.
    fn refused(&mut self, doc_id: DocId, cx: &mut Context<'_>) {
        let Some(doc) = cx.replica.world().docs.get(&doc_id) else {
            return;
        };
        let mut lost = None;
        if let Some(editor) = self.editor.as_mut().filter(|e| e.doc_id() == doc_id) {
            if doc.is_loaded() {
                if !editor.is_saved() {
                    lost = Some(editor.refused(doc));
                }
            } else {
                lost = Some(editor.text().to_string());
                self.editor = None;
                cx.replica.request_doc(doc_id);
            }
        }
        self.retired.retain(|editor| editor.doc_id() != doc_id);
        if let Some(text) = lost {
            *cx.clipboard = text;
        }
    }

    fn follow(&mut self, body: &EventBody, cx: &mut Context<'_>) {
        match body {
            EventBody::DocEdited {
                doc_id,
                version,
                op,
                edit_id,
            } => {
                let mut sends = Vec::new();
                for editor in self.editors_mut() {
                    if editor.doc_id() == *doc_id {
                        sends.extend(editor.committed(*version, op, edit_id.as_deref()));
                    }
                }
                self.retired.retain(|editor| !editor.is_saved());
                for command in sends {
                    cx.send(command);
                }
            }
            EventBody::WriterDocShown { window_id, doc_id }
                if *window_id == self.window_id
                    && self
                        .editor
                        .as_ref()
                        .is_some_and(|editor| Some(editor.doc_id()) != *doc_id) =>
            {
                self.retire();
            }
            EventBody::WindowClosed { window_id } if *window_id == self.window_id => self.retire(),
            EventBody::DocDeleted { doc_id } => {
                if self.editor.as_ref().is_some_and(|e| e.doc_id() == *doc_id) {
                    self.editor = None;
                }
                self.retired.retain(|editor| editor.doc_id() != *doc_id);
            }
            _ => {}
        }
    }
}

/// The editor's text area: the window's inner area less its status line.
fn text_size(area: Rect) -> (u16, u16) {
    (area.width, area.height.saturating_sub(1).max(1))
}

impl App for Writer {
    fn on_key(&mut self, key: Key, cx: &mut Context<'_>) -> bool {
        let size = text_size(cx.area);
        let mut clipboard = std::mem::take(cx.clipboard);
        // Keys the editor has no use for (F-keys, Alt-letters) do nothing here.
        let edited = self.editor_mut(cx).map(|editor| {
            let mut effects = Vec::new();
            editor.handle_key(key, size, &mut clipboard, &mut effects);
            effects
        });
        *cx.clipboard = clipboard;
        if let Some(effects) = edited {
            self.apply(effects, cx);
            return true;
        }
        match self
            .list
            .handle_list_key(key, cx.replica.world(), self.window_id)
        {
            Some(commands) => {
                for command in commands {
                    cx.send(command);
                }
                true
            }
            None => false,
        }
    }

    fn on_paste(&mut self, text: &str, cx: &mut Context<'_>) {
        if let Some(editor) = self.editor_mut(cx) {
            let effects = editor.paste(text);
            self.apply(effects, cx);
        }
    }

    fn on_mouse(&mut self, mouse: Mouse, cx: &mut Context<'_>) {
        let size = text_size(cx.area);
        let Some(editor) = self.editor_mut(cx) else {
            return;
        };
        match mouse.kind {
            MouseKind::Down(MouseButton::Left) => editor.click(mouse.x, mouse.y, size),
            MouseKind::ScrollUp => editor.scroll(WHEEL_LINES, size),
            MouseKind::ScrollDown => editor.scroll(-WHEEL_LINES, size),
            _ => {}
        }
    }

    fn on_signal(&mut self, signal: Signal<'_>, cx: &mut Context<'_>) {
        match signal {
            Signal::Welcome { fresh } => {
                if fresh {
                    self.reload(cx);
                }
                // Edits in flight when the link broke may be lost: send them again (the
                // daemon skips any it already has).
                let resends: Vec<Command> = self.editors_mut().filter_map(|e| e.resend()).collect();
                for command in resends {
                    cx.send(command);
                }
            }
            Signal::Event(event) => self.follow(&event.body, cx),
            Signal::DocLoaded(doc_id) => self.catch_up(doc_id, cx),
            Signal::EditRefused(doc_id) => self.refused(doc_id, cx),
        }
    }

    fn draw(&self, view: &View<'_>, area: Rect, buf: &mut Buffer) -> Option<(u16, u16)> {
        let world = view.world();
        let Some(doc) = view
            .window
            .doc_id
            .and_then(|doc_id| world.docs.get(&doc_id))
        else {
            return self
                .list
                .render_list(world, area, buf, view.theme)
                .filter(|_| view.focused);
        };
        let opened;
        let editor = match &self.editor {
            Some(editor) if editor.doc_id() == doc.id => Some(editor),
            _ => {
                opened = Editor::open(doc, String::new());
                opened.as_ref()
            }
        };
        match editor {
            Some(editor) => editor.render(&doc.title, area, buf, view.theme, view.focused),
            None => {
                note(buf, area, &format!("loading “{}”…", doc.title), view.theme);
                None
            }
        }
    }

    fn hint(&self, view: &View<'_>) -> String {
        let hint = self.list.hint(view.window.doc_id.is_some());
        let draft = view
            .window
            .doc_id
            .and_then(|doc_id| view.world().docs.get(&doc_id))
            .is_some_and(|doc| doc.title.starts_with(choir_proto::mail::DRAFT_TITLE));
        if draft {
            format!("C-a M send · {hint}")
        } else {
            hint.into()
        }
    }

    fn is_done(&self) -> bool {
        self.editor.as_ref().is_none_or(Editor::is_saved) && self.retired.is_empty()
    }

    #[cfg(test)]
    fn editor(&self) -> Option<&Editor> {
        self.editor.as_ref()
    }
}
