//! The projection actor: the whole world, kept current from the store's live stream, handed
//! out as snapshots to new clients and to `/api/state`.

use choir_proto::World;
use tokio::sync::{mpsc, oneshot};

use crate::store::{EventStore, StoreError};

/// Events read per query while loading.
const LOAD_PAGE: usize = 4096;

/// Folds the whole log into a world.
pub async fn load_world(store: &EventStore) -> Result<World, StoreError> {
    let mut world = World::default();
    loop {
        let page = store.read(world.head + 1, LOAD_PAGE).await?;
        for event in &page {
            world.apply(event);
        }
        if page.len() < LOAD_PAGE {
            return Ok(world);
        }
    }
}

/// A handle to the projection actor; cheap to clone.
#[derive(Clone)]
pub struct ProjectionHandle {
    store: EventStore,
    requests: mpsc::Sender<(u64, oneshot::Sender<World>)>,
}

impl ProjectionHandle {
    /// Starts the projection from `world` (the fold of the log up to `world.head`).
    pub fn spawn(store: EventStore, world: World) -> Self {
        let (requests, rx) = mpsc::channel(64);
        tokio::spawn(run(store.clone(), world, rx));
        Self { store, requests }
    }

    /// The world including at least every event committed before this call.
    pub async fn snapshot(&self) -> Option<World> {
        let (reply, done) = oneshot::channel();
        self.requests.send((self.store.head(), reply)).await.ok()?;
        done.await.ok()
    }
}

async fn run(
    store: EventStore,
    mut world: World,
    mut requests: mpsc::Receiver<(u64, oneshot::Sender<World>)>,
) {
    let mut events = store.subscribe(world.head + 1);
    loop {
        tokio::select! {
            next = events.next() => match next {
                Ok(Some(event)) => world.apply(&event),
                Ok(None) => break,
                Err(err) => {
                    tracing::error!(%err, "projection cannot read the log");
                    break;
                }
            },
            request = requests.recv() => {
                let Some((min_head, reply)) = request else { break };
                while world.head < min_head {
                    match events.next().await {
                        Ok(Some(event)) => world.apply(&event),
                        Ok(None) | Err(_) => break,
                    }
                }
                let _ = reply.send(world.clone());
            }
        }
    }
}
