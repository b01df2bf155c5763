//! Documents of the writer app.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::event::{Event, EventBody};
use crate::ids::DocId;

/// A document's current state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Doc {
    pub id: DocId,
    pub title: String,
    pub content: String,
    /// The seq of the last event that changed it.
    pub rev: u64,
}

pub(super) fn apply(docs: &mut BTreeMap<DocId, Doc>, event: &Event) {
    match &event.body {
        EventBody::DocCreated {
            doc_id,
            title,
            content,
        } => {
            docs.entry(*doc_id).or_insert_with(|| Doc {
                id: *doc_id,
                title: title.clone(),
                content: content.clone(),
                rev: event.seq,
            });
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
