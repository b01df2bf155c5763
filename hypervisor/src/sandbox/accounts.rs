//! Each user's sandbox account: the uid and gid their sandbox runs as, taken from a
//! configurable range and kept in the hypervisor's database so that it never changes, and the
//! token the hypervisor uses to talk to their daemon.

use std::collections::HashSet;
use std::ops::RangeInclusive;

use crate::db::Pool;
use sqlx::Row;
use thiserror::Error;

/// The default range of sandbox uids (and gids): far above regular and system accounts.
pub const DEFAULT_UID_RANGE: RangeInclusive<u32> = 800_000..=899_999;

/// A user's sandbox account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub uid: u32,
    pub gid: u32,
    /// The token of the user's daemon (64 hex digits), known to the hypervisor and the daemon.
    pub token: String,
}

/// How sandboxes get their ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdPolicy {
    /// The hypervisor is root: every user gets their own uid (= gid) from `range`.
    PerUser { range: RangeInclusive<u32> },
    /// The hypervisor is not root: sandboxes run as its own user. Unless `several` (the
    /// `--unsafe-shared-uid` flag), only one user may have a sandbox.
    Shared { uid: u32, gid: u32, several: bool },
}

#[derive(Debug, Error)]
pub enum AccountError {
    #[error(
        "this hypervisor runs without root, so every sandbox would run under its own uid and \
         users could read and signal each other's sandboxes; `{0}` already has one. Run the \
         hypervisor as root, or pass --unsafe-shared-uid to accept the risk"
    )]
    SharedUid(String),
    #[error("no free uid is left in {}-{} (each user needs one; widen --uid-range)", .0.start(), .0.end())]
    RangeExhausted(RangeInclusive<u32>),
    #[error("cannot make a token: {0}")]
    Random(String),
    #[error("the hypervisor's database: {0}")]
    Database(#[from] sqlx::Error),
}

/// The accounts table.
#[derive(Clone)]
pub struct Accounts {
    pool: Pool,
    policy: IdPolicy,
}

