//! Shell windows' shells: a PTY per shell window, running the user's shell in the workspace,
//! owned by the daemon (a client that leaves does not end it). The manager follows the log:
//! a `window.opened` of a shell window starts its shell, a `window.resized` resizes its
//! terminal, a `window.closed` ends it. What users type (`shell.input`) goes straight to
//! the shell's input queue (see [`Inputs`]), or through the world actor and `decide` when
//! the window has no running shell (which says why); it is not recorded. What the shell
//! writes is, by each session's recorder.
//!
//! Shells do not outlive the daemon: at start-up, the shells the log says were running are
//! recorded as ended, and their windows offer a new one.

mod inputs;
mod recorder;
mod session;

use std::collections::HashMap;
use std::path::PathBuf;

use choir_proto::terminal::{TermSize, DEFAULT_SCROLLBACK};
use choir_proto::{
    AppKind, Desktop, EphemeralBody, EventBody, NewEvent, Settings, WindowId, World,
};
use tokio::sync::broadcast;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use inputs::Inputs;
pub use recorder::Limits;
use session::{Launch, Session};

use crate::store::{EventStore, Follow, Redactor, Step, StoreError};

/// The actor name shells' events are recorded under.
pub const ACTOR: &str = "shell";

/// Why a shell window's shell ended when the daemon started.
pub const ENDED_BY_RESTART: &str = "the daemon restarted, which ended this shell";

/// How shells are started.
#[derive(Debug, Clone)]
pub struct ShellConfig {
    /// The program: `$SHELL`, else bash, else sh.
    pub program: String,
    /// Where shells start: the workspace.
    pub cwd: PathBuf,
    pub limits: Limits,
    /// Lines of scrollback each shell window keeps.
    pub scrollback: u32,
}

impl ShellConfig {
    pub fn new(cwd: PathBuf) -> Self {
        Self {
            program: default_program(),
            cwd,
            limits: Limits::default(),
            scrollback: DEFAULT_SCROLLBACK,
        }
    }

    /// Follows the user's settings: their shell (else `$SHELL`) and scrollback, for the
    /// shells started from now on.
    fn take_settings(&mut self, settings: &Settings) {
        self.program = settings.shell.clone().unwrap_or_else(default_program);
        self.scrollback = settings.scrollback;
    }
}

/// The user's shell: `$SHELL` when it is set, else the first of bash and sh that exists.
fn default_program() -> String {
    if let Some(shell) = std::env::var_os("SHELL").filter(|shell| !shell.is_empty()) {
        return shell.to_string_lossy().into_owned();
    }
    ["/bin/bash", "/usr/bin/bash", "/bin/sh"]
        .into_iter()
        .find(|path| std::path::Path::new(path).exists())
        .unwrap_or("/bin/sh")
        .to_owned()
}

/// What the manager is asked (through the world actor, after `decide` said yes).
enum Request {
    Restart { window_id: WindowId },
}

/// A handle to the shell manager; cheap to clone.
#[derive(Clone)]
pub struct Shells {
    inbox: mpsc::UnboundedSender<Request>,
    inputs: Inputs,
}

impl Shells {
    /// A handle whose requests go nowhere (for a world actor without shells, in tests).
    pub fn detached() -> Self {
        let (inbox, _) = mpsc::unbounded_channel();
        Self {
            inbox,
            inputs: Inputs::default(),
        }
    }

    /// The running shells' input queues.
    pub fn inputs(&self) -> &Inputs {
        &self.inputs
    }

    /// Starts a new shell in a shell window whose shell ended.
    pub fn restart(&self, window_id: WindowId) {
        let _ = self.inbox.send(Request::Restart { window_id });
    }

