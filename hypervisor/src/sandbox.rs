//! One sandbox per user: a `choir-daemon` child with the user's own data dir, started on first
//! use (the data dir's lock makes concurrent starts harmless).

use std::path::{Path, PathBuf};

use choir_proto::Endpoint;
use choir_tui::launch::{ensure_daemon_with, LaunchError};

use crate::users::valid_name;

#[derive(Clone)]
pub struct Sandboxes {
    root: PathBuf,
    daemon: PathBuf,
}

impl Sandboxes {
    /// Sandboxes live in `<root>/<user>`; `daemon` is the `choir-daemon` program.
    pub fn new(root: &Path, daemon: &Path) -> Self {
        Self {
            root: root.to_owned(),
            daemon: daemon.to_owned(),
        }
    }

    /// The user's data dir. Names are checked, so one user's path can never be another's.
    pub fn data_dir(&self, user: &str) -> Option<PathBuf> {
        valid_name(user).then(|| self.root.join(user))
    }

    /// The user's daemon, started if it does not run.
    pub async fn ensure(&self, user: &str) -> Result<Endpoint, LaunchError> {
        let dir = self
            .data_dir(user)
            .ok_or_else(|| LaunchError::Io(format!("`{user}` is not a valid user name")))?;
        let daemon = self.daemon.clone();
        tokio::task::spawn_blocking(move || ensure_daemon_with(&dir, &daemon))
            .await
            .map_err(|err| LaunchError::Io(err.to_string()))?
    }
}
