//! What each user asked of the model and how much they may: requests in the last minute
//! (kept in memory) and requests and tokens per day (in the hypervisor's database, by UTC
//! day, so they survive a restart and `user list` can show them).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::db::Pool;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::Row;

use choir_proto::thousands;

use super::usage::Tokens;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS model_usage (
    \"user\" TEXT NOT NULL,
    day TEXT NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (\"user\", day)
)";

/// How much each user may ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub requests_per_minute: u32,
    pub tokens_per_day: u64,
    /// Requests one user may have under way at once.
    pub concurrent: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            requests_per_minute: 30,
            tokens_per_day: 1_000_000,
            concurrent: 8,
        }
    }
}

/// One user's figures, as `user list`, `/account` and the desktop show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageReport {
    /// The UTC day they are for, `YYYY-MM-DD`.
    pub day: String,
    pub requests_today: u64,
    pub tokens_today: u64,
    pub requests_last_minute: u32,
    pub limits: Limits,
    /// When the daily figures start again (RFC 3339).
    pub resets: String,
}

/// A request refused: which limit, and when it frees up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverLimit {
    pub message: String,
    pub retry_after: Duration,
}

#[derive(Default)]
struct UserState {
    /// When their requests of the last minute started.
    recent: VecDeque<Instant>,
    under_way: u32,
    /// The day `requests` and `tokens` are for, as read from the database then counted here.
    day: String,
    requests: u64,
    tokens: u64,
}

/// Each user's model use: the per-minute and concurrency limits counted here, the day's
/// figures in the database (read at a user's first request of the day).
pub struct Ledger {
    pool: Pool,
    limits: Limits,
    users: Mutex<HashMap<String, UserState>>,
}

/// A request under way; it counts against the concurrency limit until dropped.
pub struct Admitted {
    ledger: Arc<Ledger>,
    user: String,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Some(state) = self.ledger.lock().get_mut(&self.user) {
            state.under_way = state.under_way.saturating_sub(1);
        }
    }
}

