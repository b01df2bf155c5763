//! The `swarm` backend: each sandbox is a Docker Swarm service of one replica, created through
//! a manager of the Swarm. Swarm places it (a constraint pins it to the node that holds the
//! user's volume, chosen when the user is first seen) and restarts it after a failure; the
//! hypervisor follows the service's task to know where its daemon runs, and reaches it on the
//! port the task publishes on its node (host mode: no routing mesh). The confinement is the
//! docker backend's: a uid of the user's own, a read-only root, a private `/tmp`, every
//! capability dropped, no-new-privileges (asked of the daemon, as Swarm's API cannot before
//! 1.44), an init process, memory, CPU and process limits.
//!
//! The service, not the hypervisor, owns the sandbox: every hypervisor of a shared database
//! finds it by name, so one that stops leaves it running for the others.
//!
//! Every node's engine is named by `--docker-host` too: the hypervisor prepares the user's
//! volume there, runs commands in the sandbox (`exec` goes to a node's engine, not to a
//! manager), follows its output and reads its usage.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum,
    EndpointSpec, EndpointSpecModeEnum, HostConfig, Limit, Mount, MountTmpfsOptions, MountType,
    MountVolumeOptions, NodeSpecAvailabilityEnum, NodeState, ResourceObject, ResourcesUlimits,
    ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated, TaskSpec, TaskSpecContainerSpec,
    TaskSpecLogDriver, TaskSpecPlacement, TaskSpecResources, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum, TaskState, VolumeCreateRequest,
};
use bollard::query_parameters::{
    KillContainerOptionsBuilder, ListServicesOptionsBuilder, ListTasksOptionsBuilder,
};
use bollard::Docker;
use choir_proto::Endpoint;
use futures_util::StreamExt;
use sqlx::Row;

use super::accounts::{Account, Accounts};
use super::docker::{
    connect, container_env, container_usage, exec_choir, follow_logs, hand_over, start_script,
    wait_exit, DAEMON_PORT, DATA, INSTANCE_LABEL, USER_LABEL,
};
use super::limits::Limits;
use super::namespaces::{police_container, HeldProcess};
use super::{
    Backend, BoxFuture, Execution, Exit, Isolation, Launched, LogTail, SandboxError, StopSignal,
    Usage,
};
use crate::db::Pool;
use crate::users::valid_name;

/// How long an engine has to answer when first reached, and to a ping.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// An engine that did not answer is asked again after this long, not at every lookup.
const RETRY_ENGINE: Duration = Duration::from_secs(5);
/// How long Swarm has to get a new task running before the launch gives up (and says why).
const TASK_TIMEOUT: Duration = Duration::from_secs(15);
/// How often a task is looked at while it starts, and while it runs.
const TASK_POLL: Duration = Duration::from_millis(100);
const TASK_WATCH: Duration = Duration::from_secs(2);
/// What an idle daemon needs, reserved on its node so that Swarm does not crowd it out; the
/// limits are its ceiling.
const RESERVED_MEMORY: i64 = 64 << 20;
const RESERVED_NANO_CPUS: i64 = 50_000_000;

/// How to run sandboxes as Swarm services.
#[derive(Debug, Clone)]
pub struct SwarmConfig {
    /// The engine of every node that may hold sandboxes, a manager among them.
    pub engines: Vec<String>,
    /// Names this deployment's services and volumes (`NAME-USER`): the same on every
    /// hypervisor that shares the database.
    pub name: String,
    /// `choir-sandbox:<version>`, on every node.
    pub image: String,
    pub limits: Limits,
    pub cpus: f64,
    /// Ranges sandboxes may reach all the same (`--allow-net`), on nodes of this host.
    pub allowed: Vec<String>,
    /// Environment for every daemon (the agent's settings).
    pub env: Vec<(String, String)>,
}

/// An engine given by `--docker-host`, and what it said about itself once it answered.
struct Engine {
    url: String,
    known: tokio::sync::Mutex<Reached>,
}

/// What asking an engine about itself gave.
enum Reached {
    NotYet,
    Known(Known),
    /// It did not answer then: asked again only after [`RETRY_ENGINE`].
    Failed(tokio::time::Instant, String),
}

#[derive(Clone)]
struct Known {
    docker: Docker,
    node: String,
    manager: bool,
}

/// The task that runs a sandbox now.
struct Task {
    id: String,
    node: String,
    container: String,
    port: u16,
}

pub struct SwarmBackend {
    config: SwarmConfig,
    accounts: Accounts,
    pool: Pool,
    engines: Vec<Engine>,
}

