//! Web sessions: a random id in a cookie, its digest in the database with who signed in, with
//! which passkey, when, and when last seen. A session ends at sign-out, when idle too long,
//! when too old, and when its user or passkey is removed.

use std::time::Duration;

use crate::db::Pool;
use axum::http::{header, HeaderMap, HeaderValue};
use sqlx::Row;

use super::secret::{digest, now_ms, random_token};

/// Sessions end after this long without a request or an open socket…
pub const DEFAULT_IDLE: Duration = Duration::from_secs(12 * 3600);
/// …and this long after sign-in, whatever happens.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The digest of its id (what the database knows it by).
    pub key: String,
    pub user: String,
    /// The id of the passkey it signed in with.
    pub passkey: String,
    /// When it signed in (milliseconds since the epoch).
    pub created: i64,
}

#[derive(Clone)]
pub struct Sessions {
    pool: Pool,
    idle: Duration,
    max_age: Duration,
    /// Cookies with `Secure` and the `__Host-` prefix (the origin is https).
    secure: bool,
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl Sessions {
    pub fn new(pool: Pool, idle: Duration, max_age: Duration, secure: bool) -> Self {
        Self {
            pool,
            idle,
            max_age,
            secure,
        }
    }

    /// The cookie's name.
    pub fn cookie_name(&self) -> &'static str {
        if self.secure {
            "__Host-choir_session"
        } else {
            "choir_session"
        }
    }

