//! A subscription: catch-up from disk, then live events, with no gap and no duplicate.

use std::collections::VecDeque;
use std::sync::Arc;

use choir_proto::Event;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::task::JoinHandle;

use super::{Committed, EventStore, StoreError};

/// Events read from disk per query while catching up.
const PAGE: usize = 4096;

/// A page being read by a task of its own.
type PageRead = JoinHandle<Result<Vec<Event>, StoreError>>;

/// The stream of events from some seq on. Created by [`EventStore::subscribe`].
///
/// The live receiver exists before the first disk read, so every event is either already on
/// disk when read or arrives live afterwards; live events at or below what was delivered are
/// skipped, and any hole (a lagging receiver, a jump in seq) sends the subscription back to
/// disk.
pub struct Subscription {
    store: EventStore,
    live: broadcast::Receiver<Arc<Committed>>,
    next_seq: u64,
    buffer: VecDeque<Arc<Committed>>,
    catching_up: bool,
    /// The page after the buffered one, being read (from that seq).
    prefetched: Option<(u64, PageRead)>,
}

impl Subscription {
    pub(super) fn new(
        store: EventStore,
        live: broadcast::Receiver<Arc<Committed>>,
        from_seq: u64,
    ) -> Self {
        Self {
            store,
            live,
            next_seq: from_seq,
            buffer: VecDeque::new(),
            catching_up: true,
            prefetched: None,
        }
    }

    /// The page from `next_seq` on: the one read ahead if it starts there, else read now.
    async fn read_page(&mut self) -> Result<Vec<Event>, StoreError> {
        if let Some((from, reading)) = self.prefetched.take() {
            if from == self.next_seq {
                // A read ahead that did not finish (it panicked) is made again here, where
                // its error reaches the subscriber.
                if let Ok(page) = reading.await {
                    return page;
                }
            } else {
                reading.abort();
            }
        }
        self.store.read(self.next_seq, PAGE).await
    }

    /// The seq the next delivered event will have.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Whether events committed to the store have not been delivered yet.
    pub fn is_behind(&self) -> bool {
        self.next_seq <= self.store.head()
    }

    /// The next event; `Ok(None)` once the store has shut down and everything committed was
    /// delivered.
    pub async fn next(&mut self) -> Result<Option<Arc<Committed>>, StoreError> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                self.next_seq = event.seq + 1;
                return Ok(Some(event));
            }
            if self.catching_up {
                let page = self.read_page().await?;
                self.catching_up = page.len() == PAGE;
                if self.catching_up {
                    // The next page is read and decoded on another task while this one is
                    // delivered: SQLite building one and serde decoding the other at once.
                    let from = page.last().map_or(self.next_seq, |event| event.seq + 1);
                    let store = self.store.clone();
                    let reading = tokio::spawn(async move { store.read(from, PAGE).await });
                    self.prefetched = Some((from, reading));
                }
                self.buffer.extend(
                    page.into_iter()
                        .map(|event| Arc::new(Committed::new(event))),
                );
                continue;
            }
            match self.live.recv().await {
                Ok(event) if event.seq < self.next_seq => continue,
                Ok(event) if event.seq == self.next_seq => {
                    self.next_seq += 1;
                    return Ok(Some(event));
                }
                Ok(_) | Err(RecvError::Lagged(_)) => self.catching_up = true,
                Err(RecvError::Closed) => {
                    // Shut down: deliver whatever committed before the end.
                    let page = self.store.read(self.next_seq, PAGE).await;
                    match page {
                        Ok(page) if !page.is_empty() => self.buffer.extend(
                            page.into_iter()
                                .map(|event| Arc::new(Committed::new(event))),
                        ),
                        _ => return Ok(None),
                    }
                }
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some((_, reading)) = self.prefetched.take() {
            reading.abort();
        }
    }
}
