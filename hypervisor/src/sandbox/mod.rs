//! Sandboxes: one per user, each a security boundary, started on first use, restarted after a
//! crash, stopped when idle and when the hypervisor stops.
//!
//! [`Sandboxes`] (the supervisor, `supervisor.rs`) is what SSH and routing use; it drives a
//! [`Backend`], which knows how to start one user's daemon confined and how to run a `choir`
//! command inside it. [`ProcessBackend`] (`process.rs`) runs each sandbox as a confined
//! process under its own uid; a container backend plugs in behind the same trait.

mod accounts;
mod app_builds;
mod cgroup;
pub mod confine;
mod datadir;
mod docker;
mod execution;
pub mod image;
mod limits;
mod logtail;
pub mod namespaces;
mod process;
mod procs;
mod supervisor;
mod swarm;
mod syscalls;

use std::future::Future;
use std::pin::Pin;

use choir_proto::Endpoint;
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use accounts::{parse_uid_range, AccountError, Accounts, IdPolicy, DEFAULT_UID_RANGE};
pub use app_builds::{AppBuilds, AppBuildsError};
pub use cgroup::instance_name;
pub use confine::{kill_uid, Confinement, LandlockLevel};
pub use docker::{image_name, DockerBackend, DockerConfig, NetworkPolicy};
pub use execution::Execution;
pub use limits::Limits;
pub use logtail::LogTail;
pub use namespaces::Network;
pub use process::{ProcessBackend, ProcessConfig};
pub use supervisor::{Sandboxes, SupervisorConfig};
pub use swarm::{SwarmBackend, SwarmConfig};

/// A boxed future, for the object-safe [`Backend`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How a sandbox's daemon ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// It exited with status 0 (it was asked to stop, or stopped on its own accord).
    pub clean: bool,
    /// `exit status 1`, `killed by SIGKILL`.
    pub description: String,
}

/// How the supervisor asks a daemon to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// Please stop (SIGTERM): the daemon finishes its writes and exits.
    Term,
    /// Stop now (SIGKILL).
    Kill,
}

/// A daemon just started by a backend.
pub struct Launched {
    pub pid: Option<u32>,
    pub uid: Option<u32>,
    /// Where the daemon will answer once it is ready.
    pub endpoint: Endpoint,
    /// Resolves when the daemon has ended.
    pub exited: BoxFuture<'static, Exit>,
    /// Signals the daemon. Called only before `exited` resolved.
    pub signal: Box<dyn FnMut(StopSignal) + Send>,
    /// Whether the daemon still runs (false as soon as it has ended, even before `exited`
    /// was polled).
    pub alive: Box<dyn Fn() -> bool + Send + Sync>,
}

/// What a backend isolates here and what it cannot: said at start and in `sandbox list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Isolation {
    pub backend: String,
    /// What holds, e.g. `own uid per user (800000-899999)`.
    pub confined: Vec<String>,
    /// What does not, said loudly.
    pub warnings: Vec<String>,
}

/// What a sandbox uses now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub uid: Option<u32>,
    pub memory: Option<u64>,
    pub processes: usize,
}

/// A way of running sandboxes.
pub trait Backend: Send + Sync + 'static {
    fn isolation(&self) -> Isolation;

    /// Whether sandboxes outlive this hypervisor, shared with others that reach the same
    /// orchestrator: then it neither cleans up after an earlier hypervisor at start nor stops
    /// sandboxes when it stops.
    fn shared(&self) -> bool {
        false
    }

    /// Starts `user`'s daemon, its output going to `log`. Returns once the process runs; the
    /// supervisor then waits for it to answer.
    fn launch<'a>(
        &'a self,
        user: &'a str,
        log: &'a LogTail,
    ) -> BoxFuture<'a, Result<Launched, SandboxError>>;

    /// Runs `choir ARGS` inside `user`'s sandbox (stdio piped), against its daemon.
    fn exec<'a>(
        &'a self,
        user: &'a str,
        args: &'a [String],
    ) -> BoxFuture<'a, Result<Execution, SandboxError>>;

    /// Stops whatever still runs in `user`'s sandbox after its daemon ended (tools, stray
    /// processes, leftovers of an earlier hypervisor) and releases what `launch` took.
    fn clean_up<'a>(&'a self, user: &'a str) -> BoxFuture<'a, ()>;

    /// Users who have had a sandbox here.
    fn users(&self) -> BoxFuture<'_, Vec<String>>;

    fn usage<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Usage>;
}

/// Why a sandbox could not be used.
#[derive(Debug, Error)]
pub enum SandboxError {
    #[error("`{0}` is not a valid user name")]
    BadName(String),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error("cannot prepare the sandbox of {user}: {message}")]
    Prepare { user: String, message: String },
    /// What the backend's engine said (shown after "the sandbox of USER could not start").
    #[error("{message}")]
    Backend { user: String, message: String },
    #[error("cannot start the sandbox of {user}: {source}")]
    Spawn {
        user: String,
        source: std::io::Error,
    },
    #[error("{}", with_log(&format!("the sandbox of {user} could not start: {reason}"), log))]
    StartFailed {
        user: String,
        reason: String,
        log: Vec<String>,
    },
    #[error("{}", with_log(&format!(
        "the sandbox of {user} failed to start {crashes} times in a row ({reason}) and stays stopped \
         until an administrator runs `choir-hypervisor sandbox restart {user}`"), log))]
    Failed {
        user: String,
        crashes: u32,
        reason: String,
        log: Vec<String>,
    },
    #[error("the sandbox of {0} is not running")]
    NotRunning(String),
    /// It cannot run now through no fault of its own (its Swarm node is away); the next use
    /// tries again, and no crash is counted.
    #[error("the sandbox of {user} cannot run now: {message}")]
    Unavailable { user: String, message: String },
    #[error("the hypervisor is shutting down")]
    ShuttingDown,
}

/// A message followed by the last lines of the sandbox's log.
fn with_log(message: &str, log: &[String]) -> String {
    if log.is_empty() {
        return message.to_owned();
    }
    let lines: Vec<String> = log.iter().map(|line| format!("  | {line}")).collect();
    format!("{message}\nlast lines of its log:\n{}", lines.join("\n"))
}

/// One sandbox as listed by `choir-hypervisor sandbox list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxInfo {
    pub user: String,
    /// `stopped`, `starting`, `running`, `stopping`, `failed`.
    pub state: String,
    pub pid: Option<u32>,
    pub uid: Option<u32>,
    pub uptime_secs: Option<u64>,
    pub memory_bytes: Option<u64>,
    pub processes: Option<usize>,
    /// WebSocket clients of its daemon (desktops over SSH, local clients, browsers).
    pub clients: Option<usize>,
    /// How it last ended, or why it failed.
    pub note: Option<String>,
    /// Model requests and tokens through the gateway today (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_requests: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_tokens: Option<u64>,
}
