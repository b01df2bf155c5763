//! The world actor: the daemon's one projection of the log. It follows every committed event,
//! decides client commands against what it holds (`choir_proto::decide`), and answers
//! everyone who needs the world: welcomes and `/api/state`, document tools and
//! document files (a document with its text), the agent's commands.
//!
//! What it holds stays bounded whatever the history: each thread's latest messages
//! ([`KEEP_MESSAGES`]; older ones are paged from the log), and the text of the documents in
//! use ([`MAX_LOADED_DOCS`] besides those shown in windows); other texts are checkpointed
//! to the snapshot file and read back on demand. Every [`SNAPSHOT_EVERY`] events (in the
//! background), and when the daemon stops, it stores itself there, so that start-up replays
//! only the tail.

use std::collections::BTreeMap;

use choir_proto::{
    decide, Command, Doc, DocEdit, DocId, EventBody, NewEvent, World, MAX_SHELL_INPUT,
    WELCOME_MESSAGES,
};
use tokio::sync::{mpsc, oneshot};

use super::doc_texts;
use super::snapshot::{Checkpoint, Snapshots};
use super::CommandError;
use crate::shell::{Inputs, Shells};
use crate::store::{EventStore, Follow, Step, StoreError};
use tokio_util::sync::CancellationToken;

/// Messages of each thread held in memory.
pub const KEEP_MESSAGES: usize = 200;
/// Messages a thread may hold beyond [`KEEP_MESSAGES`] before it is trimmed.
const TRIM_STEP: usize = 64;
/// Document texts held besides those shown in windows.
pub const MAX_LOADED_DOCS: usize = 16;
/// Events between two snapshots.
pub const SNAPSHOT_EVERY: u64 = 10_000;
/// Commands queued before senders wait.
const INBOX: usize = 256;
/// Events read per query while replaying.
const LOAD_PAGE: usize = 4096;
/// Most commands committed in one append.
const MAX_BATCH: usize = 64;

type Look = Box<dyn FnOnce(&World) + Send>;

enum Msg {
    Execute(Execute),
    /// A read-only look at the world, caught up like a decision would be.
    Query(Look),
    Welcome(oneshot::Sender<World>),
    Doc {
        doc_id: DocId,
        reply: oneshot::Sender<Result<Option<Doc>, StoreError>>,
    },
    DocAt {
        doc_id: DocId,
        version: u64,
        reply: oneshot::Sender<Result<Option<String>, StoreError>>,
    },
    /// Store the snapshot, close the file and stop (the daemon is stopping).
    Close(oneshot::Sender<()>),
}

struct Execute {
    command: Command,
    actor: String,
    correlation: Option<String>,
    reply: oneshot::Sender<Result<Vec<u64>, CommandError>>,
}

/// A handle to the world actor; cheap to clone.
#[derive(Clone)]
pub struct WorldHandle {
    inbox: mpsc::Sender<Msg>,
    /// Typing goes straight to a running shell (see [`Inputs`]); the actor hears of it only
    /// when the window has none, to say why.
    shell_inputs: Inputs,
}

/// The world at start-up and how it was made.
pub struct Loaded {
    pub world: World,
    /// Events replayed from the log (the tail after the snapshot, or the whole log).
    pub replayed: u64,
}

