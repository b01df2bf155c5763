//! Opening the database file: refusing foreign or corrupt files, pragmas, migrations.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection, Row};

use super::StoreError;

/// `PRAGMA application_id` of a ChoirOS log: "CHOI".
pub(super) const APPLICATION_ID: i64 = 0x4348_4F49;

pub(super) struct Opened {
    pub writer: rusqlite::Connection,
    pub reader: SqlitePool,
    pub head: u64,
}

pub(super) async fn open(path: &Path, durable: bool) -> Result<Opened, StoreError> {
    let corrupt = |err: sqlx::Error| StoreError::Corrupt {
        path: path.to_owned(),
        reason: err.to_string(),
    };
    let base = SqliteConnectOptions::from_str("sqlite://")
        .map_err(corrupt)?
        .filename(path)
        .busy_timeout(Duration::from_secs(10));

    if std::fs::metadata(path)
        .map(|meta| meta.len() > 0)
        .unwrap_or(false)
    {
        check_identity(path, base.clone().read_only(true)).await?;
    }

    let synchronous = if durable {
        SqliteSynchronous::Full
    } else {
        SqliteSynchronous::Off
    };
    let mut writer = base
        .clone()
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(synchronous)
        .connect()
        .await
        .map_err(corrupt)?;
    // Claim the file before creating tables, so a crash in between never leaves a log that
    // the identity check would call foreign.
    sqlx::query(&format!("PRAGMA application_id = {APPLICATION_ID}"))
        .execute(&mut writer)
        .await?;
    sqlx::migrate!("./migrations").run(&mut writer).await?;
    let head: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) FROM events")
        .fetch_one(&mut writer)
        .await?
        .try_get(0)?;

    writer.close().await?;
    // The writer's own connection, for its thread (see `writer.rs`); WAL mode is the file's.
    let writer = open_writer(path, durable).map_err(|err| StoreError::Corrupt {
        path: path.to_owned(),
        reason: err.to_string(),
    })?;

    let reader = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(base.read_only(true))
        .await?;
    Ok(Opened {
        writer,
        reader,
        head: u64::try_from(head).unwrap_or(0),
    })
}

/// The writing connection the writer's thread owns: the same file, synced as `durable` says.
fn open_writer(path: &Path, durable: bool) -> rusqlite::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    let synchronous = if durable { "FULL" } else { "OFF" };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {synchronous};"
    ))?;
    Ok(conn)
}

/// Refuses a file that is not a database, or a database of another application.
async fn check_identity(path: &Path, options: SqliteConnectOptions) -> Result<(), StoreError> {
    let corrupt = |err: sqlx::Error| StoreError::Corrupt {
        path: path.to_owned(),
        reason: err.to_string(),
    };
    let mut conn = options.connect().await.map_err(corrupt)?;
    let application_id: i64 = sqlx::query("PRAGMA application_id")
        .fetch_one(&mut conn)
        .await
        .map_err(corrupt)?
        .try_get(0)?;
    let tables: i64 = sqlx::query(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name <> '_sqlx_migrations'",
    )
    .fetch_one(&mut conn)
    .await
    .map_err(corrupt)?
    .try_get(0)?;
    conn.close().await.map_err(corrupt)?;
    let ours = application_id == APPLICATION_ID || (application_id == 0 && tables == 0);
    if ours {
        Ok(())
    } else {
        Err(StoreError::Foreign {
            path: path.to_owned(),
        })
    }
}
