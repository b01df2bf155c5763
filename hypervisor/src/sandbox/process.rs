//! The `process` backend: each sandbox is a `choir-daemon` process confined by
//! `choir-hypervisor confine` (see `confine.rs`): its own uid and gid, no supplementary groups,
//! `no_new_privs`, a clean environment, Landlock, rlimits, a seccomp filter, namespaces of its
//! own (network, IPC, mounts; `namespaces.rs`) and, where available, cgroups. The hypervisor
//! reaches it over a Unix socket in its 0700 data dir.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use choir_proto::Endpoint;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitid, Id, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::accounts::{Account, Accounts, IdPolicy};
use super::app_builds::{self, AppBuilds};
use super::cgroup::Cgroups;
use super::confine::{self, Confinement, LandlockLevel};
use super::limits::Limits;
use super::namespaces::Network;
use super::{
    datadir, procs, Backend, BoxFuture, Execution, Exit, Isolation, Launched, LogTail,
    SandboxError, StopSignal, Usage,
};
use crate::users::valid_name;

/// The daemon's socket inside its data dir.
const SOCKET: &str = "daemon.sock";
/// Environment variables of the hypervisor handed to every daemon: the agent's settings and
/// the log filter. Never a provider's key or address: the model gateway holds those, and
/// tells each sandbox its provider and model (`gateway::Gateway::attach`).
const PASSED_ENV: &[&str] = &[
    "CHOIR_LOG",
    "CHOIR_APPROVAL",
    "CHOIR_CONTEXT_TOKENS",
    "CHOIR_MAX_TOKENS",
];
/// How long stray processes of a stopped sandbox may take to die.
const KILL_PATIENCE: Duration = Duration::from_secs(5);
/// How long a stop waits for killed processes to be reaped: the host's init may reap orphans
/// only every second or two.
const REAP_PATIENCE: Duration = Duration::from_secs(10);

/// How to run process sandboxes.
#[derive(Debug, Clone)]
pub struct ProcessConfig {
    /// Where data dirs go (`<sandboxes>/<user>`).
    pub sandboxes: PathBuf,
    /// `choir-hypervisor`, whose `confine` subcommand enters a sandbox.
    pub launcher: PathBuf,
    pub daemon: PathBuf,
    pub choir: PathBuf,
    pub limits: Limits,
    /// Directories sandboxes may read besides the system's.
    pub extra_read_only: Vec<PathBuf>,
    /// Tells this hypervisor's cgroups apart from another's on the host.
    pub instance: String,
    /// Environment for every daemon (by default [`PASSED_ENV`] from the hypervisor's own).
    pub env: Vec<(String, String)>,
    /// The model gateway, reached through a socket in each data dir.
    pub gateway: Option<Arc<crate::gateway::Gateway>>,
    /// What daemons may reach (`none` or `outbound`; without root, the host's network).
    pub network: Network,
    /// Ranges daemons may reach all the same (checked).
    pub allow_net: Vec<String>,
    /// What daemons build apps with (none: they cannot build apps).
    pub app_builds: Option<AppBuilds>,
}

impl ProcessConfig {
    /// The agent settings and log filter of this process's environment (no key, no provider
    /// address).
    pub fn passed_env() -> Vec<(String, String)> {
        PASSED_ENV
            .iter()
            .filter_map(|name| Some((name.to_string(), std::env::var(name).ok()?)))
            .collect()
    }
}

pub struct ProcessBackend {
    config: ProcessConfig,
    accounts: Accounts,
    cgroups: Result<Cgroups, String>,
    landlock: LandlockLevel,
    read_only: Vec<PathBuf>,
    /// The session of each user's last daemon: its tools stay in it.
    sessions: Mutex<HashMap<String, u32>>,
    /// Whether `/proc` hides other users' processes (`hidepid`).
    proc_hidden: bool,
}

impl ProcessBackend {
    /// Probes what this host allows (Landlock, cgroups) once.
    pub fn new(config: ProcessConfig, accounts: Accounts) -> Arc<Self> {
        let mut read_only: Vec<PathBuf> = confine::SYSTEM_READ_ONLY
            .iter()
            .map(PathBuf::from)
            .collect();
        read_only.extend(config.extra_read_only.iter().cloned());
        let landlock = confine::probe_landlock(&read_only);
        let cgroups = match accounts.policy() {
            IdPolicy::PerUser { .. } => Cgroups::set_up(&config.instance, config.limits),
            IdPolicy::Shared { .. } => Err("cgroups need root".into()),
        };
        Arc::new(Self {
            config,
            accounts,
            cgroups,
            landlock,
            read_only,
            sessions: Mutex::new(HashMap::new()),
            proc_hidden: proc_hides_processes(),
        })
    }