/// Builds the world at start-up: the snapshot plus the log's tail, or the whole log when
/// there is no usable snapshot (saying why).
pub async fn load_world(store: &EventStore, snapshots: &Snapshots) -> Result<Loaded, StoreError> {
    let mut world = match snapshots.load(store).await {
        Ok(world) => {
            tracing::info!(
                head = world.head,
                "snapshot loaded; replaying the log after it"
            );
            world
        }
        Err(reason) => {
            if store.head() > 0 {
                tracing::warn!(%reason, "no usable snapshot: rebuilding the world from the whole log");
            }
            World::default()
        }
    };
    let from_scratch = world.head == 0;
    if from_scratch {
        // Checkpoints and past worlds kept beside a snapshot that was not trusted are not
        // trusted either (a snapshot of another log would lend its texts to documents of
        // this one).
        snapshots.forget_all().await;
    }
    let start = world.head;
    let mut pasts = Vec::new();
    loop {
        let page = store.read(world.head + 1, LOAD_PAGE).await?;
        for event in &page {
            world.apply(event);
            // Rebuilding from the whole log: the past snapshots time travel starts from,
            // stored once the daemon serves.
            if from_scratch && event.seq % SNAPSHOT_EVERY == 0 {
                let shown = shown_docs(&world);
                let texts = checkpoints(&world, |doc| shown.contains(&doc.id));
                pasts.push((world.summary(WELCOME_MESSAGES), event.ts, texts));
            }
        }
        world.trim_chats(KEEP_MESSAGES);
        if page.len() < LOAD_PAGE {
            break;
        }
    }
    if from_scratch {
        // Every text was built along the way: store them, and keep only those in use.
        let checkpoints = checkpoints(&world, |_| true);
        let head_ts = head_ts(store, world.head).await?;
        if let Err(err) = snapshots
            .save(&on_disk(&world), head_ts, &checkpoints)
            .await
        {
            tracing::warn!(%err, "cannot store the rebuilt snapshot");
        }
    }
    if !pasts.is_empty() {
        let snapshots = snapshots.clone();
        tokio::spawn(async move {
            for (past, head_ts, texts) in pasts {
                let saved = match snapshots.save_past(&past, head_ts).await {
                    Ok(()) => snapshots.save_past_checkpoints(&texts).await,
                    Err(err) => Err(err),
                };
                if let Err(err) = saved {
                    tracing::warn!(%err, "cannot store a past snapshot");
                    return;
                }
            }
        });
    }
    let shown = shown_docs(&world);
    for doc in world.docs.values_mut() {
        if !shown.contains(&doc.id) {
            doc.unload();
        }
    }
    Ok(Loaded {
        replayed: world.head - start,
        world,
    })
}

impl WorldHandle {
    /// Starts the actor with `world` (the log folded up to `world.head`); the shell commands
    /// it accepts go to `shells`.
    pub fn spawn(store: EventStore, snapshots: Snapshots, world: World, shells: Shells) -> Self {
        let (inbox, rx) = mpsc::channel(INBOX);
        let shell_inputs = shells.inputs().clone();
        // Other actors (the agent, tools) append too: their events reach this world through
        // the subscription, as they commit and before each decision.
        let events = store.subscribe(world.head + 1);
        // It stops when closed (saving its snapshot first) or once no handle is left, not at
        // the daemon's shutdown: the daemon closes it last.
        let follow = Follow::new("world", events, CancellationToken::new())
            .with_messages(rx)
            .stop_without_messages();
        let actor = Actor {
            follow,
            store,
            snapshots,
            since_snapshot: 0,
            used: BTreeMap::new(),
            checkpointed: BTreeMap::new(),
            saving: None,
            tick: 0,
            world,
            shells,
            committing: Vec::new(),
        };
        tokio::spawn(actor.run());
        Self {
            inbox,
            shell_inputs,
        }
    }

    async fn ask<T>(&self, msg: impl FnOnce(oneshot::Sender<T>) -> Msg) -> Result<T, CommandError> {
        let (reply, answer) = oneshot::channel();
        self.inbox
            .send(msg(reply))
            .await
            .map_err(|_| CommandError::Unavailable)?;
        answer.await.map_err(|_| CommandError::Unavailable)
    }

    /// Validates and applies `command`; returns the seqs of the committed events.
    pub async fn execute(
        &self,
        command: Command,
        actor: String,
        correlation: Option<String>,
    ) -> Result<Vec<u64>, CommandError> {
        let command = match command {
            // What `decide` would say yes to: input of an allowed length for a running shell.
            Command::ShellInput { window_id, data } if data.len() <= MAX_SHELL_INPUT => {
                match self.shell_inputs.send(window_id, data) {
                    Ok(()) => return Ok(Vec::new()),
                    Err(data) => Command::ShellInput { window_id, data },
                }
            }
            command => command,
        };
        self.ask(|reply| {
            Msg::Execute(Execute {
                command,
                actor,
                correlation,
                reply,
            })
        })
        .await?
    }

