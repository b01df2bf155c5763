//! Shares: tokens the owner mints for others to watch (read-only) or work in the sandbox,
//! each listed and revocable, optionally expiring or bound to one signed-in user of the
//! hypervisor. They are kept in `<data-dir>/shares.json` (0600), by the SHA-256 of their
//! secret: the file never holds a token that works.
//!
//! Every connection made with a share holds its [`Grant`], whose `ended` future resolves when
//! the share is revoked or expires, so that connection is cut at once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::datadir::{random_token, write_private, DataDirError};

/// The file shares are kept in, in the data dir.
pub const SHARES_FILE: &str = "shares.json";
/// Most shares alive at once.
pub const MAX_SHARES: usize = 64;
/// Longest label kept.
const MAX_LABEL: usize = 80;
/// What every share token starts with.
const PREFIX: &str = "chs_";

/// One share as listed (never its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    pub id: String,
    pub read_only: bool,
    /// When it stops working (milliseconds since the epoch), if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    /// The hypervisor user it is for; anyone holding the link when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub viewer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub created: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    #[serde(flatten)]
    share: Share,
    /// SHA-256 of the secret, hex.
    hash: String,
}

/// What the owner asks for.
#[derive(Debug, Clone, Deserialize)]
pub struct ShareRequest {
    /// Watch only (the default): a share that may change things must say so.
    #[serde(default = "yes")]
    pub read_only: bool,
    /// Seconds until it expires.
    #[serde(default)]
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub viewer: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
}

fn yes() -> bool {
    true
}

impl Default for ShareRequest {
    fn default() -> Self {
        Self {
            read_only: true,
            expires_in: None,
            viewer: None,
            label: None,
        }
    }
}

/// Why a share could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error("no such share (it was revoked, or never existed)")]
    Unknown,
    #[error("this share expired")]
    Expired,
    #[error("this share is for {0}; sign in as that user")]
    OtherViewer(String),
    #[error("{0}")]
    Invalid(String),
    #[error("there are already {MAX_SHARES} shares; revoke some first")]
    TooMany,
    #[error(transparent)]
    Storage(#[from] DataDirError),
}

/// A connection's standing under a share: what it may do and when it must end.
#[derive(Debug, Clone)]
pub struct Grant {
    pub share: Share,
    revoked: CancellationToken,
}

impl Grant {
    /// Why the share no longer holds, if it does not.
    pub fn is_over(&self) -> Option<&'static str> {
        if self.revoked.is_cancelled() {
            Some("this share was revoked")
        } else if self
            .share
            .expires
            .is_some_and(|expires| expires <= now_ms())
        {
            Some("this share expired")
        } else {
            None
        }
    }

    /// Resolves when the share is revoked or expires; says which.
    pub async fn ended(&self) -> &'static str {
        let until_expiry = self
            .share
            .expires
            .map(|expires| Duration::from_millis(u64::try_from(expires - now_ms()).unwrap_or(0)));
        tokio::select! {
            () = self.revoked.cancelled() => "this share was revoked",
            () = sleep_or_forever(until_expiry) => "this share expired",
        }
    }
}

async fn sleep_or_forever(duration: Option<Duration>) {
    match duration {
        Some(duration) => tokio::time::sleep(duration).await,
        None => std::future::pending().await,
    }
}

/// The shares of one sandbox; cheap to clone.
#[derive(Clone)]
pub struct Shares {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    path: PathBuf,
    stored: Vec<Stored>,
    /// Cancelled when a share is revoked: its connections close.
    revoked: HashMap<String, CancellationToken>,
}

