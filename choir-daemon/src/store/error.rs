use std::path::PathBuf;

use thiserror::Error;

/// What can go wrong in the event store.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{path} is not a ChoirOS event log (it holds another application's data); refusing to use it")]
    Foreign { path: PathBuf },
    #[error("{path} is not a readable SQLite database: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("event {seq} in the log cannot be decoded: {reason}")]
    CorruptEvent { seq: i64, reason: String },
    #[error("event payload cannot be encoded: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] sqlx::Error),
    #[error("migrating the event log failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("reading the event log failed: {0}")]
    Read(String),
    #[error("committing to the event log failed: {0}")]
    CommitFailed(String),
    #[error("the event store is shut down")]
    Closed,
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        StoreError::Read(err.to_string())
    }
}
