//! The single writer, on a thread of its own: batches queued appends into one transaction
//! per commit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use choir_proto::{now_ms, Event, EventBody, NewEvent, EVENT_SCHEMA_VERSION};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::{Committed, Redactor, StoreError};

/// Rows per INSERT statement.
const ROWS_PER_STATEMENT: usize = 4096;

pub(super) enum WriterMsg {
    Append {
        events: Vec<EncodedEvent>,
        /// Its commit need not wait for the disk (see `EventStore::append_relaxed`).
        relaxed: bool,
        reply: oneshot::Sender<Result<Vec<Arc<Committed>>, StoreError>>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// An event serialized by its producer, so the writer's per-row work stays small: `row` is
/// the event's element of the JSON array one INSERT statement unpacks,
/// `[actor, correlation, type, data]`.
pub(super) struct EncodedEvent {
    event: NewEvent,
    row: String,
}

impl EncodedEvent {
    /// Serializes `event`, with the secrets `redactor` finds replaced (in the event itself
    /// too, so what is published is what is stored).
    pub(super) fn new(mut event: NewEvent, redactor: &Redactor) -> Result<Self, StoreError> {
        let mut data = event.body.data_json()?;
        if let Some(clean) = redactor.redact_json(&data) {
            let type_name = event.body.type_name().to_owned();
            event.body = EventBody::from_stored(&type_name, EVENT_SCHEMA_VERSION, &clean)?;
            data = clean;
        }
        let row = serde_json::to_string(&(
            event.actor.as_str(),
            event.correlation.as_deref(),
            event.body.type_name(),
            data.as_str(),
        ))?;
        Ok(Self { event, row })
    }
}

struct Pending {
    events: Vec<EncodedEvent>,
    relaxed: bool,
    reply: oneshot::Sender<Result<Vec<Arc<Committed>>, StoreError>>,
}

/// What the writer is given to do its work with.
pub(super) struct Writer {
    /// The only writing connection, on the writer's own thread: a commit is SQLite's work and
    /// the fsync, with no hand-off to another thread and back for each statement.
    pub conn: rusqlite::Connection,
    pub inbox: mpsc::Receiver<WriterMsg>,
    pub live: broadcast::Sender<Arc<Committed>>,
    pub head: Arc<AtomicU64>,
    /// Transactions committed so far.
    pub commits: Arc<AtomicU64>,
    pub max_batch: usize,
    pub durable: bool,
}

/// The writer's thread: takes whatever appends are queued, commits them in one transaction,
/// then publishes them and replies; until shut down or every handle is gone.
pub(super) fn run(writer: Writer) {
    let Writer {
        conn,
        mut inbox,
        live,
        head,
        commits,
        max_batch,
        durable,
    } = writer;
    let mut last_ts = 0;
    // Whether the connection commits without waiting for the disk (`synchronous=NORMAL`;
    // in WAL mode the next `FULL` commit syncs everything before it too).
    let mut relaxed_mode = false;
    let mut shutdown: Option<oneshot::Sender<()>> = None;
    while shutdown.is_none() {
        let Some(first) = inbox.blocking_recv() else {
            break;
        };
        let mut batch = Vec::new();
        let mut rows = 0;
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                WriterMsg::Append {
                    events,
                    relaxed,
                    reply,
                } => {
                    rows += events.len();
                    batch.push(Pending {
                        events,
                        relaxed,
                        reply,
                    });
                }
                WriterMsg::Shutdown { reply } => {
                    shutdown = Some(reply);
                    break;
                }
            }
            if rows < max_batch {
                next = inbox.try_recv().ok();
            }
        }
        if batch.is_empty() {
            continue;
        }
        let ts = now_ms().max(last_ts);
        last_ts = ts;
        let first_seq = head.load(Ordering::Acquire) + 1;
        let relaxed = durable && batch.iter().all(|pending| pending.relaxed);
        if relaxed != relaxed_mode {
            let pragma = if relaxed {
                "PRAGMA synchronous = NORMAL"
            } else {
                "PRAGMA synchronous = FULL"
            };
            match conn.execute_batch(pragma) {
                Ok(()) => relaxed_mode = relaxed,
                Err(err) => tracing::warn!(%err, pragma, "cannot change how commits are synced"),
            }
        }
        match commit(&conn, &batch, first_seq, ts) {
            Ok(()) => {
                commits.fetch_add(1, Ordering::Relaxed);
                publish(batch, first_seq, ts, &live, &head);
            }
            Err(err) => {
                tracing::error!(%err, "group commit failed; its appends are refused");
                let message = err.to_string();
                for pending in batch {
                    let _ = pending
                        .reply
                        .send(Err(StoreError::CommitFailed(message.clone())));
                }
            }
        }
    }
    // Refuse whatever is still queued, then let the caller know everything before it is on disk.
    inbox.close();
    while let Ok(msg) = inbox.try_recv() {
        if let WriterMsg::Append { reply, .. } = msg {
            let _ = reply.send(Err(StoreError::Closed));
        }
    }
    if let Err((_, err)) = conn.close() {
        tracing::warn!(%err, "closing the writer connection failed");
    }
    if let Some(reply) = shutdown {
        let _ = reply.send(());
    }
}

