//! The supervisor: one actor that owns the state of every user's sandbox, so that starts,
//! stops, crashes and idle checks of one sandbox happen one at a time and never race.
//!
//! ```text
//!            ensure                 answers                 stop / idle / shutdown
//! Stopped ─────────► Starting ─────────────────► Running ───────────────────────► Ending
//!    ▲                  │ failed to start           │ crashed                        │
//!    │                  ▼                           └─────────────────────────────► │
//!    └──── (backoff) ◄── crash counted ◄──────────── processes cleaned up ◄─────────┘
//!                          │ too many quick crashes in a row
//!                          ▼
//!                        Failed ── `sandbox restart` / `sandbox stop` ──► Stopped
//! ```
//!
//! Each run of a sandbox is one task ([`run`]): it launches the daemon, waits until it
//! answers, forwards a stop request (SIGTERM, then SIGKILL after the grace period), reports
//! the exit, cleans up what is left of the sandbox and reports that too. A restart waits for
//! that cleanup, so it can never kill the next run's processes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use choir_client::connect::{ConnectError, DaemonHttp};
use choir_proto::{ActivityReport, Endpoint};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::{Backend, Exit, Isolation, Launched, LogTail, SandboxError, SandboxInfo, StopSignal};
use crate::users::valid_name;

/// How sandboxes are supervised.
#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    /// Where each sandbox's log goes (`<logs>/<user>.log`).
    pub logs: PathBuf,
    /// A sandbox with no client and no work for this long is stopped; `None`: never.
    pub idle_timeout: Option<Duration>,
    /// How often running sandboxes are asked whether they are idle.
    pub idle_check: Duration,
    /// How long a new daemon has to answer.
    pub start_timeout: Duration,
    /// Between SIGTERM and SIGKILL when stopping.
    pub stop_grace: Duration,
    /// Wait before restarting after a quick crash; doubles with each further one.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// This many quick crashes in a row mark a sandbox failed.
    pub crash_loop: u32,
    /// A crash after running this long starts the count again.
    pub healthy_after: Duration,
}

impl SupervisorConfig {
    pub fn new(logs: PathBuf) -> Self {
        Self {
            logs,
            idle_timeout: Some(Duration::from_secs(30 * 60)),
            idle_check: Duration::from_secs(30),
            start_timeout: Duration::from_secs(20),
            stop_grace: Duration::from_secs(10),
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            crash_loop: 5,
            healthy_after: Duration::from_secs(60),
        }
    }

    fn backoff_after(&self, quick_crashes: u32) -> Duration {
        if quick_crashes == 0 {
            return Duration::ZERO;
        }
        let factor = 1u32 << quick_crashes.saturating_sub(1).min(16);
        self.backoff.saturating_mul(factor).min(self.max_backoff)
    }
}

/// Log lines shown with a start failure.
const LOG_LINES: usize = 12;
/// How long a sandbox may take to end after SIGKILL before it is counted as ended anyway (a
/// container engine that stopped answering).
const GIVE_UP_AFTER_KILL: Duration = Duration::from_secs(30);
/// The activity report is tiny: a daemon (or whatever answers in its place) may not make the
/// hypervisor read more.
const SMALL_ANSWER: usize = 64 << 10;

type EnsureReply = oneshot::Sender<Result<Endpoint, SandboxError>>;
type StopReply = oneshot::Sender<Result<bool, SandboxError>>;

/// The supervisor's handle: what SSH, routing and the control socket use. Cheap to clone.
#[derive(Clone)]
pub struct Sandboxes {
    tx: mpsc::Sender<Msg>,
    backend: Arc<dyn Backend>,
}

/// Why a run did not start.
struct NotStarted {
    reason: String,
    /// No fault of the sandbox's: where it runs is away for now (a Swarm node down).
    waiting: bool,
}

impl NotStarted {
    fn crash(reason: String) -> Self {
        Self {
            reason,
            waiting: false,
        }
    }

