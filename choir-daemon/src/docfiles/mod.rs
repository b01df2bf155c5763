//! Every document as a markdown file in the workspace (`docs/<id>-<title>.md`), kept up to date
//! from the log with atomic writes. A change made to such a file outside ChoirOS (an editor,
//! `bash`, the agent's `write_file`) is noticed by polling and submitted as a `doc.edit`
//! against the version the file was written at, so it merges with concurrent edits and the
//! log stays the truth. What was written at which version is kept in `<data-dir>/docfiles.json`,
//! so edits made while the daemon was stopped are picked up at the next start.

mod diff;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use choir_proto::{apply_doc_event, Command, Doc, DocId, Event, EventBody};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::actors::WorldHandle;
use crate::store::{EventStore, Follow, Step};
use crate::tools::write_atomic;

pub use diff::diff;

/// The directory of the workspace that holds the documents.
pub const DOCS_DIR: &str = "docs";
/// How often files are checked for outside changes and pending writes are made.
pub const POLL: Duration = Duration::from_millis(250);
/// Who file edits are attributed to in the log.
pub const FILE_ACTOR: &str = "file";

/// What was last written for one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Written {
    /// Relative to the workspace.
    file: String,
    version: u64,
    len: u64,
    mtime_ns: u128,
}

/// This actor's knowledge of one document's file. Whether it needs writing follows from the
/// document: never written, written at another version or under another title, or `stale`.
/// (An outside edit is diffed against the document's text at the version written, which the
/// world reads back: no text is held here.)
#[derive(Default)]
struct FileState {
    written: Option<Written>,
    /// Removed or unreadable: write the log's text again.
    stale: bool,
}

impl FileState {
    fn needs_write(&self, doc: &Doc) -> bool {
        self.stale
            || self.written.as_ref().is_none_or(|written| {
                written.version != doc.version || written.file != file_name(doc.id, &doc.title)
            })
    }
}

/// Starts the actor with the documents' metadata as of seq `head`. It stops (after a last
/// flush) when `shutdown` fires.
pub fn spawn(
    store: EventStore,
    world: WorldHandle,
    workspace: &Path,
    state_path: PathBuf,
    docs: BTreeMap<DocId, Doc>,
    head: u64,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let mut files = DocFiles {
        workspace: workspace.to_path_buf(),
        state_path,
        docs,
        files: BTreeMap::new(),
        world,
        next_tag: 0,
        state_dirty: false,
    };
    files.load();
    tokio::spawn(files.run(store, head, shutdown))
}

struct DocFiles {
    workspace: PathBuf,
    state_path: PathBuf,
    /// The documents' metadata (no texts), folded from the log as every client does.
    docs: BTreeMap<DocId, Doc>,
    files: BTreeMap<DocId, FileState>,
    world: WorldHandle,
    next_tag: u64,
    state_dirty: bool,
}

