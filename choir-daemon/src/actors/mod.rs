//! Domain actors: each owns its state in one task and is reached through a cloneable handle.

mod commands;
mod projection;

use choir_proto::{ErrorCode, Rejection};
use thiserror::Error;

use crate::store::StoreError;

pub use commands::CommandHandle;
pub use projection::{load_world, ProjectionHandle};

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