    fn waiting(reason: String) -> Self {
        Self {
            reason,
            waiting: true,
        }
    }
}

enum Msg {
    Ensure {
        user: String,
        reply: Option<EnsureReply>,
    },
    Stop {
        user: String,
        reply: StopReply,
    },
    Restart {
        user: String,
        reply: EnsureReply,
    },
    List {
        reply: oneshot::Sender<Vec<Summary>>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
    Started {
        user: String,
        generation: u64,
        result: Result<RunInfo, NotStarted>,
    },
    Exited {
        user: String,
        generation: u64,
        exit: Exit,
    },
    Cleaned {
        user: String,
        generation: u64,
    },
    IdleTick,
    Activity {
        user: String,
        generation: u64,
        report: Option<ActivityReport>,
    },
}

/// A daemon that answered.
struct RunInfo {
    endpoint: Endpoint,
    pid: Option<u32>,
    uid: Option<u32>,
    alive: Box<dyn Fn() -> bool + Send + Sync>,
}

/// What the actor knows of one sandbox, for `list`.
struct Summary {
    user: String,
    state: &'static str,
    pid: Option<u32>,
    uid: Option<u32>,
    since: Option<Instant>,
    endpoint: Option<Endpoint>,
    note: Option<String>,
}

impl Sandboxes {
    /// Stops whatever an earlier hypervisor left running in the sandboxes, then starts the
    /// supervisor. Shared sandboxes (their orchestrator keeps them for every hypervisor) are
    /// followed instead, so that they are stopped when idle whoever started them.
    pub async fn start(backend: Arc<dyn Backend>, config: SupervisorConfig) -> Self {
        let users = backend.users().await;
        if !backend.shared() {
            futures_util::future::join_all(users.iter().map(|user| backend.clean_up(user))).await;
        }
        let (tx, rx) = mpsc::channel(256);
        let actor = Actor {
            backend: backend.clone(),
            config: config.clone(),
            slots: HashMap::new(),
            tx: tx.clone(),
            closing: false,
        };
        tokio::spawn(actor.run(rx));
        if config.idle_timeout.is_some() {
            let ticks = tx.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(config.idle_check);
                every.tick().await;
                loop {
                    every.tick().await;
                    if ticks.send(Msg::IdleTick).await.is_err() {
                        return;
                    }
                }
            });
        }
        let sandboxes = Self { tx, backend };
        if sandboxes.backend.shared() {
            for user in &users {
                sandboxes.nudge(user);
            }
        }
        sandboxes
    }

    pub fn isolation(&self) -> Isolation {
        self.backend.isolation()
    }

    async fn ask<T>(
        &self,
        msg: impl FnOnce(oneshot::Sender<Result<T, SandboxError>>) -> Msg,
    ) -> Result<T, SandboxError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(msg(reply))
            .await
            .map_err(|_| SandboxError::ShuttingDown)?;
        answer.await.map_err(|_| SandboxError::ShuttingDown)?
    }

    /// The user's daemon, started if needed; answers once it is ready.
    pub async fn ensure(&self, user: &str) -> Result<Endpoint, SandboxError> {
        self.ask(|reply| Msg::Ensure {
            user: user.to_owned(),
            reply: Some(reply),
        })
        .await
    }

    /// Starts the user's daemon if it does not run, without waiting (for clients that retry).
    pub fn nudge(&self, user: &str) {
        let _ = self.tx.try_send(Msg::Ensure {
            user: user.to_owned(),
            reply: None,
        });
    }

    /// Runs `choir ARGS` in the user's sandbox, started if needed.
    pub async fn exec(
        &self,
        user: &str,
        args: &[String],
    ) -> Result<super::Execution, SandboxError> {
        self.ensure(user).await?;
        self.backend.exec(user, args).await
    }

    /// Stops the user's sandbox (and resets a failed one); `true` if it was running.
    pub async fn stop(&self, user: &str) -> Result<bool, SandboxError> {
        self.ask(|reply| Msg::Stop {
            user: user.to_owned(),
            reply,
        })
        .await
    }

    /// Stops the user's sandbox if it runs and starts it again (a failed one too).
    pub async fn restart(&self, user: &str) -> Result<Endpoint, SandboxError> {
        self.ask(|reply| Msg::Restart {
            user: user.to_owned(),
            reply,
        })
        .await
    }

    /// Every sandbox the supervisor knows, and `also` (registered users) as stopped.
    pub async fn list(&self, also: &[String]) -> Vec<SandboxInfo> {
        let (reply, answer) = oneshot::channel();
        if self.tx.send(Msg::List { reply }).await.is_err() {
            return Vec::new();
        }
        let mut summaries = answer.await.unwrap_or_default();
        for user in also {
            if !summaries.iter().any(|s| &s.user == user) {
                summaries.push(Summary {
                    user: user.clone(),
                    state: "stopped",
                    pid: None,
                    uid: None,
                    since: None,
                    endpoint: None,
                    note: None,
                });
            }
        }
        summaries.sort_by(|a, b| a.user.cmp(&b.user));
        let infos = summaries.into_iter().map(|summary| async move {
            let usage = self.backend.usage(&summary.user).await;
            let clients = match &summary.endpoint {
                Some(endpoint) => activity(endpoint).await.map(|report| report.clients),
                None => None,
            };
            let running = summary.endpoint.is_some();
            SandboxInfo {
                state: summary.state.to_owned(),
                pid: summary.pid,
                uid: summary.uid.or(usage.uid),
                uptime_secs: summary.since.map(|since| since.elapsed().as_secs()),
                memory_bytes: if running { usage.memory } else { None },
                processes: running.then_some(usage.processes),
                clients,
                note: summary.note,
                user: summary.user,
                model_requests: None,
                model_tokens: None,
            }
        });
        futures_util::future::join_all(infos).await
    }

    /// Stops every sandbox (SIGTERM, then SIGKILL after the grace period) and refuses new
    /// ones; returns when all are stopped and cleaned up. Shared sandboxes (a backend whose
    /// orchestrator keeps them for other hypervisors) are left running.
    pub async fn shutdown(&self) {
        let (reply, done) = oneshot::channel();
        if self.tx.send(Msg::Shutdown { reply }).await.is_ok() {
            let _ = done.await;
        }
    }
}