    fn data_dir(&self, user: &str) -> Result<PathBuf, SandboxError> {
        if !valid_name(user) {
            return Err(SandboxError::BadName(user.to_owned()));
        }
        Ok(self.config.sandboxes.join(user))
    }

    fn ids(&self, account: &Account) -> Option<(u32, u32)> {
        match self.accounts.policy() {
            IdPolicy::PerUser { .. } => Some((account.uid, account.gid)),
            IdPolicy::Shared { .. } => None,
        }
    }

    /// The account, the data dir ready for it, and the cgroups to join.
    async fn prepare(&self, user: &str) -> Result<(Account, PathBuf, Vec<PathBuf>), SandboxError> {
        let dir = self.data_dir(user)?;
        let account = self.accounts.get_or_create(user).await?;
        let prepare_error = |message: String| SandboxError::Prepare {
            user: user.to_owned(),
            message,
        };
        let owner = self.ids(&account);
        let target = dir.clone();
        tokio::task::spawn_blocking(move || datadir::prepare(&target, owner))
            .await
            .map_err(|err| prepare_error(err.to_string()))?
            .map_err(|err| prepare_error(format!("{}: {err}", dir.display())))?;
        let cgroups = match &self.cgroups {
            Ok(cgroups) => cgroups
                .create(user)
                .map_err(|err| prepare_error(format!("cgroup: {err}")))?,
            Err(_) => Vec::new(),
        };
        Ok((account, dir, cgroups))
    }

    /// The network a daemon gets: its own only where this hypervisor can make one (root).
    fn daemon_network(&self) -> Network {
        match self.accounts.policy() {
            IdPolicy::PerUser { .. } => self.config.network,
            IdPolicy::Shared { .. } => Network::Host,
        }
    }

    fn confinement(
        &self,
        account: &Account,
        dir: &Path,
        cgroups: Vec<PathBuf>,
        command: Vec<OsString>,
        network: Network,
    ) -> Confinement {
        let ids = self.ids(account);
        let limits = self.config.limits;
        let mut read_only = self.read_only.clone();
        let mut lent = Vec::new();
        if let Some(builds) = &self.config.app_builds {
            match network {
                Network::Host => read_only.extend(builds.read_where_they_are()),
                Network::None | Network::Outbound => lent = builds.lent(),
            }
        }
        Confinement {
            dir: dir.to_owned(),
            uid: ids.map(|(uid, _)| uid),
            gid: ids.map(|(_, gid)| gid),
            cgroups,
            procs: limits.procs,
            memory: limits.memory,
            files: limits.files,
            file_size: limits.file_size,
            read_only,
            lent,
            landlock: self.landlock,
            network,
            allow_net: match network {
                Network::Outbound => self.config.allow_net.clone(),
                Network::None | Network::Host => Vec::new(),
            },
            command,
        }
    }