    /// Starts the manager, following the log after `world.head`. `world` is the world at
    /// start-up, after [`recover`].
    pub fn spawn(
        store: EventStore,
        config: ShellConfig,
        world: &World,
        ahead: SendAhead,
        shutdown: CancellationToken,
    ) -> Shells {
        let (inbox, requests) = mpsc::unbounded_channel();
        let inputs = Inputs::default();
        let mut manager = Manager {
            inputs: inputs.clone(),
            store,
            config,
            desktop: world.desktop.clone(),
            sessions: HashMap::new(),
            ahead,
        };
        manager.config.take_settings(&world.settings);
        tokio::spawn(manager.run(world.head, requests, shutdown));
        Shells { inbox, inputs }
    }
}

/// Records as ended every shell the log says was running (their processes died with the
/// daemon that ran them).
pub async fn recover(store: &EventStore, world: &World) -> Result<(), StoreError> {
    let ended: Vec<NewEvent> = world
        .shells
        .values()
        .filter(|shell| shell.is_running())
        .map(|shell| {
            NewEvent::new(
                ACTOR,
                EventBody::ShellEnded {
                    window_id: shell.window_id,
                    reason: ENDED_BY_RESTART.into(),
                    exit_code: None,
                },
            )
        })
        .collect();
    if !ended.is_empty() {
        tracing::info!(count = ended.len(), "shells ended by the restart recorded");
        store.append(ended).await?;
    }
    Ok(())
}

struct Manager {
    store: EventStore,
    config: ShellConfig,
    /// The windows, folded from the log as the world folds them (a shell's terminal is its
    /// window's size, or the maximizing client's area).
    desktop: Desktop,
    sessions: HashMap<WindowId, Session>,
    inputs: Inputs,
    ahead: SendAhead,
}

/// Where a shell's output goes ahead of its commit: to every client at once, as
/// `EphemeralBody::ShellOutput` (clients draw it before its event comes), with secrets
/// taken out as the store takes them out of events.
#[derive(Clone)]
pub struct SendAhead {
    pub ephemerals: broadcast::Sender<EphemeralBody>,
    pub redactor: Redactor,
}

impl SendAhead {
    /// Sends the shell output among `events` to the clients.
    fn send(&self, events: &[EventBody]) {
        if self.ephemerals.receiver_count() == 0 {
            return;
        }
        for body in events {
            if let EventBody::ShellOutput {
                window_id,
                data,
                chunk,
            } = body
            {
                let data = self.redactor.redact(data).unwrap_or_else(|| data.clone());
                let _ = self.ephemerals.send(EphemeralBody::ShellOutput {
                    window_id: *window_id,
                    chunk: *chunk,
                    data,
                });
            }
        }
    }
}

impl Manager {
    async fn run(
        mut self,
        head: u64,
        requests: mpsc::UnboundedReceiver<Request>,
        shutdown: CancellationToken,
    ) {
        // The log first: a restart asked for after a shell's end finds it ended.
        let mut follow = Follow::new("the shells", self.store.subscribe(head + 1), shutdown)
            .with_unbounded_messages(requests);
        // Recording has a task of its own: typing never waits for a commit.
        let (recorded, to_record) = mpsc::unbounded_channel::<Vec<EventBody>>();
        tokio::spawn(record(self.store.clone(), to_record));
        while let Some(step) = follow.next().await {
            match step {
                Step::Event(event) => self.follow(&event.body, &recorded).await,
                Step::Message(request) => self.handle(request, &recorded).await,
                Step::Tick => {}
            }
        }
        // Dropping the sessions ends their shells.
        self.sessions.clear();
        self.inputs.close_all();
    }

    async fn follow(&mut self, body: &EventBody, recorded: &mpsc::UnboundedSender<Vec<EventBody>>) {
        let before = self.terminal_size(body);
        self.desktop.apply(body);
        match body {
            EventBody::WindowOpened {
                window_id,
                app: AppKind::Shell,
                ..
            } => self.start(*window_id, recorded).await,
            EventBody::WindowClosed { window_id } => self.end(*window_id),
            EventBody::SettingsChanged { settings, .. } => self.config.take_settings(settings),
            // Only the end a session recorded itself ends it (the start-up's record of
            // shells ended by the restart comes before any new one).
            EventBody::ShellEnded { window_id, .. }
                if self
                    .sessions
                    .get(window_id)
                    .is_some_and(session::Session::has_ended) =>
            {
                self.end(*window_id);
            }
            _ => {
                // Moved, resized, maximized or not: the terminal follows the window's size.
                let after = self.terminal_size(body);
                if let (Some((window_id, before)), Some((_, after))) = (before, after) {
                    if before != after {
                        if let Some(session) = self.sessions.get(&window_id) {
                            session.resize(after);
                        }
                    }
                }
            }
        }
    }

