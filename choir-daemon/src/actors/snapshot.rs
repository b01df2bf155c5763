//! The projection on disk, `<data-dir>/snapshot.db`: the world as of some seq (documents
//! without their text) and a checkpoint of each document's text, so that start-up replays
//! only the tail of the log and a document's text is read back without replaying its whole
//! history. Every snapshot stored is also kept in `past`, so that the world at any past
//! moment is the nearest earlier snapshot plus at most [`SNAPSHOT_EVERY`](super::world::SNAPSHOT_EVERY) events (time
//! travel).
//!
//! It is a cache: the log stays the truth. A snapshot of another format, one ahead of the log,
//! one taken from another log, or a file that is not readable is thrown away and the world
//! rebuilt from the log; a checkpoint that does not fit the log is replaced (see
//! `doc_texts.rs`).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use choir_proto::{DocId, World, WELCOME_MESSAGES};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;

use crate::store::EventStore;

/// The shape of what is stored; a snapshot of another is rebuilt.
pub const SNAPSHOT_FORMAT: i64 = 1;
/// `PRAGMA application_id` of a snapshot file: "CHSN".
const APPLICATION_ID: i64 = 0x4348_534E;

/// A document's text as of one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub version: u64,
    /// The seq of the event that made that version.
    pub seq: u64,
    pub text: String,
}

/// The snapshot file.
#[derive(Clone)]
pub struct Snapshots {
    pool: SqlitePool,
}