    /// Looks at the world as the next command will see it (every committed event applied).
    /// `look` runs inside the actor, so it should be quick: copy out what you need.
    pub async fn query<T: Send + 'static>(
        &self,
        look: impl FnOnce(&World) -> T + Send + 'static,
    ) -> Result<T, CommandError> {
        let (reply, done) = oneshot::channel();
        let query: Look = Box::new(move |world: &World| {
            let _ = reply.send(look(world));
        });
        self.inbox
            .send(Msg::Query(query))
            .await
            .map_err(|_| CommandError::Unavailable)?;
        done.await.map_err(|_| CommandError::Unavailable)
    }

    /// What a new client is sent ([`World::welcome`]), including at least every event
    /// committed before this call.
    pub async fn welcome(&self) -> Option<World> {
        self.ask(Msg::Welcome).await.ok()
    }

    /// A document with its text (read back from disk if it is not held), at least as new as
    /// every event committed before this call; `None` if there is no such document.
    pub async fn doc(&self, doc_id: DocId) -> Result<Option<Doc>, CommandError> {
        Ok(self.ask(|reply| Msg::Doc { doc_id, reply }).await??)
    }

    /// A document's text as it was at `version`.
    pub async fn doc_at(
        &self,
        doc_id: DocId,
        version: u64,
    ) -> Result<Option<String>, CommandError> {
        Ok(self
            .ask(|reply| Msg::DocAt {
                doc_id,
                version,
                reply,
            })
            .await??)
    }

    /// Stores the snapshot (and the texts held), closes the snapshot file and stops; later
    /// calls fail with [`CommandError::Unavailable`].
    pub async fn close(&self) {
        let _ = self.ask(Msg::Close).await;
    }
}

struct Actor {
    store: EventStore,
    /// The log as it commits, in order: the one way events reach `world`, this actor's own
    /// included (applying those at once would skip another actor's event committed
    /// between the decision and the append).
    /// The log from the world's head on, and the handles' messages.
    follow: Follow<Msg>,
    snapshots: Snapshots,
    world: World,
    since_snapshot: u64,
    /// When each held text was last used (a tick count).
    used: BTreeMap<DocId, u64>,
    /// The version each document's stored checkpoint has.
    checkpointed: BTreeMap<DocId, u64>,
    /// The snapshot being stored: the checkpoints it stores, once stored.
    saving: Option<tokio::task::JoinHandle<Vec<(DocId, u64)>>>,
    tick: u64,
    shells: Shells,
    /// Batches of chat posts queued in the store and not yet acknowledged: each answers its
    /// commands once committed, while the next batch is decided (see `execute_batch`).
    committing: Vec<tokio::task::JoinHandle<()>>,
}