    /// Starts a session for `user` signed in with `passkey`; returns its id (for the cookie).
    pub async fn create(&self, user: &str, passkey: &str) -> Result<String, sqlx::Error> {
        let id = random_token();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO web_sessions (hash, \"user\", passkey, created, last_seen) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(digest(&id))
        .bind(user)
        .bind(passkey)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        sqlx::query("DELETE FROM web_sessions WHERE created < $1 OR last_seen < $2")
            .bind(now.saturating_sub(millis(self.max_age)))
            .bind(now.saturating_sub(millis(self.idle)))
            .execute(&self.pool)
            .await?;
        Ok(id)
    }

    /// The live session the request's cookie names, if any; seeing it counts as activity.
    pub async fn from_headers(&self, headers: &HeaderMap) -> Result<Option<Session>, sqlx::Error> {
        match self.cookie(headers) {
            Some(id) => self.find(&digest(&id)).await,
            None => Ok(None),
        }
    }

    /// The live session with this key, if any; seeing it counts as activity. A session holds
    /// only while the passkey it signed in with is still its user's, and the user exists
    /// (whatever removed them, and whenever).
    pub async fn find(&self, key: &str) -> Result<Option<Session>, sqlx::Error> {
        let Some(row) = sqlx::query(
            "SELECT s.\"user\", s.passkey, s.created, s.last_seen FROM web_sessions s
             JOIN passkeys p ON p.id = s.passkey AND p.\"user\" = s.\"user\"
             JOIN users u ON u.name = s.\"user\"
             WHERE s.hash = $1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let (created, last_seen): (i64, i64) = (row.try_get(2)?, row.try_get(3)?);
        let now = now_ms();
        if now.saturating_sub(created) >= millis(self.max_age)
            || now.saturating_sub(last_seen) >= millis(self.idle)
        {
            self.end(key).await?;
            return Ok(None);
        }
        // One write a minute at most (sooner for short idle limits).
        let touch = millis(self.idle / 8).min(60_000);
        if now.saturating_sub(last_seen) >= touch {
            sqlx::query("UPDATE web_sessions SET last_seen = $1 WHERE hash = $2")
                .bind(now)
                .bind(key)
                .execute(&self.pool)
                .await?;
        }
        Ok(Some(Session {
            key: key.to_owned(),
            user: row.try_get(0)?,
            passkey: row.try_get(1)?,
            created,
        }))
    }

    /// Ends the session with this key.
    pub async fn end(&self, key: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM web_sessions WHERE hash = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends whatever session the request's cookie names (at sign-in: a new id every time).
    pub async fn end_presented(&self, headers: &HeaderMap) -> Result<(), sqlx::Error> {
        match self.cookie(headers) {
            Some(id) => self.end(&digest(&id)).await,
            None => Ok(()),
        }
    }

    /// The session id the request presents. Two cookies of that name (one set by another
    /// site on the same host, for a narrower path, say) present none: which one the browser
    /// meant cannot be known.
    fn cookie(&self, headers: &HeaderMap) -> Option<String> {
        let name = self.cookie_name();
        let mut found = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(key, _)| *key == name)
            .map(|(_, value)| value.trim().to_owned());
        let id = found.next()?;
        if found.next().is_some() {
            return None;
        }
        Some(id).filter(|value| !value.is_empty() && value.len() <= 128)
    }

    /// `Set-Cookie` for a new session's id.
    pub fn set_cookie(&self, id: &str) -> HeaderValue {
        self.cookie_header(id, self.max_age.as_secs())
    }

    /// `Set-Cookie` that removes the session cookie.
    pub fn clear_cookie(&self) -> HeaderValue {
        self.cookie_header("", 0)
    }

    fn cookie_header(&self, value: &str, max_age: u64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let text = format!(
            "{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
            self.cookie_name()
        );
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::users::UserStore;

    /// Sessions over a database where alice has passkeys `pk` and `pk1`.
    async fn sessions(idle: Duration, max_age: Duration) -> (tempfile::TempDir, Sessions) {
        let dir = tempfile::tempdir().unwrap();
        let users = UserStore::open(&dir.path().join("users.db")).await.unwrap();
        users.create("alice").await.unwrap();
        let pool = users.pool().clone();
        for id in ["pk", "pk1"] {
            sqlx::query("INSERT INTO passkeys (id, \"user\", label, created, credential) VALUES ($1, 'alice', 'x', 0, '{}')")
                .bind(id)
                .execute(&pool)
                .await
                .unwrap();
        }
        (dir, Sessions::new(pool, idle, max_age, true))
    }

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[tokio::test]
    async fn a_session_is_found_by_its_cookie_only() {
        let (_dir, sessions) = sessions(DEFAULT_IDLE, DEFAULT_MAX_AGE).await;
        let id = sessions.create("alice", "pk1").await.unwrap();
        let cookie = format!("other=1; __Host-choir_session={id}");
        let found = sessions.from_headers(&with_cookie(&cookie)).await.unwrap();
        assert_eq!(
            found.map(|s| (s.user, s.passkey)),
            Some(("alice".into(), "pk1".into()))
        );
        for forged in [
            format!("__Host-choir_session={id}; __Host-choir_session=other"),
            format!("__Host-choir_session={}", &id[..id.len() - 1]),
            format!("choir_session={id}"),
            format!("__Host-choir_session={}", digest(&id)),
            "__Host-choir_session=".to_owned(),
        ] {
            let found = sessions.from_headers(&with_cookie(&forged)).await.unwrap();
            assert_eq!(found, None, "{forged}");
        }
    }

    #[tokio::test]
    async fn a_session_ends_with_its_passkey_and_its_user() {
        let (_dir, sessions) = sessions(DEFAULT_IDLE, DEFAULT_MAX_AGE).await;
        let users = UserStore::new(sessions.pool.clone()).await.unwrap();
        let by_pk = digest(&sessions.create("alice", "pk").await.unwrap());
        let by_pk1 = digest(&sessions.create("alice", "pk1").await.unwrap());
        let stranger = digest(&sessions.create("bob", "pk").await.unwrap());
        assert!(
            sessions.find(&stranger).await.unwrap().is_none(),
            "pk is not bob's"
        );
        users.remove_passkey("alice", "pk").await.unwrap();
        assert!(sessions.find(&by_pk).await.unwrap().is_none());
        assert!(sessions.find(&by_pk1).await.unwrap().is_some());
        users.remove("alice").await.unwrap();
        assert!(sessions.find(&by_pk1).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn sessions_expire_when_idle_and_when_old() {
        let (_dir, idle) = sessions(Duration::from_millis(200), DEFAULT_MAX_AGE).await;
        let id = idle.create("alice", "pk").await.unwrap();
        let key = digest(&id);
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(idle.find(&key).await.unwrap().is_some(), "seen in time");
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(
            idle.find(&key).await.unwrap().is_some(),
            "the last look counted"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(idle.find(&key).await.unwrap().is_none(), "idle too long");

        let (_dir, old) = sessions(DEFAULT_IDLE, Duration::from_millis(300)).await;
        let key = digest(&old.create("alice", "pk").await.unwrap());
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(80)).await;
            assert!(old.find(&key).await.unwrap().is_some());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            old.find(&key).await.unwrap().is_none(),
            "too old, however active"
        );
    }

    #[tokio::test]
    async fn the_cookie_is_http_only_same_site_and_secure_under_https() {
        sqlx::any::install_default_drivers();
        let pool = Pool::connect_lazy("sqlite::memory:").unwrap();
        let secure = Sessions::new(pool.clone(), DEFAULT_IDLE, DEFAULT_MAX_AGE, true);
        let text = secure.set_cookie("abc");
        let text = text.to_str().unwrap();
        assert!(
            text.starts_with("__Host-choir_session=abc; Path=/;"),
            "{text}"
        );
        for part in ["HttpOnly", "SameSite=Lax", "Secure", "Max-Age=604800"] {
            assert!(text.contains(part), "{text}");
        }
        let plain = Sessions::new(pool, DEFAULT_IDLE, DEFAULT_MAX_AGE, false);
        let text = plain.clear_cookie();
        let text = text.to_str().unwrap();
        assert!(
            text.starts_with("choir_session=;") && text.contains("Max-Age=0"),
            "{text}"
        );
        assert!(!text.contains("Secure"), "{text}");
    }
}
