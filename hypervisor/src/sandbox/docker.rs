//! The `docker` backend: each sandbox is a container of the `choir-sandbox:<version>` image
//! (see `image.rs`) on one of several Docker engines, reached through `bollard`. Per user: a
//! named volume for the data dir, a uid of their own, memory, CPU and process limits, a
//! read-only root with a private `/tmp`, every capability dropped, `no-new-privileges`, an
//! init process, and a network on which containers cannot reach each other.
//!
//! A user is placed on the least-loaded engine when first seen and stays there (their volume
//! lives there). The hypervisor reaches a daemon of an engine on its own host (`unix://`)
//! over the Unix socket in its volume, through the volume's mount point (the socket's owner
//! checked); one of an engine elsewhere (`tcp://`, `ssh://`) over HTTP on a port that engine
//! publishes on its own address, the sandbox token required.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::db::Pool;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, HostConfig, HostConfigLogConfig, Mount, MountType, MountVolumeOptions,
    NetworkCreateRequest, PortBinding, ResourcesUlimits, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, ListContainersOptionsBuilder,
    RemoveContainerOptionsBuilder, StatsOptionsBuilder, WaitContainerOptions,
};
use bollard::Docker;
use choir_proto::Endpoint;
use futures_util::StreamExt;
use sqlx::Row;
use tokio::io::AsyncWriteExt;

use super::accounts::Accounts;
use super::app_builds::AppBuilds;
use super::limits::Limits;
use super::{
    Backend, BoxFuture, Execution, Exit, Isolation, Launched, LogTail, SandboxError, StopSignal,
    Usage,
};
use crate::users::valid_name;

/// Where each container mounts its user's volume.
pub(super) const DATA: &str = "/data";
/// Label naming the hypervisor instance that owns a container, volume or network.
pub(super) const INSTANCE_LABEL: &str = "org.choiros.instance";
/// Label naming the user of a container or volume.
pub(super) const USER_LABEL: &str = "org.choiros.user";
/// Seconds an engine has to answer a call.
const ENGINE_TIMEOUT: u64 = 60;

/// What sandboxes may reach on the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkPolicy {
    /// The internet (the agent's model, package registries), not each other.
    Outbound,
    /// Nothing: no network at all (a model must then be reached some other way).
    None,
}

impl std::str::FromStr for NetworkPolicy {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "outbound" => Ok(Self::Outbound),
            "none" => Ok(Self::None),
            _ => Err(format!(
                "`{text}` is not a network policy (outbound or none)"
            )),
        }
    }
}

/// How to run container sandboxes.
#[derive(Debug, Clone)]
pub struct DockerConfig {
    /// Engine addresses: `unix:///run/docker.sock` (or a path), `tcp://host:2375`.
    pub engines: Vec<String>,
    /// `choir-sandbox:<version>`.
    pub image: String,
    pub limits: Limits,
    /// CPUs per sandbox (e.g. 1.5).
    pub cpus: f64,
    pub network: NetworkPolicy,
    /// Ranges sandboxes may reach all the same (`--allow-net`), on engines of this host.
    pub allowed: Vec<String>,
    /// The model gateway, reached by sandboxes of engines on this host through a socket in
    /// their volume (those elsewhere cannot reach it).
    pub gateway: Option<Arc<crate::gateway::Gateway>>,
    /// Tells this hypervisor's containers apart from another's on the same engine.
    pub instance: String,
    /// Environment for every daemon (the agent's settings).
    pub env: Vec<(String, String)>,
    /// What daemons on engines of this host build apps with, bound read-only into their
    /// containers (those elsewhere cannot build apps).
    pub app_builds: Option<AppBuilds>,
}

/// One engine, connected (or not: then why).
struct Engine {
    url: String,
    docker: Result<Docker, String>,
}

pub struct DockerBackend {
    config: DockerConfig,
    accounts: Accounts,
    pool: Pool,
    engines: Vec<Engine>,
    /// One network creation at a time: an older engine would make two of the same name.
    network_made: tokio::sync::Mutex<()>,
}

/// The daemon's port inside a container on an engine elsewhere.
pub(super) const DAEMON_PORT: u16 = 7878;

