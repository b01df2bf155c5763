//! Time travel: the world as it was right after any event. It is the nearest earlier past
//! snapshot (one is kept every [`SNAPSHOT_EVERY`] events, see `snapshot.rs`) plus the events
//! after it, folded with the reducer every client uses, so a past moment costs at most that
//! many events whatever the history's length. Worlds met along the last folds (every tenth
//! of that, and each moment built) stay in memory, so stepping forward or back through a
//! stretch of the log folds a few events only.
//!
//! Past snapshots missing from the file (a log older than this feature, a snapshot file
//! rebuilt) are filled in by the folds that need them.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use choir_proto::{Doc, Moment, Seek, World, WELCOME_MESSAGES};

use super::doc_texts;
use super::snapshot::Snapshots;
use super::world::SNAPSHOT_EVERY;
use crate::store::{EventStore, StoreError};

/// Events read per query while folding.
const PAGE: usize = 4096;
/// Worlds kept in memory (those nearest the last moment asked for).
const CHECKPOINTS: usize = 24;

/// A handle to the past; cheap to clone.
#[derive(Clone)]
pub struct Past {
    store: EventStore,
    snapshots: Snapshots,
    /// Events between two past snapshots the folds store.
    every: u64,
    /// Worlds met along the last folds, by head (documents without text or edits).
    recent: Arc<Mutex<BTreeMap<u64, World>>>,
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
            at: Some(at),
        })
    }

    /// What a welcome right after event `seq` would have carried (`seq` at most the head).
    pub async fn world_at(&self, seq: u64) -> Result<World, StoreError> {
        let seq = seq.min(self.store.head());
        let recent = self.recent.lock().ok().and_then(|recent| {
            recent
                .range(..=seq)
                .next_back()
                .map(|(_, world)| world.clone())
        });
        let stored = self.snapshots.past(&self.store, seq).await;
        // Past snapshots after the latest stored one are missing, and are stored on the way.
        let mut kept = stored.as_ref().map_or(0, |world| world.head);
        let mut world = match (recent, stored) {
            (Some(recent), Some(stored)) if stored.head > recent.head => stored,
            (Some(recent), _) => recent,
            (None, Some(stored)) => stored,
            (None, None) => World::default(),
        };
        let step = (self.every / 10).max(1);
        while world.head < seq {
            let want = usize::try_from(seq - world.head).unwrap_or(PAGE).min(PAGE);
            let page = self.store.read(world.head + 1, want).await?;
            let Some(last) = page.last() else {
                break;
            };
            let last_seq = last.seq;
            for event in &page {
                world.apply(event);
                // Any multiple of `every` after the latest stored snapshot is missing.
                if event.seq > kept && event.seq % self.every == 0 {
                    self.keep(&world, event.ts).await;
                    kept = event.seq;
                }
                if event.seq % step == 0 && event.seq < seq {
                    self.remember(world.summary(WELCOME_MESSAGES), seq);
                }
            }
            world = world.summary(WELCOME_MESSAGES);
            if last_seq >= seq {
                break;
            }
        }
        let welcome = world.welcome();
        self.remember(world, seq);
        Ok(welcome)
    }

    /// The text `meta` (a document of the current world) had at `version`, which it had
    /// right after event `seq`: from its checkpoint if that is not newer, else from its
    /// events up to `seq`, without holding up the world actor.
    pub async fn doc_text(
        &self,
        meta: &Doc,
        version: u64,
        seq: u64,
    ) -> Result<Option<String>, StoreError> {
        if version > meta.version {
            return Ok(None);
        }
        let seq = seq.min(self.store.head());
        doc_texts::text_at(&self.store, &self.snapshots, meta, seq, version).await
    }

    /// Keeps `world` in memory, and of all kept those nearest `near`.
    fn remember(&self, world: World, near: u64) {
        let Ok(mut recent) = self.recent.lock() else {
            return;
        };
        recent.insert(world.head, world);
        while recent.len() > CHECKPOINTS {
            let farthest = recent
                .keys()
                .copied()
                .max_by_key(|head| head.abs_diff(near))
                .unwrap_or_default();
            recent.remove(&farthest);
        }
    }

    /// Stores `world` as a past snapshot (a cache: a failure costs a longer fold later).
    async fn keep(&self, world: &World, head_ts: i64) {
        if let Err(err) = self.snapshots.save_past(world, head_ts).await {
            tracing::warn!(%err, head = world.head, "cannot store a past snapshot");
        }
    }
}