impl SwarmBackend {
    /// Reaches every engine that answers (one that does not is tried again when needed) and
    /// checks that a manager is among them.
    pub async fn new(
        config: SwarmConfig,
        accounts: Accounts,
        pool: Pool,
    ) -> Result<Arc<Self>, String> {
        crate::db::create(
            &pool,
            &["CREATE TABLE IF NOT EXISTS swarm_placement (\"user\" TEXT PRIMARY KEY, node TEXT NOT NULL)"],
        )
        .await
        .map_err(|err| format!("the database: {err}"))?;
        let engines = config
            .engines
            .iter()
            .map(|url| Engine {
                url: url.clone(),
                known: tokio::sync::Mutex::new(Reached::NotYet),
            })
            .collect();
        let backend = Arc::new(Self {
            config,
            accounts,
            pool,
            engines,
        });
        // Each engine once now, so that the start-up warnings name those that do not answer.
        futures_util::future::join_all(backend.engines.iter().map(|engine| backend.known(engine)))
            .await;
        backend.manager().await?;
        // Every container a sandbox's task starts on an engine of this host is policed at
        // once, whether Swarm restarted it on its own or a hypervisor asked for it.
        for engine in &backend.engines {
            tokio::spawn(police_new_tasks(
                Arc::downgrade(&backend),
                engine.url.clone(),
            ));
        }
        Ok(backend)
    }

    fn service_name(&self, user: &str) -> Result<String, SandboxError> {
        if !valid_name(user) {
            return Err(SandboxError::BadName(user.to_owned()));
        }
        Ok(format!("{}-{user}", self.config.name))
    }

    fn failed(&self, user: &str, message: impl std::fmt::Display) -> SandboxError {
        SandboxError::Backend {
            user: user.to_owned(),
            message: message.to_string(),
        }
    }

    /// The sandbox's node is away: it waits for it, no crash counted.
    fn away(&self, user: &str, message: String) -> SandboxError {
        SandboxError::Unavailable {
            user: user.to_owned(),
            message,
        }
    }

    /// What `engine` says about itself, asking it if it has not answered yet.
    async fn known(&self, engine: &Engine) -> Result<Known, String> {
        let mut known = engine.known.lock().await;
        match &*known {
            Reached::Known(known) => return Ok(known.clone()),
            Reached::Failed(at, why) if at.elapsed() < RETRY_ENGINE => return Err(why.clone()),
            _ => {}
        }
        let reached = tokio::time::timeout(CONNECT_TIMEOUT, async {
            let docker = connect(&engine.url).await?;
            let info = docker
                .info()
                .await
                .map_err(|err| format!("{}: {err}", engine.url))?;
            let swarm = info.swarm.unwrap_or_default();
            let node = swarm
                .node_id
                .filter(|id| !id.is_empty())
                .ok_or_else(|| format!("{} is not part of a Swarm", engine.url))?;
            Ok(Known {
                docker,
                node,
                manager: swarm.control_available.unwrap_or(false),
            })
        })
        .await
        .unwrap_or_else(|_| Err(format!("{} did not answer", engine.url)));
        *known = match &reached {
            Ok(found) => Reached::Known(found.clone()),
            Err(why) => Reached::Failed(tokio::time::Instant::now(), why.clone()),
        };
        reached
    }

    /// An engine of a Swarm manager that answers.
    async fn manager(&self) -> Result<Docker, String> {
        let mut why = Vec::new();
        for engine in &self.engines {
            match self.known(engine).await {
                Ok(known) if known.manager => match ping(&known.docker).await {
                    Ok(()) => return Ok(known.docker),
                    Err(err) => why.push(format!("{}: {err}", engine.url)),
                },
                Ok(_) => {}
                Err(err) => why.push(err),
            }
        }
        Err(format!(
            "no Swarm manager answers among the --docker-host engines{}",
            if why.is_empty() {
                String::new()
            } else {
                format!(" ({})", why.join("; "))
            }
        ))
    }

    /// The engine of the node `node`, for `user`'s sandbox: one that does not answer is away
    /// (the sandbox waits for it), one not named is the operator's to fix.
    async fn node_engine(&self, user: &str, node: &str) -> Result<Docker, SandboxError> {
        for engine in &self.engines {
            if let Ok(known) = self.known(engine).await {
                if known.node == node {
                    return match ping(&known.docker).await {
                        Ok(()) => Ok(known.docker),
                        Err(err) => Err(self.away(
                            user,
                            format!(
                                "the engine of its Swarm node {node} ({}) does not answer: {err}",
                                engine.url
                            ),
                        )),
                    };
                }
            }
        }
        Err(self.failed(
            user,
            format!(
                "no --docker-host engine is that of Swarm node {node}: name it, so that the \
                 hypervisor can prepare volumes and run commands there"
            ),
        ))
    }

    /// The nodes whose engines answer.
    async fn known_nodes(&self) -> Vec<String> {
        let mut nodes = Vec::new();
        for engine in &self.engines {
            if let Ok(known) = self.known(engine).await {
                nodes.push(known.node);
            }
        }
        nodes
    }

