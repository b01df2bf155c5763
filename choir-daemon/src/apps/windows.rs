//! The daemon's side of app windows. It follows the log and runs each app window's app on a
//! thread of its own (a call may compute for a while), recording what the window shows:
//!
//! - a window opened: the app starts (`init`), and its view is recorded (`app.view_shown`);
//! - an input received (`app.input`): `update`, then the view again, recorded if it changed;
//! - the view asks for a tick: when it is due, the tick is recorded as the window's input;
//! - a new version built (`app.built`), or a capability granted: the app starts again and is
//!   given the window's inputs so far, so its state is rebuilt under the new code; the window
//!   stays open;
//! - the app calls a tool: one with side effects is asked for (`tool.requested`, its call id
//!   beginning `app-WINDOW-`) and waits for the user's answer, then runs as `choir --exec`'s
//!   do (`tool.started`, `tool.finished`), the window's thread waiting meanwhile;
//! - the app traps, loops past its fuel or asks for more memory than it may: `app.failed`
//!   says which, and the next input starts it again (without the input that stopped it).
//!
//! After a restart of the daemon each window's inputs are read back from the log. While an
//! app is given its window's inputs again, its store reads as it was at each input (the
//! writes before it, from the log), and nothing it does is recorded, asked, fetched or run
//! again: the same inputs give the same state.

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use choir_apps::{AppError, Running};
use choir_proto::apps::{AppInput, ViewTree};
use choir_proto::{AppKind, EventBody, NewEvent, WindowId, World};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::host::AppHost;
use super::Apps;
use crate::actors::WorldHandle;
use crate::store::{EventStore, Follow, Step};
use crate::tools::ToolRunner;

/// Who records what an app window shows.
const ACTOR: &str = "app";
/// Inputs of a window kept (and given again on a restart) at most: a day of a tick a
/// second.
pub const MAX_HISTORY: usize = 100_000;
/// An app's store writes read back for a restart at most.
const MAX_WRITES: usize = 100_000;
/// Inputs left out of a restart, each because the app stopped on it, before it gives up.
const MAX_LEFT_OUT: usize = 3;

/// A write to an app's store, as the log has it.
#[derive(Debug, Clone)]
pub(super) struct Write {
    seq: u64,
    key: String,
    value: Option<String>,
}

/// An app's store as it was at some seq, while the app is given its window's inputs again:
/// it reads what it read then; what it writes is kept here (the log has it already).
#[derive(Debug, Clone, Default)]
pub(super) struct PastStore {
    pub(super) map: std::collections::BTreeMap<String, String>,
    /// The first write not applied yet.
    next: usize,
}

impl PastStore {
    /// The store with every write before `seq`.
    fn at(writes: &[Write], seq: u64) -> Self {
        let mut past = PastStore::default();
        past.advance(writes, seq);
        past
    }

    /// Applies the writes before `seq` not applied yet.
    fn advance(&mut self, writes: &[Write], seq: u64) {
        while let Some(write) = writes.get(self.next).filter(|write| write.seq < seq) {
            match &write.value {
                Some(value) => self.map.insert(write.key.clone(), value.clone()),
                None => self.map.remove(&write.key),
            };
            self.next += 1;
        }
    }
}

/// Starts following the log from `head + 1`; `world` is the world at `head`.
pub fn spawn(
    apps: Apps,
    tools: ToolRunner,
    store: EventStore,
    world_handle: WorldHandle,
    world: &World,
    head: u64,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let mut windows = AppWindows {
        apps,
        tools,
        store: store.clone(),
        world: world_handle,
        workers: HashMap::new(),
    };
    for window in world.app_windows.values() {
        let Some(app) = world.apps.get(&window.name) else {
            continue;
        };
        let Some(rect) = world.desktop.window(window.window_id).map(|w| w.rect) else {
            continue;
        };
        windows.start(Start {
            window_id: window.window_id,
            name: window.name.clone(),
            version: app.version.clone(),
            size: inner(rect.w, rect.h),
            shown: window
                .view
                .clone()
                .filter(|_| window.version == app.version),
            history_to: Some(head),
        });
    }
    tokio::spawn(windows.run(store, head, shutdown))
}