impl Accounts {
    pub async fn new(pool: Pool, policy: IdPolicy) -> Result<Self, AccountError> {
        crate::db::create(
            &pool,
            &[
                "CREATE TABLE IF NOT EXISTS sandbox_accounts (
                    \"user\" TEXT PRIMARY KEY,
                    uid INTEGER,
                    token TEXT NOT NULL
                )",
                "CREATE UNIQUE INDEX IF NOT EXISTS sandbox_accounts_uid
                 ON sandbox_accounts (uid) WHERE uid IS NOT NULL",
            ],
        )
        .await?;
        Ok(Self { pool, policy })
    }

    pub fn policy(&self) -> &IdPolicy {
        &self.policy
    }

    /// Users with an account and the uid their sandbox runs as.
    pub async fn all(&self) -> Result<Vec<(String, u32)>, AccountError> {
        let rows = sqlx::query("SELECT \"user\", uid FROM sandbox_accounts ORDER BY \"user\"")
            .fetch_all(&self.pool)
            .await?;
        let mut accounts = Vec::new();
        for row in rows {
            let user: String = row.try_get(0)?;
            let stored = uid_of(row.try_get(1)?);
            let uid = match &self.policy {
                IdPolicy::PerUser { .. } => stored,
                IdPolicy::Shared { uid, .. } => Some(*uid),
            };
            accounts.extend(uid.map(|uid| (user, uid)));
        }
        Ok(accounts)
    }

    /// The user's account, created on first use.
    pub async fn get_or_create(&self, user: &str) -> Result<Account, AccountError> {
        // Two users created at once (by this hypervisor or another of a shared database) may
        // pick the same free uid: the unique index refuses the second, which then picks again.
        for _ in 0..32 {
            match self.try_get_or_create(user).await {
                Err(AccountError::Database(sqlx::Error::Database(err)))
                    if err.is_unique_violation() => {}
                other => return other,
            }
        }
        Err(AccountError::Random(
            "could not record a uid after several tries".into(),
        ))
    }

    async fn try_get_or_create(&self, user: &str) -> Result<Account, AccountError> {
        let row = sqlx::query("SELECT uid, token FROM sandbox_accounts WHERE \"user\" = $1")
            .bind(user)
            .fetch_optional(&self.pool)
            .await?;
        let existing: Option<(Option<u32>, String)> = match row {
            Some(row) => Some((uid_of(row.try_get(0)?), row.try_get(1)?)),
            None => None,
        };
        match (&self.policy, existing) {
            (IdPolicy::Shared { uid, gid, .. }, Some((_, token))) => Ok(Account {
                uid: *uid,
                gid: *gid,
                token,
            }),
            (IdPolicy::Shared { uid, gid, several }, None) => {
                if !several {
                    let other: Option<String> =
                        sqlx::query_scalar("SELECT \"user\" FROM sandbox_accounts LIMIT 1")
                            .fetch_optional(&self.pool)
                            .await?;
                    if let Some(other) = other {
                        return Err(AccountError::SharedUid(other));
                    }
                }
                let token = new_token()?;
                self.insert(user, None, &token).await?;
                Ok(Account {
                    uid: *uid,
                    gid: *gid,
                    token,
                })
            }
            (IdPolicy::PerUser { .. }, Some((Some(uid), token))) => Ok(Account {
                uid,
                gid: uid,
                token,
            }),
            (IdPolicy::PerUser { range }, existing) => {
                let uid = self.free_uid(range).await?;
                let token = match existing {
                    Some((None, token)) => {
                        sqlx::query("UPDATE sandbox_accounts SET uid = $1 WHERE \"user\" = $2")
                            .bind(i64::from(uid))
                            .bind(user)
                            .execute(&self.pool)
                            .await?;
                        token
                    }
                    _ => {
                        let token = new_token()?;
                        self.insert(user, Some(uid), &token).await?;
                        token
                    }
                };
                tracing::info!(user, uid, "sandbox account created");
                Ok(Account {
                    uid,
                    gid: uid,
                    token,
                })
            }
        }
    }

    async fn insert(&self, user: &str, uid: Option<u32>, token: &str) -> Result<(), AccountError> {
        sqlx::query("INSERT INTO sandbox_accounts (\"user\", uid, token) VALUES ($1, $2, $3)")
            .bind(user)
            .bind(uid.map(i64::from))
            .bind(token)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The lowest uid of `range` that no account, no user or group the host knows (files,
    /// LDAP or whatever NSS asks), no subordinate id range (`/etc/subuid`, `/etc/subgid`, which
    /// rootless containers map) and no running process has.
    async fn free_uid(&self, range: &RangeInclusive<u32>) -> Result<u32, AccountError> {
        let taken: Vec<i64> =
            sqlx::query_scalar("SELECT uid FROM sandbox_accounts WHERE uid IS NOT NULL")
                .fetch_all(&self.pool)
                .await?;
        let mut taken: HashSet<u32> = taken
            .into_iter()
            .filter_map(|uid| uid_of(Some(uid)))
            .collect();
        taken.extend(super::procs::all().into_iter().map(|proc| proc.uid));
        let subordinate: Vec<RangeInclusive<u32>> = ["/etc/subuid", "/etc/subgid"]
            .into_iter()
            .flat_map(subordinate_ranges)
            .collect();
        let range = range.clone();
        // One of the lowest free uids, at random: those picking at the same moment rarely
        // pick the same.
        let pick = rand::random::<u32>() as usize % FREE_CANDIDATES;
        tokio::task::spawn_blocking(move || {
            let free: Vec<u32> = range
                .clone()
                .filter(|uid| !taken.contains(uid))
                .filter(|uid| !subordinate.iter().any(|sub| sub.contains(uid)))
                .filter(|uid| !known_to_the_host(*uid))
                .take(FREE_CANDIDATES)
                .collect();
            free.get(pick % free.len().max(1))
                .copied()
                .ok_or(AccountError::RangeExhausted(range))
        })
        .await
        .map_err(|err| AccountError::Random(err.to_string()))?
    }
}

/// Whether a user or group with this id exists (through NSS: files, LDAP, SSSD...). A lookup
/// that fails counts as taken: better skip an id than share one.
fn known_to_the_host(id: u32) -> bool {
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(id));
    let group = nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(id));
    !matches!((user, group), (Ok(None), Ok(None)))
}

/// The ranges of a subordinate id file (`name:first:count` per line).
fn subordinate_ranges(path: &str) -> Vec<RangeInclusive<u32>> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(':').skip(1);
            let first: u32 = fields.next()?.trim().parse().ok()?;
            let count: u32 = fields.next()?.trim().parse().ok()?;
            Some(first..=first.saturating_add(count.saturating_sub(1)))
        })
        .collect()
}

fn new_token() -> Result<String, AccountError> {
    choir_proto::random_hex(32).map_err(|err| AccountError::Random(err.to_string()))
}

