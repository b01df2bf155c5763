//! Waiting for a condition, never longer than a deadline.

use std::fmt::Display;
use std::time::Duration;

/// How often a condition is looked at.
const POLL: Duration = Duration::from_millis(20);

/// Calls `check` until it returns `Ok`, and returns that; after `timeout` panics saying it
/// never saw `what`, with what the last `Err` showed.
pub async fn wait_until<T, E: Display>(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> Result<T, E>,
) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match check() {
            Ok(value) => return value,
            Err(seen) if tokio::time::Instant::now() >= deadline => {
                panic!("never saw {what} in {timeout:?}; last seen:\n{seen}")
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn it_returns_once_the_condition_holds() {
        let mut calls = 0;
        let value = wait_until(Duration::from_secs(5), "three calls", || {
            calls += 1;
            if calls == 3 {
                Ok(calls)
            } else {
                Err(calls)
            }
        })
        .await;
        assert_eq!(value, 3);
    }
}
