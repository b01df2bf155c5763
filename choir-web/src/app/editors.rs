//! The writers' text areas, kept in step with the shared document sync: typing becomes one
//! edit per change, others' edits come in with the caret kept on the same text, a refused
//! edit puts the saved text back.

use std::collections::HashMap;

use choir_proto::client::DocText;
use choir_proto::{AppKind, DocId, WindowId};
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

use super::App;
use crate::apps::Editor;
use crate::dom;
use crate::text;

/// The writer windows' texts in this tab.
pub(super) struct Writers {
    pub(super) editors: HashMap<WindowId, Editor>,
    /// Editors whose window went away with edits unconfirmed: they follow until saved.
    pub(super) retired: Vec<DocText>,
    /// Makes this tab's edit tags its own.
    pub(super) tag_base: String,
    pub(super) editors_opened: u64,
}

impl Writers {
    pub(super) fn new() -> Self {
        Self {
            editors: HashMap::new(),
            retired: Vec::new(),
            tag_base: dom::random_tag(),
            editors_opened: 0,
        }
    }
}

impl App {
    /// A committed edit: every editor of the document takes it in, the text areas follow
    /// with their carets kept where they were in the text.
    pub(super) fn merge(
        &mut self,
        doc_id: DocId,
        version: u64,
        op: &choir_proto::TextOp,
        edit_id: Option<&str>,
    ) {
        let mut sends = Vec::new();
        for editor in self.writers.editors.values_mut() {
            if editor.doc.doc_id() != doc_id {
                continue;
            }
            let before = editor.doc.text().to_string();
            match editor.doc.committed(version, op, edit_id) {
                Ok(merged) => {
                    if let Some(remote) = merged.remote {
                        if let Some(area) = editor.area() {
                            follow_remote(&area, &before, &editor.doc.text().to_string(), &remote);
                        } else {
                            editor.stale = true;
                        }
                    }
                    sends.extend(merged.send);
                }
                Err(_) => editor.stale = true,
            }
        }
        for doc in self
            .writers
            .retired
            .iter_mut()
            .filter(|doc| doc.doc_id() == doc_id)
        {
            if let Ok(merged) = doc.committed(version, op, edit_id) {
                sends.extend(merged.send);
            }
        }
        self.writers.retired.retain(|doc| !doc.is_saved());
        for command in sends {
            self.send(command);
        }
    }

    pub(super) fn retire(&mut self, window: WindowId) {
        if let Some(editor) = self.writers.editors.remove(&window) {
            if !editor.doc.is_saved() {
                self.writers.retired.push(editor.doc);
            }
        }
    }

    /// Gives each writer window showing a loaded document its editor.
    pub(super) fn open_editors(&mut self) {
        let world = self.replica.world();
        let wanted: Vec<(WindowId, DocId)> = world
            .desktop
            .windows
            .values()
            .filter(|window| window.app == AppKind::Writer)
            .filter_map(|window| Some((window.id, window.doc_id?)))
            .filter(|(window, doc_id)| {
                self.writers
                    .editors
                    .get(window)
                    .is_none_or(|editor| editor.doc.doc_id() != *doc_id)
            })
            .collect();
        for (window, doc_id) in wanted {
            let Some(doc) = self.replica.world().docs.get(&doc_id) else {
                continue;
            };
            self.writers.editors_opened += 1;
            let tag = format!(
                "web{}-{}",
                self.writers.tag_base, self.writers.editors_opened
            );
            if let Some(doc) = DocText::open(doc, tag) {
                let area = NodeRef::default();
                self.writers.editors.insert(
                    window,
                    Editor {
                        doc,
                        stale: true,
                        area,
                    },
                );
            }
        }
    }

    /// A document's text arrived: editors opened before (on an older copy) start over.
    pub(super) fn catch_up_editors(&mut self, doc_id: DocId) {
        let Some(doc) = self.replica.world().docs.get(&doc_id) else {
            return;
        };
        for editor in self.writers.editors.values_mut() {
            if editor.doc.doc_id() == doc_id
                && editor.doc.is_saved()
                && editor.doc.version() < doc.version
            {
                editor.doc.refused(doc);
                editor.stale = true;
            }
        }
    }

    pub(super) fn edit_refused(&mut self, doc_id: DocId, message: &str) {
        let Some(doc) = self.replica.world().docs.get(&doc_id).cloned() else {
            return;
        };
        if !doc.is_loaded() {
            self.replica.request_doc(doc_id);
        }
        for editor in self
            .writers
            .editors
            .values_mut()
            .filter(|editor| editor.doc.doc_id() == doc_id)
        {
            editor.doc.refused(&doc);
            editor.stale = true;
        }
        self.notify(
            format!("your edit was refused ({message}); the text is back to the saved one"),
            true,
        );
    }

    /// The user typed into a writer's text area: the change becomes one edit.
    pub(super) fn writer_input(&mut self, window: WindowId) {
        let Some(editor) = self.writers.editors.get_mut(&window) else {
            return;
        };
        let Some(area) = editor.area() else {
            return;
        };
        let value = area.value();
        let caret = area
            .selection_end()
            .ok()
            .flatten()
            .map(|units| text::char_of_utf16(&value, units));
        let old = editor.doc.text().to_string();
        let Some((start, end, inserted)) = text::splice_between(&old, &value, caret) else {
            return;
        };
        match editor.doc.splice(start, end, &inserted) {
            Ok(Some(command)) => self.send(command),
            Ok(None) => {}
            Err(err) => {
                editor.stale = true;
                self.notify(format!("that change could not be made: {err}"), true);
            }
        }
    }

    /// Puts each editor's text into its text area where they differ.
    pub(super) fn sync_text_areas(&mut self) {
        for editor in self.writers.editors.values_mut() {
            if !editor.stale {
                continue;
            }
            if let Some(area) = editor.area() {
                let text = editor.doc.text().to_string();
                if area.value() != text {
                    let start = area.selection_start().ok().flatten().unwrap_or(0);
                    area.set_value(&text);
                    let _ = area.set_selection_range(start, start);
                }
                editor.stale = false;
            }
        }
    }
}

/// Puts `after` into a text area that showed `before`, keeping its selection on the same
/// text: positions move over `remote`, someone else's edit.
fn follow_remote(
    area: &HtmlTextAreaElement,
    before: &str,
    after: &str,
    remote: &choir_proto::TextOp,
) {
    let start = area.selection_start().ok().flatten().unwrap_or(0);
    let end = area.selection_end().ok().flatten().unwrap_or(start);
    let start = remote.transform_position(text::char_of_utf16(before, start));
    let end = remote.transform_position(text::char_of_utf16(before, end));
    let scroll = area.scroll_top();
    area.set_value(after);
    let _ = area.set_selection_range(
        text::utf16_of_char(after, start),
        text::utf16_of_char(after, end),
    );
    area.set_scroll_top(scroll);
}
