//! The sandbox's data directory: lock, token, endpoint file, database and workspace.
//!
//! ```text
//! <data-dir>/daemon.lock    held (flock) while a daemon runs: two daemons never share a dir
//! <data-dir>/token          the local token (see `tokens.rs`), 0600, created on first start
//! <data-dir>/daemon.json    {"url", "token", "pid"} of the running daemon (the local token), 0600
//! <data-dir>/events.db      the event log
//! <data-dir>/snapshot.db    the world as of some seq, and document texts (a cache)
//! <data-dir>/workspace/     where tools and documents live
//! ```

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub use choir_proto::Endpoint;
use choir_proto::ENDPOINT_FILE;
use thiserror::Error;

const LOCK_FILE: &str = "daemon.lock";
/// How long to wait for a lock held by a daemon that is stopping.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);
pub(crate) const TOKEN_FILE: &str = "token";
const DB_FILE: &str = "events.db";
/// The projection's snapshot and document texts: a cache, rebuilt from the log if lost.
const SNAPSHOT_FILE: &str = "snapshot.db";
const WORKSPACE_DIR: &str = "workspace";

/// Problems with the data directory.
#[derive(Debug, Error)]
pub enum DataDirError {
    #[error("another choir-daemon is already using {dir} (its lock is held); stop it or pick another --data-dir")]
    InUse { dir: PathBuf },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("cannot create a random token: {0}")]
    Random(String),
}

/// Reads the endpoint a daemon wrote into `data_dir`, if any.
pub fn read_endpoint(data_dir: &Path) -> io::Result<Endpoint> {
    let text = fs::read_to_string(data_dir.join(ENDPOINT_FILE))?;
    serde_json::from_str(&text).map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))
}

/// An open, locked data directory. The lock is released when this is dropped.
pub struct DataDir {
    root: PathBuf,
    _lock: File,
}

impl DataDir {
    /// Creates the directory if needed and takes its lock.
    pub fn open(root: &Path) -> Result<Self, DataDirError> {
        create_private_dir(root)?;
        create_private_dir(&root.join(WORKSPACE_DIR))?;
        let lock_path = root.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io_error("open", &lock_path))?;
        // A daemon that is just exiting (or a child process forked at that moment, which
        // shares the lock until it execs) may hold the lock for a moment: wait a little.
        let deadline = std::time::Instant::now() + LOCK_PATIENCE;
        loop {
            match lock.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(DataDirError::InUse {
                        dir: root.to_owned(),
                    })
                }
                Err(TryLockError::Error(source)) => {
                    return Err(io_error("lock", &lock_path)(source))
                }
            }
        }
        Ok(Self {
            root: root.to_owned(),
            _lock: lock,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn db_path(&self) -> PathBuf {
        self.root.join(DB_FILE)
    }

    pub fn snapshot_path(&self) -> PathBuf {
        self.root.join(SNAPSHOT_FILE)
    }

    pub fn workspace(&self) -> PathBuf {
        self.root.join(WORKSPACE_DIR)
    }

    /// The sandbox token, created (0600) on first start.
    pub fn token(&self) -> Result<String, DataDirError> {
        let path = self.root.join(TOKEN_FILE);
        match fs::read_to_string(&path) {
            Ok(token) if !token.trim().is_empty() => return Ok(token.trim().to_owned()),
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(io_error("read", &path)(err)),
        }
        let token = random_token()?;
        write_private(&path, token.as_bytes())?;
        Ok(token)
    }

    /// Removes the endpoint file on a clean shutdown.
    pub fn remove_endpoint(&self) {
        let _ = fs::remove_file(self.root.join(ENDPOINT_FILE));
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> DataDirError {
    let path = path.to_owned();
    move |source| DataDirError::Io {
        action,
        path,
        source,
    }
}

fn create_private_dir(path: &Path) -> Result<(), DataDirError> {
    if path.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(path).map_err(io_error("create directory", path))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o700))
        .map_err(io_error("set permissions of", path))
}

/// Writes a 0600 file atomically (see [`crate::atomic_file`]).
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), DataDirError> {
    crate::atomic_file::write(path, bytes, Some(0o600)).map_err(io_error("write", path))
}

pub(crate) fn random_token() -> Result<String, DataDirError> {
    choir_proto::random_hex(32).map_err(|err| DataDirError::Random(err.to_string()))
}