/// Inserts `batch` from `first_seq` on in one transaction; a refused one is rolled back.
fn commit(
    conn: &rusqlite::Connection,
    batch: &[Pending],
    first_seq: u64,
    ts: i64,
) -> rusqlite::Result<()> {
    let rows: Vec<&EncodedEvent> = batch.iter().flat_map(|p| p.events.iter()).collect();
    conn.execute_batch("BEGIN")?;
    let inserted = (|| {
        let mut insert = conn.prepare_cached(INSERT_ROWS)?;
        let mut seq = first_seq;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            insert.execute(rusqlite::params![
                i64::try_from(seq).unwrap_or(i64::MAX),
                ts,
                rows_json(chunk)
            ])?;
            seq += chunk.len() as u64;
        }
        conn.execute_batch("COMMIT")
    })();
    if inserted.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    inserted
}

/// One statement inserts a whole chunk: the rows travel as one JSON array parameter
/// (`[[actor, correlation, type, data], ...]`), which SQLite unpacks with `json_each`. Binding
/// one parameter instead of six per row is what keeps the writer close to raw SQLite.
const INSERT_ROWS: &str = "INSERT INTO events (seq, ts, actor, correlation, type, version, data) \
     SELECT ?1 + key, ?2, value ->> 0, value ->> 1, value ->> 2, 1, value ->> 3 FROM json_each(?3)";

fn rows_json(rows: &[&EncodedEvent]) -> String {
    let size: usize = rows.iter().map(|row| row.row.len() + 1).sum();
    let mut json = String::with_capacity(size + 2);
    json.push('[');
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&row.row);
    }
    json.push(']');
    json
}

fn publish(
    batch: Vec<Pending>,
    first_seq: u64,
    ts: i64,
    live: &broadcast::Sender<Arc<Committed>>,
    head: &AtomicU64,
) {
    let mut seq = first_seq;
    for pending in batch {
        let committed: Vec<Arc<Committed>> = pending
            .events
            .into_iter()
            .map(|encoded| {
                let event = Arc::new(Committed::new(Event {
                    seq,
                    ts,
                    actor: encoded.event.actor,
                    correlation: encoded.event.correlation,
                    v: EVENT_SCHEMA_VERSION,
                    body: encoded.event.body,
                }));
                seq += 1;
                event
            })
            .collect();
        head.store(seq - 1, Ordering::Release);
        for event in &committed {
            // No receivers is fine: nobody is watching live.
            let _ = live.send(event.clone());
        }
        let _ = pending.reply.send(Ok(committed));
    }
}