impl Ledger {
    pub async fn open(pool: Pool, limits: Limits) -> Result<Self, sqlx::Error> {
        crate::db::create(&pool, &[SCHEMA]).await?;
        Ok(Self {
            pool,
            limits,
            users: Mutex::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, UserState>> {
        self.users
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Today's figures from the database, into `user`'s state if its day is not today.
    async fn load_today(&self, user: &str, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
        let day = day_of(now);
        if self.lock().get(user).is_some_and(|state| state.day == day) {
            return Ok(());
        }
        let (requests, tokens) = self.read(user, &day).await?;
        let mut users = self.lock();
        let state = users.entry(user.to_owned()).or_default();
        if state.day != day {
            state.day = day;
            state.requests = requests;
            state.tokens = tokens;
        }
        Ok(())
    }

    async fn read(&self, user: &str, day: &str) -> Result<(u64, u64), sqlx::Error> {
        let row = sqlx::query(
            "SELECT requests, input_tokens + output_tokens AS tokens FROM model_usage \
             WHERE \"user\" = $1 AND day = $2",
        )
        .bind(user)
        .bind(day)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map_or((0, 0), |row| {
            let number = |name: &str| u64::try_from(row.get::<i64, _>(name)).unwrap_or(0);
            (number("requests"), number("tokens"))
        }))
    }

    /// Lets a request of `user` through, counting it, unless it would pass a limit.
    pub async fn admit(
        self: &Arc<Self>,
        user: &str,
    ) -> Result<Result<Admitted, OverLimit>, sqlx::Error> {
        let now = Utc::now();
        self.load_today(user, now).await?;
        let instant = Instant::now();
        let limits = self.limits;
        {
            let mut users = self.lock();
            let state = users.entry(user.to_owned()).or_default();
            while state
                .recent
                .front()
                .is_some_and(|started| instant.duration_since(*started) >= Duration::from_secs(60))
            {
                state.recent.pop_front();
            }
            if state.tokens >= limits.tokens_per_day {
                let (resets, wait) = next_midnight(now);
                return Ok(Err(OverLimit {
                    message: format!(
                        "the model gateway's limit for {user}: {} tokens a day, all used; it \
                         resets at {} UTC (in {})",
                        thousands(limits.tokens_per_day),
                        resets.format("%H:%M"),
                        human(wait)
                    ),
                    retry_after: wait,
                }));
            }
            if state.recent.len() >= limits.requests_per_minute as usize {
                let wait = state
                    .recent
                    .front()
                    .map_or(Duration::from_secs(1), |oldest| {
                        Duration::from_secs(60).saturating_sub(instant.duration_since(*oldest))
                    });
                return Ok(Err(OverLimit {
                    message: format!(
                        "the model gateway's limit for {user}: {} requests a minute; the next \
                         may go in {}",
                        limits.requests_per_minute,
                        human(wait.max(Duration::from_secs(1)))
                    ),
                    retry_after: wait.max(Duration::from_secs(1)),
                }));
            }
            if state.under_way >= limits.concurrent {
                return Ok(Err(OverLimit {
                    message: format!(
                        "the model gateway's limit for {user}: {} requests at once",
                        limits.concurrent
                    ),
                    retry_after: Duration::from_secs(1),
                }));
            }
            state.recent.push_back(instant);
            state.under_way += 1;
            state.requests += 1;
        }
        // Made first: if the count cannot be recorded, dropping it lets the request go.
        let admitted = Admitted {
            ledger: self.clone(),
            user: user.to_owned(),
        };
        sqlx::query(
            "INSERT INTO model_usage (\"user\", day, requests) VALUES ($1, $2, 1) \
             ON CONFLICT (\"user\", day) DO UPDATE SET requests = model_usage.requests + 1",
        )
        .bind(user)
        .bind(day_of(now))
        .execute(&self.pool)
        .await?;
        Ok(Ok(admitted))
    }

    /// Counts the tokens a request of `user` took.
    pub async fn record(&self, user: &str, tokens: Tokens) -> Result<(), sqlx::Error> {
        if tokens.total() == 0 {
            return Ok(());
        }
        let now = Utc::now();
        let day = day_of(now);
        if let Some(state) = self.lock().get_mut(user) {
            if state.day == day {
                state.tokens = state.tokens.saturating_add(tokens.total());
            }
        }
        sqlx::query(
            "INSERT INTO model_usage (\"user\", day, input_tokens, output_tokens) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (\"user\", day) DO UPDATE SET \
             input_tokens = model_usage.input_tokens + excluded.input_tokens, \
             output_tokens = model_usage.output_tokens + excluded.output_tokens",
        )
        .bind(user)
        .bind(day)
        .bind(i64::try_from(tokens.input).unwrap_or(i64::MAX))
        .bind(i64::try_from(tokens.output).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// `user`'s figures now.
    pub async fn report(&self, user: &str) -> Result<UsageReport, sqlx::Error> {
        let now = Utc::now();
        let day = day_of(now);
        let (requests_today, tokens_today) = self.read(user, &day).await?;
        let instant = Instant::now();
        let requests_last_minute = self.lock().get(user).map_or(0, |state| {
            state
                .recent
                .iter()
                .filter(|started| instant.duration_since(**started) < Duration::from_secs(60))
                .count()
        });
        Ok(UsageReport {
            day,
            requests_today,
            tokens_today,
            requests_last_minute: u32::try_from(requests_last_minute).unwrap_or(u32::MAX),
            limits: self.limits,
            resets: next_midnight(now).0.to_rfc3339(),
        })
    }

    /// Every user's figures for today, by name.
    pub async fn today(&self) -> Result<HashMap<String, (u64, u64)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT \"user\", requests, input_tokens + output_tokens AS tokens FROM model_usage \
             WHERE day = $1",
        )
        .bind(day_of(Utc::now()))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let number = |name: &str| u64::try_from(row.get::<i64, _>(name)).unwrap_or(0);
                (row.get("user"), (number("requests"), number("tokens")))
            })
            .collect())
    }
}

/// Today's figures of every user as `user list` and `sandbox list` read them, without a
/// gateway running (the table may not exist yet).
pub async fn today_of(pool: &Pool) -> HashMap<String, (u64, u64)> {
    let ledger = Ledger {
        pool: pool.clone(),
        limits: Limits::default(),
        users: Mutex::default(),
    };
    ledger.today().await.unwrap_or_default()
}

fn day_of(now: DateTime<Utc>) -> String {
    now.format("%Y-%m-%d").to_string()
}

