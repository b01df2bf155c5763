//! The hypervisor's database: users, keys, passkeys, invites, web sessions, sandbox accounts,
//! Docker placement, model usage and (when shared) the SSH host key.
//!
//! SQLite in the root-only state directory by default (its files 0600); PostgreSQL
//! (`--database postgres://…`) where several hypervisors serve the same users. Every query
//! is written once, in SQL both accept — `$1` placeholders, `"user"` quoted (PostgreSQL
//! reserves the word), `ON CONFLICT` — and run through sqlx's Any driver. Only the tables'
//! column types differ ([`create`]).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;

/// A connection pool to either database.
pub type Pool = sqlx::AnyPool;

/// Opens (creating if needed) the SQLite database at `path`.
pub async fn open(path: &Path) -> Result<Pool, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}?mode=rwc", url_path(path));
    let pool = AnyPoolOptions::new()
        .max_connections(4)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("PRAGMA journal_mode = WAL")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("PRAGMA busy_timeout = 5000")
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })
        })
        .connect(&url)
        .await?;
    // The process umask makes new files private; an older file is made so here.
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600));
    }
    Ok(pool)
}

/// Connects to the database at `url`: `postgres://…` (shared between hypervisors), or
/// `sqlite://PATH`.
pub async fn connect(url: &str) -> Result<Pool, sqlx::Error> {
    sqlx::any::install_default_drivers();
    AnyPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(10))
        .connect(url)
        .await
}

/// Whether `pool` is PostgreSQL's (else SQLite's).
pub fn is_postgres(pool: &Pool) -> bool {
    pool.connect_options()
        .database_url
        .scheme()
        .starts_with("postgres")
}

/// Runs `statements` (`CREATE TABLE IF NOT EXISTS …`, written for SQLite) on `pool`, their
/// column types made PostgreSQL's there (`BLOB` is `BYTEA`, `INTEGER` the 64 bits of
/// `BIGINT`). On PostgreSQL, one hypervisor at a time: two creating the same table at once
/// can fail there.
pub async fn create(pool: &Pool, statements: &[&str]) -> Result<(), sqlx::Error> {
    let postgres = is_postgres(pool);
    // One transaction: on PostgreSQL the lock goes with it, whatever happens to this future.
    let mut tx = pool.begin().await?;
    if postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(7366484)")
            .execute(&mut *tx)
            .await?;
    }
    for statement in statements {
        let sql = if postgres {
            statement
                .replace("BLOB", "BYTEA")
                .replace("INTEGER", "BIGINT")
        } else {
            (*statement).to_owned()
        };
        sqlx::query(&sql).execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// `path` as the path of a `sqlite://` URL (the characters a URL gives a meaning escaped).
fn url_path(path: &Path) -> String {
    let mut out = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            ' ' => out.push_str("%20"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_path_with_url_characters_opens_the_file_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("odd name?#%.db");
        let pool = open(&path).await.unwrap();
        create(&pool, &["CREATE TABLE IF NOT EXISTS t (x BLOB)"])
            .await
            .unwrap();
        assert!(path.is_file(), "{}", path.display());
        assert!(!is_postgres(&pool));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
}
