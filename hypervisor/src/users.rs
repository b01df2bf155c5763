//! Users, their SSH public keys and their passkeys, in the hypervisor's database. The same database holds the
//! web's invites and sessions (`crate::web`); removing a user removes all of theirs.

use std::path::Path;

use crate::db::Pool;
use russh::keys::PublicKey;
use sqlx::Row;
use thiserror::Error;
use uuid::Uuid;
use webauthn_rs::prelude::{CredentialID, Passkey};

use crate::web::secret::now_ms;

/// Every table of the database, created if missing.
const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS ssh_keys (
        \"user\" TEXT NOT NULL,
        key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        PRIMARY KEY (\"user\", key)
    )",
    "CREATE TABLE IF NOT EXISTS users (
        name TEXT PRIMARY KEY,
        handle BLOB NOT NULL UNIQUE,
        created INTEGER NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS passkeys (
        id TEXT PRIMARY KEY,
        \"user\" TEXT NOT NULL,
        label TEXT NOT NULL,
        created INTEGER NOT NULL,
        last_used INTEGER,
        credential TEXT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS invites (
        hash TEXT PRIMARY KEY,
        \"user\" TEXT NOT NULL,
        expires INTEGER NOT NULL,
        used INTEGER
    )",
    "CREATE TABLE IF NOT EXISTS web_sessions (
        hash TEXT PRIMARY KEY,
        \"user\" TEXT NOT NULL,
        passkey TEXT NOT NULL,
        created INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS web_sessions_by_user ON web_sessions (\"user\", passkey)",
];

/// `users` came later than `ssh_keys`: an older (SQLite) database gets a row for each user its
/// keys name.
const SQLITE_UPGRADE: &str = "INSERT INTO users (name, handle, created)
    SELECT DISTINCT \"user\", randomblob(16), 0 FROM ssh_keys WHERE true
    ON CONFLICT DO NOTHING";

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
    #[error("this passkey is already registered here")]
    PasskeyTaken,
    #[error("{user} has no passkey `{id}`")]
    NoSuchPasskey { user: String, id: String },
    #[error("a stored passkey cannot be read: {0}")]
    Garbled(#[from] serde_json::Error),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// One user as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntry {
    pub name: String,
    /// SHA-256 fingerprints of the registered keys.
    pub keys: Vec<String>,
    pub passkeys: Vec<PasskeyEntry>,
}

/// One registered passkey, as listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PasskeyEntry {
    /// The credential id (base64url), which names it.
    pub id: String,
    /// What its owner called it.
    pub label: String,
    /// Milliseconds since the epoch.
    pub created: i64,
    pub last_used: Option<i64>,
}

impl PasskeyEntry {
    /// The first characters of the id: enough to tell a user's passkeys apart.
    pub fn short_id(&self) -> &str {
        self.id.get(..12).unwrap_or(&self.id)
    }
}

#[derive(Clone)]
pub struct UserStore {
    pool: Pool,
}

pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && name.len() <= 32
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl UserStore {
    /// Opens the SQLite database at `path` (see [`crate::db::open`]).
    pub async fn open(path: &Path) -> Result<Self, UserError> {
        Self::new(crate::db::open(path).await?).await
    }

    /// Users in an open database (its tables made if missing).
    pub async fn new(pool: Pool) -> Result<Self, UserError> {
        crate::db::create(&pool, SCHEMA).await?;
        if !crate::db::is_postgres(&pool) {
            sqlx::query(SQLITE_UPGRADE).execute(&pool).await?;
        }
        Ok(Self { pool })
    }

    /// Creates the user `name` if new.
    pub async fn create(&self, name: &str) -> Result<(), UserError> {
        if !valid_name(name) {
            return Err(UserError::BadName(name.to_owned()));
        }
        sqlx::query(
            "INSERT INTO users (name, handle, created) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(name)
        .bind(Uuid::new_v4().as_bytes().to_vec())
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether the user `name` exists.
    pub async fn exists(&self, name: &str) -> Result<bool, UserError> {
        Ok(self.handle(name).await?.is_some())
    }

    /// The user's WebAuthn user handle: random, stable, never their name.
    pub async fn handle(&self, name: &str) -> Result<Option<Uuid>, UserError> {
        let row = sqlx::query("SELECT handle FROM users WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|row| row.try_get::<Vec<u8>, _>(0))
            .transpose()?
            .and_then(|bytes| Uuid::from_slice(&bytes).ok()))
    }

    /// Registers `key_text` (an OpenSSH public key line) for `name`, creating the user.
    pub async fn add(&self, name: &str, key_text: &str) -> Result<String, UserError> {
        let key = PublicKey::from_openssh(key_text.trim())
            .map_err(|err| UserError::BadKey(err.to_string()))?;
        self.create(name).await?;
        let fingerprint = key.fingerprint(Default::default()).to_string();
        sqlx::query(
            "INSERT INTO ssh_keys (\"user\", key, fingerprint) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(name)
        .bind(canonical(&key))
        .bind(&fingerprint)
        .execute(&self.pool)
        .await?;
        Ok(fingerprint)
    }

    /// The database, for the other tables kept beside the users'.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub async fn list(&self) -> Result<Vec<UserEntry>, UserError> {
        let names = sqlx::query("SELECT name FROM users ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        let keys = sqlx::query("SELECT \"user\", fingerprint FROM ssh_keys ORDER BY fingerprint")
            .fetch_all(&self.pool)
            .await?;
        let mut users = Vec::new();
        for row in names {
            let name: String = row.try_get(0)?;
            let mut entry = UserEntry {
                keys: Vec::new(),
                passkeys: self.passkey_entries(&name).await?,
                name,
            };
            for key in &keys {
                if key.try_get::<String, _>(0)? == entry.name {
                    entry.keys.push(key.try_get(1)?);
                }
            }
            users.push(entry);
        }
        Ok(users)
    }

    /// Removes the user with their keys, passkeys, invites and web sessions.
    pub async fn remove(&self, name: &str) -> Result<(), UserError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query("DELETE FROM users WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(UserError::NoSuchUser(name.to_owned()));
        }
        for table in ["ssh_keys", "passkeys", "invites", "web_sessions"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE \"user\" = $1"))
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The user's passkeys as listed, oldest first.
    pub async fn passkey_entries(&self, name: &str) -> Result<Vec<PasskeyEntry>, UserError> {
        let rows = sqlx::query(
            "SELECT id, label, created, last_used FROM passkeys WHERE \"user\" = $1 ORDER BY created, id",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PasskeyEntry {
                    id: row.try_get(0)?,
                    label: row.try_get(1)?,
                    created: row.try_get(2)?,
                    last_used: row.try_get(3)?,
                })
            })
            .collect()
    }

    /// The user's passkeys, to sign in with.
    pub async fn passkeys(&self, name: &str) -> Result<Vec<Passkey>, UserError> {
        let rows = sqlx::query("SELECT credential FROM passkeys WHERE \"user\" = $1")
            .bind(name)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| Ok(serde_json::from_str(&row.try_get::<String, _>(0)?)?))
            .collect()
    }

    /// Registers `passkey` for `name`; returns its id. A passkey is registered only once,
    /// whoever has it.
    pub async fn add_passkey(
        &self,
        name: &str,
        label: &str,
        passkey: &Passkey,
    ) -> Result<String, UserError> {
        let id = passkey_id(passkey.cred_id());
        // One statement: a user removed meanwhile gets no passkey.
        let done = sqlx::query(
            "INSERT INTO passkeys (id, \"user\", label, created, credential)
             SELECT $1, name, $2, $3, $4 FROM users WHERE name = $5
             ON CONFLICT DO NOTHING",
        )
        .bind(&id)
        .bind(label)
        .bind(now_ms())
        .bind(serde_json::to_string(passkey)?)
        .bind(name)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(if self.exists(name).await? {
                UserError::PasskeyTaken
            } else {
                UserError::NoSuchUser(name.to_owned())
            });
        }
        Ok(id)
    }

    /// Stores `passkey` (its counter moved on) as used now; an error if it is gone.
    pub async fn passkey_used(&self, name: &str, passkey: &Passkey) -> Result<(), UserError> {
        let done = sqlx::query(
            "UPDATE passkeys SET credential = $1, last_used = $2 WHERE id = $3 AND \"user\" = $4",
        )
        .bind(serde_json::to_string(passkey)?)
        .bind(now_ms())
        .bind(passkey_id(passkey.cred_id()))
        .bind(name)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(UserError::NoSuchPasskey {
                user: name.to_owned(),
                id: passkey_id(passkey.cred_id()),
            });
        }
        Ok(())
    }

    /// Removes the user's passkey `id` (or the only one whose id starts so) and every web
    /// session signed in with it. Returns its full id.
    pub async fn remove_passkey(&self, name: &str, id: &str) -> Result<String, UserError> {
        let missing = || UserError::NoSuchPasskey {
            user: name.to_owned(),
            id: id.to_owned(),
        };
        let matching: Vec<String> = self
            .passkey_entries(name)
            .await?
            .into_iter()
            .map(|entry| entry.id)
            .filter(|full| full == id || (id.len() >= 6 && full.starts_with(id)))
            .collect();
        let [full] = matching.as_slice() else {
            return Err(missing());
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM passkeys WHERE id = $1 AND \"user\" = $2")
            .bind(full)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM web_sessions WHERE \"user\" = $1 AND passkey = $2")
            .bind(name)
            .bind(full)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(full.clone())
    }

    /// The users `key` is registered for.
    pub async fn users_of_key(&self, key: &PublicKey) -> Result<Vec<String>, UserError> {
        Ok(
            sqlx::query_scalar("SELECT \"user\" FROM ssh_keys WHERE key = $1 ORDER BY \"user\"")
                .bind(canonical(key))
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Whether `key` is registered for `name`.
    pub async fn authorized(&self, name: &str, key: &PublicKey) -> Result<bool, UserError> {
        let row = sqlx::query("SELECT 1 FROM ssh_keys WHERE \"user\" = $1 AND key = $2")
            .bind(name)
            .bind(canonical(key))
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }
}

/// How a passkey is named: its credential id, base64url.
pub fn passkey_id(id: &CredentialID) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode::<&[u8]>(id.as_ref())
}

/// The key without its comment, as stored and compared.
fn canonical(key: &PublicKey) -> String {
    let mut key = key.clone();
    key.set_comment("");
    key.to_openssh().unwrap_or_default().trim().to_owned()
}