/// Asks a daemon what it is doing; `None` if it does not answer.
async fn activity(endpoint: &Endpoint) -> Option<ActivityReport> {
    let http = DaemonHttp::with_timeout(endpoint.clone(), Duration::from_secs(3))
        .ok()?
        .with_max_body(SMALL_ANSWER);
    let body = http.get("/api/activity").await.ok()?;
    serde_json::from_value(body).ok()
}

struct Slot {
    generation: u64,
    state: State,
    /// Crashes in a row, each soon after its start.
    quick_crashes: u32,
    /// No start before this (backoff after a crash).
    not_before: Option<Instant>,
    /// Asks the current run to stop.
    stop: Option<oneshot::Sender<()>>,
    /// How it last ended.
    note: Option<String>,
    log: LogTail,
}

enum State {
    Stopped,
    Starting {
        waiters: Vec<EnsureReply>,
        stops: Vec<StopReply>,
    },
    Running {
        run: RunInfo,
        since: Instant,
        /// When it was last seen with a client or work.
        last_busy: Instant,
    },
    /// The daemon is stopping or has ended; its processes are being cleaned up.
    Ending {
        since: Instant,
        requested: bool,
        waiters: Vec<EnsureReply>,
        stops: Vec<StopReply>,
    },
    Failed {
        reason: String,
    },
}

struct Actor {
    backend: Arc<dyn Backend>,
    config: SupervisorConfig,
    slots: HashMap<String, Slot>,
    tx: mpsc::Sender<Msg>,
    closing: bool,
}