impl Actor {
    async fn run(mut self) {
        while let Some(step) = self.follow.next().await {
            let msg = match step {
                Step::Event(event) => {
                    self.apply(&event).await;
                    continue;
                }
                Step::Tick => continue,
                Step::Message(msg) => msg,
            };
            // Events committed since the message was taken are decided on too.
            self.catch_up(self.store.head()).await;
            match msg {
                Msg::Close(reply) => {
                    if self.settle().await {
                        self.catch_up(self.store.head()).await;
                    }
                    self.save().await;
                    self.finish_saving().await;
                    self.snapshots.close().await;
                    let _ = reply.send(());
                    break;
                }
                Msg::Execute(first) if batches(&first.command) => {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match self.follow.try_message() {
                            Some(Msg::Execute(next)) if batches(&next.command) => batch.push(next),
                            Some(other) => {
                                self.follow.put_back(other);
                                break;
                            }
                            None => break,
                        }
                    }
                    self.execute_batch(batch).await;
                }
                msg => {
                    // Anything else is decided on (or sees) a world with every batch in it.
                    if self.settle().await {
                        self.catch_up(self.store.head()).await;
                    }
                    self.handle(msg).await;
                }
            }
        }
        self.settle().await;
    }

    /// Decides every command of `batch` against the world as it is, and queues all their
    /// events as one append (one fsync instead of one per command); each command still
    /// commits or fails as a whole. Only for commands that [`batches`] allows, whose
    /// decisions the others' events cannot change, so the actor does not wait for the
    /// commit: the next batch is decided and queued while this one is synced, and the
    /// writer takes it into the next commit. The acks go out as each commits.
    async fn execute_batch(&mut self, batch: Vec<Execute>) {
        let mut events = Vec::new();
        let mut decided = Vec::with_capacity(batch.len());
        for msg in batch {
            match decide(&self.world, &msg.command) {
                Ok(bodies) => {
                    let count = bodies.len();
                    events.extend(bodies.into_iter().map(|body| NewEvent {
                        actor: msg.actor.clone(),
                        correlation: msg.correlation.clone(),
                        body,
                    }));
                    decided.push((msg.reply, count));
                }
                Err(rejection) => {
                    let _ = msg.reply.send(Err(rejection.into()));
                }
            }
        }
        let queued = self.store.queue(events).await;
        self.committing.retain(|task| !task.is_finished());
        self.committing.push(tokio::spawn(async move {
            let committed = match queued {
                Ok(queued) => queued.committed().await,
                Err(err) => Err(err),
            };
            match committed {
                Ok(committed) => {
                    let mut seqs = committed.iter().map(|event| event.seq);
                    for (reply, count) in decided {
                        let _ = reply.send(Ok(seqs.by_ref().take(count).collect()));
                    }
                }
                Err(err) => {
                    for (reply, _) in decided {
                        let _ = reply.send(Err(CommandError::Store(shared_error(&err))));
                    }
                }
            }
        }));
    }

    /// Waits until every queued batch has committed (or failed); whether there was one.
    async fn settle(&mut self) -> bool {
        let waited = !self.committing.is_empty();
        for task in self.committing.drain(..) {
            let _ = task.await;
        }
        waited
    }

    async fn apply(&mut self, event: &choir_proto::Event) {
        if event.seq <= self.world.head {
            return;
        }
        self.world.apply(event);
        match &event.body {
            EventBody::DocCreated { doc_id, .. } => {
                self.touch(*doc_id);
                self.evict().await;
            }
            EventBody::DocDeleted { doc_id } => {
                // A save under way may still store its checkpoint: forget it after that.
                self.finish_saving().await;
                self.used.remove(doc_id);
                self.checkpointed.remove(doc_id);
                self.snapshots.forget(*doc_id).await;
            }
            EventBody::ChatUserMessage { thread_id, .. }
            | EventBody::ChatAssistantMessage { thread_id, .. }
            | EventBody::ChatTurnCancelled { thread_id }
            | EventBody::ChatTurnFailed { thread_id, .. } => {
                // Trimmed in steps, not at every message.
                if let Some(thread) = self.world.chats.get_mut(thread_id) {
                    if thread.messages.len() > KEEP_MESSAGES + TRIM_STEP {
                        thread.trim(KEEP_MESSAGES);
                    }
                }
            }
            _ => {}
        }
        self.since_snapshot += 1;
        if self.since_snapshot >= SNAPSHOT_EVERY {
            self.save().await;
        }
    }

    async fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Execute(msg) => {
                let result = self.execute(&msg).await;
                let _ = msg.reply.send(result);
            }
            Msg::Query(look) => look(&self.world),
            Msg::Welcome(reply) => {
                let _ = reply.send(self.world.welcome());
            }
            Msg::Doc { doc_id, reply } => {
                let _ = reply.send(self.loaded(doc_id).await);
            }
            Msg::DocAt {
                doc_id,
                version,
                reply,
            } => {
                let text = match self.world.docs.get(&doc_id) {
                    Some(doc) if doc.version == version && doc.is_loaded() => Ok(doc.text()),
                    Some(doc) if version <= doc.version => {
                        let meta = doc.summary();
                        doc_texts::text_at(
                            &self.store,
                            &self.snapshots,
                            &meta,
                            self.world.head,
                            version,
                        )
                        .await
                    }
                    _ => Ok(None),
                };
                let _ = reply.send(text);
            }
            Msg::Close(_) => {}
        }
    }

    async fn execute(&mut self, msg: &Execute) -> Result<Vec<u64>, CommandError> {
        // An edit made against a version older than the edits held: bring them back from the
        // log for the decision, so that it is rebased over every edit since.
        if let Command::EditDoc {
            doc_id,
            base_version,
            ..
        } = &msg.command
        {
            self.bring_back_history(*doc_id, *base_version).await?;
        }
        let decided = decide(&self.world, &msg.command);
        // Shell commands record nothing: once accepted they go to the shell.
        match (&decided, &msg.command) {
            // Straight to the queue, as `WorldHandle::execute` sends it when it can: the next
            // key, sent there, cannot overtake this one. (A shell `decide` calls running has
            // a queue, made before its start was recorded.)
            (Ok(_), Command::ShellInput { window_id, data }) => {
                if self.shells.inputs().send(*window_id, data.clone()).is_err() {
                    tracing::debug!(%window_id, "input for a shell that just ended");
                }
                return Ok(Vec::new());
            }
            (Ok(_), Command::RestartShell { window_id }) => {
                self.shells.restart(*window_id);
                return Ok(Vec::new());
            }
            _ => {}
        }
        if let Command::EditDoc { doc_id, .. } = &msg.command {
            if let Some(doc) = self.world.docs.get_mut(doc_id) {
                doc.trim_history();
            }
        }
        let events = decided?
            .into_iter()
            .map(|body| NewEvent {
                actor: msg.actor.clone(),
                correlation: msg.correlation.clone(),
                body,
            })
            .collect();
        let committed = self.store.append(events).await?;
        self.catch_up_with(&committed).await;
        Ok(committed.iter().map(|event| event.seq).collect())
    }

    /// Applies the log from the subscription up to `target`, in order.
    async fn catch_up(&mut self, target: u64) {
        while self.world.head < target {
            match self.follow.events().next().await {
                Ok(Some(event)) => self.apply(&event).await,
                Ok(None) => break,
                Err(err) => {
                    tracing::error!(%err, "the world cannot read the log");
                    break;
                }
            }
        }
    }

    /// Applies the log up to the last of `committed` (this actor's own events), with every
    /// event another actor committed before them.
    async fn catch_up_with(&mut self, committed: &[std::sync::Arc<crate::store::Committed>]) {
        if let Some(last) = committed.last() {
            self.catch_up(last.seq).await;
        }
    }

    async fn bring_back_history(&mut self, doc_id: DocId, base: u64) -> Result<(), StoreError> {
        let Some(doc) = self.world.docs.get(&doc_id) else {
            return Ok(());
        };
        let oldest = doc.oldest_base();
        if base >= oldest {
            return Ok(());
        }
        let older: Vec<DocEdit> = self
            .store
            .doc_events(doc_id, 0, self.world.head)
            .await?
            .into_iter()
            .filter_map(|event| match event.body {
                EventBody::DocEdited {
                    version,
                    op,
                    edit_id,
                    ..
                } if version > base && version <= oldest => Some(DocEdit { op, edit_id }),
                _ => None,
            })
            .collect();
        if let Some(doc) = self.world.docs.get_mut(&doc_id) {
            if older.len() as u64 == oldest - base {
                doc.extend_history(older);
            }
        }
        Ok(())
    }

    /// The document with its text, read back if it is not held.
    async fn loaded(&mut self, doc_id: DocId) -> Result<Option<Doc>, StoreError> {
        let Some(doc) = self.world.docs.get(&doc_id) else {
            return Ok(None);
        };
        if !doc.is_loaded() {
            let meta = doc.summary();
            match doc_texts::load(&self.store, &self.snapshots, &meta, self.world.head).await? {
                Some(loaded) => {
                    self.checkpointed.insert(doc_id, loaded.version);
                    self.world.load_doc(loaded);
                }
                None => {
                    tracing::error!(doc = %doc_id, "the log does not give this document's text");
                    return Ok(None);
                }
            }
        }
        self.touch(doc_id);
        let copy = self.world.docs.get(&doc_id).cloned();
        self.evict().await;
        Ok(copy)
    }

    fn touch(&mut self, doc_id: DocId) {
        self.tick += 1;
        self.used.insert(doc_id, self.tick);
    }

    /// Beyond [`MAX_LOADED_DOCS`] texts (not counting those shown), the least recently used
    /// go to disk.
    async fn evict(&mut self) {
        let shown = shown_docs(&self.world);
        let mut held: Vec<(u64, DocId)> = self
            .world
            .docs
            .values()
            .filter(|doc| doc.is_loaded() && !shown.contains(&doc.id))
            .map(|doc| (self.used.get(&doc.id).copied().unwrap_or(0), doc.id))
            .collect();
        if held.len() <= MAX_LOADED_DOCS {
            return;
        }
        held.sort_unstable();
        let excess = held.len() - MAX_LOADED_DOCS;
        for (_, doc_id) in held.into_iter().take(excess) {
            let Some(doc) = self.world.docs.get_mut(&doc_id) else {
                continue;
            };
            if self.checkpointed.get(&doc_id) != Some(&doc.version) {
                if let Some(checkpoint) = doc_texts::checkpoint(doc) {
                    match self.snapshots.save_checkpoint(doc_id, &checkpoint).await {
                        Ok(()) => {
                            self.checkpointed.insert(doc_id, checkpoint.version);
                        }
                        Err(err) => {
                            tracing::warn!(%err, doc = %doc_id, "cannot checkpoint a document; keeping its text");
                            continue;
                        }
                    }
                }
            }
            doc.unload();
            self.used.remove(&doc_id);
        }
    }

    /// Stores the world and the texts held whose checkpoints are older, in the background
    /// (after the previous save has finished): the actor only copies what is to be stored.
    async fn save(&mut self) {
        self.finish_saving().await;
        self.since_snapshot = 0;
        self.world.trim_chats(KEEP_MESSAGES);
        let checkpointed = &self.checkpointed;
        let checkpoints = checkpoints(&self.world, |doc| {
            checkpointed.get(&doc.id) != Some(&doc.version)
        });
        let head_ts = match head_ts(&self.store, self.world.head).await {
            Ok(ts) => ts,
            Err(err) => {
                tracing::warn!(%err, "cannot take a snapshot");
                return;
            }
        };
        let world = on_disk(&self.world);
        let snapshots = self.snapshots.clone();
        self.saving = Some(tokio::spawn(async move {
            match snapshots.save(&world, head_ts, &checkpoints).await {
                Ok(()) => {
                    tracing::debug!(head = world.head, "snapshot stored");
                    checkpoints
                        .iter()
                        .map(|(doc_id, checkpoint)| (*doc_id, checkpoint.version))
                        .collect()
                }
                Err(err) => {
                    tracing::warn!(%err, "cannot store a snapshot");
                    Vec::new()
                }
            }
        }));
    }

    /// Waits for the save under way, if any, and notes the checkpoints it stored. (A
    /// checkpoint older than what the note says costs a longer read back, never a wrong text:
    /// a text is read back as its checkpoint plus the log after it.)
    async fn finish_saving(&mut self) {
        let Some(saving) = self.saving.take() else {
            return;
        };
        match saving.await {
            Ok(stored) => {
                for (doc_id, version) in stored {
                    if self.world.docs.contains_key(&doc_id) {
                        self.checkpointed.insert(doc_id, version);
                    }
                }
            }
            Err(err) => tracing::warn!(%err, "storing a snapshot failed"),
        }
    }
}