impl Shares {
    /// Reads the shares file (a missing or unreadable file is no shares; unreadable is
    /// logged, and nothing in it works).
    pub fn open(data_dir: &Path) -> Self {
        let path = data_dir.join(SHARES_FILE);
        let stored = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|err| {
                tracing::warn!(%err, path = %path.display(), "the shares file is not readable; no share works until one is made");
                Vec::new()
            }),
            Err(_) => Vec::new(),
        };
        Self {
            inner: Arc::new(Mutex::new(Inner {
                path,
                stored,
                revoked: HashMap::new(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes a share; returns it with its token (shown this once).
    pub fn mint(&self, request: ShareRequest) -> Result<(Share, String), ShareError> {
        let label = request.label.map(|label| {
            label
                .chars()
                .filter(|c| !c.is_control())
                .take(MAX_LABEL)
                .collect::<String>()
        });
        if let Some(viewer) = &request.viewer {
            let valid = !viewer.is_empty()
                && viewer.len() <= 64
                && viewer
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !valid {
                return Err(ShareError::Invalid(format!(
                    "`{viewer}` is not a user name (letters, digits, - _ .)"
                )));
            }
        }
        let expires = match request.expires_in {
            Some(0) => {
                return Err(ShareError::Invalid(
                    "expires_in must be at least 1 s".into(),
                ))
            }
            Some(seconds) => Some(now_ms().saturating_add(
                i64::try_from(seconds.min(10 * 365 * 86_400) * 1000).unwrap_or(i64::MAX),
            )),
            None => None,
        };
        let mut inner = self.lock();
        inner.drop_expired();
        if inner.stored.len() >= MAX_SHARES {
            return Err(ShareError::TooMany);
        }
        let id = random_token()?[..10].to_owned();
        let secret = random_token()?;
        let share = Share {
            id: id.clone(),
            read_only: request.read_only,
            expires,
            viewer: request.viewer,
            label,
            created: now_ms(),
        };
        inner.stored.push(Stored {
            share: share.clone(),
            hash: hash(&secret),
        });
        if let Err(err) = inner.save() {
            inner.stored.pop();
            return Err(err.into());
        }
        Ok((share, format!("{PREFIX}{id}_{secret}")))
    }

    /// Every share alive, oldest first.
    pub fn list(&self) -> Vec<Share> {
        let mut inner = self.lock();
        inner.drop_expired();
        inner
            .stored
            .iter()
            .map(|stored| stored.share.clone())
            .collect()
    }

    /// Revokes a share: it stops working and its connections close now.
    pub fn revoke(&self, id: &str) -> Result<Share, ShareError> {
        let mut inner = self.lock();
        let at = inner
            .stored
            .iter()
            .position(|stored| stored.share.id == id)
            .ok_or(ShareError::Unknown)?;
        let removed = inner.stored.remove(at);
        if let Err(err) = inner.save() {
            inner.stored.insert(at, removed);
            return Err(err.into());
        }
        if let Some(revoked) = inner.revoked.remove(id) {
            revoked.cancel();
        }
        Ok(removed.share)
    }

    /// Whether `token` looks like a share token (rather than the sandbox token).
    pub fn is_share_token(token: &str) -> bool {
        token.starts_with(PREFIX)
    }

    /// The grant of a share token presented by `viewer` (the hypervisor's signed-in user,
    /// when it says).
    pub fn check(&self, token: &str, viewer: Option<&str>) -> Result<Grant, ShareError> {
        let (id, secret) = token
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split_once('_'))
            .ok_or(ShareError::Unknown)?;
        let mut inner = self.lock();
        let stored = inner
            .stored
            .iter()
            .find(|stored| stored.share.id == id)
            .ok_or(ShareError::Unknown)?;
        if !same(stored.hash.as_bytes(), hash(secret).as_bytes()) {
            return Err(ShareError::Unknown);
        }
        if stored
            .share
            .expires
            .is_some_and(|expires| expires <= now_ms())
        {
            return Err(ShareError::Expired);
        }
        if let Some(bound) = &stored.share.viewer {
            if viewer != Some(bound.as_str()) {
                return Err(ShareError::OtherViewer(bound.clone()));
            }
        }
        let share = stored.share.clone();
        let revoked = inner.revoked.entry(share.id.clone()).or_default().clone();
        Ok(Grant { share, revoked })
    }
}

impl Inner {
    fn drop_expired(&mut self) {
        let now = now_ms();
        let before = self.stored.len();
        self.stored
            .retain(|stored| stored.share.expires.is_none_or(|expires| expires > now));
        if self.stored.len() != before {
            if let Err(err) = self.save() {
                tracing::warn!(%err, "cannot forget expired shares");
            }
        }
    }

    fn save(&self) -> Result<(), DataDirError> {
        let text = serde_json::to_vec_pretty(&self.stored).unwrap_or_default();
        write_private(&self.path, &text)
    }
}

fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Compares without leaking through timing how much matched.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_works_until_revoked_and_the_file_holds_no_token() {
        let dir = tempfile::tempdir().unwrap();
        let shares = Shares::open(dir.path());
        let (share, token) = shares
            .mint(ShareRequest {
                read_only: true,
                ..ShareRequest::default()
            })
            .unwrap();
        assert!(Shares::is_share_token(&token));
        let grant = shares.check(&token, None).unwrap();
        assert!(grant.share.read_only);
        let file = std::fs::read_to_string(dir.path().join(SHARES_FILE)).unwrap();
        let secret = token.rsplit('_').next().unwrap();
        assert!(!file.contains(secret), "the file holds the secret");
        // The file is read back by a restarted daemon.
        let reopened = Shares::open(dir.path());
        assert_eq!(reopened.list(), vec![share.clone()]);
        assert!(reopened.check(&token, None).is_ok());
        // A secret with one character changed, or another share's id, does not work.
        let mut wrong = token.clone();
        let last = wrong.pop().unwrap();
        wrong.push(if last == '0' { '1' } else { '0' });
        assert!(matches!(
            shares.check(&wrong, None),
            Err(ShareError::Unknown)
        ));
        shares.revoke(&share.id).unwrap();
        assert!(matches!(
            shares.check(&token, None),
            Err(ShareError::Unknown)
        ));
        assert!(Shares::open(dir.path()).list().is_empty());
    }

    #[test]
    fn a_share_for_one_user_refuses_others_and_expired_shares_refuse_everyone() {
        let dir = tempfile::tempdir().unwrap();
        let shares = Shares::open(dir.path());
        let (_, token) = shares
            .mint(ShareRequest {
                viewer: Some("alice".into()),
                ..ShareRequest::default()
            })
            .unwrap();
        assert!(shares.check(&token, Some("alice")).is_ok());
        assert!(matches!(
            shares.check(&token, Some("mallory")),
            Err(ShareError::OtherViewer(_))
        ));
        assert!(matches!(
            shares.check(&token, None),
            Err(ShareError::OtherViewer(_))
        ));
        assert!(matches!(
            shares.mint(ShareRequest {
                viewer: Some("../root".into()),
                ..ShareRequest::default()
            }),
            Err(ShareError::Invalid(_))
        ));
        {
            let mut inner = shares.lock();
            inner.stored[0].share.expires = Some(now_ms() - 1);
        }
        assert!(matches!(
            shares.check(&token, Some("alice")),
            Err(ShareError::Expired)
        ));
        assert!(shares.list().is_empty(), "expired shares are dropped");
    }

    #[tokio::test]
    async fn revoking_ends_every_grant_of_the_share() {
        let dir = tempfile::tempdir().unwrap();
        let shares = Shares::open(dir.path());
        let (share, token) = shares.mint(ShareRequest::default()).unwrap();
        let grants = [
            shares.check(&token, None).unwrap(),
            shares.check(&token, None).unwrap(),
        ];
        shares.revoke(&share.id).unwrap();
        for grant in &grants {
            let why = tokio::time::timeout(Duration::from_secs(5), grant.ended())
                .await
                .expect("the grant ends");
            assert_eq!(why, "this share was revoked");
        }
    }
}