impl DocFiles {
    /// Takes what was written from the state file.
    fn load(&mut self) {
        let saved: BTreeMap<DocId, Written> = std::fs::read(&self.state_path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        for doc in self.docs.values() {
            let mut written = saved.get(&doc.id).cloned();
            if let Some(w) = &written {
                if w.version != doc.version && self.changed_outside(w) {
                    // Written at an older version (the daemon died before its next write)
                    // and edited since: the text it was edited from is gone, so merging could
                    // undo later edits. Keep the edited file beside the document instead.
                    self.set_aside(w);
                    written = None;
                }
            }
            // A file written at the current version is known (the first poll reads it if it
            // changed outside); any other is rewritten.
            let state = FileState {
                written,
                stale: false,
            };
            self.files.insert(doc.id, state);
        }
    }

    fn changed_outside(&self, written: &Written) -> bool {
        match std::fs::metadata(self.workspace.join(&written.file)) {
            Ok(meta) => (meta.len(), mtime_ns(&meta)) != (written.len, written.mtime_ns),
            Err(_) => false,
        }
    }

    fn set_aside(&self, written: &Written) {
        let from = self.workspace.join(&written.file);
        let stamp = std::time::SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let to = from.with_extension(format!("conflict-{stamp}.md"));
        match std::fs::rename(&from, &to) {
            Ok(()) => tracing::warn!(
                kept = %to.display(),
                "a document file was edited while the daemon was down, after a write it had not finished; kept the edited file beside the document"
            ),
            Err(err) => {
                tracing::warn!(%err, path = %from.display(), "cannot set an edited document file aside")
            }
        }
    }

    async fn run(mut self, store: EventStore, head: u64, shutdown: CancellationToken) {
        let mut follow =
            Follow::<()>::new("the document files", store.subscribe(head + 1), shutdown)
                .with_tick(POLL);
        while let Some(step) = follow.next().await {
            match step {
                Step::Event(event) => {
                    self.apply(&event);
                    // A new document's file exists at once; later writes are batched.
                    if matches!(event.body, EventBody::DocCreated { .. }) {
                        self.flush().await;
                    }
                }
                Step::Tick => {
                    self.pick_up_outside_edits().await;
                    // Apply what those edits (and anything else) committed before writing.
                    let events = follow.events();
                    while events.next_seq() <= store.head() {
                        match events.next().await {
                            Ok(Some(event)) => self.apply(&event),
                            _ => break,
                        }
                    }
                    self.flush().await;
                }
                Step::Message(()) => {}
            }
        }
        self.flush().await;
    }

    fn apply(&mut self, event: &Event) {
        apply_doc_event(&mut self.docs, event);
        // Metadata is all this needs: texts come from the world when a file is written.
        if let Some(doc) = event_doc(event).and_then(|id| self.docs.get_mut(&id)) {
            doc.unload();
            doc.recent.clear();
        }
        match &event.body {
            EventBody::DocCreated { doc_id, .. } => {
                self.files.entry(*doc_id).or_default();
            }
            EventBody::DocDeleted { doc_id } => {
                let written = self.files.remove(doc_id).and_then(|file| file.written);
                if let Some(written) = written {
                    let path = self.workspace.join(&written.file);
                    if let Err(err) = std::fs::remove_file(&path) {
                        tracing::warn!(%err, path = %path.display(), "cannot remove a deleted document's file");
                    }
                    self.state_dirty = true;
                }
            }
            _ => {}
        }
    }

    /// Reads every file whose size or time differs from what was written and submits the
    /// difference as an edit. The files are looked at, and the differences made, on the
    /// blocking pool: a document file may be 16 MiB.
    async fn pick_up_outside_edits(&mut self) {
        let known: Vec<(DocId, PathBuf, (u64, u128))> = self
            .files
            .iter()
            .filter_map(|(doc_id, file)| {
                let written = file.written.as_ref()?;
                let path = self.workspace.join(&written.file);
                Some((*doc_id, path, (written.len, written.mtime_ns)))
            })
            .collect();
        if known.is_empty() {
            return;
        }
        let Ok(seen) = tokio::task::spawn_blocking(move || {
            known
                .into_iter()
                .map(|(doc_id, path, was)| (doc_id, look(&path, was)))
                .collect::<Vec<_>>()
        })
        .await
        else {
            return;
        };
        let mut edits = Vec::new();
        for (doc_id, seen) in seen {
            let Some(file) = self.files.get_mut(&doc_id) else {
                continue;
            };
            let Some(written) = &mut file.written else {
                continue;
            };
            match seen {
                Seen::Same => {}
                // Removed outside: the log still has it, so write it again.
                Seen::Gone => file.stale = true,
                Seen::Changed {
                    len,
                    mtime_ns,
                    text,
                } => {
                    written.len = len;
                    written.mtime_ns = mtime_ns;
                    self.state_dirty = true;
                    match text {
                        Ok(text) => edits.push((doc_id, written.version, text)),
                        Err(err) => {
                            tracing::warn!(%err, file = %written.file, "cannot read a changed document file; the log keeps its text");
                            file.stale = true;
                        }
                    }
                }
            }
        }
        let mut submitted = Vec::new();
        for (doc_id, base, text) in edits {
            // What the file said when it was written, read back from the log.
            let written = match self.world.doc_at(doc_id, base).await {
                Ok(Some(written)) => written,
                Ok(None) => continue,
                Err(err) => {
                    tracing::warn!(%err, doc = %doc_id, "cannot read a document's text back");
                    continue;
                }
            };
            let op = tokio::task::spawn_blocking(move || {
                (text != written).then(|| diff(&written, &text))
            })
            .await;
            if let Ok(Some(op)) = op {
                submitted.push((doc_id, base, op));
            }
        }
        for (doc_id, base, op) in submitted {
            self.next_tag += 1;
            let tag = format!("file-{}-{}", std::process::id(), self.next_tag);
            let edit = Command::EditDoc {
                doc_id,
                base_version: base,
                op,
                edit_id: Some(tag.clone()),
            };
            match self.world.execute(edit, FILE_ACTOR.into(), None).await {
                Ok(_) => {
                    tracing::info!(doc = %doc_id, "took an outside edit of a document file into the log");
                }
                Err(err) => {
                    tracing::warn!(%err, doc = %doc_id, "an outside edit of a document file was refused; the file will show the log's text")
                }
            }
        }
    }

    /// Writes every document the log changed since its last write.
    async fn flush(&mut self) {
        let due: Vec<DocId> = self
            .files
            .iter()
            .filter(|(id, file)| self.docs.get(id).is_some_and(|doc| file.needs_write(doc)))
            .map(|(id, _)| *id)
            .collect();
        for doc_id in &due {
            let doc = match self.world.doc(*doc_id).await {
                Ok(Some(doc)) => doc,
                Ok(None) => continue,
                Err(err) => {
                    tracing::warn!(%err, doc = %doc_id, "cannot read a document to write its file");
                    continue;
                }
            };
            let Some(file) = self.files.get_mut(doc_id) else {
                continue;
            };
            let name = file_name(*doc_id, &doc.title);
            let path = self.workspace.join(&name);
            if let Some(old) = &file.written {
                if old.file != name {
                    let _ = std::fs::remove_file(self.workspace.join(&old.file));
                }
            }
            let text = doc.text().unwrap_or_default();
            let written = off_the_workers(path.clone(), move |path| {
                write_atomic(path, text.as_bytes()).and_then(|()| std::fs::metadata(path))
            })
            .await;
            match written {
                Ok(meta) => {
                    file.written = Some(Written {
                        file: name,
                        version: doc.version,
                        len: meta.len(),
                        mtime_ns: mtime_ns(&meta),
                    });
                    file.stale = false;
                    self.state_dirty = true;
                }
                Err(err) => {
                    tracing::warn!(%err, path = %path.display(), "cannot write a document file; will retry")
                }
            }
        }
        if self.state_dirty {
            let state: BTreeMap<DocId, &Written> = self
                .files
                .iter()
                .filter_map(|(id, file)| file.written.as_ref().map(|w| (*id, w)))
                .collect();
            match serde_json::to_vec_pretty(&state) {
                Ok(bytes) => match off_the_workers(self.state_path.clone(), move |path| {
                    write_atomic(path, &bytes)
                })
                .await
                {
                    Ok(()) => self.state_dirty = false,
                    Err(err) => tracing::warn!(%err, "cannot save the document file state"),
                },
                Err(err) => tracing::warn!(%err, "cannot encode the document file state"),
            }
        }
    }
}

/// Runs file I/O on `path` (a write of up to a whole document, synced) on the blocking pool,
/// so the async workers that serve every client do not wait for the disk.
async fn off_the_workers<T: Send + 'static>(
    path: PathBuf,
    work: impl FnOnce(&Path) -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(move || work(&path))
        .await
        .unwrap_or_else(|err| Err(std::io::Error::other(err)))
}

