//! Reading the log in pages, row by row through SQLite's own API on a blocking thread: no
//! JSON built around each page and parsed again, and no hand-off per row.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use choir_proto::Event;

use super::{StoreError, StoredRow};

/// Read-only connections, opened as needed and kept for the next page.
pub(super) struct Pages {
    path: PathBuf,
    idle: Mutex<Vec<rusqlite::Connection>>,
}

/// Connections kept idle at most (more may be open while many subscribers catch up).
const KEEP_IDLE: usize = 4;

impl Pages {
    pub(super) fn new(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Up to `limit` committed events with `seq >= from_seq`, in order. Blocks.
    pub(super) fn read(&self, from_seq: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let conn = match self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            Some(conn) => conn,
            None => rusqlite::Connection::open_with_flags(
                &self.path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?,
        };
        let page = read_page(&conn, from_seq, limit);
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < KEEP_IDLE {
                idle.push(conn);
            }
        }
        page
    }
}

fn read_page(
    conn: &rusqlite::Connection,
    from_seq: u64,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    let mut select = conn.prepare_cached(
        "SELECT seq, ts, actor, correlation, type, version, data FROM events \
         WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
    )?;
    let mut rows = select.query(rusqlite::params![
        i64::try_from(from_seq).unwrap_or(i64::MAX),
        i64::try_from(limit).unwrap_or(i64::MAX)
    ])?;
    let mut page = Vec::with_capacity(limit.min(4096));
    while let Some(row) = rows.next()? {
        let stored = StoredRow(
            row.get(0)?,
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
            row.get(5)?,
            row.get(6)?,
        );
        page.push(stored.decode()?);
    }
    Ok(page)
}