    /// The terminal size of the shell window an event is about, if it is about one.
    fn terminal_size(&self, body: &EventBody) -> Option<(WindowId, TermSize)> {
        let window_id = match body {
            EventBody::WindowMoved { window_id, .. }
            | EventBody::WindowResized { window_id, .. }
            | EventBody::WindowMaximized { window_id, .. }
            | EventBody::WindowUnmaximized { window_id } => *window_id,
            _ => return None,
        };
        let window = self
            .desktop
            .window(window_id)
            .filter(|window| window.app == AppKind::Shell)?;
        Some((window_id, TermSize::of_window(window)))
    }

    /// Ends window `window_id`'s shell, if it has one.
    fn end(&mut self, window_id: WindowId) {
        self.sessions.remove(&window_id);
        self.inputs.close(window_id);
    }

    async fn handle(&mut self, request: Request, recorded: &mpsc::UnboundedSender<Vec<EventBody>>) {
        match request {
            Request::Restart { window_id } => {
                if self
                    .sessions
                    .get(&window_id)
                    .is_some_and(session::Session::has_ended)
                {
                    self.end(window_id);
                }
                if !self.sessions.contains_key(&window_id)
                    && self.desktop.window(window_id).is_some()
                {
                    self.start(window_id, recorded).await;
                }
            }
        }
    }

    /// Starts window `window_id`'s shell: `shell.started` first, then its output; a shell
    /// that cannot start is recorded as ended with the reason.
    async fn start(
        &mut self,
        window_id: WindowId,
        recorded: &mpsc::UnboundedSender<Vec<EventBody>>,
    ) {
        let Some(window) = self.desktop.window(window_id) else {
            return;
        };
        let size = TermSize::of_window(window);
        let program = format!("{} in {}", self.config.program, self.config.cwd.display());
        // Before its start is recorded: typing into a shell the log says runs finds a queue.
        let typed = self.inputs.open(window_id);
        let started = EventBody::ShellStarted {
            window_id,
            program,
            rows: size.rows,
            cols: size.cols,
            scrollback: self.config.scrollback,
        };
        if let Err(err) = self.store.append(vec![NewEvent::new(ACTOR, started)]).await {
            tracing::warn!(%err, %window_id, "cannot record a shell's start");
            self.inputs.close(window_id);
            return;
        }
        let launch = Launch {
            program: &self.config.program,
            cwd: &self.config.cwd,
            window_id,
            size,
            limits: self.config.limits,
        };
        match Session::start(launch, typed, recorded.clone(), self.ahead.clone()) {
            Ok(session) => {
                tracing::info!(%window_id, program = %self.config.program, "shell started");
                self.sessions.insert(window_id, session);
            }
            Err(err) => {
                self.inputs.close(window_id);
                let ended = EventBody::ShellEnded {
                    window_id,
                    reason: format!("cannot start {}: {err:#}", self.config.program),
                    exit_code: None,
                };
                let _ = recorded.send(vec![ended]);
            }
        }
    }
}

/// Records the shells' events as they come, several batches in one append when they queue
/// (their output went to the clients already, from the shells' recorder threads).
async fn record(store: EventStore, mut batches: mpsc::UnboundedReceiver<Vec<EventBody>>) {
    while let Some(mut batch) = batches.recv().await {
        while let Ok(more) = batches.try_recv() {
            batch.extend(more);
        }
        let events = batch
            .into_iter()
            .map(|body| NewEvent::new(ACTOR, body))
            .collect();
        if let Err(err) = store.append_relaxed(events).await {
            tracing::warn!(%err, "cannot record shell output");
        }
    }
}