/// A window's drawing area: its size inside the border.
fn inner(w: u16, h: u16) -> (u32, u32) {
    (
        u32::from(w.saturating_sub(2)),
        u32::from(h.saturating_sub(2)),
    )
}

enum Job {
    /// An input recorded at this seq.
    Input(u64, AppInput),
    /// Start again, running `version`.
    Restart(String),
    Resize(u32, u32),
}

struct Worker {
    name: String,
    jobs: Sender<Job>,
}

struct AppWindows {
    apps: Apps,
    tools: ToolRunner,
    store: EventStore,
    world: WorldHandle,
    workers: HashMap<WindowId, Worker>,
}

/// What a window's thread starts with.
struct Start {
    window_id: WindowId,
    name: String,
    version: String,
    size: (u32, u32),
    /// What the window shows already, by the same version (not recorded again).
    shown: Option<ViewTree>,
    /// Read the window's inputs up to this seq back from the log (after a restart).
    history_to: Option<u64>,
}

impl AppWindows {
    async fn run(mut self, store: EventStore, head: u64, shutdown: CancellationToken) {
        let mut follow = Follow::<()>::new("the app windows", store.subscribe(head + 1), shutdown);
        while let Some(step) = follow.next().await {
            if let Step::Event(event) = step {
                self.apply(event.seq, &event.body).await;
            }
        }
    }

    async fn apply(&mut self, seq: u64, body: &EventBody) {
        match body {
            EventBody::WindowOpened {
                window_id,
                app: AppKind::App(name),
                rect,
                ..
            } => {
                if let Some(version) = self.version(name).await {
                    self.start(Start {
                        window_id: *window_id,
                        name: name.clone(),
                        version,
                        size: inner(rect.w, rect.h),
                        shown: None,
                        history_to: None,
                    });
                }
            }
            EventBody::WindowClosed { window_id } => {
                self.workers.remove(window_id);
            }
            EventBody::WindowResized { window_id, w, h } => {
                let (w, h) = inner(*w, *h);
                self.send(*window_id, Job::Resize(w, h));
            }
            EventBody::AppReceived { window_id, input } => {
                self.send(*window_id, Job::Input(seq, input.clone()));
            }
            EventBody::AppBuilt { name, version, .. } => {
                self.restart(name, version);
            }
            EventBody::AppCapabilityAnswered {
                name,
                granted: true,
                ..
            } => {
                if let Some(version) = self.version(name).await {
                    self.restart(name, &version);
                }
            }
            EventBody::AppRemoved { name } => {
                self.workers.retain(|_, worker| worker.name != *name);
                // Apart: it waits for a build under way, and the windows go on meanwhile.
                let (apps, name) = (self.apps.clone(), name.clone());
                tokio::spawn(async move { apps.forget(&name).await });
            }
            _ => {}
        }
    }

    /// The version of app `name` installed now.
    async fn version(&self, name: &str) -> Option<String> {
        let wanted = name.to_owned();
        self.world
            .query(move |world| world.apps.get(&wanted).map(|app| app.version.clone()))
            .await
            .ok()
            .flatten()
    }

    fn send(&self, window_id: WindowId, job: Job) {
        if let Some(worker) = self.workers.get(&window_id) {
            let _ = worker.jobs.send(job);
        }
    }

    fn restart(&self, name: &str, version: &str) {
        for worker in self.workers.values().filter(|worker| worker.name == name) {
            let _ = worker.jobs.send(Job::Restart(version.to_owned()));
        }
    }