impl Snapshots {
    /// Opens the file, starting a new one if it is missing or unreadable.
    pub async fn open(path: &Path) -> Result<Self, sqlx::Error> {
        match Self::try_open(path).await {
            Ok(snapshots) => Ok(snapshots),
            Err(err) => {
                tracing::warn!(%err, path = %path.display(), "the snapshot file is not readable; starting a new one (the log is replayed)");
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = PathBuf::from(path);
                    file.as_mut_os_string().push(suffix);
                    let _ = std::fs::remove_file(file);
                }
                Self::try_open(path).await
            }
        }
    }

    async fn try_open(path: &Path) -> Result<Self, sqlx::Error> {
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // A cache: losing the last write to a power cut costs a longer replay only.
            .synchronous(SqliteSynchronous::Normal);
        let pool = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await?;
        let id: i64 = sqlx::query_scalar("PRAGMA application_id")
            .fetch_one(&pool)
            .await?;
        let tables: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master")
            .fetch_one(&pool)
            .await?;
        if id != APPLICATION_ID && !(id == 0 && tables == 0) {
            return Err(sqlx::Error::Protocol("not a ChoirOS snapshot file".into()));
        }
        sqlx::query(&format!("PRAGMA application_id = {APPLICATION_ID}"))
            .execute(&pool)
            .await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS snapshot (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                format INTEGER NOT NULL,
                head INTEGER NOT NULL,
                head_ts INTEGER NOT NULL,
                world TEXT NOT NULL
            )",
        )
        .execute(&pool)
        .await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS past (
                head INTEGER PRIMARY KEY,
                format INTEGER NOT NULL,
                head_ts INTEGER NOT NULL,
                world TEXT NOT NULL
            )",
        )
        .execute(&pool)
        .await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS past_doc_texts (
                doc_id INTEGER NOT NULL,
                version INTEGER NOT NULL,
                seq INTEGER NOT NULL,
                text TEXT NOT NULL,
                PRIMARY KEY (doc_id, version)
            )",
        )
        .execute(&pool)
        .await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS doc_texts (
                doc_id INTEGER PRIMARY KEY,
                version INTEGER NOT NULL,
                seq INTEGER NOT NULL,
                text TEXT NOT NULL
            )",
        )
        .execute(&pool)
        .await?;
        Ok(Self { pool })
    }

    /// The stored world, if it is of this format and was taken from this log; otherwise why
    /// not.
    pub async fn load(&self, store: &EventStore) -> Result<World, String> {
        let row = sqlx::query("SELECT format, head, head_ts, world FROM snapshot WHERE id = 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(|err| format!("it cannot be read: {err}"))?
            .ok_or_else(|| "there is none yet".to_owned())?;
        let read = |err: sqlx::Error| format!("it cannot be read: {err}");
        let format: i64 = row.try_get(0).map_err(read)?;
        let head: i64 = row.try_get(1).map_err(read)?;
        let head_ts: i64 = row.try_get(2).map_err(read)?;
        if format != SNAPSHOT_FORMAT {
            return Err(format!(
                "it has format {format}, this daemon writes {SNAPSHOT_FORMAT}"
            ));
        }
        let head = u64::try_from(head).map_err(|_| "its head is negative".to_owned())?;
        check_head(store, head, head_ts).await?;
        let text: String = row.try_get(3).map_err(read)?;
        decode(&text, head)
    }

    /// The latest stored past world at or before `seq`, if one is usable.
    pub async fn past(&self, store: &EventStore, seq: u64) -> Option<World> {
        let row = sqlx::query(
            "SELECT head, head_ts, world FROM past WHERE head <= ? AND format = ? \
             ORDER BY head DESC LIMIT 1",
        )
        .bind(int(seq))
        .bind(SNAPSHOT_FORMAT)
        .fetch_optional(&self.pool)
        .await
        .ok()??;
        let head = u64::try_from(row.try_get::<i64, _>(0).ok()?).ok()?;
        let head_ts: i64 = row.try_get(1).ok()?;
        let text: String = row.try_get(2).ok()?;
        let checked = async {
            check_head(store, head, head_ts).await?;
            decode(&text, head)
        };
        match checked.await {
            Ok(world) => Some(world),
            Err(reason) => {
                tracing::warn!(head, %reason, "a past snapshot is not usable; forgetting it");
                let _ = sqlx::query("DELETE FROM past WHERE head = ?")
                    .bind(int(head))
                    .execute(&self.pool)
                    .await;
                None
            }
        }
    }

    /// Keeps `world` (documents without their text) as a past moment.
    pub async fn save_past(&self, world: &World, head_ts: i64) -> Result<(), sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        put_past(&mut conn, world, head_ts).await
    }

    /// Stores `world` (as of its head, whose event has time `head_ts`) and `checkpoints`.
    pub async fn save(
        &self,
        world: &World,
        head_ts: i64,
        checkpoints: &[(DocId, Checkpoint)],
    ) -> Result<(), sqlx::Error> {
        let text = serde_json::to_string(world).map_err(|err| sqlx::Error::Encode(err.into()))?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT OR REPLACE INTO snapshot (id, format, head, head_ts, world) VALUES (1, ?, ?, ?, ?)",
        )
        .bind(SNAPSHOT_FORMAT)
        .bind(int(world.head))
        .bind(head_ts)
        .bind(text)
        .execute(&mut *tx)
        .await?;
        for (doc_id, checkpoint) in checkpoints {
            put_checkpoint(&mut tx, *doc_id, checkpoint).await?;
        }
        put_past(&mut tx, world, head_ts).await?;
        tx.commit().await
    }

    /// The stored checkpoint of a document's text.
    pub async fn checkpoint(&self, doc_id: DocId) -> Option<Checkpoint> {
        let row = sqlx::query("SELECT version, seq, text FROM doc_texts WHERE doc_id = ?")
            .bind(int(doc_id.0))
            .fetch_optional(&self.pool)
            .await
            .ok()??;
        let version: i64 = row.try_get(0).ok()?;
        let seq: i64 = row.try_get(1).ok()?;
        Some(Checkpoint {
            version: u64::try_from(version).ok()?,
            seq: u64::try_from(seq).ok()?,
            text: row.try_get(2).ok()?,
        })
    }

    /// The latest checkpoint ever stored of a document's text at or before `version` (for a
    /// past moment).
    pub async fn past_checkpoint(&self, doc_id: DocId, version: u64) -> Option<Checkpoint> {
        let row = sqlx::query(
            "SELECT version, seq, text FROM past_doc_texts WHERE doc_id = ? AND version <= ? \
             ORDER BY version DESC LIMIT 1",
        )
        .bind(int(doc_id.0))
        .bind(int(version))
        .fetch_optional(&self.pool)
        .await
        .ok()??;
        let version: i64 = row.try_get(0).ok()?;
        let seq: i64 = row.try_get(1).ok()?;
        Some(Checkpoint {
            version: u64::try_from(version).ok()?,
            seq: u64::try_from(seq).ok()?,
            text: row.try_get(2).ok()?,
        })
    }

    /// Keeps checkpoints of past moments (documents shown then).
    pub async fn save_past_checkpoints(
        &self,
        checkpoints: &[(DocId, Checkpoint)],
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        for (doc_id, checkpoint) in checkpoints {
            put_past_checkpoint(&mut tx, *doc_id, checkpoint).await?;
        }
        tx.commit().await
    }

    /// Stores one checkpoint.
    pub async fn save_checkpoint(
        &self,
        doc_id: DocId,
        checkpoint: &Checkpoint,
    ) -> Result<(), sqlx::Error> {
        let mut conn = self.pool.acquire().await?;
        put_checkpoint(&mut conn, doc_id, checkpoint).await
    }

    /// Forgets every checkpoint and past world (they came with a snapshot that is not
    /// trusted).
    pub async fn forget_all(&self) {
        for table in ["doc_texts", "past", "past_doc_texts"] {
            if let Err(err) = sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&self.pool)
                .await
            {
                tracing::warn!(%err, table, "cannot clear what a snapshot kept");
            }
        }
    }

    /// Forgets a deleted document's checkpoints.
    pub async fn forget(&self, doc_id: DocId) {
        for table in ["doc_texts", "past_doc_texts"] {
            let _ = sqlx::query(&format!("DELETE FROM {table} WHERE doc_id = ?"))
                .bind(int(doc_id.0))
                .execute(&self.pool)
                .await;
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Whether the event at `head` of this log has time `head_ts` (a snapshot was taken from it).
async fn check_head(store: &EventStore, head: u64, head_ts: i64) -> Result<(), String> {
    if head > store.head() {
        return Err(format!(
            "it is at seq {head}, beyond the log's {}",
            store.head()
        ));
    }
    if head > 0 {
        let event = store
            .read(head, 1)
            .await
            .map_err(|err| format!("the log cannot be read at its head: {err}"))?;
        if event.first().map(|event| event.ts) != Some(head_ts) {
            return Err("it was taken from another log".into());
        }
    }
    Ok(())
}

fn decode(text: &str, head: u64) -> Result<World, String> {
    let world: World =
        serde_json::from_str(text).map_err(|err| format!("it is not readable: {err}"))?;
    if world.head != head {
        return Err("its world and its head disagree".into());
    }
    Ok(world)
}

/// Stores a past world, holding of each thread only what a welcome can show
/// ([`WELCOME_MESSAGES`]) and documents without their text or recent edits (a welcome
/// carries neither; an edit applies to a document's version and length alone): a fold from
/// it gives the same welcome as from the whole log, at a fraction of the size.
async fn put_past(
    conn: &mut sqlx::SqliteConnection,
    world: &World,
    head_ts: i64,
) -> Result<(), sqlx::Error> {
    let world = world.summary(WELCOME_MESSAGES);
    let text = serde_json::to_string(&world).map_err(|err| sqlx::Error::Encode(err.into()))?;
    sqlx::query("INSERT OR REPLACE INTO past (head, format, head_ts, world) VALUES (?, ?, ?, ?)")
        .bind(int(world.head))
        .bind(SNAPSHOT_FORMAT)
        .bind(head_ts)
        .bind(text)
        .execute(conn)
        .await?;
    Ok(())
}

async fn put_checkpoint(
    conn: &mut sqlx::SqliteConnection,
    doc_id: DocId,
    checkpoint: &Checkpoint,
) -> Result<(), sqlx::Error> {
    insert_checkpoint(
        &mut *conn,
        "INSERT OR REPLACE INTO doc_texts",
        doc_id,
        checkpoint,
    )
    .await?;
    put_past_checkpoint(conn, doc_id, checkpoint).await
}

/// Every checkpoint is kept by version too, for the text of a past moment.
async fn put_past_checkpoint(
    conn: &mut sqlx::SqliteConnection,
    doc_id: DocId,
    checkpoint: &Checkpoint,
) -> Result<(), sqlx::Error> {
    insert_checkpoint(
        conn,
        "INSERT OR IGNORE INTO past_doc_texts",
        doc_id,
        checkpoint,
    )
    .await
}

/// `insert` (`INSERT OR … INTO table`) with a checkpoint's row.
async fn insert_checkpoint(
    conn: &mut sqlx::SqliteConnection,
    insert: &str,
    doc_id: DocId,
    checkpoint: &Checkpoint,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "{insert} (doc_id, version, seq, text) VALUES (?, ?, ?, ?)"
    ))
    .bind(int(doc_id.0))
    .bind(int(checkpoint.version))
    .bind(int(checkpoint.seq))
    .bind(&checkpoint.text)
    .execute(conn)
    .await?;
    Ok(())
}

/// A number as SQLite stores it (saturating).
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