/// The host of an engine named by `tcp://` or `ssh://` (its sandboxes' daemons are reached on
/// ports it publishes there); `None` for one on this host (`unix://`).
fn published_host(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("tcp://")
        .or_else(|| url.strip_prefix("http://"))
        .or_else(|| url.strip_prefix("https://"))
        .or_else(|| url.strip_prefix("ssh://"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    Some(match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host_port.split(':').next().unwrap_or(host_port),
    })
}

/// The image this build runs: `choir-sandbox:<version>`.
pub fn image_name() -> String {
    format!("choir-sandbox:{}", env!("CARGO_PKG_VERSION"))
}

/// Connects to an engine at `url` and agrees on an API version with it: `unix:///path` (or a
/// path), `tcp://host:port` (TLS with the client certificate in `$DOCKER_CERT_PATH` —
/// `ca.pem`, `cert.pem`, `key.pem` — when that is set, as the docker command does), or
/// `ssh://user@host` (through OpenSSH's `ssh`).
pub(super) async fn connect(url: &str) -> Result<Docker, String> {
    let version = bollard::API_DEFAULT_VERSION;
    let docker = if let Some(path) = url
        .strip_prefix("unix://")
        .or_else(|| url.starts_with('/').then_some(url))
    {
        Docker::connect_with_unix(path, ENGINE_TIMEOUT, version)
    } else if url.starts_with("tcp://") || url.starts_with("http://") || url.starts_with("https://")
    {
        match std::env::var_os("DOCKER_CERT_PATH").map(PathBuf::from) {
            Some(certs) => Docker::connect_with_ssl(
                url,
                &certs.join("key.pem"),
                &certs.join("cert.pem"),
                &certs.join("ca.pem"),
                ENGINE_TIMEOUT,
                version,
            ),
            None => Docker::connect_with_http(url, ENGINE_TIMEOUT, version),
        }
    } else if url.starts_with("ssh://") {
        Docker::connect_with_ssh(url, ENGINE_TIMEOUT, version, None)
    } else {
        return Err(format!(
            "{url}: engines are named unix:///path/docker.sock, tcp://host:port or ssh://user@host"
        ));
    }
    .map_err(|err| format!("{url}: {err}"))?;
    docker
        .negotiate_version()
        .await
        .map_err(|err| format!("{url}: {err}"))
}

impl DockerBackend {
    /// Connects to every engine (one that does not answer is reported, and its users get an
    /// error until it does).
    pub async fn new(
        config: DockerConfig,
        accounts: Accounts,
        pool: Pool,
    ) -> Result<Arc<Self>, sqlx::Error> {
        crate::db::create(
            &pool,
            &["CREATE TABLE IF NOT EXISTS docker_placement (\"user\" TEXT PRIMARY KEY, engine TEXT NOT NULL)"],
        )
        .await?;
        let mut engines = Vec::new();
        for url in &config.engines {
            let docker = connect(url).await;
            if let Err(err) = &docker {
                tracing::warn!(%err, "a Docker engine does not answer");
            }
            engines.push(Engine {
                url: url.clone(),
                docker,
            });
        }
        Ok(Arc::new(Self {
            config,
            accounts,
            pool,
            engines,
            network_made: tokio::sync::Mutex::new(()),
        }))
    }

    fn names(&self, user: &str) -> Result<String, SandboxError> {
        if !valid_name(user) {
            return Err(SandboxError::BadName(user.to_owned()));
        }
        Ok(format!("choir-{}-{user}", self.config.instance))
    }

    fn failed(&self, user: &str, message: impl std::fmt::Display) -> SandboxError {
        SandboxError::Backend {
            user: user.to_owned(),
            message: message.to_string(),
        }
    }

    /// The engine `user` lives on, placing a new user on the engine with the fewest users.
    async fn engine(&self, user: &str) -> Result<(&str, Docker), SandboxError> {
        self.engine_of(user, true).await
    }

    /// The engine `user` lives on; a user never placed is placed only if `place`.
    async fn engine_of(&self, user: &str, place: bool) -> Result<(&str, Docker), SandboxError> {
        let placed: Option<String> =
            sqlx::query("SELECT engine FROM docker_placement WHERE \"user\" = $1")
                .bind(user)
                .fetch_optional(&self.pool)
                .await
                .map_err(|err| self.failed(user, err))?
                .map(|row| row.try_get(0))
                .transpose()
                .map_err(|err| self.failed(user, err))?;
        let url = match placed.filter(|url| self.engines.iter().any(|engine| &engine.url == url)) {
            Some(url) => url,
            None if !place => return Err(SandboxError::NotRunning(user.to_owned())),
            None => {
                let counts =
                    sqlx::query("SELECT engine, COUNT(*) FROM docker_placement GROUP BY engine")
                        .fetch_all(&self.pool)
                        .await
                        .map_err(|err| self.failed(user, err))?;
                let count = |url: &str| {
                    counts
                        .iter()
                        .find(|row| {
                            row.try_get::<String, _>(0)
                                .is_ok_and(|engine| engine == url)
                        })
                        .and_then(|row| row.try_get::<i64, _>(1).ok())
                        .unwrap_or(0)
                };
                let best = self
                    .engines
                    .iter()
                    .filter(|engine| engine.docker.is_ok())
                    .min_by_key(|engine| count(&engine.url))
                    .ok_or_else(|| self.failed(user, "no Docker engine answers"))?;
                sqlx::query(
                    "INSERT INTO docker_placement (\"user\", engine) VALUES ($1, $2) \
                     ON CONFLICT (\"user\") DO UPDATE SET engine = excluded.engine",
                )
                .bind(user)
                .bind(&best.url)
                .execute(&self.pool)
                .await
                .map_err(|err| self.failed(user, err))?;
                tracing::info!(user, engine = best.url, "placed a new sandbox");
                best.url.clone()
            }
        };
        let engine = self
            .engines
            .iter()
            .find(|engine| engine.url == url)
            .ok_or_else(|| self.failed(user, "its engine is gone"))?;
        // An engine that did not answer when the hypervisor started is tried again.
        let docker = match &engine.docker {
            Ok(docker) => docker.clone(),
            Err(_) => connect(&engine.url).await.map_err(|err| {
                self.failed(user, format!("its Docker engine does not answer: {err}"))
            })?,
        };
        // Still there?
        docker.ping().await.map_err(|err| {
            self.failed(
                user,
                format!("its Docker engine {} does not answer: {err}", engine.url),
            )
        })?;
        Ok((&engine.url, docker))
    }

    /// The user's volume, created if new, handed to `uid` (0700): through its mount point
    /// when the engine is on this host (returned), else by a one-shot container.
    async fn volume(
        &self,
        docker: &Docker,
        user: &str,
        name: &str,
        uid: u32,
        local: bool,
    ) -> Result<Option<PathBuf>, SandboxError> {
        let labels = HashMap::from([
            (INSTANCE_LABEL.to_owned(), self.config.instance.clone()),
            (USER_LABEL.to_owned(), user.to_owned()),
        ]);
        let volume = match docker.inspect_volume(name).await {
            Ok(volume) => volume,
            Err(_) => docker
                .create_volume(VolumeCreateRequest {
                    name: Some(name.to_owned()),
                    labels: Some(labels),
                    ..Default::default()
                })
                .await
                .map_err(|err| self.failed(user, format!("cannot create its volume: {err}")))?,
        };
        if !local {
            self.hand_over_remotely(docker, user, name, uid).await?;
            return Ok(None);
        }
        let mountpoint = PathBuf::from(&volume.mountpoint);
        if !mountpoint.is_dir() {
            return Err(self.failed(
                user,
                format!(
                    "its volume's mount point {} is not on this host: name the engine by tcp:// \
                     or ssh:// to reach its sandboxes over the network",
                    mountpoint.display()
                ),
            ));
        }
        // The daemon runs as the user's uid: the volume is theirs alone.
        let handed = std::os::unix::fs::chown(&mountpoint, Some(uid), Some(uid)).and_then(|()| {
            std::fs::set_permissions(&mountpoint, std::fs::Permissions::from_mode(0o700))
        });
        handed.map_err(|err| self.failed(user, format!("cannot hand its volume over: {err}")))?;
        Ok(Some(mountpoint))
    }

    /// Gives the volume to `uid` on an engine elsewhere.
    async fn hand_over_remotely(
        &self,
        docker: &Docker,
        user: &str,
        volume: &str,
        uid: u32,
    ) -> Result<(), SandboxError> {
        hand_over(
            docker,
            &self.config.image,
            &self.config.instance,
            self.host_config(volume, None),
            uid,
        )
        .await
        .map_err(|err| self.failed(user, format!("cannot hand its volume over: {err}")))
    }

    /// The address the engine's host has for the hypervisor: where ports are published.
    async fn publish_address(
        &self,
        user: &str,
        host: &str,
    ) -> Result<std::net::IpAddr, SandboxError> {
        if let Ok(ip) = host.parse() {
            return Ok(ip);
        }
        tokio::net::lookup_host((host, 0))
            .await
            .ok()
            .and_then(|mut addrs| addrs.next())
            .map(|addr| addr.ip())
            .ok_or_else(|| self.failed(user, format!("cannot resolve its engine's host {host}")))
    }

    /// The network sandboxes join: containers on it cannot reach each other.
    async fn network(&self, docker: &Docker) -> Result<String, String> {
        let _one_at_a_time = self.network_made.lock().await;
        let name = format!("choir-{}", self.config.instance);
        if docker
            .inspect_network(
                &name,
                None::<bollard::query_parameters::InspectNetworkOptions>,
            )
            .await
            .is_ok()
        {
            return Ok(name);
        }
        match docker
            .create_network(NetworkCreateRequest {
                name: name.clone(),
                driver: Some("bridge".into()),
                options: Some(HashMap::from([(
                    "com.docker.network.bridge.enable_icc".to_owned(),
                    "false".to_owned(),
                )])),
                labels: Some(HashMap::from([(
                    INSTANCE_LABEL.to_owned(),
                    self.config.instance.clone(),
                )])),
                ..Default::default()
            })
            .await
        {
            Ok(_) => Ok(name),
            // Made meanwhile by another launch.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(name),
            Err(err) => Err(err.to_string()),
        }
    }

    fn host_config(&self, volume: &str, network: Option<String>) -> HostConfig {
        let limits = self.config.limits;
        let memory = i64::try_from(limits.memory).unwrap_or(i64::MAX);
        let ulimit = |name: &str, value: u64| ResourcesUlimits {
            name: Some(name.to_owned()),
            soft: Some(i64::try_from(value).unwrap_or(i64::MAX)),
            hard: Some(i64::try_from(value).unwrap_or(i64::MAX)),
        };
        HostConfig {
            memory: Some(memory),
            memory_swap: Some(memory),
            nano_cpus: Some((self.config.cpus * 1e9) as i64),
            pids_limit: Some(i64::try_from(limits.procs).unwrap_or(i64::MAX)),
            readonly_rootfs: Some(true),
            tmpfs: Some(HashMap::from([(
                "/tmp".to_owned(),
                "rw,nosuid,nodev,size=512m,mode=1777".to_owned(),
            )])),
            cap_drop: Some(vec!["ALL".to_owned()]),
            security_opt: Some(vec!["no-new-privileges".to_owned()]),
            init: Some(true),
            ulimits: Some(vec![
                ulimit("nofile", limits.files),
                ulimit("fsize", limits.file_size),
                ulimit("core", 0),
            ]),
            mounts: Some(vec![Mount {
                target: Some(DATA.to_owned()),
                source: Some(volume.to_owned()),
                typ: Some(MountType::VOLUME),
                // The image's /data is not copied in: that would give the volume back to root.
                volume_options: Some(MountVolumeOptions {
                    no_copy: Some(true),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            network_mode: Some(network.unwrap_or_else(|| "none".to_owned())),
            // What the daemon prints is kept, but not without bound (a user can write to it).
            log_config: Some(HostConfigLogConfig {
                typ: Some("local".to_owned()),
                config: Some(HashMap::from([
                    ("max-size".to_owned(), "10m".to_owned()),
                    ("max-file".to_owned(), "2".to_owned()),
                ])),
            }),
            ..Default::default()
        }
    }
}

/// The environment of `user`'s daemon (with its token) or of a command run in it, in a
/// container whose user's volume is at `/data`; `extra` is the operator's (`{user}` in a value
/// is the user's name).
pub(super) fn container_env(
    user: &str,
    token: Option<&str>,
    extra: &[(String, String)],
) -> Vec<String> {
    let mut env = vec![
        "PATH=/usr/local/bin:/usr/bin:/bin".to_owned(),
        format!("HOME={DATA}/workspace"),
        "TMPDIR=/tmp".to_owned(),
        "LANG=C.UTF-8".to_owned(),
        format!("CHOIR_DATA_DIR={DATA}"),
        // Its supervisor starts the daemon: `choir` must not start one of its own.
        "CHOIR_NO_START=1".to_owned(),
    ];
    if let Some(token) = token {
        env.push(format!("CHOIR_DAEMON_TOKEN={token}"));
    }
    env.extend(
        extra
            .iter()
            .map(|(name, value)| format!("{name}={}", value.replace("{user}", user))),
    );
    env
}

/// Binds the toolchain and crates apps are built with into a container, read-only where a
/// process sandbox sees them, and sets its daemon's environment for builds.
fn lend(host_config: &mut HostConfig, env: &mut Vec<String>, builds: &AppBuilds) {
    let mounts = host_config.mounts.get_or_insert_with(Vec::new);
    for lent in builds.lent() {
        mounts.push(Mount {
            target: Some(lent.at.to_string_lossy().into_owned()),
            source: Some(lent.host.to_string_lossy().into_owned()),
            typ: Some(MountType::BIND),
            read_only: Some(true),
            ..Default::default()
        });
    }
    let told = builds.env(true, std::path::Path::new(DATA));
    env.retain(|entry| {
        !told
            .iter()
            .any(|(name, _)| entry.starts_with(&format!("{name}=")))
    });
    env.extend(
        told.into_iter()
            .map(|(name, value)| format!("{name}={}", value.to_string_lossy())),
    );
}

/// Gives the volume `host` mounts at `/data` to `uid` (0700): a container of `image` that only
/// runs `chown` and `chmod` as root with no capability but those two.
pub(super) async fn hand_over(
    docker: &Docker,
    image: &str,
    instance: &str,
    mut host: HostConfig,
    uid: u32,
) -> Result<(), bollard::errors::Error> {
    let script = format!("chown {uid}:{uid} {DATA} && chmod 700 {DATA}");
    host.cap_drop = Some(vec!["ALL".to_owned()]);
    host.cap_add = Some(vec!["CHOWN".to_owned(), "FOWNER".to_owned()]);
    let body = ContainerCreateBody {
        image: Some(image.to_owned()),
        cmd: Some(vec!["sh".into(), "-c".into(), script]),
        user: Some("0:0".into()),
        labels: Some(HashMap::from([(
            INSTANCE_LABEL.to_owned(),
            instance.to_owned(),
        )])),
        host_config: Some(host),
        ..Default::default()
    };
    let id = docker
        .create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            body,
        )
        .await?
        .id;
    let ran = async {
        docker
            .start_container(
                &id,
                None::<bollard::query_parameters::StartContainerOptions>,
            )
            .await?;
        match docker
            .wait_container(&id, None::<WaitContainerOptions>)
            .next()
            .await
        {
            Some(Ok(_)) | None => Ok(()),
            Some(Err(err)) => Err(err),
        }
    }
    .await;
    let options = RemoveContainerOptionsBuilder::default().force(true).build();
    let _ = docker.remove_container(&id, Some(options)).await;
    ran
}

/// Copies what the container prints to the sandbox's log, until it ends.
pub(super) fn follow_logs(docker: &Docker, container: &str, log: &LogTail) {
    let (docker, container, log) = (docker.clone(), container.to_owned(), log.clone());
    tokio::spawn(async move {
        let options = bollard::query_parameters::LogsOptionsBuilder::default()
            .follow(true)
            .stdout(true)
            .stderr(true)
            .build();
        let mut logs = docker.logs(&container, Some(options));
        while let Some(Ok(chunk)) = logs.next().await {
            let text = String::from_utf8_lossy(&chunk.into_bytes()).into_owned();
            for line in text.lines().filter(|line| !line.is_empty()) {
                log.push(line);
            }
        }
    });
}

/// Waits for the container to end: how it ended.
pub(super) async fn wait_exit(docker: &Docker, container: &str) -> Exit {
    let mut wait = docker.wait_container(container, None::<WaitContainerOptions>);
    match wait.next().await {
        Some(Ok(response)) if response.status_code == 0 => Exit {
            clean: true,
            description: "exit status 0".into(),
        },
        Some(Ok(response)) => Exit {
            clean: false,
            description: format!("exit status {}", response.status_code),
        },
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => Exit {
            clean: false,
            description: format!("exit status {code}"),
        },
        Some(Err(err)) => Exit {
            clean: false,
            description: format!("lost track of its container: {err}"),
        },
        None => Exit {
            clean: false,
            description: "its container is gone".into(),
        },
    }
}

/// The container's first command: a passwd entry for the sandbox's uid in `/tmp/passwd`
/// (the image's `/etc/passwd` links there: the uid is known only now), then the daemon in
/// its place. `user` is a hypervisor user name (letters, digits, `-`, `_`), safe in a script.
/// `daemon_flags` go to `choir-daemon` as they are.
pub(super) fn start_script(user: &str, listen: &str, daemon_flags: &str) -> String {
    format!(
        "cat /etc/passwd.image > /tmp/passwd 2>/dev/null; \
         echo \"{user}:x:$(id -u):$(id -g):{user}:{DATA}/workspace:/bin/bash\" >> /tmp/passwd; \
         exec choir-daemon --data-dir {DATA} --listen '{listen}'{daemon_flags}"
    )
}

/// Runs `choir ARGS` in `container` as `uid:gid` with `env`, stdio piped.
pub(super) async fn exec_choir(
    docker: Docker,
    container: &str,
    user: &str,
    ids: (u32, u32),
    args: &[String],
    env: Vec<String>,
) -> Result<Execution, SandboxError> {
    let mut cmd = vec!["choir".to_owned()];
    cmd.extend(args.iter().cloned());
    let exec = docker
        .create_exec(
            container,
            CreateExecOptions {
                attach_stdin: Some(true),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(cmd),
                env: Some(env),
                user: Some(format!("{}:{}", ids.0, ids.1)),
                working_dir: Some(format!("{DATA}/workspace")),
                ..Default::default()
            },
        )
        .await
        .map_err(|err| SandboxError::NotRunning(format!("{user} ({err})")))?;
    let started = docker
        .start_exec(
            &exec.id,
            Some(StartExecOptions {
                detach: false,
                tty: false,
                output_capacity: None,
            }),
        )
        .await
        .map_err(|err| SandboxError::NotRunning(format!("{user} ({err})")))?;
    let StartExecResults::Attached { mut output, input } = started else {
        return Err(SandboxError::NotRunning(user.to_owned()));
    };
    // Output comes as one stream of tagged chunks: two pipes, one per stream.
    let (mut out_write, out_read) = tokio::io::duplex(64 << 10);
    let (mut err_write, err_read) = tokio::io::duplex(64 << 10);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        while let Some(Ok(chunk)) = output.next().await {
            let written = match chunk {
                LogOutput::StdErr { message } => err_write.write_all(&message).await,
                LogOutput::StdOut { message } | LogOutput::Console { message } => {
                    out_write.write_all(&message).await
                }
                LogOutput::StdIn { .. } => Ok(()),
            };
            if written.is_err() {
                break;
            }
        }
        drop((out_write, err_write));
        let _ = done_tx.send(());
    });
    let exec_id = exec.id.clone();
    Ok(Execution {
        stdin: input,
        stdout: Box::pin(out_read),
        stderr: Box::pin(err_read),
        status: Box::pin(async move {
            let _ = done_rx.await;
            docker
                .inspect_exec(&exec_id)
                .await
                .ok()
                .and_then(|info| info.exit_code)
                .and_then(|code| i32::try_from(code).ok())
                .unwrap_or(1)
        }),
    })
}

impl Backend for DockerBackend {
    fn isolation(&self) -> Isolation {
        let limits = self.config.limits;
        let mut warnings = Vec::new();
        for engine in &self.engines {
            if let Err(err) = &engine.docker {
                warnings.push(format!(
                    "Docker engine {} does not answer: {err}",
                    engine.url
                ));
            }
        }
        let remote = self
            .engines
            .iter()
            .any(|engine| published_host(&engine.url).is_some());
        if self.config.network == NetworkPolicy::Outbound && remote {
            warnings.push(
                "on engines of other hosts (tcp://, ssh://), the outbound network lets sandboxes \
                 reach that host's services, its local network and cloud metadata addresses: \
                 firewall the sandbox network there (Docker's DOCKER-USER chain) or use \
                 --sandbox-network none"
                    .into(),
            );
        }
        Isolation {
            backend: "docker".into(),
            confined: vec![
                format!(
                    "a container per user on {} Docker engine(s), image {}",
                    self.engines.len(),
                    self.config.image
                ),
                "own uid and gid per user, read-only root, private /tmp, all capabilities dropped, no-new-privileges, init".into(),
                format!(
                    "limits: {} processes, {} memory, {} CPUs, {} open files",
                    limits.procs,
                    crate::units::format_size(limits.memory),
                    self.config.cpus,
                    limits.files
                ),
                match self.config.network {
                    NetworkPolicy::Outbound => "network: outbound; on engines of this host the internet only (nftables in each container: not this host, its private networks or metadata addresses), and sandboxes cannot reach each other where the engine filters traffic (iptables)".into(),
                    NetworkPolicy::None => "network: none".into(),
                },
            ],
            warnings,
        }
    }

    fn launch<'a>(
        &'a self,
        user: &'a str,
        log: &'a LogTail,
    ) -> BoxFuture<'a, Result<Launched, SandboxError>> {
        Box::pin(async move {
            let name = self.names(user)?;
            let account = self.accounts.get_or_create(user).await?;
            let (url, docker) = self.engine(user).await?;
            docker.inspect_image(&self.config.image).await.map_err(|_| {
                self.failed(
                    user,
                    format!(
                        "the image {} is not on the Docker engine {url}: run `choir-hypervisor image build`",
                        self.config.image
                    ),
                )
            })?;
            // A daemon on this host is reached through the socket in its volume; one on an
            // engine elsewhere, through a port the engine publishes on its own address.
            let published = match published_host(url) {
                Some(host) => Some(self.publish_address(user, host).await?),
                None => None,
            };
            let mountpoint = self
                .volume(&docker, user, &name, account.uid, published.is_none())
                .await?;
            if published.is_some() && self.config.network == NetworkPolicy::None {
                return Err(self.failed(
                    user,
                    format!(
                        "its Docker engine {url} is reached over the network, so its sandboxes \
                         need a network: use --docker-network outbound"
                    ),
                ));
            }
            let network = match self.config.network {
                NetworkPolicy::Outbound => {
                    Some(self.network(&docker).await.map_err(|err| {
                        self.failed(user, format!("cannot make its network: {err}"))
                    })?)
                }
                NetworkPolicy::None => None,
            };
            // A container of an earlier run goes (the volume stays).
            let _ = docker
                .remove_container(
                    &name,
                    Some(RemoveContainerOptionsBuilder::default().force(true).build()),
                )
                .await;
            if let Some(mountpoint) = &mountpoint {
                let _ = std::fs::remove_file(mountpoint.join("daemon.sock"));
            }
            let listen = match &published {
                Some(_) => format!("0.0.0.0:{DAEMON_PORT}"),
                None => format!("unix:{DATA}/daemon.sock"),
            };
            let mut env = container_env(user, Some(&account.token), &self.config.env);
            if let (Some(gateway), Some(mountpoint)) = (&self.config.gateway, &mountpoint) {
                let told = gateway
                    .attach(
                        user,
                        &mountpoint.join(crate::gateway::SOCKET),
                        Some((account.uid, account.gid)),
                        &std::path::Path::new(DATA).join(crate::gateway::SOCKET),
                    )
                    .map_err(|err| self.failed(user, format!("its model gateway: {err}")))?;
                env.extend(
                    told.into_iter()
                        .map(|(name, value)| format!("{name}={value}")),
                );
            }
            let mut host_config = self.host_config(&name, network);
            if let (Some(builds), None) = (&self.config.app_builds, &published) {
                lend(&mut host_config, &mut env, builds);
            }
            if let Some(ip) = &published {
                host_config.port_bindings = Some(HashMap::from([(
                    format!("{DAEMON_PORT}/tcp"),
                    Some(vec![PortBinding {
                        host_ip: Some(ip.to_string()),
                        host_port: Some(String::new()),
                    }]),
                )]));
            }
            let body = ContainerCreateBody {
                image: Some(self.config.image.clone()),
                cmd: Some(vec![
                    "sh".into(),
                    "-c".into(),
                    start_script(user, &listen, ""),
                ]),
                exposed_ports: published
                    .is_some()
                    .then(|| vec![format!("{DAEMON_PORT}/tcp")]),
                env: Some(env),
                user: Some(format!("{}:{}", account.uid, account.gid)),
                working_dir: Some(DATA.into()),
                labels: Some(HashMap::from([
                    (INSTANCE_LABEL.to_owned(), self.config.instance.clone()),
                    (USER_LABEL.to_owned(), user.to_owned()),
                ])),
                host_config: Some(host_config),
                stop_timeout: Some(10),
                ..Default::default()
            };
            // Its id, not its name, from here on: a late signal for this run can never reach the
            // next run's container, which has the same name.
            let id = docker
                .create_container(
                    Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                    body,
                )
                .await
                .map_err(|err| self.failed(user, format!("cannot create its container: {err}")))?
                .id;
            docker
                .start_container(
                    &id,
                    None::<bollard::query_parameters::StartContainerOptions>,
                )
                .await
                .map_err(|err| {
                    self.failed(user, format!("its container would not start: {err}"))
                })?;
            let info = docker
                .inspect_container(
                    &id,
                    None::<bollard::query_parameters::InspectContainerOptions>,
                )
                .await
                .ok();
            let pid = info
                .as_ref()
                .and_then(|info| info.state.as_ref()?.pid)
                .and_then(|pid| u32::try_from(pid).ok());
            // On an engine of this host, the process backend's network policy, put in the
            // container's namespace before anything of the user's runs there.
            if self.config.network == NetworkPolicy::Outbound && published.is_none() {
                let policed = match pid {
                    Some(pid) => {
                        let allowed = self.config.allowed.clone();
                        tokio::task::spawn_blocking(move || {
                            super::namespaces::HeldProcess::new(pid)
                                .and_then(|process| {
                                    super::namespaces::police_container(&process, &allowed, None)
                                })
                                .map_err(|err| err.to_string())
                        })
                        .await
                        .unwrap_or_else(|err| Err(err.to_string()))
                    }
                    None => Err("its engine gave no process id".to_owned()),
                };
                if let Err(err) = policed {
                    let _ = docker
                        .remove_container(
                            &id,
                            Some(
                                bollard::query_parameters::RemoveContainerOptionsBuilder::default()
                                    .force(true)
                                    .build(),
                            ),
                        )
                        .await;
                    return Err(self.failed(
                        user,
                        format!("cannot put its network policy in place: {err}"),
                    ));
                }
            }
            let url = match (&published, &mountpoint) {
                (Some(ip), _) => {
                    let port = info
                        .as_ref()
                        .and_then(|info| info.network_settings.as_ref()?.ports.as_ref())
                        .and_then(|ports| ports.get(&format!("{DAEMON_PORT}/tcp"))?.as_ref())
                        .and_then(|bindings| bindings.first()?.host_port.clone())
                        .ok_or_else(|| self.failed(user, "its engine published no port for it"))?;
                    let host = match ip {
                        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                        v4 => v4.to_string(),
                    };
                    format!("http://{host}:{port}")
                }
                (None, Some(mountpoint)) => {
                    format!("unix:{}", mountpoint.join("daemon.sock").display())
                }
                (None, None) => return Err(self.failed(user, "it has no way to be reached")),
            };
            follow_logs(&docker, &id, log);
            let alive = Arc::new(AtomicBool::new(true));
            let (ended_tx, ended_rx) = tokio::sync::oneshot::channel();
            let wait_docker = docker.clone();
            let wait_name = id.clone();
            let wait_alive = alive.clone();
            tokio::spawn(async move {
                let exit = wait_exit(&wait_docker, &wait_name).await;
                wait_alive.store(false, Ordering::SeqCst);
                let _ = ended_tx.send(exit);
            });
            let signal_docker = docker.clone();
            let signal_name = id.clone();
            let check_alive = alive.clone();
            Ok(Launched {
                pid,
                uid: Some(account.uid),
                endpoint: Endpoint {
                    url,
                    token: account.token.clone(),
                    pid: pid.unwrap_or(0),
                    viewer: None,
                },
                exited: Box::pin(async move {
                    ended_rx.await.unwrap_or(Exit {
                        clean: false,
                        description: "lost track of its container".into(),
                    })
                }),
                signal: Box::new(move |signal| {
                    let docker = signal_docker.clone();
                    let name = signal_name.clone();
                    let signal = match signal {
                        StopSignal::Term => "SIGTERM",
                        StopSignal::Kill => "SIGKILL",
                    };
                    tokio::spawn(async move {
                        let options = KillContainerOptionsBuilder::default()
                            .signal(signal)
                            .build();
                        let _ = docker.kill_container(&name, Some(options)).await;
                    });
                }),
                alive: Box::new(move || check_alive.load(Ordering::SeqCst)),
            })
        })
    }

    fn exec<'a>(
        &'a self,
        user: &'a str,
        args: &'a [String],
    ) -> BoxFuture<'a, Result<Execution, SandboxError>> {
        Box::pin(async move {
            let name = self.names(user)?;
            let account = self.accounts.get_or_create(user).await?;
            let (_, docker) = self.engine(user).await?;
            let env = container_env(user, None, &self.config.env);
            exec_choir(docker, &name, user, (account.uid, account.gid), args, env).await
        })
    }

    fn clean_up<'a>(&'a self, user: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let (Ok(name), Ok((_, docker))) = (self.names(user), self.engine_of(user, false).await)
            else {
                return;
            };
            // The container goes, with whatever still ran in it; the volume stays.
            let options = RemoveContainerOptionsBuilder::default().force(true).build();
            if let Err(err) = docker.remove_container(&name, Some(options)).await {
                if !matches!(
                    err,
                    bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }
                ) {
                    tracing::warn!(user, %err, "cannot remove a sandbox's container");
                }
            }
        })
    }

    fn users(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move {
            let mut users = Vec::new();
            let filters = HashMap::from([(
                "label".to_owned(),
                vec![format!("{INSTANCE_LABEL}={}", self.config.instance)],
            )]);
            for engine in &self.engines {
                let Ok(docker) = &engine.docker else { continue };
                let options = ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build();
                if let Ok(containers) = docker.list_containers(Some(options)).await {
                    users.extend(
                        containers
                            .into_iter()
                            .filter_map(|container| container.labels?.get(USER_LABEL).cloned()),
                    );
                }
            }
            users.sort();
            users.dedup();
            users
        })
    }

    fn usage<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Usage> {
        Box::pin(async move {
            // Never placed: never ran; nothing to ask an engine.
            let (Ok(name), Ok((_, docker))) = (self.names(user), self.engine_of(user, false).await)
            else {
                return Usage::default();
            };
            let uid = self
                .accounts
                .get_or_create(user)
                .await
                .ok()
                .map(|account| account.uid);
            let (memory, processes) = container_usage(&docker, &name).await;
            Usage {
                uid,
                memory,
                processes,
            }
        })
    }
}