/// Parses `800000-899999`.
pub fn parse_uid_range(text: &str) -> Result<RangeInclusive<u32>, String> {
    let bad = || format!("`{text}` is not a uid range like 800000-899999");
    let (start, end) = text.split_once('-').ok_or_else(bad)?;
    let (start, end): (u32, u32) = (
        start.trim().parse().map_err(|_| bad())?,
        end.trim().parse().map_err(|_| bad())?,
    );
    if start < 1000 || start > end {
        return Err(format!(
            "`{text}`: the range must start at 1000 or above (system accounts live below) and not end before it starts"
        ));
    }
    Ok(start..=end)
}

/// How many of the lowest free uids a new account picks among.
const FREE_CANDIDATES: usize = 16;

/// A uid as the database keeps it (a 64-bit integer: the one width both databases share).
fn uid_of(stored: Option<i64>) -> Option<u32> {
    stored.and_then(|uid| u32::try_from(uid).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn accounts(policy: IdPolicy) -> (tempfile::TempDir, Accounts) {
        let dir = tempfile::tempdir().unwrap();
        let pool = crate::db::open(&dir.path().join("users.db")).await.unwrap();
        (dir, Accounts::new(pool, policy).await.unwrap())
    }

    #[tokio::test]
    async fn each_user_gets_a_distinct_uid_that_stays_theirs() {
        let range = 4_100_000_000..=4_100_000_999;
        let (dir, accounts) = accounts(IdPolicy::PerUser {
            range: range.clone(),
        })
        .await;
        let alice = accounts.get_or_create("alice").await.unwrap();
        let bob = accounts.get_or_create("bob").await.unwrap();
        assert!(range.contains(&alice.uid) && range.contains(&bob.uid));
        assert_ne!(alice.uid, bob.uid);
        assert_eq!(alice.gid, alice.uid);
        assert_ne!(alice.token, bob.token);
        assert_eq!(alice.token.len(), 64);
        assert_eq!(accounts.get_or_create("alice").await.unwrap(), alice);

        // Reopened, as after a restart: the same accounts.
        let pool = crate::db::open(&dir.path().join("users.db")).await.unwrap();
        let reopened = Accounts::new(pool, IdPolicy::PerUser { range })
            .await
            .unwrap();
        assert_eq!(reopened.get_or_create("bob").await.unwrap(), bob);
        assert_eq!(
            reopened.all().await.unwrap(),
            vec![("alice".into(), alice.uid), ("bob".into(), bob.uid)]
        );
    }

    #[tokio::test]
    async fn a_full_range_is_a_clear_error() {
        let (_dir, accounts) = accounts(IdPolicy::PerUser {
            range: 4_100_001_000..=4_100_001_000,
        })
        .await;
        accounts.get_or_create("alice").await.unwrap();
        let err = accounts.get_or_create("bob").await.unwrap_err();
        assert!(err.to_string().contains("widen --uid-range"), "{err}");
    }

    #[tokio::test]
    async fn without_root_a_second_user_needs_the_flag_that_names_the_risk() {
        let policy = |several| IdPolicy::Shared {
            uid: 1000,
            gid: 1000,
            several,
        };
        let (_dir, alone) = accounts(policy(false)).await;
        let alice = alone.get_or_create("alice").await.unwrap();
        assert_eq!(alice.uid, 1000);
        let err = alone.get_or_create("bob").await.unwrap_err();
        assert!(err.to_string().contains("--unsafe-shared-uid"), "{err}");
        assert!(alone.get_or_create("alice").await.is_ok());

        let (_dir, several) = accounts(policy(true)).await;
        several.get_or_create("alice").await.unwrap();
        assert_eq!(several.get_or_create("bob").await.unwrap().uid, 1000);
    }

    #[test]
    fn host_ids_and_subordinate_ranges_are_taken() {
        assert!(known_to_the_host(0), "root");
        assert!(!known_to_the_host(4_100_003_000));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("subuid");
        std::fs::write(&file, "alice:100000:65536\nbroken line\nbob:165536:65536\n").unwrap();
        assert_eq!(
            subordinate_ranges(file.to_str().unwrap()),
            vec![100000..=165535, 165536..=231071]
        );
    }

    #[test]
    fn uid_ranges() {
        assert_eq!(parse_uid_range("800000-899999"), Ok(800_000..=899_999));
        assert!(parse_uid_range("0-10").is_err());
        assert!(parse_uid_range("9000-8000").is_err());
        assert!(parse_uid_range("lots").is_err());
    }
}
