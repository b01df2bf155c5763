//! A document's text read back from disk: its checkpoint in the snapshot file, then its events
//! after it from the log (or its whole history, when there is no checkpoint or the checkpoint
//! does not fit the log).

use std::collections::BTreeMap;

use choir_proto::{apply_doc_event, Doc, DocId, Event};

use super::snapshot::{Checkpoint, Snapshots};
use crate::store::{EventStore, StoreError};

/// Reads `meta`'s text as of `meta.version` (the world's, up to seq `head`); `None` if the
/// log does not give it (a corrupt log).
pub async fn load(
    store: &EventStore,
    snapshots: &Snapshots,
    meta: &Doc,
    head: u64,
) -> Result<Option<Doc>, StoreError> {
    load_at(store, snapshots, meta, head, meta.version).await
}

/// The text of `meta` as it was at `version` (for diffing against what was written then).
pub async fn text_at(
    store: &EventStore,
    snapshots: &Snapshots,
    meta: &Doc,
    head: u64,
    version: u64,
) -> Result<Option<String>, StoreError> {
    let doc = load_at(store, snapshots, meta, head, version).await?;
    Ok(doc.and_then(|doc| doc.text()))
}

/// The document as it was at `version`: from its checkpoint if that is not newer, else (or
/// if the checkpoint does not fit the log) from its whole history.
async fn load_at(
    store: &EventStore,
    snapshots: &Snapshots,
    meta: &Doc,
    head: u64,
    version: u64,
) -> Result<Option<Doc>, StoreError> {
    let checkpoint = match snapshots.checkpoint(meta.id).await {
        Some(checkpoint) if checkpoint.version <= version => Some(checkpoint),
        // A past version: the latest checkpoint kept from before it.
        _ => snapshots.past_checkpoint(meta.id, version).await,
    };
    if let Some(checkpoint) = checkpoint {
        if let Some(doc) = replay(store, meta, Some(checkpoint), head, version).await? {
            return Ok(Some(doc));
        }
        tracing::warn!(doc = %meta.id, "a document's checkpoint does not fit the log; reading its whole history");
    }
    replay(store, meta, None, head, version).await
}

/// Folds the document's events after the checkpoint (or all of them) up to `version`, with
/// the reducer every client uses.
async fn replay(
    store: &EventStore,
    meta: &Doc,
    checkpoint: Option<Checkpoint>,
    head: u64,
    version: u64,
) -> Result<Option<Doc>, StoreError> {
    let mut docs = BTreeMap::new();
    let after = match checkpoint {
        Some(checkpoint) => {
            let doc = Doc {
                version: checkpoint.version,
                ..Doc::new(meta.id, &meta.title, &checkpoint.text, checkpoint.seq)
            };
            docs.insert(meta.id, doc);
            checkpoint.seq
        }
        None => 0,
    };
    // From the checkpoint's own event on: a checkpoint whose event is not this document's (a
    // stray one, of another log) is not used.
    let events: Vec<Event> = store
        .doc_events(meta.id, after.saturating_sub(1), head)
        .await?;
    if after > 0 && events.first().map(|event| event.seq) != Some(after) {
        return Ok(None);
    }
    for event in events
        .iter()
        .filter(|event| event.seq > after && event.seq <= head)
    {
        if at_version(&docs, meta.id, version) {
            break;
        }
        apply_doc_event(&mut docs, event);
    }
    let Some(mut doc) = docs.remove(&meta.id) else {
        return Ok(None);
    };
    if doc.version != version || !doc.is_loaded() {
        return Ok(None);
    }
    doc.title = meta.title.clone();
    Ok(Some(doc))
}

fn at_version(docs: &BTreeMap<DocId, Doc>, doc_id: DocId, version: u64) -> bool {
    docs.get(&doc_id).is_some_and(|doc| doc.version >= version)
}

/// What to store so that `doc` (loaded) is read back quickly.
pub fn checkpoint(doc: &Doc) -> Option<Checkpoint> {
    Some(Checkpoint {
        version: doc.version,
        seq: doc.rev,
        text: doc.content.as_ref()?.to_string(),
    })
}
