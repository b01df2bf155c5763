//! How much of what a daemon sends a client may hold: a byte budget, shared by every
//! connection of one user where many run in one process (the hypervisor's SSH desktops and
//! browser tabs), so that a sandbox cannot push its host's memory past it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A byte budget; clones share it.
#[derive(Debug, Clone)]
pub struct Budget {
    used: Arc<AtomicUsize>,
    limit: usize,
}

/// Past the budget: what was asked for, what was held, the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{asked} bytes more would pass the limit of {limit} bytes ({held} held)")]
pub struct Exceeded {
    pub asked: usize,
    pub held: usize,
    pub limit: usize,
}

impl Budget {
    pub fn new(limit: usize) -> Self {
        Self {
            used: Arc::default(),
            limit,
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes held now, by every holder together.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Holds `bytes` until the returned guard is dropped, unless that passes the limit.
    pub fn hold(&self, bytes: usize) -> Result<Held, Exceeded> {
        self.take(bytes)?;
        Ok(Held {
            budget: self.clone(),
            bytes,
        })
    }

    fn take(&self, bytes: usize) -> Result<(), Exceeded> {
        let mut held = self.used.load(Ordering::Relaxed);
        loop {
            let total = held.saturating_add(bytes);
            if total > self.limit {
                return Err(Exceeded {
                    asked: bytes,
                    held,
                    limit: self.limit,
                });
            }
            match self
                .used
                .compare_exchange_weak(held, total, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(now) => held = now,
            }
        }
    }

    fn give_back(&self, bytes: usize) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// Bytes held of a [`Budget`]; given back when dropped.
#[derive(Debug)]
pub struct Held {
    budget: Budget,
    bytes: usize,
}

impl Held {
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Holds `bytes` instead of what it held; past the limit it keeps what it had.
    pub fn resize(&mut self, bytes: usize) -> Result<(), Exceeded> {
        if bytes > self.bytes {
            self.budget.take(bytes - self.bytes)?;
        } else {
            self.budget.give_back(self.bytes - bytes);
        }
        self.bytes = bytes;
        Ok(())
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

/// One budget per user, each of `limit` bytes.
#[derive(Debug, Clone)]
pub struct Budgets {
    limit: usize,
    users: Arc<Mutex<HashMap<String, Budget>>>,
}

impl Budgets {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            users: Arc::default(),
        }
    }

    /// `user`'s budget (made on first use; a budget nobody holds anything of is forgotten).
    pub fn of(&self, user: &str) -> Budget {
        let mut users = self
            .users
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        users.retain(|_, budget| Arc::strong_count(&budget.used) > 1);
        users
            .entry(user.to_owned())
            .or_insert_with(|| Budget::new(self.limit))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_share_the_limit_and_give_back_when_dropped() {
        let budget = Budget::new(100);
        let a = budget.hold(60).unwrap();
        let mut b = budget.hold(30).unwrap();
        assert_eq!(budget.used(), 90);
        let refused = budget.hold(11).unwrap_err();
        assert_eq!((refused.asked, refused.held, refused.limit), (11, 90, 100));
        assert!(b.resize(41).is_err(), "past the limit");
        assert_eq!(b.bytes(), 30, "kept what it had");
        b.resize(40).unwrap();
        assert_eq!(budget.used(), 100);
        b.resize(5).unwrap();
        assert_eq!(budget.used(), 65);
        drop(a);
        drop(b);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn each_user_has_a_budget_of_their_own() {
        let budgets = Budgets::new(10);
        let alice = budgets.of("alice");
        let _held = alice.hold(10).unwrap();
        assert!(budgets.of("alice").hold(1).is_err(), "the same budget");
        assert!(budgets.of("bob").hold(10).is_ok(), "another one");
    }
}
