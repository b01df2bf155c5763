//! The durable event store: an append-only SQLite log with group commit and gap-free
//! subscriptions.
//!
//! One writer task owns the only writing connection. Concurrent `append` calls queue up while
//! a commit is being synced and go into the next transaction together (group commit); each
//! `append` resolves only after its transaction committed. Committed events are then published
//! to live subscribers, who fall back to reading from disk whenever they would otherwise miss
//! something.

mod committed;
mod error;
mod follow;
mod lookup;
mod pages;
mod redact;
mod schema;
mod subscription;
mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use choir_proto::{Event, EventBody, NewEvent};
use sqlx::sqlite::SqlitePool;
use tokio::sync::{broadcast, mpsc, oneshot};

pub use committed::Committed;
pub use error::StoreError;
pub(crate) use follow::{Follow, Step};
pub use redact::{unfinished_share_token, Redactor, SHARE_TOKEN_MARK, TOKEN_MARK};
pub use subscription::Subscription;

use writer::{EncodedEvent, WriterMsg};

/// How many events a live subscriber may fall behind before it goes back to disk.
const LIVE_CAPACITY: usize = 4096;
/// How many queued appends the writer accepts before producers wait.
const QUEUE_CAPACITY: usize = 8192;

/// Tuning for [`EventStore::open`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `synchronous=FULL` (the default): every commit is fsynced. Turn off only for tests and
    /// baselines that do not care about power loss.
    pub durable: bool,
    /// Most events one group commit writes.
    pub max_batch: usize,
    /// Takes secrets out of every event before it is committed.
    pub redactor: Redactor,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            durable: true,
            max_batch: 8192,
            redactor: Redactor::default(),
        }
    }
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct EventStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: mpsc::Sender<WriterMsg>,
    /// Taken away at shutdown, so live receivers see the stream close once the writer (which
    /// holds the other sender) has stopped.
    live: Mutex<Option<broadcast::Sender<Arc<Committed>>>>,
    head: Arc<AtomicU64>,
    /// Transactions the writer has committed (each one sync to the disk, when durable).
    commits: Arc<AtomicU64>,
    reader: SqlitePool,
    /// Pages of the log, read row by row (catch-up).
    pages: pages::Pages,
    redactor: Redactor,
}

