//! Time travel: the world as it was right after any event. It is the nearest earlier past
//! snapshot (one is kept every [`SNAPSHOT_EVERY`] events, see `snapshot.rs`) plus the events
//! after it, folded with the reducer every client uses, so a past moment costs at most that
//! many events whatever the history's length. The last world built is kept, so stepping
//! forward costs the steps only.
//!
//! Past snapshots missing from the file (a log older than this feature, a snapshot file
//! rebuilt) are filled in by the folds that need them.

use std::sync::{Arc, Mutex};

use choir_proto::{Moment, Seek, World, WELCOME_MESSAGES};

use super::snapshot::Snapshots;
use super::world::SNAPSHOT_EVERY;
use crate::store::{EventStore, StoreError};

/// Events read per query while folding.
const PAGE: usize = 4096;

/// A handle to the past; cheap to clone.
#[derive(Clone)]
pub struct Past {
    store: EventStore,
    snapshots: Snapshots,
    /// Events between two past snapshots the folds store.
    every: u64,
    /// The last world built (documents without their text).
    recent: Arc<Mutex<Option<World>>>,
}

impl Past {
    pub fn new(store: EventStore, snapshots: Snapshots) -> Self {
        Self::with_interval(store, snapshots, SNAPSHOT_EVERY)
    }

    /// With past snapshots stored by its folds every `every` events (tests use few).
    pub fn with_interval(store: EventStore, snapshots: Snapshots, every: u64) -> Self {
        Self {
            store,
            snapshots,
            every: every.max(1),
            recent: Arc::default(),
        }
    }

    /// The seq a seek lands on, within the log.
    pub async fn resolve(&self, at: Seek) -> Result<u64, StoreError> {
        let head = self.store.head();
        Ok(match at {
            Seek::Seq { seq } => seq.min(head),
            Seek::Time { ts } => self.store.seq_at_time(ts).await?,
            Seek::Mark { from, forward } => self
                .store
                .mark(from.min(head), forward)
                .await?
                .unwrap_or(if forward { head } else { 0 }),
        })
    }

    /// The moment a seek lands on, with what a welcome at that seq would carry.
    pub async fn moment(&self, at: Seek) -> Result<Moment, StoreError> {
        let head = self.store.head();
        let seq = self.resolve(at).await?;
        let world = self.world_at(seq).await?;
        Ok(Moment {
            seq,
            ts: self.store.ts_of(seq).await?,
            head,
            world: Box::new(world),
        })
    }

    /// What a welcome right after event `seq` would have carried (`seq` at most the head).
    pub async fn world_at(&self, seq: u64) -> Result<World, StoreError> {
        let seq = seq.min(self.store.head());
        let recent = self
            .recent
            .lock()
            .map(|mut recent| recent.take())
            .unwrap_or(None)
            .filter(|world| world.head <= seq);
        let stored = self.snapshots.past(&self.store, seq).await;
        // Past snapshots more than `every` events after the latest stored one are missing,
        // and are stored on the way.
        let mut kept = stored.as_ref().map_or(0, |world| world.head);
        let mut world = match (recent, stored) {
            (Some(recent), Some(stored)) if stored.head > recent.head => stored,
            (Some(recent), _) => recent,
            (None, Some(stored)) => stored,
            (None, None) => World::default(),
        };
        while world.head < seq {
            let want = usize::try_from(seq - world.head).unwrap_or(PAGE).min(PAGE);
            let page = self.store.read(world.head + 1, want).await?;
            let Some(last) = page.last() else {
                break;
            };
            let last_seq = last.seq;
            for event in &page {
                world.apply(event);
                if event.seq >= kept + self.every && event.seq % self.every == 0 {
                    self.keep(&world, event.ts).await;
                    kept = event.seq;
                }
            }
            // A welcome shows no more of a thread than this.
            world.trim_chats(WELCOME_MESSAGES);
            if last_seq >= seq {
                break;
            }
        }
        let welcome = world.welcome();
        for doc in world.docs.values_mut() {
            doc.unload();
        }
        if let Ok(mut recent) = self.recent.lock() {
            *recent = Some(world);
        }
        Ok(welcome)
    }

    /// Stores `world` as a past snapshot (a cache: a failure costs a longer fold later).
    async fn keep(&self, world: &World, head_ts: i64) {
        let mut stored = world.clone();
        for doc in stored.docs.values_mut() {
            doc.unload();
        }
        if let Err(err) = self.snapshots.save_past(&stored, head_ts).await {
            tracing::warn!(%err, head = world.head, "cannot store a past snapshot");
        }
    }
}
