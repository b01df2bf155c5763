//! The writer windows' editors: opened when a window shows a loaded document, kept in step
//! with committed edits, caught up (or started over) when a document comes back after a
//! reconnect, retired until their last edit is confirmed.

use choir_proto::{DocId, WindowId};

use super::{Action, Desktop};
use crate::apps::writer::{Editor, EditorEffect};

impl Desktop {
    /// The editor of writer window `id` when it shows a document, opened on first use. A
    /// document whose text is not here yet is asked for; until it comes there is no editor.
    pub(super) fn editor_mut(&mut self, id: WindowId) -> Option<&mut Editor> {
        let window = self.replica.world().desktop.window(id)?;
        let Some(doc) = window
            .doc_id
            .and_then(|doc_id| self.replica.world().docs.get(&doc_id))
        else {
            self.retire_editor(id);
            return None;
        };
        let (doc_id, loaded) = (doc.id, doc.is_loaded());
        if self.editors.get(&id).is_some_and(|e| e.doc_id() != doc_id) {
            self.retire_editor(id);
        }
        if !self.editors.contains_key(&id) {
            if !loaded {
                self.request_doc(doc_id);
                return None;
            }
            self.editors_opened += 1;
            let tag = format!("{}-{}", self.tag_base, self.editors_opened);
            let editor = Editor::open(self.replica.world().docs.get(&doc_id)?, tag)?;
            self.editors.insert(id, editor);
        }
        self.editors.get_mut(&id)
    }

    pub(super) fn retire_editor(&mut self, id: WindowId) {
        if let Some(editor) = self.editors.remove(&id) {
            if !editor.is_saved() {
                self.retired.push(editor);
            }
        }
    }

    /// After a fresh snapshot: each editor catches up with its document (see
    /// [`Desktop::catch_up_editors`]), once its text is here; a document the snapshot carries
    /// without its text (as daemons send them) is asked for.
    pub(super) fn reload_editors(&mut self) {
        let world = self.replica.world();
        self.editors
            .retain(|_, editor| world.docs.contains_key(&editor.doc_id()));
        self.retired
            .retain(|editor| world.docs.contains_key(&editor.doc_id()) && !editor.is_saved());
        let wanted: Vec<DocId> = self
            .editors
            .values()
            .chain(&self.retired)
            .map(Editor::doc_id)
            .collect();
        for doc_id in wanted {
            if self
                .replica
                .world()
                .docs
                .get(&doc_id)
                .is_some_and(|doc| doc.is_loaded())
            {
                self.catch_up_editors(doc_id);
            } else {
                self.request_doc(doc_id);
            }
        }
    }

    /// A document's text arrived: its editors catch up with the edits they missed (the copy
    /// carries its recent edits), so their own unconfirmed edits survive; one too far behind
    /// starts over from the document, its text going to the clipboard.
    pub(super) fn catch_up_editors(&mut self, doc_id: DocId) {
        let Some(doc) = self.replica.world().docs.get(&doc_id) else {
            return;
        };
        let mut lost = None;
        for editor in self.editors.values_mut().chain(self.retired.iter_mut()) {
            if editor.doc_id() != doc_id || editor.version() >= doc.version {
                continue;
            }
            match doc.edits_since(editor.version()) {
                Some(missed) => {
                    for edit in missed {
                        let version = editor.version() + 1;
                        let next = editor.committed(version, &edit.op, edit.edit_id.as_deref());
                        self.outbox.extend(next);
                    }
                }
                None => lost = Some(editor.refused(doc)),
            }
        }
        self.retired.retain(|editor| !editor.is_saved());
        if let Some(text) = lost {
            self.clipboard = text;
            self.notify(
                "reloaded a document that changed too much while offline; your text is on the clipboard (C-v)",
                true,
            );
        }
    }

    /// The daemon refused an edit of `doc_id` (it could not be merged).
    pub fn on_edit_refused(&mut self, doc_id: DocId, message: &str) {
        let Some(doc) = self.replica.world().docs.get(&doc_id) else {
            return;
        };
        let mut lost = None;
        if doc.is_loaded() {
            for editor in self.editors.values_mut() {
                if editor.doc_id() == doc_id && !editor.is_saved() {
                    lost = Some(editor.refused(doc));
                }
            }
        } else {
            // Without the text to start over from: close the editors, ask for the text.
            let refused: Vec<WindowId> = self
                .editors
                .iter()
                .filter(|(_, editor)| editor.doc_id() == doc_id)
                .map(|(id, _)| *id)
                .collect();
            for id in refused {
                if let Some(editor) = self.editors.remove(&id) {
                    lost = Some(editor.text().to_string());
                }
            }
            self.request_doc(doc_id);
        }
        self.retired.retain(|editor| editor.doc_id() != doc_id);
        if let Some(text) = lost {
            self.clipboard = text;
        }
        self.notify(
            format!("{message} — your text before the reload is on the clipboard (C-v)"),
            true,
        );
    }

    pub(super) fn apply_editor_effects(
        &mut self,
        window_id: WindowId,
        effects: Vec<EditorEffect>,
        actions: &mut Vec<Action>,
    ) {
        for effect in effects {
            match effect {
                EditorEffect::Send(command) => actions.push(Action::Send(command)),
                EditorEffect::Copy(text) => actions.push(Action::Copy(text)),
                EditorEffect::Notice(text) => self.notify(text, false),
                EditorEffect::Close => actions.push(Action::Send(choir_proto::Command::ShowDoc {
                    window_id,
                    doc_id: None,
                })),
            }
        }
    }
}
