//! The command actor: validates every client command against its own copy of the world with
//! `choir_proto::decide` and appends the resulting events. Commands are handled one at a time,
//! and before each one the actor's world catches up with everything committed (including what
//! the agent appended), so each decision sees every earlier event. It is the only writer of
//! `window.*` and `chat.user_message` events. (Long-running work, such as an agent turn, will run in tasks of
//! its own and never hold this actor.)

use choir_proto::{decide, Command, NewEvent, World};
use tokio::sync::{mpsc, oneshot};

use super::CommandError;
use crate::store::EventStore;

/// Commands queued per actor before senders wait.
const INBOX: usize = 256;

enum Msg {
    Execute(Execute),
    /// Runs a read-only look at the world, caught up like a decision would be.
    Query(Box<dyn FnOnce(&World) + Send>),
}

struct Execute {
    command: Command,
    actor: String,
    correlation: Option<String>,
    reply: oneshot::Sender<Result<Vec<u64>, CommandError>>,
}

/// A handle to the command actor; cheap to clone.
#[derive(Clone)]
pub struct CommandHandle {
    inbox: mpsc::Sender<Msg>,
}

impl CommandHandle {
    /// Starts the actor with the world as of the store's head.
    pub fn spawn(store: EventStore, world: World) -> Self {
        let (inbox, rx) = mpsc::channel(INBOX);
        tokio::spawn(run(store, world, rx));
        Self { inbox }
    }

    /// Validates and applies `command`; returns the seqs of the committed events.
    pub async fn execute(
        &self,
        command: Command,
        actor: String,
        correlation: Option<String>,
    ) -> Result<Vec<u64>, CommandError> {
        let (reply, done) = oneshot::channel();
        self.inbox
            .send(Msg::Execute(Execute {
                command,
                actor,
                correlation,
                reply,
            }))
            .await
            .map_err(|_| CommandError::Unavailable)?;
        done.await.map_err(|_| CommandError::Unavailable)?
    }

    /// Looks at the world as the next command will see it (every committed event applied).
    /// `look` runs inside the actor, so it should be quick: copy out what you need.
    pub async fn query<T: Send + 'static>(
        &self,
        look: impl FnOnce(&World) -> T + Send + 'static,
    ) -> Result<T, CommandError> {
        let (reply, done) = oneshot::channel();
        let query = Box::new(move |world: &World| {
            let _ = reply.send(look(world));
        });
        self.inbox
            .send(Msg::Query(query))
            .await
            .map_err(|_| CommandError::Unavailable)?;
        done.await.map_err(|_| CommandError::Unavailable)
    }
}

async fn run(store: EventStore, mut world: World, mut inbox: mpsc::Receiver<Msg>) {
    // Other actors (the agent) append too: their events reach this world through the
    // subscription before each decision.
    let mut events = store.subscribe(world.head + 1);
    while let Some(msg) = inbox.recv().await {
        let target = store.head();
        while world.head < target {
            match events.next().await {
                Ok(Some(event)) if event.seq > world.head => world.apply(&event),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        match msg {
            Msg::Execute(msg) => {
                let result = handle(&store, &mut world, &msg).await;
                let _ = msg.reply.send(result);
            }
            Msg::Query(look) => look(&world),
        }
    }
}

async fn handle(
    store: &EventStore,
    world: &mut World,
    msg: &Execute,
) -> Result<Vec<u64>, CommandError> {
    let bodies = decide(world, &msg.command)?;
    let events = bodies
        .into_iter()
        .map(|body| NewEvent {
            actor: msg.actor.clone(),
            correlation: msg.correlation.clone(),
            body,
        })
        .collect();
    let committed = store.append(events).await?;
    for event in &committed {
        world.apply(event);
    }
    Ok(committed.iter().map(|event| event.seq).collect())
}