/// What a container uses now: memory (as `docker stats` counts it, without the page cache the
/// kernel can drop) and processes.
pub(super) async fn container_usage(docker: &Docker, container: &str) -> (Option<u64>, usize) {
    let options = StatsOptionsBuilder::default()
        .stream(false)
        .one_shot(true)
        .build();
    let Some(Ok(stats)) = docker.stats(container, Some(options)).next().await else {
        return (None, 0);
    };
    let memory = stats.memory_stats.and_then(|memory| {
        let inactive = memory.stats.as_ref().and_then(|stats| {
            stats
                .get("total_inactive_file")
                .or_else(|| stats.get("inactive_file"))
                .copied()
        });
        Some(memory.usage?.saturating_sub(inactive.unwrap_or(0)))
    });
    let processes = stats
        .pids_stats
        .and_then(|pids| pids.current)
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0);
    (memory, processes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_elsewhere_are_reached_on_their_host() {
        assert_eq!(published_host("unix:///var/run/docker.sock"), None);
        assert_eq!(published_host("/var/run/docker.sock"), None);
        assert_eq!(published_host("tcp://10.0.0.5:2376"), Some("10.0.0.5"));
        assert_eq!(
            published_host("tcp://docker-b.lan:2375/"),
            Some("docker-b.lan")
        );
        assert_eq!(
            published_host("ssh://ops@docker-c.lan:2222"),
            Some("docker-c.lan")
        );
        assert_eq!(published_host("tcp://[fd00::5]:2376"), Some("fd00::5"));
    }
}