impl Actor {
    async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Ensure { user, reply } => self.ensure(user, reply),
                Msg::Stop { user, reply } => self.stop(&user, reply),
                Msg::Restart { user, reply } => self.restart(user, reply),
                Msg::List { reply } => {
                    let _ = reply.send(self.summaries());
                }
                Msg::Shutdown { reply } => self.shutdown(reply),
                Msg::Started {
                    user,
                    generation,
                    result,
                } => self.started(&user, generation, result),
                Msg::Exited {
                    user,
                    generation,
                    exit,
                } => self.exited(&user, generation, exit),
                Msg::Cleaned { user, generation } => self.cleaned(&user, generation),
                Msg::IdleTick => self.idle_tick(),
                Msg::Activity {
                    user,
                    generation,
                    report,
                } => self.activity(&user, generation, report),
            }
        }
    }

    fn slot(&mut self, user: &str) -> &mut Slot {
        let logs = &self.config.logs;
        self.slots.entry(user.to_owned()).or_insert_with(|| Slot {
            generation: 0,
            state: State::Stopped,
            quick_crashes: 0,
            not_before: None,
            stop: None,
            note: None,
            log: LogTail::new(&logs.join(format!("{user}.log"))),
        })
    }

    fn ensure(&mut self, user: String, reply: Option<EnsureReply>) {
        if self.closing {
            if let Some(reply) = reply {
                let _ = reply.send(Err(SandboxError::ShuttingDown));
            }
            return;
        }
        if !valid_name(&user) {
            if let Some(reply) = reply {
                let _ = reply.send(Err(SandboxError::BadName(user)));
            }
            return;
        }
        let crash_loop = self.config.crash_loop;
        let waiting = reply.into_iter().collect::<Vec<_>>();
        if matches!(self.slot(&user).state, State::Stopped) {
            return self.start(&user, waiting);
        }
        let slot = self.slot(&user);
        match &mut slot.state {
            State::Stopped => {}
            State::Starting { waiters, .. } | State::Ending { waiters, .. } => {
                waiters.extend(waiting)
            }
            State::Running { run, since, .. } => {
                if (run.alive)() {
                    for reply in waiting {
                        let _ = reply.send(Ok(run.endpoint.clone()));
                    }
                } else {
                    // Ended a moment ago: its run reports the exit and cleans up; then the
                    // waiters get a new daemon.
                    slot.state = State::Ending {
                        since: *since,
                        requested: false,
                        waiters: waiting,
                        stops: Vec::new(),
                    };
                }
            }
            State::Failed { reason } => {
                for reply in waiting {
                    let _ = reply.send(Err(SandboxError::Failed {
                        user: user.clone(),
                        crashes: slot.quick_crashes.max(crash_loop),
                        reason: reason.clone(),
                        log: slot.log.last(LOG_LINES),
                    }));
                }
            }
        }
    }

    fn start(&mut self, user: &str, waiters: Vec<EnsureReply>) {
        let config = self.config.clone();
        let backend = self.backend.clone();
        let tx = self.tx.clone();
        let slot = self.slot(user);
        slot.generation += 1;
        let delay = slot
            .not_before
            .map(|at| at.saturating_duration_since(Instant::now()))
            .unwrap_or_default();
        let (stop, stop_rx) = oneshot::channel();
        slot.stop = Some(stop);
        slot.state = State::Starting {
            waiters,
            stops: Vec::new(),
        };
        let run = Run {
            user: user.to_owned(),
            generation: slot.generation,
            log: slot.log.clone(),
            backend: backend.clone(),
            config,
            tx: tx.clone(),
        };
        let (user, generation) = (user.to_owned(), slot.generation);
        let task = tokio::spawn(run.run(delay, stop_rx));
        // Should the run fail (a bug), the state machine must still move on: whichever of
        // these fits the state it is in ends it.
        tokio::spawn(async move {
            if task.await.is_ok() {
                return;
            }
            tracing::error!(user, "a sandbox's supervising task failed");
            let reason = "the hypervisor's task for this sandbox failed".to_owned();
            let exit = Exit {
                clean: false,
                description: reason.clone(),
            };
            let _ = tx
                .send(Msg::Started {
                    user: user.clone(),
                    generation,
                    result: Err(NotStarted::crash(reason)),
                })
                .await;
            let _ = tx
                .send(Msg::Exited {
                    user: user.clone(),
                    generation,
                    exit,
                })
                .await;
            backend.clean_up(&user).await;
            let _ = tx.send(Msg::Cleaned { user, generation }).await;
        });
    }

    fn request_stop(
        slot: &mut Slot,
        since: Instant,
        stops: Vec<StopReply>,
        waiters: Vec<EnsureReply>,
    ) {
        if let Some(stop) = slot.stop.take() {
            let _ = stop.send(());
        }
        slot.state = State::Ending {
            since,
            requested: true,
            waiters,
            stops,
        };
    }

    fn stop(&mut self, user: &str, reply: StopReply) {
        let Some(slot) = self.slots.get_mut(user) else {
            let _ = reply.send(Ok(false));
            return;
        };
        match &mut slot.state {
            State::Running { since, .. } => {
                let since = *since;
                slot.note = Some("stopped by an administrator".into());
                Self::request_stop(slot, since, vec![reply], Vec::new());
            }
            State::Starting { stops, .. } | State::Ending { stops, .. } => stops.push(reply),
            State::Stopped => {
                let _ = reply.send(Ok(false));
            }
            State::Failed { .. } => {
                slot.state = State::Stopped;
                slot.quick_crashes = 0;
                slot.not_before = None;
                let _ = reply.send(Ok(false));
            }
        }
    }

    fn restart(&mut self, user: String, reply: EnsureReply) {
        if self.closing || !valid_name(&user) {
            return self.ensure(user, Some(reply));
        }
        let slot = self.slot(&user);
        slot.quick_crashes = 0;
        slot.not_before = None;
        match &mut slot.state {
            State::Running { since, .. } => {
                let since = *since;
                slot.note = Some("restarted by an administrator".into());
                Self::request_stop(slot, since, Vec::new(), vec![reply]);
            }
            State::Failed { .. } => {
                slot.state = State::Stopped;
                self.ensure(user, Some(reply));
            }
            State::Stopped | State::Starting { .. } | State::Ending { .. } => {
                self.ensure(user, Some(reply))
            }
        }
    }

    fn shutdown(&mut self, reply: oneshot::Sender<()>) {
        self.closing = true;
        // Shared sandboxes run on for the other hypervisors.
        if self.backend.shared() {
            let _ = reply.send(());
            return;
        }
        let mut pending = Vec::new();
        for slot in self.slots.values_mut() {
            let (done, stopped) = oneshot::channel();
            match &mut slot.state {
                State::Running { since, .. } => {
                    let since = *since;
                    Self::request_stop(slot, since, vec![done], Vec::new());
                }
                State::Starting { stops, .. } | State::Ending { stops, .. } => stops.push(done),
                State::Stopped | State::Failed { .. } => continue,
            }
            pending.push(stopped);
        }
        tokio::spawn(async move {
            futures_util::future::join_all(pending).await;
            let _ = reply.send(());
        });
    }

    fn started(&mut self, user: &str, generation: u64, result: Result<RunInfo, NotStarted>) {
        let config = self.config.clone();
        let Some(slot) = self.slots.get_mut(user) else {
            return;
        };
        // Anything else is not this message's to end (it must not be clobbered either).
        if slot.generation != generation || !matches!(slot.state, State::Starting { .. }) {
            return;
        }
        let State::Starting { waiters, stops } = std::mem::replace(&mut slot.state, State::Stopped)
        else {
            return;
        };
        match result {
            Ok(run) => {
                for reply in waiters {
                    let _ = reply.send(Ok(run.endpoint.clone()));
                }
                let now = Instant::now();
                slot.state = State::Running {
                    run,
                    since: now,
                    last_busy: now,
                };
                // A shared sandbox runs on after this hypervisor stops.
                if !stops.is_empty() || (self.closing && !self.backend.shared()) {
                    Self::request_stop(slot, now, stops, Vec::new());
                }
            }
            Err(NotStarted {
                reason,
                waiting: true,
            }) => {
                // No fault of the sandbox's (where it runs is away): no crash counted, and
                // the next use tries again.
                tracing::warn!(user, %reason, "a sandbox cannot run now");
                slot.note = Some(reason.clone());
                for reply in waiters {
                    let _ = reply.send(Err(SandboxError::Unavailable {
                        user: user.to_owned(),
                        message: reason.clone(),
                    }));
                }
                for stop in stops {
                    let _ = stop.send(Ok(false));
                }
            }
            Err(NotStarted { reason, .. }) => {
                tracing::warn!(user, %reason, "a sandbox did not start");
                slot.quick_crashes += 1;
                slot.note = Some(reason.clone());
                let log = slot.log.last(LOG_LINES);
                let failed = slot.quick_crashes >= config.crash_loop;
                if failed {
                    tracing::error!(user, crashes = slot.quick_crashes, "sandbox marked failed");
                    slot.state = State::Failed {
                        reason: reason.clone(),
                    };
                } else {
                    slot.not_before =
                        Some(Instant::now() + config.backoff_after(slot.quick_crashes));
                }
                for reply in waiters {
                    let err = if failed {
                        SandboxError::Failed {
                            user: user.to_owned(),
                            crashes: slot.quick_crashes,
                            reason: reason.clone(),
                            log: log.clone(),
                        }
                    } else {
                        SandboxError::StartFailed {
                            user: user.to_owned(),
                            reason: reason.clone(),
                            log: log.clone(),
                        }
                    };
                    let _ = reply.send(Err(err));
                }
                for stop in stops {
                    let _ = stop.send(Ok(false));
                }
            }
        }
    }

    fn exited(&mut self, user: &str, generation: u64, exit: Exit) {
        let healthy_after = self.config.healthy_after;
        let Some(slot) = self.slots.get_mut(user) else {
            return;
        };
        if slot.generation != generation {
            return;
        }
        let (since, requested) = match &slot.state {
            State::Running { since, .. } => (*since, false),
            State::Ending {
                since, requested, ..
            } => (*since, *requested),
            _ => return,
        };
        if requested {
            slot.quick_crashes = 0;
            tracing::info!(user, how = %exit.description, "sandbox stopped");
        } else if exit.clean {
            slot.quick_crashes = 0;
            slot.note = Some("its daemon exited on its own".into());
            tracing::info!(user, "a sandbox's daemon exited on its own");
        } else {
            let uptime = since.elapsed();
            slot.quick_crashes = if uptime < healthy_after {
                slot.quick_crashes + 1
            } else {
                1
            };
            slot.note = Some(format!("crashed: {}", exit.description));
            tracing::warn!(user, how = %exit.description, ?uptime, crashes = slot.quick_crashes, "a sandbox crashed");
        }
        if let State::Running { .. } = slot.state {
            slot.state = State::Ending {
                since,
                requested,
                waiters: Vec::new(),
                stops: Vec::new(),
            };
        }
    }

    fn cleaned(&mut self, user: &str, generation: u64) {
        let config = self.config.clone();
        let closing = self.closing;
        let Some(slot) = self.slots.get_mut(user) else {
            return;
        };
        if slot.generation != generation || !matches!(slot.state, State::Ending { .. }) {
            return;
        }
        let State::Ending { waiters, stops, .. } =
            std::mem::replace(&mut slot.state, State::Stopped)
        else {
            return;
        };
        slot.stop = None;
        for stop in stops {
            let _ = stop.send(Ok(true));
        }
        if slot.quick_crashes >= config.crash_loop {
            let reason = slot.note.clone().unwrap_or_else(|| "crashed".into());
            tracing::error!(user, crashes = slot.quick_crashes, "sandbox marked failed");
            for reply in waiters {
                let _ = reply.send(Err(SandboxError::Failed {
                    user: user.to_owned(),
                    crashes: slot.quick_crashes,
                    reason: reason.clone(),
                    log: slot.log.last(LOG_LINES),
                }));
            }
            slot.state = State::Failed { reason };
            return;
        }
        slot.not_before = Some(Instant::now() + config.backoff_after(slot.quick_crashes));
        if closing {
            for reply in waiters {
                let _ = reply.send(Err(SandboxError::ShuttingDown));
            }
        } else if !waiters.is_empty() {
            self.start(user, waiters);
        }
    }

    fn idle_tick(&mut self) {
        for (user, slot) in &self.slots {
            if let State::Running { run, .. } = &slot.state {
                let (tx, user, generation) = (self.tx.clone(), user.clone(), slot.generation);
                let endpoint = run.endpoint.clone();
                tokio::spawn(async move {
                    let report = activity(&endpoint).await;
                    let _ = tx
                        .send(Msg::Activity {
                            user,
                            generation,
                            report,
                        })
                        .await;
                });
            }
        }
    }

    fn activity(&mut self, user: &str, generation: u64, report: Option<ActivityReport>) {
        let Some(timeout) = self.config.idle_timeout else {
            return;
        };
        let Some(slot) = self.slots.get_mut(user) else {
            return;
        };
        if slot.generation != generation {
            return;
        }
        let State::Running {
            since, last_busy, ..
        } = &mut slot.state
        else {
            return;
        };
        let now = Instant::now();
        match report.map(|report| report.idle_ms) {
            Some(None) => *last_busy = now,
            Some(Some(ms)) => {
                let idle_since = now.checked_sub(Duration::from_millis(ms)).unwrap_or(now);
                *last_busy = (*last_busy).max(idle_since);
            }
            // No answer: a daemon that cannot even say it is busy is stopped after the same
            // timeout.
            None => {}
        }
        if now.duration_since(*last_busy) >= timeout {
            let since = *since;
            tracing::info!(user, ?timeout, "stopping an idle sandbox");
            slot.note = Some("stopped when idle".into());
            Self::request_stop(slot, since, Vec::new(), Vec::new());
        }
    }

    fn summaries(&self) -> Vec<Summary> {
        self.slots
            .iter()
            .map(|(user, slot)| {
                let (state, running, since) = match &slot.state {
                    State::Stopped => ("stopped", None, None),
                    State::Starting { .. } => ("starting", None, None),
                    State::Running { run, since, .. } => ("running", Some(run), Some(*since)),
                    State::Ending { since, .. } => ("stopping", None, Some(*since)),
                    State::Failed { .. } => ("failed", None, None),
                };
                Summary {
                    user: user.clone(),
                    state,
                    pid: running.and_then(|run| run.pid),
                    uid: running.and_then(|run| run.uid),
                    since,
                    endpoint: running.map(|run| run.endpoint.clone()),
                    note: match &slot.state {
                        State::Failed { reason } => Some(format!("failed: {reason}")),
                        _ => slot.note.clone(),
                    },
                }
            })
            .collect()
    }
}