    /// The node that holds `user`'s volume; a user never placed is placed, if `place`, on the
    /// ready, active node with the fewest users (one whose engine answers).
    async fn node_of(&self, user: &str, place: bool) -> Result<String, SandboxError> {
        let placed = || async {
            sqlx::query("SELECT node FROM swarm_placement WHERE \"user\" = $1")
                .bind(user)
                .fetch_optional(&self.pool)
                .await
                .map_err(|err| self.failed(user, err))?
                .map(|row| row.try_get::<String, _>(0))
                .transpose()
                .map_err(|err| self.failed(user, err))
        };
        if let Some(node) = placed().await? {
            return Ok(node);
        }
        if !place {
            return Err(SandboxError::NotRunning(user.to_owned()));
        }
        let manager = self.manager().await.map_err(|err| self.failed(user, err))?;
        let reachable = self.known_nodes().await;
        let mut candidates: Vec<(String, String)> = manager
            .list_nodes(None::<bollard::query_parameters::ListNodesOptions>)
            .await
            .map_err(|err| self.failed(user, format!("the Swarm manager: {err}")))?
            .into_iter()
            .filter(|node| {
                node.status.as_ref().and_then(|status| status.state) == Some(NodeState::READY)
                    && node.spec.as_ref().and_then(|spec| spec.availability)
                        == Some(NodeSpecAvailabilityEnum::ACTIVE)
            })
            .filter_map(|node| {
                let addr = node.status?.addr.unwrap_or_default();
                Some((node.id?, addr))
            })
            .filter(|(id, _)| reachable.contains(id))
            .collect();
        // The same choice whichever hypervisor makes it, for the same counts.
        candidates.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        let counts = sqlx::query("SELECT node, COUNT(*) FROM swarm_placement GROUP BY node")
            .fetch_all(&self.pool)
            .await
            .map_err(|err| self.failed(user, err))?;
        let count = |id: &str| {
            counts
                .iter()
                .find(|row| row.try_get::<String, _>(0).is_ok_and(|node| node == id))
                .and_then(|row| row.try_get::<i64, _>(1).ok())
                .unwrap_or(0)
        };
        let (best, _) = candidates
            .iter()
            .min_by_key(|(id, _)| count(id))
            .ok_or_else(|| {
                self.failed(
                    user,
                    "no Swarm node is ready and active with an engine that answers",
                )
            })?;
        // Two hypervisors placing the same user at once: the first choice stands.
        sqlx::query(
            "INSERT INTO swarm_placement (\"user\", node) VALUES ($1, $2) \
             ON CONFLICT (\"user\") DO NOTHING",
        )
        .bind(user)
        .bind(best)
        .execute(&self.pool)
        .await
        .map_err(|err| self.failed(user, err))?;
        let node = placed()
            .await?
            .ok_or_else(|| self.failed(user, "its placement was not kept"))?;
        tracing::info!(user, node, "placed a new sandbox on a Swarm node");
        Ok(node)
    }

    /// Why `node` cannot run a sandbox now, if it cannot; and its address.
    async fn node_state(
        &self,
        manager: &Docker,
        user: &str,
        node: &str,
    ) -> Result<String, SandboxError> {
        let found = manager.inspect_node(node).await.map_err(|err| {
            self.failed(
                user,
                format!("its data is on Swarm node {node}, which the Swarm does not know ({err})"),
            )
        })?;
        let addr = found
            .status
            .as_ref()
            .and_then(|status| status.addr.clone())
            .unwrap_or_default();
        let state = found.status.as_ref().and_then(|status| status.state);
        let availability = found.spec.as_ref().and_then(|spec| spec.availability);
        if state != Some(NodeState::READY) {
            let state = state.map_or("unknown".to_owned(), |state| state.to_string());
            return Err(self.away(
                user,
                format!(
                    "its data is on Swarm node {addr} ({node}), which is {state}: a volume lives \
                     on one node, so the sandbox waits for that node to come back"
                ),
            ));
        }
        if availability == Some(NodeSpecAvailabilityEnum::DRAIN) {
            return Err(self.away(
                user,
                format!(
                    "its data is on Swarm node {addr} ({node}), which is drained: the sandbox \
                     starts again once the node is active (docker node update --availability \
                     active)"
                ),
            ));
        }
        Ok(addr)
    }

