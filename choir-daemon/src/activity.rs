//! What the daemon is doing right now, for whoever decides when it may stop: the clients
//! connected, the work under way (agent turns, tool calls), and how long it has been idle.
//!
//! Each piece of activity holds an [`ActivityGuard`] for as long as it lasts; the counts can
//! therefore never drift, whatever path a session or turn ends by.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

pub use choir_proto::ActivityReport;

/// Shared activity counters; cheap to clone.
#[derive(Clone)]
pub struct Activity(Arc<Inner>);

struct Inner {
    epoch: Instant,
    clients: AtomicUsize,
    work: AtomicUsize,
    /// Milliseconds after `epoch` of the last change or request.
    last: AtomicU64,
}

#[derive(Clone, Copy)]
enum Kind {
    Client,
    Work,
}

/// Counts one client or one piece of work until dropped.
pub struct ActivityGuard {
    activity: Activity,
    kind: Kind,
}

impl Default for Activity {
    fn default() -> Self {
        Self(Arc::new(Inner {
            epoch: Instant::now(),
            clients: AtomicUsize::new(0),
            work: AtomicUsize::new(0),
            last: AtomicU64::new(0),
        }))
    }
}

impl Activity {
    /// A client connected; it counts until the guard is dropped.
    pub fn client(&self) -> ActivityGuard {
        self.hold(Kind::Client)
    }

    /// Work started (an agent turn, a tool call); it counts until the guard is dropped.
    pub fn work(&self) -> ActivityGuard {
        self.hold(Kind::Work)
    }

    /// Something happened that resets the idle clock (an API request).
    pub fn touch(&self) {
        let now = u64::try_from(self.0.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.0.last.fetch_max(now, Ordering::Relaxed);
    }

    pub fn report(&self) -> ActivityReport {
        let clients = self.0.clients.load(Ordering::Acquire);
        let work = self.0.work.load(Ordering::Acquire);
        let idle_ms = (clients == 0 && work == 0).then(|| {
            let now = u64::try_from(self.0.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
            now.saturating_sub(self.0.last.load(Ordering::Relaxed))
        });
        ActivityReport {
            clients,
            work,
            idle_ms,
        }
    }

    fn counter(&self, kind: Kind) -> &AtomicUsize {
        match kind {
            Kind::Client => &self.0.clients,
            Kind::Work => &self.0.work,
        }
    }

    fn hold(&self, kind: Kind) -> ActivityGuard {
        self.counter(kind).fetch_add(1, Ordering::AcqRel);
        self.touch();
        ActivityGuard {
            activity: self.clone(),
            kind,
        }
    }
}

impl Drop for ActivityGuard {
    fn drop(&mut self) {
        self.activity.touch();
        self.activity
            .counter(self.kind)
            .fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_only_when_nothing_is_held_and_counts_follow_the_guards() {
        let activity = Activity::default();
        assert_eq!(activity.report().clients, 0);
        assert!(activity.report().idle_ms.is_some());

        let client = activity.client();
        let work = activity.work();
        let second = activity.client();
        assert_eq!(
            activity.report(),
            ActivityReport {
                clients: 2,
                work: 1,
                idle_ms: None
            }
        );
        drop(client);
        drop(work);
        assert_eq!(activity.report().idle_ms, None, "one client is still there");
        drop(second);
        let report = activity.report();
        assert_eq!((report.clients, report.work), (0, 0));
        assert!(
            report.idle_ms.is_some_and(|ms| ms < 1000),
            "the idle clock restarts when the last one leaves: {report:?}"
        );
    }

    #[test]
    fn the_idle_clock_runs_from_the_last_touch() {
        let activity = Activity::default();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let before = activity.report().idle_ms.unwrap_or(0);
        assert!(before >= 30, "{before}");
        activity.touch();
        let after = activity.report().idle_ms.unwrap_or(u64::MAX);
        assert!(after < before, "{after} < {before}");
    }
}