    fn start(&mut self, start: Start) {
        let (jobs, inbox) = mpsc::channel();
        let window = Window {
            window_id: start.window_id,
            name: start.name.clone(),
            version: start.version,
            size: start.size,
            apps: self.apps.clone(),
            tools: self.tools.clone(),
            store: self.store.clone(),
            world: self.world.clone(),
            handle: Handle::current(),
            running: None,
            replay: Arc::default(),
            history: Vec::new(),
            shown: start.shown,
            tick_due: None,
        };
        let history_to = start.history_to;
        let spawned = std::thread::Builder::new()
            .name(format!("app {}", start.window_id))
            .spawn(move || window.run(inbox, history_to));
        match spawned {
            Ok(_) => {
                self.workers.insert(
                    start.window_id,
                    Worker {
                        name: start.name,
                        jobs,
                    },
                );
            }
            Err(err) => tracing::warn!(%err, "cannot start an app window's thread"),
        }
    }
}

/// One app window's thread: its instance, its inputs so far, what it showed last.
struct Window {
    window_id: WindowId,
    name: String,
    version: String,
    size: (u32, u32),
    apps: Apps,
    tools: ToolRunner,
    store: EventStore,
    world: WorldHandle,
    handle: Handle,
    running: Option<Running>,
    /// While the app catches up on the window's inputs: its store as it was.
    replay: Arc<Mutex<Option<PastStore>>>,
    /// The window's inputs so far, each with its seq.
    history: Vec<(u64, AppInput)>,
    shown: Option<ViewTree>,
    tick_due: Option<Instant>,
}