impl EventStore {
    /// Opens (creating if missing) the log at `path` and starts its writer task. A file that
    /// is not a ChoirOS log, or not a database at all, is refused.
    pub async fn open(path: &Path, options: StoreOptions) -> Result<Self, StoreError> {
        let opened = schema::open(path, options.durable).await?;
        let head = Arc::new(AtomicU64::new(opened.head));
        let (live, _) = broadcast::channel(LIVE_CAPACITY);
        let (writer_tx, writer_rx) = mpsc::channel(QUEUE_CAPACITY);
        let commits = Arc::new(AtomicU64::new(0));
        let writer = writer::Writer {
            conn: opened.writer,
            inbox: writer_rx,
            live: live.clone(),
            head: head.clone(),
            commits: commits.clone(),
            max_batch: options.max_batch.max(1),
            durable: options.durable,
        };
        std::thread::Builder::new()
            .name("event-writer".into())
            .spawn(move || writer::run(writer))
            .map_err(|err| StoreError::CommitFailed(format!("cannot start the writer: {err}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                writer: writer_tx,
                live: Mutex::new(Some(live)),
                head,
                commits,
                reader: opened.reader,
                pages: pages::Pages::new(path),
                redactor: options.redactor,
            }),
        })
    }

    fn reader(&self) -> &SqlitePool {
        &self.inner.reader
    }

    /// The seq of the last committed event (0 when the log is empty).
    pub fn head(&self) -> u64 {
        self.inner.head.load(Ordering::Acquire)
    }

    /// How many transactions have been committed since the store was opened (each appends
    /// whatever waited while the one before was synced): for benchmarks and logs.
    pub fn commits(&self) -> u64 {
        self.inner.commits.load(Ordering::Relaxed)
    }

    /// Appends events atomically and returns them with their seqs once committed.
    pub async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<Arc<Committed>>, StoreError> {
        self.append_with(events, false).await
    }

    /// Appends events whose loss in a power cut costs little (a shell's output: its shell
    /// dies with the daemon anyway): their commit does not wait for the disk, when nothing
    /// else in the same commit needs it. They reach the disk with the next ordinary commit,
    /// and never out of order: a cut loses at most the last such events, leaving no hole.
    pub async fn append_relaxed(
        &self,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Arc<Committed>>, StoreError> {
        self.append_with(events, true).await
    }

    async fn append_with(
        &self,
        events: Vec<NewEvent>,
        relaxed: bool,
    ) -> Result<Vec<Arc<Committed>>, StoreError> {
        self.queue_with(events, relaxed).await?.committed().await
    }

    /// Queues an append without waiting for its commit: appends are committed in the order
    /// they were queued, so an actor can queue one, go on, and queue the next behind it (the
    /// writer takes both into one commit when the second comes while the first is synced).
    pub async fn queue(&self, events: Vec<NewEvent>) -> Result<Queued, StoreError> {
        self.queue_with(events, false).await
    }

    async fn queue_with(&self, events: Vec<NewEvent>, relaxed: bool) -> Result<Queued, StoreError> {
        let (reply, committed) = oneshot::channel();
        if events.is_empty() {
            let _ = reply.send(Ok(Vec::new()));
            return Ok(Queued(committed));
        }
        let encoded = events
            .into_iter()
            .map(|event| EncodedEvent::new(event, &self.inner.redactor))
            .collect::<Result<Vec<_>, _>>()?;
        self.inner
            .writer
            .send(WriterMsg::Append {
                events: encoded,
                relaxed,
                reply,
            })
            .await
            .map_err(|_| StoreError::Closed)?;
        Ok(Queued(committed))
    }

    /// Reads up to `limit` committed events with `seq >= from_seq`, in order.
    pub async fn read(&self, from_seq: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.pages.read(from_seq, limit))
            .await
            .map_err(|err| StoreError::Read(format!("the read stopped: {err}")))?
    }

    /// Every event with `seq >= from_seq`: first those already on disk, then live ones as
    /// they commit, with no gap and no duplicate.
    pub fn subscribe(&self, from_seq: u64) -> Subscription {
        let live = match self.inner.live.lock() {
            Ok(live) => live.as_ref().map(broadcast::Sender::subscribe),
            Err(poisoned) => poisoned
                .into_inner()
                .as_ref()
                .map(broadcast::Sender::subscribe),
        };
        // After shutdown: a receiver whose sender is gone, so the subscription ends after
        // what is on disk.
        let live = live.unwrap_or_else(|| broadcast::channel(1).1);
        Subscription::new(self.clone(), live, from_seq.max(1))
    }

    /// Writes every append queued so far, then stops the writer. Later appends fail with
    /// [`StoreError::Closed`].
    pub async fn shutdown(&self) {
        let (reply, done) = oneshot::channel();
        if self
            .inner
            .writer
            .send(WriterMsg::Shutdown { reply })
            .await
            .is_ok()
        {
            let _ = done.await;
        }
        match self.inner.live.lock() {
            Ok(mut live) => live.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        self.inner.reader.close().await;
    }
}

/// An append in the writer's queue (see [`EventStore::queue`]).
pub struct Queued(oneshot::Receiver<Result<Vec<Arc<Committed>>, StoreError>>);

impl Queued {
    /// Its events once committed, with their seqs.
    pub async fn committed(self) -> Result<Vec<Arc<Committed>>, StoreError> {
        self.0.await.map_err(|_| StoreError::Closed)?
    }
}

/// Decodes a page of rows built by SQLite's `json_group_array` (see [`EventStore::read`]).
fn decode_page(page: Option<String>, near_seq: u64) -> Result<Vec<Event>, StoreError> {
    let rows: Vec<StoredRow> = match page {
        Some(page) => serde_json::from_str(&page).map_err(|err| StoreError::CorruptEvent {
            seq: i64::try_from(near_seq).unwrap_or(i64::MAX),
            reason: format!("page from here on is not readable: {err}"),
        })?,
        None => Vec::new(),
    };
    rows.into_iter().map(StoredRow::decode).collect()
}

/// One row of the `events` table as `read` receives it.
#[derive(serde::Deserialize)]
pub(super) struct StoredRow(i64, i64, String, Option<String>, String, i64, String);

impl StoredRow {
    pub(super) fn decode(self) -> Result<Event, StoreError> {
        let StoredRow(seq, ts, actor, correlation, type_name, version, data) = self;
        let corrupt = |reason: String| StoreError::CorruptEvent { seq, reason };
        let version = u32::try_from(version).map_err(|_| corrupt(format!("version {version}")))?;
        let body = EventBody::from_stored(&type_name, version, &data)
            .map_err(|err| corrupt(err.to_string()))?;
        Ok(Event {
            seq: u64::try_from(seq).map_err(|_| corrupt("negative seq".into()))?,
            ts,
            actor,
            correlation,
            v: version,
            body,
        })
    }
}

#[cfg(test)]
mod tests;