/// Whether a command may share an append with others like it: a chat post's decision reads
/// only whether its thread exists, which no chat post changes.
fn batches(command: &Command) -> bool {
    matches!(command, Command::PostChat { .. })
}

/// A store error for each command of a failed batch.
fn shared_error(err: &StoreError) -> StoreError {
    match err {
        StoreError::Closed => StoreError::Closed,
        other => StoreError::CommitFailed(other.to_string()),
    }
}

/// The documents shown in windows.
fn shown_docs(world: &World) -> Vec<DocId> {
    world
        .desktop
        .windows
        .values()
        .filter_map(|window| window.doc_id)
        .collect()
}

/// Checkpoints of the texts held that `pick` chooses.
fn checkpoints(world: &World, pick: impl Fn(&Doc) -> bool) -> Vec<(DocId, Checkpoint)> {
    world
        .docs
        .values()
        .filter(|doc| pick(doc))
        .filter_map(|doc| Some((doc.id, doc_texts::checkpoint(doc)?)))
        .collect()
}

/// The world as stored: documents without their text (it is checkpointed apart).
fn on_disk(world: &World) -> World {
    let mut world = world.clone();
    for doc in world.docs.values_mut() {
        doc.unload();
    }
    world
}

/// The time of the event at `head` (what identifies a snapshot's log).
async fn head_ts(store: &EventStore, head: u64) -> Result<i64, StoreError> {
    if head == 0 {
        return Ok(0);
    }
    Ok(store
        .read(head, 1)
        .await?
        .first()
        .map_or(0, |event| event.ts))
}
