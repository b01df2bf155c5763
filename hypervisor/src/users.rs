//! Users and their SSH public keys, in SQLite.

use std::path::Path;

use russh::keys::PublicKey;
use sqlx::sqlite::SqlitePool;
use sqlx::Row;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum UserError {
    #[error(
        "`{0}` is not a valid user name (1-32 of a-z, 0-9, _ and -, starting with a letter or _)"
    )]
    BadName(String),
    #[error("not an OpenSSH public key: {0}")]
    BadKey(String),
    #[error("no user named `{0}`")]
    NoSuchUser(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// One user as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntry {
    pub name: String,
    /// SHA-256 fingerprints of the registered keys.
    pub keys: Vec<String>,
}

#[derive(Clone)]
pub struct UserStore {
    pool: SqlitePool,
}

pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && name.len() <= 32
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl UserStore {
    /// Opens the database at `path` (see [`crate::db::open`]).
    pub async fn open(path: &Path) -> Result<Self, UserError> {
        Self::new(crate::db::open(path).await?).await
    }

    /// Users in an open database.
    pub async fn new(pool: SqlitePool) -> Result<Self, UserError> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS ssh_keys (
                user TEXT NOT NULL,
                key TEXT NOT NULL,
                fingerprint TEXT NOT NULL,
                PRIMARY KEY (user, key)
            )",
        )
        .execute(&pool)
        .await?;
        Ok(Self { pool })
    }

    /// Registers `key_text` (an OpenSSH public key line) for `name`, creating the user.
    pub async fn add(&self, name: &str, key_text: &str) -> Result<String, UserError> {
        if !valid_name(name) {
            return Err(UserError::BadName(name.to_owned()));
        }
        let key = PublicKey::from_openssh(key_text.trim())
            .map_err(|err| UserError::BadKey(err.to_string()))?;
        let fingerprint = key.fingerprint(Default::default()).to_string();
        sqlx::query("INSERT OR IGNORE INTO ssh_keys (user, key, fingerprint) VALUES (?, ?, ?)")
            .bind(name)
            .bind(canonical(&key))
            .bind(&fingerprint)
            .execute(&self.pool)
            .await?;
        Ok(fingerprint)
    }

    /// The database, for the other tables kept beside the users'.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn list(&self) -> Result<Vec<UserEntry>, UserError> {
        let rows = sqlx::query("SELECT user, fingerprint FROM ssh_keys ORDER BY user, fingerprint")
            .fetch_all(&self.pool)
            .await?;
        let mut users: Vec<UserEntry> = Vec::new();
        for row in rows {
            let (name, fingerprint): (String, String) = (row.try_get(0)?, row.try_get(1)?);
            match users.last_mut() {
                Some(last) if last.name == name => last.keys.push(fingerprint),
                _ => users.push(UserEntry {
                    name,
                    keys: vec![fingerprint],
                }),
            }
        }
        Ok(users)
    }

    pub async fn remove(&self, name: &str) -> Result<(), UserError> {
        let done = sqlx::query("DELETE FROM ssh_keys WHERE user = ?")
            .bind(name)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(UserError::NoSuchUser(name.to_owned()));
        }
        Ok(())
    }

    /// Whether `key` is registered for `name`.
    pub async fn authorized(&self, name: &str, key: &PublicKey) -> Result<bool, UserError> {
        let row = sqlx::query("SELECT 1 FROM ssh_keys WHERE user = ? AND key = ?")
            .bind(name)
            .bind(canonical(key))
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }
}

/// The key without its comment, as stored and compared.
fn canonical(key: &PublicKey) -> String {
    let mut key = key.clone();
    key.set_comment("");
    key.to_openssh().unwrap_or_default().trim().to_owned()
}
