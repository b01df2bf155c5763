//! The single writer: batches queued appends into one transaction per commit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use choir_proto::{Event, NewEvent, EVENT_SCHEMA_VERSION};
use sqlx::sqlite::SqliteConnection;
use sqlx::Connection;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::StoreError;

/// Rows per INSERT statement (7 parameters each, far below SQLite's limit).
const ROWS_PER_STATEMENT: usize = 128;

pub(super) enum WriterMsg {
    Append {
        events: Vec<EncodedEvent>,
        reply: oneshot::Sender<Result<Vec<Event>, StoreError>>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

/// An event serialized by its producer, so the writer's per-row work stays small.
pub(super) struct EncodedEvent {
    event: NewEvent,
    type_name: String,
    data: String,
}

impl EncodedEvent {
    pub(super) fn new(event: NewEvent) -> Result<Self, StoreError> {
        let data = serde_json::to_string(&event.body.data()?)?;
        Ok(Self {
            type_name: event.body.type_name().to_owned(),
            data,
            event,
        })
    }
}

struct Pending {
    events: Vec<EncodedEvent>,
    reply: oneshot::Sender<Result<Vec<Event>, StoreError>>,
}

pub(super) async fn run(
    mut conn: SqliteConnection,
    mut inbox: mpsc::Receiver<WriterMsg>,
    live: broadcast::Sender<Arc<Event>>,
    head: Arc<AtomicU64>,
    max_batch: usize,
) {
    let mut statements = StatementCache::default();
    let mut last_ts = 0;
    let mut shutdown: Option<oneshot::Sender<()>> = None;
    while shutdown.is_none() {
        let Some(first) = inbox.recv().await else {
            break;
        };
        let mut batch = Vec::new();
        let mut rows = 0;
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                WriterMsg::Append { events, reply } => {
                    rows += events.len();
                    batch.push(Pending { events, reply });
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
        match commit(&mut conn, &mut statements, &batch, first_seq, ts).await {
            Ok(()) => publish(batch, first_seq, ts, &live, &head),
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
    if let Err(err) = conn.close().await {
        tracing::warn!(%err, "closing the writer connection failed");
    }
    if let Some(reply) = shutdown {
        let _ = reply.send(());
    }
}

async fn commit(
    conn: &mut SqliteConnection,
    statements: &mut StatementCache,
    batch: &[Pending],
    first_seq: u64,
    ts: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    let rows: Vec<&EncodedEvent> = batch.iter().flat_map(|p| p.events.iter()).collect();
    let mut seq = first_seq;
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = statements.insert(chunk.len());
        let mut query = sqlx::query(sql);
        for row in chunk {
            query = query
                .bind(i64::try_from(seq).unwrap_or(i64::MAX))
                .bind(ts)
                .bind(row.event.actor.as_str())
                .bind(row.event.correlation.as_deref())
                .bind(row.type_name.as_str())
                .bind(i64::from(EVENT_SCHEMA_VERSION))
                .bind(row.data.as_str());
            seq += 1;
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await
}

fn publish(
    batch: Vec<Pending>,
    first_seq: u64,
    ts: i64,
    live: &broadcast::Sender<Arc<Event>>,
    head: &AtomicU64,
) {
    let mut seq = first_seq;
    for pending in batch {
        let committed: Vec<Event> = pending
            .events
            .into_iter()
            .map(|encoded| {
                let event = Event {
                    seq,
                    ts,
                    actor: encoded.event.actor,
                    correlation: encoded.event.correlation,
                    v: EVENT_SCHEMA_VERSION,
                    body: encoded.event.body,
                };
                seq += 1;
                event
            })
            .collect();
        head.store(seq - 1, Ordering::Release);
        for event in &committed {
            // No receivers is fine: nobody is watching live.
            let _ = live.send(Arc::new(event.clone()));
        }
        let _ = pending.reply.send(Ok(committed));
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// INSERT statements for each number of rows, built once (sqlx caches the prepared form).
#[derive(Default)]
struct StatementCache(HashMap<usize, String>);

impl StatementCache {
    fn insert(&mut self, rows: usize) -> &str {
        self.0.entry(rows).or_insert_with(|| {
            let mut sql = String::from(
                "INSERT INTO events (seq, ts, actor, correlation, type, version, data) VALUES ",
            );
            for i in 0..rows {
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str("(?,?,?,?,?,?,?)");
            }
            sql
        })
    }
}
