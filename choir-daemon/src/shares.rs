//! Shares: tokens the owner mints for others to watch (read-only) or work in the sandbox,
//! each listed and revocable, optionally expiring or bound to one signed-in user of the
//! hypervisor. They are kept in `<data-dir>/shares.json` (0600), by the SHA-256 of their
//! secret: the file never holds a token that works.
//!
//! Every connection made with a share holds its [`Grant`], whose `ended` future resolves when
//! the share is revoked or expires, so that connection is cut at once.
//!
//! A share sees the sandbox from the moment it was made (`since`): nothing of the log before
//! it, unless it was minted with `history`. When a full share ends, whatever its holder could
//! do with the sandbox's local token ends too: the token is rotated (`tokens.rs`) and the
//! shares minted with it since that share was made are ended with it ([`Shares::revoke`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use choir_proto::{now_ms, same_secret, secret_digest as hash};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::datadir::{random_token, write_private, DataDirError};
use crate::tokens::Tokens;

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
    /// The seq of the first event it may see: the head when it was made, plus one (1 when it
    /// was made with `history`).
    #[serde(default)]
    pub since: u64,
    /// Made to see the whole past.
    #[serde(default, skip_serializing_if = "is_false")]
    pub history: bool,
}

fn is_false(value: &bool) -> bool {
    !value
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    #[serde(flatten)]
    share: Share,
    /// SHA-256 of the secret, hex.
    hash: String,
    /// Minted with the sandbox's local token, which whoever runs code in the sandbox (a full
    /// share's holder) can read.
    #[serde(default)]
    local: bool,
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
    /// See the whole past, not only what happens from now on.
    #[serde(default)]
    pub history: bool,
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
            history: false,
        }
    }
}

/// A share that ended, and the shares that ended with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub share: Share,
    /// For a full share: those minted with the local token since it was made (its holder
    /// could have minted them).
    pub also: Vec<Share>,
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
    /// Told when a share is made: the watch on full shares looks again when they expire.
    minted: Arc<tokio::sync::Notify>,
}

struct Inner {
    path: PathBuf,
    stored: Vec<Stored>,
    /// Cancelled when a share is revoked: its connections close.
    revoked: HashMap<String, CancellationToken>,
}