impl Window {
    fn run(mut self, inbox: Receiver<Job>, history_to: Option<u64>) {
        if let Some(head) = history_to {
            self.read_history(head);
        }
        self.start_and_show();
        loop {
            let job = match self.tick_due {
                Some(due) => {
                    match inbox.recv_timeout(due.saturating_duration_since(Instant::now())) {
                        Ok(job) => job,
                        Err(RecvTimeoutError::Timeout) => {
                            self.tick_due = None;
                            self.record(EventBody::AppReceived {
                                window_id: self.window_id,
                                input: AppInput::Tick {
                                    at_ms: u64::try_from(choir_proto::now_ms()).unwrap_or(0),
                                },
                            });
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
                None => match inbox.recv() {
                    Ok(job) => job,
                    Err(_) => return,
                },
            };
            match job {
                Job::Input(seq, input) => self.input(seq, input),
                Job::Restart(version) => {
                    self.version = version;
                    self.running = None;
                    self.start_and_show();
                }
                Job::Resize(w, h) => {
                    self.size = (w, h);
                    if self.running.is_some() {
                        self.show();
                    }
                }
            }
        }
    }

    /// The window's inputs up to `head`, from the log.
    fn read_history(&mut self, head: u64) {
        match self
            .handle
            .block_on(self.store.app_inputs(self.window_id, MAX_HISTORY))
        {
            Ok(events) => {
                self.history = events
                    .into_iter()
                    .filter(|event| event.seq <= head)
                    .filter_map(|event| match event.body {
                        EventBody::AppReceived { input, .. } => Some((event.seq, input)),
                        _ => None,
                    })
                    .collect();
            }
            Err(err) => {
                tracing::warn!(%err, window = %self.window_id, "cannot read an app window's inputs")
            }
        }
    }

    /// Starts the app, gives it the window's inputs so far, and shows its view.
    fn start_and_show(&mut self) {
        if self.start() {
            self.show();
        }
    }

    fn start(&mut self) -> bool {
        if let Err(error) = self.apps.load(&self.name, &self.version) {
            self.failed(error.to_string());
            return false;
        }
        let writes = if self.history.is_empty() {
            Vec::new()
        } else {
            self.read_writes()
        };
        let mut history = std::mem::take(&mut self.history);
        let mut left_out = 0;
        loop {
            match self.replay(&history, &writes) {
                Ok(running) => {
                    self.history = history;
                    self.running = Some(running);
                    return true;
                }
                // The input that stops it is left out, and the rest given to a new one (a few
                // times: each try gives every input again).
                Err((Some(index), error)) if left_out < MAX_LEFT_OUT => {
                    tracing::info!(%error, window = %self.window_id, "an input the app stopped on was left out");
                    history.remove(index);
                    left_out += 1;
                }
                Err((_, error)) => {
                    self.history = history;
                    self.failed(error);
                    return false;
                }
            }
        }
    }

    /// Starts an instance and gives it `history`, its store as it was at each input (from
    /// `writes`); what stopped it, with the index of the input if one did.
    fn replay(
        &self,
        history: &[(u64, AppInput)],
        writes: &[Write],
    ) -> Result<Running, (Option<usize>, String)> {
        *self.replay_lock() = history.first().map(|(seq, _)| PastStore::at(writes, *seq));
        let replayed = (|| {
            let mut running = self
                .apps
                .runtime()
                .start(&self.version, Box::new(self.host()))
                .map_err(|err| (None, err.to_string()))?;
            for (index, (seq, input)) in history.iter().enumerate() {
                if let Some(past) = self.replay_lock().as_mut() {
                    past.advance(writes, *seq);
                }
                running
                    .update(input)
                    .map_err(|err| (Some(index), err.to_string()))?;
            }
            Ok(running)
        })();
        *self.replay_lock() = None;
        replayed
    }

    fn replay_lock(&self) -> std::sync::MutexGuard<'_, Option<PastStore>> {
        self.replay.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The app's store writes from the log, the latest [`MAX_WRITES`], in seq order.
    fn read_writes(&self) -> Vec<Write> {
        match self
            .handle
            .block_on(self.store.app_writes(&self.name, MAX_WRITES))
        {
            Ok(events) => events
                .into_iter()
                .filter_map(|event| match event.body {
                    EventBody::AppStored { key, value, .. } => Some(Write {
                        seq: event.seq,
                        key,
                        value,
                    }),
                    _ => None,
                })
                .collect(),
            Err(err) => {
                tracing::warn!(%err, app = %self.name, "cannot read an app's store writes");
                Vec::new()
            }
        }
    }

    fn host(&self) -> AppHost {
        AppHost {
            name: self.name.clone(),
            store: self.store.clone(),
            world: self.world.clone(),
            handle: self.handle.clone(),
            replay: self.replay.clone(),
            writes: (None, 0),
            tools: self.tools.clone(),
            window_id: self.window_id,
            left: (0, 0, 0),
        }
    }

    fn input(&mut self, seq: u64, input: AppInput) {
        if self.running.is_none() && !self.start() {
            return;
        }
        let Some(running) = self.running.as_mut() else {
            return;
        };
        match running.update(&input) {
            Ok(()) => {
                self.history.push((seq, input));
                if self.history.len() > MAX_HISTORY {
                    self.history.drain(..self.history.len() - MAX_HISTORY);
                }
                self.show();
            }
            Err(error) => self.stopped(error),
        }
    }

    /// Asks the app for its view and records it if it changed.
    fn show(&mut self) {
        let Some(running) = self.running.as_mut() else {
            return;
        };
        let (w, h) = self.size;
        match running.view(w, h) {
            Ok(view) => {
                self.tick_due = view
                    .tick_after_ms
                    .map(|ms| Instant::now() + Duration::from_millis(u64::from(ms)));
                if self.shown.as_ref() == Some(&view) {
                    return;
                }
                self.shown = Some(view.clone());
                self.record(EventBody::AppViewShown {
                    window_id: self.window_id,
                    version: self.version.clone(),
                    view,
                });
            }
            Err(error) => self.stopped(error),
        }
    }

    fn stopped(&mut self, error: AppError) {
        self.running = None;
        self.failed(error.to_string());
    }

    fn failed(&mut self, error: String) {
        self.tick_due = None;
        self.shown = None;
        tracing::info!(window = %self.window_id, app = %self.name, %error, "an app stopped");
        self.record(EventBody::AppFailed {
            window_id: self.window_id,
            error,
        });
    }

    fn record(&self, body: EventBody) {
        if let Err(err) = self
            .handle
            .block_on(self.store.append(vec![NewEvent::new(ACTOR, body)]))
        {
            tracing::warn!(%err, "cannot record what an app window shows");
        }
    }
}