    /// The launcher with a clean environment: only what a shell needs and `extra`.
    fn command(&self, confinement: &Confinement, user: &str) -> tokio::process::Command {
        let dir = &confinement.dir;
        let mut command = tokio::process::Command::new(&self.config.launcher);
        command
            .arg("confine")
            .args(confinement.to_args())
            .env_clear()
            .env("PATH", app_builds::SYSTEM_PATH)
            .env("HOME", dir.join("workspace"))
            .env("USER", user)
            .env("LOGNAME", user)
            .env("LANG", "C.UTF-8")
            .env("TMPDIR", dir.join(confine::TMP_DIR))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// The processes of `user`'s sandbox. With a uid of its own: that uid's processes. Sharing
    /// the hypervisor's uid: the processes in the session of its daemon (its tools stay in it;
    /// a process that starts a session of its own escapes this, as the README says), never the
    /// hypervisor's own session.
    fn sandbox_pids(&self, user: &str, uid: Option<u32>, all: &[procs::ProcInfo]) -> Vec<u32> {
        if let Some(uid) = uid {
            return all.iter().filter(|p| p.uid == uid).map(|p| p.pid).collect();
        }
        let own_session = nix::unistd::getsid(None)
            .ok()
            .and_then(|sid| u32::try_from(sid.as_raw()).ok());
        let Some(session) = self.sessions.lock().ok().and_then(|s| s.get(user).copied()) else {
            return Vec::new();
        };
        if session <= 1 || Some(session) == own_session {
            return Vec::new();
        }
        let me = std::process::id();
        all.iter()
            .filter(|p| p.session == session && p.pid != me)
            .map(|p| p.pid)
            .collect()
    }

    /// Daemons for `user`'s data dir that an older hypervisor started as root (before
    /// sandboxes had uids of their own): only root's processes qualify, so no user can pass
    /// one of theirs off as one.
    fn root_daemons(&self, user: &str, all: &[procs::ProcInfo]) -> Vec<u32> {
        let Ok(dir) = self.data_dir(user) else {
            return Vec::new();
        };
        let me = std::process::id();
        all.iter()
            .filter(|p| p.uid == 0 && p.pid != me && serves(p.pid, &dir))
            .map(|p| p.pid)
            .collect()
    }

    /// Kills every process of `uid` without naming any by pid (no pid can be reused under
    /// it): a helper becomes that uid and signals all it may.
    async fn kill_uid(&self, uid: u32) -> bool {
        let status = tokio::process::Command::new(&self.config.launcher)
            .arg("kill-uid")
            .arg(uid.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output()
            .await;
        match status {
            Ok(out) if out.status.success() => true,
            Ok(out) => {
                tracing::error!(uid, stderr = %String::from_utf8_lossy(&out.stderr), "cannot stop a sandbox's processes");
                false
            }
            Err(err) => {
                tracing::error!(uid, %err, "cannot start the helper that stops a sandbox's processes");
                false
            }
        }
    }

    /// The uid a user's sandbox runs as, if it is theirs alone.
    async fn own_uid(&self, user: &str) -> Option<u32> {
        match self.accounts.policy() {
            IdPolicy::PerUser { .. } => self
                .accounts
                .all()
                .await
                .ok()?
                .into_iter()
                .find(|(name, _)| name == user)
                .map(|(_, uid)| uid),
            IdPolicy::Shared { .. } => None,
        }
    }
}

/// Waits (for at most [`REAP_PATIENCE`]) until no process of `uid` is left, not even a
/// killed one its parent has not reaped yet: those still count against the uid's process
/// limit, so a sandbox started again too soon could not fork.
async fn await_reaped(uid: u32) {
    let deadline = tokio::time::Instant::now() + REAP_PATIENCE;
    loop {
        let left = procs::all().iter().filter(|proc| proc.uid == uid).count();
        if left == 0 {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(
                uid,
                left,
                "killed processes of a stopped sandbox are not reaped yet; they count against its process limit until the host's init reaps them"
            );
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Whether `/proc` is mounted with `hidepid` (other users' processes invisible or unreadable).
fn proc_hides_processes() -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    mounts.lines().any(|line| {
        let Some((before, after)) = line.split_once(" - ") else {
            return false;
        };
        let mount_point = before.split_whitespace().nth(4);
        let mut after = after.split_whitespace();
        let is_proc = after.next() == Some("proc");
        let options = after.nth(1).unwrap_or_default();
        mount_point == Some("/proc")
            && is_proc
            && options.split(',').any(|option| {
                matches!(
                    option,
                    "hidepid=1" | "hidepid=2" | "hidepid=noaccess" | "hidepid=invisible"
                )
            })
    })
}

/// Whether process `pid` is a `choir-daemon` for `dir`.
fn serves(pid: u32, dir: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let mut args = cmdline.split(|byte| *byte == 0);
    let is_daemon = args
        .next()
        .is_some_and(|program| program.ends_with(b"choir-daemon"));
    let wanted = dir.as_os_str().as_encoded_bytes();
    is_daemon && cmdline.split(|byte| *byte == 0).any(|arg| arg == wanted)
}

impl Backend for ProcessBackend {
    fn isolation(&self) -> Isolation {
        let mut confined = Vec::new();
        let mut warnings = Vec::new();
        match self.accounts.policy() {
            IdPolicy::PerUser { range } => confined.push(format!(
                "own uid and gid per user ({}-{}), no supplementary groups",
                range.start(),
                range.end()
            )),
            IdPolicy::Shared { uid, several, .. } => {
                let who = if *several {
                    "every user's sandbox"
                } else {
                    "the one user's sandbox"
                };
                warnings.push(format!(
                    "not root: {who} runs as uid {uid}, the hypervisor's own; sandboxes are kept apart only by Landlock"
                ));
            }
        }
        match self.landlock {
            LandlockLevel::Full => confined.push(
                "Landlock: writes only in its data dir, reads only system directories, no signals or abstract sockets outside".into(),
            ),
            LandlockLevel::Partial => {
                confined.push("Landlock, partly (this kernel knows an older version)".into());
                warnings.push("Landlock is only partly enforced on this kernel (it predates Linux 6.12): signals and abstract sockets are not scoped".into());
            }
            LandlockLevel::None => warnings.push(
                "no Landlock on this kernel: a sandbox can read whatever its uid may read, and write where its uid may write (e.g. /tmp)".into(),
            ),
        }
        match &self.cgroups {
            Ok(cgroups) => confined.push(cgroups.describe()),
            Err(reason) => warnings.push(format!(
                "no cgroups ({reason}): memory and processes are bounded per process, not per sandbox"
            )),
        }
        confined.push(format!("rlimits: {}", self.config.limits.describe()));
        if self.daemon_network() != Network::Host {
            // Its own /proc (see below).
        } else if self.proc_hidden {
            confined.push("/proc shows each sandbox only its own processes (hidepid)".into());
        } else {
            warnings.push(
                "/proc is mounted without hidepid: every sandbox sees the command lines of all processes (mount -o remount,hidepid=invisible /proc to hide them)".into(),
            );
        }
        match self.daemon_network() {
            Network::Outbound => confined.push(format!(
                "a network of its own: the internet through slirp4netns; the host, private, link-local (metadata) and other sandboxes' addresses refused{}",
                if self.config.allow_net.is_empty() {
                    String::new()
                } else {
                    format!(" (but {})", self.config.allow_net.join(", "))
                }
            )),
            Network::None => confined.push("a network of its own: loopback only".into()),
            Network::Host => warnings.push(
                "not root: sandboxes share the host's network, its loopback included".into(),
            ),
        }
        match self.daemon_network() {
            Network::Host => {}
            Network::None | Network::Outbound => confined.push(
                "IPC and mounts of its own (no host sockets in /run or /tmp; /proc shows its own processes)".into(),
            ),
        }
        confined.push(
            "no_new_privs, seccomp (no namespaces, keyrings, BPF, mounts, tracing of others), clean environment, private tmp"
                .into(),
        );
        Isolation {
            backend: "process".into(),
            confined,
            warnings,
        }
    }

    fn launch<'a>(
        &'a self,
        user: &'a str,
        log: &'a LogTail,
    ) -> BoxFuture<'a, Result<Launched, SandboxError>> {
        Box::pin(async move {
            let (account, dir, cgroups) = self.prepare(user).await?;
            let socket = dir.join(SOCKET);
            let mut listen = OsString::from("unix:");
            listen.push(&socket);
            let program = vec![
                self.config.daemon.clone().into(),
                "--data-dir".into(),
                dir.clone().into(),
                "--listen".into(),
                listen,
            ];
            let confinement =
                self.confinement(&account, &dir, cgroups, program, self.daemon_network());
            let mut command = self.command(&confinement, user);
            command
                .envs(
                    self.config
                        .env
                        .iter()
                        .map(|(k, v)| (k, v.replace("{user}", user))),
                )
                .env("CHOIR_DAEMON_TOKEN", &account.token);
            if let Some(builds) = &self.config.app_builds {
                command.envs(builds.env(confinement.network != Network::Host, &dir));
            }
            if let Some(gateway) = &self.config.gateway {
                let socket = dir.join(crate::gateway::SOCKET);
                let told = gateway
                    .attach(user, &socket, self.ids(&account), &socket)
                    .map_err(|err| SandboxError::Prepare {
                        user: user.to_owned(),
                        message: format!("its model gateway: {err}"),
                    })?;
                command.envs(told);
            }
            let mut child = command.spawn().map_err(|source| SandboxError::Spawn {
                user: user.to_owned(),
                source,
            })?;
            if let Some(stdout) = child.stdout.take() {
                log.follow(stdout);
            }
            if let Some(stderr) = child.stderr.take() {
                log.follow(stderr);
            }
            let pid = child.id().ok_or_else(|| SandboxError::Spawn {
                user: user.to_owned(),
                source: std::io::Error::other("the sandbox ended at once"),
            })?;
            tracing::info!(user, pid, uid = ?confinement.uid, "sandbox started");
            // The launcher starts a session of its own: its id is the daemon's pid.
            if let Ok(mut sessions) = self.sessions.lock() {
                sessions.insert(user.to_owned(), pid);
            }
            let exited = Box::pin(async move {
                match child.wait().await {
                    Ok(status) => describe_exit(status),
                    Err(err) => Exit {
                        clean: false,
                        description: format!("lost: {err}"),
                    },
                }
            });
            let target = Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
            Ok(Launched {
                pid: Some(pid),
                uid: confinement.uid,
                endpoint: Endpoint {
                    url: format!("unix:{}", socket.display()),
                    token: account.token,
                    pid,
                    viewer: None,
                },
                exited,
                signal: Box::new(move |signal| {
                    let signal = match signal {
                        StopSignal::Term => Signal::SIGTERM,
                        StopSignal::Kill => Signal::SIGKILL,
                    };
                    let _ = kill(target, signal);
                }),
                alive: Box::new(move || {
                    // Looks without reaping: the supervisor's wait still gets the status.
                    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
                    matches!(waitid(Id::Pid(target), flags), Ok(WaitStatus::StillAlive))
                }),
            })
        })
    }

    fn exec<'a>(
        &'a self,
        user: &'a str,
        args: &'a [String],
    ) -> BoxFuture<'a, Result<Execution, SandboxError>> {
        Box::pin(async move {
            let (account, dir, cgroups) = self.prepare(user).await?;
            let mut program: Vec<OsString> = vec![self.config.choir.clone().into()];
            program.extend(args.iter().map(OsString::from));
            // `choir` speaks to its daemon over the daemon's Unix socket: it needs no network.
            let network = match self.daemon_network() {
                Network::Host => Network::Host,
                Network::None | Network::Outbound => Network::None,
            };
            let confinement = self.confinement(&account, &dir, cgroups, program, network);
            let mut command = self.command(&confinement, user);
            // Its supervisor starts the daemon: `choir` must not start one of its own.
            command
                .env("CHOIR_DATA_DIR", &dir)
                .env("CHOIR_NO_START", "1")
                .stdin(Stdio::piped());
            let child = command.spawn().map_err(|source| SandboxError::Spawn {
                user: user.to_owned(),
                source,
            })?;
            Ok(Execution::from_child(child))
        })
    }

    fn clean_up<'a>(&'a self, user: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let legacy = self.root_daemons(user, &procs::all());
            if !legacy.is_empty() {
                tracing::warn!(
                    user,
                    ?legacy,
                    "stopping daemons an older hypervisor left running as root"
                );
                procs::kill_all(|| self.root_daemons(user, &procs::all()), KILL_PATIENCE).await;
            }
            match self.own_uid(user).await {
                Some(uid) => {
                    self.kill_uid(uid).await;
                    await_reaped(uid).await;
                }
                None => {
                    let left = procs::kill_all(
                        || self.sandbox_pids(user, None, &procs::all()),
                        KILL_PATIENCE,
                    )
                    .await;
                    if left > 0 {
                        tracing::error!(user, left, "processes of a stopped sandbox would not die");
                    }
                    if let Ok(mut sessions) = self.sessions.lock() {
                        sessions.remove(user);
                    }
                }
            }
            if let Ok(cgroups) = &self.cgroups {
                cgroups.remove(user);
            }
        })
    }

    fn users(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move {
            let mut users = match self.accounts.all().await {
                Ok(accounts) => accounts.into_iter().map(|(user, _)| user).collect(),
                Err(err) => {
                    tracing::error!(%err, "cannot list sandbox accounts");
                    Vec::new()
                }
            };
            // Data dirs from before accounts existed (an older hypervisor's) count too.
            let dirs = std::fs::read_dir(&self.config.sandboxes)
                .into_iter()
                .flatten()
                .flatten();
            users.extend(
                dirs.filter_map(|entry| entry.file_name().into_string().ok())
                    .filter(|name| valid_name(name)),
            );
            users.sort();
            users.dedup();
            users
        })
    }

    fn usage<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Usage> {
        Box::pin(async move {
            let uid = self.own_uid(user).await;
            let all = procs::all();
            let pids = self.sandbox_pids(user, uid, &all);
            let memory = match &self.cgroups {
                Ok(cgroups) => cgroups.memory(user),
                Err(_) => {
                    let mine: Vec<_> = all.into_iter().filter(|p| pids.contains(&p.pid)).collect();
                    (!mine.is_empty()).then(|| procs::rss(&mine))
                }
            };
            Usage {
                uid: uid.or_else(|| match self.accounts.policy() {
                    IdPolicy::Shared { uid, .. } => Some(*uid),
                    IdPolicy::PerUser { .. } => None,
                }),
                memory,
                processes: pids.len(),
            }
        })
    }
}

fn describe_exit(status: std::process::ExitStatus) -> Exit {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => Exit {
            clean: true,
            description: "exited".into(),
        },
        (Some(code), _) => Exit {
            clean: false,
            description: format!("exit status {code}"),
        },
        (None, Some(signal)) => Exit {
            clean: false,
            description: match Signal::try_from(signal) {
                Ok(signal) => format!("killed by {}", signal.as_str()),
                Err(_) => format!("killed by signal {signal}"),
            },
        },
        (None, None) => Exit {
            clean: false,
            description: "ended".into(),
        },
    }
}
