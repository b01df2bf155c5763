//! Documents of the writer app. A document's text is a rope, so applying an edit to a large
//! document costs a tree walk rather than a copy; it is sent over the wire as plain text.

use ropey::Rope;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, VecDeque};

use crate::event::{Event, EventBody};
use crate::ids::DocId;
use crate::text_op::TextOp;

/// How many recent edits a document keeps for rebasing edits made against older versions.
pub const DOC_HISTORY: usize = 256;

/// A document's current state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Doc {
    pub id: DocId,
    pub title: String,
    #[serde(with = "rope_text")]
    pub content: Rope,
    /// How many edits have been applied: 0 when created. An edit names the version it was
    /// made against.
    #[serde(default)]
    pub version: u64,
    /// The seq of the last event that changed it.
    pub rev: u64,
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
    /// The oldest version an edit may still be made against.
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

    /// Characters in the document.
    pub fn len_chars(&self) -> usize {
        self.content.len_chars()
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
            docs.entry(*doc_id).or_insert_with(|| Doc {
                id: *doc_id,
                title: title.clone(),
                content: Rope::from_str(content),
                version: 0,
                rev: event.seq,
                recent: VecDeque::new(),
            });
        }
        EventBody::DocEdited {
            doc_id,
            version,
            op,
            edit_id,
        } => {
            let Some(doc) = docs.get_mut(doc_id) else {
                return;
            };
            // Only the edit that follows the current version fits; anything else is a
            // corrupt or foreign log entry and changes nothing.
            if *version != doc.version + 1 || op.apply_rope(&mut doc.content).is_err() {
                return;
            }
            doc.version = *version;
            doc.rev = event.seq;
            doc.recent.push_back(DocEdit {
                op: op.clone(),
                edit_id: edit_id.clone(),
            });
            if doc.recent.len() > DOC_HISTORY {
                doc.recent.pop_front();
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

mod rope_text {
    use super::*;

    pub fn serialize<S: Serializer>(rope: &Rope, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(rope)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Rope, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(Rope::from_str(&text))
    }
}
