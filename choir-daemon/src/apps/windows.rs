//! The daemon's side of app windows. It follows the log and runs each app window's app on a
//! thread of its own (a call may compute for a while), recording what the window shows:
//!
//! - a window opened: the app starts (`init`), and its view is recorded (`app.view_shown`);
//! - an input received (`app.input`): `update`, then the view again, recorded if it changed;
//! - the view asks for a tick: when it is due, the tick is recorded as the window's input;
//! - a new version built (`app.built`), or a capability granted: the app starts again and is
//!   given the window's inputs so far, so its state is rebuilt under the new code; the window
//!   stays open;
//! - the app traps, loops past its fuel or asks for more memory than it may: `app.failed`
//!   says which, and the next input starts it again (without the input that stopped it).
//!
//! After a restart of the daemon each window's inputs are read back from the log.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
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

/// Who records what an app window shows.
const ACTOR: &str = "app";
/// Inputs of a window kept (and given again on a restart) at most.
pub const MAX_HISTORY: usize = 10_000;

/// Starts following the log from `head + 1`; `world` is the world at `head`.
pub fn spawn(
    apps: Apps,
    store: EventStore,
    world_handle: WorldHandle,
    world: &World,
    head: u64,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let mut windows = AppWindows {
        apps,
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
    Input(AppInput),
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
                self.apply(&event.body).await;
            }
        }
    }

    async fn apply(&mut self, body: &EventBody) {
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
                self.send(*window_id, Job::Input(input.clone()));
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
                self.apps.forget(name).await;
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
            store: self.store.clone(),
            world: self.world.clone(),
            handle: Handle::current(),
            running: None,
            replaying: Arc::new(AtomicBool::new(false)),
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
    store: EventStore,
    world: WorldHandle,
    handle: Handle,
    running: Option<Running>,
    replaying: Arc<AtomicBool>,
    history: Vec<AppInput>,
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
                Job::Input(input) => self.input(input),
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
                        EventBody::AppReceived { input, .. } => Some(input),
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
        let started = self
            .apps
            .load(&self.name, &self.version)
            .map_err(|err| err.to_string());
        let running = started.and_then(|()| {
            self.apps
                .runtime()
                .start(&self.version, Box::new(self.host()))
                .map_err(|err| err.to_string())
        });
        let mut running = match running {
            Ok(running) => running,
            Err(error) => {
                self.failed(error);
                return false;
            }
        };
        self.replaying.store(true, Ordering::Relaxed);
        let mut kept = Vec::with_capacity(self.history.len());
        let mut problem = None;
        for input in std::mem::take(&mut self.history) {
            match running.update(&input) {
                Ok(()) => kept.push(input),
                Err(error) => {
                    // The input that stops it is left out; the rest are given to a new one.
                    problem = Some(error);
                    match self
                        .apps
                        .runtime()
                        .start(&self.version, Box::new(self.host()))
                    {
                        Ok(fresh) => running = fresh,
                        Err(error) => {
                            self.replaying.store(false, Ordering::Relaxed);
                            self.history = kept;
                            self.failed(error.to_string());
                            return false;
                        }
                    }
                    for earlier in &kept {
                        let _ = running.update(earlier);
                    }
                }
            }
        }
        self.replaying.store(false, Ordering::Relaxed);
        self.history = kept;
        if let Some(error) = problem {
            tracing::info!(%error, window = %self.window_id, "an input the app stopped on was left out");
        }
        self.running = Some(running);
        true
    }

    fn host(&self) -> AppHost {
        AppHost {
            name: self.name.clone(),
            store: self.store.clone(),
            world: self.world.clone(),
            handle: self.handle.clone(),
            replaying: self.replaying.clone(),
            writes: (None, 0),
        }
    }

    fn input(&mut self, input: AppInput) {
        if self.running.is_none() && !self.start() {
            return;
        }
        let Some(running) = self.running.as_mut() else {
            return;
        };
        match running.update(&input) {
            Ok(()) => {
                self.history.push(input);
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