    /// The task running the service now, if one runs.
    async fn running_task(&self, manager: &Docker, service: &str) -> Result<Option<Task>, String> {
        let tasks = tasks_meant_to_run(manager, service)
            .await
            .map_err(|err| err.to_string())?;
        let mut why = None;
        for task in tasks {
            let status = task.status.unwrap_or_default();
            if status.state == Some(TaskState::RUNNING) {
                let container = status
                    .container_status
                    .and_then(|status| status.container_id);
                let port = status
                    .port_status
                    .and_then(|ports| ports.ports)
                    .unwrap_or_default()
                    .into_iter()
                    .find(|port| port.target_port == Some(i64::from(DAEMON_PORT)))
                    .and_then(|port| port.published_port)
                    .and_then(|port| u16::try_from(port).ok());
                if let (Some(id), Some(node), Some(container), Some(port)) =
                    (task.id, task.node_id, container, port)
                {
                    return Ok(Some(Task {
                        id,
                        node,
                        container,
                        port,
                    }));
                }
            } else {
                why = status.err.or(status.message);
            }
        }
        match why {
            Some(why) if !why.is_empty() => Err(why),
            _ => Ok(None),
        }
    }

    /// The service Swarm runs for `user`, created pinned to `node` unless one is there with a
    /// task meant to run (another hypervisor's, or one this hypervisor left).
    async fn ensure_service(
        &self,
        manager: &Docker,
        user: &str,
        service: &str,
        node: &str,
        account: &Account,
    ) -> Result<String, SandboxError> {
        if let Ok(found) = manager
            .inspect_service(
                service,
                None::<bollard::query_parameters::InspectServiceOptions>,
            )
            .await
        {
            // A service of that name that is not this deployment's sandbox of this user is
            // neither used nor removed.
            let labels = found
                .spec
                .as_ref()
                .and_then(|spec| spec.labels.clone())
                .unwrap_or_default();
            if labels != self.labels(user) {
                return Err(self.failed(
                    user,
                    format!("a Swarm service named {service} is there that is not its sandbox: rename or remove it"),
                ));
            }
            let id = found
                .id
                .ok_or_else(|| self.failed(user, "its service has no id"))?;
            // One just made by another hypervisor may have no task yet: asked twice.
            for attempt in 0..2 {
                if self.tasks_meant(manager, user, service).await? {
                    return Ok(id);
                }
                if attempt == 0 {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            // Ended for good (stopped cleanly, or Swarm gave up restarting it): anew.
            let _ = manager.delete_service(&id).await;
        }
        self.prepare_volume(user, service, node, account.uid)
            .await?;
        match manager
            .create_service(self.spec(user, service, node, account), None)
            .await
        {
            Ok(created) => created
                .id
                .ok_or_else(|| self.failed(user, "Swarm gave its service no id")),
            // Made meanwhile by another hypervisor.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => manager
                .inspect_service(
                    service,
                    None::<bollard::query_parameters::InspectServiceOptions>,
                )
                .await
                .ok()
                .and_then(|found| found.id)
                .ok_or_else(|| self.failed(user, "its service came and went")),
            Err(err) => Err(self.failed(user, format!("cannot create its service: {err}"))),
        }
    }

    /// Whether a task of the service is meant to run (running, or on its way).
    async fn tasks_meant(
        &self,
        manager: &Docker,
        user: &str,
        service: &str,
    ) -> Result<bool, SandboxError> {
        let meant = tasks_meant_to_run(manager, service)
            .await
            .map_err(|err| self.failed(user, format!("the Swarm manager: {err}")))?;
        Ok(!meant.is_empty())
    }

    /// The user's volume on `node`, created if new and handed to `uid`; the image checked.
    async fn prepare_volume(
        &self,
        user: &str,
        volume: &str,
        node: &str,
        uid: u32,
    ) -> Result<(), SandboxError> {
        let docker = self.node_engine(user, node).await?;
        docker
            .inspect_image(&self.config.image)
            .await
            .map_err(|_| {
                self.failed(
                    user,
                    format!(
                    "the image {} is not on Swarm node {node}: run `choir-hypervisor image build` \
                     with that node's engine",
                    self.config.image
                ),
                )
            })?;
        match docker.inspect_volume(volume).await {
            // Handed over only if it is this deployment's volume of this user: a volume of
            // that name made by anything else (another deployment, the docker backend) is
            // another's data.
            Ok(found) if found.labels != self.labels(user) => {
                return Err(self.failed(
                    user,
                    format!("a volume named {volume} is on Swarm node {node} that is not its own: rename or remove it"),
                ))
            }
            Ok(_) => {}
            Err(_) => {
                docker
                    .create_volume(VolumeCreateRequest {
                    name: Some(volume.to_owned()),
                    labels: Some(self.labels(user)),
                    ..Default::default()
                })
                .await
                .map_err(|err| self.failed(user, format!("cannot create its volume: {err}")))?;
            }
        }
        let host = HostConfig {
            mounts: Some(vec![volume_mount(volume)]),
            network_mode: Some("none".to_owned()),
            readonly_rootfs: Some(true),
            security_opt: Some(vec!["no-new-privileges".to_owned()]),
            ..Default::default()
        };
        hand_over(&docker, &self.config.image, &self.config.name, host, uid)
            .await
            .map_err(|err| self.failed(user, format!("cannot hand its volume over: {err}")))
    }

    fn labels(&self, user: &str) -> HashMap<String, String> {
        HashMap::from([
            (INSTANCE_LABEL.to_owned(), self.config.name.clone()),
            (USER_LABEL.to_owned(), user.to_owned()),
        ])
    }

    /// The service: one replica of the daemon, pinned to `node`, confined as the docker
    /// backend's containers are.
    fn spec(&self, user: &str, service: &str, node: &str, account: &Account) -> ServiceSpec {
        let limits = self.config.limits;
        let int = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        let ulimit = |name: &str, value: u64| ResourcesUlimits {
            name: Some(name.to_owned()),
            soft: Some(int(value)),
            hard: Some(int(value)),
        };
        let seconds = |secs: i64| secs * 1_000_000_000;
        let listen = format!("0.0.0.0:{DAEMON_PORT}");
        ServiceSpec {
            name: Some(service.to_owned()),
            labels: Some(self.labels(user)),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated { replicas: Some(1) }),
                ..Default::default()
            }),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some(self.config.image.clone()),
                    labels: Some(self.labels(user)),
                    command: Some(vec![
                        "sh".into(),
                        "-c".into(),
                        start_script(user, &listen, " --no-new-privileges"),
                    ]),
                    hostname: Some(user.to_owned()),
                    env: Some(container_env(user, Some(&account.token), &self.config.env)),
                    dir: Some(DATA.to_owned()),
                    user: Some(format!("{}:{}", account.uid, account.gid)),
                    read_only: Some(true),
                    mounts: Some(vec![
                        volume_mount(service),
                        Mount {
                            target: Some("/tmp".to_owned()),
                            typ: Some(MountType::TMPFS),
                            tmpfs_options: Some(MountTmpfsOptions {
                                size_bytes: Some(512 << 20),
                                mode: Some(0o1777),
                                ..Default::default()
                            }),
                            ..Default::default()
                        },
                    ]),
                    stop_grace_period: Some(seconds(10)),
                    init: Some(true),
                    capability_drop: Some(vec!["ALL".to_owned()]),
                    ulimits: Some(vec![
                        ulimit("nofile", limits.files),
                        ulimit("fsize", limits.file_size),
                        ulimit("core", 0),
                    ]),
                    ..Default::default()
                }),
                resources: Some(TaskSpecResources {
                    limits: Some(Limit {
                        nano_cpus: Some((self.config.cpus * 1e9) as i64),
                        memory_bytes: Some(int(limits.memory)),
                        pids: Some(int(limits.procs)),
                    }),
                    reservations: Some(ResourceObject {
                        nano_cpus: Some(RESERVED_NANO_CPUS.min((self.config.cpus * 1e9) as i64)),
                        memory_bytes: Some(RESERVED_MEMORY.min(int(limits.memory))),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                restart_policy: Some(TaskSpecRestartPolicy {
                    condition: Some(TaskSpecRestartPolicyConditionEnum::ON_FAILURE),
                    delay: Some(seconds(1)),
                    max_attempts: Some(3),
                    window: Some(seconds(60)),
                }),
                placement: Some(TaskSpecPlacement {
                    constraints: Some(vec![format!("node.id=={node}")]),
                    ..Default::default()
                }),
                // What the daemon prints is kept, but not without bound.
                log_driver: Some(TaskSpecLogDriver {
                    name: Some("local".to_owned()),
                    options: Some(HashMap::from([
                        ("max-size".to_owned(), "10m".to_owned()),
                        ("max-file".to_owned(), "2".to_owned()),
                    ])),
                }),
                ..Default::default()
            }),
            // No IPVS is needed: no virtual IP, and the port is published on the task's node.
            endpoint_spec: Some(EndpointSpec {
                mode: Some(EndpointSpecModeEnum::DNSRR),
                ports: Some(vec![EndpointPortConfig {
                    protocol: Some(EndpointPortConfigProtocolEnum::TCP),
                    target_port: Some(i64::from(DAEMON_PORT)),
                    publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
                    ..Default::default()
                }]),
            }),
            ..Default::default()
        }
    }

    /// Waits until Swarm runs the service's task; why not, if it does not in time.
    async fn task_running(
        &self,
        manager: &Docker,
        user: &str,
        service: &str,
        node: &str,
    ) -> Result<Task, SandboxError> {
        let deadline = tokio::time::Instant::now() + TASK_TIMEOUT;
        let mut why = String::from("no task was scheduled");
        loop {
            match self.running_task(manager, service).await {
                Ok(Some(task)) => return Ok(task),
                Ok(None) => {}
                Err(reason) => why = reason,
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(self.failed(
                    user,
                    format!(
                        "Swarm did not start its task within {} s: {why}",
                        TASK_TIMEOUT.as_secs()
                    ),
                ));
            }
            // A node lost meanwhile: say so now rather than at the deadline.
            if why.contains("no suitable node") {
                self.node_state(manager, user, node).await?;
            }
            tokio::time::sleep(TASK_POLL).await;
        }
    }
}

