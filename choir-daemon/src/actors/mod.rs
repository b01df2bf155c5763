//! The world actor (the daemon's one projection of the log, which also decides commands), and
//! what it keeps on disk: the snapshot and the document texts read back from it.

mod doc_texts;
mod past;
mod snapshot;
mod world;

use choir_proto::{ErrorCode, Rejection};
use thiserror::Error;

use crate::store::StoreError;

pub use past::Past;
pub use snapshot::{Checkpoint, Snapshots, SNAPSHOT_FORMAT};
pub use world::{load_world, Loaded, WorldHandle, KEEP_MESSAGES, SNAPSHOT_EVERY};

/// Why a command produced no events.
#[derive(Debug, Error)]
pub enum CommandError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the daemon is shutting down")]
    Unavailable,
}

impl CommandError {
    /// The stable wire code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            CommandError::Rejected(rejection) => rejection.code(),
            CommandError::Store(_) | CommandError::Unavailable => ErrorCode::Internal,
        }
    }
}
