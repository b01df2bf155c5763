//! Documents of the writer app. A document's metadata (title, version, length) is always
//! known; its text is loaded only where it is needed: a client loads it when a window shows
//! the document, the daemon keeps the texts in use and reads the others back from disk. The
//! text is a rope, so applying an edit to a large document costs a tree walk rather than a
//! copy; it is sent over the wire as plain text.

use ropey::Rope;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, VecDeque};

use crate::event::{Event, EventBody};
use crate::ids::DocId;
use crate::text_op::TextOp;

/// How many recent edits a document keeps in memory (for rebasing and for catching an
/// editor up); the daemon reads older ones back from its log.
pub const DOC_HISTORY: usize = 256;

/// A document's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Doc {
    pub id: DocId,
    pub title: String,
    /// How many edits have been applied: 0 when created. An edit names the version it was
    /// made against.
    #[serde(default)]
    pub version: u64,
    /// The seq of the last event that changed it.
    pub rev: u64,
    /// Characters in the text, known whether or not the text is loaded.
    pub len: u64,
    /// The text at `version`, when loaded.
    #[serde(default, with = "rope_text", skip_serializing_if = "Option::is_none")]
    pub content: Option<Rope>,
    /// The last edits, oldest first: the one at index `i` led to version
    /// `version - recent.len() + i + 1`.
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    pub recent: VecDeque<DocEdit>,
}

/// One committed edit as kept for rebasing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocEdit {
    pub op: TextOp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit_id: Option<String>,
}

impl Doc {
    /// A new document with its text.
    pub fn new(id: DocId, title: &str, content: &str, rev: u64) -> Self {
        let content = Rope::from_str(content);
        Self {
            id,
            title: title.to_owned(),
            version: 0,
            rev,
            len: content.len_chars() as u64,
            content: Some(content),
            recent: VecDeque::new(),
        }
    }

    /// The oldest version an edit may be made against with the edits kept here.
    pub fn oldest_base(&self) -> u64 {
        self.version - self.recent.len() as u64
    }

    /// The edits committed after `base`, oldest first; `None` when `base` is older than
    /// [`Doc::oldest_base`] or newer than the document.
    pub fn edits_since(&self, base: u64) -> Option<impl Iterator<Item = &DocEdit>> {
        if base > self.version || base < self.oldest_base() {
            return None;
        }
        let skip = (base - self.oldest_base()) as usize;
        Some(self.recent.iter().skip(skip))
    }

    /// Puts edits older than the kept ones back in front (read from the log), so that an
    /// edit made against `version - recent.len()` or later can be rebased. `older` must be
    /// the edits that led to the versions just before [`Doc::oldest_base`], oldest first.
    pub fn extend_history(&mut self, older: Vec<DocEdit>) {
        for edit in older.into_iter().rev() {
            self.recent.push_front(edit);
        }
    }

    /// Drops kept edits beyond [`DOC_HISTORY`].
    pub fn trim_history(&mut self) {
        while self.recent.len() > DOC_HISTORY {
            self.recent.pop_front();
        }
    }

    /// Characters in the document.
    pub fn len_chars(&self) -> usize {
        usize::try_from(self.len).unwrap_or(usize::MAX)
    }

    /// The text as a string, when loaded.
    pub fn text(&self) -> Option<String> {
        self.content.as_ref().map(ToString::to_string)
    }

    /// Whether the text is here.
    pub fn is_loaded(&self) -> bool {
        self.content.is_some()
    }

    /// The metadata alone: no text, no edits (what a welcome carries).
    pub fn summary(&self) -> Self {
        Self {
            content: None,
            recent: VecDeque::new(),
            ..self.clone()
        }
    }

    /// Takes in a loaded copy of this document (from a `doc` reply or the daemon's disk): its
    /// text, version and recent edits replace what is here unless this one is newer (events
    /// that arrived after the copy was made). Returns whether it was taken.
    pub fn load(&mut self, loaded: Doc) -> bool {
        if loaded.id != self.id || loaded.content.is_none() || loaded.version < self.version {
            return false;
        }
        self.version = loaded.version;
        self.rev = self.rev.max(loaded.rev);
        self.len = loaded.len;
        self.content = loaded.content;
        self.recent = loaded.recent;
        true
    }

    /// Forgets the text (the daemon keeps texts of documents in use only).
    pub fn unload(&mut self) {
        self.content = None;
    }
}

/// Applies a document event to a map of documents (what [`crate::World::apply`] does for its
/// `docs`), for a follower that needs the documents alone. Other events change nothing.
pub fn apply(docs: &mut BTreeMap<DocId, Doc>, event: &Event) {
    match &event.body {
        EventBody::DocCreated {
            doc_id,
            title,
            content,
        } => {
            docs.entry(*doc_id)
                .or_insert_with(|| Doc::new(*doc_id, title, content, event.seq));
        }
        EventBody::DocEdited {
            doc_id,
            version,
            op,
            edit_id,
        } => {
            if let Some(doc) = docs.get_mut(doc_id) {
                apply_edit(doc, event.seq, *version, op, edit_id.as_deref());
            }
        }
        EventBody::DocRenamed { doc_id, title } => {
            if let Some(doc) = docs.get_mut(doc_id) {
                doc.title = title.clone();
                doc.rev = event.seq;
            }
        }
        EventBody::DocDeleted { doc_id } => {
            docs.remove(doc_id);
        }
        _ => {}
    }
}

/// Only the edit that follows the current version and fits its length applies; anything else
/// (an edit already in a loaded copy, a corrupt or foreign log entry) changes nothing.
fn apply_edit(doc: &mut Doc, seq: u64, version: u64, op: &TextOp, edit_id: Option<&str>) {
    if version != doc.version + 1 || op.base_len() != doc.len_chars() {
        return;
    }
    if let Some(content) = doc.content.as_mut() {
        if op.apply_rope(content).is_err() {
            // The length fitted, so this cannot happen; should it, the text is read again.
            doc.content = None;
        }
    }
    doc.version = version;
    doc.rev = seq;
    doc.len = op.target_len() as u64;
    doc.recent.push_back(DocEdit {
        op: op.clone(),
        edit_id: edit_id.map(str::to_owned),
    });
    if doc.recent.len() > DOC_HISTORY {
        doc.recent.pop_front();
    }
}

mod rope_text {
    use super::*;

    pub fn serialize<S: Serializer>(rope: &Option<Rope>, serializer: S) -> Result<S::Ok, S::Error> {
        match rope {
            Some(rope) => serializer.collect_str(rope),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Rope>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        Ok(text.map(|text| Rope::from_str(&text)))
    }
}