/// One run of one sandbox, from launch to cleanup.
struct Run {
    user: String,
    generation: u64,
    log: LogTail,
    backend: Arc<dyn Backend>,
    config: SupervisorConfig,
    tx: mpsc::Sender<Msg>,
}

impl Run {
    async fn send(&self, msg: Msg) {
        let _ = self.tx.send(msg).await;
    }

    async fn started(&self, result: Result<RunInfo, NotStarted>) {
        let (user, generation) = (self.user.clone(), self.generation);
        self.send(Msg::Started {
            user,
            generation,
            result,
        })
        .await
    }

    async fn run(self, delay: Duration, mut stop: oneshot::Receiver<()>) {
        let (user, generation) = (self.user.clone(), self.generation);
        if !delay.is_zero() {
            tracing::info!(user, ?delay, "waiting before restarting a sandbox");
            tokio::time::sleep(delay).await;
        }
        // A backend whose engine stops answering must not hold the sandbox (or shutdown)
        // for good.
        let launch = tokio::time::timeout(
            self.config.start_timeout,
            self.backend.launch(&user, &self.log),
        );
        let launched = match launch.await {
            Ok(Ok(launched)) => launched,
            Ok(Err(SandboxError::Unavailable { message, .. })) => {
                self.backend.clean_up(&user).await;
                return self.started(Err(NotStarted::waiting(message))).await;
            }
            Ok(Err(err)) => {
                self.log.push(&format!("choir-hypervisor: {err}"));
                self.backend.clean_up(&user).await;
                return self.started(Err(NotStarted::crash(err.to_string()))).await;
            }
            Err(_) => {
                let reason = format!(
                    "it was not launched within {} s",
                    self.config.start_timeout.as_secs()
                );
                self.log.push(&format!("choir-hypervisor: {reason}"));
                self.backend.clean_up(&user).await;
                return self.started(Err(NotStarted::crash(reason))).await;
            }
        };
        let Launched {
            pid,
            uid,
            endpoint,
            mut exited,
            mut signal,
            alive,
        } = launched;

        let ready = tokio::select! {
            exit = &mut exited => Err((format!("its daemon {} before answering", exit.description), true)),
            result = wait_ready(&endpoint, self.config.start_timeout) => result.map_err(|reason| (reason, false)),
        };
        if let Err((reason, ended)) = ready {
            if !ended {
                signal(StopSignal::Kill);
                if tokio::time::timeout(GIVE_UP_AFTER_KILL, exited)
                    .await
                    .is_err()
                {
                    tracing::error!(user, "a sandbox did not end after SIGKILL");
                }
            }
            self.backend.clean_up(&user).await;
            return self.started(Err(NotStarted::crash(reason))).await;
        }
        let info = RunInfo {
            endpoint,
            pid,
            uid,
            alive,
        };
        self.started(Ok(info)).await;

        let mut asked = false;
        let mut kill_at: Option<Instant> = None;
        let mut give_up_at: Option<Instant> = None;
        let exit = loop {
            tokio::select! {
                exit = &mut exited => break exit,
                () = tokio::time::sleep_until(give_up_at.unwrap_or_else(Instant::now)), if give_up_at.is_some() => {
                    tracing::error!(user, "a sandbox did not end after SIGKILL: counting it as ended");
                    break Exit {
                        clean: false,
                        description: "did not end after SIGKILL".into(),
                    };
                }
                _ = &mut stop, if !asked => {
                    asked = true;
                    signal(StopSignal::Term);
                    kill_at = Some(Instant::now() + self.config.stop_grace);
                }
                () = tokio::time::sleep_until(kill_at.unwrap_or_else(Instant::now)), if kill_at.is_some() => {
                    tracing::warn!(user, "a sandbox did not stop in time: killing it");
                    signal(StopSignal::Kill);
                    kill_at = None;
                    give_up_at = Some(Instant::now() + GIVE_UP_AFTER_KILL);
                }
            }
        };
        self.send(Msg::Exited {
            user: user.clone(),
            generation,
            exit,
        })
        .await;
        self.backend.clean_up(&user).await;
        self.send(Msg::Cleaned { user, generation }).await;
    }
}

/// Waits until the daemon at `endpoint` answers with the token.
async fn wait_ready(endpoint: &Endpoint, timeout: Duration) -> Result<(), String> {
    let http = DaemonHttp::with_timeout(endpoint.clone(), Duration::from_secs(2))
        .map_err(|err| err.to_string())?
        .with_max_body(SMALL_ANSWER);
    let deadline = Instant::now() + timeout;
    loop {
        match http.get("/api/activity").await {
            Ok(_) => return Ok(()),
            Err(ConnectError::Unauthorized { .. }) => {
                return Err("its daemon refused the hypervisor's token".into())
            }
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await
            }
            Err(err) => {
                return Err(format!(
                    "its daemon did not answer within {}s ({err})",
                    timeout.as_secs()
                ))
            }
        }
    }
}