/// The document an event is about, if any.
fn event_doc(event: &Event) -> Option<DocId> {
    match &event.body {
        EventBody::DocCreated { doc_id, .. }
        | EventBody::DocEdited { doc_id, .. }
        | EventBody::DocRenamed { doc_id, .. } => Some(*doc_id),
        _ => None,
    }
}

/// A written file, looked at again.
enum Seen {
    /// The size and time it was written with.
    Same,
    Gone,
    /// Another size or time, and the text it holds now.
    Changed {
        len: u64,
        mtime_ns: u128,
        text: std::io::Result<String>,
    },
}

/// Looks at the file at `path`, written with size and time `was`. Blocking.
fn look(path: &Path, was: (u64, u128)) -> Seen {
    let Ok(meta) = std::fs::metadata(path) else {
        return Seen::Gone;
    };
    let now = (meta.len(), mtime_ns(&meta));
    if now == was {
        return Seen::Same;
    }
    Seen::Changed {
        len: now.0,
        mtime_ns: now.1,
        text: std::fs::read_to_string(path),
    }
}

fn mtime_ns(meta: &std::fs::Metadata) -> u128 {
    meta.modified()
        .ok()
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .unwrap_or_default()
        .as_nanos()
}

/// `docs/<id>-<slug>.md`: the id keeps names unique, the slug makes them readable.
pub fn file_name(doc_id: DocId, title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.chars().count() >= 48 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        format!("{DOCS_DIR}/{doc_id}.md")
    } else {
        format!("{DOCS_DIR}/{doc_id}-{slug}.md")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_readable_and_unique() {
        assert_eq!(
            file_name(DocId(3), "Meeting notes: Q3!"),
            "docs/3-meeting-notes-q3.md"
        );
        assert_eq!(
            file_name(DocId(4), "../../etc/passwd"),
            "docs/4-etc-passwd.md"
        );
        assert_eq!(file_name(DocId(5), "???"), "docs/5.md");
        assert_eq!(
            file_name(DocId(6), "Café Ünïcode"),
            "docs/6-café-ünïcode.md"
        );
    }
}
