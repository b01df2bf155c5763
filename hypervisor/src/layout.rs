//! The hypervisor's data directory.
//!
//! ```text
//! <dir>/                      0711 root: traversable, not listable
//! <dir>/state/                0700 root: nothing of it is a sandbox's business
//! <dir>/state/users.db        users, keys, sandbox accounts (0600)
//! <dir>/state/ssh_host_ed25519_key   (0600)
//! <dir>/state/control.sock    `choir-hypervisor sandbox ...` talks to the server here (0600)
//! <dir>/state/logs/<user>.log what each sandbox's daemon printed
//! <dir>/sandboxes/            0711 root
//! <dir>/sandboxes/<user>/     0700, owned by the user's sandbox uid: their data dir
//! ```
//!
//! Sandbox users reach their data dir by path, so every directory above it must be
//! traversable by others; [`Layout::check_reachable`] says which one is not.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum LayoutError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("another choir-hypervisor is serving {0} (its lock is held)")]
    InUse(PathBuf),
    #[error(
        "sandbox users cannot reach {sandboxes}: {blocking} is mode {mode:o}, closed to other users. \
         Choose a --data-dir they can traverse, such as /var/lib/choir-hypervisor (or chmod o+x {blocking})"
    )]
    Unreachable {
        sandboxes: PathBuf,
        blocking: PathBuf,
        mode: u32,
    },
}

/// Paths in the hypervisor's data directory, and the database it keeps its state in.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
    database: Option<String>,
}

impl Layout {
    pub fn new(root: &Path) -> Self {
        Self {
            root: std::path::absolute(root).unwrap_or_else(|_| root.to_owned()),
            database: None,
        }
    }

    /// State kept in the database at `url` (PostgreSQL, shared with other hypervisors)
    /// instead of `users.db` and the host key file.
    pub fn with_database(mut self, url: Option<String>) -> Self {
        self.database = url;
        self
    }

    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn state(&self) -> PathBuf {
        self.root.join("state")
    }

    pub fn users_db(&self) -> PathBuf {
        self.state().join("users.db")
    }

    pub fn host_key(&self) -> PathBuf {
        self.state().join("ssh_host_ed25519_key")
    }

    pub fn control_socket(&self) -> PathBuf {
        self.state().join("control.sock")
    }

    /// The origin the web server last served, for `user invite`'s links.
    pub fn web_origin(&self) -> PathBuf {
        self.state().join("web-origin")
    }

    /// Held by the serving hypervisor: one per data dir, since it owns the sandboxes in it.
    pub fn lock(&self) -> Result<std::fs::File, LayoutError> {
        let path = self.state().join("serve.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io("open", &path))?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => Err(LayoutError::InUse(self.root.clone())),
            Err(std::fs::TryLockError::Error(err)) => Err(io("lock", &path)(err)),
        }
    }

    pub fn logs(&self) -> PathBuf {
        self.state().join("logs")
    }

    pub fn sandboxes(&self) -> PathBuf {
        self.root.join("sandboxes")
    }

    /// Creates the directories with their modes, and moves the files of an older layout
    /// (users.db and the host key at the top) into `state/`.
    pub fn prepare(&self) -> Result<(), LayoutError> {
        let state = self.state();
        for (dir, mode) in [
            (self.root.clone(), 0o711),
            (state.clone(), 0o700),
            (self.logs(), 0o700),
            (self.sandboxes(), 0o711),
        ] {
            std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))
                .map_err(io("set the mode of", &dir))?;
        }
        for name in [
            "users.db",
            "users.db-wal",
            "users.db-shm",
            "ssh_host_ed25519_key",
        ] {
            let old = self.root.join(name);
            let new = state.join(name);
            if old.exists() && !new.exists() {
                std::fs::rename(&old, &new).map_err(io("move", &old))?;
                tracing::info!(from = %old.display(), to = %new.display(), "moved into the state directory");
            }
        }
        Ok(())
    }

    /// Whether a user other than the owner can walk down to the sandboxes' directory.
    pub fn check_reachable(&self) -> Result<(), LayoutError> {
        let sandboxes = self.sandboxes();
        for dir in sandboxes.ancestors() {
            let meta = std::fs::metadata(dir).map_err(io("inspect", dir))?;
            if meta.mode() & 0o001 == 0 {
                return Err(LayoutError::Unreachable {
                    sandboxes: sandboxes.clone(),
                    blocking: dir.to_owned(),
                    mode: meta.mode() & 0o7777,
                });
            }
        }
        Ok(())
    }
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> LayoutError {
    let path = path.to_owned();
    move |source| LayoutError::Io {
        action,
        path,
        source,
    }
}

/// The default data directory: a system one for root, the user's own otherwise.
pub fn default_root() -> Option<PathBuf> {
    if nix::unistd::geteuid().is_root() {
        Some(PathBuf::from("/var/lib/choir-hypervisor"))
    } else {
        dirs::data_dir().map(|dir| dir.join("choir-hypervisor"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn prepares_private_state_and_moves_an_older_layout_in() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("hv");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("users.db"), "old users").unwrap();
        std::fs::write(root.join("ssh_host_ed25519_key"), "old key").unwrap();
        let layout = Layout::new(&root);
        layout.prepare().unwrap();
        assert_eq!(mode(&root), 0o711);
        assert_eq!(mode(&layout.state()), 0o700);
        assert_eq!(mode(&layout.logs()), 0o700);
        assert_eq!(mode(&layout.sandboxes()), 0o711);
        assert_eq!(
            std::fs::read_to_string(layout.users_db()).unwrap(),
            "old users"
        );
        assert_eq!(
            std::fs::read_to_string(layout.host_key()).unwrap(),
            "old key"
        );
        assert!(!root.join("users.db").exists());
        // Again: nothing moves, nothing fails.
        layout.prepare().unwrap();
        // One server per data dir.
        let held = layout.lock().unwrap();
        assert!(layout
            .lock()
            .unwrap_err()
            .to_string()
            .contains("another choir-hypervisor"));
        drop(held);
        assert!(layout.lock().is_ok());
    }

    #[test]
    fn a_closed_ancestor_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let closed = dir.path().join("closed");
        let layout = Layout::new(&closed.join("hv"));
        layout.prepare().unwrap();
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
        let err = layout.check_reachable().unwrap_err().to_string();
        assert!(
            err.contains(&format!("{} is mode 700", closed.display())),
            "{err}"
        );
        std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o711)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
        layout.check_reachable().unwrap();
    }
}