fn volume_mount(volume: &str) -> Mount {
    Mount {
        target: Some(DATA.to_owned()),
        source: Some(volume.to_owned()),
        typ: Some(MountType::VOLUME),
        // The image's /data is not copied in: that would give the volume back to root.
        volume_options: Some(MountVolumeOptions {
            no_copy: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Watches the engine at `url` for containers of this deployment's sandboxes starting, and
/// puts the network policy into those of this host (see [`police`]), for as long as the
/// backend lives; an engine away is watched again once it answers.
async fn police_new_tasks(backend: std::sync::Weak<SwarmBackend>, url: String) {
    loop {
        let Some(found) = backend.upgrade() else {
            return;
        };
        let engine = found.engines.iter().find(|engine| engine.url == url);
        let (docker, name, allowed) = match engine {
            Some(engine) => match found.known(engine).await {
                Ok(known) => (
                    known.docker,
                    found.config.name.clone(),
                    found.config.allowed.clone(),
                ),
                Err(_) => {
                    drop(found);
                    tokio::time::sleep(RETRY_ENGINE).await;
                    continue;
                }
            },
            None => return,
        };
        drop(found);
        let filters = HashMap::from([
            ("type", vec!["container".to_owned()]),
            ("event", vec!["start".to_owned()]),
            ("label", vec![format!("{INSTANCE_LABEL}={name}")]),
        ]);
        let options = bollard::query_parameters::EventsOptionsBuilder::default()
            .filters(&filters)
            .build();
        let mut events = docker.events(Some(options));
        while let Some(Ok(event)) = events.next().await {
            let Some(actor) = event.actor else { continue };
            // A sandbox's, not a one-shot container handing a volume over.
            let sandbox = actor
                .attributes
                .as_ref()
                .is_some_and(|labels| labels.contains_key(USER_LABEL));
            if let (true, Some(id)) = (sandbox, actor.id) {
                if let Err(err) = police(&docker, &id, &allowed).await {
                    tracing::warn!(container = id, %err, "cannot police a Swarm sandbox's container");
                }
            }
            if backend.strong_count() == 0 {
                return;
            }
        }
        tokio::time::sleep(RETRY_ENGINE).await;
    }
}

/// Puts the network policy into `container`'s namespace if its process is one of this host's
/// (see [`HeldProcess::of_container`]): its pid then, `None` for a container elsewhere.
async fn police(
    docker: &Docker,
    container: &str,
    allowed: &[String],
) -> Result<Option<u32>, String> {
    let info = docker
        .inspect_container(
            container,
            None::<bollard::query_parameters::InspectContainerOptions>,
        )
        .await
        .map_err(|err| format!("its container: {err}"))?;
    let Some((pid, process)) = info
        .state
        .as_ref()
        .and_then(|state| state.pid)
        .and_then(|pid| u32::try_from(pid).ok())
        .filter(|pid| *pid > 0)
        .and_then(|pid| HeldProcess::of_container(pid, container).map(|held| (pid, held)))
    else {
        return Ok(None);
    };
    let allowed = allowed.to_vec();
    tokio::task::spawn_blocking(move || {
        police_container(&process, &allowed, Some(DAEMON_PORT)).map_err(|err| err.to_string())
    })
    .await
    .unwrap_or_else(|err| Err(err.to_string()))
    .map(|()| Some(pid))
}

/// The service's tasks meant to run (running, or on their way).
async fn tasks_meant_to_run(
    manager: &Docker,
    service: &str,
) -> Result<Vec<bollard::models::Task>, bollard::errors::Error> {
    let filters = HashMap::from([
        ("service".to_owned(), vec![service.to_owned()]),
        ("desired-state".to_owned(), vec!["running".to_owned()]),
    ]);
    manager
        .list_tasks(Some(
            ListTasksOptionsBuilder::default().filters(&filters).build(),
        ))
        .await
}

/// Whether the engine answers, within [`PING_TIMEOUT`].
async fn ping(docker: &Docker) -> Result<(), String> {
    match tokio::time::timeout(PING_TIMEOUT, docker.ping()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(err)) => Err(err.to_string()),
        Err(_) => Err(format!("no answer within {} s", PING_TIMEOUT.as_secs())),
    }
}

/// Waits until the task is no longer meant to run (its service removed, Swarm moved on, its
/// node lost): how it ended. An end that is no fault of the sandbox's is clean (no crash is
/// counted).
async fn task_ended(manager: Docker, task: String, node: String) -> Exit {
    let away = |description: &str| Exit {
        clean: true,
        description: description.to_owned(),
    };
    loop {
        tokio::time::sleep(TASK_WATCH).await;
        match manager.inspect_task(&task).await {
            Ok(found) => {
                let status = found.status.unwrap_or_default();
                if status.state != Some(TaskState::RUNNING) {
                    let code = status.container_status.and_then(|status| status.exit_code);
                    return Exit {
                        clean: code == Some(0),
                        description: match (code, status.err) {
                            (_, Some(err)) if !err.is_empty() => format!("its task ended: {err}"),
                            (Some(code), _) => format!("exit status {code}"),
                            (None, _) => "its task ended".to_owned(),
                        },
                    };
                }
                // Swarm has decided to stop it (its node drained or lost, the service
                // changed) though its node has not said so yet.
                if found
                    .desired_state
                    .is_some_and(|state| state != TaskState::RUNNING)
                {
                    return away("Swarm stopped its task");
                }
            }
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => return away("its service was removed"),
            // A manager that does not answer for a moment: the container's wait decides.
            Err(_) => continue,
        }
        // A node that is lost cannot say its container ended.
        if let Ok(found) = manager.inspect_node(&node).await {
            if found.status.and_then(|status| status.state) != Some(NodeState::READY) {
                return away("its Swarm node is down");
            }
        }
    }
}

impl Backend for SwarmBackend {
    fn isolation(&self) -> Isolation {
        let limits = self.config.limits;
        let mut warnings = Vec::new();
        for engine in &self.engines {
            if let Ok(known) = engine.known.try_lock() {
                if !matches!(*known, Reached::Known(_)) {
                    warnings.push(format!(
                        "Docker engine {} does not answer (or is not part of a Swarm): the \
                         users of its node wait for it",
                        engine.url
                    ));
                }
            }
        }
        warnings.push(
            "on Swarm nodes of other hosts, the outbound network lets sandboxes reach that \
             host's services, its local network, cloud metadata addresses and each other (the \
             default bridge): firewall Docker's DOCKER-USER chain there (containers of nodes of \
             this host get the nftables policy)"
                .into(),
        );
        warnings.push(
            "Swarm sandboxes have no model gateway and cannot build apps (both need a node of \
             this host's engine): give agents a model through their environment"
                .into(),
        );
        Isolation {
            backend: "swarm".into(),
            confined: vec![
                format!(
                    "a Swarm service per user (one replica, pinned to the node of its volume, \
                     restarted by Swarm on failure) through {} engine(s), image {}",
                    self.engines.len(),
                    self.config.image
                ),
                "own uid and gid per user, read-only root, private /tmp, all capabilities \
                 dropped, no-new-privileges, init"
                    .into(),
                format!(
                    "limits: {} processes, {} memory, {} CPUs, {} open files",
                    limits.procs,
                    crate::units::format_size(limits.memory),
                    self.config.cpus,
                    limits.files
                ),
                "network: outbound, the daemon reached on a port its node publishes; on nodes \
                 of this host the internet only (nftables in each container: not the host, its \
                 private networks, metadata addresses or other sandboxes)"
                    .into(),
            ],
            warnings,
        }
    }

    fn shared(&self) -> bool {
        true
    }

    fn launch<'a>(
        &'a self,
        user: &'a str,
        log: &'a LogTail,
    ) -> BoxFuture<'a, Result<Launched, SandboxError>> {
        Box::pin(async move {
            let service = self.service_name(user)?;
            let account = self.accounts.get_or_create(user).await?;
            let node = self.node_of(user, true).await?;
            let manager = self.manager().await.map_err(|err| self.failed(user, err))?;
            self.node_state(&manager, user, &node).await?;
            let service_id = self
                .ensure_service(&manager, user, &service, &node, &account)
                .await?;
            let task = self.task_running(&manager, user, &service, &node).await?;
            let docker = self.node_engine(user, &task.node).await?;
            let addr = self.node_state(&manager, user, &task.node).await?;
            // On a node of this host, the process backend's network policy, put in the
            // container's namespace before the daemon is routed to (again, if the watcher of
            // new tasks was first: the same ruleset replaces itself).
            let pid = match police(&docker, &task.container, &self.config.allowed).await {
                Ok(pid) => pid,
                Err(err) => {
                    let _ = manager.delete_service(&service_id).await;
                    return Err(self.failed(
                        user,
                        format!("cannot put its network policy in place: {err}"),
                    ));
                }
            };
            follow_logs(&docker, &task.container, log);
            let host = match addr.parse::<std::net::IpAddr>() {
                Ok(std::net::IpAddr::V6(v6)) => format!("[{v6}]"),
                _ => addr.clone(),
            };
            tracing::info!(
                user,
                node = task.node,
                addr,
                port = task.port,
                "following a Swarm task"
            );

            let alive = Arc::new(AtomicBool::new(true));
            let (ended_tx, ended_rx) = tokio::sync::oneshot::channel();
            let (wait_docker, wait_manager) = (docker.clone(), manager.clone());
            let (container, task_id, task_node) =
                (task.container.clone(), task.id.clone(), task.node.clone());
            let wait_alive = alive.clone();
            tokio::spawn(async move {
                let exit = tokio::select! {
                    exit = wait_exit(&wait_docker, &container) => match exit.description.starts_with("lost track") {
                        // The node's engine went away, not the daemon.
                        true => Exit { clean: true, description: "its node's engine stopped answering".into() },
                        false => exit,
                    },
                    exit = task_ended(wait_manager, task_id, task_node) => exit,
                };
                wait_alive.store(false, Ordering::SeqCst);
                let _ = ended_tx.send(exit);
            });
            let check_alive = alive.clone();
            let container = task.container.clone();
            Ok(Launched {
                pid,
                uid: Some(account.uid),
                endpoint: Endpoint {
                    url: format!("http://{host}:{}", task.port),
                    token: account.token.clone(),
                    pid: pid.unwrap_or(0),
                    viewer: None,
                },
                exited: Box::pin(async move {
                    ended_rx.await.unwrap_or(Exit {
                        clean: false,
                        description: "lost track of its task".into(),
                    })
                }),
                // By the service's id: a late signal never reaches a later service of the
                // same name.
                signal: Box::new(move |signal| {
                    let (manager, docker) = (manager.clone(), docker.clone());
                    let (service_id, container) = (service_id.clone(), container.clone());
                    tokio::spawn(async move {
                        if signal == StopSignal::Kill {
                            let options = KillContainerOptionsBuilder::default()
                                .signal("SIGKILL")
                                .build();
                            let _ = docker.kill_container(&container, Some(options)).await;
                        }
                        // Swarm stops its task: SIGTERM, SIGKILL after the grace period.
                        if let Err(err) = manager.delete_service(&service_id).await {
                            tracing::warn!(%err, "cannot remove a sandbox's Swarm service");
                        }
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
            let service = self.service_name(user)?;
            let account = self.accounts.get_or_create(user).await?;
            let manager = self
                .manager()
                .await
                .map_err(|err| SandboxError::NotRunning(format!("{user} ({err})")))?;
            let task = match self.running_task(&manager, &service).await {
                Ok(Some(task)) => task,
                Ok(None) => return Err(SandboxError::NotRunning(user.to_owned())),
                Err(why) => return Err(SandboxError::NotRunning(format!("{user} ({why})"))),
            };
            let docker = self.node_engine(user, &task.node).await?;
            let env = container_env(user, None, &self.config.env);
            exec_choir(
                docker,
                &task.container,
                user,
                (account.uid, account.gid),
                args,
                env,
            )
            .await
        })
    }

    /// Nothing: the service stays in Swarm's care (its restart policy) and for the other
    /// hypervisors; it goes when a hypervisor stops the sandbox.
    fn clean_up<'a>(&'a self, _user: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }

    fn users(&self) -> BoxFuture<'_, Vec<String>> {
        Box::pin(async move {
            let Ok(manager) = self.manager().await else {
                return Vec::new();
            };
            let filters = HashMap::from([(
                "label".to_owned(),
                vec![format!("{INSTANCE_LABEL}={}", self.config.name)],
            )]);
            let options = ListServicesOptionsBuilder::default()
                .filters(&filters)
                .build();
            let mut users: Vec<String> = manager
                .list_services(Some(options))
                .await
                .unwrap_or_default()
                .into_iter()
                .filter_map(|service| service.spec?.labels?.get(USER_LABEL).cloned())
                .collect();
            users.sort();
            users.dedup();
            users
        })
    }

    fn usage<'a>(&'a self, user: &'a str) -> BoxFuture<'a, Usage> {
        Box::pin(async move {
            let uid = self
                .accounts
                .get_or_create(user)
                .await
                .ok()
                .map(|account| account.uid);
            let (Ok(service), Ok(manager)) = (self.service_name(user), self.manager().await) else {
                return Usage::default();
            };
            let Ok(Some(task)) = self.running_task(&manager, &service).await else {
                return Usage {
                    uid,
                    ..Default::default()
                };
            };
            let Ok(docker) = self.node_engine(user, &task.node).await else {
                return Usage {
                    uid,
                    ..Default::default()
                };
            };
            let (memory, processes) = container_usage(&docker, &task.container).await;
            Usage {
                uid,
                memory,
                processes,
            }
        })
    }
}