/// The next 00:00 UTC, and how long until then.
fn next_midnight(now: DateTime<Utc>) -> (DateTime<Utc>, Duration) {
    let tomorrow = now.date_naive().succ_opt().unwrap_or(now.date_naive());
    let midnight = tomorrow.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let wait = (midnight - now).to_std().unwrap_or_default();
    (midnight, wait)
}

/// `5 h 12 min`, `3 min`, `12 s`.
fn human(wait: Duration) -> String {
    let secs = wait.as_secs();
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min", secs.div_ceil(60)),
        _ => format!("{} h {} min", secs / 3600, (secs % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn ledger(limits: Limits) -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().unwrap();
        let pool = crate::db::open(&dir.path().join("db")).await.unwrap();
        (dir, Ledger::open(pool, limits).await.unwrap())
    }

    async fn shared(limits: Limits) -> (tempfile::TempDir, Arc<Ledger>) {
        let (dir, ledger) = ledger(limits).await;
        (dir, Arc::new(ledger))
    }

    #[tokio::test]
    async fn requests_per_minute_and_at_once_are_refused_past_their_limits() {
        let (_dir, ledger) = shared(Limits {
            requests_per_minute: 3,
            tokens_per_day: 1000,
            concurrent: 2,
        })
        .await;
        let first = ledger.admit("alice").await.unwrap().unwrap();
        let second = ledger.admit("alice").await.unwrap().unwrap();
        let at_once = ledger.admit("alice").await.unwrap().err().unwrap();
        assert!(
            at_once.message.contains("2 requests at once"),
            "{}",
            at_once.message
        );
        drop((first, second));
        let _third = ledger.admit("alice").await.unwrap().unwrap();
        let per_minute = ledger.admit("alice").await.unwrap().err().unwrap();
        assert!(
            per_minute.message.contains("3 requests a minute"),
            "{}",
            per_minute.message
        );
        assert!(per_minute.retry_after > Duration::from_secs(50));
        // Another user is not held back by alice.
        assert!(ledger.admit("bob").await.unwrap().is_ok());
        let report = ledger.report("alice").await.unwrap();
        assert_eq!(report.requests_today, 3);
        assert_eq!(report.requests_last_minute, 3);
    }

    #[tokio::test]
    async fn tokens_per_day_are_counted_kept_and_refused_when_used_up() {
        let (dir, ledger) = shared(Limits {
            requests_per_minute: 100,
            tokens_per_day: 1000,
            concurrent: 8,
        })
        .await;
        drop(ledger.admit("alice").await.unwrap().unwrap());
        ledger
            .record(
                "alice",
                Tokens {
                    input: 900,
                    output: 99,
                },
            )
            .await
            .unwrap();
        drop(ledger.admit("alice").await.unwrap().unwrap());
        ledger
            .record(
                "alice",
                Tokens {
                    input: 1,
                    output: 1,
                },
            )
            .await
            .unwrap();
        let refused = ledger.admit("alice").await.unwrap().err().unwrap();
        assert!(
            refused.message.contains("1,000 tokens a day"),
            "{}",
            refused.message
        );
        assert!(
            refused.message.contains("resets at 00:00 UTC"),
            "{}",
            refused.message
        );
        // A new ledger on the same database (a restarted hypervisor) knows it too.
        let pool = crate::db::open(&dir.path().join("db")).await.unwrap();
        let again = Arc::new(Ledger::open(pool.clone(), ledger.limits).await.unwrap());
        assert!(again.admit("alice").await.unwrap().is_err());
        assert_eq!(today_of(&pool).await["alice"], (2, 1001));
        assert_eq!(again.report("alice").await.unwrap().tokens_today, 1001);
    }

    #[test]
    fn numbers_and_waits_read_well() {
        assert_eq!(human(Duration::from_secs(12)), "12 s");
        assert_eq!(human(Duration::from_secs(61)), "2 min");
        assert_eq!(human(Duration::from_secs(5 * 3600 + 12 * 60)), "5 h 12 min");
        let (midnight, wait) = next_midnight(
            DateTime::parse_from_rfc3339("2026-12-04T23:30:00Z")
                .unwrap()
                .with_timezone(&Utc),
        );
        assert_eq!(midnight.to_rfc3339(), "2026-12-05T00:00:00+00:00");
        assert_eq!(wait, Duration::from_secs(1800));
    }
}