impl Shares {
    /// Reads the shares file (a missing or unreadable file is no shares; unreadable is
    /// logged, and nothing in it works). Shares from before shares had a `since` see from
    /// `head` on.
    pub fn open(data_dir: &Path, head: u64) -> Self {
        let path = data_dir.join(SHARES_FILE);
        let stored = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|err| {
                tracing::warn!(%err, path = %path.display(), "the shares file is not readable; no share works until one is made");
                Vec::new()
            }),
            Err(_) => Vec::new(),
        };
        let mut stored: Vec<Stored> = stored;
        for old in stored.iter_mut().filter(|stored| stored.share.since == 0) {
            old.share.since = head + 1;
        }
        Self {
            inner: Arc::new(Mutex::new(Inner {
                path,
                stored,
                revoked: HashMap::new(),
            })),
            minted: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes a share that sees from seq `head + 1` on (or all, with `history`); `local` says
    /// it was asked for with the local token. Returns it with its token (shown this once).
    pub fn mint(
        &self,
        request: ShareRequest,
        head: u64,
        local: bool,
    ) -> Result<(Share, String), ShareError> {
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
            since: if request.history { 1 } else { head + 1 },
            history: request.history,
        };
        inner.stored.push(Stored {
            share: share.clone(),
            hash: hash(&secret),
            local,
        });
        if let Err(err) = inner.save() {
            inner.stored.pop();
            return Err(err.into());
        }
        self.minted.notify_one();
        Ok((share, format!("{PREFIX}{id}_{secret}")))
    }

    /// Every share alive, oldest first.
    pub fn list(&self) -> Vec<Share> {
        let mut inner = self.lock();
        inner.drop_expired();
        let now = now_ms();
        inner
            .stored
            .iter()
            .filter(|stored| stored.share.expires.is_none_or(|expires| expires > now))
            .map(|stored| stored.share.clone())
            .collect()
    }

    /// Revokes a share: it stops working and its connections close now. A full share takes
    /// with it the shares minted with the local token since it was made; the caller rotates
    /// the local token. Blocking (it syncs the file).
    pub fn revoke(&self, id: &str) -> Result<Ended, ShareError> {
        let mut inner = self.lock();
        let share = inner
            .stored
            .iter()
            .find(|stored| stored.share.id == id)
            .map(|stored| stored.share.clone())
            .ok_or(ShareError::Unknown)?;
        let also = |stored: &Stored| {
            !share.read_only
                && stored.local
                && stored.share.id != share.id
                && stored.share.created >= share.created
        };
        let before = inner.stored.clone();
        let (gone, kept): (Vec<Stored>, Vec<Stored>) = std::mem::take(&mut inner.stored)
            .into_iter()
            .partition(|stored| stored.share.id == share.id || also(stored));
        inner.stored = kept;
        if let Err(err) = inner.save() {
            inner.stored = before;
            return Err(err.into());
        }
        for stored in &gone {
            if let Some(revoked) = inner.revoked.remove(&stored.share.id) {
                revoked.cancel();
            }
        }
        Ok(Ended {
            also: gone
                .into_iter()
                .map(|stored| stored.share)
                .filter(|other| other.id != share.id)
                .collect(),
            share,
        })
    }

    /// When the next full share expires, if one will.
    pub fn next_full_expiry(&self) -> Option<i64> {
        let inner = self.lock();
        inner
            .stored
            .iter()
            .filter(|stored| !stored.share.read_only)
            .filter_map(|stored| stored.share.expires)
            .min()
    }

    /// Full shares that have expired: each is ended as if revoked ([`Shares::revoke`]).
    pub fn expired_full(&self) -> Vec<String> {
        let now = now_ms();
        let inner = self.lock();
        inner
            .stored
            .iter()
            .filter(|stored| !stored.share.read_only)
            .filter(|stored| stored.share.expires.is_some_and(|expires| expires <= now))
            .map(|stored| stored.share.id.clone())
            .collect()
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
        if !same_secret(&stored.hash, &hash(secret)) {
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

/// Ends a share as its owner revokes it: a full one also replaces the local token (see
/// `tokens.rs`) and takes with it the shares minted with that token since it was made.
/// Blocking (it syncs files).
pub fn end(shares: &Shares, tokens: &Tokens, id: &str) -> Result<Ended, ShareError> {
    let ended = shares.revoke(id)?;
    tracing::info!(id = %ended.share.id, also = ended.also.len(), "share revoked");
    if !ended.share.read_only {
        tokens.rotate()?;
    }
    Ok(ended)
}

/// Ends each full share when it expires, as if revoked (its connections are cut at once by
/// their grants; this replaces the local token). Runs until `shutdown`.
pub async fn watch_full_shares(
    shares: Shares,
    tokens: Tokens,
    shutdown: tokio_util::sync::CancellationToken,
) {
    loop {
        let mut failed = false;
        for id in shares.expired_full() {
            let (shares, tokens) = (shares.clone(), tokens.clone());
            let ended = tokio::task::spawn_blocking(move || end(&shares, &tokens, &id)).await;
            if let Ok(Err(err)) = ended {
                tracing::error!(%err, "cannot end an expired full share");
                failed = true;
            }
        }
        let wait = shares
            .next_full_expiry()
            .map_or(Duration::from_secs(3600), |expires| {
                Duration::from_millis(u64::try_from(expires - now_ms()).unwrap_or(0))
            });
        // After a failure, try again a little later rather than at once.
        let least = if failed {
            Duration::from_secs(5)
        } else {
            Duration::from_millis(10)
        };
        tokio::select! {
            () = tokio::time::sleep(wait.max(least)) => {}
            () = shares.minted.notified() => {}
            () = shutdown.cancelled() => return,
        }
    }
}

impl Inner {
    /// Forgets expired read-only shares (an expired full share is ended by the daemon's
    /// watch on full shares, which also rotates the local token; until then it works nowhere).
    fn drop_expired(&mut self) {
        let now = now_ms();
        let before = self.stored.len();
        self.stored.retain(|stored| {
            !stored.share.read_only || stored.share.expires.is_none_or(|expires| expires > now)
        });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_works_until_revoked_and_the_file_holds_no_token() {
        let dir = tempfile::tempdir().unwrap();
        let shares = Shares::open(dir.path(), 0);
        let (share, token) = shares
            .mint(
                ShareRequest {
                    read_only: true,
                    ..ShareRequest::default()
                },
                0,
                false,
            )
            .unwrap();
        assert!(Shares::is_share_token(&token));
        let grant = shares.check(&token, None).unwrap();
        assert!(grant.share.read_only);
        let file = std::fs::read_to_string(dir.path().join(SHARES_FILE)).unwrap();
        let secret = token.rsplit('_').next().unwrap();
        assert!(!file.contains(secret), "the file holds the secret");
        // The file is read back by a restarted daemon.
        let reopened = Shares::open(dir.path(), 0);
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
        assert!(Shares::open(dir.path(), 0).list().is_empty());
    }

    #[test]
    fn a_share_for_one_user_refuses_others_and_expired_shares_refuse_everyone() {
        let dir = tempfile::tempdir().unwrap();
        let shares = Shares::open(dir.path(), 0);
        let (_, token) = shares
            .mint(
                ShareRequest {
                    viewer: Some("alice".into()),
                    ..ShareRequest::default()
                },
                0,
                false,
            )
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
            shares.mint(
                ShareRequest {
                    viewer: Some("../root".into()),
                    ..ShareRequest::default()
                },
                0,
                false
            ),
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

    #[test]
    fn a_share_sees_from_the_head_when_it_was_made_unless_it_asked_for_history() {
        let dir = tempfile::tempdir().unwrap();
        let shares = Shares::open(dir.path(), 0);
        let (present, _) = shares.mint(ShareRequest::default(), 41, false).unwrap();
        assert_eq!((present.since, present.history), (42, false));
        let (past, _) = shares
            .mint(
                ShareRequest {
                    history: true,
                    ..ShareRequest::default()
                },
                41,
                false,
            )
            .unwrap();
        assert_eq!((past.since, past.history), (1, true));
        // A share stored before `since` existed sees from the head of the daemon that reads it.
        let text = std::fs::read_to_string(dir.path().join(SHARES_FILE)).unwrap();
        let old = text
            .replace("\"since\": 42,", "")
            .replace("\"since\": 1,", "");
        assert!(!old.contains("since"), "{old}");
        std::fs::write(dir.path().join(SHARES_FILE), old).unwrap();
        let reopened = Shares::open(dir.path(), 99).list();
        assert!(
            reopened.iter().all(|share| share.since == 100),
            "{reopened:?}"
        );
    }

    #[test]
    fn ending_a_full_share_ends_the_shares_minted_with_the_local_token_since() {
        let dir = tempfile::tempdir().unwrap();
        let shares = Shares::open(dir.path(), 0);
        let minted = |read_only: bool, local: bool| {
            let (share, token) = shares
                .mint(
                    ShareRequest {
                        read_only,
                        ..ShareRequest::default()
                    },
                    0,
                    local,
                )
                .unwrap();
            std::thread::sleep(Duration::from_millis(2));
            (share, token)
        };
        let (before, before_token) = minted(true, true);
        let (full, _) = minted(false, false);
        let (by_local, by_local_token) = minted(true, true);
        let (by_host, by_host_token) = minted(true, false);
        let grant = shares.check(&by_local_token, None).unwrap();
        let ended = shares.revoke(&full.id).unwrap();
        assert_eq!(ended.share, full);
        assert_eq!(ended.also, vec![by_local.clone()]);
        assert!(grant.is_over().is_some(), "its connections are cut");
        assert!(shares.check(&by_local_token, None).is_err());
        // Made before the full share, or with the host token: untouched.
        assert!(shares.check(&before_token, None).is_ok());
        assert!(shares.check(&by_host_token, None).is_ok());
        assert_eq!(shares.list(), vec![before, by_host]);
        // A read-only share takes nothing with it.
        let (watcher, _) = minted(true, false);
        let (_, later_token) = minted(true, true);
        assert!(shares.revoke(&watcher.id).unwrap().also.is_empty());
        assert!(shares.check(&later_token, None).is_ok());
    }

    #[test]
    fn an_expired_full_share_is_listed_for_ending_and_works_nowhere() {
        let dir = tempfile::tempdir().unwrap();
        let shares = Shares::open(dir.path(), 0);
        let (full, token) = shares
            .mint(
                ShareRequest {
                    read_only: false,
                    expires_in: Some(3600),
                    ..ShareRequest::default()
                },
                0,
                false,
            )
            .unwrap();
        assert_eq!(shares.next_full_expiry(), full.expires);
        assert!(shares.expired_full().is_empty());
        shares.lock().stored[0].share.expires = Some(now_ms() - 1);
        assert!(matches!(
            shares.check(&token, None),
            Err(ShareError::Expired)
        ));
        assert!(shares.list().is_empty());
        assert_eq!(shares.expired_full(), vec![full.id.clone()]);
        shares.revoke(&full.id).unwrap();
        assert!(shares.expired_full().is_empty());
    }

    #[tokio::test]
    async fn revoking_ends_every_grant_of_the_share() {
        let dir = tempfile::tempdir().unwrap();
        let shares = Shares::open(dir.path(), 0);
        let (share, token) = shares.mint(ShareRequest::default(), 0, false).unwrap();
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
