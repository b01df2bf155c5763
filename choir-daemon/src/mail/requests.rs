//! A window's requests to the mail and calendar servers: each answer is recorded only while
//! it is still the window's latest request of its kind, so a slow answer never shows over a
//! newer one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use choir_mail::Account;
use choir_proto::{EventBody, NewEvent, WindowId};

use super::MailAccounts;
use crate::store::EventStore;

/// Who the events the mail and calendar windows' followers record are by.
pub(super) const ACTOR: &str = "mail";

/// A window and what it asked for: the seq of its latest request of that kind.
pub(super) type Requests = Arc<Mutex<HashMap<(WindowId, Kind), u64>>>;

/// What a window may ask for, one at a time of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Kind {
    Page,
    Message,
    Range,
}

/// A window's request, answered only while it is the latest of its kind.
pub(super) struct Request {
    latest: Requests,
    key: (WindowId, Kind),
    seq: u64,
}

impl Request {
    pub(super) fn new(latest: &Requests, window_id: WindowId, kind: Kind, seq: u64) -> Self {
        latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((window_id, kind), seq);
        Self {
            latest: latest.clone(),
            key: (window_id, kind),
            seq,
        }
    }

    /// The window's latest request of `kind` as it stands (a look that asks for nothing new):
    /// its answer is recorded only if no other request comes meanwhile.
    pub(super) fn current(latest: &Requests, window_id: WindowId, kind: Kind) -> Self {
        let seq = latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(window_id, kind))
            .copied()
            .unwrap_or(0);
        Self {
            latest: latest.clone(),
            key: (window_id, kind),
            seq,
        }
    }

    pub(super) async fn record(self, store: &EventStore, body: EventBody) {
        let current = self
            .latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&self.key)
            .map_or(self.seq == 0, |latest| *latest == self.seq);
        if current {
            append(store, body).await;
        }
    }
}

pub(super) async fn append(store: &EventStore, body: EventBody) {
    if let Err(err) = store.append(vec![NewEvent::new(ACTOR, body)]).await {
        tracing::warn!(%err, "cannot record what the mail server answered");
    }
}

/// The account asked for (`""`: the first).
pub(super) fn account(accounts: &MailAccounts, asked: &str) -> Result<Account, String> {
    let asked = (!asked.is_empty()).then_some(asked);
    accounts.get(asked).map_err(|err| err.to_string())
}
