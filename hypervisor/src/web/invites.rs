//! Invites: a one-time link with which a user registers their first passkey (or one more, from
//! a new device). Each expires and is used at most once; only its digest is stored.

use std::time::Duration;

use crate::db::Pool;
use sqlx::Row;
use thiserror::Error;

use super::secret::{digest, now_ms, random_token};

/// How long an invite lasts unless told otherwise.
pub const DEFAULT_INVITE_LIFETIME: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Error)]
pub enum InviteError {
    #[error("this invite link is not valid: check that it was copied whole")]
    Unknown,
    #[error("this invite has expired: ask for a new one")]
    Expired,
    #[error("this invite was already used: ask for a new one")]
    Used,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

#[derive(Clone)]
pub struct Invites {
    pool: Pool,
}

impl Invites {
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// A new invite for `user` (who must exist), valid for `lifetime`: the secret to put in
    /// the link.
    pub async fn create(&self, user: &str, lifetime: Duration) -> Result<String, InviteError> {
        let token = random_token();
        let lifetime = i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX);
        sqlx::query("INSERT INTO invites (hash, \"user\", expires) VALUES ($1, $2, $3)")
            .bind(digest(&token))
            .bind(user)
            .bind(now_ms().saturating_add(lifetime))
            .execute(&self.pool)
            .await?;
        // Old invites are of no use to anyone.
        sqlx::query("DELETE FROM invites WHERE expires < $1")
            .bind(now_ms() - 7 * 24 * 3600 * 1000)
            .execute(&self.pool)
            .await?;
        Ok(token)
    }

    /// The user an unused, unexpired invite is for.
    pub async fn check(&self, token: &str) -> Result<String, InviteError> {
        let row = sqlx::query("SELECT \"user\", expires, used FROM invites WHERE hash = $1")
            .bind(digest(token))
            .fetch_optional(&self.pool)
            .await?
            .ok_or(InviteError::Unknown)?;
        if row.try_get::<Option<i64>, _>(2)?.is_some() {
            return Err(InviteError::Used);
        }
        if row.try_get::<i64, _>(1)? <= now_ms() {
            return Err(InviteError::Expired);
        }
        Ok(row.try_get(0)?)
    }

    /// Uses the invite up: only one caller ever succeeds.
    pub async fn consume(&self, token: &str) -> Result<String, InviteError> {
        let user = self.check(token).await?;
        let done = sqlx::query(
            "UPDATE invites SET used = $1 WHERE hash = $2 AND used IS NULL AND expires > $3",
        )
        .bind(now_ms())
        .bind(digest(token))
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 1 {
            Ok(user)
        } else {
            Err(InviteError::Used)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::UserStore;

    async fn invites() -> (tempfile::TempDir, Invites) {
        let dir = tempfile::tempdir().unwrap();
        let users = UserStore::open(&dir.path().join("users.db")).await.unwrap();
        users.create("alice").await.unwrap();
        (dir, Invites::new(users.pool().clone()))
    }

    #[tokio::test]
    async fn an_invite_is_used_once() {
        let (_dir, invites) = invites().await;
        let token = invites
            .create("alice", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(invites.check(&token).await.unwrap(), "alice");
        assert_eq!(invites.consume(&token).await.unwrap(), "alice");
        assert!(matches!(
            invites.consume(&token).await,
            Err(InviteError::Used)
        ));
        assert!(matches!(
            invites.check(&token).await,
            Err(InviteError::Used)
        ));
    }

    #[tokio::test]
    async fn an_expired_forged_or_truncated_invite_is_refused() {
        let (_dir, invites) = invites().await;
        let token = invites.create("alice", Duration::ZERO).await.unwrap();
        assert!(matches!(
            invites.check(&token).await,
            Err(InviteError::Expired)
        ));
        assert!(matches!(
            invites.consume(&token).await,
            Err(InviteError::Expired)
        ));
        let live = invites
            .create("alice", Duration::from_secs(60))
            .await
            .unwrap();
        assert!(matches!(
            invites.check(&live[..20]).await,
            Err(InviteError::Unknown)
        ));
        assert!(matches!(
            invites.check(&random_token()).await,
            Err(InviteError::Unknown)
        ));
    }
}
